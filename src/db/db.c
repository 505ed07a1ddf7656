/* db.c: connections, prepared statements, outages and reconnect backoff over the MySQL C API. */
#define _GNU_SOURCE
#include "db/db_int.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <errmsg.h>
#include <mysqld_error.h>

#include "core/log.h"

/*
 * DESIGN
 *
 * Who touches what. A struct db_conn, its MYSQL handle and its statements
 * are used by one thread at a time and need no locking. The struct db they
 * share holds the URL and options (read-only after db_open) and the outage
 * state, which any connection may read and change: a few C11 atomics, no
 * lock, because a worker must never wait for another worker's connect.
 *
 * The outage state.
 *   down         set by the connection that first finds the database away,
 *                cleared by the first one that connects again. Only the
 *                thread whose atomic exchange flips it logs, so an outage
 *                is logged once when it starts and once when it ends,
 *                however many connections notice it.
 *   epoch        counts outages. A connection remembers the epoch it was
 *                made in; one made before the latest outage began is closed
 *                unused (its socket may hang until the read timeout in a
 *                network partition, and each worker would pay that once).
 *   next_try_ns, backoff_ms
 *                while down, no connection attempt happens before next_try.
 *                The connection that passes that time first claims the
 *                probe with a compare-and-swap that moves next_try a backoff
 *                period ahead; everybody else returns EAGAIN without a
 *                network round trip. A failed probe doubles the period (up
 *                to retry_max_ms) from the time it failed. So a database that
 *                stays away sees about one attempt per period from the whole
 *                process, not one per worker per message.
 * The fields are written with plain atomic stores in an order chosen so
 * that a thread seeing down == true sees a next_try set for this outage (set
 * before down is published). Two threads can race at the start of an
 * outage (both failed before either saw down); both then set the same
 * first period and one logs, so the worst case is one extra attempt.
 *
 * A lost connection is not yet an outage. Servers close idle connections
 * (wait_timeout) and restart; the next statement on such a connection fails
 * at once with "gone away" or "lost". If that failure was quick (under a
 * second) and we are not inside a transaction, the connection is made again
 * right away and the statement prepared and run again, once: nobody sees
 * the blip. A slow failure (read timeout: the server hangs or the network
 * is gone) marks the database away at once, without the extra connect that
 * would cost another timeout. In a transaction a lost connection means the
 * server rolled it back: the connection refuses statements (EAGAIN) until
 * the caller ends the transaction and redoes its batch. Running a statement
 * again makes execution at-least-once, which is why writes are keyed and
 * idempotent (and why a COMMIT is never run again). A deadlock or a lock
 * wait timeout is EAGAIN too, but no outage: the connection is fine.
 *
 * Statements. db_prepare only records the SQL (and prepares it if the
 * connection is up); the MYSQL_STMT handle is made on first use and after
 * every reconnect, so callers keep their struct db_stmt pointers across
 * outages. mysql_close() detaches the statements of a connection, after
 * which mysql_stmt_close() only frees memory: that is the order used.
 *
 * Rows are streamed: mysql_stmt_execute() then mysql_stmt_fetch() row by
 * row, never mysql_stmt_store_result(). Each string column has a buffer
 * sized from the result metadata, capped at 4 KiB; a longer value is read
 * whole with mysql_stmt_fetch_column() into a grown buffer, which is bound
 * for the rows after it.
 */

#define DB_QUICK_FAILURE_NS (1000 * 1000 * 1000LL) /* a lost connection noticed this fast is stale */
#define DB_STRING_BUF_MAX 4096u                     /* initial buffer cap of a string column */
#define DB_VALUE_MAX (64u << 20)                    /* a single column value, at most */
#define DB_SQL_LOG_MAX 200                          /* SQL quoted in a log line */

static pthread_once_t db_library_once = PTHREAD_ONCE_INIT;
/* Written once under db_library_once, read after it: the client library's
 * own process-wide initialisation is the one global this module keeps. */
static int db_library_status;

static void db_library_init(void)
{
    db_library_status = mysql_library_init(0, NULL, NULL);
}

int64_t db_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---------------------------------------------------------------- struct db */

