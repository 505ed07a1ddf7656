/* log.c: levelled logging; each event is formatted once, escaped, and written whole. */
#include "core/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/*
 * Concurrency: loggers read the settings with plain atomic loads and never
 * wait. log_setup() takes setup_lock only to serialise against itself.
 *
 * The ident is the one setting that is not a scalar. It is published as an
 * atomic pointer to an immutable string that is never freed: openlog(3)
 * keeps the pointer it is given, and a logger may still be reading an old
 * ident while a reload installs a new one. Strings are only added when the
 * ident actually changes, so the cost is a few bytes per distinct ident for
 * the life of the process; the list keeps them reachable for leak checkers.
 */
#define LOG_IDENT_MAX 63

struct log_ident {
    struct log_ident *next;
    char name[];
};

static struct {
    atomic_int level;
    atomic_bool to_stderr;
    atomic_int format;
    _Atomic(const char *) ident;
    pthread_mutex_t setup_lock;
    struct log_ident *idents; /* under setup_lock */
    const char *syslog_ident; /* under setup_lock: what openlog() was given */
} logger = {
    .level = LOG_LVL_NOTICE,
    .to_stderr = true,
    .format = LOG_FORMAT_TEXT,
    .ident = "sipd",
    .setup_lock = PTHREAD_MUTEX_INITIALIZER,
};

/* Formatting scratch, one per thread, so no event ever waits for another. */
static _Thread_local char tl_message[LOG_LINE_MAX];
static _Thread_local char tl_line[LOG_LINE_MAX];

/* The Call-ID field is cut at this many bytes of output so a hostile header
 * cannot crowd the message out of the line. */
#define LOG_CALL_ID_MAX    256
#define LOG_TRUNCATED_MARK "..."

static const char *intern_ident(const char *ident)
{
    char name[LOG_IDENT_MAX + 1];
    snprintf(name, sizeof(name), "%s", ident ? ident : "sipd");

    const char *cur = atomic_load_explicit(&logger.ident, memory_order_acquire);
    if (strcmp(cur, name) == 0)
        return cur;
    for (struct log_ident *it = logger.idents; it; it = it->next)
        if (strcmp(it->name, name) == 0)
            return it->name;
    size_t n = strlen(name) + 1;
    struct log_ident *node = malloc(sizeof(*node) + n);
    if (!node)
        return cur; /* keep the old ident rather than fail a reload */
    memcpy(node->name, name, n);
    node->next = logger.idents;
    logger.idents = node;
    return node->name;
}

void log_setup(const struct log_cfg *cfg)
{
    pthread_mutex_lock(&logger.setup_lock);
    const char *ident = intern_ident(cfg->ident);
    if (!cfg->to_stderr && logger.syslog_ident != ident) {
        /* glibc serialises openlog() against concurrent syslog() calls */
        openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
        logger.syslog_ident = ident;
    }
    atomic_store_explicit(&logger.ident, ident, memory_order_release);
    atomic_store_explicit(&logger.format, (int)cfg->format, memory_order_relaxed);
    atomic_store_explicit(&logger.to_stderr, cfg->to_stderr, memory_order_relaxed);
    atomic_store_explicit(&logger.level, cfg->level, memory_order_relaxed);
    pthread_mutex_unlock(&logger.setup_lock);
}

bool log_enabled(int level)
{
    return level <= atomic_load_explicit(&logger.level, memory_order_relaxed);
}

const char *log_level_name(int level)
{
    if (level <= LOG_LVL_ALERT)
        return "ALERT";
    switch (level) {
    case LOG_LVL_CRIT:
        return "CRITICAL";
    case LOG_LVL_ERR:
        return "ERROR";
    case 0:
    case LOG_LVL_WARN:
        return "WARNING";
    case LOG_LVL_NOTICE:
        return "NOTICE";
    case LOG_LVL_INFO:
        return "INFO";
    default:
        return "DEBUG";
    }
}

static int syslog_priority(int level)
{
    if (level <= LOG_LVL_ALERT)
        return LOG_ALERT;
    switch (level) {
    case LOG_LVL_CRIT:
        return LOG_CRIT;
    case LOG_LVL_ERR:
        return LOG_ERR;
    case 0:
    case LOG_LVL_WARN:
        return LOG_WARNING;
    case LOG_LVL_NOTICE:
        return LOG_NOTICE;
    case LOG_LVL_INFO:
        return LOG_INFO;
    default:
        return LOG_DEBUG;
    }
}

