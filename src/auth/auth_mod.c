/* auth_mod.c: the auth module: www/proxy_authorize, www/proxy_challenge, consume_credentials, check_to/from, bans. */
#include "auth/auth_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "core/fmt.h"
#include "core/log.h"

struct auth_params {
    const char *secret;
    long nonce_expire;
    const char *algorithms;
    long ban_failures;      /* failures per source address within ban_window; 0: off */
    long ban_user_failures; /* failures per username within ban_window; 0: off */
    long ban_window;
    long ban_time;
};

static const struct mod_option auth_options[] = {
    {"secret", MOD_OPT_STRING, offsetof(struct auth_params, secret), 0, 0, 0, NULL,
     "nonce secret; nodes of a cluster must share it (random when unset)"},
    {"nonce_expire", MOD_OPT_INT, offsetof(struct auth_params, nonce_expire), 1, 86400, 300, NULL,
     "seconds a nonce is valid"},
    {"algorithms", MOD_OPT_STRING, offsetof(struct auth_params, algorithms), 0, 0, 0,
     "SHA-256,MD5", "digest algorithms challenged, in order"},
    {"ban_failures", MOD_OPT_INT, offsetof(struct auth_params, ban_failures), 0, 1000000, 50, NULL,
     "failed authentications from one address within ban_window before a ban (0: off)"},
    {"ban_user_failures", MOD_OPT_INT, offsetof(struct auth_params, ban_user_failures), 0,
     1000000, 20, NULL, "failed authentications of one username within ban_window (0: off)"},
    {"ban_window", MOD_OPT_INT, offsetof(struct auth_params, ban_window), 1, 86400, 60, NULL,
     "seconds over which failures are counted"},
    {"ban_time", MOD_OPT_INT, offsetof(struct auth_params, ban_time), 1, 86400, 300, NULL,
     "seconds a ban lasts"},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};

/* ---------------------------------------------------------------- bans */

/*
 * Failure counters per source address and per username: a fixed table per
 * shard, a mutex per shard (only failures and the ban check touch it; a
 * successful authentication of an unbanned client takes one shard lock to
 * look). An entry counts failures in a window and, past the limit, is
 * banned until a time. Old entries are overwritten first.
 */
#define BAN_SHARDS 32
#define BAN_SLOTS 256

struct ban_entry {
    char key[80]; /* "ip:192.0.2.1" or "user:1000" */
    time_t window_start;
    time_t banned_until;
    unsigned failures;
};

struct ban_shard {
    pthread_mutex_t lock;
    struct ban_entry e[BAN_SLOTS];
};

struct auth {
    struct auth_params p;
    struct auth_db *adb;
    struct auth_nonces *nonces;
    enum auth_alg algs[AUTH_ALG_COUNT];
    unsigned alg_n;
    char dummy_ha1[AUTH_ALG_COUNT][AUTH_HEX_MAX]; /* unknown users cost the same as known ones */
    struct ban_shard shards[BAN_SHARDS];
    _Atomic uint64_t ok, failed, stale, banned_refusals, challenges, db_unavailable;
};

static unsigned key_hash(const char *k)
{
    uint32_t h = 2166136261u;
    for (; *k; k++) {
        h ^= (unsigned char)*k;
        h *= 16777619u;
    }
    return h;
}

static struct ban_entry *ban_find(struct ban_shard *s, const char *key, bool create, time_t now)
{
    unsigned h = key_hash(key) % BAN_SLOTS;
    struct ban_entry *victim = NULL;
    for (unsigned i = 0; i < 8; i++) {
        struct ban_entry *e = &s->e[(h + i) % BAN_SLOTS];
        if (e->key[0] && strcmp(e->key, key) == 0)
            return e;
        bool idle = !e->key[0] || (e->banned_until <= now && e->window_start + 3600 < now);
        if (!victim && idle)
            victim = e;
    }
    if (!create)
        return NULL;
    if (!victim)
        victim = &s->e[h]; /* all busy: the home slot is reused */
    memset(victim, 0, sizeof(*victim));
    snprintf(victim->key, sizeof(victim->key), "%s", key);
    victim->window_start = now;
    return victim;
}

