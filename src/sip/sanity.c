/* sanity.c: the receiver's verdict on a parsed message (RFC 3261 8.2, 16.3; RFC 4475). */
#include "sip/sip_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void reply(struct sip_verdict *v, unsigned code, const char *detail)
{
    v->action = SIP_REPLY;
    v->code = code;
    if (detail)
        snprintf(v->reason_buf, sizeof(v->reason_buf), "%s: %s", sip_status_reason(code), detail);
    else
        snprintf(v->reason_buf, sizeof(v->reason_buf), "%s", sip_status_reason(code));
    v->reason = v->reason_buf;
}

static void drop(struct sip_verdict *v, const char *why)
{
    v->action = SIP_DROP;
    v->code = 0;
    v->reason = why;
}

static bool is_broadcast(struct slice host)
{
    return slice_eq_str(host, "255.255.255.255");
}

static bool tag_supported(struct slice tag, const struct sip_sanity_cfg *cfg)
{
    if (!cfg || !cfg->proxy_require_supported)
        return false;
    for (const char *const *s = cfg->proxy_require_supported; *s; s++)
        if (slice_caseeq_str(tag, *s))
            return true;
    return false;
}

/* Collects the Proxy-Require tags this proxy does not support; true when any. */
static bool unsupported_tags(const struct sip_msg *msg, const struct sip_sanity_cfg *cfg,
                             struct sip_verdict *v)
{
    size_t used = 0;
    bool any = false;

    v->unsupported[0] = '\0';
    for (const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_PROXY_REQUIRE); h;
         h = sip_msg_hdr_next(msg, h)) {
        struct sip_list_iter it;
        struct slice tag;
        sip_list_iter_init(&it, h->value);
        while (sip_list_next(&it, &tag)) {
            if (tag_supported(tag, cfg))
                continue;
            any = true;
            int n = snprintf(v->unsupported + used, sizeof(v->unsupported) - used, "%s%.*s",
                             used ? ", " : "", (int)tag.len, tag.p);
            if (n < 0 || (size_t)n >= sizeof(v->unsupported) - used)
                return any; /* the list is cut; the reply still names most */
            used += (size_t)n;
        }
    }
    return any;
}

static void sanity_request(struct sip_msg *msg, const struct sip_sanity_cfg *cfg,
                           struct sip_verdict *v)
{
    const char *why;

    if (msg->ruri.scheme_id == SIP_URI_OTHER) {
        reply(v, 416, NULL);
        return;
    }
    if (slice_present(msg->ruri.headers)) {
        reply(v, 400, "headers in Request-URI");
        return;
    }
    if (!slice_eq(msg->cseq.method, msg->method)) {
        /* RFC 4475 3.1.2.18: an unknown method cannot be judged, so 501 */
        if (msg->method_id == SIP_METHOD_OTHER)
            reply(v, 501, NULL);
        else
            reply(v, 400, "CSeq method does not match the request method");
        return;
    }
    /* the lazy decoders allocate: out of memory is a drop, and it sets no reason */
    int ret = sip_msg_vias(msg, &why);
    if (ret == ENOMEM) {
        drop(v, "out of memory");
        return;
    }
    if (ret != 0) {
        char detail[120];
        if (strstr(why, "Via"))
            snprintf(detail, sizeof(detail), "%s", why);
        else
            snprintf(detail, sizeof(detail), "bad Via: %s", why);
        reply(v, 400, detail);
        return;
    }
    if (slice_eq_str(msg->via.branch, "z9hG4bK")) {
        reply(v, 400, "Via branch is only the magic cookie");
        return;
    }
    ret = sip_msg_contacts(msg, &why);
    if (ret == ENOMEM) {
        drop(v, "out of memory");
        return;
    }
    if (ret != 0) {
        char detail[120];
        snprintf(detail, sizeof(detail), "bad Contact: %s", why);
        reply(v, 400, detail);
        return;
    }
    if (unsupported_tags(msg, cfg, v)) {
        reply(v, 420, NULL);
        return;
    }
}

static void sanity_response(struct sip_msg *msg, struct sip_verdict *v)
{
    const char *why;

    if (sip_msg_vias(msg, &why) != 0) {
        drop(v, "response with a bad Via");
        return;
    }
    for (unsigned i = 0; i < msg->via_n; i++) {
        const struct sip_via *via = &msg->vias[i];
        if (is_broadcast(via->host) || is_broadcast(via->received) || is_broadcast(via->maddr)) {
            drop(v, "response Via points at the broadcast address");
            return;
        }
    }
}

void sip_sanity(struct sip_msg *msg, int parse_ret, const struct sip_error *err,
                const struct sip_sanity_cfg *cfg, struct sip_verdict *v)
{
    v->action = SIP_ACCEPT;
    v->code = 0;
    v->reason = "";
    v->unsupported[0] = '\0';
    v->reason_buf[0] = '\0';

    if (parse_ret == ENOMEM) {
        drop(v, "out of memory");
        return;
    }
    if (parse_ret) {
        /* A reply needs a request whose header lines were split and that
         * carries a Via; responses and ACKs are never answered. */
        if (!msg->is_request || !msg->headers_ok || err->status == 0 ||
            msg->method_id == SIP_METHOD_ACK || !sip_msg_hdr(msg, SIP_HDR_VIA)) {
            drop(v, err->reason ? err->reason : "malformed message");
            return;
        }
        reply(v, err->status, err->status == 400 ? err->reason : NULL);
        return;
    }
    if (!msg->is_request) {
        sanity_response(msg, v);
        return;
    }
    sanity_request(msg, cfg, v);
    if (v->action == SIP_REPLY && msg->method_id == SIP_METHOD_ACK)
        drop(v, v->reason); /* RFC 3261 17: an ACK is never answered */
}