/* Output under construction; appends past 'limit' are refused whole. */
struct line {
    char *p;
    size_t len;
    size_t cap;
};

static bool put(struct line *l, size_t limit, const char *s, size_t n)
{
    if (limit > l->cap)
        limit = l->cap;
    if (n > limit || l->len > limit - n)
        return false;
    memcpy(l->p + l->len, s, n);
    l->len += n;
    return true;
}

static bool put_str(struct line *l, size_t limit, const char *s)
{
    return put(l, limit, s, strlen(s));
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, nothing past U+10FFFF), or 0 when the bytes are not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

/*
 * Appends s[0..n) escaped for 'format', never past 'limit', one whole escape
 * or character at a time. Returns false when it stopped early.
 * Text: \r \n \t \\ and \xHH for other controls, DEL and invalid UTF-8.
 * JSON: \" \\ \n \r \t, \u00HH for other controls and DEL, U+FFFD (escaped)
 * for each byte that is not part of well-formed UTF-8.
 */
static bool put_escaped(struct line *l, size_t limit, const char *s, size_t n,
                        enum log_format format)
{
    static const char hex[] = "0123456789abcdef";
    bool json = format == LOG_FORMAT_JSON;

    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        const char *piece = esc;
        size_t len, step = 1;

        if (c >= 0x20 && c < 0x7f && c != '\\' && !(json && c == '"')) {
            piece = s + i;
            len = 1;
        } else if (c == '\\' || c == '"') {
            esc[0] = '\\';
            esc[1] = (char)c;
            len = 2;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            esc[0] = '\\';
            esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
            len = 2;
        } else if (c >= 0x80 && (len = utf8_len((const unsigned char *)s + i, n - i)) != 0) {
            piece = s + i;
            step = len;
        } else if (json && c >= 0x80) {
            piece = "\\ufffd";
            len = 6;
        } else if (json) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            len = 6;
        } else {
            esc[0] = '\\';
            esc[1] = 'x';
            esc[2] = hex[c >> 4];
            esc[3] = hex[c & 15];
            len = 4;
        }
        if (!put(l, limit, piece, len))
            return false;
        i += step;
    }
    return true;
}

static void format_peer(const struct sockaddr *sa, char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN] = "?";

    if (sa->sa_family == AF_INET) {
        struct sockaddr_in in;
        memcpy(&in, sa, sizeof(in));
        inet_ntop(AF_INET, &in.sin_addr, host, sizeof(host));
        snprintf(buf, size, "%s:%u", host, (unsigned)ntohs(in.sin_port));
    } else if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 in6;
        memcpy(&in6, sa, sizeof(in6));
        inet_ntop(AF_INET6, &in6.sin6_addr, host, sizeof(host));
        if (in6.sin6_scope_id)
            snprintf(buf, size, "[%s%%%u]:%u", host, (unsigned)in6.sin6_scope_id,
                     (unsigned)ntohs(in6.sin6_port));
        else
            snprintf(buf, size, "[%s]:%u", host, (unsigned)ntohs(in6.sin6_port));
    } else {
        snprintf(buf, size, "family-%d", (int)sa->sa_family);
    }
}

/* "Nov 28 09:00:00 " in local time, as syslog writes it, without the locale. */
static void put_text_time(struct line *l)
{
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char buf[32];
    time_t now = time(NULL);
    struct tm tm;

    if (!localtime_r(&now, &tm))
        memset(&tm, 0, sizeof(tm));
    int n = snprintf(buf, sizeof(buf), "%s %2d %02d:%02d:%02d ", months[tm.tm_mon % 12], tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
    put(l, l->cap, buf, (size_t)n);
}

/* "2026-11-28T09:00:00.123Z" */
static void put_json_time(struct line *l)
{
    char buf[40];
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    if (!gmtime_r(&ts.tv_sec, &tm))
        memset(&tm, 0, sizeof(tm));
    int n =
        snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    put(l, l->cap, buf, (size_t)n);
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nowhere left to complain to */
        p += w;
        n -= (size_t)w;
    }
}

/*
 * Builds the line: the prefix, the message (cut to what the line has left
 * after the fields, marked "..."), the fields, the end. The fields are
 * formatted first so a long message never pushes them out.
 */
