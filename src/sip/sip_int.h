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

/* The first a or b in [p, end), or NULL, reading up to lim as find_byte_in(). */
static inline const char *find_byte2_in(const char *p, const char *end, const char *lim, char a,
                                        char b)
{
#if defined(__SSE2__)
    const __m128i na = _mm_set1_epi8(a), nb = _mm_set1_epi8(b);
    while (lim - p >= 16) {
        if (p >= end)
            return NULL;
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        unsigned m =
            (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, na), _mm_cmpeq_epi8(v, nb)));
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
        if (*p == a || *p == b)
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

/*
 * Classes tested 16 bytes at a time with SSSE3's pshufb. Every class here
 * holds only bytes 0x21 to 0x7e, so byte b is in it exactly when
 * lo[b & 15] has bit (b >> 4) - 2 set, for rows 2 to 7 of the ASCII table;
 * no byte of another row is (0x80 and up included). sip_nibble_lo[] is
 * generated from sip_cclass[]; a unit test checks that they agree on all
 * 256 bytes.
 */
enum sip_nibble_class { SIP_NIB_TOKEN, SIP_NIB_PVAL, SIP_NIB_COUNT };
extern const uint8_t sip_nibble_lo[SIP_NIB_COUNT][16];

#if defined(__x86_64__) && defined(__SSE2__) && defined(__GNUC__)
#include <tmmintrin.h>
/*
 * The scanners that profit are compiled twice, once for SSSE3 (the target
 * attribute, whatever the build's flags) and once without, and pick one
 * per call with sip_cpu_has_ssse3(): one load and test of the CPU model
 * libgcc (or compiler-rt) fills in at start-up.
 */
#define SIP_NIBBLE_SCAN 1
static inline bool sip_cpu_has_ssse3(void)
{
#if defined(__SSSE3__)
    return true;
#else
    return __builtin_cpu_supports("ssse3");
#endif
}

/* skip_class() of class cls, whose nibble table is lo, reading up to lim
 * (>= end) as find_byte_in() does. Only for functions compiled for SSSE3. */
__attribute__((target("ssse3"))) static inline const char *
skip_nibble(const char *p, const char *end, const char *lim, const uint8_t *lo, unsigned cls)
{
    const __m128i lo_t = _mm_loadu_si128((const __m128i *)(const void *)lo);
    const __m128i hi_t = _mm_setr_epi8(0, 0, 1, 2, 4, 8, 16, 32, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m128i low4 = _mm_set1_epi8(0x0f);

    while (lim - p >= 16) {
        if (p >= end)
            return end;
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i l = _mm_shuffle_epi8(lo_t, _mm_and_si128(v, low4));
        __m128i h = _mm_shuffle_epi8(hi_t, _mm_and_si128(_mm_srli_epi16(v, 4), low4));
        unsigned out =
            (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(l, h), _mm_setzero_si128()));
        if (out) {
            p += __builtin_ctz(out);
            return p < end ? p : end;
        }
        p += 16;
    }
    if (p >= end) /* a whole block in the class may reach past end */
        return end;
    while (p < end && cc_is(*p, cls))
        p++;
    return p;
}

#endif

/* A port as everybody writes it: exactly four digits at p, then end or a
 * non-digit. Sets *v (0 to 9999, leading zeros allowed, as slice_to_u64())
 * and returns true; false means "not that form" (the caller takes the
 * general path), never "bad". One word load and a few word operations
 * instead of a loop to find the digits and another to convert them. */