int db_open(struct db **dbp, const char *url, const struct db_opts *opts, char *err,
            size_t err_cap)
{
    struct db *db;
    int ret;

    if (err && err_cap)
        err[0] = '\0';
    pthread_once(&db_library_once, db_library_init);
    if (db_library_status) {
        if (err && err_cap)
            snprintf(err, err_cap, "db: the MySQL client library failed to initialise");
        return ENOMEM;
    }
    db = calloc(1, sizeof(*db));
    if (!db) {
        if (err && err_cap)
            snprintf(err, err_cap, "db: out of memory");
        return ENOMEM;
    }
    ret = db_url_parse(url, &db->url, err, err_cap);
    if (ret) {
        free(db);
        return ret;
    }
    db_url_redact(url, db->name, sizeof(db->name));

    struct db_opts o = opts ? *opts : (struct db_opts){0};
    if (!o.connect_timeout)
        o.connect_timeout = 3;
    if (!o.read_timeout)
        o.read_timeout = 5;
    if (!o.write_timeout)
        o.write_timeout = 5;
    if (!o.retry_min_ms)
        o.retry_min_ms = 500;
    if (!o.retry_max_ms)
        o.retry_max_ms = 30000;
    if (o.retry_max_ms < o.retry_min_ms)
        o.retry_max_ms = o.retry_min_ms;
    db->opts = o;

    atomic_init(&db->down, false);
    atomic_init(&db->epoch, 0);
    atomic_init(&db->next_try_ns, 0);
    atomic_init(&db->backoff_ms, o.retry_min_ms);
    atomic_init(&db->connects, 0);
    atomic_init(&db->connect_failures, 0);
    atomic_init(&db->outages, 0);
    *dbp = db;
    return 0;
}

void db_close(struct db *db)
{
    if (!db)
        return;
    db_url_free(&db->url);
    free(db);
}

bool db_is_up(const struct db *db)
{
    return !atomic_load(&((struct db *)db)->down);
}

const char *db_name(const struct db *db)
{
    return db->name;
}

void db_get_stats(const struct db *db, struct db_stats *out)
{
    struct db *d = (struct db *)db; /* atomic loads take non-const pointers in C11 */
    out->connects = atomic_load(&d->connects);
    out->connect_failures = atomic_load(&d->connect_failures);
    out->outages = atomic_load(&d->outages);
}

unsigned db_retry_delay_ms(struct db *db)
{
    if (!atomic_load(&db->down))
        return db->opts.retry_min_ms;
    int64_t left = atomic_load(&db->next_try_ns) - db_now_ns();
    if (left <= 1000000)
        return 1;
    return (unsigned)(left / 1000000);
}

/* The database is away: the first thread to say so logs it and starts the backoff. */
static void db_mark_down(struct db *db, const char *why)
{
    if (atomic_load(&db->down))
        return;
    unsigned first = db->opts.retry_min_ms;
    atomic_store(&db->backoff_ms, first);
    atomic_store(&db->next_try_ns, db_now_ns() + (int64_t)first * 1000000);
    if (!atomic_exchange(&db->down, true)) {
        atomic_fetch_add(&db->epoch, 1);
        atomic_fetch_add(&db->outages, 1);
        log_err("database %s unreachable: %s", db->name, why);
    }
}

/* A failed probe: the next one waits twice as long. */
static void db_probe_failed(struct db *db)
{
    unsigned b = atomic_load(&db->backoff_ms);
    unsigned next = b > db->opts.retry_max_ms / 2 ? db->opts.retry_max_ms : b * 2;
    atomic_store(&db->backoff_ms, next);
    atomic_store(&db->next_try_ns, db_now_ns() + (int64_t)next * 1000000);
}

static void db_mark_up(struct db *db)
{
    if (atomic_load(&db->down) && atomic_exchange(&db->down, false)) {
        atomic_store(&db->backoff_ms, db->opts.retry_min_ms);
        atomic_store(&db->next_try_ns, 0);
        log_notice("database %s reachable again", db->name);
    }
}

/* ---------------------------------------------------------------- errors */

enum db_failure {
    DB_FAIL_OTHER,   /* EINVAL: a bug or a schema mismatch */
    DB_FAIL_LOST,    /* the connection is gone or the server cannot serve */
    DB_FAIL_RETRY,   /* deadlock, lock wait timeout: run it again later */
    DB_FAIL_PREPARE, /* the server forgot or invalidated the statement */
};

