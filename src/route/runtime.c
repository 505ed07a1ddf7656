/* runtime.c: the process: config, logging, modules, network, control server, signals, reload. */
#include "route/route_int.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <urcu/urcu-memb.h>

#include "core/ctl.h"
#include "core/log.h"
#include "core/tsan.h"

#ifndef SIPD_VERSION
#define SIPD_VERSION "0.1.0"
#endif

/*
 * Threads and what they touch:
 * - main: starts everything, then waits in sigwait() for SIGTERM/SIGINT
 *   (stop) and SIGHUP (reload); it is the only thread that takes signals.
 * - receivers (net): parse and judge datagrams; they read only settings
 *   fixed at start (struct sip_rx), never the config, so they need no RCU.
 * - workers (net): run the pipeline of the config snapshot they dereference
 *   under an RCU read section, one section per message.
 * - control (core/ctl): JSON-RPC commands; core.reload builds the new
 *   config beside the old, swaps the pointer and waits for a grace period
 *   before freeing the old one. Reloads are serialised by reload_lock
 *   (the control thread and the signal loop may both ask).
 */
struct route_runtime {
    struct route_cfg *_Atomic cfg; /* RCU-protected */
    char *path;
    void **states;
    struct net_runtime *net;
    struct ctl_server *ctl;
    struct sip_rx rx;
    struct sip_stats stats;
    struct sip_worker *workers; /* one per worker thread, indexed by its number */
    pthread_mutex_t reload_lock;
    time_t started;
    stat_counter reloads;
    stat_counter reload_failures;
    bool daemonized;
    char *pid_file;
};

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* ---------------------------------------------------------------- workers */

static void thread_start(void *arg, unsigned index, bool is_worker)
{
    (void)arg;
    (void)index;
    if (!is_worker)
        return;
    urcu_memb_register_thread();
}

static void thread_stop(void *arg, unsigned index, bool is_worker)
{
    (void)arg;
    (void)index;
    if (!is_worker)
        return;
    urcu_memb_unregister_thread();
}

/* Receivers: the message layer judges and dispatches. */
static void receive(void *arg, const struct net_dgram *d)
{
    struct route_runtime *rt = arg;
    sip_rx_datagram(&rt->rx, d);
}

static void work(void *arg, struct net_worker *w, struct net_item *item)
{
    struct route_runtime *rt = arg;
    struct sip_pkt *pkt = container_of(item, struct sip_pkt, item);
    struct sip_worker *sw = &rt->workers[net_worker_index(w)];
    struct sip_ctx ctx;

    if (!pkt->msg.is_request) {
        /* responses belong to transactions, which arrive with tm */
        stat_inc(&rt->stats.unmatched_responses);
        sip_pkt_free(pkt);
        return;
    }
    urcu_memb_read_lock();
    struct route_cfg *cfg = rcu_dereference(rt->cfg);
    TSAN_ACQUIRE(cfg); /* published by rcu_xchg_pointer in reload */
    sip_ctx_init(&ctx, pkt, route_cfg_sip(cfg), sw, &rt->stats);
    route_run(cfg, &ctx);
    urcu_memb_read_unlock();
    sip_pkt_free(pkt);
}

/* ---------------------------------------------------------------- control commands */

static json_t *cmd_version(void *arg, json_t *params, struct ctl_error *err)
{
    (void)arg;
    (void)params;
    (void)err;
    return json_pack("{s:s, s:s}", "name", "sipd", "version", SIPD_VERSION);
}

static json_t *cmd_uptime(void *arg, json_t *params, struct ctl_error *err)
{
    struct route_runtime *rt = arg;
    (void)params;
    (void)err;
    time_t now = time(NULL);
    return json_pack("{s:I, s:I}", "started", (json_int_t)rt->started, "uptime",
                     (json_int_t)(now - rt->started));
}