static inline bool sip_port4(const char *p, const char *end, uint64_t *v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (end - p < 4 || (end - p > 4 && cc_is(p[4], CC_DIGIT)))
        return false;
    uint32_t w = slice_load32(p);
    /* every byte 0x30..0x39: high nibble 3, low nibble + 6 without carry */
    if ((w & 0xf0f0f0f0u) != 0x30303030u || ((w & 0x0f0f0f0fu) + 0x06060606u) & 0xf0f0f0f0u)
        return false;
    uint32_t d = w & 0x0f0f0f0fu;                        /* first digit in the low byte */
    uint32_t pairs = (d * 10u + (d >> 8)) & 0x00ff00ffu; /* d0d1 in byte 0, d2d3 in byte 2 */
    *v = (pairs & 0xffu) * 100u + (pairs >> 16);
    return true;
#else
    (void)p;
    (void)end;
    (void)v;
    return false;
#endif
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

/* sip_ipv4_valid() of a run known to hold only digits and dots: four
 * parts of one to three digits, each at most 255, unrolled. */
static inline bool sip_ipv4_digitdot_valid(const char *p, size_t n)
{
    const char *end = p + n;

    for (int part = 0;; part++) {
        if (p >= end || *p == '.')
            return false;
        unsigned v = (unsigned)(*p++ - '0');
        if (p < end && *p != '.') {
            v = v * 10 + (unsigned)(*p++ - '0');
            if (p < end && *p != '.') {
                v = v * 10 + (unsigned)(*p++ - '0');
                if (v > 255)
                    return false;
            }
        }
        if (part == 3)
            return p == end;
        if (p >= end || *p != '.')
            return false;
        p++;
    }
}

/*
 * The dots of an IPv4 address of n bytes and its end, as the key
 * dots | 1 << n (16 bits), fix the four part lengths; there are 81 such
 * keys, one per lengths of one to three digits. sip_ipv4_shapes[] holds
 * each at the slot SIP_IPV4_HASH() gives it (a multiply and a shift that
 * spread the 81 over 256 slots), the mask of the starts of its
 * three-digit parts in the top 16 bits; a key found there is a shape.
 */
#define SIP_IPV4_HASH(key) ((uint32_t)((uint32_t)(key) * 0xd6af10d1u) >> 24)
extern const uint32_t sip_ipv4_shapes[256];

/* The rules of sip_ipv4_dots_valid() below; wide: 16 bytes are readable
 * at p, so a three-digit part is read with one word load. */
static inline __attribute__((always_inline)) bool
sip_ipv4_dots_check(const char *p, unsigned n, unsigned dots, const bool wide)
{
    uint32_t key = dots | 1u << n;
    uint32_t shape = sip_ipv4_shapes[SIP_IPV4_HASH(key)];
    if ((shape & 0xffffu) != key)
        return false;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const bool word = wide;
#else
    const bool word = false; /* the word below is swapped from little-endian */
    (void)wide;
#endif
    for (unsigned three = shape >> 16; three; three &= three - 1) {
        /* the part at most "255", compared as a big-endian number */
        const char *q = p + __builtin_ctz(three);
        if (word ? __builtin_bswap32(slice_load32(q)) > 0x323535ffu
                 : ((unsigned)(unsigned char)q[0] << 16 | (unsigned)(unsigned char)q[1] << 8 |
                    (unsigned char)q[2]) > 0x323535u)
            return false;
    }
    return true;
}

/* sip_ipv4_digitdot_valid() of n (1 to 15) bytes of digits and dots at p,
 * from the mask of its dots (bit i: byte i): exactly three, cutting four
 * parts of one to three digits, a three-digit part at most 255. The shape
 * is one lookup of sip_ipv4_shapes[]; only the three-digit parts are
 * read. */
static inline bool sip_ipv4_dots_valid(const char *p, unsigned n, unsigned dots)
{
    return sip_ipv4_dots_check(p, n, dots, false);
}

/* The same where 16 bytes are readable at p. */
static inline bool sip_ipv4_dots_valid16(const char *p, unsigned n, unsigned dots)
{
    return sip_ipv4_dots_check(p, n, dots, true);
}

#if defined(__SSE2__)
/* Classifies the 16 bytes at p: returns the mask of hostname characters
 * (alphanum - . _); *ddm gets the mask of digits and dots, *dots and
 * *dashes those of '.' and '-'. */
static inline unsigned sip_host_block(const char *p, unsigned *ddm, unsigned *dots,
                                      unsigned *dashes)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i lower = _mm_or_si128(v, _mm_set1_epi8(0x20));
    /* signed compares: bytes 0x80 and up are negative and fail all of them */
    __m128i letter = _mm_and_si128(_mm_cmpgt_epi8(lower, _mm_set1_epi8('a' - 1)),
                                   _mm_cmplt_epi8(lower, _mm_set1_epi8('z' + 1)));
    __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
                                  _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
    __m128i dot = _mm_cmpeq_epi8(v, _mm_set1_epi8('.'));
    __m128i dash = _mm_cmpeq_epi8(v, _mm_set1_epi8('-'));
    __m128i other = _mm_or_si128(dash, _mm_cmpeq_epi8(v, _mm_set1_epi8('_')));
    __m128i dd_v = _mm_or_si128(digit, dot);
    *ddm = (unsigned)_mm_movemask_epi8(dd_v);
    *dots = (unsigned)_mm_movemask_epi8(dot);
    *dashes = (unsigned)_mm_movemask_epi8(dash);
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(letter, other), dd_v));
}
#endif

