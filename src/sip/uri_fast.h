/* uri_fast.h: the fast path of the URI decoder, inlined into the URI and name-addr decoders. */
#ifndef SIPD_SIP_URI_FAST_H
#define SIPD_SIP_URI_FAST_H

#include "sip/sip_int.h"

#if defined(__SSE2__)
/* The bytes of the 16 at p outside alphanum - . _ + (the hostname
 * characters, and '+' of phone numbers, all of which a user and a URI
 * parameter accept), bit i for byte i. */
static inline unsigned uri_block_other_raw(const char *p)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    /* '-' '.' and the digits are 0x2d to 0x39 but for '/'; letters are a
     * to z once 0x20 is OR-ed in; unsigned range tests as
     * min(x - lo, n) == x - lo */
    __m128i x = _mm_sub_epi8(v, _mm_set1_epi8('-'));
    __m128i ddd = _mm_andnot_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('/')),
                                   _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8('9' - '-')), x));
    __m128i y = _mm_sub_epi8(_mm_or_si128(v, _mm_set1_epi8(0x20)), _mm_set1_epi8('a'));
    __m128i letter = _mm_cmpeq_epi8(_mm_min_epu8(y, _mm_set1_epi8('z' - 'a')), y);
    __m128i run = _mm_or_si128(_mm_or_si128(ddd, letter),
                               _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('_')),
                                            _mm_cmpeq_epi8(v, _mm_set1_epi8('+'))));
    return ~(unsigned)_mm_movemask_epi8(run) & 0xffffu;
}

/* uri_block_other_raw() with the bytes from end on and bit 16 set: the
 * lowest bit is where a run of them starting at p stops. */
static inline unsigned uri_block_other(const char *p, const char *end)
{
    unsigned other = uri_block_other_raw(p);
    if (end - p < 16)
        other |= ~0u << (end - p);
    return other | 0x10000u;
}

#if defined(SIP_NIBBLE_SCAN)
/*
 * The hostname characters and '+' by pshufb: byte b's class bits are
 * lo[b & 15] & hi[b >> 4], one bit per rectangle of the ASCII table:
 * 0 digits, 1 A-O a-o, 2 P-Z p-z, 3 '.', 4 '-', 5 '_', 6 '+'. Bytes 0x80
 * and up index hi[8..15], which is zero.
 */
__attribute__((target("ssse3"))) static inline __m128i uri_nibble_class(const char *p)
{
    const __m128i lo_t = _mm_setr_epi8(0x05, 0x07, 0x07, 0x07, 0x07, 0x07, 0x07, 0x07, 0x07,
                                       0x07, 0x06, 0x42, 0x02, 0x12, 0x0a, 0x22);
    const __m128i hi_t =
        _mm_setr_epi8(0, 0, 0x58, 0x01, 0x02, 0x24, 0x02, 0x04, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m128i low4 = _mm_set1_epi8(0x0f);
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    return _mm_and_si128(_mm_shuffle_epi8(lo_t, _mm_and_si128(v, low4)),
                         _mm_shuffle_epi8(hi_t, _mm_and_si128(_mm_srli_epi16(v, 4), low4)));
}

__attribute__((target("ssse3"))) static inline unsigned uri_block_other_raw_ssse3(const char *p)
{
    __m128i c = uri_nibble_class(p);
    return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(c, _mm_setzero_si128()));
}

__attribute__((target("ssse3"))) static inline unsigned uri_block_other_ssse3(const char *p,
                                                                             const char *end)
{
    unsigned other = uri_block_other_raw_ssse3(p);
    if (end - p < 16)
        other |= ~0u << (end - p);
    return other | 0x10000u;
}

/* sip_host_block() from the same classes: bits 0 to 5 are the hostname
 * characters, bit 3 '.', bit 4 '-', bits 0 and 3 digits and dots; shifted
 * into each byte's top bit for movemask. */
__attribute__((target("ssse3"))) static inline unsigned
uri_host_block_ssse3(const char *p, unsigned *ddm, unsigned *dots, unsigned *dashes)
{
    __m128i c = uri_nibble_class(p);
    const __m128i zero = _mm_setzero_si128();
    *ddm = ~(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(c, _mm_set1_epi8(0x09)), zero)) &
           0xffffu;
    *dots = (unsigned)_mm_movemask_epi8(_mm_slli_epi16(c, 4));
    *dashes = (unsigned)_mm_movemask_epi8(_mm_slli_epi16(c, 3));
    return ~(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(c, _mm_set1_epi8(0x3f)), zero)) &
           0xffffu;
}
#endif

/* The block classifiers of the build 'simd' selects (always_inline
 * callers pass a constant, so each build has one of them). */
static inline __attribute__((always_inline)) unsigned uri_other(const char *p, const char *end,
                                                                const bool simd)
{
#if defined(SIP_NIBBLE_SCAN)
    if (simd)
        return uri_block_other_ssse3(p, end);
#else
    (void)simd;
#endif
    return uri_block_other(p, end);
}

