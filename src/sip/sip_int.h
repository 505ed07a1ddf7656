/* sip_int.h: private helpers shared by the files of src/sip/. */
#ifndef SIPD_SIP_INT_H
#define SIPD_SIP_INT_H

#include <stdint.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "sip/sip.h"

/* Character classes of RFC 3261 25.1, one bit each. */
enum {
    CC_TOKEN = 1u << 0,  /* token */
    CC_WS = 1u << 1,     /* SP HTAB CR LF: LWS once folding is allowed */
    CC_USER = 1u << 2,   /* user part: unreserved / escaped / user-unreserved */
    CC_PASS = 1u << 3,   /* password */
    CC_HOST = 1u << 4,   /* hostname letters: alphanum - . _ */
    CC_PARAM = 1u << 5,  /* URI paramchar: unreserved / escaped / param-unreserved */
    CC_HNV = 1u << 6,    /* URI header name/value: unreserved / escaped / hnv-unreserved */
    CC_DIGIT = 1u << 7,
    CC_ALPHA = 1u << 8,
    CC_SCHEME = 1u << 9, /* after the first letter of a scheme: alnum + - . */
    CC_WORD = 1u << 10,  /* Call-ID word */
    CC_URIC = 1u << 11,  /* any character an absolute URI may hold */
    CC_PVAL = 1u << 12,  /* unquoted header parameter value: token / host (: [ ]) */
    CC_LIST = 1u << 13,  /* what a list splitter must look at: " < > , */
    CC_DIGITDOT = 1u << 14, /* digits and '.': a host that is all of them must be IPv4 */
};

extern const uint16_t sip_cclass[256];

static inline int cc_is(char c, unsigned cls)
{
    return (sip_cclass[(unsigned char)c] & cls) != 0;
}

/*
 * The first c in [p, end), or NULL: memchr without the call, for the short
 * runs a SIP parser searches (a header line, a URI). 'lim' (>= end) bounds
 * what may be read: inside a message it is the end of the message, so a
 * run shorter than 16 bytes is still searched with one 16-byte load; a
 * match at or past end counts as none. Byte by byte only where fewer than
 * 16 readable bytes remain. Never reads outside [p, lim).
 */
static inline const char *find_byte_in(const char *p, const char *end, const char *lim, char c)
{
#if defined(__SSE2__)
    const __m128i needle = _mm_set1_epi8(c);
    while (lim - p >= 16) {
        if (p >= end)
            return NULL;
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, needle));
        if (m) {
            p += __builtin_ctz(m);
            return p < end ? p : NULL;
        }
        p += 16;
    }
#else
    (void)lim;
#endif
    for (; p < end; p++)
        if (*p == c)
            return p;
    return NULL;
}

/* find_byte_in() where nothing past end may be read. */
static inline const char *find_byte(const char *p, const char *end, char c)
{
    return find_byte_in(p, end, end, c);
}

/* The first of two bytes, as find_byte. */
static inline const char *find_byte2(const char *p, const char *end, char a, char b)
{
#if defined(__SSE2__)
    const __m128i na = _mm_set1_epi8(a), nb = _mm_set1_epi8(b);
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        unsigned m = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_cmpeq_epi8(v, na), _mm_cmpeq_epi8(v, nb)));
        if (m)
            return p + __builtin_ctz(m);
        p += 16;
    }
#endif
    for (; p < end; p++)
        if (*p == a || *p == b)
            return p;
    return NULL;
}

/*
 * Zeroes a struct. GCC turns a constant-size memset of a few hundred bytes
 * into "rep stosq", whose start-up cost is more than the whole store
 * sequence for these sizes; explicit 16-byte stores avoid it.
 */
static inline void zero_struct(void *p, size_t n)
{
#if defined(__SSE2__)
    char *c = p;
    size_t i = 0;
    const __m128i z = _mm_setzero_si128();
    /* 64 bytes per round, one compiler barrier per round: the barrier keeps
     * GCC from turning the loop back into memset; n is a constant at every
     * call, so the tail below is straight-line code */
    for (; i + 64 <= n; i += 64) {
        _mm_storeu_si128((__m128i *)(void *)(c + i), z);
        _mm_storeu_si128((__m128i *)(void *)(c + i + 16), z);
        _mm_storeu_si128((__m128i *)(void *)(c + i + 32), z);
        _mm_storeu_si128((__m128i *)(void *)(c + i + 48), z);
        __asm__ volatile("");
    }
    if (i + 32 <= n) {
        _mm_storeu_si128((__m128i *)(void *)(c + i), z);
        _mm_storeu_si128((__m128i *)(void *)(c + i + 16), z);
        i += 32;
    }
    if (i + 16 <= n) {
        _mm_storeu_si128((__m128i *)(void *)(c + i), z);
        i += 16;
    }
    if (i + 8 <= n) {
        memset(c + i, 0, 8);
        i += 8;
    }
    for (; i < n; i++)
        c[i] = 0;
#else
    memset(p, 0, n);
#endif
}

