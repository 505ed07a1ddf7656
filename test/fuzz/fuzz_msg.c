/* fuzz_msg.c: libFuzzer driver for message parsing, framing, the sanity verdict, the lazy
 * decoders and the builder, with the builder's output re-parsed as an invariant. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sip.h"

/*
 * The last input byte holds the knobs, so every seed is a plain message:
 *   bit 0: stream mode (framed by sip_stream_frame, parsed with SIP_PARSE_STREAM);
 *          otherwise datagram mode over the whole input
 *   bit 1: the reply gets ;received= and an rport value (what a UDP receiver does)
 *   bit 2: the forwarded request gets a new Request-URI and loses its first Route
 * A torture file ends in LF (0x0a): datagram, received/rport on, R-URI kept.
 *   bit 4: the arena may grow by one 4 KiB chunk only, so growing the header
 *          table or a decoded list runs out (the ENOMEM paths)
 */
enum {
    KNOB_STREAM = 1u << 0,
    KNOB_RECEIVED = 1u << 1,
    KNOB_RETARGET = 1u << 2,
    KNOB_SMALL_ARENA = 1u << 4,
};

#define ARENA_LIMIT (1u << 20)
#define SMALL_ARENA_LIMIT 4096u
#define OUT_CAP (3u * 65536u)

/* The builder may add a few header lines and bytes to a message that was at
 * the default limits; the invariant is about syntax, so re-parse with room. */
