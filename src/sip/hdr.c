/* hdr.c: header names and methods, and the decoders of header values. */
#include "sip/sip_int.h"
#include "sip/uri_fast.h"

#include <errno.h>

static int fail(const char **reason, const char *why)
{
    *reason = why;
    return EBADMSG;
}

static const char *const method_names[] = {
    [SIP_METHOD_OTHER] = "",          [SIP_METHOD_INVITE] = "INVITE",
    [SIP_METHOD_ACK] = "ACK",         [SIP_METHOD_BYE] = "BYE",
    [SIP_METHOD_CANCEL] = "CANCEL",   [SIP_METHOD_REGISTER] = "REGISTER",
    [SIP_METHOD_OPTIONS] = "OPTIONS", [SIP_METHOD_INFO] = "INFO",
    [SIP_METHOD_PRACK] = "PRACK",     [SIP_METHOD_UPDATE] = "UPDATE",
    [SIP_METHOD_SUBSCRIBE] = "SUBSCRIBE", [SIP_METHOD_NOTIFY] = "NOTIFY",
    [SIP_METHOD_MESSAGE] = "MESSAGE", [SIP_METHOD_REFER] = "REFER",
    [SIP_METHOD_PUBLISH] = "PUBLISH",
};

/*
 * Methods are case-sensitive: exact compares. The length picks the case;
 * the name is then one word (of 5 to 7 bytes: its first and last four,
 * overlapping) compared with each name of that length. The compilers
 * fold the loads from the literals into constants.
 */
#define METHOD_KEY4(lit) (slice_load32(lit) | (uint64_t)slice_load32(&(lit)[sizeof(lit) - 5]) << 32)
#define METHOD_KEY3(lit)                                                                           \
    ((uint32_t)(unsigned char)(lit)[0] | (uint32_t)(unsigned char)(lit)[1] << 8 |                  \
     (uint32_t)(unsigned char)(lit)[2] << 16)

static inline enum sip_method method_lookup(const char *p, size_t len)
{
    uint64_t k;
    /* the methods of most requests, before the jump table */
    if (len == 6 &&
        (slice_load32(p) | (uint64_t)slice_load32(p + 2) << 32) == METHOD_KEY4("INVITE"))
        return SIP_METHOD_INVITE;
    if (len == 8 && slice_load64(p) == slice_load64("REGISTER"))
        return SIP_METHOD_REGISTER;
    switch (len) {
    case 3: {
        uint32_t k3 = (uint32_t)(unsigned char)p[0] | (uint32_t)(unsigned char)p[1] << 8 |
                      (uint32_t)(unsigned char)p[2] << 16;
        if (k3 == METHOD_KEY3("ACK"))
            return SIP_METHOD_ACK;
        if (k3 == METHOD_KEY3("BYE"))
            return SIP_METHOD_BYE;
        break;
    }
    case 4:
        if (slice_load32(p) == slice_load32("INFO"))
            return SIP_METHOD_INFO;
        break;
    case 5:
        k = slice_load32(p) | (uint64_t)slice_load32(p + 1) << 32;
        if (k == METHOD_KEY4("PRACK"))
            return SIP_METHOD_PRACK;
        if (k == METHOD_KEY4("REFER"))
            return SIP_METHOD_REFER;
        break;
    case 6:
        k = slice_load32(p) | (uint64_t)slice_load32(p + 2) << 32;
        if (k == METHOD_KEY4("INVITE"))
            return SIP_METHOD_INVITE;
        if (k == METHOD_KEY4("CANCEL"))
            return SIP_METHOD_CANCEL;
        if (k == METHOD_KEY4("UPDATE"))
            return SIP_METHOD_UPDATE;
        if (k == METHOD_KEY4("NOTIFY"))
            return SIP_METHOD_NOTIFY;
        break;
    case 7:
        k = slice_load32(p) | (uint64_t)slice_load32(p + 3) << 32;
        if (k == METHOD_KEY4("OPTIONS"))
            return SIP_METHOD_OPTIONS;
        if (k == METHOD_KEY4("MESSAGE"))
            return SIP_METHOD_MESSAGE;
        if (k == METHOD_KEY4("PUBLISH"))
            return SIP_METHOD_PUBLISH;
        break;
    case 8:
        if (slice_load64(p) == slice_load64("REGISTER"))
            return SIP_METHOD_REGISTER;
        break;
    case 9:
        if (slice_load64(p) == slice_load64("SUBSCRIB") && p[8] == 'E')
            return SIP_METHOD_SUBSCRIBE;
        break;
    }
    return SIP_METHOD_OTHER;
}

enum sip_method sip_method_lookup(struct slice name)
{
    return method_lookup(name.p, name.len);
}

const char *sip_method_name(enum sip_method m)
{
    return (unsigned)m < sizeof(method_names) / sizeof(method_names[0]) ? method_names[m] : "";
}

/* ---------------------------------------------------------------- lists */

void sip_list_iter_init(struct sip_list_iter *it, struct slice value)
{
    it->p = value.p;
    it->end = slice_end(value);
    it->empty = 0;
    it->bad = false;
}

bool sip_list_next(struct sip_list_iter *it, struct slice *item)
{
    for (;;) {
        const char *p = skip_lws(it->p, it->end), *end = it->end;
        if (p >= end)
            return false;
        const char *start = p;
        int angle = 0;
        while (p < end) {
            char c = *p;
            if (!cc_is(c, CC_LIST)) {
                p++;
                continue;
            }
            if (c == '"') {
                const char *q = sip_scan_quoted(p, end);
                if (!q) {
                    it->bad = true;
                    p = end;
                    break;
                }
                p = q;
                continue;
            }
            if (c == '<')
                angle++;
            else if (c == '>' && angle > 0)
                angle--;
            else if (c == ',' && angle == 0)
                break;
            p++;
        }
        if (angle > 0)
            it->bad = true;
        it->p = p < end ? p + 1 : end;
        /* a comma with nothing after it ends the list with an empty item */
        if (p < end && skip_lws(p + 1, end) == end)
            it->empty++;
        *item = slice_trim(slice_make(start, (size_t)(p - start)));
        if (item->len == 0) {
            it->empty++;
            continue;
        }
        return true;
    }
}