static inline __attribute__((always_inline)) unsigned uri_other_raw(const char *p,
                                                                    const bool simd)
{
#if defined(SIP_NIBBLE_SCAN)
    if (simd)
        return uri_block_other_raw_ssse3(p);
#else
    (void)simd;
#endif
    return uri_block_other_raw(p);
}

static inline __attribute__((always_inline)) unsigned
uri_host_block(const char *p, unsigned *ddm, unsigned *dots, unsigned *dashes, const bool simd)
{
#if defined(SIP_NIBBLE_SCAN)
    if (simd)
        return uri_host_block_ssse3(p, ddm, dots, dashes);
#else
    (void)simd;
#endif
    return sip_host_block(p, ddm, dots, dashes);
}

/*
 * Where the run (of uri_block_other()'s bytes, or the host block's) from q
 * ends: in the block at *b whose mask is *other when the run ends inside
 * it, else in a new block from q (made the current one). NULL when that
 * block would reach past lim. The end returned may be the end of the new
 * block, the run going on: the caller then finds no delimiter there and
 * gives up. q is at most one byte past the current block.
 */
static inline __attribute__((always_inline)) const char *
uri_run_end(const char *q, const char **b, unsigned *other, const char *end, const char *lim,
            const bool simd)
{
    unsigned rest = (*other & 0xffffu) >> (q - *b); /* bit 16 (none found) left out */
    if (rest)
        return q + __builtin_ctz(rest);
    if (lim - q < 16)
        return NULL;
    *b = q;
    *other = uri_other(q, end, simd);
    return q + __builtin_ctz(*other);
}

/*
 * The URI as nearly everybody writes it: "sip:" in any case, an optional
 * user of hostname characters and '+' (under 64) and '@', a hostname or
 * IPv4 address of at most 15 bytes, an optional port of one to five
 * digits, parameters whose names and values are hostname characters and
 * '+'; it ends at end or at a '>'. Each part is such a run, so each ends
 * at the lowest bit of a 16-byte block's mask of the other bytes; the
 * block at the host gives the runs after it too, until one leaves it and
 * a block is classified from where that run starts. Only the delimiter
 * the slow path would take the same way is accepted at the end of each
 * run ('@', ':', ';', '=', '>' or end), so anything else (an escape, '?',
 * a second '@', a password, LWS, '[', a longer run) gives up.
 * What it accepts, parse_sip() accepts with the same fields: it writes the
 * whole struct and returns where the URI ends (end or the first '>'), or
 * NULL (the struct then holds anything). Reads whole 16-byte blocks below
 * lim only.
 */
