/* pipeline.c: runs a message through the compiled route tree. */
#include "route/route_int.h"

#include "core/log.h"

enum run_status { RUN_NEXT = 0, RUN_LEAVE, RUN_STOP };

static enum run_status run_block(const struct route_cfg *cfg, const struct route_block *b,
                                 struct sip_ctx *ctx);

static int call(const struct route_call *c, struct sip_ctx *ctx)
{
    return c->act->fn(ctx, &c->inst, c->args);
}

/* Evaluates a condition: 1 true, 0 false, -1 stop (an action returned 0). */
static int eval(const struct route_cfg *cfg, const struct route_cond *c, struct sip_ctx *ctx)
{
    int r;

    switch (c->kind) {
    case COND_CALL:
        r = call(&c->u.call, ctx);
        return r == MOD_EXIT ? -1 : r > 0;
    case COND_METHOD: {
        bool eq = false;
        const struct sip_msg *m = ctx->msg;
        for (unsigned i = 0; i < c->u.method.n && !eq; i++) {
            if (c->u.method.ids[i] != SIP_METHOD_OTHER)
                eq = m->method_id == c->u.method.ids[i];
            else
                eq = slice_eq(m->method, c->u.method.names[i]);
        }
        return eq != c->negate;
    }
    case COND_MYSELF: {
        bool me = ctx->msg->is_request && sip_uri_is_myself(&cfg->sip, &ctx->ruri_parsed);
        return me != c->negate;
    }
    case COND_MSGLEN: {
        long len = (long)ctx->msg->data.len;
        long v = c->u.len.max_len ? (long)cfg->sip.max_len : c->u.len.value;
        switch (c->u.len.op) {
        case CMP_GT: return len > v;
        case CMP_GE: return len >= v;
        case CMP_LT: return len < v;
        case CMP_LE: return len <= v;
        case CMP_EQ: return len == v;
        case CMP_NE: return len != v;
        }
        return 0;
    }
    case COND_NOT:
        r = eval(cfg, &c->u.list.items[0], ctx);
        return r < 0 ? r : !r;
    case COND_AND:
        for (unsigned i = 0; i < c->u.list.n; i++) {
            r = eval(cfg, &c->u.list.items[i], ctx);
            if (r <= 0)
                return r;
        }
        return 1;
    case COND_OR:
        for (unsigned i = 0; i < c->u.list.n; i++) {
            r = eval(cfg, &c->u.list.items[i], ctx);
            if (r != 0)
                return r;
        }
        return 0;
    }
    return 0;
}

static enum run_status run_node(const struct route_cfg *cfg, const struct route_node *n,
                                struct sip_ctx *ctx)
{
    switch (n->kind) {
    case NODE_CALL:
        return call(&n->u.call, ctx) == MOD_EXIT ? RUN_STOP : RUN_NEXT;
    case NODE_IF: {
        int r = eval(cfg, &n->u.if_.cond, ctx);
        if (r < 0)
            return RUN_STOP;
        return run_block(cfg, r ? &n->u.if_.then_block : &n->u.if_.else_block, ctx);
    }
    case NODE_ROUTE: {
        enum run_status s = run_block(cfg, &cfg->routes[n->u.route].body, ctx);
        return s == RUN_STOP ? RUN_STOP : RUN_NEXT; /* break/return end the callee only */
    }
    case NODE_BREAK:
    case NODE_RETURN:
        return RUN_LEAVE;
    case NODE_EXIT:
    case NODE_DROP:
        return RUN_STOP;
    case NODE_LOG:
        if (log_enabled(n->u.log.level))
            log_msg(n->u.log.level, (const struct sockaddr *)&ctx->pkt->src.ss, ctx->msg->call_id,
                    "%s", n->u.log.text);
        return RUN_NEXT;
    }
    return RUN_NEXT;
}

/* A block inside an if belongs to the enclosing route: RUN_LEAVE passes up
 * until the route call (run_node NODE_ROUTE or route_run) absorbs it. */
static enum run_status run_block(const struct route_cfg *cfg, const struct route_block *b,
                                 struct sip_ctx *ctx)
{
    for (unsigned i = 0; i < b->n; i++) {
        enum run_status s = run_node(cfg, &b->nodes[i], ctx);
        if (s != RUN_NEXT)
            return s;
    }
    return RUN_NEXT;
}

int route_run(const struct route_cfg *cfg, struct sip_ctx *ctx)
{
    enum run_status s = run_block(cfg, &cfg->routes[cfg->main_route].body, ctx);
    return s == RUN_STOP ? MOD_EXIT : MOD_TRUE;
}