/* ---------------------------------------------------------------- Via */

/* In the order of their slices in struct sip_via, from branch on. */
static const struct sip_param_want via_want[] = {
    SIP_WANT("branch"), SIP_WANT("received"), SIP_WANT("rport"), SIP_WANT("maddr"), SIP_WANT("ttl"),
};
enum { VIA_NWANT = sizeof(via_want) / sizeof(via_want[0]) };
_Static_assert(offsetof(struct sip_via, received) == offsetof(struct sip_via, branch) +
                                                         sizeof(struct slice) &&
                   offsetof(struct sip_via, rport_value) ==
                       offsetof(struct sip_via, branch) + 2 * sizeof(struct slice) &&
                   offsetof(struct sip_via, maddr) ==
                       offsetof(struct sip_via, branch) + 3 * sizeof(struct slice) &&
                   offsetof(struct sip_via, ttl) ==
                       offsetof(struct sip_via, branch) + 4 * sizeof(struct slice),
               "the Via's parameter slices are laid out as via_want");

/* The protocol part, "SIP / 2.0 / UDP" with LWS allowed around the slashes. */
static inline const char *via_protocol(struct sip_via *via, const char *p, const char *end)
{
    const char *s;

    /* the form every phone sends, checked in one compare */
    if (end - p >= 8 && memcmp(p, "SIP/2.0/", 8) == 0) {
        via->protocol = slice_make(p, 3);
        via->version = slice_make(p + 4, 3);
        return p + 8;
    }
    s = p;
    p = skip_token(p, end);
    via->protocol = slice_make(s, (size_t)(p - s));
    p = skip_lws(p, end);
    if (via->protocol.len == 0 || p >= end || *p != '/')
        return NULL;
    p = skip_lws(p + 1, end);
    s = p;
    p = skip_token(p, end);
    via->version = slice_make(s, (size_t)(p - s));
    p = skip_lws(p, end);
    if (via->version.len == 0 || p >= end || *p != '/')
        return NULL;
    return skip_lws(p + 1, end);
}

/* A failure: the Via reads as empty. */
static int via_fail(struct sip_via *via, const char **reason, const char *why)
{
    zero_struct(via, sizeof(*via));
    return fail(reason, why);
}

#if defined(SIP_NIBBLE_SCAN)
/* The mask of the digits and dots of the 16 bytes at p; *dots gets the
 * dots'. A digit plus 0x50 is -128 to -119 as a signed byte, no other
 * byte is. */
__attribute__((target("ssse3"))) static inline unsigned via_digitdot(const char *p, unsigned *dots)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i digit = _mm_cmplt_epi8(_mm_add_epi8(v, _mm_set1_epi8(0x50)), _mm_set1_epi8(-118));
    __m128i dot = _mm_cmpeq_epi8(v, _mm_set1_epi8('.'));
    *dots = (unsigned)_mm_movemask_epi8(dot);
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(digit, dot));
}

/* A little-endian word of the first n (1 to 8) bytes of a lower-case
 * literal, shifted up to the top as via_store() compares it. */
#define VIA_KEY(lit) (slice_load64(lit "\0\0\0\0\0\0\0") << (64 - 8 * (sizeof(lit) - 1)))

/* A value for via_want's names (the n bytes at name, 8 readable) stored
 * as via_parse() leaves it after its scan: the name picked by its length,
 * then one compare of its word; rport's value kept only when not empty, a
 * bracketed received address without its brackets. 1 when stored (the
 * name is then a token: the wanted ones are letters), 0 for another name,
 * -1 for an empty branch, which a later one may still replace: the caller
 * gives up. */
static inline __attribute__((always_inline)) int via_store(struct sip_via *via, const char *name,
                                                           unsigned n, struct slice value)
{
    uint64_t w = slice_load64(name) | 0x2020202020202020ull;
    switch (n) {
    case 3:
        if (w << 40 == VIA_KEY("ttl")) {
            via->ttl = value;
            return 1;
        }
        break;
    case 5:
        if (w << 24 == VIA_KEY("rport")) {
            via->rport = true;
            via->rport_value = value.len ? value : SLICE_NULL;
            return 1;
        }
        if (w << 24 == VIA_KEY("maddr")) {
            via->maddr = value;
            return 1;
        }
        break;
    case 6:
        if (w << 16 == VIA_KEY("branch")) {
            if (value.len == 0)
                return -1;
            via->branch = value;
            return 1;
        }
        break;
    case 8:
        if (w == VIA_KEY("received")) {
            /* RFC 5118 4.5: tolerate a bracketed IPv6 reference */
            if (value.len >= 2 && value.p[0] == '[' && value.p[value.len - 1] == ']')
                value = slice_make(value.p + 1, value.len - 2);
            via->received = value;
            return 1;
        }
        break;
    default:
        break;
    }
    return 0;
}

/*
 * The port and parameters after the host at p (the Via starting at
 * start), when they have the usual shape: ":" and four digits or nothing,
 * then parameters "name=value" or "name" (a token of 1 to 15 bytes, ending
 * at '=', ';', ',' or end), each value running to the first byte no value
 * holds, then ';', a list's ',' or end. Everything via_parse() leaves for
 * them is stored, raw included, and true returned; false (LWS, quotes, an
 * empty or long name, an empty branch, another port) leaves the whole Via
 * to via_parse(), which writes every field again. 16 bytes past end must
 * be readable: every block read starts before end.
 */
