/* config.c: loads config.json with jansson and compiles its routes into a node tree. */
#include "route/route_int.h"

#include <errno.h>
#include <ifaddrs.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/*
 * Every error names the file, the JSON path and the fault, and stops the
 * load: "config.json: routes.invite[2]: unknown action "proxy_authorise"
 * (did you mean "proxy_authorize"?)". The path is built in a buffer as the
 * walk descends; each level restores it when it returns.
 */

#define CFG_ARENA_LIMIT (64u * 1024u * 1024u)

struct loader {
    struct route_cfg *cfg;
    void *const *states;
    const char *file; /* as given, for messages */
    char path[512];
    size_t path_len;
    char *err;
    size_t err_cap;
    json_t *routes_json;
};

/* ---------------------------------------------------------------- paths and errors */

static size_t path_push_key(struct loader *ld, const char *key)
{
    size_t saved = ld->path_len;
    int n = snprintf(ld->path + saved, sizeof(ld->path) - saved, "%s%s", saved ? "." : "", key);
    if (n > 0)
        ld->path_len = saved + (size_t)n < sizeof(ld->path) ? saved + (size_t)n : sizeof(ld->path) - 1;
    return saved;
}

static size_t path_push_index(struct loader *ld, size_t i)
{
    size_t saved = ld->path_len;
    int n = snprintf(ld->path + saved, sizeof(ld->path) - saved, "[%zu]", i);
    if (n > 0)
        ld->path_len = saved + (size_t)n < sizeof(ld->path) ? saved + (size_t)n : sizeof(ld->path) - 1;
    return saved;
}

static void path_pop(struct loader *ld, size_t saved)
{
    ld->path_len = saved;
    ld->path[saved] = '\0';
}

__attribute__((format(printf, 2, 3))) static int cfg_error(struct loader *ld, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(ld->err, ld->err_cap, "%s: %s: ", ld->file, ld->path_len ? ld->path : "(top)");
    if (n < 0 || (size_t)n >= ld->err_cap)
        return EINVAL;
    va_start(ap, fmt);
    vsnprintf(ld->err + n, ld->err_cap - (size_t)n, fmt, ap);
    va_end(ap);
    return EINVAL;
}

static const char *json_type_name(const json_t *j)
{
    if (!j)
        return "nothing";
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number with a fraction";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "a value";
}

/* Levenshtein distance, bounded to short names. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[64];

    if (la >= 63 || lb >= 63)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t cost = ascii_lower(a[i - 1]) == ascii_lower(b[j - 1]) ? 0 : 1;
            size_t best = prev + cost;
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            prev = cur;
        }
    }
    return row[lb];
}

struct suggest {
    const char *best;
    size_t dist;
    const char *word;
};

static void suggest_init(struct suggest *s, const char *word)
{
    s->best = NULL;
    s->dist = (size_t)-1;
    s->word = word;
}

static void suggest_try(struct suggest *s, const char *candidate)
{
    size_t d = edit_distance(s->word, candidate);
    size_t limit = strlen(candidate) / 3 + 1;
    if (d <= limit && d < s->dist) {
        s->dist = d;
        s->best = candidate;
    }
}

/* " (did you mean "x"?)" or "" */
static const char *suggest_text(const struct suggest *s, char *buf, size_t cap)
{
    if (!s->best)
        return "";
    snprintf(buf, cap, " (did you mean \"%s\"?)", s->best);
    return buf;
}

static char *cfg_strdup(struct loader *ld, const char *s, size_t len)
{
    char *p = arena_alloc(&ld->cfg->arena, len + 1);
    if (!p)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

/* ---------------------------------------------------------------- option tables */

/* Reads one option value into block + opt->offset. */
static int set_option(struct loader *ld, const struct mod_option *opt, void *block, json_t *v)
{
    char *dst = (char *)block + opt->offset;

    switch (opt->type) {
    case MOD_OPT_BOOL:
        /* SER wrote yes/no and 1/0: accept JSON booleans and 0/1 */
        if (json_is_boolean(v)) {
            *(bool *)dst = json_is_true(v);
        } else if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1)) {
            *(bool *)dst = json_integer_value(v) == 1;
        } else {
            return cfg_error(ld, "expected true or false, got %s", json_type_name(v));
        }
        return 0;
    case MOD_OPT_INT: {
        if (!json_is_integer(v))
            return cfg_error(ld, "expected an integer, got %s", json_type_name(v));
        json_int_t i = json_integer_value(v);
        if (i < opt->min || i > opt->max)
            return cfg_error(ld, "%lld is out of range (%ld to %ld)", (long long)i, opt->min,
                             opt->max);
        *(long *)dst = (long)i;
        return 0;
    }
    case MOD_OPT_STRING: {
        if (!json_is_string(v))
            return cfg_error(ld, "expected a string, got %s", json_type_name(v));
        char *s = cfg_strdup(ld, json_string_value(v), json_string_length(v));
        if (!s)
            return ENOMEM;
        *(char **)dst = s;
        return 0;
    }
    }
    return cfg_error(ld, "internal error: option type");
}

static void set_defaults(const struct mod_option *opts, void *block)
{
    for (const struct mod_option *o = opts; o && o->name; o++) {
        char *dst = (char *)block + o->offset;
        switch (o->type) {
        case MOD_OPT_BOOL: *(bool *)dst = o->def_int != 0; break;
        case MOD_OPT_INT: *(long *)dst = o->def_int; break;
        case MOD_OPT_STRING: *(const char **)dst = o->def_str; break;
        }
    }
}

