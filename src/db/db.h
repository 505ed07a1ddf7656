/* db.h: MySQL/MariaDB access: URLs, per-thread connections, prepared statements, outages, a job queue. */
#ifndef SIPD_DB_H
#define SIPD_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <urcu/wfcqueue.h>

#include "core/slice.h"

/*
 * The database layer knows no table names: the SQL for a table sits beside
 * the cache it feeds (src/loc, src/auth). Statements are always prepared;
 * no SQL is ever built from message data.
 *
 * Threads: a struct db is shared (any thread may use it); a struct db_conn
 * and its statements belong to one thread at a time (a worker keeps its own;
 * the job queue's threads keep theirs).
 *
 * Errors: every call returns 0 or an errno value:
 *   EAGAIN  the database is away (cannot connect, connection lost, timeout);
 *           the caller keeps its data and tries again later. The first
 *           EAGAIN after a good period logs "database ... unreachable" once
 *           for the whole struct db; the first success after it logs
 *           "database ... reachable again" once. A deadlock or a lock wait
 *           timeout (the server rolled the statement back and asks for a
 *           retry) is EAGAIN too, logged as a warning, not an outage.
 *   EINVAL  the statement failed for another reason (logged with the
 *           server's message): a bug or a schema mismatch, not an outage.
 *   ENOMEM  out of memory.
 */

/*
 * mysql://user[:password]@host[:port]/database, or with host
 * "unix(/path/to.sock)". "localhost" means the server's default unix
 * socket, as with the mysql client; an IPv6 address goes in brackets.
 * Nothing is %-decoded. The password may hold ':', '@' and '/'; the
 * database name holds no '/'.
 */
struct db_url {
    char *user;
    char *password; /* "" when the URL has none */
    char *host;     /* NULL with a unix socket */
    char *socket;   /* NULL with a host */
    unsigned port;  /* 0: the default (3306) */
    char *database;
};

/* Parses a URL into *out (free with db_url_free); on error *out is all NULL
 * and err says why ("db_url: missing database name"). EINVAL or ENOMEM. */
int db_url_parse(const char *text, struct db_url *out, char *err, size_t err_cap);
void db_url_free(struct db_url *url);
/* The URL with the password replaced by "***", for messages; into buf
 * (cut to cap - 1 bytes). Works on malformed URLs too. Returns buf. */
const char *db_url_redact(const char *text, char *buf, size_t cap);

/* A zero field, or opts NULL, takes the default. */
struct db_opts {
    unsigned connect_timeout; /* seconds, default 3 */
    unsigned read_timeout;    /* seconds, default 5 */
    unsigned write_timeout;   /* seconds, default 5 */
    unsigned retry_min_ms;    /* first reconnect backoff, default 500 */
    unsigned retry_max_ms;    /* backoff cap, default 30000 */
};

struct db;      /* a database: URL, options, outage state. Shared. */
struct db_conn; /* one connection. One thread at a time. */
struct db_stmt; /* a prepared statement of one connection. */

/* Creates the handle; connects to nothing yet. err names the fault. Any
 * thread. The caller frees every db_conn and stops every db_jobq of db
 * before db_close. */
int db_open(struct db **dbp, const char *url, const struct db_opts *opts, char *err,
            size_t err_cap);
void db_close(struct db *db);
/* True unless the last attempt of any connection found the database away. */
bool db_is_up(const struct db *db);
/* The redacted URL, for messages. */
const char *db_name(const struct db *db);

/* Counters of a struct db, for stats and tests. Any thread. */
struct db_stats {
    uint64_t connects;         /* connection attempts that reached the network */
    uint64_t connect_failures; /* of those, the ones that failed */
    uint64_t outages;          /* times "unreachable" was logged */
};
void db_get_stats(const struct db *db, struct db_stats *out);

/*
 * A connection for the calling thread. It connects lazily (first statement)
 * and reconnects after a failure, not more often than the backoff allows
 * (EAGAIN meanwhile, without a network round trip). Statements survive a
 * reconnect: they are prepared again transparently.
 *
 * Reconnect policy. The backoff is kept per struct db: while the database
 * is away one connection at a time probes it, once per backoff period
 * (retry_min_ms doubling to retry_max_ms); the others get EAGAIN at once,
 * and connections opened before the outage began are dropped unused. A
 * connection found dead by a statement that failed quickly (an idle
 * connection the server closed, a server restart) is reconnected at once
 * and the statement run again, once, so a blip is no outage; outside a
 * transaction only, which makes execution at-least-once: write statements
 * idempotently (keys such as ruid), as a caller retrying after EAGAIN must
 * anyway.
 *
 * Session: utf8mb4, time_zone '+00:00' (NOW() agrees with the UTC
 * DATETIMEs below), autocommit, CLIENT_FOUND_ROWS.
 */
int db_conn_new(struct db *db, struct db_conn **cp);
void db_conn_free(struct db_conn *c);
/* Any thread that made connections calls this before it exits (the client
 * library's per-thread state; the job queue's threads do it themselves). */
void db_thread_end(void);

/* Prepares sql on c. The statement lives until db_conn_free. Preparing the
 * same text again on c returns the same statement, so a job may call this
 * every time it runs. If c is connected the server checks the SQL at once
 * (EINVAL, logged, for bad SQL); otherwise at first use. */
int db_prepare(struct db_conn *c, const char *sql, struct db_stmt **sp);

enum db_type { DB_NULL = 0, DB_INT, DB_DOUBLE, DB_STRING, DB_DATETIME };