static inline __attribute__((always_inline)) bool via_tail_fast(struct sip_via *via,
                                                                const char *start, const char *p,
                                                                const char *end, bool list,
                                                                const char **next)
{
    if (p >= end)
        return false;
    if (*p == ':') {
        if (end - p < 6 || p[5] != ';')
            return false;
        uint32_t w = slice_load32(p + 1);
        /* four digits: no byte with its top bit set, none that sets it
         * taking '0' away (below '0') or adding 0x46 (above '9'); a borrow
         * or carry across bytes only starts at a byte already found */
        if ((w | (w - 0x30303030u) | (w + 0x46464646u)) & 0x80808080u)
            return false;
        /* digit pairs (d0 * 10 + d1 in byte 1, d2 * 10 + d3 in byte 3),
         * then the two pairs (in bytes 2 and 3) */
        uint32_t d = w & 0x0f0f0f0fu;
        uint32_t pairs = (d * (10u << 8 | 1u)) >> 8 & 0x00ff00ffu;
        unsigned port = (pairs * (100u << 16 | 1u)) >> 16;
        if (port == 0)
            return false;
        via->port_str = slice_make(p + 1, 4);
        via->port = (uint16_t)port;
        p += 5;
    } else if (*p == ';') {
        via->port_str = SLICE_NULL;
        via->port = 0;
    } else {
        return false;
    }
    zero_struct(&via->branch, VIA_NWANT * sizeof(struct slice));
    via->rport = false;
    const char *first = p, *q;
    for (;;) { /* at a ';' before end */
        const char *name = p + 1;
        /* the name ends at the first byte no value holds: one lookup for
         * the name and the value; only a name not wanted is then checked
         * to be a token (the wanted ones are letters) */
        unsigned nonpval = param_nonpval(name);
        unsigned n = (unsigned)__builtin_ctz(nonpval);
        int got;
        q = name + n;
        if (n - 1 >= 15 || q > end) /* an empty or long name, or end inside it */
            return false;
        if (q < end && *q == '=') {
            const char *v = q + 1;
            /* the value ends at the next such byte (the '=' is the lowest
             * one in the mask), or in a block further on */
            unsigned e = (unsigned)__builtin_ctz(nonpval & (nonpval - 1));
            q = name + e;
            while (e == 16 && q < end) {
                e = (unsigned)__builtin_ctz(param_nonpval(q));
                q += e;
            }
            if (q > end)
                q = end;
            if (q == v)
                return false;
            got = via_store(via, name, n, slice_make(v, (size_t)(q - v)));
        } else {
            if (q < end && *q != ';' && *q != ',')
                return false;
            got = via_store(via, name, n, slice_make(q, 0));
        }
        if (got < 0 || (got == 0 && (param_nontoken(name) & ((1u << n) - 1))))
            return false;
        if (*q == ';' && q < end) {
            p = q;
            continue;
        }
        if (q == end || (list && *q == ','))
            break;
        return false;
    }
    via->params = slice_make(first, (size_t)(q - first));
    via->raw = slice_make(start, (size_t)(q - start));
    *next = q;
    return true;
}
#endif

#if defined(SIP_NIBBLE_SCAN)
/*
 * A whole Via of the usual shape at p, whose "SIP/2.0/UDP " (or TCP, TLS)
 * the caller has checked: a host sip_scan_host_in() takes from one
 * 16-byte block (an IPv4 address classified by digits and dots only, its
 * shape from one table lookup), then what via_tail_fast() takes. True
 * when it stored everything via_parse() would; false (anything else, an
 * error included) leaves the Via to via_parse(). 16 bytes past end are
 * readable.
 */
__attribute__((target("ssse3"))) static inline bool
via_fast(struct sip_via *via, const char *p, const char *end, bool list, const char **next)
{
    via->protocol = slice_make(p, 3);
    via->version = slice_make(p + 4, 3);
    via->transport = slice_make(p + 8, 3);
    const char *h = p + 12;
    unsigned dots, ddm = via_digitdot(h, &dots);
    unsigned n = (unsigned)__builtin_ctz(~ddm); /* bit 16 is always clear */
    if (n < 16 && end - h > n && (h[n] == ':' || h[n] == ';')) {
        /* digits and dots, then a byte no host holds: sip_scan_host_in()
         * takes them as an IPv4 address or rejects them */
        if (!sip_ipv4_dots_valid16(h, n, dots & ((1u << n) - 1)))
            return false;
        via->host_type = SIP_HOST_IPV4;
    } else {
        /* sip_scan_host_in()'s block, without its fallback */
        unsigned dashes, hm = sip_host_block(h, &ddm, &dots, &dashes);
        n = (unsigned)__builtin_ctz(~hm);
        if ((size_t)(end - h) < n)
            n = (unsigned)(end - h);
        if (n - 1u >= 15u)
            return false;
        unsigned want = (1u << n) - 1;
        dots &= want;
        dashes &= want;
        if ((ddm & want) == want || ((dots | dashes) & 1u) || (dashes >> (n - 1)) ||
            !sip_host_labels_ok(dots, dashes))
            return false;
        via->host_type = SIP_HOST_NAME;
    }
    via->host = slice_make(h, n);
    return via_tail_fast(via, p, h + n, end, list, next);
}
#endif

/* Each field is written once on the way (no zeroing first); a failure
 * zeroes the whole value. Inlined into a build for SSSE3 (simd) and one
 * without, the parameter scan with them. */