/*
 * Case-insensitive equality of n bytes at p with 'lower', a lower-case name
 * of letters, digits and '-' (a header or parameter name). Exact for any
 * bytes, unlike ascii_ieq_lower(): a letter of 'lower' (bit 0x40 set)
 * accepts both cases, '-' and digits only themselves, so a match also
 * proves p a token. Word loads, the last one overlapping, every byte read
 * inside [0, n).
 */
static inline bool name_ieq(const char *p, const char *lower, size_t n)
{
    if (n >= 8) {
        size_t i = 0;
        for (;; i += 8) {
            if (i + 8 > n)
                i = n - 8;
            uint64_t l = slice_load64(lower + i);
            if ((slice_load64(p + i) ^ l) & ~((l & 0x4040404040404040ull) >> 1))
                return false;
            if (i + 8 == n)
                return true;
        }
    }
    if (n >= 4) {
        uint32_t l0 = slice_load32(lower), l1 = slice_load32(lower + n - 4);
        return !((slice_load32(p) ^ l0) & ~((l0 & 0x40404040u) >> 1)) &&
               !((slice_load32(p + n - 4) ^ l1) & ~((l1 & 0x40404040u) >> 1));
    }
    for (size_t i = 0; i < n; i++) {
        unsigned l = (unsigned char)lower[i];
        if (((unsigned char)p[i] ^ l) & ~((l & 0x40u) >> 1))
            return false;
    }
    return true;
}

/* Skips SP, HTAB, CR and LF (LWS inside a header value, whose folding
 * the header splitter has already validated). */
static inline const char *skip_lws(const char *p, const char *end)
{
    while (p < end && cc_is(*p, CC_WS))
        p++;
    return p;
}

/* Skips the bytes of class cls: four at a time (one test of their
 * classes ANDed together) while four remain, then one by one. */
static inline const char *skip_class(const char *p, const char *end, unsigned cls)
{
    while (end - p >= 4 && (sip_cclass[(unsigned char)p[0]] & sip_cclass[(unsigned char)p[1]] &
                            sip_cclass[(unsigned char)p[2]] & sip_cclass[(unsigned char)p[3]] &
                            cls))
        p += 4;
    while (p < end && cc_is(*p, cls))
        p++;
    return p;
}

static inline const char *skip_token(const char *p, const char *end)
{
    while (p < end && cc_is(*p, CC_TOKEN))
        p++;
    return p;
}

/* Scans a quoted-string starting at the opening quote. Returns a pointer
 * after the closing quote, or NULL when it is not terminated. */
const char *sip_scan_quoted(const char *p, const char *end);

/* Validates a host (hostname, IPv4 or bracketed IPv6) at [p, end); sets
 * *host (brackets excluded) and *type. Returns the end of the host, or NULL.
 * Bytes up to lim (>= end) may be read, as for find_byte_in(). */
const char *sip_scan_host(const char *p, const char *end, const char *lim, struct slice *host,
                          uint8_t *type);
bool sip_ipv6_valid(const char *p, size_t len);
bool sip_ipv4_valid(const char *p, size_t len);

/* A header parameter a decoder wants picked out while scanning. */
struct sip_param_want {
    const char *name; /* lower case */
    size_t len;
};
#define SIP_WANT(lit) {"" lit, sizeof(lit) - 1}

/*
 * Parses header parameters (";" name ["=" value]) with LWS allowed around
 * every delimiter, from p. Stops at end, or with 'list' at a top-level ','
 * (*stop points at where it stopped). Values are token, host or
 * quoted-string (quotes kept). found[i] gets want[i]'s value; a parameter
 * without "=" gives a present, empty slice; found[] is left alone for
 * absent names. *params is the run from the first ';' to the end of the
 * last parameter. One pass. 0 or EBADMSG with *reason.
 */
int sip_scan_params(const char *p, const char *end, bool list, const struct sip_param_want *want,
                    unsigned nwant, struct slice *found, struct slice *params, const char **stop,
                    const char **reason);

/* One Via value or name-addr from p, stopping at a top-level ',' when 'list';
 * *next is where it stopped (the ',' or end). Bytes up to lim (>= end) may
 * be read, as for find_byte_in(). */
int sip_via_parse_at(struct sip_via *via, const char *p, const char *end, const char *lim,
                     bool list, const char **next, const char **reason);
int sip_nameaddr_parse_at(struct sip_nameaddr *na, const char *p, const char *end,
                          const char *lim, bool allow_star, bool list, const char **next,
                          const char **reason);
/* sip_digest_parse() of a value inside a buffer readable up to lim. */
int sip_digest_parse_in(struct sip_digest *d, struct slice text, const char *lim,
                        const char **reason);
/* sip_uri_parse() of a URI inside a buffer readable up to lim. */
int sip_uri_parse_in(struct sip_uri *uri, struct slice text, const char *lim,
                     const char **reason);

#endif
