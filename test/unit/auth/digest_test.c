/* digest_test.c: HA1, responses (RFC examples), algorithm names, hex compare: src/auth/digest.c. */
#include "../test_util.h"

#include <pthread.h>
#include <stdatomic.h>

#include <openssl/crypto.h>

#include "auth/digest.h"

#include "openssl_count.h"

#define assert_hex(got, lit) assert_string_equal((got), (lit))

/* RFC 2617 section 3.5: MD5, qop=auth, "Circle Of Life". */
static void test_rfc2617_md5_qop(void **state)
{
    char ha1[AUTH_HEX_MAX], resp[AUTH_HEX_MAX];
    (void)state;

    assert_int_equal(auth_ha1(AUTH_ALG_MD5, SLICE_LIT("Mufasa"), SLICE_LIT("testrealm@host.com"),
                              SLICE_LIT("Circle Of Life"), ha1),
                     0);
    assert_hex(ha1, "939e7578ed9e3c518a452acee763bce9");
    assert_int_equal(auth_response(AUTH_ALG_MD5, slice_from_str(ha1),
                                   SLICE_LIT("dcd98b7102dd2f0e8b11d0f600bfb0c093"),
                                   SLICE_LIT("00000001"), SLICE_LIT("0a4f113b"), SLICE_LIT("auth"),
                                   SLICE_LIT("GET"), SLICE_LIT("/dir/index.html"), resp),
                     0);
    assert_hex(resp, "6629fae49393a05397450978507c4ef1");
}

/* RFC 7616 section 3.9.1: the same request with SHA-256 and with MD5, "Circle of Life". */
#define R7616_REALM  "http-auth@example.org"
#define R7616_NONCE  "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
#define R7616_CNONCE "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"

