/* fuzz_digest.c: libFuzzer driver for the header value decoders: digest credentials and
 * challenges, parameter lists, name-addr, Via, CSeq and comma-separated lists. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sip.h"

/* The input is one header value; every decoder runs on it, and the list
 * splitter feeds each list element to the Via and name-addr decoders. */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A decoded slice must lie inside the value it came from. */
static void check_inside(struct slice s, struct slice text, const char *what)
{
    if (!slice_present(s))
        return;
    if (s.p < text.p || s.len > text.len || (size_t)(s.p - text.p) > text.len - s.len) {
        fprintf(stderr, "fuzz_digest: %s points outside its value\n", what);
        abort();
    }
}

static void walk_params(struct slice params, struct slice text)
{
    struct sip_param_iter it;
    struct sip_param prm;
    unsigned n = 0;

    check_inside(params, text, "params");
    sip_param_iter_init(&it, params);
    while (sip_param_next(&it, &prm)) {
        if (prm.name.len == 0 || ++n > params.len)
            abort(); /* every step consumes input */
        check_inside(prm.name, text, "param name");
        check_inside(prm.value, text, "param value");
        check_inside(sip_unquote(prm.value), text, "unquoted param value");
    }
    (void)sip_param_find(params, "tag", &prm);
    (void)sip_param_find(params, "branch", &prm);
}

static void fuzz_digest_value(struct slice text)
{
    struct sip_digest d;
    const char *why = NULL;

    if (sip_digest_parse(&d, text, &why) != 0) {
        if (!why)
            abort();
        return;
    }
    const struct slice fields[] = {d.scheme, d.username, d.realm, d.nonce, d.uri,
                                   d.response, d.algorithm, d.cnonce, d.opaque, d.qop,
                                   d.nc, d.userhash, d.domain, d.stale, d.params};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        check_inside(fields[i], text, "digest field");
    struct sip_list_iter it;
    struct slice item;
    sip_list_iter_init(&it, d.params);
    while (sip_list_next(&it, &item))
        check_inside(item, text, "digest list item");
}

static void fuzz_nameaddr(struct slice text, bool allow_star)
{
    struct sip_nameaddr na;
    const char *why = NULL;

    if (sip_nameaddr_parse(&na, text, allow_star, &why) != 0) {
        if (!why)
            abort();
        return;
    }
    if (na.star)
        return;
    check_inside(na.display, text, "display name");
    check_inside(na.uri_text, text, "name-addr URI");
    check_inside(na.tag, text, "tag");
    if (!sip_uri_eq(&na.uri, &na.uri)) {
        fprintf(stderr, "fuzz_digest: a URI differs from itself: %.*s\n", (int)na.uri_text.len,
                na.uri_text.p);
        abort();
    }
    walk_params(na.params, text);
    walk_params(na.uri.params, text);
}

static void fuzz_via(struct slice text)
{
    struct sip_via via;
    const char *why = NULL;

    if (sip_via_parse(&via, text, &why) != 0) {
        if (!why)
            abort();
        return;
    }
    check_inside(via.host, text, "Via host");
    check_inside(via.branch, text, "Via branch");
    check_inside(via.received, text, "Via received");
    check_inside(via.rport_value, text, "Via rport");
    walk_params(via.params, text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    if (!buf)
        abort();
    memcpy(buf, data, size);
    struct slice text = slice_make(buf, size);
    const char *why;

    fuzz_digest_value(text);
    walk_params(text, text);
    fuzz_nameaddr(text, false);
    fuzz_nameaddr(text, true);
    fuzz_via(text);
    struct sip_cseq cseq;
    if (sip_cseq_parse(&cseq, text, &why) == 0)
        check_inside(cseq.method, text, "CSeq method");

    struct sip_list_iter it;
    struct slice item;
    unsigned n = 0;
    sip_list_iter_init(&it, text);
    while (sip_list_next(&it, &item)) {
        if (item.len == 0 || ++n > size)
            abort();
        check_inside(item, text, "list item");
        fuzz_via(item);
        fuzz_nameaddr(item, true);
    }
    free(buf);
    return 0;
}
