/* route_int.h: the compiled pipeline's node types, shared by config.c and pipeline.c. */
#ifndef SIPD_ROUTE_INT_H
#define SIPD_ROUTE_INT_H

#include "core/arena.h"
#include "route/route.h"

/*
 * A config compiles into a tree of nodes that hold function pointers and
 * pre-parsed arguments, all allocated in the config's own arena: running a
 * message looks nothing up by name and parses no strings, and freeing a
 * config (after a reload, once no worker can still see it) is one
 * arena_free.
 */

struct route_call {
    const struct mod_action *act;
    struct mod_inst inst;
    struct mod_arg args[MOD_MAX_ARGS];
    unsigned nargs;
};

enum route_cond_kind {
    COND_CALL,   /* an action used as a boolean */
    COND_METHOD, /* method equals one of names (negate for !=) */
    COND_MYSELF, /* uri==myself (negate for !=) */
    COND_MSGLEN, /* msg:len <op> value or max_len */
    COND_NOT,
    COND_AND,
    COND_OR,
};

enum route_cmp { CMP_GT, CMP_GE, CMP_LT, CMP_LE, CMP_EQ, CMP_NE };

struct route_cond {
    enum route_cond_kind kind;
    bool negate;
    union {
        struct route_call call;
        struct {
            struct slice *names;
            enum sip_method *ids;
            unsigned n;
        } method;
        struct {
            enum route_cmp op;
            long value;
            bool max_len; /* compare with the core's max_len */
        } len;
        struct {
            struct route_cond *items;
            unsigned n;
        } list;
    } u;
};

enum route_node_kind {
    NODE_CALL,
    NODE_IF,
    NODE_ROUTE,
    NODE_BREAK,  /* SER's break: leave the current route */
    NODE_RETURN, /* the same */
    NODE_EXIT,   /* stop the pipeline */
    NODE_DROP,   /* stop the pipeline; nothing is relayed */
    NODE_LOG,
};

struct route_block {
    struct route_node *nodes;
    unsigned n;
};

struct route_node {
    enum route_node_kind kind;
    union {
        struct route_call call;
        struct {
            struct route_cond cond;
            struct route_block then_block, else_block;
        } if_;
        unsigned route;
        struct {
            int level;
            const char *text;
        } log;
    } u;
};

struct route_def {
    const char *name;
    struct route_block body;
    int state; /* 0 not compiled, 1 compiling (on the stack), 2 done */
};

struct route_cfg {
    struct arena arena;
    char *path;
    struct route_core core;
    struct sip_core_cfg sip;
    struct net_listen *myself; /* listens, wildcards expanded to local addresses */
    void **params;             /* per module, index as in route_modules */
    struct route_def *routes;
    unsigned route_n;
    unsigned main_route;
};

#endif
