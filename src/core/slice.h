/* slice.h: the zero-copy token type every parsed SIP value is made of. */
#ifndef SIPD_CORE_SLICE_H
#define SIPD_CORE_SLICE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * A run of bytes inside a buffer somebody else owns (usually a message's
 * receive buffer). Never NUL-terminated, passed by value, never outlives the
 * buffer. An absent value is {NULL, 0}; a present but empty one has p != NULL.
 */
struct slice {
    const char *p;
    size_t len;
};

#define SLICE_NULL ((struct slice){NULL, 0})
/* A slice over a string literal, without its NUL. */
#define SLICE_LIT(s) ((struct slice){"" s, sizeof(s) - 1})

static inline struct slice slice_make(const char *p, size_t len)
{
    return (struct slice){p, len};
}

static inline struct slice slice_from_str(const char *s)
{
    return (struct slice){s, s ? strlen(s) : 0};
}

static inline bool slice_present(struct slice s)
{
    return s.p != NULL;
}

/* One past the last byte; NULL for an absent slice (NULL + 0 is undefined in C). */
static inline const char *slice_end(struct slice s)
{
    return s.p ? s.p + s.len : NULL;
}

/* Byte-wise equality. */
bool slice_eq(struct slice a, struct slice b);
/* ASCII case-insensitive equality (header names, hosts, schemes, params). */
bool slice_caseeq(struct slice a, struct slice b);
/* Case-insensitive comparison against a NUL-terminated literal. */
bool slice_caseeq_str(struct slice a, const char *s);
bool slice_eq_str(struct slice a, const char *s);

/* The slice without leading and trailing SP, HTAB, CR and LF. */
struct slice slice_trim(struct slice s);

/*
 * Parses an unsigned decimal of at most 'max' into *out. Leading zeros are
 * allowed; an empty slice, a non-digit or a value over max is EINVAL / ERANGE.
 * Returns 0, EINVAL or ERANGE; *out is set only on success.
 */
/* slice_to_u64 for any length: its out-of-line part. */
int slice_to_u64_any(struct slice s, uint64_t max, uint64_t *out);
static inline int slice_to_u64(struct slice s, uint64_t max, uint64_t *out)
{
    /* up to 9 digits cannot overflow: the common case, inline */
    if (s.len - 1 < 9) {
        uint64_t v = 0;
        for (size_t i = 0; i < s.len; i++) {
            unsigned d = (unsigned)(unsigned char)s.p[i] - '0';
            if (d > 9)
                return EINVAL;
            v = v * 10 + d;
        }
        if (v > max)
            return ERANGE;
        *out = v;
        return 0;
    }
    return slice_to_u64_any(s, max, out);
}

static inline int slice_to_u32(struct slice s, uint32_t *out)
{
    uint64_t v;
    int err = slice_to_u64(s, UINT32_MAX, &v);

    if (err == 0)
        *out = (uint32_t)v;
    return err;
}

/* ASCII lower-casing of one byte without locale. */
static inline char ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

/*
 * Case-insensitive equality of n bytes of p with 'lower', a lower-case
 * literal of letters, digits and '-'. OR-ing 0x20 lower-cases a letter and
 * leaves the other token characters alone; it also maps a few control bytes
 * onto digits and '-', so p must hold token characters (parameter and
 * header names, which the scanners have validated). Inline: the compilers
 * unroll it for the literal lengths the decoders use.
 */
static inline uint64_t slice_load64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint32_t slice_load32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline bool ascii_ieq_lower(const char *p, const char *lower, size_t n)
{
    /* whole words, the last one overlapping the one before: every byte
     * read lies inside [0, n) of both strings */
    if (n >= 8) {
        size_t i = 0;
        for (; i + 8 < n; i += 8)
            if ((slice_load64(p + i) | 0x2020202020202020ull) != slice_load64(lower + i))
                return false;
        return (slice_load64(p + n - 8) | 0x2020202020202020ull) == slice_load64(lower + n - 8);
    }
    if (n >= 4)
        return (slice_load32(p) | 0x20202020u) == slice_load32(lower) &&
               (slice_load32(p + n - 4) | 0x20202020u) == slice_load32(lower + n - 4);
    for (size_t i = 0; i < n; i++)
        if ((char)(p[i] | 0x20) != lower[i])
            return false;
    return true;
}

/* s equals the lower-case literal, ignoring case (see ascii_ieq_lower). */
#define SLICE_IEQ(s, lit) ((s).len == sizeof(lit) - 1 && ascii_ieq_lower((s).p, "" lit, sizeof(lit) - 1))

/* Value of one hex digit, or -1. */
static inline int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = ascii_lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

#endif
