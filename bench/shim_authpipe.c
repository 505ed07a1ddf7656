/* shim_authpipe.c: bench_authpipe's C side: a filled subscriber cache, sipd's modules, routes. */
#include "shim_authpipe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <urcu/urcu-memb.h>

#include "auth/auth.h"
/* Private to src/auth, included for one reason: the auth_db module's state
 * (struct auth_db) holds the subscriber cache the shim pre-fills, as the
 * brief of this benchmark asks (sub_cache_put on the module's own cache). */
#include "auth/auth_int.h"
#include "core/log.h"
#include "route/route.h"

#ifndef SHIMAP_REGISTRAR_JSON
#error "SHIMAP_REGISTRAR_JSON (the path of examples/registrar.json) must be defined by the build"
#endif

#define REALM "example.com"

/* Nested enters are counted: Google Benchmark runs thread 0 of a benchmark
 * on the main thread, which entered already, and liburcu asserts on a second
 * registration. */
static _Thread_local unsigned enter_depth;

void shimap_thread_enter(void)
{
    if (enter_depth++ == 0)
        urcu_memb_register_thread();
}

void shimap_thread_leave(void)
{
    if (enter_depth && --enter_depth == 0)
        urcu_memb_unregister_thread();
}

/* xorshift64*: a fixed-seed generator, so every run looks up the same users. */
static uint64_t next_random(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* ---------------------------------------------------------------- the subscriber cache */

#define NAME_SLOT 16 /* "user" + 6 digits + NUL fits */

struct shimap_cache {
    struct sub_cache *cache;
    unsigned users;
    time_t now;  /* what lookups pass as the time: www_authorize reads the clock once per message */
    char *names; /* users slots of NAME_SLOT bytes */
    uint32_t seq[SHIMAP_SEQ_LEN];
};

int shimap_cache_new(struct shimap_cache **cp, unsigned users, char *err, size_t err_cap)
{
    *cp = NULL;
    if (users == 0 || users > 999999) {
        snprintf(err, err_cap, "users must be 1..999999, not %u", users);
        return EINVAL;
    }
    struct shimap_cache *c = calloc(1, sizeof(*c));
    if (!c || !(c->names = calloc(users, NAME_SLOT)) || sub_cache_new(&c->cache) != 0) {
        if (c)
            free(c->names);
        free(c);
        snprintf(err, err_cap, "out of memory");
        return ENOMEM;
    }
    c->users = users;
    c->now = time(NULL);
    for (unsigned u = 0; u < users; u++) {
        char *name = c->names + (size_t)u * NAME_SLOT;
        snprintf(name, NAME_SLOT, "user%06u", u);
        /* The cache never looks inside the HA1s: any hex of the right length will do. */
        struct sub_ha1 v = {.found = true};
        for (int alg = 0; alg < AUTH_ALG_COUNT; alg++) {
            size_t len = auth_alg_hex_len((enum auth_alg)alg);
            for (size_t i = 0; i < len; i++)
                v.ha1[alg][i] = "0123456789abcdef"[(u + i * 7) & 15];
            v.ha1[alg][len] = '\0';
            v.has[alg] = true;
        }
        if (sub_cache_put(c->cache, slice_from_str(name), SLICE_LIT(REALM), &v, c->now + 86400) !=
            0) {
            snprintf(err, err_cap, "sub_cache_put failed at user %u", u);
            shimap_cache_free(c);
            return ENOMEM;
        }
    }
    uint64_t rs = 0x9e3779b97f4a7c15ull ^ users;
    for (size_t i = 0; i < SHIMAP_SEQ_LEN; i++)
        c->seq[i] = (uint32_t)(next_random(&rs) % users);
    /* sub_cache_put grows the table itself at each power of two of the
     * entries (liburcu's lazy resize can stall; see src/loc/usrloc.c); wait
     * for anything queued on liburcu's threads all the same */
    urcu_memb_barrier();
    usleep(200 * 1000);
    if (sub_cache_count(c->cache) != users) {
        snprintf(err, err_cap, "the cache holds %lu entries, not %u", sub_cache_count(c->cache),
                 users);
        shimap_cache_free(c);
        return EINVAL;
    }
    *cp = c;
    return 0;
}

void shimap_cache_free(struct shimap_cache *c)
{
    if (!c)
        return;
    sub_cache_free(c->cache);
    c->cache = NULL;
    free(c->names);
    free(c);
}

int shimap_cache_get(struct shimap_cache *c, size_t i)
{
    const char *name = c->names + (size_t)c->seq[i % SHIMAP_SEQ_LEN] * NAME_SLOT;
    struct sub_ha1 v;
    /* "user" + 6 digits: the length is known, as a parsed username's is */
    if (sub_cache_get(c->cache, slice_make(name, 10), SLICE_LIT(REALM), c->now, &v) != 0)
        return -1;
    return v.found && v.has[AUTH_ALG_MD5] ? 0 : -1;
}

unsigned long shimap_cache_count(struct shimap_cache *c)
{
    return sub_cache_count(c->cache);
}

/* ---------------------------------------------------------------- the REGISTER pipeline */

#define SECRET           "bench-authpipe-secret"
#define SLOT_ARENA       8192u
#define SLOT_ARENA_LIMIT (256u * 1024u)
#define MSG_CAP          1024u

struct user {
    char name[NAME_SLOT];
    char callid[48];
    char nonce[AUTH_NONCE_MAX + 1];
    char ha1[AUTH_ALG_COUNT][AUTH_HEX_MAX];
    uint32_t nc; /* the last nc sent with this user's nonce */
};

struct slot {
    struct sip_pkt pkt;
    char *arena_buf;
    unsigned user;
    uint32_t cseq;
    size_t len;
    char msg[MSG_CAP];
};

struct shimap_pipe {
    struct route_cfg *cfg;
    void **states;
    size_t module_n;
    char *config_text;
    struct auth_nonces *nonces; /* the shim's own, with the config's secret */
    struct user *users;
    unsigned user_n, next_user;
    uint32_t cseq;   /* the last CSeq prepared, over all users */
    uint64_t branch; /* makes each Via branch unique */
    int tx_fd, sink_fd;
    struct net_sock sock;   /* what a receiver hands the worker: the socket replies leave from */
    struct net_addr sink;   /* the packets' source: replies go there (Via rport) */
    struct sip_rx rx;       /* the receivers' limits and sanity settings */
    struct sip_stats stats; /* large: kept off the stack */
    struct sip_worker worker;
    uint64_t routed, arena_spill, expect_200;
    unsigned last_user;
    uint32_t last_cseq;
    size_t reply_len; /* of the last 200 OK in worker.out, for shimap_pipe_send2 */
    struct slot slots[SHIMAP_BATCH];
};

const char *shimap_pipe_config(const struct shimap_pipe *p)
{
    return p->config_text;
}

/*
 * The config: registrar.json's "debug" and "routes" as they are in the file,
 * its "modules" with every db_url removed, usrloc db_mode 0 and a fixed auth
 * secret; the core settings a process-less run needs.
 */
static char *make_config(char *err, size_t err_cap)
{
    json_error_t jerr;
    json_t *file = json_load_file(SHIMAP_REGISTRAR_JSON, 0, &jerr);
    if (!file) {
        snprintf(err, err_cap, "%s:%d: %s", SHIMAP_REGISTRAR_JSON, jerr.line, jerr.text);
        return NULL;
    }
    json_t *routes = json_object_get(file, "routes");
    json_t *file_modules = json_object_get(file, "modules");
    json_t *debug = json_object_get(file, "debug");
    if (!json_is_object(routes)) {
        snprintf(err, err_cap, "%s: no \"routes\" object", SHIMAP_REGISTRAR_JSON);
        json_decref(file);
        return NULL;
    }
    json_t *modules = json_is_object(file_modules) ? json_deep_copy(file_modules) : json_object();
    const char *name;
    json_t *m;
    json_object_foreach(modules, name, m)
    {
        if (json_is_object(m))
            json_object_del(m, "db_url");
    }
    json_t *usrloc = json_object_get(modules, "usrloc");
    if (!usrloc) {
        usrloc = json_object();
        json_object_set_new(modules, "usrloc", usrloc);
    }
    json_object_set_new(usrloc, "db_mode", json_integer(0));
    json_t *auth = json_object_get(modules, "auth");
    if (!auth) {
        auth = json_object();
        json_object_set_new(modules, "auth", auth);
    }
    json_object_set_new(auth, "secret", json_string(SECRET));
    json_object_set_new(auth, "nonce_expire", json_integer(86400));

    /* the seed's debug level (3 when the file has none, the core default) */
    json_t *cfg =
        json_pack("{s:o, s:b, s:b, s:[s], s:[s], s:i, s:b, s:b, s:o, s:O}", "debug",
                  json_is_integer(debug) ? json_incref(debug) : json_integer(3), "fork", 0,
                  "log_stderror", 1, "listen", "udp:127.0.0.1:5060", "aliases", REALM, "children",
                  1, "dns", 0, "rev_dns", 0, "modules", modules, "routes", routes);
    json_decref(file);
    if (!cfg) {
        snprintf(err, err_cap, "out of memory");
        return NULL;
    }
    char *text = json_dumps(cfg, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(cfg);
    if (!text)
        snprintf(err, err_cap, "out of memory");
    return text;
}

static int load_config(struct route_cfg **cfgp, const char *text, void *const *states, char *err,
                       size_t err_cap)
{
    char path[512];
    const char *dir = getenv("TMPDIR");
    int n =
        snprintf(path, sizeof(path), "%s/sipd-bench-authpipe-XXXXXX", dir && *dir ? dir : "/tmp");
    if (n < 0 || (size_t)n >= sizeof(path)) {
        snprintf(err, err_cap, "temporary directory name too long");
        return ENAMETOOLONG;
    }
    int fd = mkstemp(path);
    if (fd < 0) {
        int e = errno;
        snprintf(err, err_cap, "%s: %s", path, strerror(e));
        return e;
    }
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t w = write(fd, text + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            int e = errno;
            snprintf(err, err_cap, "%s: %s", path, strerror(e));
            close(fd);
            unlink(path);
            return e;
        }
        done += (size_t)w;
    }
    close(fd);
    int ret = route_cfg_load(cfgp, path, states, err, err_cap);
    unlink(path);
    return ret;
}

static size_t module_index(const char *name)
{
    for (size_t i = 0; route_modules[i]; i++)
        if (strcmp(route_modules[i]->name, name) == 0)
            return i;
    return (size_t)-1;
}

/* As runtime.c's state_of: the state of a module initialised earlier. */
static void *state_of(const struct mod_env *env, const char *module)
{
    const struct shimap_pipe *p = env->opaque;
    size_t i = module_index(module);
    return i == (size_t)-1 ? NULL : p->states[i];
}

/* As runtime.c's init_modules, from the first (state-less) load. */
static int init_modules(struct shimap_pipe *p, const struct route_cfg *cfg, char *err,
                        size_t err_cap)
{
    const struct route_core *core = route_cfg_core(cfg);
    struct mod_env env = {
        .state_of = state_of,
        .opaque = p,
        .workers = (unsigned)core->children,
        .db_url = core->db_url,
        .server_id = (unsigned)core->server_id,
    };
    p->module_n = route_module_count();
    p->states = calloc(p->module_n ? p->module_n : 1, sizeof(void *));
    if (!p->states) {
        snprintf(err, err_cap, "out of memory");
        return ENOMEM;
    }
    for (size_t i = 0; i < p->module_n; i++) {
        const struct module *m = route_modules[i];
        char why[512] = "";
        if (m->init &&
            m->init(&p->states[i], route_cfg_params(cfg, i), &env, why, sizeof(why)) != 0) {
            snprintf(err, err_cap, "module %s: %s", m->name, why);
            return EINVAL;
        }
    }
    return 0;
}

static int open_sockets(struct shimap_pipe *p, char *err, size_t err_cap)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    int small = 1; /* the kernel raises it to its minimum */

    p->tx_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    p->sink_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (p->tx_fd < 0 || p->sink_fd < 0 || bind(p->tx_fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        setsockopt(p->sink_fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) != 0 ||
        bind(p->sink_fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        snprintf(err, err_cap, "UDP sockets on 127.0.0.1: %s", strerror(errno));
        return errno ? errno : EIO;
    }
    p->sock.fd = p->tx_fd;
    p->sock.proto = NET_PROTO_UDP;
    p->sock.listen = &route_cfg_core(p->cfg)->listens[0];
    p->sock.local.len = sizeof(p->sock.local.ss);
    getsockname(p->tx_fd, (struct sockaddr *)&p->sock.local.ss, &p->sock.local.len);
    if (getsockname(p->sink_fd, (struct sockaddr *)&a, &alen) != 0) {
        snprintf(err, err_cap, "getsockname: %s", strerror(errno));
        return errno;
    }
    memcpy(&p->sink.ss, &a, sizeof(a));
    p->sink.len = sizeof(a);
    return 0;
}

/* The users: HA1s into the auth_db module's cache, a nonce each from the shim's nonces. */
static int make_users(struct shimap_pipe *p, unsigned users, char *err, size_t err_cap)
{
    size_t adb = module_index("auth_db");
    struct auth_db *a = adb == (size_t)-1 ? NULL : p->states[adb];
    if (!a || !a->cache) {
        snprintf(err, err_cap, "the auth_db module has no cache");
        return EINVAL;
    }
    struct auth_nonce_cfg nc = {
        .secret = (const unsigned char *)SECRET,
        .secret_len = sizeof(SECRET) - 1,
        .expire = 86400,
    };
    if (auth_nonces_new(&p->nonces, &nc) != 0 || !(p->users = calloc(users, sizeof(*p->users)))) {
        snprintf(err, err_cap, "out of memory");
        return ENOMEM;
    }
    p->user_n = users;
    time_t now = time(NULL);
    for (unsigned u = 0; u < users; u++) {
        struct user *us = &p->users[u];
        char password[32];
        snprintf(us->name, sizeof(us->name), "user%06u", u);
        snprintf(password, sizeof(password), "secret-%u", u * 7919u);
        snprintf(us->callid, sizeof(us->callid), "%08x-5a8c1e3f9b2d@192.0.2.10", u * 2654435761u);
        struct sub_ha1 v = {.found = true};
        for (int alg = 0; alg < AUTH_ALG_COUNT; alg++) {
            if (auth_ha1((enum auth_alg)alg, slice_from_str(us->name), SLICE_LIT(REALM),
                         slice_from_str(password), us->ha1[alg]) != 0) {
                snprintf(err, err_cap, "auth_ha1 failed");
                return ENOMEM;
            }
            memcpy(v.ha1[alg], us->ha1[alg], AUTH_HEX_MAX);
            v.has[alg] = true;
        }
        if (sub_cache_put(a->cache, slice_from_str(us->name), SLICE_LIT(REALM), &v, now + 86400) !=
                0 ||
            auth_nonce_make(p->nonces, SLICE_LIT(REALM), now, us->nonce) == 0) {
            snprintf(err, err_cap, "cannot cache user %u or make its nonce", u);
            return ENOMEM;
        }
    }
    return 0;
}

int shimap_pipe_new(struct shimap_pipe **pp, unsigned users, char *err, size_t err_cap)
{
    struct route_cfg *first = NULL;
    int ret;

    *pp = NULL;
    if (users == 0 || users > 999999) {
        snprintf(err, err_cap, "users must be 1..999999, not %u", users);
        return EINVAL;
    }
    struct shimap_pipe *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(err, err_cap, "out of memory");
        return ENOMEM;
    }
    p->tx_fd = p->sink_fd = -1;
    if (!(p->config_text = make_config(err, err_cap))) {
        ret = EINVAL;
        goto fail;
    }
    /* route_runtime_start's two passes: parameters, module init, then compile with the states */
    if ((ret = load_config(&first, p->config_text, NULL, err, err_cap)) != 0)
        goto fail;
    const struct route_core *core = route_cfg_core(first);
    struct log_cfg lc = {.level = (int)core->debug, .to_stderr = true};
    log_setup(&lc);
    ret = init_modules(p, first, err, err_cap);
    route_cfg_free(first);
    if (ret != 0)
        goto fail;
    if ((ret = load_config(&p->cfg, p->config_text, p->states, err, err_cap)) != 0)
        goto fail;
    core = route_cfg_core(p->cfg);
    p->rx.stats = &p->stats;
    p->rx.limits.max_msg_len = 65535; /* as route_runtime_start sets them */
    p->rx.limits.max_headers = (unsigned)core->max_headers;
    p->rx.limits.max_header_len = (size_t)core->max_header_len;
    p->worker.index = 0;
    if ((ret = open_sockets(p, err, err_cap)) != 0 ||
        (ret = make_users(p, users, err, err_cap)) != 0)
        goto fail;
    for (unsigned i = 0; i < SHIMAP_BATCH; i++) {
        struct slot *s = &p->slots[i];
        if (!(s->arena_buf = aligned_alloc(16, SLOT_ARENA))) {
            snprintf(err, err_cap, "out of memory");
            ret = ENOMEM;
            goto fail;
        }
        arena_init(&s->pkt.arena, s->arena_buf, SLOT_ARENA, SLOT_ARENA_LIMIT);
        s->pkt.sock = &p->sock;
        s->pkt.src = p->sink;
    }
    *pp = p;
    return 0;
fail:
    shimap_pipe_free(p);
    return ret ? ret : EINVAL;
}

/* The modules' destroy hooks register and unregister their thread with RCU
 * themselves, as they do on the runtime's (unregistered) main thread; this
 * thread is never registered, whoever frees the pipe. */
static void *destroy_modules(void *arg)
{
    struct shimap_pipe *p = arg;
    for (size_t i = 0; p->states && i < p->module_n; i++)
        if (route_modules[i]->destroy && p->states[i])
            route_modules[i]->destroy(p->states[i]);
    return NULL;
}

void shimap_pipe_free(struct shimap_pipe *p)
{
    if (!p)
        return;
    for (unsigned i = 0; i < SHIMAP_BATCH; i++) {
        arena_free(&p->slots[i].pkt.arena);
        free(p->slots[i].arena_buf);
    }
    route_cfg_free(p->cfg);
    p->cfg = NULL;
    pthread_t t;
    if (pthread_create(&t, NULL, destroy_modules, p) == 0)
        pthread_join(t, NULL);
    free(p->states);
    auth_nonces_free(p->nonces);
    free(p->users);
    if (p->tx_fd >= 0)
        close(p->tx_fd);
    if (p->sink_fd >= 0)
        close(p->sink_fd);
    free(p->config_text);
    free(p);
}

static int build_message(struct shimap_pipe *p, struct slot *s, enum shimap_alg alg, bool qop,
                         unsigned users, const char **why)
{
    if (p->next_user >= users)
        p->next_user = 0;
    struct user *u = &p->users[p->next_user];
    char response[AUTH_HEX_MAX], nc[9], extra[64] = "";
    enum auth_alg a = alg == SHIMAP_SHA256 ? AUTH_ALG_SHA256 : AUTH_ALG_MD5;
    static const char cnonce[] = "0a4f113b";

    s->user = p->next_user;
    p->next_user = (p->next_user + 1) % users;
    s->cseq = ++p->cseq;
    if (qop) {
        snprintf(nc, sizeof(nc), "%08x", ++u->nc);
        snprintf(extra, sizeof(extra), ", cnonce=\"%s\", qop=auth, nc=%s", cnonce, nc);
    }
    if (auth_response(a, slice_from_str(u->ha1[a]), slice_from_str(u->nonce),
                      qop ? slice_make(nc, 8) : SLICE_NULL,
                      qop ? slice_make(cnonce, sizeof(cnonce) - 1) : SLICE_NULL,
                      qop ? SLICE_LIT("auth") : SLICE_NULL, SLICE_LIT("REGISTER"),
                      SLICE_LIT("sip:" REALM), response) != 0) {
        *why = "auth_response failed";
        return -1;
    }
    p->branch++;
    int n = snprintf(s->msg, sizeof(s->msg),
                     "REGISTER sip:" REALM " SIP/2.0\r\n"
                     "Via: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bK-%012llx\r\n"
                     "Max-Forwards: 70\r\n"
                     "Contact: <sip:%s@192.0.2.10:5060;transport=udp>;expires=3600\r\n"
                     "To: <sip:%s@" REALM ">\r\n"
                     "From: <sip:%s@" REALM ">;tag=7c2b4a91\r\n"
                     "Call-ID: %s\r\n"
                     "CSeq: %u REGISTER\r\n"
                     "Expires: 3600\r\n"
                     "Authorization: Digest username=\"%s\", realm=\"" REALM "\", "
                     "nonce=\"%s\", uri=\"sip:" REALM "\", response=\"%s\", algorithm=%s%s\r\n"
                     "Content-Length: 0\r\n"
                     "\r\n",
                     (unsigned long long)p->branch, u->name, u->name, u->name, u->callid,
                     (unsigned)s->cseq, u->name, u->nonce, response, auth_alg_name(a), extra);
    if (n < 0 || (size_t)n >= sizeof(s->msg)) {
        *why = "message too long for its slot";
        return -1;
    }
    s->len = (size_t)n;
    return 0;
}

int shimap_pipe_prepare(struct shimap_pipe *p, enum shimap_alg alg, bool qop, unsigned users,
                        bool parsed, const char **why)
{
    if (users == 0 || users > p->user_n) {
        *why = "more users asked for than the pipe has";
        return -1;
    }
    for (unsigned i = 0; i < SHIMAP_BATCH; i++) {
        if (build_message(p, &p->slots[i], alg, qop, users, why) != 0)
            return -1;
        if (parsed && shimap_pipe_parse(p, i, why) != 0)
            return -1;
    }
    return 0;
}

int shimap_pipe_parse(struct shimap_pipe *p, unsigned i, const char **why)
{
    struct slot *s = &p->slots[i];
    struct sip_pkt *pkt = &s->pkt;
    struct sip_error err;
    struct sip_verdict v;

    arena_reset(&pkt->arena);
    pkt->data = s->msg;
    pkt->len = s->len;
    int ret = sip_msg_parse(&pkt->msg, &pkt->arena, s->msg, s->len, &p->rx.limits, 0, &err);
    sip_sanity(&pkt->msg, ret, &err, &p->rx.sanity, &v);
    if (ret != 0) {
        *why = err.reason ? err.reason : "parse error";
        return -1;
    }
    if (v.action != SIP_ACCEPT) {
        *why = v.reason ? v.reason : "not accepted by the sanity checks";
        return -1;
    }
    return 0;
}

int shimap_pipe_run(struct shimap_pipe *p, unsigned i, const char **why)
{
    struct slot *s = &p->slots[i];
    struct sip_ctx ctx;

    /* as runtime.c's work(): one read section per message */
    urcu_memb_read_lock();
    sip_ctx_init(&ctx, &s->pkt, route_cfg_sip(p->cfg), &p->worker, &p->stats);
    int ret = route_run(p->cfg, &ctx);
    urcu_memb_read_unlock();
    if (s->pkt.arena.chunks)
        p->arena_spill++;
    if (ret == MOD_EXIT) {
        *why = "the route stopped (exit, drop or an action returning 0)";
        return -1;
    }
    if (!ctx.auth_user.len) {
        *why = "www_authorize did not authenticate the message";
        return -1;
    }
    if (!ctx.consume_auth) {
        *why = "consume_credentials did not run";
        return -1;
    }
    if (!ctx.replied || stat_get(&p->stats.reply_codes[200 - 100]) != ++p->expect_200) {
        *why = "no 200 OK went out";
        return -1;
    }
    p->routed++;
    p->last_user = s->user;
    p->last_cseq = s->cseq;
    return 0;
}

int shimap_pipe_parse_run(struct shimap_pipe *p, unsigned i, const char **why)
{
    if (shimap_pipe_parse(p, i, why) != 0)
        return -1;
    return shimap_pipe_run(p, i, why);
}

int shimap_pipe_send2(struct shimap_pipe *p)
{
    if (!p->reply_len) {
        /* the 200 OK has no body: it ends at the blank line */
        const char *o = p->worker.out;
        for (size_t i = 0; i + 4 <= sizeof(p->worker.out); i++) {
            if (memcmp(o + i, "\r\n\r\n", 4) == 0) {
                p->reply_len = i + 4;
                break;
            }
        }
        if (!p->reply_len || memcmp(o, "SIP/2.0 200", 11) != 0)
            return EINVAL;
    }
    const struct sockaddr *dst = (const struct sockaddr *)&p->sink.ss;
    int err = net_send(&p->sock, dst, p->sink.len, p->worker.out, p->reply_len);
    if (!err)
        err = net_send(&p->sock, dst, p->sink.len, p->worker.out, p->reply_len);
    return err;
}

static json_t *module_stats(struct shimap_pipe *p, const char *name)
{
    size_t i = module_index(name);
    if (i == (size_t)-1 || !route_modules[i]->stats || !p->states[i])
        return NULL;
    return route_modules[i]->stats(p->states[i]);
}

static uint64_t json_u64(json_t *obj, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(obj, key));
    return v > 0 ? (uint64_t)v : 0;
}

