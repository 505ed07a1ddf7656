/* sipbench_test.c: sipbench's pure parts: histogram, user lists, requests, challenges, addresses.
 */
#include "../../test/unit/test_util.h"

#include <unistd.h>

#include "hist.h"
#include "netaddr.h"
#include "request.h"
#include "users.h"

/* ---------------------------------------------------------------- histogram */

static void test_hist_buckets(void **state)
{
    (void)state;
    unsigned last = 0;
    /* every value lies in its bucket, buckets grow with the value, width under 1/128 */
    for (uint64_t v = 0; v < HIST_MAX_NS; v = v < 1000 ? v + 1 : v + v / 97 + 1) {
        unsigned i = hist_index(v);
        assert_true(i < HIST_BUCKETS);
        assert_true(i >= last);
        last = i;
        uint64_t high = hist_bucket_high(i);
        assert_true(high >= v);
        assert_true(high - v <= v / 128 + 1);
        if (i > 0)
            assert_true(hist_bucket_high(i - 1) < v);
    }
    assert_int_equal(hist_index(HIST_MAX_NS), HIST_BUCKETS - 1);
    assert_int_equal(hist_index(UINT64_MAX), HIST_BUCKETS - 1);
}

static void test_hist_percentiles_and_merge(void **state)
{
    (void)state;
    struct hist *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
    assert_non_null(a);
    assert_non_null(b);
    hist_init(a);
    hist_init(b);
    assert_int_equal(hist_percentile(a, 50), 0);
    /* 1..100000 us, split over two histograms as two threads would */
    for (uint64_t us = 1; us <= 100000; us++)
        hist_record(us % 2 ? a : b, us * 1000);
    hist_merge(a, b);
    assert_int_equal(a->count, 100000);
    assert_int_equal(a->min, 1000);
    assert_int_equal(a->max, 100000000);
    const double want[][2] = {{50, 50000e3}, {90, 90000e3}, {99, 99000e3}, {99.9, 99900e3}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        double got = (double)hist_percentile(a, want[i][0]);
        assert_true(got >= want[i][1] && got <= want[i][1] * 1.008);
    }
    assert_int_equal(hist_percentile(a, 100), 100000000);
    assert_int_equal(hist_percentile(a, 0), 1000);
    assert_true(hist_mean(a) > 50000e3 && hist_mean(a) < 50001e3);
    free(a);
    free(b);
}

/* ---------------------------------------------------------------- users */

static void test_users_pattern(void **state)
{
    (void)state;
    struct sb_users u;
    char err[256];
    assert_int_equal(sb_users_from_pattern(&u, "1000..1002", "pw{user}", err, sizeof(err)), 0);
    assert_int_equal(u.n, 3);
    assert_slice_eq(u.v[0].name, "1000");
    assert_slice_eq(u.v[2].name, "1002");
    assert_slice_eq(u.v[2].password, "pw1002");
    sb_users_free(&u);

    assert_int_equal(sb_users_from_pattern(&u, "u{08..10}@lab", "s{n}-{user}", err, sizeof(err)),
                     0);
    assert_int_equal(u.n, 3);
    assert_slice_eq(u.v[0].name, "u08@lab");
    assert_slice_eq(u.v[0].password, "s08-u08@lab");
    assert_slice_eq(u.v[2].name, "u10@lab");
    sb_users_free(&u);

    const char *bad[] = {"5..1", "a..b", "12", "u{1..2}{3..4}", "u{1..2", "..5", "1..1000000000"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(sb_users_from_pattern(&u, bad[i], "x", err, sizeof(err)), EINVAL);
        assert_true(err[0] != '\0');
        assert_null(u.v);
    }
}

