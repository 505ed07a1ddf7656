/* usrloc_mod.c: the usrloc module: the location and aliases tables, db_mode 0-3, expiry and write-back, control commands. */
#include "loc/loc_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <urcu/urcu-memb.h>

#include "core/hash.h"
#include "core/log.h"

/*
 * Threads: workers read the tables (RCU) and write them through loc_edit;
 * in db_mode 1 and 3 a worker also talks to the database on its own
 * connection. The timer thread (modes 0-2) expires contacts every
 * timer_interval and, in mode 2, writes the dirty AORs back on its own
 * connection; at shutdown it runs one last expiry and flush after the
 * workers have drained. Control commands run on the control thread.
 */

static const struct mod_option usrloc_options[] = {
    {"db_url", MOD_OPT_STRING, offsetof(struct usrloc_params, db_url), 0, 0, 0, NULL,
     "database of the location table (default: the core db_url)"},
    {"db_mode", MOD_OPT_INT, offsetof(struct usrloc_params, db_mode), 0, 3, 0, NULL,
     "0 memory, 1 write-through, 2 write-back, 3 database only"},
    {"timer_interval", MOD_OPT_INT, offsetof(struct usrloc_params, timer_interval), 1, 3600, 60,
     NULL, "seconds between expiry runs and write-back flushes"},
    {"use_domain", MOD_OPT_BOOL, offsetof(struct usrloc_params, use_domain), 0, 1, 0, NULL,
     "the AOR is user@domain, not the user alone"},
    {"flush_batch", MOD_OPT_INT, offsetof(struct usrloc_params, flush_batch), 1, 100000, 1000,
     NULL, "AORs written per flush round"},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};

struct ul_table *usrloc_table(struct usrloc *ul, struct slice name)
{
    if (slice_eq_str(name, "location"))
        return &ul->location;
    if (slice_eq_str(name, "aliases"))
        return &ul->aliases;
    return NULL;
}

struct ul_conn *ul_worker_conn(struct usrloc *ul, unsigned worker)
{
    if (!ul->db || worker >= ul->workers)
        return NULL;
    struct ul_conn *c = &ul->worker_conns[worker];
    if (!c->c && db_conn_new(ul->db, &c->c) != 0)
        return NULL;
    return c;
}