static const struct mod_option *find_option(const struct mod_option *opts, const char *name)
{
    for (const struct mod_option *o = opts; o && o->name; o++)
        if (strcmp(o->name, name) == 0)
            return o;
    return NULL;
}

static int unknown_key(struct loader *ld, const char *key, const struct mod_option *opts,
                       const char *const *extra, const char *what)
{
    struct suggest s;
    char buf[96];

    suggest_init(&s, key);
    for (const struct mod_option *o = opts; o && o->name; o++)
        suggest_try(&s, o->name);
    for (const char *const *e = extra; e && *e; e++)
        suggest_try(&s, *e);
    return cfg_error(ld, "unknown %s \"%s\"%s", what, key, suggest_text(&s, buf, sizeof(buf)));
}

/* ---------------------------------------------------------------- core settings */

#define CORE_OPT(n, t, f, mn, mx, d, ds, h)                                                        \
    {n, t, offsetof(struct route_core, f), mn, mx, d, ds, h}

static const struct mod_option core_options[] = {
    CORE_OPT("port", MOD_OPT_INT, port, 1, 65535, 5060, NULL, "default port of listen entries"),
    CORE_OPT("children", MOD_OPT_INT, children, 1, 256, 4, NULL, "worker threads"),
    CORE_OPT("receivers", MOD_OPT_INT, receivers, 1, 64, 1, NULL, "receiver threads per UDP listen"),
    CORE_OPT("debug", MOD_OPT_INT, debug, -3, 4, 3, NULL, "log level, SER's -3..4"),
    CORE_OPT("log_stderror", MOD_OPT_BOOL, log_stderror, 0, 1, 0, NULL, "log to stderr, not syslog"),
    CORE_OPT("log_json", MOD_OPT_BOOL, log_json, 0, 1, 0, NULL, "one JSON object per log line"),
    CORE_OPT("fork", MOD_OPT_BOOL, fork, 0, 1, 1, NULL, "daemonize"),
    CORE_OPT("pid_file", MOD_OPT_STRING, pid_file, 0, 0, 0, NULL, "pid file when forking"),
    CORE_OPT("dns", MOD_OPT_BOOL, dns, 0, 1, 0, NULL, "SER's dns (sipd never resolves; must be false)"),
    CORE_OPT("rev_dns", MOD_OPT_BOOL, rev_dns, 0, 1, 0, NULL, "SER's rev_dns (must be false)"),
    CORE_OPT("fifo", MOD_OPT_STRING, fifo, 0, 0, 0, NULL, "JSON-RPC FIFO path"),
    CORE_OPT("fifo_db_url", MOD_OPT_STRING, fifo_db_url, 0, 0, 0, NULL, "SER's FIFO database (accepted, unused)"),
    CORE_OPT("ctl_socket", MOD_OPT_STRING, ctl_socket, 0, 0, 0, "/tmp/sipd_ctl", "JSON-RPC unix socket path"),
    CORE_OPT("max_len", MOD_OPT_INT, max_len, 1, 65535, 65535, NULL, "the value of msg:len > max_len"),
    CORE_OPT("db_url", MOD_OPT_STRING, db_url, 0, 0, 0, NULL, "default database of every module"),
    CORE_OPT("queue_bound", MOD_OPT_INT, queue_bound, 16, 1048576, 4096, NULL, "messages a worker queue holds before 503"),
    CORE_OPT("max_headers", MOD_OPT_INT, max_headers, 16, 4096, 256, NULL, "header lines per message"),
    CORE_OPT("max_header_len", MOD_OPT_INT, max_header_len, 256, 65535, 8192, NULL, "bytes per header line"),
    CORE_OPT("server_id", MOD_OPT_INT, server_id, 0, 2147483647, 0, NULL, "this node's id in a shared database (Kamailio's server_id)"),
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};

static const char *const core_extra_keys[] = {"listen", "aliases", "modules", "routes", NULL};

static int load_listen(struct loader *ld, json_t *v, long port)
{
    struct route_core *core = &ld->cfg->core;
    size_t n = json_is_array(v) ? json_array_size(v) : 1;

    if (!json_is_array(v) && !json_is_string(v))
        return cfg_error(ld, "expected an address or a list of addresses, got %s",
                         json_type_name(v));
    if (n == 0)
        return cfg_error(ld, "the list of listen addresses is empty");
    core->listens = arena_alloc(&ld->cfg->arena, n * sizeof(*core->listens));
    if (!core->listens)
        return ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
        size_t saved = json_is_array(v) ? path_push_index(ld, i) : ld->path_len;
        char why[128];
        if (!json_is_string(e))
            return cfg_error(ld, "expected an address, got %s", json_type_name(e));
        if (net_listen_parse(json_string_value(e), (uint16_t)port, &core->listens[i], why,
                             sizeof(why)) != 0)
            return cfg_error(ld, "\"%s\": %s", json_string_value(e), why);
        for (size_t j = 0; j < i; j++) {
            if (core->listens[j].proto == core->listens[i].proto &&
                net_addr_eq((struct sockaddr *)&core->listens[j].addr.ss,
                            (struct sockaddr *)&core->listens[i].addr.ss))
                return cfg_error(ld, "\"%s\" is listed twice", json_string_value(e));
        }
        path_pop(ld, saved);
    }
    core->listen_n = n;
    return 0;
}

