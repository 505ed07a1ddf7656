/* db_int.h: the database layer's private structures, shared by the files of src/db/. */
#ifndef SIPD_DB_INT_H
#define SIPD_DB_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <mysql.h>

#include "db/db.h"

#define DB_NAME_MAX 256

/*
 * Shared by every connection and job thread of one database. The outage
 * state is a handful of atomics (see the DESIGN essay in db.c): who logs,
 * who may probe, when.
 */
struct db {
    struct db_url url;
    struct db_opts opts;
    char name[DB_NAME_MAX]; /* the redacted URL */

    atomic_bool down;           /* an outage was logged and has not ended */
    atomic_uint_fast64_t epoch; /* outages begun; a connection older than the last is stale */
    atomic_int_fast64_t next_try_ns; /* while down: no connect attempt before (CLOCK_MONOTONIC) */
    atomic_uint backoff_ms;          /* while down: the current backoff period */

    atomic_uint_fast64_t connects;
    atomic_uint_fast64_t connect_failures;
    atomic_uint_fast64_t outages;
};

/* One result column's bind and buffer; the buffer grows for long values. */
struct db_col {
    enum db_type type;
    char *buf; /* DB_STRING */
    unsigned long cap;
    unsigned long length;
    my_bool is_null;
    my_bool error;
    long long i;
    double d;
    MYSQL_TIME time;
};

struct db_stmt {
    struct db_stmt *next; /* the connection's list */
    struct db_conn *conn;
    char *sql;
    MYSQL_STMT *handle; /* NULL until prepared on the current connection */
    unsigned nparams;
    unsigned ncols;
    MYSQL_BIND *param_bind;   /* nparams */
    unsigned long *param_len; /* nparams */
    MYSQL_TIME *param_time;   /* nparams */
    MYSQL_BIND *col_bind;     /* ncols */
    struct db_col *cols;      /* ncols */
    struct db_val *vals;      /* ncols: what the row callback sees */
};

struct db_conn {
    struct db *db;
    MYSQL *mysql;        /* NULL while disconnected */
    uint64_t epoch;      /* db->epoch when this connection was made */
    struct db_stmt *stmts;
    bool in_txn;         /* between db_begin and db_commit/db_rollback */
    bool txn_broken;     /* the connection was lost inside that transaction */
};

/* How long a job thread waits before running a job again after EAGAIN:
 * until the next probe of an away database, else retry_min_ms. */
unsigned db_retry_delay_ms(struct db *db);

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t db_now_ns(void);

#endif