static json_t *cmd_stats(void *arg, json_t *params, struct ctl_error *err)
{
    struct route_runtime *rt = arg;
    struct sip_stats *st = &rt->stats;
    (void)params;
    (void)err;

    json_t *reasons = json_object();
    for (unsigned i = 0; i < SIP_STATS_REASONS; i++) {
        const char *r = atomic_load_explicit(&st->reason[i], memory_order_acquire);
        if (r)
            json_object_set_new(reasons, r, json_integer((json_int_t)stat_get(&st->reason_count[i])));
    }
    json_t *replies = json_object();
    for (unsigned c = 1; c <= 6; c++) {
        char k[4] = {(char)('0' + c), 'x', 'x', 0};
        json_object_set_new(replies, k, json_integer((json_int_t)stat_get(&st->replies[c])));
    }
    json_t *codes = json_object();
    for (unsigned c = 0; c < 600; c++) {
        uint64_t n = stat_get(&st->reply_codes[c]);
        if (n) {
            char k[8];
            snprintf(k, sizeof(k), "%u", c + 100);
            json_object_set_new(codes, k, json_integer((json_int_t)n));
        }
    }
    json_t *queues = json_array();
    uint64_t send_errors = stat_get(&st->send_errors);
    unsigned nw = rt->net ? net_worker_count(rt->net) : 0;
    for (unsigned i = 0; i < nw; i++) {
        const struct net_worker_stats *ws = net_worker_stats(rt->net, i);
        json_array_append_new(
            queues, json_pack("{s:I, s:I, s:I, s:I, s:I}", "depth",
                              (json_int_t)stat_get(&ws->depth), "processed",
                              (json_int_t)stat_get(&ws->processed), "overload",
                              (json_int_t)stat_get(&ws->overload), "sent",
                              (json_int_t)stat_get(&ws->sent), "send_calls",
                              (json_int_t)stat_get(&ws->send_calls)));
        send_errors += stat_get(&ws->send_errors);
    }
    uint64_t datagrams = 0, rx_errors = 0;
    unsigned nr = rt->net ? net_receiver_count(rt->net) : 0;
    for (unsigned i = 0; i < nr; i++) {
        const struct net_rx_stats *rs = net_rx_stats(rt->net, i);
        datagrams += stat_get(&rs->datagrams);
        rx_errors += stat_get(&rs->errors);
    }
    json_t *result = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:I, s:o, s:o, s:o, s:I, s:I, s:I}", "datagrams",
        (json_int_t)datagrams, "receive_errors", (json_int_t)rx_errors, "requests",
        (json_int_t)stat_get(&st->requests), "responses", (json_int_t)stat_get(&st->responses),
        "parse_errors", (json_int_t)stat_get(&st->parse_errors), "parse_errors_by_reason", reasons,
        "dropped", (json_int_t)stat_get(&st->dropped), "overload",
        (json_int_t)stat_get(&st->overload), "send_errors", (json_int_t)send_errors,
        "replies", replies, "reply_codes", codes, "queues", queues, "unmatched_responses",
        (json_int_t)stat_get(&st->unmatched_responses), "reloads",
        (json_int_t)stat_get(&rt->reloads), "reload_failures",
        (json_int_t)stat_get(&rt->reload_failures));
    for (size_t i = 0; result && route_modules[i]; i++) {
        if (route_modules[i]->stats && rt->states[i]) {
            json_t *m = route_modules[i]->stats(rt->states[i]);
            if (m)
                json_object_set_new(result, route_modules[i]->name, m);
        }
    }
    return result;
}

static json_t *cmd_reload(void *arg, json_t *params, struct ctl_error *err)
{
    struct route_runtime *rt = arg;
    char why[1024];
    (void)params;
    if (route_runtime_reload(rt, why, sizeof(why)) != 0) {
        err->code = -32000;
        snprintf(err->message, sizeof(err->message), "%.*s", (int)sizeof(err->message) - 1, why);
        return NULL;
    }
    return json_pack("{s:s}", "status", "reloaded");
}

static json_t *cmd_shutdown(void *arg, json_t *params, struct ctl_error *err)
{
    (void)arg;
    (void)params;
    (void)err;
    kill(getpid(), SIGTERM); /* the main thread's sigwait loop stops everything */
    return json_pack("{s:s}", "status", "stopping");
}