int shimap_pipe_counts(struct shimap_pipe *p, struct shimap_counts *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    json_t *au = module_stats(p, "auth"), *adb = module_stats(p, "auth_db");
    json_t *ul = module_stats(p, "usrloc");
    if (!au || !adb || !ul) {
        json_decref(au);
        json_decref(adb);
        json_decref(ul);
        *why = "the auth, auth_db or usrloc module has no stats";
        return -1;
    }
    out->authorized = json_u64(au, "authorized");
    out->failed = json_u64(au, "failed");
    out->stale = json_u64(au, "stale");
    out->challenges = json_u64(au, "challenges");
    out->cache_hits = json_u64(adb, "hits");
    out->cache_misses = json_u64(adb, "misses");
    out->aors = json_u64(ul, "aors");
    out->contacts = json_u64(ul, "contacts");
    json_decref(au);
    json_decref(adb);
    json_decref(ul);
    out->replies_100 = stat_get(&p->stats.reply_codes[100 - 100]);
    out->replies_200 = stat_get(&p->stats.reply_codes[200 - 100]);
    for (unsigned c = 1; c <= 6; c++)
        out->replies_other += stat_get(&p->stats.replies[c]);
    out->replies_other -= out->replies_100 + out->replies_200;
    out->send_errors = stat_get(&p->stats.send_errors);
    out->routed = p->routed;
    out->arena_spill = p->arena_spill;
    return 0;
}