static inline __attribute__((always_inline)) int
via_parse(struct sip_via *via, const char *p, const char *end, const char *lim, bool list,
          const char **next, const char **reason, const bool simd)
{
    const char *s;

    p = skip_lws(p, end);
    const char *start = p;
    if (end - p >= 13 && memcmp(p, "SIP/2.0/UDP ", 12) == 0 && (unsigned char)p[12] > ' ') {
        /* what most Vias start with, in two compares: what the paths below
         * find for it */
        via->protocol = slice_make(p, 3);
        via->version = slice_make(p + 4, 3);
        via->transport = slice_make(p + 8, 3);
        p += 12;
    } else {
        p = via_protocol(via, p, end);
        if (!p)
            return via_fail(via, reason, "bad Via protocol");
        s = p;
        if (end - p >= 5 && p[3] == ' ' && (unsigned char)p[4] > ' ' &&
            (sip_cclass[(unsigned char)p[0]] & sip_cclass[(unsigned char)p[1]] &
             sip_cclass[(unsigned char)p[2]] & CC_TOKEN)) {
            /* "UDP " and the like, then the host: what the loops below find */
            via->transport = slice_make(s, 3);
            p += 4;
        } else {
            p = skip_token(p, end);
            via->transport = slice_make(s, (size_t)(p - s));
            if (via->transport.len == 0 || p >= end || !cc_is(*p, CC_WS))
                return via_fail(via, reason, "bad Via transport");
            p = skip_lws(p, end);
        }
    }
    p = sip_scan_host_in(p, end, lim, &via->host, &via->host_type);
    if (!p)
        return via_fail(via, reason, "bad Via sent-by host");
    const char *last = p;
    if (p < end && *p != ';' && *p != ':' && *p != ',')
        p = skip_lws(p, end);
    if (p < end && *p == ':') {
        p = skip_lws(p + 1, end);
        s = p;
        uint64_t port;
        if (sip_port4(p, end, &port)) {
            p += 4;
            via->port_str = slice_make(s, 4);
        } else {
            while (p < end && cc_is(*p, CC_DIGIT))
                p++;
            via->port_str = slice_make(s, (size_t)(p - s));
            if (slice_to_u64(via->port_str, 65535, &port) != 0)
                return via_fail(via, reason, "bad Via sent-by port");
        }
        if (port == 0)
            return via_fail(via, reason, "bad Via sent-by port");
        via->port = (uint16_t)port;
        last = p;
    } else {
        via->port_str = SLICE_NULL;
        via->port = 0;
        p = last;
    }
    /* the scan stores the wanted values straight into the Via (via_want's
     * order), rport's value to be fixed up below */
    struct slice *found = &via->branch;
    zero_struct(found, VIA_NWANT * sizeof(*found));
    if (scan_params(p, end, lim, list, via_want, VIA_NWANT, found, &via->params, next, reason,
                    simd) != 0)
        return via_fail(via, reason, "bad Via parameter");
    if (via->params.len)
        last = via->params.p + via->params.len;
    via->raw = slice_make(start, (size_t)(last - start));
    if (slice_present(via->branch) && via->branch.len == 0)
        return via_fail(via, reason, "empty Via branch");
    struct slice v = via->received;
    /* RFC 5118 4.5: tolerate a bracketed IPv6 reference */
    if (v.len >= 2 && v.p[0] == '[' && v.p[v.len - 1] == ']')
        via->received = slice_make(v.p + 1, v.len - 2);
    via->rport = slice_present(via->rport_value);
    if (via->rport_value.len == 0)
        via->rport_value = SLICE_NULL; /* absent, or present without a value */
    return 0;
}

#if defined(SIP_NIBBLE_SCAN)
__attribute__((target("ssse3"), noinline)) static int
via_parse_ssse3_slow(struct sip_via *via, const char *p, const char *end, const char *lim,
                     bool list, const char **next, const char **reason)
{
    return via_parse(via, p, end, lim, list, next, reason, true);
}

/* The fast path for the usual Via, with 16 bytes readable past end and
 * no LWS before it; the general code (a tail call, out of line so that
 * its registers and frame stay out of the fast path) where it gives up. */
__attribute__((target("ssse3"))) static int via_parse_ssse3(struct sip_via *via, const char *p,
                                                            const char *end, const char *lim,
                                                            bool list, const char **next,
                                                            const char **reason)
{
    if (lim - end < 16 || end - p < 13 || slice_load64(p) != slice_load64("SIP/2.0/"))
        return via_parse_ssse3_slow(via, p, end, lim, list, next, reason);
    uint32_t t = slice_load32(p + 8);
    if ((t != slice_load32("UDP ") && t != slice_load32("TCP ") && t != slice_load32("TLS ")) ||
        (unsigned char)p[12] <= ' ')
        return via_parse_ssse3_slow(via, p, end, lim, list, next, reason);
    if (via_fast(via, p, end, list, next))
        return 0;
    return via_parse_ssse3_slow(via, p, end, lim, list, next, reason);
}
#endif

int sip_via_parse_at_generic(struct sip_via *via, const char *p, const char *end,
                             const char *lim, bool list, const char **next, const char **reason)
{
    return via_parse(via, p, end, lim, list, next, reason, false);
}

int sip_via_parse_at(struct sip_via *via, const char *p, const char *end, const char *lim,
                     bool list, const char **next, const char **reason)
{
#if defined(SIP_NIBBLE_SCAN)
    if (sip_cpu_has_ssse3())
        return via_parse_ssse3(via, p, end, lim, list, next, reason);
#endif
    return sip_via_parse_at_generic(via, p, end, lim, list, next, reason);
}

int sip_via_parse(struct sip_via *via, struct slice text, const char **reason)
{
    const char *next, *end = slice_end(text);
    int ret = sip_via_parse_at(via, text.p, end, end, false, &next, reason);
    if (ret == 0 && skip_lws(next, end) != end)
        return fail(reason, "bad Via parameter");
    return ret;
}

/* ---------------------------------------------------------------- name-addr */

static const struct sip_param_want na_want[] = {
    SIP_WANT("tag"), SIP_WANT("expires"), SIP_WANT("q"),
};

enum { NA_NWANT = sizeof(na_want) / sizeof(na_want[0]) };
_Static_assert(offsetof(struct sip_nameaddr, expires) ==
                       offsetof(struct sip_nameaddr, tag) + sizeof(struct slice) &&
                   offsetof(struct sip_nameaddr, q) ==
                       offsetof(struct sip_nameaddr, tag) + 2 * sizeof(struct slice),
               "the name-addr's parameter slices are laid out as na_want");

/*
 * What nearly every From, To and Contact ends with: one ";tag=" or
 * ";expires=" (any case) whose value of hostname characters and '+' runs
 * to end, as one 16-byte classification per 16 bytes of value finds it.
 * Sets the parameter and params as the scan would and returns true; false
 * (nothing written) leaves everything else, LWS included, to the scan.
 */