static enum db_failure db_classify(unsigned e)
{
    switch (e) {
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_IPSOCK_ERROR:
    case CR_UNKNOWN_HOST:
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_HANDSHAKE_ERR:
    case CR_SERVER_LOST:
    case CR_SERVER_LOST_EXTENDED:
    case CR_ERR_NET_READ:
    case CR_ERR_NET_WRITE:
    case CR_COMMANDS_OUT_OF_SYNC: /* the protocol state is unknown: start afresh */
    case ER_CON_COUNT_ERROR:
    case ER_OUT_OF_RESOURCES:
    case ER_UNKNOWN_COM_ERROR: /* Galera: "WSREP has not yet prepared node for application use" */
    case ER_SERVER_SHUTDOWN:
    case ER_HOST_IS_BLOCKED:
    case ER_CANT_CREATE_THREAD:
    case ER_ABORTING_CONNECTION:
    case ER_NET_READ_ERROR:
    case ER_NET_READ_INTERRUPTED:
    case ER_NET_ERROR_ON_WRITE:
    case ER_NET_WRITE_INTERRUPTED:
    case ER_NEW_ABORTING_CONNECTION:
    case ER_TOO_MANY_USER_CONNECTIONS:
    case ER_CONNECTION_KILLED:
        return DB_FAIL_LOST;
    case ER_LOCK_DEADLOCK:
    case ER_LOCK_WAIT_TIMEOUT:
        return DB_FAIL_RETRY;
    case ER_NEED_REPREPARE:
    case ER_UNKNOWN_STMT_HANDLER:
    case CR_NO_PREPARE_STMT:
    case CR_STMT_CLOSED:
    case CR_NEW_STMT_METADATA: /* a table changed under SELECT *: other columns now */
        return DB_FAIL_PREPARE;
    default:
        return DB_FAIL_OTHER;
    }
}

/* ---------------------------------------------------------------- connections */

void db_thread_end(void)
{
    mysql_thread_end();
}

int db_conn_new(struct db *db, struct db_conn **cp)
{
    struct db_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return ENOMEM;
    mysql_thread_init();
    c->db = db;
    *cp = c;
    return 0;
}

/* Drops the connection; the statements stay, unprepared. */
static void conn_close(struct db_conn *c)
{
    if (c->mysql) {
        mysql_close(c->mysql); /* detaches the statements: closing them after costs no I/O */
        c->mysql = NULL;
        if (c->in_txn)
            c->txn_broken = true;
    }
    for (struct db_stmt *s = c->stmts; s; s = s->next) {
        if (s->handle) {
            mysql_stmt_close(s->handle);
            s->handle = NULL;
        }
    }
}

/* Connects c, unless the backoff says not yet (EAGAIN, no I/O). */
static int conn_connect(struct db_conn *c)
{
    struct db *db = c->db;
    const struct db_url *u = &db->url;
    bool probe = false;

    if (atomic_load(&db->down)) {
        int64_t now = db_now_ns();
        int_fast64_t next = atomic_load(&db->next_try_ns);
        if (now < next)
            return EAGAIN;
        int64_t period = (int64_t)atomic_load(&db->backoff_ms) * 1000000;
        if (!atomic_compare_exchange_strong(&db->next_try_ns, &next, now + period))
            return EAGAIN; /* another connection is probing */
        probe = true;
    }

    MYSQL *m = mysql_init(NULL);
    if (!m)
        return ENOMEM;
    my_bool off = 0, on = 1;
    unsigned proto = MYSQL_PROTOCOL_TCP;
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &db->opts.connect_timeout);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &db->opts.read_timeout);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &db->opts.write_timeout);
    mysql_options(m, MYSQL_OPT_RECONNECT, &off); /* we reconnect, and re-prepare */
    mysql_options(m, MYSQL_REPORT_DATA_TRUNCATION, &on);
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_options(m, MYSQL_INIT_COMMAND, "SET time_zone = '+00:00'");
    if (u->socket)
        proto = MYSQL_PROTOCOL_SOCKET;
    if (u->socket || strcmp(u->host, "localhost") != 0) /* localhost: the library's default socket */
        mysql_options(m, MYSQL_OPT_PROTOCOL, &proto);

    atomic_fetch_add(&db->connects, 1);
    if (!mysql_real_connect(m, u->host, u->user, u->password, u->database, u->port, u->socket,
                            CLIENT_FOUND_ROWS)) {
        char why[512];
        snprintf(why, sizeof(why), "%s (error %u)", mysql_error(m), mysql_errno(m));
        mysql_close(m);
        atomic_fetch_add(&db->connect_failures, 1);
        if (probe)
            db_probe_failed(db);
        else
            db_mark_down(db, why);
        return EAGAIN;
    }
    c->mysql = m;
    c->epoch = atomic_load(&db->epoch);
    db_mark_up(db);
    return 0;
}

/* Makes c usable for a statement: 0, or EAGAIN (away, backing off, or a
 * transaction lost), ENOMEM. */
