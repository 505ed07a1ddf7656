/* proc.c: message context, Via received/rport, reply destinations, stateless replies, myself. */
#include "sip/proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

void sip_stats_reason(struct sip_stats *st, const char *reason)
{
    if (!reason)
        reason = "unknown";
    for (unsigned i = 0; i < SIP_STATS_REASONS; i++) {
        const char *cur = atomic_load_explicit(&st->reason[i], memory_order_acquire);
        if (!cur) {
            const char *expected = NULL;
            if (atomic_compare_exchange_strong(&st->reason[i], &expected, reason) ||
                expected == reason) {
                stat_inc(&st->reason_count[i]);
                return;
            }
            cur = expected;
        }
        if (cur == reason) {
            stat_inc(&st->reason_count[i]);
            return;
        }
    }
    /* every slot taken by other reasons: counted in parse_errors only */
}

void sip_pkt_free(struct sip_pkt *pkt)
{
    if (!pkt)
        return;
    arena_free(&pkt->arena);
    free(pkt);
}

void sip_ctx_init(struct sip_ctx *ctx, struct sip_pkt *pkt, const struct sip_core_cfg *core,
                  struct sip_worker *worker, struct sip_stats *stats)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->pkt = pkt;
    ctx->msg = &pkt->msg;
    ctx->core = core;
    ctx->worker = worker;
    ctx->stats = stats;
    ctx->mf_value = -1;
    if (pkt->msg.is_request && pkt->msg.ruri_ok) {
        ctx->ruri = pkt->msg.ruri_text;
        ctx->ruri_parsed = pkt->msg.ruri;
    }
}

int sip_ctx_set_ruri(struct sip_ctx *ctx, struct slice uri)
{
    char *copy = arena_dup(&ctx->pkt->arena, uri.p, uri.len);
    const char *why;
    struct sip_uri parsed;

    if (!copy)
        return ENOMEM;
    if (sip_uri_parse(&parsed, slice_make(copy, uri.len), &why) != 0)
        return EBADMSG;
    ctx->ruri = slice_make(copy, uri.len);
    ctx->ruri_parsed = parsed;
    return 0;
}

/* Does the Via sent-by host equal the source IP? Names never do (sipd does
 * no DNS on the hot path), as RFC 3261 18.2.1 allows. */
static bool sent_by_is(const struct sip_via *via, const char *ip)
{
    if (via->host_type == SIP_HOST_NAME)
        return false;
    struct net_addr a, b;
    if (net_addr_from_ip(via->host.p, via->host.len, 0, &a) != 0 ||
        net_addr_from_ip(ip, strlen(ip), 0, &b) != 0)
        return false;
    return net_addr_eq((struct sockaddr *)&a.ss, (struct sockaddr *)&b.ss);
}

void sip_via_fixup(const struct sip_msg *msg, const struct sockaddr *src, char *ipbuf,
                   size_t ipcap, struct slice *received, unsigned *rport)
{
    *received = SLICE_NULL;
    *rport = 0;
    if (!msg->keys_ok)
        return;
    net_addr_ip(src, ipbuf, ipcap);
    if (msg->via.rport && msg->via.rport_value.len == 0)
        *rport = net_addr_port(src);
    /* RFC 3581 4: with rport, received is added even when sent-by matches */
    if (*rport || !sent_by_is(&msg->via, ipbuf))
        *received = slice_from_str(ipbuf);
}

void sip_reply_dest(const struct sip_msg *msg, const struct net_addr *src, struct net_addr *dst)
{
    *dst = *src;
    if (!msg->keys_ok || msg->via.rport)
        return; /* rport: back to the source IP and port */
    uint16_t port = msg->via.port ? msg->via.port : 5060;
    struct sockaddr *sa = (struct sockaddr *)&dst->ss;
    if (sa->sa_family == AF_INET)
        ((struct sockaddr_in *)sa)->sin_port = htons(port);
    else if (sa->sa_family == AF_INET6)
        ((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
}

int sip_send_reply(struct sip_pkt *pkt, struct sip_stats *st, unsigned code, struct slice reason,
                   struct slice extra_headers, char *buf, size_t cap)
{
    struct sip_buf out = {buf, 0, cap};
    struct sip_reply_opts opts = {0};
    char ip[64];
    struct net_addr dst;

    sip_via_fixup(&pkt->msg, (struct sockaddr *)&pkt->src.ss, ip, sizeof(ip), &opts.received,
                  &opts.rport);
    opts.extra_headers = extra_headers;
    int err = sip_build_reply(&out, &pkt->msg, code, reason, &opts);
    if (err) {
        log_msg(LOG_LVL_ERR, (struct sockaddr *)&pkt->src.ss, pkt->msg.call_id,
                "cannot build a %u reply: %s", code, strerror(err));
        stat_inc(&st->send_errors);
        return err;
    }
    sip_reply_dest(&pkt->msg, &pkt->src, &dst);
    err = net_send(pkt->sock, (struct sockaddr *)&dst.ss, dst.len, out.p, out.len);
    if (err) {
        stat_inc(&st->send_errors);
        log_msg(LOG_LVL_ERR, (struct sockaddr *)&dst.ss, pkt->msg.call_id,
                "sending a %u reply failed: %s", code, strerror(err));
        return err;
    }
    if (code >= 100 && code < 700) {
        stat_inc(&st->replies[code / 100]);
        stat_inc(&st->reply_codes[code - 100]);
    }
    return 0;
}

int sip_ctx_reply(struct sip_ctx *ctx, unsigned code, struct slice reason,
                  struct slice extra_headers)
{
    int err = sip_send_reply(ctx->pkt, ctx->stats, code, reason, extra_headers, ctx->worker->out,
                             sizeof(ctx->worker->out));
    if (err == 0 && code >= 200)
        ctx->replied = true;
    return err;
}

static uint16_t uri_port(const struct sip_uri *uri)
{
    if (uri->port)
        return uri->port;
    return uri->scheme_id == SIP_URI_SIPS ? 5061 : 5060;
}

static bool host_is_listen(const struct net_listen *l, const struct sip_uri *uri)
{
    if (uri->host_type == SIP_HOST_NAME)
        return false;
    struct net_addr a;
    if (net_addr_from_ip(uri->host.p, uri->host.len, l->port, &a) != 0)
        return false;
    return net_addr_eq((struct sockaddr *)&a.ss, (struct sockaddr *)&l->addr.ss);
}

bool sip_uri_is_myself(const struct sip_core_cfg *core, const struct sip_uri *uri)
{
    if (uri->scheme_id != SIP_URI_SIP && uri->scheme_id != SIP_URI_SIPS)
        return false;
    uint16_t port = uri_port(uri);
    for (size_t i = 0; i < core->listen_n; i++) {
        const struct net_listen *l = &core->listens[i];
        if (l->port == port && host_is_listen(l, uri))
            return true;
    }
    for (size_t i = 0; i < core->alias_n; i++) {
        if (!slice_caseeq(core->alias_hosts[i], uri->host))
            continue;
        if (core->alias_ports[i] == 0) {
            for (size_t j = 0; j < core->listen_n; j++)
                if (core->listens[j].port == port)
                    return true;
        } else if (core->alias_ports[i] == port) {
            return true;
        }
    }
    return false;
}