static void test_users_csv(void **state)
{
    (void)state;
    char path[] = "/tmp/sipbench-users-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = "SEQUENTIAL\n# comment\n\n1000;pw1000;[authentication username=1000 "
                        "password=pw1000]\r\nalice;secret\nbob;\n";
    assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
    close(fd);
    struct sb_users u;
    char err[256];
    assert_int_equal(sb_users_from_csv(&u, path, err, sizeof(err)), 0);
    assert_int_equal(u.n, 3);
    assert_slice_eq(u.v[0].name, "1000");
    assert_slice_eq(u.v[0].password, "pw1000");
    assert_slice_eq(u.v[1].name, "alice");
    assert_slice_eq(u.v[1].password, "secret");
    assert_slice_eq(u.v[2].password, "");
    sb_users_free(&u);

    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("ok;1\nno separator\n", f);
    fclose(f);
    assert_int_equal(sb_users_from_csv(&u, path, err, sizeof(err)), EINVAL);
    assert_non_null(strstr(err, ":2: expected user;password"));
    unlink(path);
    assert_int_equal(sb_users_from_csv(&u, path, err, sizeof(err)), ENOENT);
}

/* ---------------------------------------------------------------- requests */

static void test_request_parses(void **state)
{
    (void)state;
    char buf[1400], arena_buf[8192];
    struct arena arena;
    struct sip_msg msg;
    struct sip_error perr;
    const struct slice auth = SLICE_LIT("Authorization: Digest username=\"1000\"\r\n");
    struct sb_request r = {
        .method = SIP_METHOD_REGISTER,
        .ruri = SLICE_LIT("sip:127.0.0.1:5060"),
        .domain = SLICE_LIT("127.0.0.1"),
        .sent_by = SLICE_LIT("[::1]:40312"),
        .user = SLICE_LIT("1000"),
        .call_id = SLICE_LIT("abcd-1@sipbench"),
        .from_tag = SLICE_LIT("00000001"),
        .cseq = 7,
        .branch_slot = 0x12345,
        .branch_gen = 0xfffffffe,
        .expires = 600,
        .authorization = auth,
    };
    size_t len = sb_request_build(buf, sizeof(buf), &r);
    assert_true(len > 0);
    arena_init(&arena, arena_buf, sizeof(arena_buf), 65536);
    assert_int_equal(sip_msg_parse(&msg, &arena, buf, len, &sip_limits_default, 0, &perr), 0);
    assert_true(msg.is_request && msg.keys_ok);
    assert_int_equal(msg.method_id, SIP_METHOD_REGISTER);
    assert_int_equal(msg.cseq.number, 7);
    assert_slice_eq(msg.call_id, "abcd-1@sipbench");
    assert_slice_eq(msg.via.host, "::1");
    assert_true(msg.via.rport);
    assert_slice_eq(msg.to.uri.user, "1000");
    assert_slice_eq(msg.from.tag, "00000001");
    const char *reason = NULL;
    assert_int_equal(sip_msg_expires(&msg, &reason), 0);
    assert_int_equal(msg.expires, 600);
    assert_int_equal(sip_msg_contacts(&msg, &reason), 0);
    assert_int_equal(msg.contact_n, 1);
    assert_slice_eq(msg.contacts[0].uri_text, "sip:1000@[::1]:40312");
    assert_non_null(sip_msg_hdr(&msg, SIP_HDR_AUTHORIZATION));
    uint32_t slot, gen;
    assert_true(sb_branch_decode(msg.via.branch, &slot, &gen));
    assert_int_equal(slot, 0x12345);
    assert_int_equal(gen, 0xfffffffe);
    assert_false(sb_branch_decode(SLICE_LIT("z9hG4bK-other"), &slot, &gen));
    assert_false(sb_branch_decode(SLICE_LIT("z9hG4bKsb0001234xfffffffe"), &slot, &gen));

    /* OPTIONS: no user, no Contact; a buffer too small is 0, not a truncated request */
    r.method = SIP_METHOD_OPTIONS;
    r.authorization = SLICE_NULL;
    len = sb_request_build(buf, sizeof(buf), &r);
    assert_true(len > 0);
    arena_reset(&arena);
    assert_int_equal(sip_msg_parse(&msg, &arena, buf, len, &sip_limits_default, 0, &perr), 0);
    assert_int_equal(msg.method_id, SIP_METHOD_OPTIONS);
    assert_null(sip_msg_hdr(&msg, SIP_HDR_CONTACT));
    assert_slice_eq(msg.to.uri_text, "sip:127.0.0.1");
    assert_int_equal(sb_request_build(buf, len - 1, &r), 0);
    arena_free(&arena);
}

