/* chars.c: RFC 3261 character classes and the small scanners built on them. */
#include "sip/sip_int.h"

#include <errno.h>

#define ALNUM_CLS                                                                                  \
    (CC_TOKEN | CC_USER | CC_PASS | CC_HOST | CC_PARAM | CC_HNV | CC_SCHEME | CC_WORD | CC_URIC |  \
     CC_PVAL)
#define MARK_CLS (CC_USER | CC_PASS | CC_PARAM | CC_HNV | CC_WORD | CC_URIC)
#define TOKEN_MARK_CLS (MARK_CLS | CC_TOKEN | CC_PVAL)

/* Ranges use the GNU designated-range extension that gcc and clang accept. */
const uint16_t sip_cclass[256] = {
    [' '] = CC_WS,
    ['\t'] = CC_WS,
    ['\r'] = CC_WS,
    ['\n'] = CC_WS,
    ['0' ... '9'] = ALNUM_CLS | CC_DIGIT | CC_DIGITDOT,
    ['a' ... 'z'] = ALNUM_CLS | CC_ALPHA,
    ['A' ... 'Z'] = ALNUM_CLS | CC_ALPHA,
    /* mark: - _ . ! ~ * ' ( ) ; token has - . ! % * _ + ` ' ~ */
    ['-'] = TOKEN_MARK_CLS | CC_HOST | CC_SCHEME,
    ['_'] = TOKEN_MARK_CLS | CC_HOST,
    ['.'] = TOKEN_MARK_CLS | CC_HOST | CC_SCHEME | CC_DIGITDOT,
    ['!'] = TOKEN_MARK_CLS,
    ['~'] = TOKEN_MARK_CLS,
    ['*'] = TOKEN_MARK_CLS,
    ['\''] = TOKEN_MARK_CLS,
    ['('] = MARK_CLS,
    [')'] = MARK_CLS,
    /* '%' is in none of the URI classes (user, password, param, hnv, uric):
     * escaped_run_valid() checks that each one starts an escape */
    ['%'] = CC_TOKEN | CC_PVAL | CC_WORD,
    ['+'] = CC_TOKEN | CC_PVAL | CC_USER | CC_PASS | CC_PARAM | CC_HNV | CC_WORD | CC_URIC |
            CC_SCHEME,
    ['`'] = CC_TOKEN | CC_PVAL | CC_WORD,
    /* user-unreserved: & = + $ , ; ? / */
    ['&'] = CC_USER | CC_PASS | CC_PARAM | CC_URIC,
    ['='] = CC_USER | CC_PASS | CC_URIC,
    ['$'] = CC_USER | CC_PASS | CC_PARAM | CC_HNV | CC_URIC,
    [','] = CC_USER | CC_PASS | CC_URIC | CC_LIST,
    [';'] = CC_USER | CC_URIC,
    ['?'] = CC_USER | CC_HNV | CC_WORD | CC_URIC,
    ['/'] = CC_USER | CC_PARAM | CC_HNV | CC_WORD | CC_URIC,
    /* param-unreserved [ ] / : & + $ ; hnv-unreserved [ ] / ? : + $ */
    ['['] = CC_PARAM | CC_HNV | CC_WORD | CC_URIC | CC_PVAL,
    [']'] = CC_PARAM | CC_HNV | CC_WORD | CC_URIC | CC_PVAL,
    [':'] = CC_PARAM | CC_HNV | CC_WORD | CC_URIC | CC_PVAL,
    ['@'] = CC_URIC,
    ['<'] = CC_WORD | CC_LIST,
    ['>'] = CC_WORD | CC_LIST,
    ['\\'] = CC_WORD,
    ['"'] = CC_WORD | CC_LIST,
    ['{'] = CC_WORD,
    ['}'] = CC_WORD,
    ['#'] = CC_URIC,
};

/* Generated from sip_cclass[] (see sip_int.h; the unit tests check them). */
const uint8_t sip_nibble_lo[SIP_NIB_COUNT][16] = {
    [SIP_NIB_TOKEN] = {0x3a, 0x3f, 0x3e, 0x3e, 0x3e, 0x3f, 0x3e, 0x3f, 0x3e, 0x3e, 0x3d, 0x15, 0x14,
                       0x15, 0x35, 0x1c},
    [SIP_NIB_PVAL] = {0x3a, 0x3f, 0x3e, 0x3e, 0x3e, 0x3f, 0x3e, 0x3f, 0x3e, 0x3e, 0x3f, 0x1d, 0x14,
                      0x1d, 0x35, 0x1c},
};