static bool banned(struct auth *au, const char *key, time_t now)
{
    struct ban_shard *s = &au->shards[key_hash(key) % BAN_SHARDS];
    pthread_mutex_lock(&s->lock);
    struct ban_entry *e = ban_find(s, key, false, now);
    bool b = e && e->banned_until > now;
    pthread_mutex_unlock(&s->lock);
    return b;
}

static void count_failure(struct auth *au, const char *key, long limit, time_t now)
{
    if (limit <= 0)
        return;
    struct ban_shard *s = &au->shards[key_hash(key) % BAN_SHARDS];
    pthread_mutex_lock(&s->lock);
    struct ban_entry *e = ban_find(s, key, true, now);
    if (e->window_start + au->p.ban_window <= now) {
        e->window_start = now;
        e->failures = 0;
    }
    if (++e->failures >= (unsigned long)limit && e->banned_until <= now) {
        e->banned_until = now + au->p.ban_time;
        log_warn("auth: %s banned for %ld s after %u failed authentications", e->key,
                 au->p.ban_time, e->failures);
    }
    pthread_mutex_unlock(&s->lock);
}

/* ---------------------------------------------------------------- init */

static int auth_init(void **state, const void *params, const struct mod_env *env, char *err,
                     size_t cap)
{
    struct auth *au = calloc(1, sizeof(*au));
    if (!au)
        return ENOMEM;
    *state = au;
    au->p = *(const struct auth_params *)params;
    for (unsigned i = 0; i < BAN_SHARDS; i++)
        pthread_mutex_init(&au->shards[i].lock, NULL);
    au->adb = env->state_of(env, "auth_db");
    if (!au->adb) {
        snprintf(err, cap, "the auth_db module did not start");
        return EINVAL;
    }
    /* the algorithms, in order; SHA-256 needs HA1s computed from plaintext */
    const char *a = au->p.algorithms ? au->p.algorithms : "SHA-256,MD5";
    while (*a) {
        const char *end = strchr(a, ',');
        size_t len = end ? (size_t)(end - a) : strlen(a);
        struct slice name = slice_trim(slice_make(a, len));
        enum auth_alg alg;
        if (auth_alg_parse(name, &alg) != 0) {
            snprintf(err, cap, "algorithms: unknown digest algorithm \"%.*s\" (SHA-256, MD5)",
                     (int)name.len, name.p);
            return EINVAL;
        }
        if (alg == AUTH_ALG_SHA256 && !au->adb->p.calculate_ha1) {
            log_notice("auth: SHA-256 not offered: auth_db stores MD5 HA1s "
                       "(set calculate_ha1 with a plaintext password_column to offer it)");
        } else if (au->alg_n < AUTH_ALG_COUNT) {
            au->algs[au->alg_n++] = alg;
        }
        a += len;
        if (*a == ',')
            a++;
    }
    if (au->alg_n == 0) {
        snprintf(err, cap, "algorithms: none left to offer");
        return EINVAL;
    }
    struct auth_nonce_cfg nc = {0};
    nc.expire = (unsigned)au->p.nonce_expire;
    if (au->p.secret) {
        nc.secret = (const unsigned char *)au->p.secret;
        nc.secret_len = strlen(au->p.secret);
    } else {
        log_warn("auth: no secret set: nonces use a random one; nodes of a cluster must share a "
                 "secret (modules.auth.secret)");
    }
    if (auth_nonces_new(&au->nonces, &nc) != 0) {
        snprintf(err, cap, "cannot set up nonces");
        return ENOMEM;
    }
    for (int alg = 0; alg < AUTH_ALG_COUNT; alg++) {
        unsigned char rnd[16];
        char pw[33];
        RAND_bytes(rnd, sizeof(rnd));
        for (int i = 0; i < 16; i++)
            snprintf(pw + 2 * i, 3, "%02x", rnd[i]);
        if (auth_ha1((enum auth_alg)alg, SLICE_LIT("nobody"), SLICE_LIT("nowhere"),
                     slice_make(pw, 32), au->dummy_ha1[alg]) != 0) {
            snprintf(err, cap, "cannot compute digests (OpenSSL)");
            return ENOMEM;
        }
    }
    return 0;
}

