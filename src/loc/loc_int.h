/* loc_int.h: the usrloc module's state, shared by the registrar (same module folder). */
#ifndef SIPD_LOC_INT_H
#define SIPD_LOC_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "db/db.h"
#include "loc/loc.h"
#include "sip/module.h"
#include "sip/proc.h"

enum {
    DB_MODE_MEMORY = 0,  /* no database */
    DB_MODE_THROUGH = 1, /* written before save() replies (retried later if the db is away) */
    DB_MODE_BACK = 2,    /* written every timer_interval and at shutdown (the seed's) */
    DB_MODE_ONLY = 3,    /* no cache: every save and lookup goes to the database */
};

struct usrloc_params {
    const char *db_url;
    long db_mode;
    long timer_interval;
    bool use_domain;
    long flush_batch;
};

/* One usrloc table and its SQL (src/loc/usrloc_db.c). */
struct ul_table {
    const char *name; /* "location", "aliases" */
    unsigned index;   /* 0 location, 1 aliases: which statements */
    struct loc_table *mem;
};

/* A connection and its prepared statements, per table. */
enum {
    UL_STMT_DELETE,     /* this node's rows of an AOR */
    UL_STMT_DELETE_ALL, /* every node's rows of an AOR (db_mode 3) */
    UL_STMT_INSERT,
    UL_STMT_UPSERT,     /* a contact over its row (by ruid), or a new row */
    UL_STMT_LOAD,
    UL_STMT_READ,
    UL_STMT_READ_LOCK,  /* SELECT ... FOR UPDATE, inside a transaction (db_mode 3 save) */
    UL_STMT_EXPIRE,     /* this node's expired rows (db_mode 3) */
    UL_STMT_COUNT
};
struct ul_conn {
    struct db_conn *c;
    struct db_stmt *stmt[2][UL_STMT_COUNT];
};

struct usrloc {
    struct usrloc_params p;
    unsigned server_id;
    unsigned workers;
    struct ul_table location, aliases;
    struct db *db;
    struct ul_conn *worker_conns; /* per worker, connected on the worker (modes 1 and 3) */
    /* the timer thread: expiry and write-back */
    pthread_t timer;
    bool timer_running;
    pthread_mutex_t timer_lock;
    pthread_cond_t timer_cond;
    bool stopping;
    bool flush_now;   /* ul.flush asked for a round (under timer_lock) */
    struct ul_conn timer_conn;
    _Atomic uint64_t flushes, flush_failures, last_flush_us, rows_written, ruid_counter;
    uint64_t ruid_start; /* this process's start (time) and pid, in every ruid it makes */
    unsigned ruid_pid;
    _Atomic uint64_t db_expired; /* rows expired in the database (db_mode 3) */
};

struct ul_table *usrloc_table(struct usrloc *ul, struct slice name);

/* Database side (usrloc_db.c). All return 0, EAGAIN (database away) or EINVAL. */
int ul_db_write_aor(struct usrloc *ul, struct ul_conn *c, struct ul_table *t, struct slice aor,
                    const struct loc_set *set);
/* db_mode 3: the AOR's rows of every node replaced by set, inside the caller's
 * transaction (each contact keeps its server_id). */
int ul_db_replace_aor(struct usrloc *ul, struct ul_conn *c, struct ul_table *t, struct slice aor,
                      const struct loc_set *set);
int ul_db_flush(struct usrloc *ul, struct ul_conn *c, struct ul_table *t);
int ul_db_load(struct usrloc *ul, struct ul_conn *c, struct ul_table *t, uint64_t *rows);
/* db_mode 3: deletes this node's rows that expired by 'now'. */
int ul_db_expire(struct usrloc *ul, struct ul_conn *c, struct ul_table *t, time_t now,
                 uint64_t *removed);
/* db_mode 3: reads one AOR into a set (NULL when none). */
int ul_db_read_aor(struct usrloc *ul, struct ul_conn *c, struct ul_table *t, struct slice aor,
                   bool lock, struct loc_set **out);
/* The calling worker's connection (made on first use), or NULL. */
struct ul_conn *ul_worker_conn(struct usrloc *ul, unsigned worker);

/* Splits "user@domain" per use_domain for the username/domain columns. */
void ul_split_aor(const struct usrloc *ul, struct slice aor, struct slice *user,
                  struct slice *domain);

extern const struct module loc_usrloc_module;
extern const struct module loc_registrar_module;

#endif