static int conn_ready(struct db_conn *c)
{
    if (c->mysql && c->epoch != atomic_load_explicit(&c->db->epoch, memory_order_relaxed))
        conn_close(c); /* made before the latest outage */
    if (c->txn_broken)
        return EAGAIN;
    return c->mysql ? 0 : conn_connect(c);
}

/* conn_failed() and stmt_prepare(): run the call again now (never returned to callers). */
#define DB_RUN_AGAIN (-1)

/*
 * Decides what a failed call on c means. 'what' names it in messages (the
 * SQL), 'started' is when the failing library call began, 'attempt' counts
 * the tries of this call before (0 the first), 'may_retry' whether running
 * it again is allowed at all (no rows delivered, not a COMMIT). Returns
 * DB_RUN_AGAIN when the caller should run it again now (the connection has
 * been made anew, or the statement must be prepared again), else the errno
 * value for the caller.
 */
static int conn_failed(struct db_conn *c, struct db_stmt *s, unsigned e, const char *msg,
                       const char *what, int64_t started, unsigned attempt, bool may_retry)
{
    struct db *db = c->db;
    char why[512];

    may_retry = may_retry && attempt == 0;
    switch (db_classify(e)) {
    case DB_FAIL_LOST:
        snprintf(why, sizeof(why), "%s (error %u)", msg, e);
        conn_close(c);
        if (db_now_ns() - started >= DB_QUICK_FAILURE_NS) {
            db_mark_down(db, why); /* slow: a timeout, not a stale connection */
            return EAGAIN;
        }
        if (conn_connect(c))
            return EAGAIN; /* away: conn_connect() logged it */
        if (c->txn_broken)
            return EAGAIN;
        if (may_retry)
            return DB_RUN_AGAIN;
        if (attempt > 0) /* it fails the same way on a new connection */
            log_warn("database %s: %.*s: connection lost twice: %s", db->name, DB_SQL_LOG_MAX,
                     what, why);
        return EAGAIN;
    case DB_FAIL_RETRY:
        log_warn("database %s: %.*s: %s (error %u); will be retried", db->name, DB_SQL_LOG_MAX,
                 what, msg, e);
        if (c->in_txn)
            c->txn_broken = true;
        return EAGAIN;
    case DB_FAIL_PREPARE:
        if (s && s->handle) {
            mysql_stmt_close(s->handle);
            s->handle = NULL;
        }
        if (may_retry)
            return DB_RUN_AGAIN;
        break;
    case DB_FAIL_OTHER:
        break;
    }
    log_err("database %s: %.*s: %s (error %u)", db->name, DB_SQL_LOG_MAX, what, msg, e);
    return EINVAL;
}

/* ---------------------------------------------------------------- statements */

static void stmt_free(struct db_stmt *s)
{
    if (s->handle)
        mysql_stmt_close(s->handle);
    for (unsigned i = 0; i < s->ncols; i++)
        free(s->cols[i].buf);
    free(s->param_bind);
    free(s->param_len);
    free(s->param_time);
    free(s->col_bind);
    free(s->cols);
    free(s->vals);
    free(s->sql);
    free(s);
}

void db_conn_free(struct db_conn *c)
{
    if (!c)
        return;
    conn_close(c);
    while (c->stmts) {
        struct db_stmt *s = c->stmts;
        c->stmts = s->next;
        stmt_free(s);
    }
    free(c);
}