/* A parameter or a column value. Strings are slices (never NUL-terminated
 * on input; on output they point into the row buffer, valid during the row
 * callback). An absent slice ({NULL, 0}) as a parameter is SQL NULL. DB_DATETIME
 * is a UTC time_t (a zero date reads as 0). Columns come as: integers and
 * YEAR DB_INT (BIGINT UNSIGNED past LLONG_MAX wraps), FLOAT, DOUBLE and
 * DECIMAL DB_DOUBLE, DATETIME, TIMESTAMP and DATE DB_DATETIME, everything
 * else DB_STRING (bytes as stored), SQL NULL DB_NULL. */
struct db_val {
    enum db_type type;
    long long i;
    double d;
    struct slice s;
    time_t t;
};

#define DB_VAL_INT(v) ((struct db_val){.type = DB_INT, .i = (v)})
#define DB_VAL_STR(sl) ((struct db_val){.type = DB_STRING, .s = (sl)})
#define DB_VAL_TIME(v) ((struct db_val){.type = DB_DATETIME, .t = (v)})
#define DB_VAL_DOUBLE(v) ((struct db_val){.type = DB_DOUBLE, .d = (v)})
#define DB_VAL_NULL ((struct db_val){.type = DB_NULL})

/* Runs a statement that returns no rows (rows it does return are
 * discarded); n must equal its placeholder count. *affected (may be NULL)
 * gets the rows matched (CLIENT_FOUND_ROWS: an UPDATE that changes nothing
 * still counts the rows it found). */
int db_exec(struct db_stmt *s, const struct db_val *params, unsigned n, uint64_t *affected);

/* Called for each row; returning non-zero stops the query (that value is returned). */
typedef int db_row_fn(void *arg, const struct db_val *cols, unsigned ncols);
/* Runs a query; rows are streamed to fn (a million rows never sit in memory).
 * fn must not use the statement's connection (the rows are still arriving on
 * it). A connection lost after the first row is EAGAIN without a retry:
 * the caller has seen a partial result and starts over. */
int db_query(struct db_stmt *s, const struct db_val *params, unsigned n, db_row_fn *fn,
             void *arg);

/* BEGIN / COMMIT / ROLLBACK on c, for batches. If the connection is lost
 * inside a transaction, or a statement in it returns EAGAIN for a deadlock
 * or a lock wait timeout, every statement and db_commit return EAGAIN until
 * the transaction ends (db_commit's EAGAIN ends it, as does db_rollback,
 * which returns 0 then): the server rolled it back, the caller redoes the
 * batch. */
int db_begin(struct db_conn *c);
int db_commit(struct db_conn *c);
int db_rollback(struct db_conn *c);

/*
 * The layout version Kamailio's `version` table records for table (the
 * rows Kamailio checks at start and sipd checks the same way). 0 and
 * *version, ENOENT when there is no row for it (or no version table:
 * EINVAL then, logged), EAGAIN when the database is unreachable.
 */
int db_table_version(struct db_conn *c, const char *table, unsigned *version);

/*
 * Checks that table's recorded version is one of want[0..n): 0, or EINVAL
 * with "table T has layout version V in the version table; sipd reads
 * version W (Kamailio 5.x)" (or "has no row in the version table") in why;
 * EAGAIN when the database is unreachable (the caller decides).
 */
int db_check_version(struct db_conn *c, const char *table, const unsigned *want, unsigned n,
                     char *why, size_t why_cap);

/* ---------------------------------------------------------------- job queue */

/*
 * Database threads fed by a queue: receivers and workers never block on a
 * write they hand over. A job runs on one of the queue's threads with that
 * thread's connection. A job that returns EAGAIN (database away) is kept and
 * retried, in order, after the backoff; any other return ends it and its
 * done callback (may be NULL) gets the result. Jobs are owned by the caller
 * until done is called.
 *
 * Order: a job runs on thread key % threads. A thread runs its jobs one at a
 * time in the order their pushes took effect (for pushes from one thread,
 * program order), and a job being retried holds back every later job of its
 * thread: jobs with the same key are never reordered, never overtaken.
 * Jobs on different threads have no order.
 */
struct db_job;
typedef int db_job_fn(struct db_conn *c, struct db_job *job);
typedef void db_job_done_fn(struct db_job *job, int result);

struct db_job {
    struct cds_wfcq_node node;
    db_job_fn *run;
    db_job_done_fn *done;
    unsigned key; /* picks the thread: e.g. a hash of the AOR */
};

struct db_jobq;

/* Starts 'threads' (1..64) threads, each with its own connection to db. */
int db_jobq_start(struct db_jobq **qp, struct db *db, unsigned threads);
/* From any thread. 0, or ESHUTDOWN once stopping. */
int db_jobq_push(struct db_jobq *q, struct db_job *job);
/* Jobs queued and not yet done (stats). */
uint64_t db_jobq_pending(const struct db_jobq *q);
/* Stops accepting, runs what is queued (retrying for at most 'grace_ms'
 * while the database is away), then joins. Jobs still undone get their
 * done callback with EAGAIN, so their owner can account for them: once a
 * job of a thread has failed so, that thread's later jobs fail the same way
 * without running (nothing overtakes it). An attempt under way when the
 * grace ends is bounded by the connection's timeouts. From one thread; a
 * second call does nothing. Pushes during and after it return ESHUTDOWN. */
void db_jobq_stop(struct db_jobq *q, unsigned grace_ms);
/* Frees q (stopping it first, with no grace, if need be), once no thread
 * can call db_jobq_push on it any more. */
void db_jobq_free(struct db_jobq *q);

#endif