static void ul_expired_add(struct usrloc *ul, uint64_t n)
{
    atomic_fetch_add_explicit(&ul->db_expired, n, memory_order_relaxed);
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* One timer round: expire, then (write-back) flush. */
static void timer_round(struct usrloc *ul)
{
    time_t now = time(NULL);
    if (ul->p.db_mode == DB_MODE_ONLY) {
        /* no cache: each node deletes its own expired rows */
        uint64_t removed = 0;
        if (ul_db_expire(ul, &ul->timer_conn, &ul->location, now, &removed) == 0)
            ul_expired_add(ul, removed);
        return;
    }
    loc_expire(ul->location.mem, now);
    if (ul->p.db_mode == DB_MODE_BACK || ul->p.db_mode == DB_MODE_THROUGH) {
        /* mode 1 keeps an AOR dirty only when its write-through failed */
        uint64_t t0 = now_us();
        int err = ul_db_flush(ul, &ul->timer_conn, &ul->location);
        if (!err)
            err = ul_db_flush(ul, &ul->timer_conn, &ul->aliases);
        atomic_store_explicit(&ul->last_flush_us, now_us() - t0, memory_order_relaxed);
        atomic_fetch_add_explicit(err ? &ul->flush_failures : &ul->flushes, 1,
                                  memory_order_relaxed);
    }
}

static void *timer_main(void *arg)
{
    struct usrloc *ul = arg;

    urcu_memb_register_thread();
    pthread_mutex_lock(&ul->timer_lock);
    while (!ul->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += ul->p.timer_interval;
        /* a flag, not the signal alone: a request made while a round runs
         * is not lost */
        while (!ul->stopping && !ul->flush_now &&
               pthread_cond_timedwait(&ul->timer_cond, &ul->timer_lock, &until) == 0)
            ;
        ul->flush_now = false;
        if (ul->stopping)
            break;
        pthread_mutex_unlock(&ul->timer_lock);
        timer_round(ul);
        pthread_mutex_lock(&ul->timer_lock);
    }
    pthread_mutex_unlock(&ul->timer_lock);
    urcu_memb_unregister_thread();
    return NULL;
}

static int ignore_dirty(void *arg, struct slice aor, const struct loc_set *set, bool shrunk)
{
    (void)arg;
    (void)aor;
    (void)set;
    (void)shrunk;
    return 0;
}

static int usrloc_init(void **state, const void *params, const struct mod_env *env, char *err,
                       size_t cap)
{
    struct usrloc *ul = calloc(1, sizeof(*ul));
    if (!ul)
        return ENOMEM;
    ul->p = *(const struct usrloc_params *)params;
    if (!ul->p.db_url)
        ul->p.db_url = env->db_url;
    ul->p.db_url = ul->p.db_url ? strdup(ul->p.db_url) : NULL;
    ul->server_id = env->server_id;
    ul->ruid_start = (uint64_t)time(NULL);
    ul->ruid_pid = (unsigned)getpid();
    ul->workers = env->workers;
    pthread_mutex_init(&ul->timer_lock, NULL);
    pthread_cond_init(&ul->timer_cond, NULL);
    ul->location.name = "location";
    ul->location.index = 0;
    ul->aliases.name = "aliases";
    ul->aliases.index = 1;
    bool track = ul->p.db_mode == DB_MODE_BACK || ul->p.db_mode == DB_MODE_THROUGH;
    *state = ul;
    if (loc_table_new(&ul->location.mem, "location", track) != 0 ||
        loc_table_new(&ul->aliases.mem, "aliases", track) != 0) {
        snprintf(err, cap, "out of memory");
        return ENOMEM;
    }
    if (ul->p.db_mode == DB_MODE_MEMORY)
        return 0;
    if (!ul->p.db_url) {
        snprintf(err, cap, "db_mode %ld needs db_url (in modules.usrloc or the core)",
                 ul->p.db_mode);
        return EINVAL;
    }
    char why[256] = "";
    if (db_open(&ul->db, ul->p.db_url, NULL, why, sizeof(why)) != 0) {
        snprintf(err, cap, "db_url: %s", why);
        return EINVAL;
    }
    ul->worker_conns = calloc(ul->workers ? ul->workers : 1, sizeof(*ul->worker_conns));
    if (!ul->worker_conns || db_conn_new(ul->db, &ul->timer_conn.c) != 0) {
        snprintf(err, cap, "out of memory");
        return ENOMEM;
    }
    /* the layouts we read, as Kamailio checks them; aliases: registrar-create.sql
     * records 8 for the same layout that usrloc's location has at 9 */
    static const unsigned location_v[] = {9}, aliases_v[] = {8, 9};
    int vret = db_check_version(ul->timer_conn.c, "location", location_v, 1, why, sizeof(why));
    if (!vret)
        vret = db_check_version(ul->timer_conn.c, "aliases", aliases_v, 2, why, sizeof(why));
    if (vret == EINVAL) {
        snprintf(err, cap, "db_url: %s", why);
        return EINVAL;
    }
    if (ul->p.db_mode == DB_MODE_ONLY)
        return 0;
    /* modes 1 and 2 start from what the database holds for this node */
    urcu_memb_register_thread();
    uint64_t t0 = now_us(), rows = 0, arows = 0;
    int ret = ul_db_load(ul, &ul->timer_conn, &ul->location, &rows);
    if (!ret)
        ret = ul_db_load(ul, &ul->timer_conn, &ul->aliases, &arows);
    loc_take_dirty(ul->location.mem, ignore_dirty, NULL); /* loaded rows are in the db */
    loc_take_dirty(ul->aliases.mem, ignore_dirty, NULL);
    urcu_memb_unregister_thread();
    if (ret == EAGAIN) {
        /* starting without the database: serve from memory, write later */
        log_err("usrloc: %s unreachable at start: starting with empty tables; registrations "
                "are written when it returns",
                db_name(ul->db));
        return 0;
    }
    if (ret) {
        snprintf(err, cap, "loading the location table from %s failed", db_name(ul->db));
        return EINVAL;
    }
    log_notice("usrloc: loaded %llu contacts and %llu aliases from %s in %.3f s",
               (unsigned long long)rows, (unsigned long long)arows, db_name(ul->db),
               (double)(now_us() - t0) / 1e6);
    return 0;
}

static int usrloc_start(void *state, char *err, size_t cap)
{
    struct usrloc *ul = state;
    if (pthread_create(&ul->timer, NULL, timer_main, ul) != 0) {
        snprintf(err, cap, "cannot start the timer thread");
        return EAGAIN;
    }
    ul->timer_running = true;
    return 0;
}

static void usrloc_destroy(void *state)
{
    struct usrloc *ul = state;
    if (ul->timer_running) {
        pthread_mutex_lock(&ul->timer_lock);
        ul->stopping = true;
        pthread_cond_signal(&ul->timer_cond);
        pthread_mutex_unlock(&ul->timer_lock);
        pthread_join(ul->timer, NULL);
    }
    urcu_memb_register_thread();
    if (ul->db && (ul->p.db_mode == DB_MODE_BACK || ul->p.db_mode == DB_MODE_THROUGH)) {
        /* the workers have drained: write what is left */
        timer_round(ul);
        struct loc_counts k;
        loc_counts(ul->location.mem, &k);
        if (k.dirty)
            log_err("usrloc: %s unreachable at shutdown: %llu AORs not written",
                    db_name(ul->db), (unsigned long long)k.dirty);
    }
    urcu_memb_unregister_thread();
    for (unsigned i = 0; ul->worker_conns && i < ul->workers; i++)
        db_conn_free(ul->worker_conns[i].c);
    free(ul->worker_conns);
    db_conn_free(ul->timer_conn.c);
    db_close(ul->db);
    loc_table_free(ul->location.mem);
    loc_table_free(ul->aliases.mem);
    free((char *)ul->p.db_url);
    pthread_mutex_destroy(&ul->timer_lock);
    pthread_cond_destroy(&ul->timer_cond);
    free(ul);
}

/* ---------------------------------------------------------------- control commands */

static json_t *contact_json(const struct loc_contact *k, time_t now)
{
    json_t *j = json_object();
    json_object_set_new(j, "contact", json_stringn(k->uri.p, k->uri.len));
    json_object_set_new(j, "expires", k->expires ? json_integer((json_int_t)(k->expires - now))
                                                 : json_string("never"));
    json_object_set_new(j, "q", json_real(k->q / 1000.0));
    json_object_set_new(j, "callid", json_stringn(k->callid.p ? k->callid.p : "", k->callid.len));
    json_object_set_new(j, "cseq", json_integer(k->cseq));
    if (k->user_agent.len)
        json_object_set_new(j, "user_agent", json_stringn(k->user_agent.p, k->user_agent.len));
    if (k->received.len)
        json_object_set_new(j, "received", json_stringn(k->received.p, k->received.len));
    if (k->socket.len)
        json_object_set_new(j, "socket", json_stringn(k->socket.p, k->socket.len));
    json_object_set_new(j, "ruid", json_stringn(k->ruid.p, k->ruid.len));
    return j;
}

static json_t *set_json(const struct loc_set *s, time_t now)
{
    json_t *contacts = json_array();
    for (unsigned i = 0; i < s->n; i++)
        json_array_append_new(contacts, contact_json(&s->c[i], now));
    return json_pack("{s:s%, s:o}", "aor", s->aor.p, s->aor.len, "contacts", contacts);
}

struct show_arg {
    json_t *list;
    json_int_t skip, limit, seen;
    time_t now;
};

static int show_one(void *arg, const struct loc_set *s)
{
    struct show_arg *sa = arg;
    if (sa->seen++ < sa->skip)
        return 0;
    if ((json_int_t)json_array_size(sa->list) >= sa->limit)
        return 1;
    json_array_append_new(sa->list, set_json(s, sa->now));
    return 0;
}

static struct ul_table *table_param(struct usrloc *ul, json_t *params, struct ctl_error *err)
{
    const char *name = json_string_value(json_object_get(params, "table"));
    struct ul_table *t = usrloc_table(ul, slice_from_str(name ? name : "location"));
    if (!t) {
        err->code = -32602;
        snprintf(err->message, sizeof(err->message), "unknown table \"%s\"", name);
    }
    return t;
}

/* ul.show {"aor"?, "table"?, "offset"?, "limit"?} */
static json_t *cmd_show(void *arg, json_t *params, struct ctl_error *err)
{
    struct usrloc *ul = arg;
    struct ul_table *t = table_param(ul, params, err);
    if (!t)
        return NULL;
    const char *aor = json_string_value(json_object_get(params, "aor"));
    time_t now = time(NULL);
    urcu_memb_register_thread();
    json_t *result;
    if (aor) {
        urcu_memb_read_lock();
        const struct loc_set *s = loc_get(t->mem, slice_from_str(aor));
        result = s ? set_json(s, now) : NULL;
        urcu_memb_read_unlock();
        if (!result) {
            err->code = -32001;
            snprintf(err->message, sizeof(err->message), "AOR \"%s\" not found in %s", aor,
                     t->name);
        }
    } else {
        json_t *off = json_object_get(params, "offset"), *lim = json_object_get(params, "limit");
        struct show_arg sa = {json_array(), off ? json_integer_value(off) : 0,
                              lim ? json_integer_value(lim) : 100, 0, now};
        urcu_memb_read_lock();
        loc_foreach(t->mem, show_one, &sa);
        urcu_memb_read_unlock();
        struct loc_counts k;
        loc_counts(t->mem, &k);
        result = json_pack("{s:o, s:I, s:I}", "aors", sa.list, "total", (json_int_t)k.aors,
                           "offset", (json_int_t)sa.skip);
    }
    urcu_memb_unregister_thread();
    return result;
}

static int remove_all(void *arg, const struct loc_set *old, struct loc_set **next)
{
    (void)arg;
    (void)old;
    *next = NULL;
    return 0;
}

static json_t *cmd_rm(void *arg, json_t *params, struct ctl_error *err)
{
    struct usrloc *ul = arg;
    struct ul_table *t = table_param(ul, params, err);
    const char *aor = json_string_value(json_object_get(params, "aor"));
    if (!t)
        return NULL;
    if (!aor) {
        err->code = -32602;
        snprintf(err->message, sizeof(err->message), "missing \"aor\"");
        return NULL;
    }
    urcu_memb_register_thread();
    urcu_memb_read_lock();
    bool found = loc_get(t->mem, slice_from_str(aor)) != NULL;
    urcu_memb_read_unlock();
    int ret = found ? loc_edit(t->mem, slice_from_str(aor), remove_all, NULL) : 0;
    if (found && !ret && ul->db && ul->p.db_mode != DB_MODE_BACK)
        ul_db_write_aor(ul, &ul->timer_conn, t, slice_from_str(aor), NULL);
    urcu_memb_unregister_thread();
    if (!found) {
        err->code = -32001;
        snprintf(err->message, sizeof(err->message), "AOR \"%s\" not found in %s", aor, t->name);
        return NULL;
    }
    return json_pack("{s:s}", "removed", aor);
}

static json_t *cmd_flush(void *arg, json_t *params, struct ctl_error *err)
{
    struct usrloc *ul = arg;
    (void)params;
    if (!ul->db || ul->p.db_mode == DB_MODE_ONLY) {
        err->code = -32002;
        snprintf(err->message, sizeof(err->message), "nothing to flush: db_mode is %ld",
                 ul->p.db_mode);
        return NULL;
    }
    /* the timer thread owns its connection: wake it for a round instead */
    pthread_mutex_lock(&ul->timer_lock);
    ul->flush_now = true;
    pthread_cond_signal(&ul->timer_cond);
    pthread_mutex_unlock(&ul->timer_lock);
    return json_pack("{s:s}", "status", "flush requested");
}

static json_t *cmd_alias_add(void *arg, json_t *params, struct ctl_error *err);
static json_t *cmd_alias_rm(void *arg, json_t *params, struct ctl_error *err);

static const struct ctl_cmd usrloc_commands[] = {
    {"ul.show", cmd_show, "contacts of one AOR {aor}, or a page of all {offset, limit}"},
    {"ul.rm", cmd_rm, "remove an AOR {aor, table?}"},
    {"ul.flush", cmd_flush, "write dirty AORs to the database now"},
    {"alias.add", cmd_alias_add, "add an alias {alias, target}"},
    {"alias.rm", cmd_alias_rm, "remove an alias {alias}"},
    {NULL, NULL, NULL},
};

struct alias_arg {
    struct slice alias;
    struct slice target;
    unsigned server_id;
};

static int set_alias(void *arg, const struct loc_set *old, struct loc_set **next)
{
    const struct alias_arg *a = arg;
    (void)old;
    struct loc_contact k = {0};
    char ruid[64];
    /* one row per alias: its name is its ruid; a long one keeps a prefix and
     * a hash of the whole (the column holds 64 bytes), so two long aliases
     * that share their first bytes do not share a row */
    int n = a->alias.len <= 40
                ? snprintf(ruid, sizeof(ruid), "alias-%u-%.*s", a->server_id, (int)a->alias.len,
                           a->alias.p)
                : snprintf(ruid, sizeof(ruid), "alias-%u-%.24s-%016llx", a->server_id, a->alias.p,
                           (unsigned long long)hash_fnv1a(HASH_FNV1A_INIT, a->alias.p,
                                                          a->alias.len));
    k.uri = a->target;
    k.ruid = slice_make(ruid, (size_t)n);
    k.callid = SLICE_LIT("alias");
    k.expires = 0; /* aliases never expire (SER's semantics) */
    k.last_modified = time(NULL);
    k.q = 1000;
    k.methods = -1;
    k.server_id = a->server_id;
    *next = loc_set_build(a->alias, &k, 1);
    return *next ? 0 : ENOMEM;
}

static json_t *cmd_alias_add(void *arg, json_t *params, struct ctl_error *err)
{
    struct usrloc *ul = arg;
    const char *alias = json_string_value(json_object_get(params, "alias"));
    const char *target = json_string_value(json_object_get(params, "target"));
    const char *why;
    struct sip_uri u;
    if (!alias || !target || !*alias) {
        err->code = -32602;
        snprintf(err->message, sizeof(err->message), "alias.add needs \"alias\" and \"target\"");
        return NULL;
    }
    if (sip_uri_parse(&u, slice_from_str(target), &why) != 0 ||
        (u.scheme_id != SIP_URI_SIP && u.scheme_id != SIP_URI_SIPS)) {
        err->code = -32602;
        snprintf(err->message, sizeof(err->message), "target \"%s\" is not a SIP URI", target);
        return NULL;
    }
    struct alias_arg a = {slice_from_str(alias), slice_from_str(target), ul->server_id};
    urcu_memb_register_thread();
    int ret = loc_edit(ul->aliases.mem, a.alias, set_alias, &a);
    if (!ret && ul->db && ul->p.db_mode != DB_MODE_BACK) {
        /* modes 1 and 3 write aliases through: they are rare and permanent */
        struct loc_set *s = NULL;
        if (set_alias(&a, NULL, &s) == 0) {
            ul_db_write_aor(ul, &ul->timer_conn, &ul->aliases, a.alias, s);
            loc_set_free(s);
        }
    }
    urcu_memb_unregister_thread();
    if (ret) {
        err->code = -32000;
        snprintf(err->message, sizeof(err->message), "out of memory");
        return NULL;
    }
    return json_pack("{s:s, s:s}", "alias", alias, "target", target);
}

static json_t *cmd_alias_rm(void *arg, json_t *params, struct ctl_error *err)
{
    struct usrloc *ul = arg;
    const char *alias = json_string_value(json_object_get(params, "alias"));
    if (!alias) {
        err->code = -32602;
        snprintf(err->message, sizeof(err->message), "alias.rm needs \"alias\"");
        return NULL;
    }
    json_t *p = json_pack("{s:s, s:s}", "aor", alias, "table", "aliases");
    json_t *r = cmd_rm(ul, p, err);
    json_decref(p);
    return r;
}

static json_t *usrloc_stats(void *state)
{
    struct usrloc *ul = state;
    struct loc_counts k, a;
    loc_counts(ul->location.mem, &k);
    loc_counts(ul->aliases.mem, &a);
    uint64_t expired = k.expired + atomic_load_explicit(&ul->db_expired, memory_order_relaxed);
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b}", "aors", (json_int_t)k.aors,
                     "contacts", (json_int_t)k.contacts, "expired", (json_int_t)expired,
                     "pending_writes", (json_int_t)(k.dirty + a.dirty), "aliases",
                     (json_int_t)a.aors, "flushes",
                     (json_int_t)atomic_load_explicit(&ul->flushes, memory_order_relaxed),
                     "flush_failures",
                     (json_int_t)atomic_load_explicit(&ul->flush_failures, memory_order_relaxed),
                     "last_flush_us",
                     (json_int_t)atomic_load_explicit(&ul->last_flush_us, memory_order_relaxed),
                     "db_up", ul->db ? db_is_up(ul->db) : 0);
}

static int usrloc_check_reload(const void *old_params, const void *new_params, char *err,
                               size_t cap)
{
    const struct usrloc_params *a = old_params, *b = new_params;
    bool same_url = (a->db_url == NULL) == (b->db_url == NULL) &&
                    (!a->db_url || strcmp(a->db_url, b->db_url) == 0);
    if (a->db_mode != b->db_mode || !same_url || a->use_domain != b->use_domain) {
        snprintf(err, cap, "db_mode, db_url and use_domain need a restart");
        return EINVAL;
    }
    return 0;
}

const struct module loc_usrloc_module = {
    .name = "usrloc",
    .params_size = sizeof(struct usrloc_params),
    .options = usrloc_options,
    .commands = usrloc_commands,
    .init = usrloc_init,
    .start = usrloc_start,
    .destroy = usrloc_destroy,
    .check_reload = usrloc_check_reload,
    .stats = usrloc_stats,
};