/* Parses a response from a literal into msg (arena and buffer the caller's). */
static void parse_reply(struct sip_msg *msg, struct arena *arena, const char *text)
{
    struct sip_error perr;
    arena_reset(arena);
    assert_int_equal(sip_msg_parse(msg, arena, text, strlen(text), &sip_limits_default, 0, &perr),
                     0);
}

#define REPLY_HEAD                                                                                 \
    "Via: SIP/2.0/UDP 127.0.0.1:4000;branch=z9hG4bKsb0000000100000002;rport=4000\r\n"              \
    "From: <sip:1000@127.0.0.1>;tag=1\r\nTo: <sip:1000@127.0.0.1>;tag=2\r\n"                       \
    "Call-ID: c@sipbench\r\nCSeq: 1 REGISTER\r\n"

static void test_challenge_pick(void **state)
{
    (void)state;
    char arena_buf[8192];
    struct arena arena;
    struct sip_msg msg;
    struct sb_challenge ch;
    arena_init(&arena, arena_buf, sizeof(arena_buf), 65536);

    parse_reply(&msg, &arena,
                "SIP/2.0 401 Unauthorized\r\n" REPLY_HEAD "WWW-Authenticate: Basic realm=\"x\"\r\n"
                "WWW-Authenticate: Digest realm=\"r1\", nonce=\"n1\", algorithm=SHA-256, "
                "qop=\"auth-int,auth\"\r\n"
                "WWW-Authenticate: Digest realm=\"r2\", nonce=\"n2\", opaque=\"o2\", stale=TRUE\r\n"
                "Content-Length: 0\r\n\r\n");
    assert_int_equal(sb_challenge_pick(&msg, -1, &ch), 0);
    assert_int_equal(ch.alg, AUTH_ALG_SHA256);
    assert_true(ch.qop_auth);
    assert_false(ch.proxy || ch.stale);
    assert_slice_eq(ch.realm, "r1");
    assert_slice_eq(ch.nonce, "n1");
    assert_false(slice_present(ch.opaque));
    /* no algorithm parameter: MD5 */
    assert_int_equal(sb_challenge_pick(&msg, AUTH_ALG_MD5, &ch), 0);
    assert_int_equal(ch.alg, AUTH_ALG_MD5);
    assert_false(ch.qop_auth);
    assert_true(ch.stale);
    assert_slice_eq(ch.opaque, "o2");

    parse_reply(&msg, &arena,
                "SIP/2.0 407 Proxy Authentication Required\r\n" REPLY_HEAD
                "Proxy-Authenticate: Digest realm=\"p\", nonce=\"n\", algorithm=MD5-sess\r\n"
                "Proxy-Authenticate: Digest realm=\"p\", nonce=\"n\", qop=\"auth-int\"\r\n"
                "Content-Length: 0\r\n\r\n");
    assert_int_equal(sb_challenge_pick(&msg, AUTH_ALG_SHA256, &ch), ENOENT);
    assert_int_equal(sb_challenge_pick(&msg, -1, &ch), 0);
    assert_true(ch.proxy);
    assert_false(ch.qop_auth);

    parse_reply(&msg, &arena, "SIP/2.0 200 OK\r\n" REPLY_HEAD "Content-Length: 0\r\n\r\n");
    assert_int_equal(sb_challenge_pick(&msg, -1, &ch), EBADMSG);
    arena_free(&arena);
}