static int load_aliases(struct loader *ld, json_t *v)
{
    struct route_core *core = &ld->cfg->core;
    size_t n;

    if (json_is_string(v))
        n = 1;
    else if (json_is_array(v))
        n = json_array_size(v);
    else
        return cfg_error(ld, "expected a host name or a list of them, got %s", json_type_name(v));
    core->alias_hosts = arena_alloc(&ld->cfg->arena, (n ? n : 1) * sizeof(struct slice));
    core->alias_ports = arena_alloc(&ld->cfg->arena, (n ? n : 1) * sizeof(uint16_t));
    if (!core->alias_hosts || !core->alias_ports)
        return ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
        size_t saved = json_is_array(v) ? path_push_index(ld, i) : ld->path_len;
        if (!json_is_string(e) || json_string_length(e) == 0)
            return cfg_error(ld, "expected a host name, got %s", json_type_name(e));
        const char *s = json_string_value(e);
        size_t len = json_string_length(e);
        /* "host" or "host:port"; an IPv6 alias is written "[::1]" or "[::1]:5060" */
        const char *colon = NULL;
        if (s[0] == '[') {
            const char *close = strchr(s, ']');
            if (!close)
                return cfg_error(ld, "\"%s\": missing ]", s);
            if (close[1] == ':')
                colon = close + 1;
            else if (close[1] != '\0')
                return cfg_error(ld, "\"%s\": unexpected text after ]", s);
        } else {
            colon = strchr(s, ':');
        }
        uint16_t port = 0;
        size_t host_len = colon ? (size_t)(colon - s) : len;
        if (colon) {
            uint64_t p;
            if (slice_to_u64(slice_from_str(colon + 1), 65535, &p) != 0 || p == 0)
                return cfg_error(ld, "\"%s\": bad port", s);
            port = (uint16_t)p;
        }
        const char *h = s;
        if (s[0] == '[') {
            h = s + 1;
            host_len = (colon ? (size_t)(colon - s) : len) - 2;
        }
        char *copy = cfg_strdup(ld, h, host_len);
        if (!copy)
            return ENOMEM;
        core->alias_hosts[i] = slice_make(copy, host_len);
        core->alias_ports[i] = port;
        path_pop(ld, saved);
    }
    core->alias_n = n;
    return 0;
}

/* Wildcard listens (0.0.0.0, ::) count every local address as myself. */
static int expand_myself(struct loader *ld)
{
    struct route_cfg *cfg = ld->cfg;
    struct route_core *core = &cfg->core;
    struct ifaddrs *ifa = NULL;
    size_t extra = 0;
    bool wildcard = false;

    for (size_t i = 0; i < core->listen_n; i++) {
        const struct sockaddr *sa = (struct sockaddr *)&core->listens[i].addr.ss;
        if ((sa->sa_family == AF_INET &&
             ((const struct sockaddr_in *)sa)->sin_addr.s_addr == htonl(INADDR_ANY)) ||
            (sa->sa_family == AF_INET6 &&
             IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)sa)->sin6_addr)))
            wildcard = true;
    }
    if (wildcard && getifaddrs(&ifa) == 0) {
        for (struct ifaddrs *a = ifa; a; a = a->ifa_next)
            if (a->ifa_addr && (a->ifa_addr->sa_family == AF_INET || a->ifa_addr->sa_family == AF_INET6))
                extra++;
    }
    size_t total = core->listen_n * (extra + 1);
    cfg->myself = arena_alloc(&cfg->arena, total * sizeof(*cfg->myself));
    if (!cfg->myself) {
        if (ifa)
            freeifaddrs(ifa);
        return ENOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < core->listen_n; i++) {
        const struct net_listen *l = &core->listens[i];
        cfg->myself[n++] = *l;
        const struct sockaddr *sa = (struct sockaddr *)&l->addr.ss;
        bool any4 = sa->sa_family == AF_INET &&
                    ((const struct sockaddr_in *)sa)->sin_addr.s_addr == htonl(INADDR_ANY);
        bool any6 = sa->sa_family == AF_INET6 &&
                    IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)sa)->sin6_addr);
        if (!any4 && !any6)
            continue;
        for (struct ifaddrs *a = ifa; a; a = a->ifa_next) {
            if (!a->ifa_addr || (a->ifa_addr->sa_family != AF_INET && a->ifa_addr->sa_family != AF_INET6))
                continue;
            if ((any4 && a->ifa_addr->sa_family != AF_INET) ||
                (any6 && a->ifa_addr->sa_family != AF_INET6))
                continue;
            struct net_listen e = *l;
            char ip[64];
            net_addr_ip(a->ifa_addr, ip, sizeof(ip));
            if (net_addr_from_ip(ip, strlen(ip), l->port, &e.addr) == 0)
                cfg->myself[n++] = e;
        }
    }
    if (ifa)
        freeifaddrs(ifa);
    cfg->sip.listens = cfg->myself;
    cfg->sip.listen_n = n;
    return 0;
}

