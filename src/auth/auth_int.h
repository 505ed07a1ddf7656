/* auth_int.h: state shared by the auth and auth_db modules. */
#ifndef SIPD_AUTH_INT_H
#define SIPD_AUTH_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "auth/auth.h"
#include "db/db.h"
#include "sip/proc.h"

struct auth_db_params {
    const char *db_url;
    bool calculate_ha1;
    const char *password_column;
    bool use_domain;
    long cache_ttl;
    long negative_ttl;
};

struct auth_db {
    struct auth_db_params p;
    char password_column[72];
    unsigned workers;
    struct db *db;
    struct db_conn **conns; /* per worker, made on the worker */
    struct sub_cache *cache;
    _Atomic uint64_t hits, misses, db_errors;
};

/*
 * The HA1s of (user, realm): from the cache, else one prepared statement on
 * the worker's own connection (the result is cached, found or not).
 * 0 (out->found says whether the user exists), EAGAIN when the database is
 * away on a cold miss, EINVAL on a statement error (bad table or column).
 */
int auth_db_ha1(struct auth_db *a, unsigned worker, struct slice table, struct slice user,
                struct slice realm, time_t now, struct sub_ha1 *out);

#endif
