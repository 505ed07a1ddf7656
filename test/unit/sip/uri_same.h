/* uri_same.h: asserts that two decodes of the same text agree, field by field, where each
 * slice is compared as an offset into its own buffer (so that decodes from different
 * buffers, e.g. an exact-size one and a padded one, compare). For the fast-path tests. */
#ifndef SIPD_TEST_URI_SAME_H
#define SIPD_TEST_URI_SAME_H

#include "../test_util.h"

#include "sip/sip.h"

/* got and want agree on presence, length and offset from their bases; text and e name the
 * input in the failure message. */
static void same_slice_at(struct slice got, const char *gbase, struct slice want,
                          const char *wbase, const char *what, const char *text, size_t e)
{
    if (slice_present(got) != slice_present(want) || got.len != want.len ||
        (slice_present(want) && got.p - gbase != want.p - wbase)) {
        print_error("\"%.*s\": %s at %td len %zu, want at %td len %zu\n", (int)e, text, what,
                    got.p ? got.p - gbase : -1, got.len, want.p ? want.p - wbase : -1, want.len);
        fail();
    }
}

static void same_uri(const struct sip_uri *got, const char *gbase, const struct sip_uri *want,
                     const char *wbase, const char *text, size_t e)
{
#define SAME(f) same_slice_at(got->f, gbase, want->f, wbase, "uri." #f, text, e)
    SAME(raw);
    SAME(scheme);
    SAME(user);
    SAME(password);
    SAME(host);
    SAME(port_str);
    SAME(params);
    SAME(headers);
    SAME(opaque);
    SAME(transport);
    SAME(maddr);
    SAME(user_param);
    SAME(ttl);
#undef SAME
    assert_int_equal(got->scheme_id, want->scheme_id);
    assert_int_equal(got->port, want->port);
    assert_int_equal(got->host_type, want->host_type);
    assert_int_equal(got->lr, want->lr);
}

#endif
