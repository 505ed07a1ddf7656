/* log.h: SER-style levelled logging, one whole line per event, to stderr or syslog. */
#ifndef SIPD_CORE_LOG_H
#define SIPD_CORE_LOG_H

#include <stdbool.h>
#include <sys/socket.h>

#include "core/slice.h"

/* SER's debug levels: the config's "debug" is the highest level printed. */
enum log_level {
    LOG_LVL_ALERT = -3,
    LOG_LVL_CRIT = -2,
    LOG_LVL_ERR = -1,
    LOG_LVL_WARN = 1,
    LOG_LVL_NOTICE = 2,
    LOG_LVL_INFO = 3,
    LOG_LVL_DEBUG = 4,
};

enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON };

/*
 * The logger is process-wide: the one piece of mutable global state sipd
 * keeps, because every thread of every module writes to it. Its settings are
 * atomics, so log_setup() may run at any time (a reload changes the level)
 * while other threads log. Each event is formatted into a thread-local
 * buffer and written with one write(2) (or one syslog(3) call), so lines
 * from different threads never interleave.
 *
 * A line is at most LOG_LINE_MAX bytes (PIPE_BUF, so a write to a pipe is
 * atomic); a longer event is cut at a character boundary and marked "...".
 * Every byte that could break a line is escaped, in both formats: text
 * writes \r \n \t \\ and \xHH (controls, invalid UTF-8), JSON writes
 * standard escapes and U+FFFD for invalid UTF-8. One event, one line.
 *
 * Until the first log_setup() the logger prints NOTICE and worse as text to
 * stderr with the ident "sipd".
 */
#define LOG_LINE_MAX 4096

struct log_cfg {
    int level;              /* highest level printed, SER's "debug" */
    bool to_stderr;         /* SER's "log_stderror"; syslog otherwise */
    enum log_format format; /* text, or one JSON object per line */
    const char *ident;      /* syslog ident and text prefix, "sipd" */
};

/* Any thread, any time. cfg->ident is copied (at most 63 bytes kept); NULL
 * means "sipd". Switching to syslog calls openlog(ident, LOG_PID, LOG_DAEMON). */
void log_setup(const struct log_cfg *cfg);
/* Whether an event at 'level' would be printed: level <= the configured level. */
bool log_enabled(int level);

/* One event. Any thread; errno is preserved. */
void log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One event about a message: the peer address (NULL: none; IPv4 "a.b.c.d:port",
 * IPv6 "[x::y]:port") and the Call-ID (absent slice: none) are added as fields,
 * " peer=... call_id=..." in text, "peer" and "call_id" members in JSON. */
void log_msg(int level, const struct sockaddr *peer, struct slice call_id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The level's name: "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO",
 * "DEBUG" (levels beyond either end take the nearest name; 0 is "WARNING"). */
const char *log_level_name(int level);

#define log_err(...)    log_write(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)   log_write(LOG_LVL_WARN, __VA_ARGS__)
#define log_notice(...) log_write(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(...)   log_write(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_enabled(LOG_LVL_DEBUG))                                                            \
            log_write(LOG_LVL_DEBUG, __VA_ARGS__);                                                 \
    } while (0)

#endif
