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
 * runs a SIP parser searches (a header line, a URI). 16 bytes at a time with
 * SSE2 while 16 remain, then byte by byte: it never reads outside [p, end).
 */
static inline const char *find_byte(const char *p, const char *end, char c)
{
#if defined(__SSE2__)
    const __m128i needle = _mm_set1_epi8(c);
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, needle));
        if (m)
            return p + __builtin_ctz(m);
        p += 16;
    }
#endif
    for (; p < end; p++)
        if (*p == c)
            return p;
    return NULL;
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
    for (; i + 16 <= n; i += 16) {
        _mm_storeu_si128((__m128i *)(void *)(c + i), z);
        __asm__ volatile(""); /* keeps GCC from turning the loop back into memset */
    }
    for (; i < n; i++)
        c[i] = 0;
#else
    memset(p, 0, n);
#endif
}

/* Skips SP, HTAB, CR and LF (LWS inside a header value, whose folding
 * the header splitter has already validated). */
static inline const char *skip_lws(const char *p, const char *end)
{
    while (p < end && cc_is(*p, CC_WS))
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
 * *host (brackets excluded) and *type. Returns the end of the host, or NULL. */
const char *sip_scan_host(const char *p, const char *end, struct slice *host, uint8_t *type);
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
 * *next is where it stopped (the ',' or end). */
int sip_via_parse_at(struct sip_via *via, const char *p, const char *end, bool list,
                     const char **next, const char **reason);
int sip_nameaddr_parse_at(struct sip_nameaddr *na, const char *p, const char *end,
                          bool allow_star, bool list, const char **next, const char **reason);

#endif