static const struct sip_limits reparse_limits = {
    .max_msg_len = OUT_CAP,
    .max_headers = 1024,
    .max_header_len = 65536,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void invariant_failed(const char *what, const char *why, const char *buf, size_t len)
{
    fprintf(stderr, "fuzz_msg: %s: %s\n--- output (%zu bytes) ---\n%.*s\n---\n", what, why, len,
            (int)len, buf);
    abort();
}

/* The builder's output must parse again and keep the transaction keys. */
static void check_reparse(const char *what, const struct sip_msg *orig, const struct sip_buf *out,
                          unsigned flags, unsigned code)
{
    struct arena arena;
    struct sip_msg m;
    struct sip_error err;
    char *copy = malloc(out->len ? out->len : 1);

    if (!copy)
        return;
    memcpy(copy, out->p, out->len);
    arena_init(&arena, NULL, 0, ARENA_LIMIT);
    int ret = sip_msg_parse(&m, &arena, copy, out->len, &reparse_limits, flags, &err);
    if (ret == ENOMEM)
        goto out;
    if (ret != 0) {
        char why[256];
        snprintf(why, sizeof(why), "does not parse: %s%s%s at offset %zu",
                 err.reason ? err.reason : "?", err.detail ? ": " : "",
                 err.detail ? err.detail : "", err.offset);
        invariant_failed(what, why, out->p, out->len);
    }
    if (!slice_eq(m.call_id, orig->call_id))
        invariant_failed(what, "Call-ID changed", out->p, out->len);
    if (m.cseq.number != orig->cseq.number || !slice_eq(m.cseq.method, orig->cseq.method))
        invariant_failed(what, "CSeq changed", out->p, out->len);
    if (!slice_eq(m.from.raw, orig->from.raw))
        invariant_failed(what, "From changed", out->p, out->len);
    if (code) {
        if (m.is_request || m.status != code)
            invariant_failed(what, "wrong status line", out->p, out->len);
    } else {
        if (!m.is_request || !slice_eq(m.method, orig->method) ||
            !slice_eq(m.body, orig->body))
            invariant_failed(what, "method or body changed", out->p, out->len);
        /* Forwarding copies untouched bytes as they stand, so forwarding the
         * forwarded request again without edits changes nothing. */
        struct sip_buf again = {.p = malloc(out->len + 1), .len = 0, .cap = out->len + 1};
        if (!again.p)
            abort();
        if (sip_build_request(&again, &m, NULL) != 0 || again.len != out->len ||
            memcmp(again.p, out->p, out->len) != 0)
            invariant_failed(what, "forwarding again without edits changed the request",
                             again.p, again.len);
        free(again.p);
    }
out:
    arena_free(&arena);
    free(copy);
}

static void exercise_decoders(struct sip_msg *msg)
{
    const char *why;
    char tag[16];

    (void)sip_msg_vias(msg, &why);
    (void)sip_msg_contacts(msg, &why);
    (void)sip_msg_expires(msg, &why);
    (void)sip_msg_auth(msg, false, &why);
    (void)sip_msg_auth(msg, true, &why);
    /* a second call must come from the cache and agree */
    (void)sip_msg_vias(msg, &why);
    for (unsigned t = 0; t < SIP_HDR_COUNT; t++)
        for (const struct sip_hdr *h = sip_msg_hdr(msg, t); h; h = sip_msg_hdr_next(msg, h))
            if (h->type != t)
                abort();
    (void)sip_msg_hdr_by_name(msg, SLICE_LIT("X-Fuzz"));
    if (msg->keys_ok)
        sip_to_tag(msg, tag);
}

static void build_reply(const struct sip_msg *msg, const struct sip_verdict *v, unsigned knobs,
                        unsigned flags, struct sip_buf *out)
{
    struct sip_reply_opts opts = {0};
    unsigned code = v->action == SIP_REPLY ? v->code : 200;
    struct slice reason = v->action == SIP_REPLY ? slice_from_str(v->reason) : SLICE_NULL;

    if (!msg->is_request || !msg->headers_ok)
        return;
    if (knobs & KNOB_RECEIVED) {
        opts.received = SLICE_LIT("192.0.2.1");
        opts.rport = 5060;
    }
    if (v->code == 420)
        opts.extra_headers = SLICE_LIT("Unsupported: fuzz\r\n");
    if (v->action == SIP_ACCEPT && msg->method_id == SIP_METHOD_OPTIONS) {
        opts.content_type = SLICE_LIT("text/plain");
        opts.body = SLICE_LIT("fuzz\r\n");
    }
    out->len = 0;
    int ret = sip_build_reply(out, msg, code, reason, &opts);
    if (ret == ENOSPC)
        return;
    if (ret != 0)
        invariant_failed("sip_build_reply", "refused a request with headers_ok", out->p, 0);
    /* Without the keys the raw lines are echoed and may lack Call-ID or CSeq. */
    if (msg->keys_ok)
        check_reparse("sip_build_reply", msg, out, flags, code);
}

static void build_request(const struct sip_msg *msg, unsigned knobs, unsigned flags,
                          struct sip_buf *out)
{
    struct sip_fwd_opts opts = {.max_forwards = -1};
    uint16_t remove[1];

    if (!msg->is_request || !msg->keys_ok)
        return;
    opts.prepend = SLICE_LIT("Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKfuzz0\r\n");
    opts.append = SLICE_LIT("Record-Route: <sip:192.0.2.1;lr>\r\n");
    opts.max_forwards = msg->max_forwards > 0 ? msg->max_forwards - 1 : 70;
    if (knobs & KNOB_RECEIVED) {
        opts.received = SLICE_LIT("192.0.2.2");
        opts.rport = 5062;
    }
    if (knobs & KNOB_RETARGET) {
        opts.new_ruri = SLICE_LIT("sip:alice@[2001:db8::1]:5070;transport=tcp");
        const struct sip_hdr *route = sip_msg_hdr(msg, SIP_HDR_ROUTE);
        if (route) {
            remove[0] = (uint16_t)(route - msg->hdrs);
            opts.remove = remove;
            opts.remove_n = 1;
        }
    }
    out->len = 0;
    int ret = sip_build_request(out, msg, &opts);
    if (ret == ENOSPC)
        return;
    if (ret != 0)
        invariant_failed("sip_build_request", "refused a request with keys_ok", out->p, 0);
    check_reparse("sip_build_request", msg, out, flags, 0);
}

/* Parses buf[0..len) (an exact-size heap copy) and runs everything on the result. */
static void run_message(const char *buf, size_t len, unsigned flags, unsigned knobs,
                        struct sip_buf *out)
{
    struct arena arena;
    struct sip_msg msg;
    struct sip_error err;
    struct sip_verdict v;
    static const char *const supported[] = {"fuzz-ext", NULL};
    const struct sip_sanity_cfg cfg = {.proxy_require_supported = supported};

    arena_init(&arena, NULL, 0, (knobs & KNOB_SMALL_ARENA) ? SMALL_ARENA_LIMIT : ARENA_LIMIT);
    int ret = sip_msg_parse(&msg, &arena, buf, len, NULL, flags, &err);
    if (ret == 0 && (slice_end(msg.data) > buf + len || msg.data.p < buf))
        abort();
    /* buf is what sip_stream_frame() framed: the parser must agree on where
     * the message ends */
    if ((flags & SIP_PARSE_STREAM) && ret == 0 &&
        (msg.trailing != 0 || slice_end(msg.body) != buf + len))
        invariant_failed("stream framing", "the parser saw trailing octets", buf, len);
    if ((flags & SIP_PARSE_STREAM) && ret == EBADMSG &&
        (!strcmp(err.reason, "Content-Length larger than the body") ||
         !strcmp(err.reason, "no empty line after the headers") ||
         !strcmp(err.reason, "missing Content-Length")))
        invariant_failed("stream framing", err.reason, buf, len);
    if (ret != 0 && ret != ENOMEM && ret != EBADMSG && ret != EMSGSIZE)
        abort();
    if (ret != 0 && ret != ENOMEM && !err.reason)
        abort(); /* every failure names its fault */
    sip_sanity(&msg, ret, &err, &cfg, &v);
    if (ret == ENOMEM && v.action != SIP_DROP)
        abort(); /* out of memory is a drop, never a reply from a half-parsed table */
    if (!v.reason)
        abort();
    exercise_decoders(&msg);
    if (v.action == SIP_REPLY || v.action == SIP_ACCEPT)
        build_reply(&msg, &v, knobs, flags, out);
    if (ret == 0)
        build_request(&msg, knobs, flags, out);
    arena_free(&arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned knobs = data[size - 1];
    char *buf = malloc(size);
    struct sip_buf out = {.p = malloc(OUT_CAP), .len = 0, .cap = OUT_CAP};

    if (!buf || !out.p)
        abort();
    memcpy(buf, data, size);

    size_t skip = 0, msg_len = 0;
    struct sip_error err;
    int fret = sip_stream_frame(buf, size, NULL, &skip, &msg_len, &err);
    if (fret == 0 && (skip > size || msg_len > size - skip))
        abort();
    if (fret != 0 && fret != ENODATA && fret != EBADMSG && fret != EMSGSIZE)
        abort();

    if ((knobs & KNOB_STREAM) && fret == 0) {
        /* a receiver parses exactly the framed bytes: copy them so that a
         * read past the frame is a read past the allocation */
        char *framed = malloc(msg_len ? msg_len : 1);
        if (!framed)
            abort();
        memcpy(framed, buf + skip, msg_len);
        run_message(framed, msg_len, SIP_PARSE_STREAM, knobs, &out);
        free(framed);
    } else {
        run_message(buf, size, 0, knobs, &out);
    }
    free(out.p);
    free(buf);
    return 0;
}