/* Whether the dots and dashes of a hostname (bit i: byte i) obey the label
 * rules: no "..", ".-" or "-.". */
static inline bool sip_host_labels_ok(unsigned dots, unsigned dashes)
{
    return !((dots & (dots >> 1)) | (dots & (dashes >> 1)) | (dashes & (dots >> 1)));
}

/*
 * sip_scan_host(), with the common case inline: a hostname or IPv4
 * address that ends within 16 readable bytes is classified by one load,
 * and its label rules checked from the same masks. Anything else (IPv6, a
 * longer host, the end of the buffer near) takes sip_scan_host().
 */
static inline const char *sip_scan_host_in(const char *p, const char *end, const char *lim,
                                           struct slice *host, uint8_t *type)
{
#if defined(__SSE2__)
    if (lim - p >= 16 && p < end) {
        unsigned ddm, dots, dashes;
        unsigned hm = sip_host_block(p, &ddm, &dots, &dashes);
        unsigned n = (unsigned)__builtin_ctz(~hm); /* bit 16 is always clear */
        if ((size_t)(end - p) < n)
            n = (unsigned)(end - p);
        if (n - 1u < 15u) { /* 1 to 15: the whole host in this block */
            unsigned want = (1u << n) - 1;
            *host = slice_make(p, n);
            if ((ddm & want) == want) {
                if (!sip_ipv4_dots_valid16(p, n, dots & want))
                    return NULL;
                *type = SIP_HOST_IPV4;
                return p + n;
            }
            dots &= want;
            dashes &= want;
            /* a label neither starts nor ends with '-'; no leading dot */
            if (((dots | dashes) & 1u) || (dashes >> (n - 1)) || !sip_host_labels_ok(dots, dashes))
                return NULL;
            *type = SIP_HOST_NAME;
            return p + n;
        }
    }
#endif
    return sip_scan_host(p, end, lim, host, type);
}

/* A header parameter a decoder wants picked out while scanning. */
struct sip_param_want {
    char name[8]; /* lower case, zero padded: one word (a longer name does not compile) */
    size_t len;
};
#define SIP_WANT(lit) {"" lit, sizeof(lit) - 1}

/*
 * The parameter scan of sip_scan_params() below and its parts, inline here
 * so that a decoder built for SSSE3 and without (as sip_via_parse_at() is)
 * can take the scan in, its wanted names as constants: no call, and the
 * names compared with immediates.
 */

/* A token (simd: with pshufb) or a parameter value from p. */
static inline __attribute__((always_inline)) const char *
scan_run(const char *p, const char *end, const char *lim, enum sip_nibble_class nib, unsigned cls,
         const bool simd)
{
#if defined(SIP_NIBBLE_SCAN)
    if (simd)
        return skip_nibble(p, end, lim, sip_nibble_lo[nib], cls);
#else
    (void)lim;
    (void)nib;
    (void)simd;
#endif
    return nib == SIP_NIB_TOKEN ? skip_token(p, end) : skip_class(p, end, cls);
}

/* A parameter value at p, no LWS before it: a quoted-string (quotes
 * kept) or a token/host run. Returns its end (p when there is none), or
 * NULL when a quote is not closed. */
static inline __attribute__((always_inline)) const char *
scan_value(const char *p, const char *end, const char *lim, const bool simd)
{
    if (p < end && *p == '"')
        return sip_scan_quoted(p, end);
    return scan_run(p, end, lim, SIP_NIB_PVAL, CC_PVAL, simd);
}

