/* fuzz_uri.c: libFuzzer driver for URI parsing, comparison, unescaping and parameters. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sip.h"

/*
 * The input is one URI, or two separated by the first LF (a URI never holds
 * one). Invariants: a parsed URI equals itself, and comparison is symmetric.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void invariant_failed(const char *why, struct slice a, struct slice b)
{
    fprintf(stderr, "fuzz_uri: %s\n  a: %.*s\n  b: %.*s\n", why, (int)a.len, a.p ? a.p : "",
            (int)b.len, b.p ? b.p : "");
    abort();
}

/* Unescapes into an exact-size heap buffer (the decoded form is never longer),
 * then once more into one byte too few to take the "no room" path. */
static void check_unescape(struct slice s, bool validated)
{
    if (!slice_present(s))
        return;
    char *out = malloc(s.len ? s.len : 1);
    if (!out)
        abort();
    long n = sip_unescape(s, out, s.len);
    if (n > (long)s.len || (validated && n < 0))
        abort(); /* the parser accepted these escapes, so they decode */
    if (n > 0) {
        long m = sip_unescape(s, out, (size_t)n - 1);
        if (m != -1)
            abort();
        /* the escaped and the decoded forms compare equal unless an escape
         * hides a reserved character, which RFC 3261 19.1.4 keeps distinct */
        bool plain = true;
        for (long k = 0; k < n; k++)
            if (out[k] == '%' || strchr(";/?:@&=+$,", out[k]))
                plain = false;
        if (plain && !sip_escaped_eq(s, slice_make(out, (size_t)n), false))
            invariant_failed("escaped form differs from its decoded form", s,
                             slice_make(out, (size_t)n));
    }
    free(out);
}

static void walk_params(struct slice params)
{
    struct sip_param_iter it;
    struct sip_param prm;
    unsigned n = 0;

    sip_param_iter_init(&it, params);
    while (sip_param_next(&it, &prm)) {
        if (prm.name.len == 0 || ++n > params.len)
            abort(); /* every step consumes input */
        (void)sip_unquote(prm.value);
        check_unescape(prm.value, false);
    }
    (void)sip_param_find(params, "transport", &prm);
    (void)sip_param_find(params, "lr", &prm);
}

/* Every decoded component lies inside the text it was parsed from. */
static void check_inside(const struct sip_uri *uri, struct slice text)
{
    const struct slice parts[] = {uri->scheme,  uri->user,      uri->password, uri->host,
                                  uri->port_str, uri->params,   uri->headers,  uri->opaque,
                                  uri->transport, uri->maddr,   uri->user_param, uri->ttl};
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        struct slice s = parts[i];
        if (slice_present(s) && (s.p < text.p || s.len > text.len ||
                                 (size_t)(s.p - text.p) > text.len - s.len))
            invariant_failed("a component points outside the URI", text, s);
    }
}

static bool parse_one(struct sip_uri *uri, struct slice text)
{
    const char *why = NULL;

    if (sip_uri_parse(uri, text, &why) != 0) {
        if (!why)
            abort();
        return false;
    }
    check_inside(uri, text);
    if (!sip_uri_eq(uri, uri))
        invariant_failed("a URI differs from itself", text, text);
    check_unescape(uri->user, true);
    check_unescape(uri->password, true);
    check_unescape(uri->headers, true);
    walk_params(uri->params);
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    if (!buf)
        abort();
    memcpy(buf, data, size);

    const char *lf = memchr(buf, '\n', size);
    if (!lf) {
        struct sip_uri u;
        (void)parse_one(&u, slice_make(buf, size));
        free(buf);
        return 0;
    }
    /* two URIs, each in its own exact-size buffer */
    size_t la = (size_t)(lf - buf), lb = size - la - 1;
    char *a = malloc(la ? la : 1), *b = malloc(lb ? lb : 1);
    if (!a || !b)
        abort();
    memcpy(a, buf, la);
    memcpy(b, lf + 1, lb);
    struct sip_uri ua, ub;
    bool oka = parse_one(&ua, slice_make(a, la));
    bool okb = parse_one(&ub, slice_make(b, lb));
    if (oka && okb && sip_uri_eq(&ua, &ub) != sip_uri_eq(&ub, &ua))
        invariant_failed("comparison is not symmetric", ua.raw, ub.raw);
    free(a);
    free(b);
    free(buf);
    return 0;
}
