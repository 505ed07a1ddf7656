/* module.h: what a module exports: its options, its route actions, its control commands. */
#ifndef SIPD_SIP_MODULE_H
#define SIPD_SIP_MODULE_H

#include <stddef.h>
#include <stdint.h>

#include "core/ctl.h"
#include "core/slice.h"

/*
 * Modules (sl, maxfwd, tm, rr, registrar, auth...) describe themselves with
 * tables; src/route/ reads the tables to load the config and compile the
 * route pipeline, and the modules know nothing of src/route/. Adding an
 * action is adding a row.
 */

struct sip_ctx;

/* ---------------------------------------------------------------- options */

enum mod_opt_type { MOD_OPT_BOOL = 1, MOD_OPT_INT, MOD_OPT_STRING };

/* One option of "modules": {"<module>": {"<name>": value}}. The value is
 * stored at 'offset' in the module's parameter block: bool, long, or a
 * char * owned by the block (freed with it). */
struct mod_option {
    const char *name;
    enum mod_opt_type type;
    size_t offset;
    long min, max;       /* MOD_OPT_INT range */
    long def_int;        /* default of BOOL and INT */
    const char *def_str; /* default of STRING (may be NULL) */
    const char *help;
};

/* ---------------------------------------------------------------- actions */

#define MOD_MAX_ARGS 4

/* Return values of actions, SER's convention: >0 true, <0 false, 0 stops
 * the whole pipeline for this message (as SER's "exit"). */
enum { MOD_EXIT = 0, MOD_TRUE = 1, MOD_FALSE = -1 };

enum mod_arg_type {
    MOD_ARG_INT = 1, /* a JSON integer, or a string holding one ("10" as SER wrote it) */
    MOD_ARG_STRING,
};

/* A pre-parsed argument: compiled once at load, read on every message. */
struct mod_arg {
    long i;
    struct slice s; /* for strings: points into memory the compiled config owns */
    const void *p;  /* set by a fixup */
};

/* The module instance an action runs with: its persistent state (created
 * once at startup) and the parameter block of the config snapshot the
 * message runs under. */
struct mod_inst {
    void *state;
    const void *params;
};

typedef int mod_action_fn(struct sip_ctx *ctx, const struct mod_inst *mi,
                          const struct mod_arg *args);
/* Checks and converts arguments at load time; writes a message into err and
 * returns non-zero when they are wrong. */
typedef int mod_fixup_fn(struct mod_arg *args, unsigned n, const void *params, char *err,
                         size_t err_cap);

struct mod_action {
    const char *name;
    mod_action_fn *fn;
    uint8_t min_args, max_args;
    uint8_t arg_types[MOD_MAX_ARGS];
    mod_fixup_fn *fixup;
};

/* ---------------------------------------------------------------- modules */

/* What a module's init may ask of the process: the state of a module
 * initialised before it (modules start in route_modules order), and the
 * core settings it may need. */
struct mod_env {
    void *(*state_of)(const struct mod_env *env, const char *module);
    void *opaque;
    unsigned workers;       /* worker threads (children) */
    const char *db_url;     /* the core db_url (modules default to it) */
    unsigned server_id;     /* this node's id in a shared database */
};

struct module {
    const char *name;
    size_t params_size;                 /* 0 when it has no options */
    const struct mod_option *options;   /* ends with a NULL name; may be NULL */
    const struct mod_action *actions;   /* ends with a NULL name; may be NULL */
    const struct ctl_cmd *commands;     /* ends with a NULL name; may be NULL */
    /* Creates the persistent state from the first config's parameters; may be NULL.
     * Runs on the main thread before any worker starts. */
    int (*init)(void **state, const void *params, const struct mod_env *env, char *err,
                size_t err_cap);
    /* After every module's init, once the workers run (threads may be started here). */
    int (*start)(void *state, char *err, size_t err_cap);
    /* Checks a reloaded parameter block against the running one (options that
     * need a restart); may be NULL. */
    int (*check_reload)(const void *old_params, const void *new_params, char *err,
                        size_t err_cap);
    /* Flushes and frees the state at shutdown; may be NULL. */
    void (*destroy)(void *state);
    /* Counters for core.stats (a new JSON object), under the module's name; may be NULL.
     * Runs on the control thread. */
    json_t *(*stats)(void *state);
};

#endif