/* Sizes the parameter arrays (nparams) and the column arrays (from meta). */
static int stmt_layout(struct db_stmt *s, unsigned nparams, MYSQL_RES *meta)
{
    unsigned ncols = meta ? mysql_num_fields(meta) : 0;

    if (nparams != s->nparams || !s->param_bind) {
        free(s->param_bind);
        free(s->param_len);
        free(s->param_time);
        s->nparams = 0;
        s->param_bind = calloc(nparams ? nparams : 1, sizeof(*s->param_bind));
        s->param_len = calloc(nparams ? nparams : 1, sizeof(*s->param_len));
        s->param_time = calloc(nparams ? nparams : 1, sizeof(*s->param_time));
        if (!s->param_bind || !s->param_len || !s->param_time)
            return ENOMEM;
        s->nparams = nparams;
    }

    for (unsigned i = 0; i < s->ncols; i++)
        free(s->cols[i].buf);
    free(s->col_bind);
    free(s->cols);
    free(s->vals);
    s->ncols = 0;
    s->col_bind = calloc(ncols ? ncols : 1, sizeof(*s->col_bind));
    s->cols = calloc(ncols ? ncols : 1, sizeof(*s->cols));
    s->vals = calloc(ncols ? ncols : 1, sizeof(*s->vals));
    if (!s->col_bind || !s->cols || !s->vals)
        return ENOMEM;
    s->ncols = ncols;

    for (unsigned i = 0; i < ncols; i++) {
        const MYSQL_FIELD *f = mysql_fetch_field_direct(meta, i);
        struct db_col *col = &s->cols[i];
        MYSQL_BIND *b = &s->col_bind[i];

        switch (f->type) {
        case MYSQL_TYPE_TINY:
        case MYSQL_TYPE_SHORT:
        case MYSQL_TYPE_LONG:
        case MYSQL_TYPE_INT24:
        case MYSQL_TYPE_LONGLONG:
        case MYSQL_TYPE_YEAR:
            col->type = DB_INT;
            b->buffer_type = MYSQL_TYPE_LONGLONG;
            b->buffer = &col->i;
            b->is_unsigned = (f->flags & UNSIGNED_FLAG) != 0;
            break;
        case MYSQL_TYPE_FLOAT:
        case MYSQL_TYPE_DOUBLE:
        case MYSQL_TYPE_DECIMAL:
        case MYSQL_TYPE_NEWDECIMAL:
            col->type = DB_DOUBLE;
            b->buffer_type = MYSQL_TYPE_DOUBLE;
            b->buffer = &col->d;
            break;
        case MYSQL_TYPE_DATETIME:
        case MYSQL_TYPE_TIMESTAMP:
        case MYSQL_TYPE_DATE:
            col->type = DB_DATETIME;
            b->buffer_type = MYSQL_TYPE_DATETIME;
            b->buffer = &col->time;
            break;
        default: {
            col->type = DB_STRING;
            unsigned long cap = f->length;
            if (cap > DB_STRING_BUF_MAX)
                cap = DB_STRING_BUF_MAX;
            if (cap < 16)
                cap = 16;
            col->buf = malloc(cap);
            if (!col->buf)
                return ENOMEM;
            col->cap = cap;
            b->buffer_type = MYSQL_TYPE_STRING;
            b->buffer = col->buf;
            b->buffer_length = cap;
            break;
        }
        }
        b->length = &col->length;
        b->is_null = &col->is_null;
        b->error = &col->error;
    }
    return 0;
}

/* Prepares s on its (connected) connection: 0, DB_RUN_AGAIN or an errno value. */
static int stmt_prepare(struct db_stmt *s, unsigned attempt)
{
    struct db_conn *c = s->conn;
    MYSQL_STMT *h = mysql_stmt_init(c->mysql);
    int64_t started = db_now_ns();

    if (!h)
        return ENOMEM;
    if (mysql_stmt_prepare(h, s->sql, strlen(s->sql))) {
        char msg[512];
        unsigned e = mysql_stmt_errno(h);
        snprintf(msg, sizeof(msg), "%s", mysql_stmt_error(h));
        mysql_stmt_close(h);
        return conn_failed(c, NULL, e, msg, s->sql, started, attempt, true);
    }
    MYSQL_RES *meta = mysql_stmt_result_metadata(h);
    int ret = stmt_layout(s, (unsigned)mysql_stmt_param_count(h), meta);
    if (meta)
        mysql_free_result(meta);
    if (ret) {
        mysql_stmt_close(h);
        return ret;
    }
    s->handle = h;
    return 0;
}

int db_prepare(struct db_conn *c, const char *sql, struct db_stmt **sp)
{
    struct db_stmt *s;

    for (s = c->stmts; s; s = s->next) {
        if (s->sql == sql || strcmp(s->sql, sql) == 0) {
            *sp = s;
            return 0;
        }
    }
    s = calloc(1, sizeof(*s));
    if (!s)
        return ENOMEM;
    s->conn = c;
    s->sql = strdup(sql);
    if (!s->sql) {
        free(s);
        return ENOMEM;
    }
    if (c->mysql && c->epoch == atomic_load(&c->db->epoch)) {
        /* Up: let the server check the SQL now. A lost connection here is
         * no error: the statement is prepared on first use. */
        int ret = stmt_prepare(s, 0);
        if (ret == EINVAL || ret == ENOMEM) {
            stmt_free(s);
            return ret;
        }
    }
    s->next = c->stmts;
    c->stmts = s;
    *sp = s;
    return 0;
}