static const struct ctl_cmd core_commands[] = {
    {"core.version", cmd_version, "name and version"},
    {"core.uptime", cmd_uptime, "start time and seconds running"},
    {"core.stats", cmd_stats, "message, reply, error and queue counters"},
    {"core.reload", cmd_reload, "reload the config file; the old one stays on error"},
    {"core.shutdown", cmd_shutdown, "stop gracefully"},
    {NULL, NULL, NULL},
};

/* ---------------------------------------------------------------- start, reload, stop */

static void setup_logging(const struct route_core *core, bool first)
{
    struct log_cfg lc = {
        .level = (int)core->debug,
        .to_stderr = core->log_stderror,
        .format = core->log_json ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT,
        .ident = "sipd",
    };
    (void)first;
    log_setup(&lc);
}

static int daemonize(struct route_runtime *rt, const struct route_core *core)
{
    pid_t pid = fork();
    if (pid < 0)
        return errno;
    if (pid > 0)
        _exit(0);
    setsid();
    pid = fork();
    if (pid < 0)
        return errno;
    if (pid > 0)
        _exit(0);
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        if (!core->log_stderror)
            dup2(fd, 2);
        if (fd > 2)
            close(fd);
    }
    rt->daemonized = true;
    return 0;
}

static int write_pid_file(struct route_runtime *rt, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return errno;
    fprintf(f, "%ld\n", (long)getpid());
    fclose(f);
    rt->pid_file = strdup(path);
    return 0;
}

static void *state_of(const struct mod_env *env, const char *module)
{
    struct route_runtime *rt = env->opaque;
    for (size_t i = 0; route_modules[i]; i++)
        if (strcmp(route_modules[i]->name, module) == 0)
            return rt->states[i];
    return NULL;
}

static int init_modules(struct route_runtime *rt, struct route_cfg *cfg)
{
    size_t n = route_module_count();
    const struct route_core *core = route_cfg_core(cfg);
    struct mod_env env = {
        .state_of = state_of,
        .opaque = rt,
        .workers = (unsigned)core->children,
        .db_url = core->db_url,
        .server_id = (unsigned)core->server_id,
    };
    rt->states = calloc(n ? n : 1, sizeof(void *));
    if (!rt->states)
        return ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const struct module *m = route_modules[i];
        char err[512] = "";
        if (m->init && m->init(&rt->states[i], route_cfg_params(cfg, i), &env, err, sizeof(err)) != 0) {
            log_err("module %s: %s", m->name, err);
            fprintf(stderr, "sipd: module %s: %s\n", m->name, err);
            return EINVAL;
        }
    }
    return 0;
}

static int register_module_commands(struct route_runtime *rt, const char **why)
{
    for (size_t i = 0; route_modules[i]; i++) {
        const struct ctl_cmd *cmds = route_modules[i]->commands;
        size_t n = 0;
        while (cmds && cmds[n].name)
            n++;
        if (n && ctl_server_register(rt->ctl, cmds, n, rt->states[i]) != 0) {
            *why = route_modules[i]->name;
            return EINVAL;
        }
    }
    return 0;
}

static int start_modules(struct route_runtime *rt)
{
    for (size_t i = 0; route_modules[i]; i++) {
        const struct module *m = route_modules[i];
        char err[512] = "";
        if (m->start && m->start(rt->states[i], err, sizeof(err)) != 0) {
            log_err("module %s: %s", m->name, err);
            fprintf(stderr, "sipd: module %s: %s\n", m->name, err);
            return EINVAL;
        }
    }
    return 0;
}

