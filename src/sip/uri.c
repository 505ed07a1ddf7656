/* uri.c: SIP, SIPS and tel URIs (RFC 3261 19.1, RFC 3966), parameters, escapes, comparison. */
#include "sip/sip_int.h"
#include "sip/uri_fast.h"

#include <errno.h>

static int fail(const char **reason, const char *why)
{
    *reason = why;
    return EBADMSG;
}

/* The first byte of [p, end) that is neither in cls nor starts a valid
 * %HH escape ('%' is in no URI class), or end; *escaped is set when an
 * escape was passed. */
static inline __attribute__((always_inline)) const char *
escaped_run_end(const char *p, const char *end, unsigned cls, bool *escaped)
{
    for (;;) {
        p = skip_class(p, end, cls);
        if (p == end || *p != '%' || end - p < 3 || hex_value(p[1]) < 0 || hex_value(p[2]) < 0)
            return p;
        *escaped = true;
        p += 3;
    }
}

/* Checks that every byte of [p, end) is in cls or starts a valid %HH
 * escape; *escaped is set when there is one. */
static bool escaped_run_valid(const char *p, const char *end, unsigned cls, bool *escaped)
{
    return escaped_run_end(p, end, cls, escaped) == end;
}

/* URI parameters: *( ";" pname [ "=" pvalue ] ), no LWS. */
/* More than this many parameters is no URI a phone sends, and comparing
 * URIs is quadratic in them (RFC 3261 19.1.4 matches names across both). */
#define URI_MAX_PARAMS 64

/* Parses the parameters at p; with 'headers', a '?' (which no parameter
 * holds) ends them. Returns where they end, or NULL with *reason. */
static const char *parse_uri_params(struct sip_uri *uri, const char *p, const char *end,
                                    bool headers, const char **reason)
{
    unsigned count = 0;

    while (p < end) {
        if (headers && *p == '?')
            break;
        if (++count > URI_MAX_PARAMS) {
            fail(reason, "too many URI parameters");
            return NULL;
        }
        if (*p != ';') {
            fail(reason, "bad URI parameter");
            return NULL;
        }
        /* one scan per name and value: neither '=' nor ';' is a paramchar,
         * so the scan of valid bytes stops at the delimiter, and any other
         * byte it stops at is invalid */
        const char *name = ++p;
        bool name_escaped = false, escaped = false;
        p = escaped_run_end(p, end, CC_PARAM, &name_escaped);
        if (p == name || (p < end && *p != '=' && *p != ';' && !(headers && *p == '?'))) {
            fail(reason, "bad URI parameter");
            return NULL;
        }
        struct slice n = slice_make(name, (size_t)(p - name));
        struct slice v = SLICE_NULL;
        if (p < end && *p == '=') {
            const char *val = ++p;
            p = escaped_run_end(p, end, CC_PARAM, &escaped);
            if (p == val || (p < end && *p != ';' && !(headers && *p == '?'))) {
                fail(reason, "bad URI parameter value");
                return NULL;
            }
            v = slice_make(val, (size_t)(p - val));
        }
        /* RFC 3261 19.1.4: an escaped name is the name it decodes to
         * (";%6C%72" is lr), so the frequent ones are matched decoded. */
        char decoded[16];
        if (name_escaped) {
            long dn = sip_unescape(n, decoded, sizeof(decoded));
            if (dn > 0)
                n = slice_make(decoded, (size_t)dn);
        }
        switch (n.len) {
        case 2:
            if (SLICE_IEQ(n, "lr"))
                uri->lr = true;
            break;
        case 3:
            if (SLICE_IEQ(n, "ttl"))
                uri->ttl = v;
            break;
        case 4:
            if (SLICE_IEQ(n, "user"))
                uri->user_param = v;
            break;
        case 5:
            if (SLICE_IEQ(n, "maddr"))
                uri->maddr = v;
            break;
        case 9:
            if (SLICE_IEQ(n, "transport"))
                uri->transport = v;
            break;
        }
    }
    return p;
}