static void auth_destroy(void *state)
{
    struct auth *au = state;
    auth_nonces_free(au->nonces);
    for (unsigned i = 0; i < BAN_SHARDS; i++)
        pthread_mutex_destroy(&au->shards[i].lock);
    free(au);
}

/* ---------------------------------------------------------------- actions */

/* SER: an empty realm is the host of To (REGISTER) or From (anything else). */
static struct slice pick_realm(struct sip_ctx *ctx, struct slice realm, bool from)
{
    if (realm.len)
        return realm;
    const struct sip_msg *m = ctx->msg;
    return from || m->method_id != SIP_METHOD_REGISTER ? m->from.uri.host : m->to.uri.host;
}

static int fail(struct sip_ctx *ctx, unsigned code, const char *reason)
{
    ctx->err_code = code;
    ctx->err_reason = reason;
    return MOD_FALSE;
}

static bool uri_matches(struct sip_ctx *ctx, struct slice uri)
{
    if (slice_eq(uri, ctx->msg->ruri_text))
        return true;
    struct sip_uri u;
    const char *why;
    return sip_uri_parse(&u, uri, &why) == 0 && sip_uri_eq(&u, &ctx->msg->ruri);
}

static int authorize(struct sip_ctx *ctx, const struct mod_inst *mi, const struct mod_arg *args,
                     bool proxy)
{
    struct auth *au = mi->state;
    struct sip_msg *msg = ctx->msg;
    struct slice realm = pick_realm(ctx, args[0].s, proxy);
    struct slice table = args[1].s;
    time_t now = time(NULL);
    char ipkey[80];

    if (!msg->is_request || msg->method_id == SIP_METHOD_ACK || msg->method_id == SIP_METHOD_CANCEL)
        return MOD_TRUE; /* RFC 3261 22.1: never challenged */
    memcpy(ipkey, "ip:", 3);
    net_addr_ip((struct sockaddr *)&ctx->pkt->src.ss, ipkey + 3, sizeof(ipkey) - 3);
    if (au->p.ban_failures && banned(au, ipkey, now)) {
        atomic_fetch_add_explicit(&au->banned_refusals, 1, memory_order_relaxed);
        return fail(ctx, 403, "Forbidden");
    }

    /* the credentials for our realm */
    enum sip_hdr_type t = proxy ? SIP_HDR_PROXY_AUTHORIZATION : SIP_HDR_AUTHORIZATION;
    struct sip_digest d;
    const struct sip_hdr *h;
    const char *why;
    for (h = sip_msg_hdr(msg, t); h; h = sip_msg_hdr_next(msg, h)) {
        if (sip_digest_parse(&d, h->value, &why) == 0 && SLICE_IEQ(d.scheme, "digest") &&
            slice_eq(d.realm, realm))
            break;
    }
    if (!h)
        return fail(ctx, proxy ? 407 : 401, NULL); /* no credentials: challenge */
    if (!d.username.len || !d.nonce.len || !d.uri.p || !d.response.len)
        return fail(ctx, 400, "Bad Request: incomplete credentials");
    enum auth_alg alg;
    if (auth_alg_parse(d.algorithm, &alg) != 0)
        return fail(ctx, proxy ? 407 : 401, NULL);
    bool offered = false;
    for (unsigned i = 0; i < au->alg_n; i++)
        offered |= au->algs[i] == alg;
    if (!offered)
        return fail(ctx, proxy ? 407 : 401, NULL);
    if (d.qop.p && (!slice_eq_str(d.qop, "auth") || !d.cnonce.len || !d.nc.len))
        return fail(ctx, 400, "Bad Request: qop credentials without auth, cnonce or nc");
    if (!uri_matches(ctx, d.uri))
        return fail(ctx, 400, "Bad Request: digest uri does not match the Request-URI");

    enum auth_nonce_state ns = auth_nonce_check(au->nonces, d.nonce, realm, now);
    if (ns == AUTH_NONCE_BAD)
        return fail(ctx, proxy ? 407 : 401, NULL);

    char userkey[96];
    size_t ul = d.username.len > 80 ? 80 : d.username.len;
    memcpy(userkey, "user:", 5);
    memcpy(userkey + 5, d.username.p, ul);
    userkey[5 + ul] = 0;
    if (au->p.ban_user_failures && banned(au, userkey, now)) {
        atomic_fetch_add_explicit(&au->banned_refusals, 1, memory_order_relaxed);
        return fail(ctx, 403, "Forbidden");
    }

    struct sub_ha1 v;
    int err = auth_db_ha1(au->adb, ctx->worker->index, table, d.username, realm, now, &v);
    if (err == EAGAIN) {
        atomic_fetch_add_explicit(&au->db_unavailable, 1, memory_order_relaxed);
        ctx->err_headers = SLICE_LIT("Retry-After: 5\r\n");
        sip_ctx_reply(ctx, 500, SLICE_LIT("Server Internal Error: database unavailable"),
                      ctx->err_headers);
        return MOD_EXIT;
    }
    if (err)
        return fail(ctx, 500, "Server Internal Error");
    const char *ha1 = v.found && v.has[alg] ? v.ha1[alg] : au->dummy_ha1[alg];
    char expect[AUTH_HEX_MAX];
    if (auth_response(alg, slice_from_str(ha1), d.nonce, d.nc, d.cnonce, d.qop, msg->method,
                      d.uri, expect) != 0)
        return fail(ctx, 500, "Server Internal Error"); /* fails closed */
    bool good = auth_hex_eq(slice_from_str(expect), d.response) && v.found && v.has[alg];
    if (!good) {
        atomic_fetch_add_explicit(&au->failed, 1, memory_order_relaxed);
        count_failure(au, ipkey, au->p.ban_failures, now);
        count_failure(au, userkey, au->p.ban_user_failures, now);
        return fail(ctx, proxy ? 407 : 401, NULL);
    }
    if (ns == AUTH_NONCE_STALE ||
        (d.qop.p && !auth_nonce_nc(au->nonces, d.nonce, d.nc))) {
        /* right password, old nonce or a replayed nc: a fresh challenge */
        atomic_fetch_add_explicit(&au->stale, 1, memory_order_relaxed);
        ctx->auth_stale = true;
        return fail(ctx, proxy ? 407 : 401, NULL);
    }
    atomic_fetch_add_explicit(&au->ok, 1, memory_order_relaxed);
    ctx->auth_user = d.username;
    ctx->auth_hdr = h;
    return MOD_TRUE;
}

