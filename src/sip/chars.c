/* chars.c: RFC 3261 character classes and the small scanners built on them. */
#include "sip/sip_int.h"

#include <errno.h>

#define ALNUM_CLS (CC_TOKEN | CC_USER | CC_PASS | CC_HOST | CC_PARAM | CC_HNV | CC_SCHEME | CC_WORD | CC_URIC)
#define MARK_CLS (CC_USER | CC_PASS | CC_PARAM | CC_HNV | CC_WORD | CC_URIC)

/* Ranges use the GNU designated-range extension that gcc and clang accept. */
const uint16_t sip_cclass[256] = {
    [' '] = CC_WS,
    ['\t'] = CC_WS,
    ['\r'] = CC_WS,
    ['\n'] = CC_WS,
    ['0' ... '9'] = ALNUM_CLS | CC_DIGIT,
    ['a' ... 'z'] = ALNUM_CLS | CC_ALPHA,
    ['A' ... 'Z'] = ALNUM_CLS | CC_ALPHA,
    /* mark: - _ . ! ~ * ' ( ) ; token has - . ! % * _ + ` ' ~ */
    ['-'] = MARK_CLS | CC_TOKEN | CC_HOST | CC_SCHEME,
    ['_'] = MARK_CLS | CC_TOKEN | CC_HOST,
    ['.'] = MARK_CLS | CC_TOKEN | CC_HOST | CC_SCHEME,
    ['!'] = MARK_CLS | CC_TOKEN,
    ['~'] = MARK_CLS | CC_TOKEN,
    ['*'] = MARK_CLS | CC_TOKEN,
    ['\''] = MARK_CLS | CC_TOKEN,
    ['('] = MARK_CLS,
    [')'] = MARK_CLS,
    ['%'] = CC_TOKEN | CC_USER | CC_PASS | CC_PARAM | CC_HNV | CC_WORD | CC_URIC,
    ['+'] = CC_TOKEN | CC_USER | CC_PASS | CC_PARAM | CC_HNV | CC_WORD | CC_URIC | CC_SCHEME,
    ['`'] = CC_TOKEN | CC_WORD,
    /* user-unreserved: & = + $ , ; ? / */
    ['&'] = CC_USER | CC_PASS | CC_PARAM | CC_URIC,
    ['='] = CC_USER | CC_PASS | CC_URIC,
    ['$'] = CC_USER | CC_PASS | CC_PARAM | CC_HNV | CC_URIC,
    [','] = CC_USER | CC_PASS | CC_URIC,
    [';'] = CC_USER | CC_URIC,
    ['?'] = CC_USER | CC_HNV | CC_WORD | CC_URIC,
    ['/'] = CC_USER | CC_PARAM | CC_HNV | CC_WORD | CC_URIC,
    /* param-unreserved [ ] / : & + $ ; hnv-unreserved [ ] / ? : + $ */
    ['['] = CC_PARAM | CC_HNV | CC_WORD | CC_URIC,
    [']'] = CC_PARAM | CC_HNV | CC_WORD | CC_URIC,
    [':'] = CC_PARAM | CC_HNV | CC_WORD | CC_URIC,
    ['@'] = CC_URIC,
    ['<'] = CC_WORD,
    ['>'] = CC_WORD,
    ['\\'] = CC_WORD,
    ['"'] = CC_WORD,
    ['{'] = CC_WORD,
    ['}'] = CC_WORD,
    ['#'] = CC_URIC,
};

const char *sip_scan_quoted(const char *p, const char *end)
{
    p++; /* the opening quote */
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

const char *sip_scan_host(const char *p, const char *end, struct slice *host, uint8_t *type)
{
    if (p >= end)
        return NULL;
    if (*p == '[') {
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (!close || !sip_ipv6_valid(p + 1, (size_t)(close - p - 1)))
            return NULL;
        *host = slice_make(p + 1, (size_t)(close - p - 1));
        *type = SIP_HOST_IPV6;
        return close + 1;
    }
    const char *s = p;
    while (p < end && cc_is(*p, CC_HOST))
        p++;
    if (p == s)
        return NULL;
    *host = slice_make(s, (size_t)(p - s));
    if (sip_ipv4_valid(s, (size_t)(p - s))) {
        *type = SIP_HOST_IPV4;
        return p;
    }
    /* hostname: labels of alnum and '-', not starting or ending with '-';
     * a trailing dot is allowed. '_' is tolerated as real networks use it. */
    bool label_start = true;
    bool all_numeric = true;
    for (const char *q = s; q < p; q++) {
        if (*q == '.') {
            if (label_start)
                return NULL;
            if (q[-1] == '-')
                return NULL;
            label_start = true;
            continue;
        }
        if (label_start && *q == '-')
            return NULL;
        if (!cc_is(*q, CC_DIGIT) && *q != '.')
            all_numeric = false;
        label_start = false;
    }
    if (all_numeric || p[-1] == '-')
        return NULL; /* digits and dots that are no IPv4 address */
    *type = SIP_HOST_NAME;
    return p;
}

int sip_scan_params(const char *p, const char *end, struct slice *params, const char **reason)
{
    const char *start;

    p = skip_lws(p, end);
    start = p;
    while (p < end) {
        if (*p != ';') {
            *reason = "unexpected character after the value";
            return EBADMSG;
        }
        p = skip_lws(p + 1, end);
        const char *name = p;
        p = skip_token(p, end);
        if (p == name) {
            *reason = "empty parameter";
            return EBADMSG;
        }
        p = skip_lws(p, end);
        if (p < end && *p == '=') {
            p = skip_lws(p + 1, end);
            if (p < end && *p == '"') {
                p = sip_scan_quoted(p, end);
                if (!p) {
                    *reason = "unterminated quoted string in a parameter";
                    return EBADMSG;
                }
            } else {
                const char *v = p;
                while (p < end && (cc_is(*p, CC_TOKEN) || *p == ':' || *p == '[' || *p == ']'))
                    p++;
                if (p == v) {
                    *reason = "empty parameter value";
                    return EBADMSG;
                }
            }
            p = skip_lws(p, end);
        }
    }
    *params = slice_make(start, (size_t)(p - start));
    return 0;
}