static int parse_uri_headers(const char *p, const char *end, const char **reason)
{
    /* hname "=" hvalue *( "&" hname "=" hvalue ); hvalue may be empty */
    if (p >= end)
        return fail(reason, "empty URI headers after ?");
    while (p < end) {
        const char *name = p;
        while (p < end && *p != '=' && *p != '&')
            p++;
        bool escaped = false;
        if (p == name || !escaped_run_valid(name, p, CC_HNV, &escaped))
            return fail(reason, "bad URI header");
        if (p >= end || *p != '=')
            return fail(reason, "URI header without =");
        const char *val = ++p;
        while (p < end && *p != '&')
            p++;
        if (!escaped_run_valid(val, p, CC_HNV, &escaped))
            return fail(reason, "bad URI header value");
        if (p < end && ++p == end)
            return fail(reason, "URI headers end with &");
    }
    return 0;
}

static int parse_sip(struct sip_uri *uri, const char *p, const char *end, const char *lim,
                     const char **reason)
{
    /* The user is scanned first: neither '@' nor ':' is a user character,
     * so the scan stops at the '@' that ends a user or at the ':' before a
     * password; any other stop with an '@' after it is a bad user (the
     * first ':' before the '@', if any, comes after it). No '@' at all:
     * there is no userinfo, and the scan was only a look. */
    bool escaped = false;
    const char *u = escaped_run_end(p, end, CC_USER, &escaped);
    const char *at = NULL;
    if (u < end)
        at = *u == '@' ? u : find_byte_in(u, end, lim, '@');

    if (at) {
        const char *colon = *u == ':' ? u : NULL;
        const char *user_end = colon ? colon : at;
        if (user_end == p)
            return fail(reason, "empty user in URI");
        if (u != user_end)
            return fail(reason, "bad user in URI");
        uri->user = slice_make(p, (size_t)(user_end - p));
        if (colon) {
            if (!escaped_run_valid(colon + 1, at, CC_PASS, &escaped))
                return fail(reason, "bad password in URI");
            uri->password = slice_make(colon + 1, (size_t)(at - colon - 1));
        }
        p = at + 1;
    }
    p = sip_scan_host_in(p, end, lim, &uri->host, &uri->host_type);
    if (!p)
        return fail(reason, "bad host in URI");
    if (p < end && *p == ':') {
        const char *ps = ++p;
        uint64_t port;
        if (sip_port4(p, end, &port)) {
            p += 4;
            uri->port_str = slice_make(ps, 4);
        } else {
            while (p < end && cc_is(*p, CC_DIGIT))
                p++;
            uri->port_str = slice_make(ps, (size_t)(p - ps));
            if (slice_to_u64(uri->port_str, 65535, &port) != 0)
                return fail(reason, "bad port in URI");
        }
        if (port == 0)
            return fail(reason, "bad port in URI");
        uri->port = (uint16_t)port;
    }
    if (p < end && *p != ';' && *p != '?')
        return fail(reason, "bad host in URI");
    /* the parameters end at the first '?' (none of them holds one) */
    const char *q = p;
    if (p < end && *p == ';') {
        q = parse_uri_params(uri, p, end, true, reason);
        if (!q)
            return EBADMSG;
    }
    uri->params = slice_make(p, (size_t)(q - p));
    if (q < end) { /* at the '?' */
        uri->headers = slice_make(q + 1, (size_t)(end - q - 1));
        if (parse_uri_headers(q + 1, end, reason) != 0)
            return EBADMSG;
    }
    return 0;
}

static bool tel_char(char c)
{
    return cc_is(c, CC_DIGIT) || hex_value(c) >= 0 || c == '+' || c == '-' || c == '.' ||
           c == '(' || c == ')' || c == '*' || c == '#' || c == 'p' || c == 'w' ||
           c == 'P' || c == 'W';
}

static int parse_tel(struct sip_uri *uri, const char *p, const char *end, const char **reason)
{
    const char *s = p;

    while (p < end && tel_char(*p))
        p++;
    if (p == s)
        return fail(reason, "empty tel number");
    uri->user = slice_make(s, (size_t)(p - s));
    uri->params = slice_make(p, (size_t)(end - p));
    return parse_uri_params(uri, p, end, false, reason) ? 0 : EBADMSG;
}

#if defined(__SSE2__)
const char *sip_uri_fast_sse2(struct sip_uri *uri, const char *p, const char *end,
                              const char *lim)
{
    return uri_fast(uri, p, end, lim, false);
}

