/* fmt_test.c: src/core/fmt.h, the printf-free appends of the hot paths. */
#include "../test_util.h"

#include <inttypes.h>
#include <stdio.h>

#include "core/fmt.h"

static void test_u64_against_printf(void **state)
{
    static const uint64_t values[] = {0,
                                      1,
                                      9,
                                      10,
                                      99,
                                      100,
                                      255,
                                      65535,
                                      4294967295u,
                                      4294967296u,
                                      UINT64_MAX / 10,
                                      UINT64_MAX - 1,
                                      UINT64_MAX};
    (void)state;
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char got[FMT_U64_MAX + 1], want[32];
        size_t n = fmt_u64(got, values[i]);
        int wn = snprintf(want, sizeof(want), "%" PRIu64, values[i]);
        assert_int_equal(n, (size_t)wn);
        assert_memory_equal(got, want, n);
    }
    /* every power of ten and its neighbours */
    for (uint64_t p = 1; p <= UINT64_MAX / 10; p *= 10) {
        for (uint64_t v = p - 1; v <= p + 1; v++) {
            char got[FMT_U64_MAX], want[32];
            size_t n = fmt_u64(got, v);
            assert_int_equal(n, (size_t)snprintf(want, sizeof(want), "%" PRIu64, v));
            assert_memory_equal(got, want, n);
        }
    }
}

static void test_appends_and_overflow(void **state)
{
    char buf[16];
    (void)state;

    struct fmt f = fmt_init(buf, sizeof(buf));
    fmt_str(&f, "q=");
    fmt_u(&f, 42);
    fmt_char(&f, ';');
    fmt_slice(&f, SLICE_LIT("ab"));
    fmt_mem(&f, "", 0);
    assert_true(f.ok);
    assert_int_equal(f.len, 7);
    assert_memory_equal(buf, "q=42;ab", 7);

    /* exactly full is fine; one byte more fails and writes nothing */
    f = fmt_init(buf, 4);
    fmt_str(&f, "abcd");
    assert_true(f.ok);
    fmt_char(&f, 'e');
    assert_false(f.ok);
    assert_int_equal(f.len, 4);
    /* once failed, later appends that would fit do nothing */
    f = fmt_init(buf, 8);
    fmt_str(&f, "123456789");
    assert_false(f.ok);
    fmt_str(&f, "x");
    assert_int_equal(f.len, 0);
    /* a number that does not fit is not cut */
    f = fmt_init(buf, 3);
    fmt_u(&f, 1234);
    assert_false(f.ok);
    assert_int_equal(f.len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_u64_against_printf),
        cmocka_unit_test(test_appends_and_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
