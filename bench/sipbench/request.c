/* request.c: building REGISTER and OPTIONS, reading challenges, computing digest answers. */
#include "request.h"

#include <errno.h>
#include <string.h>

#include "core/fmt.h"

void sb_hex32(char out[8], uint32_t v)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 7; i >= 0; i--) {
        out[i] = hex[v & 15];
        v >>= 4;
    }
}

size_t sb_request_build(char *buf, size_t cap, const struct sb_request *r)
{
    struct fmt o = fmt_init(buf, cap);
    bool reg = r->method == SIP_METHOD_REGISTER;
    struct slice method = reg ? SLICE_LIT("REGISTER") : SLICE_LIT("OPTIONS");
    char branch[16];

    sb_hex32(branch, r->branch_slot);
    sb_hex32(branch + 8, r->branch_gen);
    fmt_slice(&o, method);
    fmt_str(&o, " ");
    fmt_slice(&o, r->ruri);
    fmt_str(&o, " SIP/2.0\r\nVia: SIP/2.0/UDP ");
    fmt_slice(&o, r->sent_by);
    fmt_str(&o, ";rport;branch=z9hG4bKsb");
    fmt_mem(&o, branch, sizeof(branch));
    fmt_str(&o, "\r\nMax-Forwards: 70\r\nFrom: <sip:");
    if (reg)
        fmt_slice(&o, r->user);
    else
        fmt_str(&o, "sipbench");
    fmt_str(&o, "@");
    fmt_slice(&o, r->domain);
    fmt_str(&o, ">;tag=");
    fmt_slice(&o, r->from_tag);
    fmt_str(&o, "\r\nTo: <sip:");
    if (reg) {
        fmt_slice(&o, r->user);
        fmt_str(&o, "@");
    }
    fmt_slice(&o, r->domain);
    fmt_str(&o, ">\r\nCall-ID: ");
    fmt_slice(&o, r->call_id);
    fmt_str(&o, "\r\nCSeq: ");
    fmt_u(&o, r->cseq);
    fmt_str(&o, " ");
    fmt_slice(&o, method);
    if (reg) {
        fmt_str(&o, "\r\nContact: <sip:");
        fmt_slice(&o, r->user);
        fmt_str(&o, "@");
        fmt_slice(&o, r->sent_by);
        fmt_str(&o, ">\r\nExpires: ");
        fmt_u(&o, r->expires);
    }
    fmt_str(&o, "\r\n");
    if (slice_present(r->authorization))
        fmt_slice(&o, r->authorization);
    fmt_str(&o, "User-Agent: sipbench\r\nContent-Length: 0\r\n\r\n");
    return o.ok ? o.len : 0;
}

static bool hex8(const char *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 8; i++) {
        int d = hex_value(p[i]);
        if (d < 0)
            return false;
        v = v << 4 | (uint32_t)d;
    }
    *out = v;
    return true;
}

bool sb_branch_decode(struct slice branch, uint32_t *slot, uint32_t *gen)
{
    if (branch.len != SB_BRANCH_LEN || memcmp(branch.p, "z9hG4bKsb", 9) != 0)
        return false;
    return hex8(branch.p + 9, slot) && hex8(branch.p + 17, gen);
}

/* Does the comma-separated qop list (unquoted) hold the token "auth"? */
static bool qop_has_auth(struct slice qop)
{
    struct sip_list_iter it;
    struct slice item;
    sip_list_iter_init(&it, qop);
    while (sip_list_next(&it, &item))
        if (SLICE_IEQ(item, "auth"))
            return true;
    return false;
}

int sb_challenge_pick(struct sip_msg *reply, int want, struct sb_challenge *ch)
{
    enum sip_hdr_type type;
    if (reply->status == 401)
        type = SIP_HDR_WWW_AUTHENTICATE;
    else if (reply->status == 407)
        type = SIP_HDR_PROXY_AUTHENTICATE;
    else
        return EBADMSG;
    for (const struct sip_hdr *h = sip_msg_hdr(reply, type); h; h = sip_msg_hdr_next(reply, h)) {
        struct sip_digest d;
        const char *reason;
        enum auth_alg alg;
        if (sip_digest_parse(&d, h->value, &reason) != 0 || !SLICE_IEQ(d.scheme, "digest") ||
            !slice_present(d.nonce) || !slice_present(d.realm) ||
            auth_alg_parse(d.algorithm, &alg) != 0 || (want >= 0 && (int)alg != want))
            continue;
        ch->alg = alg;
        ch->proxy = type == SIP_HDR_PROXY_AUTHENTICATE;
        ch->qop_auth = slice_present(d.qop) && qop_has_auth(d.qop);
        ch->stale = slice_present(d.stale) && SLICE_IEQ(d.stale, "true");
        ch->realm = d.realm;
        ch->nonce = d.nonce;
        ch->opaque = d.opaque;
        return 0;
    }
    return ENOENT;
}

size_t sb_credentials_build(char *buf, size_t cap, const struct sb_challenge *ch,
                            const struct sb_credentials *c)
{
    struct fmt o = fmt_init(buf, cap);
    char response[AUTH_HEX_MAX], nc[8];
    bool qop = c->qop && ch->qop_auth;

    sb_hex32(nc, c->nc);
    if (auth_response(ch->alg, c->ha1, ch->nonce, qop ? slice_make(nc, 8) : SLICE_NULL,
                      qop ? c->cnonce : SLICE_NULL, qop ? SLICE_LIT("auth") : SLICE_NULL, c->method,
                      c->uri, response) != 0)
        return 0;
    if (ch->proxy)
        fmt_str(&o, "Proxy-Authorization: Digest username=\"");
    else
        fmt_str(&o, "Authorization: Digest username=\"");
    fmt_slice(&o, c->user);
    fmt_str(&o, "\", realm=\"");
    fmt_slice(&o, ch->realm);
    fmt_str(&o, "\", nonce=\"");
    fmt_slice(&o, ch->nonce);
    fmt_str(&o, "\", uri=\"");
    fmt_slice(&o, c->uri);
    fmt_str(&o, "\", response=\"");
    fmt_mem(&o, response, strlen(response));
    fmt_str(&o, "\", algorithm=");
    const char *alg = auth_alg_name(ch->alg);
    fmt_mem(&o, alg, strlen(alg));
    if (qop) {
        fmt_str(&o, ", qop=auth, nc=");
        fmt_mem(&o, nc, sizeof(nc));
        fmt_str(&o, ", cnonce=\"");
        fmt_slice(&o, c->cnonce);
        fmt_str(&o, "\"");
    }
    if (slice_present(ch->opaque)) {
        fmt_str(&o, ", opaque=\"");
        fmt_slice(&o, ch->opaque);
        fmt_str(&o, "\"");
    }
    fmt_str(&o, "\r\n");
    return o.ok ? o.len : 0;
}