static void test_rfc7616_sha256_and_md5(void **state)
{
    char ha1[AUTH_HEX_MAX], resp[AUTH_HEX_MAX];
    (void)state;

    assert_int_equal(auth_ha1(AUTH_ALG_SHA256, SLICE_LIT("Mufasa"), SLICE_LIT(R7616_REALM),
                              SLICE_LIT("Circle of Life"), ha1),
                     0);
    assert_hex(ha1, "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232");
    assert_int_equal(auth_response(AUTH_ALG_SHA256, slice_from_str(ha1), SLICE_LIT(R7616_NONCE),
                                   SLICE_LIT("00000001"), SLICE_LIT(R7616_CNONCE),
                                   SLICE_LIT("auth"), SLICE_LIT("GET"),
                                   SLICE_LIT("/dir/index.html"), resp),
                     0);
    assert_hex(resp, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");

    assert_int_equal(auth_ha1(AUTH_ALG_MD5, SLICE_LIT("Mufasa"), SLICE_LIT(R7616_REALM),
                              SLICE_LIT("Circle of Life"), ha1),
                     0);
    assert_int_equal(auth_response(AUTH_ALG_MD5, slice_from_str(ha1), SLICE_LIT(R7616_NONCE),
                                   SLICE_LIT("00000001"), SLICE_LIT(R7616_CNONCE),
                                   SLICE_LIT("auth"), SLICE_LIT("GET"),
                                   SLICE_LIT("/dir/index.html"), resp),
                     0);
    assert_hex(resp, "8ca523f5e9506fed4657c9700eebdbec");
}

/*
 * Without qop: RFC 2069 section 2.4's example ("CircleOfLife"); the RFC
 * prints e966c932..., which its errata correct to 1949323746.... The
 * SHA-256 value is RFC 7616's request without qop, computed with Python's
 * hashlib (an independent implementation).
 */
static void test_no_qop(void **state)
{
    char ha1[AUTH_HEX_MAX], resp[AUTH_HEX_MAX];
    (void)state;

    assert_int_equal(auth_ha1(AUTH_ALG_MD5, SLICE_LIT("Mufasa"), SLICE_LIT("testrealm@host.com"),
                              SLICE_LIT("CircleOfLife"), ha1),
                     0);
    assert_int_equal(auth_response(AUTH_ALG_MD5, slice_from_str(ha1),
                                   SLICE_LIT("dcd98b7102dd2f0e8b11d0f600bfb0c093"), SLICE_NULL,
                                   SLICE_NULL, SLICE_NULL, SLICE_LIT("GET"),
                                   SLICE_LIT("/dir/index.html"), resp),
                     0);
    assert_hex(resp, "1949323746fe6a43ef61f9606e7febea");

    assert_int_equal(auth_ha1(AUTH_ALG_SHA256, SLICE_LIT("Mufasa"), SLICE_LIT(R7616_REALM),
                              SLICE_LIT("Circle of Life"), ha1),
                     0);
    assert_int_equal(auth_response(AUTH_ALG_SHA256, slice_from_str(ha1), SLICE_LIT(R7616_NONCE),
                                   SLICE_NULL, SLICE_NULL, SLICE_NULL, SLICE_LIT("GET"),
                                   SLICE_LIT("/dir/index.html"), resp),
                     0);
    assert_hex(resp, "a1306b0595a6c7fe96c448631fb5cfbd5107bd1fe1da729d978dd7446b812363");
}

/* An upper-case stored HA1 gives the response of its lower-case spelling. */
static void test_ha1_case(void **state)
{
    char resp[AUTH_HEX_MAX];
    (void)state;

    assert_int_equal(auth_response(AUTH_ALG_MD5, SLICE_LIT("939E7578ED9E3C518A452ACEE763BCE9"),
                                   SLICE_LIT("dcd98b7102dd2f0e8b11d0f600bfb0c093"),
                                   SLICE_LIT("00000001"), SLICE_LIT("0a4f113b"), SLICE_LIT("auth"),
                                   SLICE_LIT("GET"), SLICE_LIT("/dir/index.html"), resp),
                     0);
    assert_hex(resp, "6629fae49393a05397450978507c4ef1");
}

/* Inputs longer than the stack join buffer take the one-update-per-part path. */
static void test_long_input(void **state)
{
    char pw[600], ha1[AUTH_HEX_MAX];
    (void)state;

    memset(pw, 'x', sizeof(pw));
    assert_int_equal(auth_ha1(AUTH_ALG_SHA256, SLICE_LIT("alice"), SLICE_LIT("example.com"),
                              slice_make(pw, sizeof(pw)), ha1),
                     0);
    assert_hex(ha1, "9c646ad3dc235e9ed50502b1e1530146fb461677e6589232f0dafe3657d6a7f2");
    assert_int_equal(auth_ha1(AUTH_ALG_MD5, SLICE_LIT("alice"), SLICE_LIT("example.com"),
                              slice_make(pw, sizeof(pw)), ha1),
                     0);
    assert_hex(ha1, "a50a8f6a594091cc2e7a2984cfe17e15");
}

static void test_response_errors(void **state)
{
#define MD5_HA1 "939e7578ed9e3c518a452acee763bce9"
    char out[AUTH_HEX_MAX];
    (void)state;

#define RESP(alg, ha1, nc, cnonce, qop)                                                            \
    auth_response((alg), (ha1), SLICE_LIT("n"), (nc), (cnonce), (qop), SLICE_LIT("GET"),           \
                  SLICE_LIT("/"), out)
    memset(out, 'z', sizeof(out));
    /* an HA1 of the wrong length for the algorithm */
    assert_int_equal(RESP(AUTH_ALG_SHA256, SLICE_LIT(MD5_HA1), SLICE_NULL, SLICE_NULL, SLICE_NULL),
                     EINVAL);
    assert_string_equal(out, "");
    assert_int_equal(RESP(AUTH_ALG_MD5, SLICE_LIT(""), SLICE_NULL, SLICE_NULL, SLICE_NULL), EINVAL);
    /* qop other than auth, or without nc or cnonce */
    assert_int_equal(RESP(AUTH_ALG_MD5, SLICE_LIT(MD5_HA1), SLICE_LIT("00000001"), SLICE_LIT("c"),
                          SLICE_LIT("auth-int")),
                     EINVAL);
    assert_int_equal(
        RESP(AUTH_ALG_MD5, SLICE_LIT(MD5_HA1), SLICE_NULL, SLICE_LIT("c"), SLICE_LIT("auth")),
        EINVAL);
    assert_int_equal(RESP(AUTH_ALG_MD5, SLICE_LIT(MD5_HA1), SLICE_LIT("00000001"), SLICE_NULL,
                          SLICE_LIT("auth")),
                     EINVAL);
    /* qop in upper case is accepted (and hashed as sent) */
    assert_int_equal(RESP(AUTH_ALG_MD5, SLICE_LIT(MD5_HA1), SLICE_LIT("00000001"), SLICE_LIT("c"),
                          SLICE_LIT("AUTH")),
                     0);
    assert_int_equal(strlen(out), 32);
    /* an algorithm outside the enum */
    assert_int_equal(RESP((enum auth_alg)7, SLICE_LIT(MD5_HA1), SLICE_NULL, SLICE_NULL, SLICE_NULL),
                     EINVAL);
    memset(out, 'z', sizeof(out));
    assert_int_equal(
        auth_ha1((enum auth_alg)7, SLICE_LIT("u"), SLICE_LIT("r"), SLICE_LIT("p"), out), EINVAL);
    assert_string_equal(out, "");
#undef RESP
#undef MD5_HA1
}

static void test_alg_parse(void **state)
{
    enum auth_alg alg = AUTH_ALG_COUNT;
    (void)state;

    assert_int_equal(auth_alg_parse(SLICE_NULL, &alg), 0);
    assert_int_equal(alg, AUTH_ALG_MD5);
    alg = AUTH_ALG_COUNT;
    assert_int_equal(auth_alg_parse(SLICE_LIT("MD5"), &alg), 0);
    assert_int_equal(alg, AUTH_ALG_MD5);
    assert_int_equal(auth_alg_parse(SLICE_LIT("md5"), &alg), 0);
    assert_int_equal(alg, AUTH_ALG_MD5);
    assert_int_equal(auth_alg_parse(SLICE_LIT("SHA-256"), &alg), 0);
    assert_int_equal(alg, AUTH_ALG_SHA256);
    assert_int_equal(auth_alg_parse(SLICE_LIT("sha-256"), &alg), 0);
    assert_int_equal(alg, AUTH_ALG_SHA256);

    static const char *const bad[] = {"",       "MD5-sess", "SHA-256-sess", "SHA256", "SHA-512-256",
                                      "MD5 ",   " MD5",     "MD",           "MD55",   "SHA-25",
                                      "MD\x15", "sha-2566"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        alg = AUTH_ALG_COUNT;
        if (auth_alg_parse(slice_from_str(bad[i]), &alg) != EINVAL)
            fail_msg("algorithm \"%s\" was accepted", bad[i]);
        assert_int_equal(alg, AUTH_ALG_COUNT); /* untouched */
    }

    assert_string_equal(auth_alg_name(AUTH_ALG_MD5), "MD5");
    assert_string_equal(auth_alg_name(AUTH_ALG_SHA256), "SHA-256");
    assert_null(auth_alg_name(AUTH_ALG_COUNT));
    assert_int_equal(auth_alg_hex_len(AUTH_ALG_MD5), 32);
    assert_int_equal(auth_alg_hex_len(AUTH_ALG_SHA256), 64);
    assert_int_equal(auth_alg_hex_len(AUTH_ALG_COUNT), 0);
}

static void test_hex_eq(void **state)
{
    (void)state;

    assert_true(auth_hex_eq(SLICE_LIT("6629fae49393a05397450978507c4ef1"),
                            SLICE_LIT("6629fae49393a05397450978507c4ef1")));
    assert_true(auth_hex_eq(SLICE_LIT("6629fae49393a05397450978507c4ef1"),
                            SLICE_LIT("6629FAE49393A05397450978507C4EF1")));
    assert_true(auth_hex_eq(SLICE_LIT("abcdef0123456789"), SLICE_LIT("ABCDEF0123456789")));
    /* a difference at the first, a middle and the last digit */
    assert_false(auth_hex_eq(SLICE_LIT("6629fae4"), SLICE_LIT("7629fae4")));
    assert_false(auth_hex_eq(SLICE_LIT("6629fae4"), SLICE_LIT("6629eae4")));
    assert_false(auth_hex_eq(SLICE_LIT("6629fae4"), SLICE_LIT("6629fae5")));
    /* other lengths: a prefix, a longer string, empty */
    assert_false(auth_hex_eq(SLICE_LIT("6629fae4"), SLICE_LIT("6629fae")));
    assert_false(auth_hex_eq(SLICE_LIT("6629fae4"), SLICE_LIT("6629fae40")));
    assert_false(auth_hex_eq(SLICE_LIT("6629fae4"), SLICE_LIT("")));
    assert_false(auth_hex_eq(SLICE_LIT("6629fae4"), SLICE_NULL));
    assert_false(auth_hex_eq(SLICE_LIT(""), SLICE_LIT("")));
    assert_false(auth_hex_eq(SLICE_NULL, SLICE_NULL));
    /* bytes that OR 0x20 would fold onto hex digits, and equal non-hex strings */
    assert_false(auth_hex_eq(SLICE_LIT("0"), SLICE_LIT("\x10")));
    assert_true(auth_hex_eq(SLICE_LIT("a"), SLICE_LIT("A")));
    assert_false(auth_hex_eq(SLICE_LIT("a"), SLICE_LIT("\x01")));
    assert_false(auth_hex_eq(SLICE_LIT("zz"), SLICE_LIT("zz")));
    assert_false(auth_hex_eq(SLICE_LIT("g0"), SLICE_LIT("G0")));
    assert_false(auth_hex_eq(SLICE_LIT("0\0"), SLICE_LIT("0 ")));
    /* every byte value at every position of a 19-digit string: two 8-byte
     * words, then three bytes one at a time */
    for (unsigned c = 0; c < 256; c++) {
        bool digit = c >= '0' && c <= '9';
        bool letter = (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        for (size_t pos = 0; pos < 19; pos++) {
            char x[] = "0123456789abcdefABC", y[sizeof(x)];
            x[pos] = (char)c;
            memcpy(y, x, sizeof(x));
            y[pos] = (char)(c ^ 0x20); /* the other case of a letter */
            if (auth_hex_eq(slice_make(x, 19), slice_make(x, 19)) != (digit || letter))
                fail_msg("byte 0x%02x at %zu compared as %shex", c, pos,
                         digit || letter ? "non-" : "");
            if (auth_hex_eq(slice_make(x, 19), slice_make(y, 19)) != letter)
                fail_msg("byte 0x%02x at %zu against 0x%02x: wrong", c, pos, c ^ 0x20);
            if (auth_hex_eq(slice_make(y, 19), slice_make(x, 19)) != letter)
                fail_msg("byte 0x%02x at %zu against 0x%02x: wrong", c ^ 0x20, pos, c);
        }
    }
}

/*
 * No call allocates anything of its own once the thread's contexts exist:
 * what remains is OpenSSL 3.0 re-creating its digest state at each init
 * (at most one allocation per digest: two per response, one per HA1).
 */
static void test_allocations(void **state)
{
    char ha1[AUTH_HEX_MAX], resp[AUTH_HEX_MAX];
    (void)state;

    assert_int_equal(auth_ha1(AUTH_ALG_SHA256, SLICE_LIT("u"), SLICE_LIT("r"), SLICE_LIT("p"), ha1),
                     0);
    assert_int_equal(auth_ha1(AUTH_ALG_MD5, SLICE_LIT("u"), SLICE_LIT("r"), SLICE_LIT("p"), ha1),
                     0);
    long before = atomic_load(&openssl_allocs);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(auth_response(AUTH_ALG_MD5, slice_from_str(ha1), SLICE_LIT("nonce"),
                                       SLICE_LIT("00000001"), SLICE_LIT("c"), SLICE_LIT("auth"),
                                       SLICE_LIT("REGISTER"), SLICE_LIT("sip:example.com"), resp),
                         0);
    }
    long per_call = (atomic_load(&openssl_allocs) - before) / 100;
    print_message("OpenSSL allocations per response: %ld\n", per_call);
    assert_true(per_call <= 2);
}

/* Threads that hash and exit: each makes its contexts and frees them on exit
 * (the ASan run finds a leak otherwise; TSan finds sharing). */
static void *hash_thread(void *arg)
{
    char ha1[AUTH_HEX_MAX], resp[AUTH_HEX_MAX];
    long bad = 0;
    (void)arg;

    for (int i = 0; i < 2000; i++) {
        enum auth_alg alg = (i & 1) ? AUTH_ALG_SHA256 : AUTH_ALG_MD5;
        auth_ha1(alg, SLICE_LIT("Mufasa"), SLICE_LIT(R7616_REALM), SLICE_LIT("Circle of Life"),
                 ha1);
        auth_response(alg, slice_from_str(ha1), SLICE_LIT(R7616_NONCE), SLICE_LIT("00000001"),
                      SLICE_LIT(R7616_CNONCE), SLICE_LIT("auth"), SLICE_LIT("GET"),
                      SLICE_LIT("/dir/index.html"), resp);
        const char *want = alg == AUTH_ALG_MD5
                               ? "8ca523f5e9506fed4657c9700eebdbec"
                               : "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1";
        bad += !auth_hex_eq(slice_from_str(want), slice_from_str(resp));
    }
    return (void *)bad;
}

static void test_threads(void **state)
{
    pthread_t th[4];
    (void)state;

    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 4; i++)
            assert_int_equal(pthread_create(&th[i], NULL, hash_thread, NULL), 0);
        for (int i = 0; i < 4; i++) {
            void *bad;
            assert_int_equal(pthread_join(th[i], &bad), 0);
            assert_int_equal((long)bad, 0);
        }
    }
}

int main(void)
{
    /* before anything in the process asks OpenSSL for memory */
    if (!openssl_count_install())
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc2617_md5_qop), cmocka_unit_test(test_rfc7616_sha256_and_md5),
        cmocka_unit_test(test_no_qop),          cmocka_unit_test(test_ha1_case),
        cmocka_unit_test(test_long_input),      cmocka_unit_test(test_response_errors),
        cmocka_unit_test(test_alg_parse),       cmocka_unit_test(test_hex_eq),
        cmocka_unit_test(test_allocations),     cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