int route_runtime_start(struct route_runtime **rtp, const struct route_opts *opts)
{
    char err[1024];
    struct route_cfg *cfg = NULL;
    int ret;

    *rtp = NULL;
    struct route_runtime *rt = calloc(1, sizeof(*rt));
    if (!rt)
        return ENOMEM;
    pthread_mutex_init(&rt->reload_lock, NULL);
    rt->started = time(NULL);
    rt->path = strdup(opts->config_path);
    if (!rt->path) {
        free(rt);
        return ENOMEM;
    }
    /* first pass: validate and read the parameters the modules start with */
    if ((ret = route_cfg_load(&cfg, rt->path, NULL, err, sizeof(err))) != 0) {
        fprintf(stderr, "%s\n", err);
        goto fail;
    }
    const struct route_core *core = route_cfg_core(cfg);
    setup_logging(core, true);
    if (core->fork && !opts->foreground_override) {
        if ((ret = daemonize(rt, core)) != 0) {
            fprintf(stderr, "sipd: fork: %s\n", strerror(ret));
            goto fail;
        }
    }
    if (core->pid_file && (ret = write_pid_file(rt, core->pid_file)) != 0) {
        log_err("pid_file %s: %s", core->pid_file, strerror(ret));
        fprintf(stderr, "sipd: pid_file %s: %s\n", core->pid_file, strerror(ret));
        goto fail;
    }
    if ((ret = init_modules(rt, cfg)) != 0)
        goto fail;
    route_cfg_free(cfg);
    cfg = NULL;
    /* second pass: compile with the module states bound into the nodes */
    if ((ret = route_cfg_load(&cfg, rt->path, rt->states, err, sizeof(err))) != 0) {
        fprintf(stderr, "%s\n", err);
        goto fail;
    }
    core = route_cfg_core(cfg);
    rt->cfg = cfg;

    /* Packets are malloc'd on receivers and freed on workers; glibc's
     * default trimming hands that memory back to the kernel and faults it in
     * again, one page fault per message (measured: about 20% of the CPU of a
     * stateless reply). Keep freed memory; per-receiver pools come later. */
    mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
    mallopt(M_MMAP_THRESHOLD, 1024 * 1024);

    /* signals: only the main thread takes them (sigwait); threads inherit the mask */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    rt->workers = calloc((size_t)core->children, sizeof(*rt->workers));
    if (!rt->workers) {
        ret = ENOMEM;
        goto fail;
    }
    for (long i = 0; i < core->children; i++)
        rt->workers[i].index = (unsigned)i;
    rt->rx.stats = &rt->stats;
    rt->rx.limits.max_msg_len = 65535;
    rt->rx.limits.max_headers = (unsigned)core->max_headers;
    rt->rx.limits.max_header_len = (size_t)core->max_header_len;
    struct net_cfg ncfg = {
        .listens = core->listens,
        .listen_n = core->listen_n,
        .receivers = (unsigned)core->receivers,
        .workers = (unsigned)core->children,
        .queue_bound = (unsigned)core->queue_bound,
        .batch = 32,
        .max_dgram = 65535,
        .rx = receive,
        .work = work,
        .thread_start = thread_start,
        .thread_stop = thread_stop,
        .arg = NULL,
    };
    ncfg.arg = rt;
    if ((ret = net_start(&rt->net, &ncfg, err, sizeof(err))) != 0) {
        log_err("%s", err);
        fprintf(stderr, "sipd: %s\n", err);
        goto fail;
    }

    if (core->ctl_socket || core->fifo) {
        const char *why = "";
        if ((ret = ctl_server_create(&rt->ctl, core->ctl_socket, core->fifo, &why)) != 0 ||
            (ret = ctl_server_register(rt->ctl, core_commands, 5, rt)) != 0 ||
            (ret = register_module_commands(rt, &why)) != 0 ||
            (ret = ctl_server_start(rt->ctl)) != 0) {
            log_err("control socket: %s: %s", why, strerror(ret));
            fprintf(stderr, "sipd: control socket: %s: %s\n", why, strerror(ret));
            goto fail;
        }
    }
    if ((ret = start_modules(rt)) != 0)
        goto fail;
    char where[128] = "";
    size_t used = 0;
    for (size_t i = 0; i < core->listen_n && used < sizeof(where) - 1; i++) {
        char a[64];
        net_addr_format((struct sockaddr *)&core->listens[i].addr.ss, a, sizeof(a));
        used += (size_t)snprintf(where + used, sizeof(where) - used, "%s%s", i ? " " : "", a);
    }
    log_notice("sipd %s started: listening on %s, %ld receivers per address, %ld workers",
               SIPD_VERSION, where, core->receivers, core->children);
    *rtp = rt;
    return 0;
fail:
    if (cfg != rt->cfg)
        route_cfg_free(cfg); /* not yet handed to rt, which frees its own */
    route_runtime_stop(rt);
    return ret ? ret : EINVAL;
}