/* Stores value in found[i] when the name (nlen >= 1 token bytes at name)
 * is want[i]'s, the first such i; whether it stored. */
static inline __attribute__((always_inline)) bool
param_found(const char *name, size_t nlen, struct slice value, const char *lim,
            const struct sip_param_want *want, unsigned nwant, struct slice *found)
{
    if (nlen <= 8 && lim - name >= 8) {
        /* the name as one lower-cased word, its bytes past nlen zeroed:
         * equal to a wanted name's padded word only when the two are
         * equal (a token byte is never 0, even ORed with 0x20) */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        uint64_t first = ~0ull << (64 - 8 * nlen);
#else
        uint64_t first = ~0ull >> (64 - 8 * nlen);
#endif
        uint64_t w = (slice_load64(name) | 0x2020202020202020ull) & first;
        for (unsigned i = 0; i < nwant; i++) {
            if (slice_load64(want[i].name) == w) {
                found[i] = value;
                return true;
            }
        }
        return false;
    }
    for (unsigned i = 0; i < nwant; i++) {
        if (want[i].len == nlen && ascii_ieq_lower(name, want[i].name, nlen)) {
            found[i] = value;
            return true;
        }
    }
    return false;
}

/* param_found() of a name of 1 to 15 bytes with 8 readable at it. A
 * wanted name has at most 8 bytes, so a longer one is no match. Whether
 * it stored. */
static inline __attribute__((always_inline)) bool
param_found_word(const char *name, size_t nlen, struct slice value,
                 const struct sip_param_want *want, unsigned nwant, struct slice *found)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* the bytes of a name of n <= 8 bytes in its first word */
    static const uint64_t keep[9] = {
        0,
        0xffull,
        0xffffull,
        0xffffffull,
        0xffffffffull,
        0xffffffffffull,
        0xffffffffffffull,
        0xffffffffffffffull,
        0xffffffffffffffffull,
    };
    if (nlen > 8)
        return false;
    uint64_t w = (slice_load64(name) | 0x2020202020202020ull) & keep[nlen];
    for (unsigned i = 0; i < nwant; i++) {
        if (slice_load64(want[i].name) == w) {
            found[i] = value;
            return true;
        }
    }
    return false;
#else
    return param_found(name, nlen, value, name + 8, want, nwant, found);
#endif
}

#if defined(SIP_NIBBLE_SCAN)
/* The mask of the 16 bytes at p that are no byte of an unquoted parameter
 * value, with bit 16 set. */
__attribute__((target("ssse3"))) static inline unsigned param_nonpval(const char *p)
{
    const __m128i lo_pval =
        _mm_loadu_si128((const __m128i *)(const void *)sip_nibble_lo[SIP_NIB_PVAL]);
    const __m128i hi_t = _mm_setr_epi8(0, 0, 1, 2, 4, 8, 16, 32, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m128i low4 = _mm_set1_epi8(0x0f);
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i h = _mm_shuffle_epi8(hi_t, _mm_and_si128(_mm_srli_epi16(v, 4), low4));
    return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
               _mm_and_si128(_mm_shuffle_epi8(lo_pval, _mm_and_si128(v, low4)), h),
               _mm_setzero_si128())) |
           0x10000u;
}

/* The mask of the 16 bytes at p that are no token byte. */
__attribute__((target("ssse3"))) static inline unsigned param_nontoken(const char *p)
{
    const __m128i lo_tok =
        _mm_loadu_si128((const __m128i *)(const void *)sip_nibble_lo[SIP_NIB_TOKEN]);
    const __m128i hi_t = _mm_setr_epi8(0, 0, 1, 2, 4, 8, 16, 32, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m128i low4 = _mm_set1_epi8(0x0f);
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i h = _mm_shuffle_epi8(hi_t, _mm_and_si128(_mm_srli_epi16(v, 4), low4));
    return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
        _mm_and_si128(_mm_shuffle_epi8(lo_tok, _mm_and_si128(v, low4)), h), _mm_setzero_si128()));
}

#endif

