/* build.c: replies and forwarded requests, copying untouched bytes as they stand. */
#include "sip/sip_int.h"

#include "core/fmt.h"
#include "core/hash.h"

#include <errno.h>

static int put(struct sip_buf *b, const char *p, size_t n)
{
    if (n > b->cap - b->len)
        return ENOSPC;
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

static int put_slice(struct sip_buf *b, struct slice s)
{
    return put(b, s.p, s.len);
}

static int put_str(struct sip_buf *b, const char *s)
{
    return put(b, s, strlen(s));
}

static int put_uint(struct sip_buf *b, unsigned long v)
{
    char tmp[FMT_U64_MAX];
    return put(b, tmp, fmt_u64(tmp, v));
}

/* Writes the first Via header line with ;received= and the rport value
 * filled in, keeping every other value of that line as written. A received
 * parameter already there is replaced, not repeated. */
static int put_top_via(struct sip_buf *b, const struct sip_msg *msg, const struct sip_hdr *h,
                       struct slice received, unsigned rport)
{
    const struct sip_via *via = &msg->via;
    bool fill_rport = rport && via->rport && via->rport_value.len == 0;
    bool set_received = slice_present(received);
    int err = 0;

    if (!msg->keys_ok || (!set_received && !fill_rport))
        return put_slice(b, h->line);
    const char *vs = via->raw.p, *ve = slice_end(via->raw), *copied = vs;
    struct sip_param_iter it;
    struct sip_param prm;

    err |= put_str(b, "Via: ");
    sip_param_iter_init(&it, via->params);
    while (sip_param_next(&it, &prm)) {
        const char *name_end = slice_end(prm.name);
        if (fill_rport && SLICE_IEQ(prm.name, "rport")) {
            err |= put(b, copied, (size_t)(name_end - copied));
            err |= put_str(b, "=");
            err |= put_uint(b, rport);
            copied = slice_present(prm.value) ? slice_end(prm.value) : name_end;
        } else if (set_received && SLICE_IEQ(prm.name, "received")) {
            const char *semi = prm.name.p;
            while (semi > copied && *semi != ';')
                semi--;
            err |= put(b, copied, (size_t)(semi - copied));
            copied = slice_present(prm.value) ? slice_end(prm.value) : name_end;
        }
    }
    err |= put(b, copied, (size_t)(ve - copied));
    if (set_received) {
        err |= put_str(b, ";received=");
        err |= put_slice(b, received);
    }
    /* the rest of this header line (further comma-separated values) */
    const char *line_end = slice_end(h->value);
    err |= put(b, ve, (size_t)(line_end - ve));
    err |= put_str(b, "\r\n");
    return err ? ENOSPC : 0;
}

void sip_to_tag(const struct sip_msg *req, char out[16])
{
    /* FNV-1a over the values that identify a request and stay the same
     * in its retransmissions. Not a secret: To tags need only be unique. */
    uint64_t h = HASH_FNV1A_INIT;
    struct slice parts[4] = {req->call_id, req->from.tag, req->via.branch, SLICE_NULL};
    char num[FMT_U64_MAX];
    parts[3] = slice_make(num, fmt_u64(num, req->cseq.number));
    for (int i = 0; i < 4; i++)
        h = hash_fnv1a(hash_fnv1a(h, parts[i].p, parts[i].len), "\xff", 1); /* separated */
    static const char hex[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--) {
        out[i] = hex[h & 15];
        h >>= 4;
    }
}

int sip_build_reply(struct sip_buf *out, const struct sip_msg *req, unsigned code,
                    struct slice reason, const struct sip_reply_opts *opts)
{
    static const struct sip_reply_opts none;
    int err = 0;
    bool first_via = true;

    if (!req->is_request || !req->headers_ok || code < 100 || code > 699)
        return EINVAL;
    if (!opts)
        opts = &none;
    if (!slice_present(reason))
        reason = slice_from_str(sip_status_reason(code));
    size_t start = out->len;
    err |= put_str(out, "SIP/2.0 ");
    err |= put_uint(out, code);
    err |= put_str(out, " ");
    err |= put_slice(out, reason);
    err |= put_str(out, "\r\n");
    for (unsigned i = 0; i < req->hdr_count && !err; i++) {
        const struct sip_hdr *h = &req->hdrs[i];
        switch (h->type) {
        case SIP_HDR_VIA:
            if (first_via) {
                err |= put_top_via(out, req, h, opts->received, opts->rport);
                first_via = false;
            } else {
                err |= put_slice(out, h->line);
            }
            break;
        case SIP_HDR_TO:
            if (code > 100 && req->keys_ok && !slice_present(req->to.tag)) {
                char tag[16];
                struct slice t = opts->to_tag;
                if (!slice_present(t)) {
                    sip_to_tag(req, tag);
                    t = slice_make(tag, sizeof(tag));
                }
                err |= put_str(out, "To: ");
                err |= put_slice(out, req->to.raw);
                err |= put_str(out, ";tag=");
                err |= put_slice(out, t);
                err |= put_str(out, "\r\n");
            } else {
                err |= put_slice(out, h->line);
            }
            break;
        case SIP_HDR_FROM:
        case SIP_HDR_CALL_ID:
        case SIP_HDR_CSEQ:
            err |= put_slice(out, h->line);
            break;
        default:
            break;
        }
    }
    err |= put_slice(out, opts->extra_headers);
    if (opts->body.len) {
        err |= put_str(out, "Content-Type: ");
        err |= put_slice(out, opts->content_type);
        err |= put_str(out, "\r\n");
    }
    err |= put_str(out, "Content-Length: ");
    err |= put_uint(out, opts->body.len);
    err |= put_str(out, "\r\n\r\n");
    err |= put_slice(out, opts->body);
    if (err) {
        out->len = start;
        return ENOSPC;
    }
    return 0;
}

int sip_build_request(struct sip_buf *out, const struct sip_msg *req,
                      const struct sip_fwd_opts *opts)
{
    static const struct sip_fwd_opts none = {.max_forwards = -1};
    int err = 0;
    unsigned r = 0;
    bool first_via = true;

    if (!req->is_request || !req->keys_ok)
        return EINVAL;
    if (!opts)
        opts = &none;
    size_t start = out->len;
    err |= put_slice(out, req->method);
    err |= put_str(out, " ");
    err |= put_slice(out, slice_present(opts->new_ruri) ? opts->new_ruri : req->ruri_text);
    err |= put_str(out, " SIP/2.0\r\n");
    err |= put_slice(out, opts->prepend);
    /* copy runs of untouched header lines with one memcpy each */
    const char *run = req->hdr_count ? req->hdrs[0].line.p : NULL;
    for (unsigned i = 0; i < req->hdr_count && !err; i++) {
        const struct sip_hdr *h = &req->hdrs[i];
        bool removed = r < opts->remove_n && opts->remove[r] == i;
        bool top_via = h->type == SIP_HDR_VIA && first_via;
        bool mf = h->type == SIP_HDR_MAX_FORWARDS && opts->max_forwards >= 0;
        if (removed)
            r++;
        if (h->type == SIP_HDR_VIA)
            first_via = false;
        if (!removed && !mf &&
            !(top_via && (slice_present(opts->received) || opts->rport)))
            continue;
        err |= put(out, run, (size_t)(h->line.p - run));
        run = slice_end(h->line);
        if (removed)
            continue;
        if (mf) {
            err |= put_str(out, "Max-Forwards: ");
            err |= put_uint(out, (unsigned)opts->max_forwards);
            err |= put_str(out, "\r\n");
        } else {
            err |= put_top_via(out, req, h, opts->received, opts->rport);
        }
    }
    if (run)
        err |= put(out, run, (size_t)(slice_end(req->hdrs[req->hdr_count - 1].line) - run));
    if (opts->max_forwards >= 0 && !sip_msg_hdr(req, SIP_HDR_MAX_FORWARDS)) {
        err |= put_str(out, "Max-Forwards: ");
        err |= put_uint(out, (unsigned)opts->max_forwards);
        err |= put_str(out, "\r\n");
    }
    err |= put_slice(out, opts->append);
    if (!sip_msg_hdr(req, SIP_HDR_CONTENT_LENGTH)) {
        err |= put_str(out, "Content-Length: ");
        err |= put_uint(out, req->body.len);
        err |= put_str(out, "\r\n");
    }
    err |= put_str(out, "\r\n");
    err |= put_slice(out, req->body);
    if (err) {
        out->len = start;
        return ENOSPC;
    }
    return 0;
}