static int stmt_bind_params(struct db_stmt *s, const struct db_val *params, unsigned n)
{
    struct db *db = s->conn->db;

    if (n != s->nparams) {
        log_err("database %s: %.*s: %u parameters given, %u expected", db->name, DB_SQL_LOG_MAX,
                s->sql, n, s->nparams);
        return EINVAL;
    }
    if (n == 0)
        return 0;
    for (unsigned i = 0; i < n; i++) {
        const struct db_val *v = &params[i];
        MYSQL_BIND *b = &s->param_bind[i];

        memset(b, 0, sizeof(*b));
        /* The library only reads input buffers; its bind struct is not const. */
        switch (v->type) {
        case DB_NULL:
            b->buffer_type = MYSQL_TYPE_NULL;
            break;
        case DB_INT:
            b->buffer_type = MYSQL_TYPE_LONGLONG;
            b->buffer = (void *)&v->i;
            break;
        case DB_DOUBLE:
            b->buffer_type = MYSQL_TYPE_DOUBLE;
            b->buffer = (void *)&v->d;
            break;
        case DB_STRING:
            if (!slice_present(v->s)) {
                b->buffer_type = MYSQL_TYPE_NULL;
                break;
            }
            s->param_len[i] = v->s.len;
            b->buffer_type = MYSQL_TYPE_STRING;
            b->buffer = (void *)v->s.p;
            b->buffer_length = v->s.len;
            b->length = &s->param_len[i];
            break;
        case DB_DATETIME: {
            struct tm tm;
            if (!gmtime_r(&v->t, &tm) || tm.tm_year + 1900 < 1000 || tm.tm_year + 1900 > 9999) {
                log_err("database %s: %.*s: parameter %u: time %lld out of DATETIME range",
                        db->name, DB_SQL_LOG_MAX, s->sql, i + 1, (long long)v->t);
                return EINVAL;
            }
            MYSQL_TIME *t = &s->param_time[i];
            memset(t, 0, sizeof(*t));
            t->year = (unsigned)tm.tm_year + 1900;
            t->month = (unsigned)tm.tm_mon + 1;
            t->day = (unsigned)tm.tm_mday;
            t->hour = (unsigned)tm.tm_hour;
            t->minute = (unsigned)tm.tm_min;
            t->second = (unsigned)tm.tm_sec;
            t->time_type = MYSQL_TIMESTAMP_DATETIME;
            b->buffer_type = MYSQL_TYPE_DATETIME;
            b->buffer = t;
            break;
        }
        default:
            log_err("database %s: %.*s: parameter %u: unknown type %d", db->name, DB_SQL_LOG_MAX,
                    s->sql, i + 1, (int)v->type);
            return EINVAL;
        }
    }
    if (mysql_stmt_bind_param(s->handle, s->param_bind)) {
        log_err("database %s: %.*s: binding parameters: %s", db->name, DB_SQL_LOG_MAX, s->sql,
                mysql_stmt_error(s->handle));
        return EINVAL;
    }
    return 0;
}

/*
 * Makes sure s is prepared on a live connection and executes it with
 * params, following the retry policy (the DESIGN above). On 0 a query's
 * rows are ready to fetch.
 */
static int stmt_execute(struct db_stmt *s, const struct db_val *params, unsigned n)
{
    struct db_conn *c = s->conn;

    for (unsigned attempt = 0;; attempt++) {
        int ret = conn_ready(c);
        if (ret)
            return ret;
        if (!s->handle) {
            ret = stmt_prepare(s, attempt);
            if (ret == DB_RUN_AGAIN)
                continue;
            if (ret)
                return ret;
        }
        ret = stmt_bind_params(s, params, n);
        if (ret)
            return ret;
        int64_t started = db_now_ns();
        if (mysql_stmt_execute(s->handle) == 0)
            return 0;
        ret = conn_failed(c, s, mysql_stmt_errno(s->handle), mysql_stmt_error(s->handle), s->sql,
                          started, attempt, true);
        if (ret != DB_RUN_AGAIN)
            return ret;
    }
}

/* Reads the rest of a long string column (truncated in its buffer) and
 * keeps the bigger buffer bound for the following rows. */
static int stmt_fetch_long(struct db_stmt *s, unsigned i, bool *rebind)
{
    struct db_col *col = &s->cols[i];
    MYSQL_BIND *b = &s->col_bind[i];
    unsigned long need = col->length;

    if (need > DB_VALUE_MAX) {
        log_err("database %s: %.*s: column %u holds %lu bytes, over the %u limit",
                s->conn->db->name, DB_SQL_LOG_MAX, s->sql, i + 1, need, DB_VALUE_MAX);
        return EINVAL;
    }
    char *buf = realloc(col->buf, need);
    if (!buf)
        return ENOMEM;
    col->buf = buf;
    col->cap = need;
    b->buffer = buf;
    b->buffer_length = need;
    if (mysql_stmt_fetch_column(s->handle, b, i, 0)) {
        log_err("database %s: %.*s: reading column %u: %s", s->conn->db->name, DB_SQL_LOG_MAX,
                s->sql, i + 1, mysql_stmt_error(s->handle));
        return EINVAL;
    }
    *rebind = true;
    return 0;
}

