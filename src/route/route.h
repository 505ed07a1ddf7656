/* route.h: config.json, the compiled route pipeline, and the process runtime around them. */
#ifndef SIPD_ROUTE_H
#define SIPD_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "net/net.h"
#include "sip/module.h"
#include "sip/proc.h"

/* ---------------------------------------------------------------- config */

/* Core settings, named as in ser.cfg. */
struct route_core {
    struct net_listen *listens;
    size_t listen_n;
    long port;
    long children;
    long receivers;
    long debug;
    bool log_stderror;
    bool log_json;
    bool fork;
    char *pid_file;
    bool dns;
    bool rev_dns;
    char *fifo;
    char *fifo_db_url;
    char *ctl_socket;
    long max_len;
    char *db_url;
    long queue_bound;
    long max_headers;
    long max_header_len;
    long server_id;
    struct slice *alias_hosts; /* copies owned by the config */
    uint16_t *alias_ports;
    size_t alias_n;
};

struct route_cfg; /* one loaded config: settings, module parameters, compiled routes */

/* cfgutils: sleep(s), usleep(us). */
extern const struct module route_cfgutils_module;

/* The modules sipd is built with, NULL-terminated. */
extern const struct module *const route_modules[];
size_t route_module_count(void);

/*
 * Loads and compiles 'path'. states[] holds each module's persistent state
 * (index as in route_modules; NULL for --check). On failure returns EINVAL
 * (or ENOMEM / an errno of reading) and writes "file: json.path: what is
 * wrong" into err.
 */
int route_cfg_load(struct route_cfg **cfgp, const char *path, void *const *states, char *err,
                   size_t err_cap);
void route_cfg_free(struct route_cfg *cfg);
const struct route_core *route_cfg_core(const struct route_cfg *cfg);
const struct sip_core_cfg *route_cfg_sip(const struct route_cfg *cfg);
/* The parameter block of module i (NULL when the module has no options). */
const void *route_cfg_params(const struct route_cfg *cfg, size_t module_index);

/* Runs the "main" route on a request. Returns MOD_EXIT when the pipeline
 * stopped by exit/drop or an action returning 0, MOD_TRUE otherwise. */
int route_run(const struct route_cfg *cfg, struct sip_ctx *ctx);

/* ---------------------------------------------------------------- runtime */

struct route_runtime;

struct route_opts {
    const char *config_path;
    bool foreground_override; /* -F / -E style: never daemonize */
};

/*
 * Loads the config, sets up logging, initialises the modules, starts the
 * network runtime and the control server. From the main thread. 0 or an
 * errno value (the reason was logged / written to stderr).
 */
int route_runtime_start(struct route_runtime **rtp, const struct route_opts *opts);
/* Waits for SIGTERM / SIGINT (stop) and SIGHUP (reload) and handles them;
 * returns when asked to stop. The main thread must call it. */
void route_runtime_wait(struct route_runtime *rt);
/* Stops receiving, drains the queues, runs the modules' shutdown hooks, frees. */
void route_runtime_stop(struct route_runtime *rt);

/* Reloads the config file: validates, then swaps it under RCU. 0, or an
 * error with the reason in err (the old config keeps running). Thread-safe
 * against workers; callers are serialised (control thread, signal loop). */
int route_runtime_reload(struct route_runtime *rt, char *err, size_t err_cap);

#endif