static int act_www_authorize(struct sip_ctx *ctx, const struct mod_inst *mi,
                             const struct mod_arg *args)
{
    return authorize(ctx, mi, args, false);
}

static int act_proxy_authorize(struct sip_ctx *ctx, const struct mod_inst *mi,
                               const struct mod_arg *args)
{
    return authorize(ctx, mi, args, true);
}

static int challenge(struct sip_ctx *ctx, const struct mod_inst *mi, const struct mod_arg *args,
                     bool proxy)
{
    struct auth *au = mi->state;
    struct slice realm = pick_realm(ctx, args[0].s, proxy);
    bool qop = args[1].i != 0;
    time_t now = time(NULL);
    char hdrs[1024];
    struct fmt f = fmt_init(hdrs, sizeof(hdrs));

    if (!ctx->msg->is_request || ctx->msg->method_id == SIP_METHOD_ACK)
        return MOD_FALSE;
    for (unsigned i = 0; i < au->alg_n; i++) {
        char nonce[AUTH_NONCE_MAX + 1];
        size_t nl = auth_nonce_make(au->nonces, realm, now, nonce);
        if (nl == 0)
            return fail(ctx, 500, "Server Internal Error");
        fmt_str(&f, proxy ? "Proxy-Authenticate: Digest realm=\""
                          : "WWW-Authenticate: Digest realm=\"");
        fmt_slice(&f, realm);
        fmt_str(&f, "\", nonce=\"");
        fmt_mem(&f, nonce, nl);
        fmt_str(&f, "\", algorithm=");
        fmt_str(&f, auth_alg_name(au->algs[i]));
        if (qop)
            fmt_str(&f, ", qop=\"auth\"");
        if (ctx->auth_stale)
            fmt_str(&f, ", stale=true");
        fmt_str(&f, "\r\n");
    }
    if (!f.ok)
        return fail(ctx, 500, "Server Internal Error");
    atomic_fetch_add_explicit(&au->challenges, 1, memory_order_relaxed);
    return sip_ctx_reply(ctx, proxy ? 407 : 401,
                         proxy ? SLICE_LIT("Proxy Authentication Required")
                               : SLICE_LIT("Unauthorized"),
                         slice_make(hdrs, f.len)) == 0
               ? MOD_TRUE
               : MOD_FALSE;
}