static time_t mysql_time_to_utc(const MYSQL_TIME *t)
{
    if (t->year == 0 || t->month == 0 || t->day == 0)
        return 0; /* a zero date */
    struct tm tm = {
        .tm_year = (int)t->year - 1900,
        .tm_mon = (int)t->month - 1,
        .tm_mday = (int)t->day,
        .tm_hour = (int)t->hour,
        .tm_min = (int)t->minute,
        .tm_sec = (int)t->second,
    };
    return timegm(&tm);
}

/* The current row as values; long strings fetched whole first. */
static int stmt_row(struct db_stmt *s)
{
    bool rebind = false;

    for (unsigned i = 0; i < s->ncols; i++) {
        struct db_col *col = &s->cols[i];
        struct db_val *v = &s->vals[i];

        if (col->is_null) {
            *v = DB_VAL_NULL;
            continue;
        }
        switch (col->type) {
        case DB_INT:
            *v = DB_VAL_INT(col->i);
            break;
        case DB_DOUBLE:
            *v = DB_VAL_DOUBLE(col->d);
            break;
        case DB_DATETIME:
            *v = DB_VAL_TIME(mysql_time_to_utc(&col->time));
            break;
        default:
            if (col->length > col->cap) {
                int ret = stmt_fetch_long(s, i, &rebind);
                if (ret)
                    return ret;
            }
            *v = DB_VAL_STR(slice_make(col->buf, col->length));
            break;
        }
    }
    if (rebind && mysql_stmt_bind_result(s->handle, s->col_bind)) {
        log_err("database %s: %.*s: binding results: %s", s->conn->db->name, DB_SQL_LOG_MAX,
                s->sql, mysql_stmt_error(s->handle));
        return EINVAL;
    }
    return 0;
}

/* Ends a result set early or late; a connection lost while draining it is
 * dropped (the next statement reconnects). */
static void stmt_finish(struct db_stmt *s)
{
    if (s->handle && mysql_stmt_free_result(s->handle) &&
        db_classify(mysql_stmt_errno(s->handle)) == DB_FAIL_LOST)
        conn_close(s->conn);
}

int db_exec(struct db_stmt *s, const struct db_val *params, unsigned n, uint64_t *affected)
{
    int ret = stmt_execute(s, params, n);
    if (ret)
        return ret;
    if (affected) {
        my_ulonglong rows = mysql_stmt_affected_rows(s->handle);
        *affected = rows == (my_ulonglong)-1 ? 0 : (uint64_t)rows;
    }
    if (s->ncols)
        stmt_finish(s);
    return 0;
}

int db_query(struct db_stmt *s, const struct db_val *params, unsigned n, db_row_fn *fn,
             void *arg)
{
    for (unsigned attempt = 0;; attempt++) {
        int ret = stmt_execute(s, params, n);
        if (ret || s->ncols == 0)
            return ret; /* a statement without rows: none to stream */
        uint64_t rows = 0;
        int64_t started = db_now_ns();
        if (mysql_stmt_bind_result(s->handle, s->col_bind)) {
            /* CR_NEW_STMT_METADATA: prepared again with the new columns */
            ret = conn_failed(s->conn, s, mysql_stmt_errno(s->handle),
                              mysql_stmt_error(s->handle), s->sql, started, attempt, true);
            if (ret == DB_RUN_AGAIN)
                continue;
            stmt_finish(s);
            return ret;
        }
        for (;;) {
            started = db_now_ns();
            int r = mysql_stmt_fetch(s->handle);
            if (r == MYSQL_NO_DATA) {
                stmt_finish(s);
                return 0;
            }
            if (r == 1)
                break;
            /* 0, or MYSQL_DATA_TRUNCATED: stmt_row() reads long strings whole */
            ret = stmt_row(s);
            if (ret == 0)
                ret = fn(arg, s->vals, s->ncols);
            rows++;
            if (ret) {
                stmt_finish(s);
                return ret;
            }
        }
        /* A fetch failed. After rows were delivered the caller must start over. */
        ret = conn_failed(s->conn, s, mysql_stmt_errno(s->handle), mysql_stmt_error(s->handle),
                          s->sql, started, attempt, rows == 0);
        if (ret != DB_RUN_AGAIN) {
            stmt_finish(s);
            return ret;
        }
    }
}

