/* shim_pipeline.c: the pipeline benchmark's C side: a compiled config and one message slot. */
#include "shim_pipeline.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "route/route.h"

/*
 * The seed's sanity section, as examples/options.json writes it, then the
 * seed's "if (method != "REGISTER") record_route();". sipd has no rr module
 * yet, so a debug log step (off at the default level, as in production)
 * stands in for record_route(); a REGISTER never takes that branch anyway.
 * The final "break" ends the route before anything would reply.
 */
static const char config_text[] =
    "{\n"
    "  \"fork\": false,\n"
    "  \"log_stderror\": true,\n"
    "  \"listen\": [\"udp:127.0.0.1:5060\"],\n"
    "  \"children\": 1,\n"
    "  \"routes\": {\n"
    "    \"main\": [\n"
    "      {\"if\": {\"not\": {\"mf_process_maxfwd_header\": \"10\"}},\n"
    "       \"then\": [{\"sl_send_reply\": [\"483\", \"Too Many Hops\"]}, \"break\"]},\n"
    "      {\"if\": {\"msg:len\": {\">\": \"max_len\"}},\n"
    "       \"then\": [{\"sl_send_reply\": [\"513\", \"Message Overflow\"]}, \"break\"]},\n"
    "      {\"if\": {\"method!=\": \"REGISTER\"},\n"
    "       \"then\": [{\"log\": [\"debug\", \"record_route() goes here\"]}]},\n"
    "      \"break\"\n"
    "    ]\n"
    "  }\n"
    "}\n";

/* Big enough that no benchmark message makes the arena malloc a chunk. */
#define SHIMP_ARENA_SIZE  16384u
#define SHIMP_ARENA_LIMIT (256u * 1024u)

struct shimp {
    struct route_cfg *cfg;
    struct sip_rx rx;         /* the receivers' limits and sanity settings */
    struct sip_stats stats;   /* large (per-code counters): kept off the stack */
    struct sip_worker worker; /* holds the 64 KiB reply buffer */
    struct sip_pkt pkt;
    _Alignas(16) char arena_buf[SHIMP_ARENA_SIZE];
};

const char *shimp_config_text(void)
{
    return config_text;
}

/* Writes the config to a fresh temporary file; its name goes to path. */
static int write_config(char *path, size_t cap, char *err, size_t err_cap)
{
    const char *dir = getenv("TMPDIR");
    int n = snprintf(path, cap, "%s/sipd-bench-pipeline-XXXXXX", dir && *dir ? dir : "/tmp");
    if (n < 0 || (size_t)n >= cap) {
        snprintf(err, err_cap, "temporary directory name too long");
        return ENAMETOOLONG;
    }
    int fd = mkstemp(path);
    if (fd < 0) {
        int e = errno;
        snprintf(err, err_cap, "%s: %s", path, strerror(e));
        return e;
    }
    size_t len = sizeof(config_text) - 1, done = 0;
    while (done < len) {
        ssize_t w = write(fd, config_text + done, len - done);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            snprintf(err, err_cap, "%s: %s", path, strerror(e));
            close(fd);
            unlink(path);
            return e;
        }
        done += (size_t)w;
    }
    if (close(fd) != 0) {
        int e = errno;
        snprintf(err, err_cap, "%s: %s", path, strerror(e));
        unlink(path);
        return e;
    }
    return 0;
}

int shimp_open(struct shimp **pp, char *err, size_t err_cap)
{
    char path[512];
    int ret;

    *pp = NULL;
    struct shimp *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(err, err_cap, "out of memory");
        return ENOMEM;
    }
    if ((ret = write_config(path, sizeof(path), err, err_cap)) != 0) {
        free(p);
        return ret;
    }
    /* No module of this config (sl, maxfwd) keeps persistent state, so the
     * states array may be NULL, as for sipd --check. */
    ret = route_cfg_load(&p->cfg, path, NULL, err, err_cap);
    unlink(path);
    if (ret != 0) {
        free(p);
        return ret;
    }
    const struct route_core *core = route_cfg_core(p->cfg);
    p->rx.stats = &p->stats;
    p->rx.limits.max_msg_len = 65535; /* as route_runtime_start sets them */
    p->rx.limits.max_headers = (unsigned)core->max_headers;
    p->rx.limits.max_header_len = (size_t)core->max_header_len;
    arena_init(&p->pkt.arena, p->arena_buf, sizeof(p->arena_buf), SHIMP_ARENA_LIMIT);
    struct sockaddr_in *sin = (struct sockaddr_in *)&p->pkt.src.ss;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(5060);
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    p->pkt.src.len = sizeof(*sin);
    *pp = p;
    return 0;
}

void shimp_close(struct shimp *p)
{
    if (!p)
        return;
    arena_free(&p->pkt.arena);
    route_cfg_free(p->cfg);
    p->cfg = NULL;
    free(p);
}

int shimp_parse(struct shimp *p, const char *buf, size_t len, const char **why)
{
    struct sip_pkt *pkt = &p->pkt;
    struct sip_error err;
    struct sip_verdict v;

    arena_reset(&pkt->arena);
    pkt->data = NULL; /* the bytes stay in the caller's buffer; nothing on this path reads this */
    pkt->len = len;
    int ret = sip_msg_parse(&pkt->msg, &pkt->arena, buf, len, &p->rx.limits, 0, &err);
    sip_sanity(&pkt->msg, ret, &err, &p->rx.sanity, &v);
    if (ret != 0) {
        *why = err.reason ? err.reason : "parse error";
        return -1;
    }
    if (v.action != SIP_ACCEPT) {
        *why = v.reason ? v.reason : "not accepted by the sanity checks";
        return -1;
    }
    /* Anything else would reach sl_send_reply, and the slot has no socket. */
    if (!pkt->msg.is_request || pkt->msg.method_id != SIP_METHOD_REGISTER ||
        pkt->msg.max_forwards == 0 || pkt->msg.data.len > route_cfg_sip(p->cfg)->max_len) {
        *why = "not a REGISTER with Max-Forwards above 0 within max_len";
        return -1;
    }
    return 0;
}

int shimp_run(struct shimp *p, const char **why)
{
    struct sip_ctx ctx;
    const struct sip_msg *msg = &p->pkt.msg;

    sip_ctx_init(&ctx, &p->pkt, route_cfg_sip(p->cfg), &p->worker, &p->stats);
    int ret = route_run(p->cfg, &ctx);
    int mf = msg->max_forwards > 255 ? 255 : msg->max_forwards;
    if (ret != MOD_TRUE) {
        *why = "the route stopped (exit, drop or an action returning 0)";
        return -1;
    }
    if (ctx.replied) {
        *why = "the route sent a reply";
        return -1;
    }
    if (mf <= 0 || ctx.mf_value != mf - 1) {
        *why = "mf_process_maxfwd_header did not run as expected";
        return -1;
    }
    return 0;
}

int shimp_parse_run(struct shimp *p, const char *buf, size_t len, const char **why)
{
    if (shimp_parse(p, buf, len, why) != 0)
        return -1;
    return shimp_run(p, why);
}