static void emit(int level, const struct sockaddr *peer, struct slice call_id, const char *message,
                 size_t message_len, bool message_cut)
{
    const char *ident = atomic_load_explicit(&logger.ident, memory_order_acquire);
    enum log_format format = atomic_load_explicit(&logger.format, memory_order_relaxed);
    bool to_stderr = atomic_load_explicit(&logger.to_stderr, memory_order_relaxed);
    bool json = format == LOG_FORMAT_JSON;
    char peer_text[INET6_ADDRSTRLEN + 24];
    char fields_buf[LOG_CALL_ID_MAX + sizeof(peer_text) + 64];
    struct line fields = {fields_buf, 0, sizeof(fields_buf)};
    struct line l = {tl_line, 0, sizeof(tl_line)};
    const char *end = json ? "\"}\n" : "\n";
    size_t end_len = strlen(end);

    if (peer) {
        format_peer(peer, peer_text, sizeof(peer_text));
        put_str(&fields, fields.cap, json ? "\",\"peer\":\"" : " peer=");
        put_escaped(&fields, fields.cap, peer_text, strlen(peer_text), format);
    }
    if (slice_present(call_id)) {
        put_str(&fields, fields.cap, json ? "\",\"call_id\":\"" : " call_id=");
        size_t limit = fields.len + LOG_CALL_ID_MAX - strlen(LOG_TRUNCATED_MARK);
        if (!put_escaped(&fields, limit, call_id.p, call_id.len, format))
            put_str(&fields, fields.cap, LOG_TRUNCATED_MARK);
    }

    if (json) {
        char head[96];
        put_str(&l, l.cap, "{\"ts\":\"");
        put_json_time(&l);
        int n = snprintf(head, sizeof(head), "\",\"level\":\"%s\",\"pid\":%ld,\"msg\":\"",
                         log_level_name(level), (long)getpid());
        put(&l, l.cap, head, (size_t)n);
    } else {
        char head[LOG_IDENT_MAX + 64];
        int n;
        if (to_stderr) {
            put_text_time(&l);
            n = snprintf(head, sizeof(head), "%s[%ld]: %s: ", ident, (long)getpid(),
                         log_level_name(level));
        } else {
            /* syslog adds the time, the ident and the pid */
            n = snprintf(head, sizeof(head), "%s: ", log_level_name(level));
        }
        put(&l, l.cap, head, (size_t)n);
    }

    size_t mark_len = strlen(LOG_TRUNCATED_MARK);
    size_t limit = l.cap - fields.len - end_len - mark_len;
    if (!put_escaped(&l, limit, message, message_len, format) || message_cut)
        put_str(&l, l.cap, LOG_TRUNCATED_MARK);
    put(&l, l.cap, fields.p, fields.len);
    put(&l, l.cap, end, end_len);

    if (to_stderr)
        write_all(STDERR_FILENO, l.p, l.len);
    else
        syslog(syslog_priority(level), "%.*s", (int)(l.len - 1), l.p); /* without the newline */
}

static void vlog(int level, const struct sockaddr *peer, struct slice call_id, const char *fmt,
                 va_list ap) __attribute__((format(printf, 4, 0)));

static void vlog(int level, const struct sockaddr *peer, struct slice call_id, const char *fmt,
                 va_list ap)
{
    int saved_errno = errno;
    int n = vsnprintf(tl_message, sizeof(tl_message), fmt, ap);
    size_t len;
    bool cut = false;

    if (n < 0) {
        len = (size_t)snprintf(tl_message, sizeof(tl_message), "(unprintable: %s)", fmt);
        if (len >= sizeof(tl_message))
            len = sizeof(tl_message) - 1;
    } else if ((size_t)n >= sizeof(tl_message)) {
        len = sizeof(tl_message) - 1;
        cut = true;
    } else {
        len = (size_t)n;
    }
    emit(level, peer, call_id, tl_message, len, cut);
    errno = saved_errno;
}

void log_write(int level, const char *fmt, ...)
{
    va_list ap;

    if (!log_enabled(level))
        return;
    va_start(ap, fmt);
    vlog(level, NULL, SLICE_NULL, fmt, ap);
    va_end(ap);
}

void log_msg(int level, const struct sockaddr *peer, struct slice call_id, const char *fmt, ...)
{
    va_list ap;

    if (!log_enabled(level))
        return;
    va_start(ap, fmt);
    vlog(level, peer, call_id, fmt, ap);
    va_end(ap);
}