static inline __attribute__((always_inline)) bool
na_one_param(struct sip_nameaddr *na, const char *g, const char *end, const char *lim,
             const bool simd)
{
#if defined(__SSE2__)
    if (lim - g < 16 || *g != ';')
        return false;
    const char *v;
    struct slice *dst;
    /* the letters OR-ed with 0x20, the '=' compared as it is */
    if ((slice_load32(g + 1) | slice_load32("\x20\x20\x20\x00")) == slice_load32("tag=")) {
        v = g + 5;
        dst = &na->tag;
    } else if ((slice_load64(g + 1) | slice_load64("\x20\x20\x20\x20\x20\x20\x20\x00")) ==
               slice_load64("expires=")) {
        v = g + 9;
        dst = &na->expires;
    } else {
        return false;
    }
    if (v >= end)
        return false;
    /* the run from v, over as many blocks as it takes: the value when
     * it reaches end (the bytes from end on do not matter) */
    const char *b = g, *q = v;
    unsigned other = uri_other_raw(b, simd) >> (v - b);
    while (!other) {
        b += 16;
        if (b >= end)
            break;
        if (lim - b < 16)
            return false;
        other = uri_other_raw(b, simd);
        q = b;
    }
    if (other && q + __builtin_ctz(other) < end)
        return false;
    *dst = slice_make(v, (size_t)(end - v));
    na->params = slice_make(g, (size_t)(end - g));
    return true;
#else
    (void)na;
    (void)g;
    (void)end;
    (void)lim;
    (void)simd;
    return false;
#endif
}

/* A failure before the URI was parsed: the URI reads as absent. */
static int na_fail(struct sip_nameaddr *na, const char **reason, const char *why)
{
    zero_struct(&na->uri, sizeof(na->uri));
    return fail(reason, why);
}

/* The decoder, inlined into a build for SSSE3 (simd) and one without: the
 * URI's fast path inlined in each. */
static inline __attribute__((always_inline)) int
nameaddr_parse(struct sip_nameaddr *na, const char *p, const char *end, const char *lim,
               bool allow_star, bool list, const char **next, const char **reason, const bool simd)
{
    const char *after_uri, *start, *lt = NULL;

    /* the URI is zeroed by its decoder, or by na_fail() and the star case
     * where that is not reached: each byte written once */
    zero_struct(na, offsetof(struct sip_nameaddr, uri));
    zero_struct(&na->params, sizeof(*na) - offsetof(struct sip_nameaddr, params));
    if (p < end && *p == '<') { /* the usual start: no LWS, star or display name */
        start = lt = p;
    } else {
        if (p >= end || *p != '"') { /* a quote: none of these */
            p = skip_lws(p, end);
            if (p >= end || (list && *p == ','))
                return na_fail(na, reason, "empty address");
            if (allow_star && *p == '*') {
                const char *q = skip_lws(p + 1, end);
                if (q == end || (list && *q == ',')) {
                    zero_struct(&na->uri, sizeof(na->uri));
                    na->star = true;
                    na->raw = slice_make(p, 1);
                    *next = q;
                    return 0;
                }
            }
        }
        start = p;
        if (*p == '"') {
            /* most display names hold no backslash: the closing quote in one
             * search, the escape-aware scan otherwise */
            const char *q = find_byte2_in(p + 1, end, lim, '"', '\\');
            q = q && *q == '"' ? q + 1 : sip_scan_quoted(p, end);
            if (!q)
                return na_fail(na, reason, "unterminated quoted display name");
            na->display = slice_make(p, (size_t)(q - p));
            /* one SP before the '<', as usual: what skip_lws() finds */
            if (end - q >= 2 && q[0] == ' ' && q[1] == '<') {
                lt = q + 1;
            } else {
                p = skip_lws(q, end);
                if (p >= end || *p != '<')
                    return na_fail(na, reason, "quoted display name without <URI>");
                lt = p;
            }
        } else if (*p == '<') {
            lt = p;
        } else {
            /* display name as *(token LWS) directly followed by '<', else addr-spec */
            const char *q = p;
            while (q < end && (cc_is(*q, CC_TOKEN) || cc_is(*q, CC_WS)))
                q++;
            if (q < end && *q == '<' && q > p) {
                na->display = slice_trim(slice_make(p, (size_t)(q - p)));
                lt = q;
            }
        }
    }
    if (lt) {
        const char *gt = NULL;
#if defined(__SSE2__)
        /* the common URI, decoded as it is looked for: its '>' found by
         * the same classification (it stops at end when there is none,
         * which the slow path then reports) */
        gt = uri_fast(&na->uri, lt + 1, end, lim, simd);
        if (__builtin_expect(gt && gt != end, 1)) {
            na->bracketed = true;
            na->uri_text = na->uri.raw;
            after_uri = gt + 1;
        } else
#endif
        {
            gt = find_byte_in(lt, end, lim, '>');
            if (!gt)
                return na_fail(na, reason, "missing > after <URI");
            na->bracketed = true;
            na->uri_text = slice_make(lt + 1, (size_t)(gt - lt - 1));
            after_uri = gt + 1;
            if (sip_uri_parse_in(&na->uri, na->uri_text, lim, reason) != 0)
                return EBADMSG;
        }
    } else {
        /* addr-spec: the URI ends at LWS, ';' (header parameters) or ',' */
        const char *q = p;
        while (q < end && *q != ';' && *q != ',' && !cc_is(*q, CC_WS) && *q != '?')
            q++;
        if (q < end && (*q == '?' || (*q == ',' && !list)))
            return na_fail(na, reason, "URI with ? or , outside <>");
        na->uri_text = slice_make(p, (size_t)(q - p));
        after_uri = q;
        if (sip_uri_parse_in(&na->uri, na->uri_text, lim, reason) != 0)
            return EBADMSG;
    }
    /* the scan stores the wanted values straight into tag, expires and q
     * (na_want's order), zeroed above */
    struct slice *found = &na->tag;
    if (after_uri == end || na_one_param(na, after_uri, end, lim, simd)) {
        /* no parameters (what the scan would give), or one that runs to
         * end: the value ends at end, and no tag is empty */
        if (after_uri == end)
            na->params = slice_make(end, 0);
        na->raw = slice_make(start, (size_t)(end - start));
        *next = end;
        return 0;
    }
    /* the scan of the build 'simd' selects, out of line: with the usual
     * shapes taken above, taking it in costs the common path more (saved
     * registers, spills) than the call costs the rest */
    int err;
#if defined(SIP_NIBBLE_SCAN)
    if (simd)
        err = sip_scan_params_ssse3(after_uri, end, lim, list, na_want, NA_NWANT, found,
                                    &na->params, next, reason);
    else
#endif
        err = sip_scan_params_generic(after_uri, end, lim, list, na_want, NA_NWANT, found,
                                      &na->params, next, reason);
    if (err != 0) {
        zero_struct(found, NA_NWANT * sizeof(*found));
        return EBADMSG;
    }
    const char *last = na->params.len ? slice_end(na->params) : after_uri;
    na->raw = slice_make(start, (size_t)(last - start));
    if (slice_present(na->tag) && na->tag.len == 0) {
        zero_struct(found, NA_NWANT * sizeof(*found));
        return fail(reason, "empty tag");
    }
    return 0;
}

