/* sl.c: the sl module: stateless replies from the route pipeline. */
#include "sip/proc.h"

static int sl_send_reply(struct sip_ctx *ctx, const struct mod_inst *mi, const struct mod_arg *args)
{
    (void)mi;
    if (!ctx->msg->is_request || ctx->msg->method_id == SIP_METHOD_ACK)
        return MOD_FALSE; /* nothing answers a response or an ACK */
    return sip_ctx_reply(ctx, (unsigned)args[0].i, args[1].s, SLICE_NULL) == 0 ? MOD_TRUE
                                                                               : MOD_FALSE;
}

/* SER's sl_reply_error(): the reply the last failing action asked for. */
static int sl_reply_error(struct sip_ctx *ctx, const struct mod_inst *mi,
                          const struct mod_arg *args)
{
    (void)mi;
    (void)args;
    if (!ctx->msg->is_request || ctx->msg->method_id == SIP_METHOD_ACK)
        return MOD_FALSE;
    unsigned code = ctx->err_code ? ctx->err_code : 500;
    struct slice reason = ctx->err_reason ? slice_from_str(ctx->err_reason) : SLICE_NULL;
    return sip_ctx_reply(ctx, code, reason, ctx->err_headers) == 0 ? MOD_TRUE : MOD_FALSE;
}

static int fixup_reply(struct mod_arg *args, unsigned n, const void *params, char *err,
                       size_t err_cap)
{
    (void)n;
    (void)params;
    if (args[0].i < 100 || args[0].i > 699) {
        snprintf(err, err_cap, "reply code %ld is not between 100 and 699", args[0].i);
        return -1;
    }
    for (size_t i = 0; i < args[1].s.len; i++) {
        char c = args[1].s.p[i];
        if (c == '\r' || c == '\n' || c == '\0') {
            snprintf(err, err_cap, "reason phrase contains a line break");
            return -1;
        }
    }
    return 0;
}

static const struct mod_action sl_actions[] = {
    {"sl_send_reply", sl_send_reply, 2, 2, {MOD_ARG_INT, MOD_ARG_STRING}, fixup_reply},
    {"sl_reply_error", sl_reply_error, 0, 0, {0}, NULL},
    {NULL, NULL, 0, 0, {0}, NULL},
};

const struct module sip_sl_module = {
    .name = "sl",
    .actions = sl_actions,
};
