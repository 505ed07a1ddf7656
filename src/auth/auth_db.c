/* auth_db.c: the auth_db module: subscriber rows (Kamailio's table) read through the RCU cache. */
#include "auth/auth_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <urcu/urcu-memb.h>

#include "core/log.h"

static const struct mod_option auth_db_options[] = {
    {"db_url", MOD_OPT_STRING, offsetof(struct auth_db_params, db_url), 0, 0, 0, NULL,
     "database of the subscriber table (default: the core db_url)"},
    {"calculate_ha1", MOD_OPT_BOOL, offsetof(struct auth_db_params, calculate_ha1), 0, 1, 0, NULL,
     "the password column holds plaintext: compute HA1 (needed for SHA-256)"},
    {"password_column", MOD_OPT_STRING, offsetof(struct auth_db_params, password_column), 0, 0, 0,
     "ha1", "column read for the password (plaintext) or the MD5 HA1"},
    {"use_domain", MOD_OPT_BOOL, offsetof(struct auth_db_params, use_domain), 0, 1, 0, NULL,
     "match the subscriber's domain with the realm too"},
    {"cache_ttl", MOD_OPT_INT, offsetof(struct auth_db_params, cache_ttl), 0, 86400, 300, NULL,
     "seconds a known subscriber stays cached"},
    {"negative_ttl", MOD_OPT_INT, offsetof(struct auth_db_params, negative_ttl), 0, 3600, 10, NULL,
     "seconds an unknown username stays cached"},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};

static bool identifier_ok(const char *s)
{
    if (!s || !*s || strlen(s) > 64)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return false;
    return true;
}

static int auth_db_init(void **state, const void *params, const struct mod_env *env, char *err,
                        size_t cap)
{
    struct auth_db *a = calloc(1, sizeof(*a));
    if (!a)
        return ENOMEM;
    *state = a;
    a->p = *(const struct auth_db_params *)params;
    if (!a->p.db_url)
        a->p.db_url = env->db_url;
    a->workers = env->workers;
    /* the column is an identifier in SQL text, never a bound value: only
     * plain names are accepted */
    if (!identifier_ok(a->p.password_column)) {
        snprintf(err, cap, "password_column \"%s\" is not a plain column name",
                 a->p.password_column ? a->p.password_column : "");
        return EINVAL;
    }
    snprintf(a->password_column, sizeof(a->password_column), "%s", a->p.password_column);
    if (a->p.calculate_ha1 && (strcasecmp(a->password_column, "ha1") == 0 ||
                               strcasecmp(a->password_column, "ha1b") == 0)) {
        snprintf(err, cap, "calculate_ha1 needs a plaintext password_column (\"password\"), "
                           "not \"%s\"",
                 a->password_column);
        return EINVAL;
    }
    if (sub_cache_new(&a->cache) != 0) {
        snprintf(err, cap, "out of memory");
        return ENOMEM;
    }
    a->conns = calloc(a->workers ? a->workers : 1, sizeof(*a->conns));
    if (!a->conns)
        return ENOMEM;
    if (a->p.db_url) {
        char why[256] = "";
        if (db_open(&a->db, a->p.db_url, NULL, why, sizeof(why)) != 0) {
            snprintf(err, cap, "db_url: %s", why);
            return EINVAL;
        }
    }
    return 0;
}

static void auth_db_destroy(void *state)
{
    struct auth_db *a = state;
    for (unsigned i = 0; a->conns && i < a->workers; i++)
        db_conn_free(a->conns[i]);
    free(a->conns);
    db_close(a->db);
    urcu_memb_register_thread();
    sub_cache_free(a->cache);
    urcu_memb_unregister_thread();
    free(a);
}

struct row_arg {
    struct auth_db *a;
    struct slice user, realm;
    struct sub_ha1 *out;
    bool hash_failed;
};