/*
 * The scan, inlined into a build for SSSE3 (simd) and one without. LWS is
 * allowed around every delimiter but rare, so it is looked for only where
 * the byte found is not the one expected: before a name when the name is
 * empty, before '=' when the byte is no '=', before a value when the value
 * is empty, and after a value when the byte is no ';'.
 */
static inline __attribute__((always_inline)) int
scan_params(const char *p, const char *end, const char *lim, bool list,
            const struct sip_param_want *want, unsigned nwant, struct slice *found,
            struct slice *params, const char **stop, const char **reason, const bool simd)
{
    p = skip_lws(p, end);
    const char *start = p, *last = p;

    while (p < end) {
        if (*p != ';') {
            if (cc_is(*p, CC_WS)) { /* LWS after the last value */
                p = skip_lws(p, end);
                continue;
            }
            if (list && *p == ',')
                break;
            *reason = "unexpected character after the value";
            return EBADMSG;
        }
        const char *name = p + 1;
#if defined(SIP_NIBBLE_SCAN)
        if (simd && lim - name >= 16) {
            /* the usual shape, "name=value" or "name" then ';', ',' or
             * end, from one classification of the 16 bytes at the name;
             * anything else (LWS, a quote, an empty name or value) is
             * left to the scan below, from the same ';' */
            unsigned nonpval = param_nonpval(name);
            size_t room = (size_t)(end - name);
            /* the name ends at the first byte no value holds (one lookup
             * for the name and the value); a name that is no wanted one
             * (those are tokens) is then checked to be a token */
            size_t n = (size_t)__builtin_ctz(nonpval);
            if (n > room)
                n = room;
            if (n - 1 < 15) { /* 1 to 15 */
                if (n < room && name[n] == '=') {
                    const char *v = name + n + 1, *q;
                    /* the '=' is the lowest byte of the mask */
                    unsigned e = (unsigned)__builtin_ctz(nonpval & (nonpval - 1));
                    if (e < 16) {
                        q = name + e;
                    } else if (lim - name >= 48) {
                        /* a branch, an address: most end in the next two blocks */
                        e = (unsigned)__builtin_ctz(param_nonpval(name + 16));
                        if (e == 16)
                            e = 16 + (unsigned)__builtin_ctz(param_nonpval(name + 32));
                        q = e < 32 ? name + 16 + e
                                   : skip_nibble(name + 48, end, lim, sip_nibble_lo[SIP_NIB_PVAL],
                                                 CC_PVAL);
                    } else {
                        q = skip_nibble(name + 16, end, lim, sip_nibble_lo[SIP_NIB_PVAL], CC_PVAL);
                    }
                    if (q > end)
                        q = end;
                    if (q > v && (param_found_word(name, n, slice_make(v, (size_t)(q - v)), want,
                                                   nwant, found) ||
                                  !(param_nontoken(name) & ((1u << n) - 1)))) {
                        p = q;
                        last = q;
                        continue;
                    }
                } else if (n == room || name[n] == ';' || name[n] == ',') {
                    if (param_found_word(name, n, slice_make(name + n, 0), want, nwant, found) ||
                        !(param_nontoken(name) & ((1u << n) - 1))) {
                        p = name + n;
                        last = p;
                        continue;
                    }
                }
            }
        }
#endif
        p = scan_run(name, end, lim, SIP_NIB_TOKEN, CC_TOKEN, simd);
        if (p == name) {
            name = skip_lws(name, end);
            p = scan_run(name, end, lim, SIP_NIB_TOKEN, CC_TOKEN, simd);
            if (p == name) {
                *reason = "empty parameter";
                return EBADMSG;
            }
        }
        size_t nlen = (size_t)(p - name);
        struct slice value = slice_make(p, 0); /* present and empty: no "=" */
        last = p;
        if (p < end && *p != '=')
            p = skip_lws(p, end);
        if (p < end && *p == '=') {
            const char *v = p + 1;
            p = scan_value(v, end, lim, simd);
            if (p == v && v < end && cc_is(*v, CC_WS)) {
                v = skip_lws(v, end);
                p = scan_value(v, end, lim, simd);
            }
            if (!p) {
                *reason = "unterminated quoted string in a parameter";
                return EBADMSG;
            }
            if (p == v) {
                *reason = "empty parameter value";
                return EBADMSG;
            }
            value = slice_make(v, (size_t)(p - v));
            last = p;
        }
        param_found(name, nlen, value, lim, want, nwant, found);
    }
    *params = slice_make(start, (size_t)(last - start));
    *stop = p;
    return 0;
}