#if defined(SIP_NIBBLE_SCAN)
__attribute__((target("ssse3"))) const char *
sip_uri_fast_ssse3(struct sip_uri *uri, const char *p, const char *end, const char *lim)
{
    return uri_fast(uri, p, end, lim, true);
}
#endif
#endif

int sip_uri_parse(struct sip_uri *uri, struct slice text, const char **reason)
{
    return sip_uri_parse_in(uri, text, slice_end(text), reason);
}

/* The fast path inlined into each build, the slow one called when it
 * gives up (a URI of fewer than five bytes is none it takes). */
static inline __attribute__((always_inline)) int
uri_parse_in(struct sip_uri *uri, struct slice text, const char *lim, const char **reason,
             const bool simd)
{
#if defined(__SSE2__)
    if (text.len > 4 && uri_fast(uri, text.p, text.p + text.len, lim, simd) == text.p + text.len)
        return 0;
#else
    (void)simd;
#endif
    return sip_uri_parse_generic(uri, text, lim, reason);
}

#if defined(SIP_NIBBLE_SCAN)
__attribute__((target("ssse3"))) static int uri_parse_in_ssse3(struct sip_uri *uri,
                                                               struct slice text,
                                                               const char *lim,
                                                               const char **reason)
{
    return uri_parse_in(uri, text, lim, reason, true);
}
#endif

int sip_uri_parse_in(struct sip_uri *uri, struct slice text, const char *lim,
                     const char **reason)
{
#if defined(SIP_NIBBLE_SCAN)
    if (sip_cpu_has_ssse3())
        return uri_parse_in_ssse3(uri, text, lim, reason);
#endif
    return uri_parse_in(uri, text, lim, reason, false);
}

int sip_uri_parse_generic(struct sip_uri *uri, struct slice text, const char *lim,
                          const char **reason)
{
    const char *p = text.p, *end = slice_end(text);

    zero_struct(uri, sizeof(*uri));
    uri->raw = text;
    if (text.len == 0)
        return fail(reason, "empty URI");
    /* "sip:" in any case, in one compare: OR-ing 0x20 into the three
     * letters (not the colon; the mask is bytes, so any byte order) folds
     * only their upper case onto them */
    bool sip = text.len >= 4 &&
               (slice_load32(p) | slice_load32("\x20\x20\x20\x00")) == slice_load32("sip:");
    if (sip) {
        p += 3;
    } else {
        if (!cc_is(*p, CC_ALPHA))
            return fail(reason, "bad URI scheme");
        p++;
        while (p < end && cc_is(*p, CC_SCHEME))
            p++;
        if (p >= end || *p != ':')
            return fail(reason, "bad URI scheme");
    }
    uri->scheme = slice_make(text.p, (size_t)(p - text.p));
    p++;
    /* one call site, so that parse_sip() is inlined */
    sip = sip || SLICE_IEQ(uri->scheme, "sip");
    if (sip || SLICE_IEQ(uri->scheme, "sips")) {
        uri->scheme_id = sip ? SIP_URI_SIP : SIP_URI_SIPS;
        return parse_sip(uri, p, end, lim, reason);
    }
    if (SLICE_IEQ(uri->scheme, "tel")) {
        uri->scheme_id = SIP_URI_TEL;
        return parse_tel(uri, p, end, reason);
    }
    uri->scheme_id = SIP_URI_OTHER;
    uri->opaque = slice_make(p, (size_t)(end - p));
    bool escaped = false;
    if (uri->opaque.len == 0 || !escaped_run_valid(p, end, CC_URIC, &escaped))
        return fail(reason, "bad URI");
    return 0;
}

