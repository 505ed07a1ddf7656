/* slice_test.c: comparisons, trimming and number conversion of src/core/slice.c. */
#include "../test_util.h"

static void test_make_and_presence(void **state)
{
    static const char text[] = "abc";
    (void)state;

    struct slice s = slice_make(text, 3);
    assert_true(s.p == text);
    assert_int_equal(s.len, 3);
    assert_true(slice_end(s) == text + 3);
    assert_true(slice_present(s));
    assert_false(slice_present(SLICE_NULL));
    assert_int_equal(SLICE_NULL.len, 0);
    /* present but empty differs from absent */
    assert_true(slice_present(slice_make(text, 0)));
    struct slice lit = SLICE_LIT("a\0b");
    assert_int_equal(lit.len, 3);
    struct slice str = slice_from_str("hello");
    assert_int_equal(str.len, 5);
    struct slice none = slice_from_str(NULL);
    assert_false(slice_present(none));
    assert_int_equal(none.len, 0);
}

static void test_equality(void **state)
{
    (void)state;
    assert_true(slice_eq(SLICE_LIT("abc"), SLICE_LIT("abc")));
    assert_false(slice_eq(SLICE_LIT("abc"), SLICE_LIT("abC")));
    assert_false(slice_eq(SLICE_LIT("abc"), SLICE_LIT("ab")));
    assert_true(slice_eq(SLICE_LIT(""), SLICE_LIT("")));
    assert_true(slice_eq(SLICE_NULL, SLICE_LIT(""))); /* bytes only, presence aside */
    assert_true(slice_eq(SLICE_LIT("a\0b"), SLICE_LIT("a\0b")));
    assert_false(slice_eq(SLICE_LIT("a\0b"), SLICE_LIT("a\0c")));

    assert_true(slice_caseeq(SLICE_LIT("Call-ID"), SLICE_LIT("cALL-id")));
    assert_false(slice_caseeq(SLICE_LIT("Call-ID"), SLICE_LIT("Call-IE")));
    assert_false(slice_caseeq(SLICE_LIT("Via"), SLICE_LIT("Vias")));
    /* ASCII only: '@' and '`' are not the case pair of anything */
    assert_false(slice_caseeq(SLICE_LIT("@"), SLICE_LIT("`")));
    assert_false(slice_caseeq(SLICE_LIT("["), SLICE_LIT("{")));
    assert_false(slice_caseeq(SLICE_LIT("\xc4"), SLICE_LIT("\xe4")));

    assert_true(slice_caseeq_str(SLICE_LIT("DIGEST"), "digest"));
    assert_false(slice_caseeq_str(SLICE_LIT("DIGEST"), "digests"));
    assert_true(slice_eq_str(SLICE_LIT("INVITE"), "INVITE"));
    assert_false(slice_eq_str(SLICE_LIT("INVITE"), "invite"));
}

static void test_trim(void **state)
{
    (void)state;
    assert_slice_eq(slice_trim(SLICE_LIT("  \t value \r\n")), "value");
    assert_slice_eq(slice_trim(SLICE_LIT("a b")), "a b");
    assert_slice_eq(slice_trim(SLICE_LIT("x\r\n y")), "x\r\n y");
    struct slice all = SLICE_LIT(" \t\r\n");
    struct slice t = slice_trim(all);
    assert_int_equal(t.len, 0);
    assert_true(slice_present(t));
    assert_int_equal(slice_trim(SLICE_LIT("")).len, 0);
    /* other control characters are not whitespace here */
    assert_slice_eq(slice_trim(SLICE_LIT("\v a \f")), "\v a \f");
}

static void test_to_u64(void **state)
{
    uint64_t v = 77;
    uint32_t w = 77;
    (void)state;

    assert_int_equal(slice_to_u64(SLICE_LIT("0"), 10, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(slice_to_u64(SLICE_LIT("0068"), 255, &v), 0);
    assert_int_equal(v, 68);
    assert_int_equal(slice_to_u64(SLICE_LIT("255"), 255, &v), 0);
    assert_int_equal(v, 255);
    v = 77;
    assert_int_equal(slice_to_u64(SLICE_LIT("256"), 255, &v), ERANGE);
    assert_int_equal(v, 77); /* untouched on failure */
    assert_int_equal(slice_to_u64(SLICE_LIT(""), 255, &v), EINVAL);
    assert_int_equal(slice_to_u64(SLICE_NULL, 255, &v), EINVAL);
    assert_int_equal(slice_to_u64(SLICE_LIT("-1"), 255, &v), EINVAL);
    assert_int_equal(slice_to_u64(SLICE_LIT("+1"), 255, &v), EINVAL);
    assert_int_equal(slice_to_u64(SLICE_LIT(" 1"), 255, &v), EINVAL);
    assert_int_equal(slice_to_u64(SLICE_LIT("1 "), 255, &v), EINVAL);
    assert_int_equal(slice_to_u64(SLICE_LIT("1a"), 255, &v), EINVAL);
    assert_int_equal(slice_to_u64(SLICE_LIT("0x10"), 255, &v), EINVAL);
    assert_int_equal(v, 77);

    /* the whole range, and overflow detected without wrapping */
    assert_int_equal(slice_to_u64(SLICE_LIT("18446744073709551615"), UINT64_MAX, &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(slice_to_u64(SLICE_LIT("18446744073709551616"), UINT64_MAX, &v), ERANGE);
    assert_int_equal(slice_to_u64(SLICE_LIT("36893488147419103232"), UINT64_MAX, &v), ERANGE);
    assert_int_equal(slice_to_u64(SLICE_LIT("000000000000000000000000000007"), 7, &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(slice_to_u64(SLICE_LIT("2147483648"), 0x7fffffff, &v), ERANGE);
    assert_int_equal(slice_to_u64(SLICE_LIT("2147483647"), 0x7fffffff, &v), 0);
    assert_int_equal(v, 2147483647);

    assert_int_equal(slice_to_u32(SLICE_LIT("4294967295"), &w), 0);
    assert_true(w == UINT32_MAX);
    w = 77;
    assert_int_equal(slice_to_u32(SLICE_LIT("4294967296"), &w), ERANGE);
    assert_int_equal(slice_to_u32(SLICE_LIT("4294967301"), &w), ERANGE);
    assert_int_equal(slice_to_u32(SLICE_LIT("x"), &w), EINVAL);
    assert_int_equal(w, 77);
}

static void test_chars(void **state)
{
    (void)state;
    assert_int_equal(ascii_lower('A'), 'a');
    assert_int_equal(ascii_lower('Z'), 'z');
    assert_int_equal(ascii_lower('a'), 'a');
    assert_int_equal(ascii_lower('@'), '@');
    assert_int_equal(ascii_lower('['), '[');
    assert_int_equal(ascii_lower((char)0xc4), (char)0xc4);
    assert_int_equal(hex_value('0'), 0);
    assert_int_equal(hex_value('9'), 9);
    assert_int_equal(hex_value('a'), 10);
    assert_int_equal(hex_value('F'), 15);
    assert_int_equal(hex_value('g'), -1);
    assert_int_equal(hex_value('G'), -1);
    assert_int_equal(hex_value('/'), -1);
    assert_int_equal(hex_value(':'), -1);
    assert_int_equal(hex_value('\0'), -1);
    assert_int_equal(hex_value((char)0xe1), -1);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_make_and_presence),
        cmocka_unit_test(test_equality),
        cmocka_unit_test(test_trim),
        cmocka_unit_test(test_to_u64),
        cmocka_unit_test(test_chars),
    };
    return cmocka_run_group_tests_name("core_slice", tests, NULL, NULL);
}