static int nameaddr_generic(struct sip_nameaddr *na, const char *p, const char *end,
                            const char *lim, bool allow_star, bool list, const char **next,
                            const char **reason)
{
    return nameaddr_parse(na, p, end, lim, allow_star, list, next, reason, false);
}

#if defined(SIP_NIBBLE_SCAN)
__attribute__((target("ssse3"))) static int
nameaddr_ssse3(struct sip_nameaddr *na, const char *p, const char *end, const char *lim,
               bool allow_star, bool list, const char **next, const char **reason)
{
    return nameaddr_parse(na, p, end, lim, allow_star, list, next, reason, true);
}
#endif

int sip_nameaddr_parse_at(struct sip_nameaddr *na, const char *p, const char *end,
                          const char *lim, bool allow_star, bool list, const char **next,
                          const char **reason)
{
#if defined(SIP_NIBBLE_SCAN)
    if (sip_cpu_has_ssse3())
        return nameaddr_ssse3(na, p, end, lim, allow_star, list, next, reason);
#endif
    return nameaddr_generic(na, p, end, lim, allow_star, list, next, reason);
}

int sip_nameaddr_parse(struct sip_nameaddr *na, struct slice text, bool allow_star,
                       const char **reason)
{
    const char *next, *end = slice_end(text);
    int ret = sip_nameaddr_parse_at(na, text.p, end, end, allow_star, false, &next, reason);
    if (ret == 0 && skip_lws(next, end) != end)
        return fail(reason, "unexpected character after the address");
    return ret;
}

/* ---------------------------------------------------------------- CSeq */

/* sip_cseq_parse() of any form, byte by byte: out of line, so that the
 * fast path saves no registers. */
static __attribute__((noinline)) int cseq_parse_slow(struct sip_cseq *cseq, struct slice text,
                                                     const char **reason)
{
    const char *p = text.p, *end = slice_end(text), *s;

    if (p < end && (unsigned char)*p <= ' ') /* the splitter trims values: rare */
        p = skip_lws(p, end);
    s = p;
    while (p < end && cc_is(*p, CC_DIGIT))
        p++;
    int err = slice_to_u32(slice_make(s, (size_t)(p - s)), &cseq->number);
    if (err == ERANGE)
        return fail(reason, "CSeq number over 2**32-1");
    if (err)
        return fail(reason, "bad CSeq number");
    if (p >= end || !cc_is(*p, CC_WS))
        return fail(reason, "bad CSeq");
    p++; /* one SP, as usual, then the method; else the LWS loop */
    if (p < end && (unsigned char)*p <= ' ')
        p = skip_lws(p, end);
    s = p;
    p = skip_class(p, end, CC_TOKEN); /* a method: mostly six letters or more */
    cseq->method = slice_make(s, (size_t)(p - s));
    if (cseq->method.len == 0 || (p != end && skip_lws(p, end) != end))
        return fail(reason, "bad CSeq method");
    cseq->method_id = method_lookup(cseq->method.p, cseq->method.len);
    return 0;
}

int sip_cseq_parse(struct sip_cseq *cseq, struct slice text, const char **reason)
{
    const char *p = text.p, *end = slice_end(text);

    /* fast: what everybody sends, 1 to 9 digits (no overflow, as
     * slice_to_u32's inline part), one SP and a known method up to the
     * end, which proves it a token without trailing LWS */
    if (end - p >= 4 && (unsigned)(unsigned char)*p - '0' <= 9) {
        uint32_t v = (unsigned)(unsigned char)*p - '0';
        /* digits at most up to p + 8, and up to where SP and three bytes
         * of method still fit */
        const char *q = p + 1, *qmax = p + (end - p - 4 < 8 ? end - p - 4 : 8);
        while (q <= qmax && (unsigned)(unsigned char)*q - '0' <= 9)
            v = v * 10 + ((unsigned)(unsigned char)*q++ - '0');
        if (*q == ' ' && end - q >= 4) {
            enum sip_method id = method_lookup(q + 1, (size_t)(end - q - 1));
            if (id != SIP_METHOD_OTHER) {
                cseq->number = v;
                cseq->method = slice_make(q + 1, (size_t)(end - q - 1));
                cseq->method_id = id;
                return 0;
            }
        }
    }
    return cseq_parse_slow(cseq, text, reason);
}

/* ---------------------------------------------------------------- digest */

/* The first eight bytes of a name as one little-endian word, zero padded. */
#define DIGEST_WORD(lit)                                                                           \
    ((uint64_t)(unsigned char)("" lit "\0\0\0\0\0\0\0")[0] |                                       \
     (uint64_t)(unsigned char)("" lit "\0\0\0\0\0\0\0")[1] << 8 |                                  \
     (uint64_t)(unsigned char)("" lit "\0\0\0\0\0\0\0")[2] << 16 |                                 \
     (uint64_t)(unsigned char)("" lit "\0\0\0\0\0\0\0")[3] << 24 |                                 \
     (uint64_t)(unsigned char)("" lit "\0\0\0\0\0\0\0")[4] << 32 |                                 \
     (uint64_t)(unsigned char)("" lit "\0\0\0\0\0\0\0")[5] << 40 |                                 \
     (uint64_t)(unsigned char)("" lit "\0\0\0\0\0\0\0")[6] << 48 |                                 \
     (uint64_t)(unsigned char)("" lit "\0\0\0\0\0\0\0")[7] << 56)

