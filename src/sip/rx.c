/* rx.c: the receiver side: parse a datagram, apply the sanity verdict, reply, drop or dispatch. */
#include "sip/proc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/log.h"

/* The arena's first block lives in the packet's own allocation: enough for
 * the header table of an ordinary message and its Vias and Contacts. */
#define PKT_ARENA_FIRST 3072u
/* Lazily decoded values of one message may take at most this much more. */
#define PKT_ARENA_LIMIT (256u * 1024u)

unsigned sip_callid_hash(struct slice call_id)
{
    uint64_t h = hash_fnv1a(HASH_FNV1A_INIT, call_id.p, call_id.len);
    return (unsigned)(h ^ (h >> 32));
}

static struct sip_pkt *pkt_alloc(const struct net_dgram *d)
{
    struct sip_pkt *pkt = malloc(sizeof(*pkt) + PKT_ARENA_FIRST + d->len);
    if (!pkt)
        return NULL;
    char *first = (char *)(pkt + 1);
    arena_init(&pkt->arena, first, PKT_ARENA_FIRST, PKT_ARENA_LIMIT);
    pkt->data = first + PKT_ARENA_FIRST;
    memcpy(pkt->data, d->data, d->len);
    pkt->len = d->len;
    pkt->sock = d->sock;
    pkt->src = d->src;
    return pkt;
}

void sip_rx_datagram(void *arg, const struct net_dgram *d)
{
    struct sip_rx *rx = arg;
    struct sip_stats *st = rx->stats;
    struct sip_error err;
    struct sip_verdict v;
    char buf[8192];

    /* RFC 5626 keep-alives: a bare CRLF (or CRLFCRLF) is not a message */
    if (d->len <= 4) {
        size_t i = 0;
        while (i < d->len && (d->data[i] == '\r' || d->data[i] == '\n'))
            i++;
        if (i == d->len)
            return;
    }
    struct sip_pkt *pkt = pkt_alloc(d);
    if (!pkt) {
        stat_inc(&st->dropped);
        return;
    }
    int ret = sip_msg_parse(&pkt->msg, &pkt->arena, pkt->data, pkt->len, &rx->limits, 0, &err);
    if (pkt->msg.is_request)
        stat_inc(&st->requests);
    else
        stat_inc(&st->responses);
    if (ret) {
        stat_inc(&st->parse_errors);
        sip_stats_reason(st, err.reason);
    }
    sip_sanity(&pkt->msg, ret, &err, &rx->sanity, &v);
    switch (v.action) {
    case SIP_DROP:
        stat_inc(&st->dropped);
        if (log_enabled(LOG_LVL_INFO))
            log_msg(LOG_LVL_INFO, (struct sockaddr *)&d->src.ss, pkt->msg.call_id,
                    "dropped: %s", v.reason);
        sip_pkt_free(pkt);
        return;
    case SIP_REPLY: {
        char extra[300];
        struct slice x = SLICE_NULL;
        if (v.code == 420 && v.unsupported[0]) {
            int n = snprintf(extra, sizeof(extra), "Unsupported: %s\r\n", v.unsupported);
            x = slice_make(extra, (size_t)n < sizeof(extra) ? (size_t)n : sizeof(extra) - 1);
        }
        if (log_enabled(LOG_LVL_INFO))
            log_msg(LOG_LVL_INFO, (struct sockaddr *)&d->src.ss, pkt->msg.call_id,
                    "replied %u %s", v.code, v.reason);
        sip_send_reply(pkt, st, v.code, slice_from_str(v.reason), x, buf, sizeof(buf));
        sip_pkt_free(pkt);
        return;
    }
    case SIP_ACCEPT:
        break;
    }
    unsigned w = sip_callid_hash(pkt->msg.call_id);
    if (net_dispatch(d->rt, w, &pkt->item) == 0)
        return;
    stat_inc(&st->overload);
    if (pkt->msg.is_request && pkt->msg.method_id != SIP_METHOD_ACK)
        sip_send_reply(pkt, st, 503, SLICE_LIT("Service Unavailable"),
                       SLICE_LIT("Retry-After: 5\r\n"), buf, sizeof(buf));
    sip_pkt_free(pkt);
}
