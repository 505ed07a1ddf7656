/* request.c: building REGISTER and OPTIONS, reading challenges, computing digest answers. */
#include "request.h"

#include <errno.h>
#include <string.h>

/* A bounded writer: 'full' latches on the first write that does not fit. */
struct out {
    char *p;
    size_t len, cap;
    bool full;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->full || o->cap - o->len < n) {
        o->full = true;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void put_slice(struct out *o, struct slice s)
{
    put(o, s.p, s.len);
}

#define PUT_LIT(o, lit) put((o), "" lit, sizeof(lit) - 1)

static void put_u32(struct out *o, uint32_t v)
{
    char tmp[10];
    size_t n = 0;
    do {
        tmp[sizeof(tmp) - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(o, tmp + sizeof(tmp) - n, n);
}

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
    struct out o = {buf, 0, cap, false};
    bool reg = r->method == SIP_METHOD_REGISTER;
    struct slice method = reg ? SLICE_LIT("REGISTER") : SLICE_LIT("OPTIONS");
    char branch[16];

    sb_hex32(branch, r->branch_slot);
    sb_hex32(branch + 8, r->branch_gen);
    put_slice(&o, method);
    PUT_LIT(&o, " ");
    put_slice(&o, r->ruri);
    PUT_LIT(&o, " SIP/2.0\r\nVia: SIP/2.0/UDP ");
    put_slice(&o, r->sent_by);
    PUT_LIT(&o, ";rport;branch=z9hG4bKsb");
    put(&o, branch, sizeof(branch));
    PUT_LIT(&o, "\r\nMax-Forwards: 70\r\nFrom: <sip:");
    if (reg)
        put_slice(&o, r->user);
    else
        PUT_LIT(&o, "sipbench");
    PUT_LIT(&o, "@");
    put_slice(&o, r->domain);
    PUT_LIT(&o, ">;tag=");
    put_slice(&o, r->from_tag);
    PUT_LIT(&o, "\r\nTo: <sip:");
    if (reg) {
        put_slice(&o, r->user);
        PUT_LIT(&o, "@");
    }
    put_slice(&o, r->domain);
    PUT_LIT(&o, ">\r\nCall-ID: ");
    put_slice(&o, r->call_id);
    PUT_LIT(&o, "\r\nCSeq: ");
    put_u32(&o, r->cseq);
    PUT_LIT(&o, " ");
    put_slice(&o, method);
    if (reg) {
        PUT_LIT(&o, "\r\nContact: <sip:");
        put_slice(&o, r->user);
        PUT_LIT(&o, "@");
        put_slice(&o, r->sent_by);
        PUT_LIT(&o, ">\r\nExpires: ");
        put_u32(&o, r->expires);
    }
    PUT_LIT(&o, "\r\n");
    if (slice_present(r->authorization))
        put_slice(&o, r->authorization);
    PUT_LIT(&o, "User-Agent: sipbench\r\nContent-Length: 0\r\n\r\n");
    return o.full ? 0 : o.len;
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
    struct out o = {buf, 0, cap, false};
    char response[AUTH_HEX_MAX], nc[8];
    bool qop = c->qop && ch->qop_auth;

    sb_hex32(nc, c->nc);
    if (auth_response(ch->alg, c->ha1, ch->nonce, qop ? slice_make(nc, 8) : SLICE_NULL,
                      qop ? c->cnonce : SLICE_NULL, qop ? SLICE_LIT("auth") : SLICE_NULL, c->method,
                      c->uri, response) != 0)
        return 0;
    if (ch->proxy)
        PUT_LIT(&o, "Proxy-Authorization: Digest username=\"");
    else
        PUT_LIT(&o, "Authorization: Digest username=\"");
    put_slice(&o, c->user);
    PUT_LIT(&o, "\", realm=\"");
    put_slice(&o, ch->realm);
    PUT_LIT(&o, "\", nonce=\"");
    put_slice(&o, ch->nonce);
    PUT_LIT(&o, "\", uri=\"");
    put_slice(&o, c->uri);
    PUT_LIT(&o, "\", response=\"");
    put(&o, response, strlen(response));
    PUT_LIT(&o, "\", algorithm=");
    const char *alg = auth_alg_name(ch->alg);
    put(&o, alg, strlen(alg));
    if (qop) {
        PUT_LIT(&o, ", qop=auth, nc=");
        put(&o, nc, sizeof(nc));
        PUT_LIT(&o, ", cnonce=\"");
        put_slice(&o, c->cnonce);
        PUT_LIT(&o, "\"");
    }
    if (slice_present(ch->opaque)) {
        PUT_LIT(&o, ", opaque=\"");
        put_slice(&o, ch->opaque);
        PUT_LIT(&o, "\"");
    }
    PUT_LIT(&o, "\r\n");
    return o.full ? 0 : o.len;
}