long sip_unescape(struct slice s, char *out, size_t cap)
{
    size_t n = 0;

    for (size_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        if (c == '%') {
            if (i + 2 >= s.len)
                return -1;
            int hi = hex_value(s.p[i + 1]), lo = hex_value(s.p[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (n >= cap)
            return -1;
        out[n++] = c;
    }
    return (long)n;
}

/* RFC 3261 25.1 reserved: an escaped one is data, not the delimiter. */
static bool is_reserved(int c)
{
    return c == ';' || c == '/' || c == '?' || c == ':' || c == '@' || c == '&' || c == '=' ||
           c == '+' || c == '$' || c == ',';
}

/* Reads one possibly escaped character; returns the next index. An escaped
 * reserved character gets bit 8 set, so it equals only the same escape
 * (RFC 3261 19.1.4: only non-reserved characters equal their escapes). */
static size_t next_char(struct slice s, size_t i, int *c)
{
    if (s.p[i] == '%' && i + 2 < s.len && hex_value(s.p[i + 1]) >= 0 &&
        hex_value(s.p[i + 2]) >= 0) {
        *c = hex_value(s.p[i + 1]) * 16 + hex_value(s.p[i + 2]);
        if (is_reserved(*c))
            *c |= 0x100;
        return i + 3;
    }
    *c = (unsigned char)s.p[i];
    return i + 1;
}

bool sip_escaped_eq(struct slice a, struct slice b, bool case_insensitive)
{
    size_t i = 0, j = 0;

    while (i < a.len && j < b.len) {
        int ca, cb;
        i = next_char(a, i, &ca);
        j = next_char(b, j, &cb);
        if (case_insensitive) {
            ca = (ca & 0x100) | (unsigned char)ascii_lower((char)(ca & 0xff));
            cb = (cb & 0x100) | (unsigned char)ascii_lower((char)(cb & 0xff));
        }
        if (ca != cb)
            return false;
    }
    return i == a.len && j == b.len;
}

/* Parameters that must match when either URI has them (RFC 3261 19.1.4). */
static bool param_must_match(struct slice name)
{
    static const char *const names[] = {"user", "ttl", "method", "maddr", "transport"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (slice_caseeq_str(name, names[i]))
            return true;
    return false;
}

/* Looks in a ";a=b;c" run (no LWS) for a parameter named 'name' whose value
 * equals 'value' (escapes decoded, case-insensitive). A name may repeat, so
 * every occurrence is tried: taking the first alone made a URI with
 * ";x=1;x=2" differ from itself. *seen says whether the name occurs at all. */
static bool uri_param_match(struct slice params, struct slice name, struct slice value,
                            bool *seen)
{
    const char *p = params.p, *end = slice_end(params);

    *seen = false;
    while (p < end) {
        const char *n = ++p; /* skip ';' */
        while (p < end && *p != '=' && *p != ';')
            p++;
        struct slice pn = slice_make(n, (size_t)(p - n));
        struct slice pv = SLICE_NULL;
        if (p < end && *p == '=') {
            const char *v = ++p;
            while (p < end && *p != ';')
                p++;
            pv = slice_make(v, (size_t)(p - v));
        }
        if (sip_escaped_eq(pn, name, true)) {
            *seen = true;
            if (sip_escaped_eq(pv, value, true))
                return true;
        }
    }
    return false;
}

static bool params_subset_match(struct slice a, struct slice b)
{
    const char *p = a.p, *end = slice_end(a);

    while (p < end) {
        const char *n = ++p;
        while (p < end && *p != '=' && *p != ';')
            p++;
        struct slice pn = slice_make(n, (size_t)(p - n));
        struct slice pv = SLICE_NULL;
        if (p < end && *p == '=') {
            const char *v = ++p;
            while (p < end && *p != ';')
                p++;
            pv = slice_make(v, (size_t)(p - v));
        }
        bool seen;
        if (uri_param_match(b, pn, pv, &seen))
            continue;
        if (seen || param_must_match(pn))
            return false;
    }
    return true;
}

/* Cuts the next "name=value" of a URI header run at p; returns where the
 * one after it starts. */
static const char *next_uri_header(const char *p, const char *end, struct slice *name,
                                   struct slice *value)
{
    const char *h = p;

    while (p < end && *p != '&')
        p++;
    const char *eq = memchr(h, '=', (size_t)(p - h));
    *name = slice_make(h, (size_t)((eq ? eq : p) - h));
    *value = eq ? slice_make(eq + 1, (size_t)(p - eq - 1)) : SLICE_NULL;
    return p < end ? p + 1 : end;
}

/* Whether every header of run a is in run b with an equal value: names
 * case-insensitive, values case-sensitive, escapes decoded on both sides. */
static bool headers_subset_match(struct slice a, struct slice b)
{
    const char *p = a.p, *end = a.p ? slice_end(a) : NULL;
    const char *b_end = b.p ? slice_end(b) : NULL;

    while (p < end) {
        struct slice na, va, nb, vb;
        bool found = false;
        p = next_uri_header(p, end, &na, &va);
        for (const char *q = b.p; q < b_end && !found;) {
            q = next_uri_header(q, b_end, &nb, &vb);
            found = sip_escaped_eq(na, nb, true) && sip_escaped_eq(va, vb, false);
        }
        if (!found)
            return false;
    }
    return true;
}

bool sip_uri_eq(const struct sip_uri *a, const struct sip_uri *b)
{
    if (a->scheme_id != b->scheme_id)
        return false;
    if (a->scheme_id == SIP_URI_OTHER)
        return slice_caseeq(a->scheme, b->scheme) && slice_eq(a->opaque, b->opaque);
    if (slice_present(a->user) != slice_present(b->user) ||
        !sip_escaped_eq(a->user, b->user, a->scheme_id == SIP_URI_TEL))
        return false;
    if (slice_present(a->password) != slice_present(b->password) ||
        !sip_escaped_eq(a->password, b->password, false))
        return false;
    if (!slice_caseeq(a->host, b->host) || a->port != b->port)
        return false;
    if (!params_subset_match(a->params, b->params) || !params_subset_match(b->params, a->params))
        return false;
    /* headers: every header in either must be in both with equal values,
     * in any order (RFC 3261 19.1.4: "?subject=x&priority=urgent" equals
     * "?priority=urgent&subject=x") */
    return headers_subset_match(a->headers, b->headers) &&
           headers_subset_match(b->headers, a->headers);
}

void sip_param_iter_init(struct sip_param_iter *it, struct slice params)
{
    /* An absent run (a URI of another scheme has none) iterates as empty;
     * slice_end() of it would be NULL + 0, which C leaves undefined. */
    it->p = params.p;
    it->end = params.p ? slice_end(params) : NULL;
}

bool sip_param_next(struct sip_param_iter *it, struct sip_param *param)
{
    const char *p = it->p, *end = it->end;

    /* LWS is allowed around every delimiter but rare: skipped only where
     * the byte found is not the one expected */
    if (p < end && *p != ';')
        p = skip_lws(p, end);
    if (p >= end || *p != ';')
        return false;
    const char *n = ++p;
    p = skip_class(p, end, CC_TOKEN);
    if (p == n) {
        n = skip_lws(n, end);
        p = skip_class(n, end, CC_TOKEN);
        if (p == n)
            return false;
    }
    param->name = slice_make(n, (size_t)(p - n));
    param->value = SLICE_NULL;
    if (p < end && *p != '=')
        p = skip_lws(p, end);
    if (p < end && *p == '=') {
        p++;
        if (p < end && *p != '"' && !cc_is(*p, CC_PVAL))
            p = skip_lws(p, end);
        const char *v = p;
        if (p < end && *p == '"') {
            p = sip_scan_quoted(p, end);
            if (!p)
                return false;
        } else {
            /* the usual value (token or host) four bytes at a time, then
             * anything else up to ';' or LWS */
            p = skip_class(p, end, CC_PVAL);
            while (p < end && *p != ';' && !cc_is(*p, CC_WS))
                p++;
        }
        param->value = slice_make(v, (size_t)(p - v));
    }
    it->p = p;
    return true;
}

bool sip_param_find(struct slice params, const char *name, struct sip_param *param)
{
    struct sip_param_iter it;
    size_t n = strlen(name);

    sip_param_iter_init(&it, params);
    while (sip_param_next(&it, param)) {
        if (param->name.len != n)
            continue;
        size_t i = 0;
        while (i < n && ascii_lower(param->name.p[i]) == ascii_lower(name[i]))
            i++;
        if (i == n)
            return true;
    }
    return false;
}

struct slice sip_unquote(struct slice v)
{
    if (v.len >= 2 && v.p[0] == '"' && v.p[v.len - 1] == '"')
        return slice_make(v.p + 1, v.len - 2);
    return v;
}