/* ---------------------------------------------------------------- transactions */

enum txn_op { TXN_BEGIN, TXN_COMMIT, TXN_ROLLBACK };

static int conn_txn_call(struct db_conn *c, enum txn_op op)
{
    switch (op) {
    case TXN_BEGIN:
        return mysql_real_query(c->mysql, "START TRANSACTION", strlen("START TRANSACTION"));
    case TXN_COMMIT:
        return mysql_commit(c->mysql);
    case TXN_ROLLBACK:
        return mysql_rollback(c->mysql);
    }
    return 1;
}

int db_begin(struct db_conn *c)
{
    if (c->in_txn) {
        log_err("database %s: db_begin inside a transaction", c->db->name);
        return EINVAL;
    }
    for (unsigned attempt = 0;; attempt++) {
        int ret = conn_ready(c);
        if (ret)
            return ret;
        int64_t started = db_now_ns();
        if (conn_txn_call(c, TXN_BEGIN) == 0) {
            c->in_txn = true;
            c->txn_broken = false;
            return 0;
        }
        ret = conn_failed(c, NULL, mysql_errno(c->mysql), mysql_error(c->mysql),
                          "START TRANSACTION", started, attempt, true);
        if (ret != DB_RUN_AGAIN)
            return ret;
    }
}

int db_commit(struct db_conn *c)
{
    if (!c->in_txn) {
        log_err("database %s: db_commit outside a transaction", c->db->name);
        return EINVAL;
    }
    int ret = 0;
    if (c->txn_broken || !c->mysql) {
        ret = EAGAIN;
    } else {
        int64_t started = db_now_ns();
        if (conn_txn_call(c, TXN_COMMIT) == 0)
            goto out;
        /* No retry: the outcome of a COMMIT whose answer was lost is unknown. */
        ret = conn_failed(c, NULL, mysql_errno(c->mysql), mysql_error(c->mysql), "COMMIT",
                          started, 0, false);
        if (ret == DB_RUN_AGAIN)
            ret = EAGAIN;
        if (ret == EINVAL && c->mysql)
            (void)conn_txn_call(c, TXN_ROLLBACK);
    }
out:
    c->in_txn = false;
    c->txn_broken = false;
    return ret;
}

int db_rollback(struct db_conn *c)
{
    if (!c->in_txn)
        return 0;
    if (c->mysql && conn_txn_call(c, TXN_ROLLBACK) &&
        db_classify(mysql_errno(c->mysql)) == DB_FAIL_LOST)
        conn_close(c); /* the server rolls back a transaction whose connection ends */
    c->in_txn = false;
    c->txn_broken = false;
    return 0;
}

struct version_arg {
    unsigned version;
    bool found;
};

static int version_row(void *arg, const struct db_val *cols, unsigned ncols)
{
    struct version_arg *va = arg;
    if (ncols == 1 && cols[0].type == DB_INT && cols[0].i >= 0) {
        va->version = (unsigned)cols[0].i;
        va->found = true;
    }
    return 0;
}

int db_table_version(struct db_conn *c, const char *table, unsigned *version)
{
    struct db_stmt *s;
    struct version_arg va = {0, false};
    int err = db_prepare(c, "SELECT table_version FROM version WHERE table_name = ?", &s);
    if (!err)
        err = db_query(s, (struct db_val[]){DB_VAL_STR(slice_from_str(table))}, 1, version_row,
                       &va);
    if (err)
        return err;
    if (!va.found)
        return ENOENT;
    *version = va.version;
    return 0;
}

int db_check_version(struct db_conn *c, const char *table, const unsigned *want, unsigned n,
                     char *why, size_t why_cap)
{
    unsigned v = 0;
    int err = db_table_version(c, table, &v);
    if (err == EAGAIN)
        return EAGAIN;
    if (err == ENOENT) {
        snprintf(why, why_cap, "table %s has no row in the version table (Kamailio's "
                 "standard-create.sql and sql/kamailio-compat.sql create them)", table);
        return EINVAL;
    }
    if (err) {
        snprintf(why, why_cap, "cannot read the version of table %s (is there a version "
                 "table? see sql/README.md)", table);
        return EINVAL;
    }
    for (unsigned i = 0; i < n; i++)
        if (v == want[i])
            return 0;
    snprintf(why, why_cap, "table %s has layout version %u in the version table; sipd reads "
             "version %u (Kamailio 5.x's layout, sql/kamailio-compat.sql)", table, v, want[0]);
    return EINVAL;
}
