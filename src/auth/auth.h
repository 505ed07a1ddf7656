/* auth.h: the auth and auth_db modules: digest authorize/challenge actions and the subscriber cache. */
#ifndef SIPD_AUTH_H
#define SIPD_AUTH_H

#include <stdbool.h>
#include <time.h>

#include "auth/digest.h"
#include "sip/module.h"

/*
 * The subscriber cache: (username, realm) -> the HA1 of each algorithm, in
 * a cds_lfht under RCU (urcu-memb). Entries are immutable and replaced
 * whole; negative entries (no such user) live shortly. Readers: workers in
 * a read section. Writers: workers after a database read, and the control
 * thread (invalidation). All registered RCU threads.
 */
struct sub_cache;

struct sub_ha1 {
    bool found;                        /* false: no such user (negative entry) */
    bool has[AUTH_ALG_COUNT];          /* which HA1s are known */
    char ha1[AUTH_ALG_COUNT][AUTH_HEX_MAX];
};

int sub_cache_new(struct sub_cache **cp);
void sub_cache_free(struct sub_cache *c);
/* 0 with *out filled on a live hit, ENOENT on a miss or an expired entry. */
int sub_cache_get(struct sub_cache *c, struct slice user, struct slice realm, time_t now,
                  struct sub_ha1 *out);
/* Stores (replaces) an entry valid until 'until'. */
int sub_cache_put(struct sub_cache *c, struct slice user, struct slice realm,
                  const struct sub_ha1 *v, time_t until);
/* Drops every entry of user (any realm); with domain present, only that realm. Returns how many. */
unsigned sub_cache_invalidate(struct sub_cache *c, struct slice user, struct slice domain);
/* Live entries (expired ones count until replaced or invalidated). Any thread. */
unsigned long sub_cache_count(struct sub_cache *c);

extern const struct module auth_auth_module;    /* www/proxy authorize and challenge, checks */
extern const struct module auth_auth_db_module; /* the subscriber table and its cache */

#endif