/*
 * The slot of a digest parameter name of len bytes at n (9 bytes
 * readable there), or NULL for a name sipd does not keep: the name as one
 * little-endian word, lower-cased by OR 0x20 and cut to its length
 * (shifted left: what is past the name drops out), compared with each
 * name of that length. Every known name is letters only, and only the two
 * cases of a letter OR to a lower-case letter, so a match compares the
 * name case-insensitively and proves it a token, whatever its bytes.
 */
static inline __attribute__((always_inline)) struct slice *
digest_slot_word(struct sip_digest *d, const char *n, size_t len)
{
    uint64_t w = slice_load64(n);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    w |= 0x2020202020202020ull;
#define DIGEST_WORD_IS(lit, field)                                                                 \
    if (w << (64 - 8 * (sizeof(lit) - 1)) == DIGEST_WORD(lit) << (64 - 8 * (sizeof(lit) - 1)))     \
        return &d->field;
    switch (len) {
    case 2:
        DIGEST_WORD_IS("nc", nc)
        break;
    case 3:
        DIGEST_WORD_IS("uri", uri)
        DIGEST_WORD_IS("qop", qop)
        break;
    case 5:
        DIGEST_WORD_IS("realm", realm)
        DIGEST_WORD_IS("nonce", nonce)
        DIGEST_WORD_IS("stale", stale)
        break;
    case 6:
        DIGEST_WORD_IS("cnonce", cnonce)
        DIGEST_WORD_IS("opaque", opaque)
        DIGEST_WORD_IS("domain", domain)
        break;
    case 8:
        DIGEST_WORD_IS("username", username)
        DIGEST_WORD_IS("response", response)
        DIGEST_WORD_IS("userhash", userhash)
        break;
    case 9:
        if (w == DIGEST_WORD("algorith") && (n[8] | 0x20) == 'm')
            return &d->algorithm;
        break;
    }
    return NULL;
#undef DIGEST_WORD_IS
}

/* digest_slot_word() of a name with nothing readable past it (the general
 * loop): from a zero-padded copy, so that the two paths share one list. */
static struct slice *digest_slot(struct sip_digest *d, const char *n, size_t len)
{
    char tmp[16] = {0};

    if (len > 9)
        return NULL; /* no known name is longer */
    memcpy(tmp, n, len);
    return digest_slot_word(d, tmp, len);
}

#if defined(__SSE2__)

/*
 * The parameters in the shape every client sends, from p: a known name
 * directly followed by '=', a quoted value without backslash or a value
 * up to ',' without LWS, then ", " and the next name, or the end. The
 * name, its '=' and a short unquoted value from one 16-byte load; a
 * quoted value's closing quote 16 bytes at a time. Stops at the start of
 * the first parameter of any other shape (or where fewer than 16 bytes
 * remain readable) and returns it, for the general loop to take from
 * there once it has skipped LWS (", " then more LWS: the general loop
 * skips all of it after the ','): nothing of that parameter has been
 * written, so the loop gives the same results and reasons. NULL: all
 * parameters done. A duplicate, which the general loop would find at the
 * same point, fails here (*dup).
 */
static inline const char *digest_fast(struct sip_digest *d, const char *p, const char *end,
                                      const char *lim, bool *dup)
{
    const __m128i eqs = _mm_set1_epi8('='), comma = _mm_set1_epi8(','), space = _mm_set1_epi8(' ');
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');

    if (lim - p < 16 || p >= end)
        return p;
    const char *last = lim - 16; /* the last start of a 16-byte load */
    const char *end1 = end - 1;  /* the last start of ", " */
    while (p <= last) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        size_t e =
            (unsigned)__builtin_ctz((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, eqs)) | 0x10000u);
        /* the '=' before end (none when p is end); then a known name of 2
         * to 9 bytes (digest_slot_word's switch tests the length) */
        if (p + e >= end)
            return p;
        struct slice *dst = digest_slot_word(d, p, e);
        if (!dst)
            return p;
        const char *s = p + e + 1, *q; /* s <= end */
        struct slice value;
        if (*s == '"') {
            /* the closing quote, or a backslash first (the general loop
             * scans escapes), 16 bytes at a time; one found at or past end
             * fails the end test below */
            s++;
            for (q = s;; q += 16) {
                if (q > last) {
                    q = find_byte2_in(q, end, lim, '"', '\\');
                    if (!q)
                        return p;
                    break;
                }
                __m128i w = _mm_loadu_si128((const __m128i *)(const void *)q);
                unsigned m = (unsigned)_mm_movemask_epi8(
                    _mm_or_si128(_mm_cmpeq_epi8(w, quote), _mm_cmpeq_epi8(w, bslash)));
                if (m) {
                    q += (unsigned)__builtin_ctz(m);
                    break;
                }
            }
            if (*q == '\\')
                return p;
            value = slice_make(s, (size_t)(q - s));
            q++;
        } else {
            /* up to ',' or a byte <= ' ' (LWS, or a control byte the general
             * loop would keep in the value: not ',', so it fails below), or
             * past this block (the byte there must then be the ',') */
            unsigned m =
                (unsigned)_mm_movemask_epi8(_mm_or_si128(
                    _mm_cmpeq_epi8(v, comma), _mm_cmpeq_epi8(_mm_min_epu8(v, space), v))) >>
                (e + 1);
            q = m ? s + (unsigned)__builtin_ctz(m) : p + 16;
            if (q > end) /* none before end: the value runs to it */
                q = end;
            value = slice_make(s, (size_t)(q - s));
        }
        /* then ", " and the next name, or the end */
        uint16_t sep;
        if (q < end1 && (memcpy(&sep, q, 2), sep == (uint16_t)DIGEST_WORD(", "))) {
            if (slice_present(*dst)) {
                *dup = true;
                return p;
            }
            *dst = value;
            p = q + 2;
            continue;
        }
        if (q != end)
            return p;
        if (slice_present(*dst)) {
            *dup = true;
            return p;
        }
        *dst = value;
        return NULL;
    }
    return p;
}
#endif