/* The IPv4 shapes (see sip_int.h), one per four part lengths of one to
 * three digits, each at the slot its key hashes to. The 81 keys hash to
 * distinct slots: two at one slot would be an initializer overridden,
 * which -Wextra reports. The unit tests hold the lookup to the byte loop
 * on every dot mask of every length. */
#define IPV4_KEY(a, b, c, d)                                                                       \
    (1u << (a) | 1u << ((a) + (b) + 1) | 1u << ((a) + (b) + (c) + 2) |                             \
     1u << ((a) + (b) + (c) + (d) + 3))
#define IPV4_THREE(a, b, c, d)                                                                     \
    ((unsigned)((a) == 3) | (unsigned)((b) == 3) << ((a) + 1) |                                    \
     (unsigned)((c) == 3) << ((a) + (b) + 2) | (unsigned)((d) == 3) << ((a) + (b) + (c) + 3))
#define IPV4_SHAPE(a, b, c, d)                                                                     \
    [SIP_IPV4_HASH(IPV4_KEY(a, b, c, d))] = IPV4_KEY(a, b, c, d) | IPV4_THREE(a, b, c, d) << 16
#define IPV4_SHAPES4(a, b, c) IPV4_SHAPE(a, b, c, 1), IPV4_SHAPE(a, b, c, 2), IPV4_SHAPE(a, b, c, 3)
#define IPV4_SHAPES3(a, b)    IPV4_SHAPES4(a, b, 1), IPV4_SHAPES4(a, b, 2), IPV4_SHAPES4(a, b, 3)
#define IPV4_SHAPES2(a)       IPV4_SHAPES3(a, 1), IPV4_SHAPES3(a, 2), IPV4_SHAPES3(a, 3)
const uint32_t sip_ipv4_shapes[256] = {IPV4_SHAPES2(1), IPV4_SHAPES2(2), IPV4_SHAPES2(3)};

const char *sip_scan_quoted(const char *p, const char *end)
{
    p++; /* the opening quote */
    /* most quoted strings hold no backslash: the first quote or backslash */
    const char *q = find_byte2(p, end, '"', '\\');
    if (!q)
        return NULL;
    if (*q == '"')
        return q + 1;
    p = q;
    while (p < end) {
        if (*p == '"')
            return p + 1;
        if (*p == '\\') {
            if (end - p < 2)
                return NULL;
            p += 2;
            continue;
        }
        p++;
    }
    return NULL;
}

bool sip_ipv4_valid(const char *p, size_t len)
{
    const char *end = p + len;
    int parts = 0;

    while (parts < 4) {
        unsigned v = 0;
        int digits = 0;
        while (p < end && *p >= '0' && *p <= '9' && digits < 4) {
            v = v * 10 + (unsigned)(*p - '0');
            p++;
            digits++;
        }
        if (digits == 0 || digits > 3 || v > 255)
            return false;
        parts++;
        if (parts < 4) {
            if (p >= end || *p != '.')
                return false;
            p++;
        }
    }
    return p == end;
}

/* RFC 4291 text form with the RFC 5954 fix: at most one "::", 8 groups
 * (or 6 plus a dotted IPv4 tail), no ":::". */
bool sip_ipv6_valid(const char *p, size_t len)
{
    const char *end = p + len;
    int groups = 0;
    bool compressed = false;

    if (len < 2)
        return false;
    if (p[0] == ':') {
        if (p[1] != ':')
            return false;
        compressed = true;
        p += 2;
        if (p == end)
            return true;
    }
    while (p < end) {
        const char *start = p;
        int digits = 0;
        while (p < end && hex_value(*p) >= 0 && digits < 5) {
            p++;
            digits++;
        }
        if (p < end && *p == '.') {
            /* dotted IPv4 tail: must be last and take two groups */
            if (!sip_ipv4_valid(start, (size_t)(end - start)))
                return false;
            groups += 2;
            p = end;
            break;
        }
        if (digits == 0 || digits > 4)
            return false;
        groups++;
        if (p == end)
            break;
        if (*p != ':')
            return false;
        p++;
        if (p < end && *p == ':') {
            if (compressed)
                return false;
            compressed = true;
            p++;
            if (p == end)
                break;
            if (*p == ':')
                return false;
        } else if (p == end) {
            return false; /* trailing single colon */
        }
    }
    return compressed ? groups <= 7 : groups == 8;
}