struct show_call {
    const struct ctl_cmd *cmd;
    void *state;
    json_t *params, *result;
    struct ctl_error err;
};

/* ul.show registers its thread with RCU itself, as the control thread
 * expects: it runs here on a thread of its own, never registered. */
static void *run_show(void *arg)
{
    struct show_call *c = arg;
    c->result = c->cmd->fn(c->state, c->params, &c->err);
    return NULL;
}

int shimap_pipe_check_saved(struct shimap_pipe *p, const char **why)
{
    size_t i = module_index("usrloc");
    const struct ctl_cmd *cmd = NULL;
    for (const struct ctl_cmd *c = i == (size_t)-1 ? NULL : route_modules[i]->commands;
         c && c->name; c++)
        if (strcmp(c->name, "ul.show") == 0)
            cmd = c;
    if (!cmd || !p->routed) {
        *why = !cmd ? "usrloc has no ul.show command" : "nothing was routed yet";
        return -1;
    }
    struct show_call call = {.cmd = cmd, .state = p->states[i]};
    call.params = json_pack("{s:s}", "aor", p->users[p->last_user].name);
    pthread_t t;
    if (!call.params || pthread_create(&t, NULL, run_show, &call) != 0) {
        json_decref(call.params);
        *why = "cannot run ul.show";
        return -1;
    }
    pthread_join(t, NULL);
    json_decref(call.params);
    json_t *contacts = json_object_get(call.result, "contacts");
    json_t *first = json_array_get(contacts, 0);
    json_int_t cseq = json_integer_value(json_object_get(first, "cseq"));
    int ret = 0;
    if (json_array_size(contacts) != 1) {
        *why = "the last user's AOR does not hold exactly one contact";
        ret = -1;
    } else if (cseq != (json_int_t)p->last_cseq) {
        *why = "the stored binding does not carry the last REGISTER's CSeq";
        ret = -1;
    }
    json_decref(call.result);
    return ret;
}

size_t shimap_pipe_msg_len(const struct shimap_pipe *p, unsigned i)
{
    return p->slots[i % SHIMAP_BATCH].len;
}
