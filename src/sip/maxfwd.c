/* maxfwd.c: the maxfwd module: mf_process_maxfwd_header(n), RFC 3261 16.3 step 3 and 16.6 step 3. */
#include "sip/proc.h"

#include <stdio.h>

/*
 * SER's semantics: with no Max-Forwards header, one with value n is added
 * when the request is relayed (true); with a value of 0 the request must not
 * be forwarded (false: the config answers 483); otherwise the value is
 * decremented on relay (true). Values over 255 are treated as 255, as
 * RFC 4475 (scalar02) allows a tolerant element to do.
 */
static int mf_process(struct sip_ctx *ctx, const struct mod_inst *mi, const struct mod_arg *args)
{
    (void)mi;
    int mf = ctx->msg->max_forwards;
    if (mf < 0) {
        ctx->mf_value = (int)args[0].i;
        return MOD_TRUE;
    }
    if (mf == 0)
        return MOD_FALSE;
    if (mf > 255)
        mf = 255;
    ctx->mf_value = mf - 1;
    return MOD_TRUE;
}

static int fixup_mf(struct mod_arg *args, unsigned n, const void *params, char *err,
                    size_t err_cap)
{
    (void)n;
    (void)params;
    if (args[0].i < 1 || args[0].i > 255) {
        snprintf(err, err_cap, "Max-Forwards limit %ld is not between 1 and 255", args[0].i);
        return -1;
    }
    return 0;
}

static const struct mod_action mf_actions[] = {
    {"mf_process_maxfwd_header", mf_process, 1, 1, {MOD_ARG_INT}, fixup_mf},
    {NULL, NULL, 0, 0, {0}, NULL},
};

const struct module sip_maxfwd_module = {
    .name = "maxfwd",
    .actions = mf_actions,
};