/* The length of the run of hostname characters (alphanum - . _) at p, at
 * most end - p; *digitdot says whether they are all digits and dots.
 * When the run is no IPv4 candidate and was classified in one 16-byte
 * block, *labels is set to 1 when its dots and dashes obey the label rules
 * of sip_scan_host() (no "..", ".-" or "-."), to 0 when they break them;
 * otherwise it is left alone. */
static inline size_t host_run(const char *p, const char *end, const char *lim, bool *digitdot,
                              int *labels)
{
    const char *s = p;
    bool dd = true;
#if defined(__SSE2__)
    while (lim - p >= 16 && p < end) {
        unsigned ddm, dots, dashes;
        unsigned host = sip_host_block(p, &ddm, &dots, &dashes);
        unsigned n = (unsigned)__builtin_ctz(~host); /* bit 16 is always clear */
        if ((size_t)(end - p) < n)
            n = (unsigned)(end - p);
        unsigned want = (1u << n) - 1;
        if ((ddm & want) != want)
            dd = false;
        p += n;
        if (n < 16) {
            if (p - s == n && !dd) { /* a name in one block: its labels here */
                *labels = sip_host_labels_ok(dots & want, dashes & want);
            }
            *digitdot = dd;
            return (size_t)(p - s);
        }
    }
#else
    (void)lim;
    (void)labels;
#endif
    while (p < end) {
        unsigned cls = sip_cclass[(unsigned char)*p];
        if (!(cls & CC_HOST))
            break;
        if (!(cls & CC_DIGITDOT))
            dd = false;
        p++;
    }
    *digitdot = dd;
    return (size_t)(p - s);
}

const char *sip_scan_host(const char *p, const char *end, const char *lim, struct slice *host,
                          uint8_t *type)
{
    if (p >= end)
        return NULL;
    if (*p == '[') {
        const char *close = find_byte_in(p, end, lim, ']');
        if (!close || !sip_ipv6_valid(p + 1, (size_t)(close - p - 1)))
            return NULL;
        *host = slice_make(p + 1, (size_t)(close - p - 1));
        *type = SIP_HOST_IPV6;
        return close + 1;
    }
    /* The scan classifies 16 bytes at a time (byte by byte near the end of
     * the buffer) and tells digits and dots; the label rules are checked
     * from the same block's masks, or afterwards at the few dots when the
     * run is longer. A hostname's labels are alphanum and '-', not starting
     * or ending with '-'; a trailing dot is allowed; '_' is tolerated as
     * real networks use it. Digits and dots only must be an IPv4 address
     * (a top label starts with a letter). */
    const char *s = p;
    bool digitdot;
    int labels = -1;
    size_t n = host_run(p, end, lim, &digitdot, &labels);
    if (n == 0)
        return NULL;
    p = s + n;
    *host = slice_make(s, n);
    if (digitdot) {
        if (!sip_ipv4_digitdot_valid(s, n))
            return NULL;
        *type = SIP_HOST_IPV4;
        return p;
    }
    if (s[0] == '.' || s[0] == '-' || s[n - 1] == '-' || labels == 0)
        return NULL;
    if (labels < 0) {
        for (const char *d = find_byte_in(s, p, lim, '.'); d;
             d = find_byte_in(d + 1, p, lim, '.')) {
            if (d[-1] == '-' || (d + 1 < p && (d[1] == '.' || d[1] == '-')))
                return NULL;
        }
    }
    *type = SIP_HOST_NAME;
    return p;
}

#if defined(SIP_NIBBLE_SCAN)
__attribute__((target("ssse3"))) int
sip_scan_params_ssse3(const char *p, const char *end, const char *lim, bool list,
                      const struct sip_param_want *want, unsigned nwant, struct slice *found,
                      struct slice *params, const char **stop, const char **reason)
{
    return scan_params(p, end, lim, list, want, nwant, found, params, stop, reason, true);
}
#endif

int sip_scan_params_generic(const char *p, const char *end, const char *lim, bool list,
                            const struct sip_param_want *want, unsigned nwant, struct slice *found,
                            struct slice *params, const char **stop, const char **reason)
{
    return scan_params(p, end, lim, list, want, nwant, found, params, stop, reason, false);
}