static int load_core(struct loader *ld, json_t *root)
{
    struct route_core *core = &ld->cfg->core;
    const char *key;
    json_t *v;
    int err;

    set_defaults(core_options, core);
    /* the port first: listen entries without a port take it */
    json_t *port = json_object_get(root, "port");
    if (port) {
        size_t saved = path_push_key(ld, "port");
        if ((err = set_option(ld, find_option(core_options, "port"), core, port)) != 0)
            return err;
        path_pop(ld, saved);
    }
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "modules") == 0 || strcmp(key, "routes") == 0 || strcmp(key, "port") == 0)
            continue;
        size_t saved = path_push_key(ld, key);
        if (strcmp(key, "listen") == 0) {
            err = load_listen(ld, v, core->port);
        } else if (strcmp(key, "aliases") == 0) {
            err = load_aliases(ld, v);
        } else {
            const struct mod_option *opt = find_option(core_options, key);
            if (!opt)
                return unknown_key(ld, key, core_options, core_extra_keys, "setting");
            err = set_option(ld, opt, core, v);
            if (!err && (strcmp(key, "dns") == 0 || strcmp(key, "rev_dns") == 0) &&
                *(bool *)((char *)core + opt->offset))
                err = cfg_error(ld, "sipd does no DNS lookups on messages; set it to false");
        }
        if (err)
            return err;
        path_pop(ld, saved);
    }
    if (!core->listen_n) {
        size_t saved = path_push_key(ld, "listen");
        json_t *any = json_string("0.0.0.0");
        err = any ? load_listen(ld, any, core->port) : ENOMEM;
        json_decref(any);
        if (err)
            return err;
        path_pop(ld, saved);
    }
    if (core->fork && !core->log_stderror) {
        /* fine: a daemon logs to syslog */
    }
    struct sip_core_cfg *sip = &ld->cfg->sip;
    sip->max_len = (size_t)core->max_len;
    sip->alias_hosts = core->alias_hosts;
    sip->alias_ports = core->alias_ports;
    sip->alias_n = core->alias_n;
    return expand_myself(ld);
}

/* ---------------------------------------------------------------- modules section */

static int module_index(const char *name)
{
    for (size_t i = 0; route_modules[i]; i++)
        if (strcmp(route_modules[i]->name, name) == 0)
            return (int)i;
    return -1;
}

static int load_modules(struct loader *ld, json_t *root)
{
    struct route_cfg *cfg = ld->cfg;
    size_t n = route_module_count();
    const char *key;
    json_t *v;

    cfg->params = arena_alloc(&cfg->arena, (n ? n : 1) * sizeof(void *));
    if (!cfg->params)
        return ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const struct module *m = route_modules[i];
        cfg->params[i] = NULL;
        if (m->params_size) {
            cfg->params[i] = arena_alloc(&cfg->arena, m->params_size);
            if (!cfg->params[i])
                return ENOMEM;
            memset(cfg->params[i], 0, m->params_size);
            set_defaults(m->options, cfg->params[i]);
            /* db_url: the core's value is every module's default */
            const struct mod_option *db = find_option(m->options, "db_url");
            if (db && cfg->core.db_url)
                *(const char **)((char *)cfg->params[i] + db->offset) = cfg->core.db_url;
        }
    }
    json_t *mods = json_object_get(root, "modules");
    if (!mods)
        return 0;
    size_t saved = path_push_key(ld, "modules");
    if (!json_is_object(mods))
        return cfg_error(ld, "expected an object of module names, got %s", json_type_name(mods));
    json_object_foreach(mods, key, v)
    {
        size_t s2 = path_push_key(ld, key);
        int mi = module_index(key);
        if (mi < 0) {
            struct suggest s;
            char buf[96];
            suggest_init(&s, key);
            for (size_t i = 0; route_modules[i]; i++)
                suggest_try(&s, route_modules[i]->name);
            path_pop(ld, s2);
            return cfg_error(ld, "unknown module \"%s\"%s", key, suggest_text(&s, buf, sizeof(buf)));
        }
        if (!json_is_object(v))
            return cfg_error(ld, "expected an object of parameters, got %s", json_type_name(v));
        const char *pk;
        json_t *pv;
        json_object_foreach(v, pk, pv)
        {
            size_t s3 = path_push_key(ld, pk);
            const struct mod_option *opt = find_option(route_modules[mi]->options, pk);
            if (!opt)
                return unknown_key(ld, pk, route_modules[mi]->options, NULL, "parameter");
            int err = set_option(ld, opt, cfg->params[mi], pv);
            if (err)
                return err;
            path_pop(ld, s3);
        }
        path_pop(ld, s2);
    }
    path_pop(ld, saved);
    return 0;
}

/* ---------------------------------------------------------------- routes */

static int compile_block(struct loader *ld, json_t *list, struct route_block *out);
static int compile_cond(struct loader *ld, json_t *j, struct route_cond *out);

static const struct mod_action *find_action(const char *name, size_t *module)
{
    for (size_t i = 0; route_modules[i]; i++)
        for (const struct mod_action *a = route_modules[i]->actions; a && a->name; a++)
            if (strcmp(a->name, name) == 0) {
                *module = i;
                return a;
            }
    return NULL;
}

static const char *const builtin_steps[] = {"if", "route", "log", "break", "return", "exit", "drop", NULL};
static const char *const cond_keys[] = {"not", "and", "or", "method", "method!=", "uri", "uri!=", "uri==", "msg:len", NULL};