static int act_www_challenge(struct sip_ctx *ctx, const struct mod_inst *mi,
                             const struct mod_arg *args)
{
    return challenge(ctx, mi, args, false);
}

static int act_proxy_challenge(struct sip_ctx *ctx, const struct mod_inst *mi,
                               const struct mod_arg *args)
{
    return challenge(ctx, mi, args, true);
}

static int act_consume(struct sip_ctx *ctx, const struct mod_inst *mi, const struct mod_arg *args)
{
    (void)mi;
    (void)args;
    if (!ctx->auth_hdr)
        return MOD_FALSE;
    ctx->consume_auth = true;
    return MOD_TRUE;
}

/* The digest username against a URI's user part, case-insensitive, unescaped. */
static int check_user(struct sip_ctx *ctx, const struct sip_uri *u)
{
    char a[256], b[256];
    if (!ctx->auth_user.len || !u->user.len)
        return MOD_FALSE;
    long na = sip_unescape(ctx->auth_user, a, sizeof(a));
    long nb = sip_unescape(u->user, b, sizeof(b));
    if (na < 0 || nb < 0 || na != nb)
        return MOD_FALSE;
    return slice_caseeq(slice_make(a, (size_t)na), slice_make(b, (size_t)nb)) ? MOD_TRUE
                                                                               : MOD_FALSE;
}

static int act_check_to(struct sip_ctx *ctx, const struct mod_inst *mi, const struct mod_arg *args)
{
    (void)mi;
    (void)args;
    return check_user(ctx, &ctx->msg->to.uri);
}

static int act_check_from(struct sip_ctx *ctx, const struct mod_inst *mi,
                          const struct mod_arg *args)
{
    (void)mi;
    (void)args;
    return check_user(ctx, &ctx->msg->from.uri);
}

static int fixup_table(struct mod_arg *args, unsigned n, const void *params, char *err,
                       size_t cap)
{
    (void)n;
    (void)params;
    struct slice t = args[1].s;
    bool ok = t.len > 0 && t.len <= 64;
    for (size_t i = 0; ok && i < t.len; i++)
        ok = (t.p[i] >= 'a' && t.p[i] <= 'z') || (t.p[i] >= 'A' && t.p[i] <= 'Z') ||
             (t.p[i] >= '0' && t.p[i] <= '9') || t.p[i] == '_';
    if (!ok) {
        snprintf(err, cap, "table \"%.*s\" is not a plain table name", (int)t.len, t.p);
        return -1;
    }
    return 0;
}

static int fixup_qop(struct mod_arg *args, unsigned n, const void *params, char *err, size_t cap)
{
    (void)n;
    (void)params;
    if (args[1].i != 0 && args[1].i != 1) {
        snprintf(err, cap, "qop argument is 0 (no qop) or 1 (qop=auth), not %ld", args[1].i);
        return -1;
    }
    return 0;
}