/*
 * One pass over "name = value" pairs separated by commas, from p (LWS
 * skipped), in any shape. It jumps from delimiter to delimiter where it
 * can: the '=' and the closing quote are found with 16-byte loads, and a
 * known name is recognised by one exact compare, which also proves it a
 * token. Anything else (an unknown name, a name that is no token, a
 * backslash in a quoted value) takes the byte-by-byte path, which gives
 * the same results and reasons. Out of line: with digest_fast() the
 * common case never gets here, and sip_digest_parse_in() has fewer
 * registers to save.
 */
static __attribute__((noinline)) int digest_params(struct sip_digest *d, const char *p,
                                                   const char *end, const char *lim,
                                                   const char **reason)
{
    const char *s;

    while (p < end) {
        struct slice *dst = NULL;
        /* fast: a known name directly followed by '=' (LWS allowed before it) */
        const char *eq = find_byte_in(p, end, lim, '=');
        if (eq) {
            const char *ne = eq;
            if (__builtin_expect(ne > p && (unsigned char)ne[-1] <= ' ', 0)) /* rare LWS */
                while (ne > p && cc_is(ne[-1], CC_WS))
                    ne--;
            dst = digest_slot(d, p, (size_t)(ne - p));
        }
        if (dst) {
            p = eq;
        } else {
            s = p;
            p = skip_token(p, end);
            struct slice name = slice_make(s, (size_t)(p - s));
            if (name.len == 0)
                return fail(reason, "bad digest parameter");
            p = skip_lws(p, end);
            if (p >= end || *p != '=')
                return fail(reason, "digest parameter without value");
            dst = digest_slot(d, name.p, name.len);
        }
        p = skip_lws(p + 1, end);
        struct slice value;
        if (p < end && *p == '"') {
            const char *q = find_byte2_in(p + 1, end, lim, '"', '\\');
            /* a backslash before the first quote: the escape-aware scan */
            if (!q || *q == '\\')
                q = sip_scan_quoted(p, end);
            else
                q++;
            if (!q)
                return fail(reason, "unterminated quoted digest value");
            value = slice_make(p + 1, (size_t)(q - p - 2));
            p = q;
        } else {
            s = p;
            /* a token (MD5, auth, 00000001) four bytes at a time, then
             * anything else up to ',' or LWS */
            p = skip_class(p, end, CC_TOKEN);
            while (p < end && *p != ',' && !cc_is(*p, CC_WS))
                p++;
            value = slice_make(s, (size_t)(p - s));
        }
        if (p < end && *p != ',')
            p = skip_lws(p, end);
        if (p < end) {
            if (*p != ',')
                return fail(reason, "bad digest parameter list");
            p++;
            if (end - p >= 2 && *p == ' ' && !cc_is(p[1], CC_WS)) /* ", " as usual */
                p++;
            else
                p = skip_lws(p, end);
        }
        if (dst) {
            if (slice_present(*dst))
                return fail(reason, "duplicate digest parameter");
            *dst = value;
        }
    }
    return 0;
}

int sip_digest_parse_in(struct sip_digest *d, struct slice text, const char *lim,
                        const char **reason)
{
    const char *p = text.p, *end = slice_end(text);

    zero_struct(d, sizeof(*d));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* "Digest " as every client writes it, by two word compares instead of
     * the token loop and the scheme compare: bytes 0 to 5 letters in either
     * case, byte 6 exactly SP (which ends the token) */
    if (end - p >= 7 && (slice_load32(p) | 0x20202020u) == (uint32_t)DIGEST_WORD("dige") &&
        (slice_load32(p + 3) | 0x00202020u) == (uint32_t)DIGEST_WORD("est ")) {
        d->scheme = slice_make(p, 6);
        p = skip_lws(p + 7, end);
        d->params = slice_make(p, (size_t)(end - p));
    } else
#endif
    {
        p = skip_lws(p, end);
        const char *s = p;
        p = skip_token(p, end);
        d->scheme = slice_make(s, (size_t)(p - s));
        if (d->scheme.len == 0)
            return fail(reason, "missing authentication scheme");
        p = skip_lws(p, end);
        d->params = slice_make(p, (size_t)(end - p));
        if (!SLICE_IEQ(d->scheme, "digest"))
            return 0; /* other schemes are carried, not decoded */
    }
#if defined(__SSE2__)
    bool dup = false;
    p = digest_fast(d, p, end, lim, &dup);
    if (dup)
        return fail(reason, "duplicate digest parameter");
    if (!p)
        return 0;
    p = skip_lws(p, end);
#endif
    return digest_params(d, p, end, lim, reason);
}

int sip_digest_parse(struct sip_digest *d, struct slice text, const char **reason)
{
    return sip_digest_parse_in(d, text, slice_end(text), reason);
}

/* ---------------------------------------------------------------- reasons */

const char *sip_status_reason(unsigned code)
{
    switch (code) {
    case 100: return "Trying";
    case 180: return "Ringing";
    case 181: return "Call Is Being Forwarded";
    case 182: return "Queued";
    case 183: return "Session Progress";
    case 200: return "OK";
    case 202: return "Accepted";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Moved Temporarily";
    case 305: return "Use Proxy";
    case 380: return "Alternative Service";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 410: return "Gone";
    case 413: return "Request Entity Too Large";
    case 414: return "Request-URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Unsupported URI Scheme";
    case 420: return "Bad Extension";
    case 421: return "Extension Required";
    case 423: return "Interval Too Brief";
    case 480: return "Temporarily Unavailable";
    case 481: return "Call/Transaction Does Not Exist";
    case 482: return "Loop Detected";
    case 483: return "Too Many Hops";
    case 484: return "Address Incomplete";
    case 485: return "Ambiguous";
    case 486: return "Busy Here";
    case 487: return "Request Terminated";
    case 488: return "Not Acceptable Here";
    case 491: return "Request Pending";
    case 493: return "Undecipherable";
    case 500: return "Server Internal Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Server Time-out";
    case 505: return "Version Not Supported";
    case 513: return "Message Too Large";
    case 600: return "Busy Everywhere";
    case 603: return "Decline";
    case 604: return "Does Not Exist Anywhere";
    case 606: return "Not Acceptable";
    }
    return "";
}