static int unknown_action(struct loader *ld, const char *name, const char *const *extra)
{
    struct suggest s;
    char buf[96];

    suggest_init(&s, name);
    for (size_t i = 0; route_modules[i]; i++)
        for (const struct mod_action *a = route_modules[i]->actions; a && a->name; a++)
            suggest_try(&s, a->name);
    for (const char *const *e = extra; e && *e; e++)
        suggest_try(&s, *e);
    return cfg_error(ld, "unknown action \"%s\"%s", name, suggest_text(&s, buf, sizeof(buf)));
}

/* Compiles an action call: name plus its JSON arguments (NULL for none). */
static int compile_call(struct loader *ld, const char *name, json_t *args, struct route_call *call,
                        const char *const *extra)
{
    size_t mi;
    const struct mod_action *act = find_action(name, &mi);

    if (!act)
        return unknown_action(ld, name, extra);
    memset(call, 0, sizeof(*call));
    size_t name_saved = path_push_key(ld, name);
    call->act = act;
    call->inst.state = ld->states ? ld->states[mi] : NULL;
    call->inst.params = ld->cfg->params[mi];
    size_t n = 0;
    json_t *list = NULL;
    if (args == NULL || json_is_null(args))
        n = 0;
    else if (json_is_array(args))
        n = json_array_size(list = args);
    else
        n = 1;
    if (n < act->min_args || n > act->max_args) {
        if (act->min_args == act->max_args)
            return cfg_error(ld, "%s takes %u argument%s, not %zu", name, act->min_args,
                             act->min_args == 1 ? "" : "s", n);
        return cfg_error(ld, "%s takes %u to %u arguments, not %zu", name, act->min_args,
                         act->max_args, n);
    }
    for (size_t i = 0; i < n; i++) {
        json_t *a = list ? json_array_get(list, i) : args;
        size_t saved = list ? path_push_index(ld, i) : ld->path_len;
        struct mod_arg *arg = &call->args[i];
        switch (act->arg_types[i]) {
        case MOD_ARG_INT:
            if (json_is_integer(a)) {
                arg->i = (long)json_integer_value(a);
            } else if (json_is_string(a)) {
                /* SER wrote numbers as strings: mf_process_maxfwd_header("10") */
                uint64_t v;
                if (slice_to_u64(slice_make(json_string_value(a), json_string_length(a)),
                                 0x7fffffff, &v) != 0)
                    return cfg_error(ld, "argument %zu of %s must be an integer, not \"%s\"",
                                     i + 1, name, json_string_value(a));
                arg->i = (long)v;
            } else {
                return cfg_error(ld, "argument %zu of %s must be an integer, not %s", i + 1, name,
                                 json_type_name(a));
            }
            break;
        case MOD_ARG_STRING: {
            const char *s;
            size_t len;
            char num[32];
            if (json_is_string(a)) {
                s = json_string_value(a);
                len = json_string_length(a);
            } else if (json_is_integer(a)) {
                len = (size_t)snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(a));
                s = num;
            } else {
                return cfg_error(ld, "argument %zu of %s must be a string, not %s", i + 1, name,
                                 json_type_name(a));
            }
            char *copy = cfg_strdup(ld, s, len);
            if (!copy)
                return ENOMEM;
            arg->s = slice_make(copy, len);
            break;
        }
        }
        path_pop(ld, saved);
    }
    call->nargs = (unsigned)n;
    if (act->fixup) {
        char why[256] = "";
        if (act->fixup(call->args, call->nargs, call->inst.params, why, sizeof(why)) != 0)
            return cfg_error(ld, "%s", why);
    }
    path_pop(ld, name_saved);
    return 0;
}

static int route_ref(struct loader *ld, json_t *v, unsigned *index);

static int compile_method_cond(struct loader *ld, json_t *v, struct route_cond *out)
{
    size_t n = json_is_array(v) ? json_array_size(v) : 1;

    if (!json_is_array(v) && !json_is_string(v))
        return cfg_error(ld, "expected a method name or a list of them, got %s", json_type_name(v));
    if (n == 0)
        return cfg_error(ld, "the list of methods is empty");
    out->kind = COND_METHOD;
    out->u.method.n = (unsigned)n;
    out->u.method.names = arena_alloc(&ld->cfg->arena, n * sizeof(struct slice));
    out->u.method.ids = arena_alloc(&ld->cfg->arena, n * sizeof(enum sip_method));
    if (!out->u.method.names || !out->u.method.ids)
        return ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
        size_t saved = json_is_array(v) ? path_push_index(ld, i) : ld->path_len;
        if (!json_is_string(e) || json_string_length(e) == 0)
            return cfg_error(ld, "expected a method name, got %s", json_type_name(e));
        const char *s = json_string_value(e);
        for (const char *c = s; *c; c++)
            if (*c <= ' ' || *c == ':' || *c == '"')
                return cfg_error(ld, "\"%s\" is not a method name", s);
        char *copy = cfg_strdup(ld, s, json_string_length(e));
        if (!copy)
            return ENOMEM;
        out->u.method.names[i] = slice_make(copy, json_string_length(e));
        out->u.method.ids[i] = sip_method_lookup(out->u.method.names[i]);
        path_pop(ld, saved);
    }
    return 0;
}