static void test_credentials(void **state)
{
    (void)state;
    char ha1[AUTH_HEX_MAX], line[1024];
    /* RFC 2617 section 3.5 */
    struct sb_challenge ch = {
        .alg = AUTH_ALG_MD5,
        .qop_auth = true,
        .realm = SLICE_LIT("testrealm@host.com"),
        .nonce = SLICE_LIT("dcd98b7102dd2f0e8b11d0f600bfb0c093"),
        .opaque = SLICE_LIT("5ccc069c403ebaf9f0171e9517f40e41"),
    };
    assert_int_equal(
        auth_ha1(AUTH_ALG_MD5, SLICE_LIT("Mufasa"), ch.realm, SLICE_LIT("Circle Of Life"), ha1), 0);
    struct sb_credentials c = {
        .user = SLICE_LIT("Mufasa"),
        .ha1 = slice_from_str(ha1),
        .method = SLICE_LIT("GET"),
        .uri = SLICE_LIT("/dir/index.html"),
        .qop = true,
        .nc = 1,
        .cnonce = SLICE_LIT("0a4f113b"),
    };
    size_t len = sb_credentials_build(line, sizeof(line), &ch, &c);
    assert_true(len > 0 && len < sizeof(line));
    line[len] = '\0';
    assert_string_equal(line,
                        "Authorization: Digest username=\"Mufasa\", realm=\"testrealm@host.com\""
                        ", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\""
                        ", response=\"6629fae49393a05397450978507c4ef1\", algorithm=MD5"
                        ", qop=auth, nc=00000001, cnonce=\"0a4f113b\""
                        ", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"\r\n");

    /* SHA-256 without qop (offered but not asked for), as a proxy answer */
    struct sb_challenge ch2 = {.alg = AUTH_ALG_SHA256,
                               .proxy = true,
                               .qop_auth = true,
                               .realm = SLICE_LIT("127.0.0.1"),
                               .nonce = SLICE_LIT("abc")};
    assert_int_equal(
        auth_ha1(AUTH_ALG_SHA256, SLICE_LIT("1000"), ch2.realm, SLICE_LIT("pw1000"), ha1), 0);
    struct sb_credentials c2 = {.user = SLICE_LIT("1000"),
                                .ha1 = slice_from_str(ha1),
                                .method = SLICE_LIT("REGISTER"),
                                .uri = SLICE_LIT("sip:127.0.0.1:5060")};
    len = sb_credentials_build(line, sizeof(line), &ch2, &c2);
    assert_true(len > 0);
    line[len] = '\0';
    assert_string_equal(line, "Proxy-Authorization: Digest username=\"1000\", realm=\"127.0.0.1\""
                              ", nonce=\"abc\", uri=\"sip:127.0.0.1:5060\", response=\""
                              "2baf44520c242c7860d689fa1c939046d9d55f8bd2b262963ef3ff9a1cb6c12e\""
                              ", algorithm=SHA-256\r\n");
    assert_int_equal(sb_credentials_build(line, 40, &ch2, &c2), 0);
}

/* ---------------------------------------------------------------- addresses */

static void test_addr_parse(void **state)
{
    (void)state;
    struct sb_addr a;
    char err[256];
    assert_int_equal(sb_addr_parse(&a, "127.0.0.1", 5060, err, sizeof(err)), 0);
    assert_string_equal(a.host, "127.0.0.1");
    assert_int_equal(a.port, 5060);
    assert_int_equal(sb_addr_port((struct sockaddr *)&a.ss), 5060);
    assert_int_equal(sb_addr_parse(&a, "[::1]:5070", 5060, err, sizeof(err)), 0);
    assert_string_equal(a.host, "[::1]");
    assert_int_equal(a.port, 5070);
    assert_int_equal(a.ss.ss_family, AF_INET6);
    char text[64];
    assert_int_equal(sb_addr_format((struct sockaddr *)&a.ss, text, sizeof(text)), 10);
    assert_string_equal(text, "[::1]:5070");
    assert_int_equal(sb_addr_parse(&a, "::1", 5060, err, sizeof(err)), 0);
    assert_int_equal(a.port, 5060);
    const char *bad[] = {"",     ":5060",  "127.0.0.1:",  "127.0.0.1:65536",
                         "[::1", "[::1]x", "127.0.0.1:5o"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(sb_addr_parse(&a, bad[i], 5060, err, sizeof(err)), EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hist_buckets),   cmocka_unit_test(test_hist_percentiles_and_merge),
        cmocka_unit_test(test_users_pattern),  cmocka_unit_test(test_users_csv),
        cmocka_unit_test(test_request_parses), cmocka_unit_test(test_challenge_pick),
        cmocka_unit_test(test_credentials),    cmocka_unit_test(test_addr_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