static inline __attribute__((always_inline)) const char *
uri_fast(struct sip_uri *uri, const char *s, const char *end, const char *lim, const bool simd)
{
    /* no test of end here: a URI shorter than "sip:" and a host leaves p
     * past end, where the path gives up */
    if (lim - s < 20 ||
        (slice_load32(s) | slice_load32("\x20\x20\x20\x00")) != slice_load32("sip:"))
        return NULL;
    /* each field is stored once, its value or absent, as it is found:
     * no zeroing of the whole struct first (most of it is then written
     * again), no values to keep until the end */
    /* the user run, over a few blocks if it is long; the bytes from end
     * on are classified as the others are: a run that reaches end has no
     * '@' before end either way (one that goes on past a block gives up) */
    const char *u = s + 4, *h = u, *at = u;
    unsigned d = (unsigned)__builtin_ctz(uri_other_raw(at, simd) | 0x10000u);
    if (__builtin_expect(d == 16, 0)) {
        do {
            at += 16;
            if (lim - at < 16 || at - u >= 48)
                return NULL;
        } while ((d = (unsigned)__builtin_ctz(uri_other_raw(at, simd) | 0x10000u)) == 16);
    }
    /* at is inside a block below lim; an '@' at or past end leaves the
     * host, and p, past end */
    at += d;
    if (__builtin_expect(*at == '@', 1)) {
        if (at == u)
            return NULL;
        uri->user = slice_make(u, (size_t)(at - u));
        h = at + 1;
    } else {
        zero_struct(&uri->user, sizeof(uri->user));
    }
    /* the host, as sip_scan_host_in() takes it from one block; the block's
     * mask then ends the runs after it */
    if (lim - h < 16)
        return NULL;
    unsigned ddm, dots, dashes;
    /* the bytes from end on are classified as the others: a run that
     * goes past end (rare, as a delimiter follows every URI in a message)
     * leaves p past end, and the path gives up at the end */
    unsigned other = ~uri_host_block(h, &ddm, &dots, &dashes, simd) | 0x10000u;
    unsigned n = (unsigned)__builtin_ctz(other);
    if (n - 1u >= 15u) /* 1 to 15 */
        return NULL;
    unsigned want = (1u << n) - 1;
    uint8_t type;
    if ((ddm & want) == want) {
        if (!sip_ipv4_dots_valid(h, n, dots & want))
            return NULL;
        type = SIP_HOST_IPV4;
    } else {
        /* sip_scan_host_in()'s rules, with the byte after the host counted
         * as a dot so that "-." also finds a trailing dash: no leading dot
         * or dash, no "..", ".-" or "-.". That byte is no dot or dash when
         * it is before end; past end it may be one, and the path gives up
         * on a host the slow one takes: slower, never different. */
        unsigned sep = dots | dashes;
        if ((sep & 1u) ||
            (((dots & (sep >> 1)) | (dashes & ((dots | (1u << n)) >> 1))) & want))
            return NULL;
        type = SIP_HOST_NAME;
    }
    uri->scheme = slice_make(s, 3);
    uri->scheme_id = SIP_URI_SIP;
    uri->host = slice_make(h, n);
    /* port, host_type and lr (false until the parameters) as one word:
     * one store where the byte order allows */
    uint32_t port_type_lr = (uint32_t)type << 16;
    zero_struct(&uri->password, sizeof(uri->password));
    /* headers, opaque and the frequent parameters (found below) */
    zero_struct(&uri->headers, sizeof(*uri) - offsetof(struct sip_uri, headers));
    const char *p = h + n, *b = h; /* b: the block whose mask 'other' is */
    if (p < end && *p == ':') {
        const char *pe = uri_run_end(p + 1, &b, &other, end, lim, simd);
        if (!pe)
            return NULL;
        size_t pl = (size_t)(pe - p - 1);
        if (pl - 1 > 4) /* 1 to 5 digits */
            return NULL;
        uint64_t port = 0;
        if (pl == 4) {
            /* what everybody writes: every byte 0x30..0x39 (high nibble 3,
             * low nibble + 6 without carry), then the value by two
             * multiplications, as sip_port4() without its end checks */
            uint32_t w = slice_load32(p + 1);
            if ((w & 0xf0f0f0f0u) != 0x30303030u ||
                ((w & 0x0f0f0f0fu) + 0x06060606u) & 0xf0f0f0f0u)
                return NULL;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            uint32_t dg = w & 0x0f0f0f0fu;
            uint32_t pairs = (dg * 10u + (dg >> 8)) & 0x00ff00ffu;
            port = (pairs & 0xffu) * 100u + (pairs >> 16);
#else
            port = (uint64_t)(p[1] - '0') * 1000 + (uint64_t)(p[2] - '0') * 100 +
                   (uint64_t)(p[3] - '0') * 10 + (uint64_t)(p[4] - '0');
#endif
        } else {
            for (const char *q = p + 1; q < pe; q++) {
                unsigned digit = (unsigned)(unsigned char)*q - '0';
                if (digit > 9)
                    return NULL;
                port = port * 10 + digit;
            }
        }
        if (port - 1 > 65534)
            return NULL;
        uri->port_str = slice_make(p + 1, pl);
        port_type_lr |= (uint32_t)port;
        p = pe;
    } else {
        zero_struct(&uri->port_str, sizeof(uri->port_str));
    }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    _Static_assert(offsetof(struct sip_uri, host_type) == offsetof(struct sip_uri, port) + 2 &&
                       offsetof(struct sip_uri, lr) == offsetof(struct sip_uri, port) + 3,
                   "port, host_type and lr are one 32-bit word");
    memcpy((char *)uri + offsetof(struct sip_uri, port), &port_type_lr, 4);
#else
    uri->port = (uint16_t)port_type_lr;
    uri->host_type = type;
    uri->lr = false;
#endif
    const char *params = p;
    while (p < end && *p == ';') {
        const char *q = p + 1, *ne = uri_run_end(q, &b, &other, end, lim, simd);
        if (!ne || ne == q)
            return NULL;
        struct slice name = slice_make(q, (size_t)(ne - q)), val = SLICE_NULL;
        p = ne;
        if (p < end && *p == '=') {
            q = p + 1;
            const char *ve = uri_run_end(q, &b, &other, end, lim, simd);
            if (!ve || ve == q)
                return NULL;
            val = slice_make(q, (size_t)(ve - q));
            p = ve;
        }
        switch (name.len) {
        case 2:
            if (SLICE_IEQ(name, "lr"))
                uri->lr = true;
            break;
        case 3:
            if (SLICE_IEQ(name, "ttl"))
                uri->ttl = val;
            break;
        case 4:
            if (SLICE_IEQ(name, "user"))
                uri->user_param = val;
            break;
        case 5:
            if (SLICE_IEQ(name, "maddr"))
                uri->maddr = val;
            break;
        case 9:
            if (SLICE_IEQ(name, "transport"))
                uri->transport = val;
            break;
        }
    }
    if (p > end || (p < end && *p != '>'))
        return NULL;
    uri->params = slice_make(params, (size_t)(p - params));
    uri->raw = slice_make(s, (size_t)(p - s));
    return p;
}
#endif

#endif