static int compile_len_cond(struct loader *ld, json_t *v, struct route_cond *out)
{
    static const char *const ops[] = {">", ">=", "<", "<=", "==", "!="};
    const char *op;
    json_t *rhs;

    if (!json_is_object(v) || json_object_size(v) != 1)
        return cfg_error(ld, "expected {\"<op>\": N or \"max_len\"}, e.g. {\">\": \"max_len\"}");
    json_object_foreach(v, op, rhs)
    {
        out->kind = COND_MSGLEN;
        size_t k;
        for (k = 0; k < 6; k++)
            if (strcmp(op, ops[k]) == 0)
                break;
        if (k == 6)
            return cfg_error(ld, "unknown comparison \"%s\" (use > >= < <= == !=)", op);
        out->u.len.op = (enum route_cmp)k;
        if (json_is_string(rhs) && strcmp(json_string_value(rhs), "max_len") == 0) {
            out->u.len.max_len = true;
        } else if (json_is_integer(rhs) && json_integer_value(rhs) >= 0) {
            out->u.len.value = (long)json_integer_value(rhs);
        } else {
            return cfg_error(ld, "msg:len compares with a length or \"max_len\", not %s",
                             json_type_name(rhs));
        }
    }
    return 0;
}

static int compile_cond_list(struct loader *ld, json_t *v, struct route_cond *out, const char *k)
{
    if (!json_is_array(v) || json_array_size(v) == 0)
        return cfg_error(ld, "\"%s\" takes a non-empty list of conditions", k);
    out->u.list.n = (unsigned)json_array_size(v);
    out->u.list.items = arena_alloc(&ld->cfg->arena, out->u.list.n * sizeof(struct route_cond));
    if (!out->u.list.items)
        return ENOMEM;
    for (size_t i = 0; i < out->u.list.n; i++) {
        size_t saved = path_push_index(ld, i);
        int err = compile_cond(ld, json_array_get(v, i), &out->u.list.items[i]);
        if (err)
            return err;
        path_pop(ld, saved);
    }
    return 0;
}

static int compile_cond(struct loader *ld, json_t *j, struct route_cond *out)
{
    memset(out, 0, sizeof(*out));
    if (json_is_string(j)) {
        out->kind = COND_CALL;
        return compile_call(ld, json_string_value(j), NULL, &out->u.call, cond_keys);
    }
    if (!json_is_object(j) || json_object_size(j) != 1)
        return cfg_error(ld, "a condition is an object with exactly one key (an action, \"not\", "
                             "\"and\", \"or\", \"method\", \"uri\", \"msg:len\")");
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        size_t saved = path_push_key(ld, k);
        int err;
        if (strcmp(k, "not") == 0) {
            out->kind = COND_NOT;
            out->u.list.n = 1;
            out->u.list.items = arena_alloc(&ld->cfg->arena, sizeof(struct route_cond));
            err = out->u.list.items ? compile_cond(ld, v, out->u.list.items) : ENOMEM;
        } else if (strcmp(k, "and") == 0) {
            out->kind = COND_AND;
            err = compile_cond_list(ld, v, out, k);
        } else if (strcmp(k, "or") == 0) {
            out->kind = COND_OR;
            err = compile_cond_list(ld, v, out, k);
        } else if (strcmp(k, "method") == 0 || strcmp(k, "method==") == 0) {
            err = compile_method_cond(ld, v, out);
        } else if (strcmp(k, "method!=") == 0) {
            err = compile_method_cond(ld, v, out);
            out->negate = true;
        } else if (strcmp(k, "uri") == 0 || strcmp(k, "uri==") == 0 || strcmp(k, "uri!=") == 0) {
            if (!json_is_string(v) || strcmp(json_string_value(v), "myself") != 0)
                return cfg_error(ld, "uri compares with \"myself\" only");
            out->kind = COND_MYSELF;
            out->negate = strcmp(k, "uri!=") == 0;
            err = 0;
        } else if (strcmp(k, "msg:len") == 0) {
            err = compile_len_cond(ld, v, out);
        } else if (strcmp(k, "route") == 0 || strcmp(k, "if") == 0 || strcmp(k, "log") == 0) {
            return cfg_error(ld, "\"%s\" is a step, not a condition", k);
        } else {
            path_pop(ld, saved);
            out->kind = COND_CALL;
            err = compile_call(ld, k, v, &out->u.call, cond_keys);
        }
        if (err)
            return err;
        path_pop(ld, saved);
    }
    return 0;
}

static int log_level_from(json_t *v, int *level)
{
    static const struct {
        const char *name;
        int level;
    } names[] = {{"alert", -3}, {"crit", -2}, {"err", -1}, {"error", -1}, {"warn", 1},
                 {"warning", 1}, {"notice", 2}, {"info", 3}, {"debug", 4}};
    if (json_is_integer(v)) {
        json_int_t l = json_integer_value(v);
        if (l < -3 || l > 4)
            return -1;
        *level = (int)l;
        return 0;
    }
    if (json_is_string(v)) {
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            if (strcmp(json_string_value(v), names[i].name) == 0) {
                *level = names[i].level;
                return 0;
            }
    }
    return -1;
}

static int compile_log(struct loader *ld, json_t *v, struct route_node *node)
{
    json_t *text = v;

    node->kind = NODE_LOG;
    node->u.log.level = LOG_LVL_NOTICE;
    if (json_is_array(v)) {
        if (json_array_size(v) != 2)
            return cfg_error(ld, "log takes [level, text] or text");
        if (log_level_from(json_array_get(v, 0), &node->u.log.level) != 0)
            return cfg_error(ld, "log level must be -3..4 or alert, crit, err, warn, notice, info, debug");
        text = json_array_get(v, 1);
    }
    if (!json_is_string(text))
        return cfg_error(ld, "log text must be a string, not %s", json_type_name(text));
    node->u.log.text = cfg_strdup(ld, json_string_value(text), json_string_length(text));
    return node->u.log.text ? 0 : ENOMEM;
}