static const struct mod_action auth_actions[] = {
    {"www_authorize", act_www_authorize, 2, 2, {MOD_ARG_STRING, MOD_ARG_STRING}, fixup_table},
    {"proxy_authorize", act_proxy_authorize, 2, 2, {MOD_ARG_STRING, MOD_ARG_STRING}, fixup_table},
    {"www_challenge", act_www_challenge, 2, 2, {MOD_ARG_STRING, MOD_ARG_INT}, fixup_qop},
    {"proxy_challenge", act_proxy_challenge, 2, 2, {MOD_ARG_STRING, MOD_ARG_INT}, fixup_qop},
    {"consume_credentials", act_consume, 0, 0, {0}, NULL},
    {"check_to", act_check_to, 0, 0, {0}, NULL},
    {"check_from", act_check_from, 0, 0, {0}, NULL},
    {NULL, NULL, 0, 0, {0}, NULL},
};

/* ---------------------------------------------------------------- control */

static json_t *cmd_ban_list(void *arg, json_t *params, struct ctl_error *err)
{
    struct auth *au = arg;
    (void)params;
    (void)err;
    time_t now = time(NULL);
    json_t *list = json_array();
    for (unsigned s = 0; s < BAN_SHARDS; s++) {
        pthread_mutex_lock(&au->shards[s].lock);
        for (unsigned i = 0; i < BAN_SLOTS; i++) {
            const struct ban_entry *e = &au->shards[s].e[i];
            if (e->key[0] && e->banned_until > now)
                json_array_append_new(list, json_pack("{s:s, s:I, s:i}", "key", e->key,
                                                      "seconds_left",
                                                      (json_int_t)(e->banned_until - now),
                                                      "failures", (int)e->failures));
        }
        pthread_mutex_unlock(&au->shards[s].lock);
    }
    return list;
}

static json_t *cmd_ban_rm(void *arg, json_t *params, struct ctl_error *err)
{
    struct auth *au = arg;
    const char *key = json_string_value(json_object_get(params, "key"));
    if (!key) {
        err->code = -32602;
        snprintf(err->message, sizeof(err->message),
                 "auth.ban_rm needs \"key\" (\"ip:ADDRESS\" or \"user:NAME\")");
        return NULL;
    }
    struct ban_shard *s = &au->shards[key_hash(key) % BAN_SHARDS];
    pthread_mutex_lock(&s->lock);
    struct ban_entry *e = ban_find(s, key, false, time(NULL));
    bool found = e && e->key[0];
    if (found)
        memset(e, 0, sizeof(*e));
    pthread_mutex_unlock(&s->lock);
    if (!found) {
        err->code = -32001;
        snprintf(err->message, sizeof(err->message), "no ban on \"%s\"", key);
        return NULL;
    }
    return json_pack("{s:s}", "removed", key);
}

static const struct ctl_cmd auth_commands[] = {
    {"auth.ban_list", cmd_ban_list, "addresses and usernames banned now"},
    {"auth.ban_rm", cmd_ban_rm, "lift a ban {key: \"ip:ADDRESS\" | \"user:NAME\"}"},
    {NULL, NULL, NULL},
};

static json_t *auth_stats(void *state)
{
    struct auth *au = state;
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "authorized",
                     (json_int_t)atomic_load(&au->ok), "failed", (json_int_t)atomic_load(&au->failed),
                     "stale", (json_int_t)atomic_load(&au->stale), "banned_refusals",
                     (json_int_t)atomic_load(&au->banned_refusals), "challenges",
                     (json_int_t)atomic_load(&au->challenges), "db_unavailable",
                     (json_int_t)atomic_load(&au->db_unavailable));
}

const struct module auth_auth_module = {
    .name = "auth",
    .params_size = sizeof(struct auth_params),
    .options = auth_options,
    .actions = auth_actions,
    .commands = auth_commands,
    .init = auth_init,
    .destroy = auth_destroy,
    .stats = auth_stats,
};