static int take_row(void *arg, const struct db_val *col, unsigned ncols)
{
    struct row_arg *ra = arg;
    struct sub_ha1 *v = ra->out;
    if (ncols < 1 || v->found)
        return 0; /* the first matching row wins */
    struct slice secret = col[0].type == DB_STRING ? col[0].s : SLICE_LIT("");
    v->found = true;
    if (ra->a->p.calculate_ha1) {
        for (int alg = 0; alg < AUTH_ALG_COUNT; alg++) {
            /* a failed hash (out of memory in OpenSSL) leaves that HA1 unknown */
            v->has[alg] = auth_ha1((enum auth_alg)alg, ra->user, ra->realm, secret,
                                   v->ha1[alg]) == 0;
            if (!v->has[alg])
                ra->hash_failed = true;
        }
    } else if (secret.len == 32 && secret.len < AUTH_HEX_MAX) {
        /* an MD5 HA1 stored for this realm: SHA-256 needs the plaintext */
        memcpy(v->ha1[AUTH_ALG_MD5], secret.p, secret.len);
        v->ha1[AUTH_ALG_MD5][secret.len] = '\0';
        v->has[AUTH_ALG_MD5] = true;
    }
    return 0;
}

int auth_db_ha1(struct auth_db *a, unsigned worker, struct slice table, struct slice user,
                struct slice realm, time_t now, struct sub_ha1 *out)
{
    if (sub_cache_get(a->cache, user, realm, now, out) == 0) {
        atomic_fetch_add_explicit(&a->hits, 1, memory_order_relaxed);
        return 0;
    }
    atomic_fetch_add_explicit(&a->misses, 1, memory_order_relaxed);
    if (!a->db || worker >= a->workers)
        return EAGAIN;
    if (!a->conns[worker] && db_conn_new(a->db, &a->conns[worker]) != 0)
        return EAGAIN;
    char sql[256];
    if (a->p.use_domain)
        snprintf(sql, sizeof(sql), "SELECT %s FROM %.*s WHERE username = ? AND domain = ?",
                 a->password_column, (int)table.len, table.p);
    else
        snprintf(sql, sizeof(sql), "SELECT %s FROM %.*s WHERE username = ?", a->password_column,
                 (int)table.len, table.p);
    struct db_stmt *s;
    int err = db_prepare(a->conns[worker], sql, &s);
    if (err)
        return err == EINVAL ? EINVAL : EAGAIN;
    memset(out, 0, sizeof(*out));
    struct row_arg ra = {a, user, realm, out, false};
    struct db_val key[2] = {DB_VAL_STR(user), DB_VAL_STR(realm)};
    err = db_query(s, key, a->p.use_domain ? 2 : 1, take_row, &ra);
    if (err) {
        atomic_fetch_add_explicit(&a->db_errors, 1, memory_order_relaxed);
        return err == EINVAL ? EINVAL : EAGAIN;
    }
    if (ra.hash_failed)
        return ENOMEM; /* not cached: the next request computes again */
    long ttl = out->found ? a->p.cache_ttl : a->p.negative_ttl;
    if (ttl > 0)
        sub_cache_put(a->cache, user, realm, out, now + ttl);
    return 0;
}

static json_t *cmd_invalidate(void *arg, json_t *params, struct ctl_error *err)
{
    struct auth_db *a = arg;
    const char *user = json_string_value(json_object_get(params, "username"));
    const char *domain = json_string_value(json_object_get(params, "domain"));
    if (!user) {
        err->code = -32602;
        snprintf(err->message, sizeof(err->message), "subscriber.invalidate needs \"username\"");
        return NULL;
    }
    urcu_memb_register_thread();
    unsigned n = sub_cache_invalidate(a->cache, slice_from_str(user),
                                      domain ? slice_from_str(domain) : SLICE_NULL);
    urcu_memb_unregister_thread();
    return json_pack("{s:i}", "dropped", (int)n);
}

static const struct ctl_cmd auth_db_commands[] = {
    {"subscriber.invalidate", cmd_invalidate,
     "drop a subscriber's cached entries {username, domain?} after changing its row"},
    {NULL, NULL, NULL},
};

static json_t *auth_db_stats(void *state)
{
    struct auth_db *a = state;
    return json_pack("{s:I, s:I, s:I, s:I, s:b}", "cached", (json_int_t)sub_cache_count(a->cache),
                     "hits", (json_int_t)atomic_load(&a->hits), "misses",
                     (json_int_t)atomic_load(&a->misses), "db_errors",
                     (json_int_t)atomic_load(&a->db_errors), "db_up",
                     a->db ? db_is_up(a->db) : 0);
}

const struct module auth_auth_db_module = {
    .name = "auth_db",
    .params_size = sizeof(struct auth_db_params),
    .options = auth_db_options,
    .commands = auth_db_commands,
    .init = auth_db_init,
    .destroy = auth_db_destroy,
    .stats = auth_db_stats,
};