/*
 * Parses header parameters (";" name ["=" value]) with LWS allowed around
 * every delimiter, from p. Stops at end, or with 'list' at a top-level ','
 * (*stop points at where it stopped). Values are token, host or
 * quoted-string (quotes kept). found[i] gets want[i]'s value; a parameter
 * without "=" gives a present, empty slice; found[] is left alone for
 * absent names. *params is the run from the first ';' to the end of the
 * last parameter. One pass. Bytes up to lim (>= end) may be read, as for
 * find_byte_in(). 0 or EBADMSG with *reason.
 */
int sip_scan_params_generic(const char *p, const char *end, const char *lim, bool list,
                            const struct sip_param_want *want, unsigned nwant, struct slice *found,
                            struct slice *params, const char **stop, const char **reason);
#if defined(SIP_NIBBLE_SCAN)
/* The same, compiled for SSSE3: only where sip_cpu_has_ssse3(). */
int sip_scan_params_ssse3(const char *p, const char *end, const char *lim, bool list,
                          const struct sip_param_want *want, unsigned nwant, struct slice *found,
                          struct slice *params, const char **stop, const char **reason);
#endif
/* Picks one of the two in the caller: no second call. */
static inline int sip_scan_params(const char *p, const char *end, const char *lim, bool list,
                                  const struct sip_param_want *want, unsigned nwant,
                                  struct slice *found, struct slice *params, const char **stop,
                                  const char **reason)
{
#if defined(SIP_NIBBLE_SCAN)
    if (sip_cpu_has_ssse3())
        return sip_scan_params_ssse3(p, end, lim, list, want, nwant, found, params, stop, reason);
#endif
    return sip_scan_params_generic(p, end, lim, list, want, nwant, found, params, stop, reason);
}

/* One Via value or name-addr from p, stopping at a top-level ',' when 'list';
 * *next is where it stopped (the ',' or end). Bytes up to lim (>= end) may
 * be read, as for find_byte_in(). */
int sip_via_parse_at(struct sip_via *via, const char *p, const char *end, const char *lim,
                     bool list, const char **next, const char **reason);
/* The same, built without SSSE3 (what sip_via_parse_at() runs where the CPU
 * lacks it): the reference the unit tests hold the SSSE3 build to. */
int sip_via_parse_at_generic(struct sip_via *via, const char *p, const char *end,
                             const char *lim, bool list, const char **next, const char **reason);
int sip_nameaddr_parse_at(struct sip_nameaddr *na, const char *p, const char *end,
                          const char *lim, bool allow_star, bool list, const char **next,
                          const char **reason);
/* sip_digest_parse() of a value inside a buffer readable up to lim. */
int sip_digest_parse_in(struct sip_digest *d, struct slice text, const char *lim,
                        const char **reason);
/* sip_uri_parse() of a URI inside a buffer readable up to lim. */
int sip_uri_parse_in(struct sip_uri *uri, struct slice text, const char *lim,
                     const char **reason);
/* sip_uri_parse_in() without its fast path: the reference that path must
 * match. */
int sip_uri_parse_generic(struct sip_uri *uri, struct slice text, const char *lim,
                          const char **reason);
#if defined(__SSE2__)
/* The fast path of sip_uri_parse_in() alone (uri_fast.h), built for SSE2
 * and, where sip_cpu_has_ssse3(), for SSSE3: the common shape of a sip:
 * URI at p, ending at the first '>' or at end. The whole of *uri written
 * and where it ends returned, or NULL (*uri then holds anything). Reads
 * whole 16-byte blocks below lim. For the unit tests. */
const char *sip_uri_fast_sse2(struct sip_uri *uri, const char *p, const char *end,
                              const char *lim);
#if defined(SIP_NIBBLE_SCAN)
const char *sip_uri_fast_ssse3(struct sip_uri *uri, const char *p, const char *end,
                               const char *lim);
#endif
#endif

#endif