static int compile_if(struct loader *ld, json_t *step, struct route_node *node)
{
    const char *k;
    json_t *v;
    int err;

    json_object_foreach(step, k, v)
    {
        if (strcmp(k, "if") != 0 && strcmp(k, "then") != 0 && strcmp(k, "else") != 0) {
            static const char *const if_keys[] = {"if", "then", "else", NULL};
            struct suggest s;
            char buf[96];
            suggest_init(&s, k);
            for (const char *const *e = if_keys; *e; e++)
                suggest_try(&s, *e);
            return cfg_error(ld, "unknown key \"%s\" in an if step%s", k,
                             suggest_text(&s, buf, sizeof(buf)));
        }
    }
    json_t *then = json_object_get(step, "then");
    if (!then)
        return cfg_error(ld, "an if step needs \"then\"");
    node->kind = NODE_IF;
    size_t saved = path_push_key(ld, "if");
    if ((err = compile_cond(ld, json_object_get(step, "if"), &node->u.if_.cond)) != 0)
        return err;
    path_pop(ld, saved);
    saved = path_push_key(ld, "then");
    if ((err = compile_block(ld, then, &node->u.if_.then_block)) != 0)
        return err;
    path_pop(ld, saved);
    json_t *els = json_object_get(step, "else");
    if (els) {
        saved = path_push_key(ld, "else");
        /* "else": {"if": ...} chains like SER's else if */
        if (json_is_object(els)) {
            json_t *wrapped = json_pack("[O]", els);
            err = wrapped ? compile_block(ld, wrapped, &node->u.if_.else_block) : ENOMEM;
            json_decref(wrapped);
        } else {
            err = compile_block(ld, els, &node->u.if_.else_block);
        }
        if (err)
            return err;
        path_pop(ld, saved);
    }
    return 0;
}

static int compile_route_def(struct loader *ld, unsigned index);

static int route_ref(struct loader *ld, json_t *v, unsigned *index)
{
    char name[64];

    if (json_is_integer(v))
        snprintf(name, sizeof(name), "%lld", (long long)json_integer_value(v));
    else if (json_is_string(v))
        snprintf(name, sizeof(name), "%s", json_string_value(v));
    else
        return cfg_error(ld, "route takes a route name, not %s", json_type_name(v));
    for (unsigned i = 0; i < ld->cfg->route_n; i++) {
        if (strcmp(ld->cfg->routes[i].name, name) != 0)
            continue;
        if (ld->cfg->routes[i].state == 1)
            return cfg_error(ld, "route \"%s\" calls itself (recursive route reference)", name);
        *index = i;
        if (ld->cfg->routes[i].state == 0) {
            /* compile the callee now, with its own path, so a cycle through
             * it is seen while this route is still on the stack */
            char saved_path[sizeof(ld->path)];
            size_t saved_len = ld->path_len;
            memcpy(saved_path, ld->path, sizeof(saved_path));
            int err = compile_route_def(ld, i);
            if (err) {
                /* an error inside the callee names the callee's path; a cycle
                 * found there is reported where it closes */
                return err;
            }
            memcpy(ld->path, saved_path, sizeof(saved_path));
            ld->path_len = saved_len;
        }
        return 0;
    }
    struct suggest s;
    char buf[96];
    suggest_init(&s, name);
    for (unsigned i = 0; i < ld->cfg->route_n; i++)
        suggest_try(&s, ld->cfg->routes[i].name);
    return cfg_error(ld, "route \"%s\" is not defined%s", name, suggest_text(&s, buf, sizeof(buf)));
}

static int compile_step(struct loader *ld, json_t *step, struct route_node *node)
{
    memset(node, 0, sizeof(*node));
    if (json_is_string(step)) {
        const char *s = json_string_value(step);
        if (strcmp(s, "break") == 0)
            node->kind = NODE_BREAK;
        else if (strcmp(s, "return") == 0)
            node->kind = NODE_RETURN;
        else if (strcmp(s, "exit") == 0)
            node->kind = NODE_EXIT;
        else if (strcmp(s, "drop") == 0)
            node->kind = NODE_DROP;
        else {
            node->kind = NODE_CALL;
            return compile_call(ld, s, NULL, &node->u.call, builtin_steps);
        }
        return 0;
    }
    if (!json_is_object(step))
        return cfg_error(ld, "a step is an action (a string or {\"action\": args}) or an if "
                             "step, not %s", json_type_name(step));
    if (json_object_get(step, "if") || json_object_get(step, "then") || json_object_get(step, "else")) {
        if (!json_object_get(step, "if"))
            return cfg_error(ld, "\"then\" without \"if\"");
        return compile_if(ld, step, node);
    }
    if (json_object_size(step) != 1)
        return cfg_error(ld, "a step object holds exactly one action, not %zu keys",
                         json_object_size(step));
    const char *k;
    json_t *v;
    json_object_foreach(step, k, v)
    {
        size_t saved = path_push_key(ld, k);
        int err;
        if (strcmp(k, "route") == 0) {
            node->kind = NODE_ROUTE;
            err = route_ref(ld, v, &node->u.route);
        } else if (strcmp(k, "log") == 0) {
            err = compile_log(ld, v, node);
        } else {
            path_pop(ld, saved);
            node->kind = NODE_CALL;
            err = compile_call(ld, k, v, &node->u.call, builtin_steps);
            saved = ld->path_len;
        }
        if (err)
            return err;
        path_pop(ld, saved);
    }
    return 0;
}

