/* cfgutils.c: the cfgutils module: sleep(s) and usleep(us), as Kamailio's, for tests and pacing. */
#include <stdio.h>
#include <time.h>

#include "route/route.h"

/* Blocks the worker: every message queued behind this one waits too. That
 * is the point in an overload test, and the reason to use it nowhere else. */
static void pause_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static int act_usleep(struct sip_ctx *ctx, const struct mod_inst *mi, const struct mod_arg *args)
{
    (void)ctx;
    (void)mi;
    pause_us(args[0].i);
    return MOD_TRUE;
}

static int act_sleep(struct sip_ctx *ctx, const struct mod_inst *mi, const struct mod_arg *args)
{
    (void)ctx;
    (void)mi;
    pause_us(args[0].i * 1000000L);
    return MOD_TRUE;
}

static int fixup_us(struct mod_arg *args, unsigned n, const void *params, char *err, size_t cap)
{
    (void)n;
    (void)params;
    if (args[0].i < 0 || args[0].i > 10000000) {
        snprintf(err, cap, "%ld microseconds is not between 0 and 10000000", args[0].i);
        return -1;
    }
    return 0;
}

static int fixup_s(struct mod_arg *args, unsigned n, const void *params, char *err, size_t cap)
{
    (void)n;
    (void)params;
    if (args[0].i < 0 || args[0].i > 10) {
        snprintf(err, cap, "%ld seconds is not between 0 and 10", args[0].i);
        return -1;
    }
    return 0;
}

static const struct mod_action cfgutils_actions[] = {
    {"usleep", act_usleep, 1, 1, {MOD_ARG_INT}, fixup_us},
    {"sleep", act_sleep, 1, 1, {MOD_ARG_INT}, fixup_s},
    {NULL, NULL, 0, 0, {0}, NULL},
};

const struct module route_cfgutils_module = {
    .name = "cfgutils",
    .actions = cfgutils_actions,
};