/* Settings the running process cannot change without a restart. */
static int check_reload(const struct route_cfg *old, const struct route_cfg *new, char *err,
                        size_t cap)
{
    const struct route_core *a = route_cfg_core(old), *b = route_cfg_core(new);
    bool same_listen = a->listen_n == b->listen_n;

    for (size_t i = 0; same_listen && i < a->listen_n; i++)
        same_listen = a->listens[i].proto == b->listens[i].proto &&
                      net_addr_eq((struct sockaddr *)&a->listens[i].addr.ss,
                                  (struct sockaddr *)&b->listens[i].addr.ss);
    const char *what = NULL;
    if (!same_listen)
        what = "listen";
    else if (a->children != b->children)
        what = "children";
    else if (a->receivers != b->receivers)
        what = "receivers";
    else if (a->queue_bound != b->queue_bound)
        what = "queue_bound";
    else if (a->fork != b->fork)
        what = "fork";
    else if ((a->ctl_socket == NULL) != (b->ctl_socket == NULL) ||
             (a->ctl_socket && strcmp(a->ctl_socket, b->ctl_socket) != 0))
        what = "ctl_socket";
    else if ((a->fifo == NULL) != (b->fifo == NULL) || (a->fifo && strcmp(a->fifo, b->fifo) != 0))
        what = "fifo";
    if (what) {
        snprintf(err, cap, "%s: %s: changing it needs a restart; the running config is kept",
                 old->path, what);
        return EINVAL;
    }
    for (size_t i = 0; route_modules[i]; i++) {
        const struct module *m = route_modules[i];
        char why[512] = "";
        if (m->check_reload &&
            m->check_reload(route_cfg_params(old, i), route_cfg_params(new, i), why, sizeof(why)) != 0) {
            snprintf(err, cap, "%s: modules.%s: %s", old->path, m->name, why);
            return EINVAL;
        }
    }
    return 0;
}

int route_runtime_reload(struct route_runtime *rt, char *err, size_t err_cap)
{
    struct route_cfg *cfg = NULL;
    int ret;

    pthread_mutex_lock(&rt->reload_lock);
    ret = route_cfg_load(&cfg, rt->path, rt->states, err, err_cap);
    if (ret == 0)
        ret = check_reload(rt->cfg, cfg, err, err_cap);
    if (ret) {
        route_cfg_free(cfg);
        stat_inc(&rt->reload_failures);
        log_err("reload failed: %s", err);
        pthread_mutex_unlock(&rt->reload_lock);
        return ret;
    }
    setup_logging(route_cfg_core(cfg), false);
    TSAN_RELEASE(cfg);
    struct route_cfg *old = rcu_xchg_pointer(&rt->cfg, cfg);
    /* messages that started on the old pipeline finish on it */
    urcu_memb_synchronize_rcu();
    route_cfg_free(old);
    stat_inc(&rt->reloads);
    log_notice("config %s reloaded", rt->path);
    pthread_mutex_unlock(&rt->reload_lock);
    return 0;
}

void route_runtime_wait(struct route_runtime *rt)
{
    sigset_t set;
    int sig;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    for (;;) {
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            char err[1024];
            route_runtime_reload(rt, err, sizeof(err));
            continue;
        }
        log_notice("signal %d: stopping", sig);
        return;
    }
}

void route_runtime_stop(struct route_runtime *rt)
{
    if (!rt)
        return;
    if (rt->ctl)
        ctl_server_destroy(rt->ctl);
    rt->ctl = NULL;
    if (rt->net)
        net_stop(rt->net); /* receivers stop, workers drain their queues */
    rt->net = NULL;
    free(rt->workers);
    for (size_t i = 0; rt->states && route_modules[i]; i++)
        if (route_modules[i]->destroy && rt->states[i])
            route_modules[i]->destroy(rt->states[i]);
    free(rt->states);
    route_cfg_free(rt->cfg);
    if (rt->pid_file) {
        unlink(rt->pid_file);
        free(rt->pid_file);
    }
    pthread_mutex_destroy(&rt->reload_lock);
    free(rt->path);
    free(rt);
}