static int compile_block(struct loader *ld, json_t *list, struct route_block *out)
{
    if (!json_is_array(list))
        return cfg_error(ld, "expected a list of steps, got %s", json_type_name(list));
    out->n = (unsigned)json_array_size(list);
    out->nodes = arena_alloc(&ld->cfg->arena, (out->n ? out->n : 1) * sizeof(struct route_node));
    if (!out->nodes)
        return ENOMEM;
    for (unsigned i = 0; i < out->n; i++) {
        size_t saved = path_push_index(ld, i);
        int err = compile_step(ld, json_array_get(list, i), &out->nodes[i]);
        if (err)
            return err;
        path_pop(ld, saved);
    }
    return 0;
}

static int compile_route_def(struct loader *ld, unsigned index)
{
    struct route_def *def = &ld->cfg->routes[index];

    def->state = 1;
    path_pop(ld, 0);
    path_push_key(ld, "routes");
    path_push_key(ld, def->name);
    int err = compile_block(ld, json_object_get(ld->routes_json, def->name), &def->body);
    if (err)
        return err;
    def->state = 2;
    return 0;
}

static int load_routes(struct loader *ld, json_t *root)
{
    struct route_cfg *cfg = ld->cfg;
    json_t *routes = json_object_get(root, "routes");
    const char *k;
    json_t *v;

    size_t saved = path_push_key(ld, "routes");
    if (!routes)
        return cfg_error(ld, "missing: the config needs a \"routes\" object with a \"main\" route");
    if (!json_is_object(routes))
        return cfg_error(ld, "expected an object of named routes, got %s", json_type_name(routes));
    if (!json_object_get(routes, "main"))
        return cfg_error(ld, "no \"main\" route: it is where every request enters");
    ld->routes_json = routes;
    cfg->route_n = (unsigned)json_object_size(routes);
    cfg->routes = arena_alloc(&cfg->arena, cfg->route_n * sizeof(*cfg->routes));
    if (!cfg->routes)
        return ENOMEM;
    unsigned i = 0;
    json_object_foreach(routes, k, v)
    {
        cfg->routes[i].name = cfg_strdup(ld, k, strlen(k));
        if (!cfg->routes[i].name)
            return ENOMEM;
        cfg->routes[i].state = 0;
        if (strcmp(k, "main") == 0)
            cfg->main_route = i;
        i++;
    }
    path_pop(ld, saved);
    /* main first, so errors read in the order a request meets them; then
     * routes nothing calls (still checked, as an operator may call them later) */
    int err = compile_route_def(ld, cfg->main_route);
    for (i = 0; !err && i < cfg->route_n; i++)
        if (cfg->routes[i].state == 0)
            err = compile_route_def(ld, i);
    path_pop(ld, 0);
    return err;
}

/* ---------------------------------------------------------------- entry points */

const struct route_core *route_cfg_core(const struct route_cfg *cfg)
{
    return &cfg->core;
}

const struct sip_core_cfg *route_cfg_sip(const struct route_cfg *cfg)
{
    return &cfg->sip;
}

const void *route_cfg_params(const struct route_cfg *cfg, size_t module_index)
{
    return module_index < route_module_count() ? cfg->params[module_index] : NULL;
}

void route_cfg_free(struct route_cfg *cfg)
{
    if (!cfg)
        return;
    arena_free(&cfg->arena);
    free(cfg->path);
    free(cfg);
}

int route_cfg_load(struct route_cfg **cfgp, const char *path, void *const *states, char *err,
                   size_t err_cap)
{
    struct loader ld = {0};
    json_error_t jerr;
    int ret;

    *cfgp = NULL;
    struct route_cfg *cfg = calloc(1, sizeof(*cfg));
    if (!cfg) {
        snprintf(err, err_cap, "%s: out of memory", path);
        return ENOMEM;
    }
    arena_init(&cfg->arena, NULL, 0, CFG_ARENA_LIMIT);
    cfg->path = strdup(path);
    ld.cfg = cfg;
    ld.states = states;
    ld.file = path;
    ld.err = err;
    ld.err_cap = err_cap;
    err[0] = '\0';

    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (jerr.line < 0)
            snprintf(err, err_cap, "%s: %s", path, jerr.text);
        else
            snprintf(err, err_cap, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        route_cfg_free(cfg);
        return EINVAL;
    }
    if (!json_is_object(root)) {
        ret = cfg_error(&ld, "the config must be a JSON object, not %s", json_type_name(root));
        goto out;
    }
    if (!cfg->path) {
        ret = ENOMEM;
        goto out;
    }
    if ((ret = load_core(&ld, root)) != 0)
        goto out;
    if ((ret = load_modules(&ld, root)) != 0)
        goto out;
    ret = load_routes(&ld, root);
out:
    json_decref(root);
    if (ret) {
        if (ret == ENOMEM && !err[0])
            snprintf(err, err_cap, "%s: out of memory", path);
        route_cfg_free(cfg);
        return ret;
    }
    *cfgp = cfg;
    return 0;
}
