/* uri_test.c: SIP, SIPS and tel URIs of src/sip/uri.c: parts, parameters, escapes, comparison. */
#include "../test_util.h"

#include "sip/sip_int.h" /* sip_uri_parse_generic(): the reference of the fast path */
#include "uri_same.h"

static void parse_ok(struct sip_uri *u, const char *text)
{
    const char *why = NULL;

    if (sip_uri_parse(u, slice_from_str(text), &why) != 0) {
        print_error("'%s' rejected: %s\n", text, why ? why : "");
        fail();
    }
}

static void test_sip_uri_parts(void **state)
{
    struct sip_uri u;
    (void)state;

    parse_ok(&u, "sip:alice:secret@atlanta.com:5061;transport=tcp;maddr=239.255.255.1;ttl=15;"
                 "user=phone;lr;method=INVITE?subject=project%20x&priority=urgent");
    assert_int_equal(u.scheme_id, SIP_URI_SIP);
    assert_slice_eq(u.scheme, "sip");
    assert_slice_eq(u.user, "alice");
    assert_slice_eq(u.password, "secret");
    assert_slice_eq(u.host, "atlanta.com");
    assert_int_equal(u.host_type, SIP_HOST_NAME);
    assert_slice_eq(u.port_str, "5061");
    assert_int_equal(u.port, 5061);
    assert_slice_eq(u.transport, "tcp");
    assert_slice_eq(u.maddr, "239.255.255.1");
    assert_slice_eq(u.ttl, "15");
    assert_slice_eq(u.user_param, "phone");
    assert_true(u.lr);
    assert_slice_eq(u.params,
                    ";transport=tcp;maddr=239.255.255.1;ttl=15;user=phone;lr;method=INVITE");
    assert_slice_eq(u.headers, "subject=project%20x&priority=urgent");
    assert_slice_absent(u.opaque);

    /* the parameter run iterates in order */
    static const char *const names[] = {"transport", "maddr", "ttl", "user", "lr", "method"};
    struct sip_param_iter it;
    struct sip_param p;
    size_t n = 0;
    sip_param_iter_init(&it, u.params);
    while (sip_param_next(&it, &p)) {
        assert_in_range(n, 0, 5);
        assert_slice_eq_s(p.name, slice_from_str(names[n]));
        n++;
    }
    assert_int_equal(n, 6);
    assert_true(sip_param_find(u.params, "METHOD", &p));
    assert_slice_eq(p.value, "INVITE");
    assert_true(sip_param_find(u.params, "lr", &p));
    assert_slice_absent(p.value);

    /* no userinfo, no port, no parameters */
    parse_ok(&u, "sip:biloxi.com");
    assert_slice_absent(u.user);
    assert_slice_absent(u.password);
    assert_slice_absent(u.port_str);
    assert_int_equal(u.port, 0);
    assert_int_equal(u.params.len, 0);
    assert_slice_absent(u.headers);
    assert_false(u.lr);
    assert_slice_absent(u.transport);

    /* user without password; a scheme in any case; leading zeros in the port */
    parse_ok(&u, "SIPS:bob@biloxi.example.com:05061");
    assert_int_equal(u.scheme_id, SIP_URI_SIPS);
    assert_slice_eq(u.user, "bob");
    assert_slice_absent(u.password);
    assert_int_equal(u.port, 5061);

    /* an empty password is present */
    parse_ok(&u, "sip:bob:@biloxi.com");
    assert_slice_eq(u.password, "");

    /* user-unreserved characters, and a user part that looks like a parameter */
    parse_ok(&u, "sip:+1-212-555-1212;isub=1411;postd=pp22@gw.example.com;user=phone");
    assert_slice_eq(u.user, "+1-212-555-1212;isub=1411;postd=pp22");
    assert_slice_eq(u.host, "gw.example.com");
    assert_slice_eq(u.user_param, "phone");

    /* a header without a value and an empty value */
    parse_ok(&u, "sip:a@b.example?to=&x=1");
    assert_slice_eq(u.headers, "to=&x=1");
}

static void test_hosts(void **state)
{
    static const struct {
        const char *uri, *host;
        uint8_t type;
        uint16_t port;
    } cases[] = {
        {"sip:192.0.2.1", "192.0.2.1", SIP_HOST_IPV4, 0},
        {"sip:u@255.255.255.255:1", "255.255.255.255", SIP_HOST_IPV4, 1},
        {"sip:[2001:db8::1]", "2001:db8::1", SIP_HOST_IPV6, 0},
        {"sip:u@[2001:db8::1]:5060", "2001:db8::1", SIP_HOST_IPV6, 5060},
        {"sip:[::1]:65535", "::1", SIP_HOST_IPV6, 65535},
        {"sip:[::]", "::", SIP_HOST_IPV6, 0},
        {"sip:[2001:db8:0:0:0:0:0:1]", "2001:db8:0:0:0:0:0:1", SIP_HOST_IPV6, 0},
        {"sip:[::ffff:192.0.2.1]", "::ffff:192.0.2.1", SIP_HOST_IPV6, 0},
        {"sip:[2001:db8::192.0.2.1]", "2001:db8::192.0.2.1", SIP_HOST_IPV6, 0},
        {"sip:[2001:DB8::A]", "2001:DB8::A", SIP_HOST_IPV6, 0},
        {"sip:example.com", "example.com", SIP_HOST_NAME, 0},
        {"sip:example.com.", "example.com.", SIP_HOST_NAME, 0},
        {"sip:a-b.c_d.example:7", "a-b.c_d.example", SIP_HOST_NAME, 7},
        {"sip:localhost", "localhost", SIP_HOST_NAME, 0},
        {"sip:1.example", "1.example", SIP_HOST_NAME, 0},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sip_uri u;
        parse_ok(&u, cases[i].uri);
        assert_slice_eq_s(u.host, slice_from_str(cases[i].host));
        assert_int_equal(u.host_type, cases[i].type);
        assert_int_equal(u.port, cases[i].port);
    }
}

static void test_tel(void **state)
{
    struct sip_uri u, w;
    (void)state;

    parse_ok(&u, "tel:+1-201-555-0123;phone-context=example.com");
    assert_int_equal(u.scheme_id, SIP_URI_TEL);
    assert_slice_eq(u.user, "+1-201-555-0123");
    assert_slice_eq(u.params, ";phone-context=example.com");
    assert_int_equal(u.host.len, 0);
    assert_int_equal(u.host_type, SIP_HOST_NONE);
    parse_ok(&w, "TEL:+1-201-555-0123;Phone-Context=Example.com");
    assert_true(sip_uri_eq(&u, &w));
    parse_ok(&w, "tel:+1-201-555-0124;phone-context=example.com");
    assert_false(sip_uri_eq(&u, &w));
    parse_ok(&u, "tel:7042;phone-context=example.com");
    assert_slice_eq(u.user, "7042");
    parse_ok(&u, "tel:*21#");
    assert_slice_eq(u.user, "*21#");

    const char *why = NULL;
    assert_int_equal(sip_uri_parse(&u, SLICE_LIT("tel:"), &why), EBADMSG);
    assert_int_equal(sip_uri_parse(&u, SLICE_LIT("tel:;x=1"), &why), EBADMSG);
    assert_int_equal(sip_uri_parse(&u, SLICE_LIT("tel:+1 201"), &why), EBADMSG);
}

static void test_other_schemes(void **state)
{
    struct sip_uri u, w;
    (void)state;

    parse_ok(&u, "mailto:alice@example.com");
    assert_int_equal(u.scheme_id, SIP_URI_OTHER);
    assert_slice_eq(u.scheme, "mailto");
    assert_slice_eq(u.opaque, "alice@example.com");
    parse_ok(&w, "MAILTO:alice@example.com");
    assert_true(sip_uri_eq(&u, &w));
    parse_ok(&w, "mailto:Alice@example.com");
    assert_false(sip_uri_eq(&u, &w));
    parse_ok(&w, "sip:alice@example.com");
    assert_false(sip_uri_eq(&u, &w));
    parse_ok(&u, "http://www.example.com/a?b=c#d");
    assert_slice_eq(u.opaque, "//www.example.com/a?b=c#d");
    parse_ok(&u, "soap.beep://192.0.2.103:3002");
    assert_slice_eq(u.scheme, "soap.beep");

    const char *why = NULL;
    assert_int_equal(sip_uri_parse(&u, SLICE_LIT("urn:"), &why), EBADMSG);
    assert_int_equal(sip_uri_parse(&u, SLICE_LIT("urn:a b"), &why), EBADMSG);
}

/* ---------------------------------------------------------------- escapes */

static void test_escapes(void **state)
{
    struct sip_uri u;
    char out[16];
    (void)state;

    parse_ok(&u, "sip:%61lice%20x@atlanta.com;n%61me=v%61lue");
    assert_slice_eq(u.user, "%61lice%20x");
    assert_unescaped_eq(u.user, "alice x");
    assert_true(sip_escaped_eq(u.user, SLICE_LIT("alice x"), false));
    assert_true(sip_escaped_eq(u.user, SLICE_LIT("%61lice%20x"), false));
    assert_true(sip_escaped_eq(u.user, SLICE_LIT("alic%65%20x"), false));
    assert_false(sip_escaped_eq(u.user, SLICE_LIT("Alice x"), false));
    assert_true(sip_escaped_eq(u.user, SLICE_LIT("Alice X"), true));
    assert_false(sip_escaped_eq(u.user, SLICE_LIT("alice"), false));

    /* hex digits in either case, decoded once only */
    assert_true(sip_escaped_eq(SLICE_LIT("%4a"), SLICE_LIT("%4A"), false));
    assert_true(sip_escaped_eq(SLICE_LIT("%4a"), SLICE_LIT("J"), false));
    assert_true(sip_escaped_eq(SLICE_LIT("%2541"), SLICE_LIT("%41"), false) == false);
    assert_true(sip_escaped_eq(SLICE_LIT("%2541"), SLICE_LIT("%%341"), false));
    assert_true(sip_escaped_eq(SLICE_LIT(""), SLICE_LIT(""), false));
    assert_false(sip_escaped_eq(SLICE_LIT("a"), SLICE_LIT(""), false));
    /* %00 is one NUL, not an end: one and two of them differ */
    assert_false(sip_escaped_eq(SLICE_LIT("%00"), SLICE_LIT("%00%00"), false));
    assert_true(sip_escaped_eq(SLICE_LIT("%00"), SLICE_LIT("\0"), false));

    assert_int_equal(sip_unescape(SLICE_LIT("n%61me=v%61lue%25%34%31"), out, sizeof(out)), 13);
    assert_memory_equal(out, "name=value%41", 13);
    assert_int_equal(sip_unescape(SLICE_LIT("a%00b"), out, sizeof(out)), 3);
    assert_memory_equal(out, "a\0b", 3);
    assert_int_equal(sip_unescape(SLICE_LIT(""), out, sizeof(out)), 0);
    assert_int_equal(sip_unescape(SLICE_LIT("%4"), out, sizeof(out)), -1);
    assert_int_equal(sip_unescape(SLICE_LIT("%zz"), out, sizeof(out)), -1);
    assert_int_equal(sip_unescape(SLICE_LIT("abc%"), out, sizeof(out)), -1);
    assert_int_equal(sip_unescape(SLICE_LIT("abcd"), out, 3), -1);
    assert_int_equal(sip_unescape(SLICE_LIT("%41%42%43"), out, 3), 3);
    assert_int_equal(sip_unescape(SLICE_LIT("%41%42%43"), out, 2), -1);

    /* a well-known parameter written escaped is still that parameter */
    parse_ok(&u, "sip:proxy.example.com;%6C%72;%74ransport=tcp");
    assert_true(u.lr);
    assert_unescaped_eq(u.transport, "tcp");
}

/* ---------------------------------------------------------------- comparison */

static bool uri_eq_text(const char *a, const char *b)
{
    struct sip_uri ua, ub;

    parse_ok(&ua, a);
    parse_ok(&ub, b);
    bool ab = sip_uri_eq(&ua, &ub), ba = sip_uri_eq(&ub, &ua);
    if (ab != ba) {
        print_error("sip_uri_eq is not symmetric for '%s' and '%s'\n", a, b);
        fail();
    }
    return ab;
}

#define assert_uri_eq(a, b)                                                                        \
    do {                                                                                           \
        if (!uri_eq_text((a), (b))) {                                                              \
            print_error("'%s' and '%s' should be equal\n", (a), (b));                              \
            fail();                                                                                \
        }                                                                                          \
    } while (0)
#define assert_uri_ne(a, b)                                                                        \
    do {                                                                                           \
        if (uri_eq_text((a), (b))) {                                                               \
            print_error("'%s' and '%s' should differ\n", (a), (b));                                \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

static void test_rfc3261_19_1_4(void **state)
{
    (void)state;
    /* "The URIs within each of the following sets are equivalent" */
    assert_uri_eq("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp");
    assert_uri_eq("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5");
    assert_uri_eq("sip:carol@chicago.com", "sip:carol@chicago.com;security=on");
    assert_uri_eq("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on");
    assert_uri_eq("sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
                  "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com");
    assert_uri_eq("sip:alice@atlanta.com?subject=project%20x&priority=urgent",
                  "sip:alice@atlanta.com?priority=urgent&subject=project%20x");

    /* "The URIs within each of the following sets are not equivalent" */
    assert_uri_ne("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP");
    assert_uri_ne("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060");
    assert_uri_ne("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp");
    assert_uri_ne("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp");
    assert_uri_ne("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting");
    assert_uri_ne("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4");

    /* "equality is not transitive" */
    assert_uri_eq("sip:carol@chicago.com", "sip:carol@chicago.com;security=off");
    assert_uri_ne("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off");
}

static void test_uri_eq_rules(void **state)
{
    (void)state;
    assert_uri_ne("sip:alice@atlanta.com", "sips:alice@atlanta.com");
    assert_uri_ne("sip:alice@atlanta.com", "sip:atlanta.com");
    assert_uri_ne("sip:alice:pw@atlanta.com", "sip:alice@atlanta.com");
    assert_uri_ne("sip:alice:pw@atlanta.com", "sip:alice:PW@atlanta.com");
    assert_uri_eq("sip:alice:p%77@atlanta.com", "sip:alice:pw@atlanta.com");
    assert_uri_eq("sip:alice@atlanta.com:5060", "sip:alice@ATLANTA.com:05060");
    /* user, ttl, method, maddr and transport must match when either has them */
    assert_uri_ne("sip:a@h.example", "sip:a@h.example;user=phone");
    assert_uri_ne("sip:a@h.example", "sip:a@h.example;ttl=1");
    assert_uri_ne("sip:a@h.example", "sip:a@h.example;method=INVITE");
    assert_uri_ne("sip:a@h.example", "sip:a@h.example;maddr=192.0.2.1");
    assert_uri_ne("sip:a@h.example;maddr=192.0.2.1", "sip:a@h.example;maddr=192.0.2.2");
    /* other parameters only when both have them; lr is one of those */
    assert_uri_eq("sip:a@h.example;lr", "sip:a@h.example");
    assert_uri_eq("sip:a@h.example;LR", "sip:a@h.example;lr");
    assert_uri_eq("sip:a@h.example;transport=%74cp", "sip:a@h.example;TRANSPORT=TCP");
    assert_uri_eq("sip:a@h.example;x=1;y=2", "sip:a@h.example;y=2;x=1");
    /* a parameter repeated in one URI */
    assert_uri_eq("sip:a@h.example;x=1;x=2", "sip:a@h.example;x=1;x=2");
    /* headers: names case-insensitive, values case-sensitive, any order, escapes decoded */
    assert_uri_eq("sip:a@h.example?Subject=x&to=y", "sip:a@h.example?to=y&subject=x");
    assert_uri_eq("sip:a@h.example?subject=%78", "sip:a@h.example?subject=x");
    assert_uri_ne("sip:a@h.example?subject=x", "sip:a@h.example?subject=X");
    assert_uri_ne("sip:a@h.example?subject=x", "sip:a@h.example?subject=x&to=y");
    assert_uri_ne("sip:a@h.example?subject=x", "sip:a@h.example");
    /* IPv6 hosts compare as written, case-insensitively */
    assert_uri_eq("sip:[2001:DB8::1]", "sip:[2001:db8::1]");
    assert_uri_eq("sip:%00@host5.example.com", "sip:%00@host5.example.com");
    assert_uri_ne("sip:%00@host5.example.com", "sip:%00%00@host5.example.com");
}

/* ---------------------------------------------------------------- bad URIs */

static void test_bad_uris(void **state)
{
    static const char *const bad[] = {
        "",
        "sip",
        "sip:",
        ":alice@example.com",
        "1sip:alice@example.com",
        "<sip:alice@example.com>",
        /* IPv6 without brackets, or broken */
        "sip:2001:db8::10",
        "sip:alice@2001:db8::10",
        "sip:[2001:db8::10",
        "sip:2001:db8::10]",
        "sip:[2001:db8:::192.0.2.1]", /* 3 colons (RFC 5118 4.10, RFC 5954) */
        "sip:[2001:db8:::1]",
        "sip:[1::2::3]",
        "sip:[1:2:3:4:5:6:7:8:9]",
        "sip:[1:2:3:4:5:6:7]",
        "sip:[12345::1]",
        "sip:[::g]",
        "sip:[]",
        "sip:[2001:db8::1]5060",
        /* bad ports */
        "sip:alice@example.com:",
        "sip:alice@example.com:0",
        "sip:alice@example.com:65536",
        "sip:alice@example.com:99999999999999999999",
        "sip:alice@example.com:50a",
        "sip:alice@example.com:-1",
        /* empty or bad hosts */
        "sip:alice@",
        "sip:alice@:5060",
        "sip:alice@;lr",
        "sip:@example.com",
        "sip:-example.com",
        "sip:example-.com",
        "sip:example..com",
        "sip:.example.com",
        "sip:1.2.3",
        "sip:256.1.1.1",
        "sip:alice@exa mple.com",
        "sip:alice@example.com@example.net",
        /* bad user, password, escapes */
        "sip:al ice@example.com",
        "sip:al%6@example.com",
        "sip:al%zz@example.com",
        "sip:alice:pa ss@example.com",
        "sip:al\"ice@example.com",
        /* bad parameters and headers */
        "sip:example.com;",
        "sip:example.com;=x",
        "sip:example.com;a=",
        "sip:example.com;a=b c",
        "sip:example.com;a=%4",
        "sip:example.com;a\"=b",
        "sip:example.com?=x",
        "sip:example.com?a=b c",
        "sip:example.com?a=%zz",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sip_uri u;
        const char *why = NULL;
        if (sip_uri_parse(&u, slice_from_str(bad[i]), &why) != EBADMSG || !why) {
            print_error("'%s' was accepted\n", bad[i]);
            fail();
        }
    }
}

/* The URI slices point into the text and never past it. */
static void test_slices_inside_text(void **state)
{
    static const char *const uris[] = {
        "sip:alice:pw@[2001:db8::1]:5060;transport=tcp;lr?h=v",
        "sips:bob@example.com",
        "tel:+1-201-555-0123;ext=1",
        "mailto:x@y",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
        size_t len = strlen(uris[i]);
        char *buf = malloc(len);
        assert_non_null(buf);
        memcpy(buf, uris[i], len);
        struct sip_uri u;
        const char *why;
        assert_int_equal(sip_uri_parse(&u, slice_make(buf, len), &why), 0);
        struct slice parts[] = {u.raw,      u.scheme, u.user,    u.password, u.host,
                                u.port_str, u.params, u.headers, u.opaque,   u.transport};
        for (size_t j = 0; j < sizeof(parts) / sizeof(parts[0]); j++) {
            if (!slice_present(parts[j]))
                continue;
            assert_true(parts[j].p >= buf);
            assert_true(slice_end(parts[j]) <= buf + len);
        }
        free(buf);
    }
}


/* The user scanned first (its scan stops at '@' or ':'), the parameters
 * ending at the first '?': the parts and the reasons of the byte-by-byte
 * parser, pinned. */
static void test_user_and_params_scan(void **state)
{
    static const struct {
        const char *text, *why, *user, *password, *params, *headers;
    } cases[] = {
        {"sip:alice@example.com?subject=x", NULL, "alice", NULL, "", "subject=x"},
        {"sip:example.com;lr?x=1", NULL, NULL, NULL, ";lr", "x=1"},
        {"sip:example.com;a=b?x=1&y=2", NULL, NULL, NULL, ";a=b", "x=1&y=2"},
        {"sip:host;a?x=1", NULL, NULL, NULL, ";a", "x=1"},
        {"sip:a;b=c@host", NULL, "a;b=c", NULL, "", NULL},
        {"sip:al%40ice@host", NULL, "al%40ice", NULL, "", NULL},
        {"sip:alice:secret@host:5060", NULL, "alice", "secret", "", NULL},
        {"sip:h;a?x", "URI header without =", NULL, NULL, NULL, NULL},
        {"sip::secret@host", "empty user in URI", NULL, NULL, NULL, NULL},
        {"sip:@host", "empty user in URI", NULL, NULL, NULL, NULL},
        {"sip:al ice@host", "bad user in URI", NULL, NULL, NULL, NULL},
        {"sip:al%4@host", "bad user in URI", NULL, NULL, NULL, NULL},
        {"sip:a:b:c@host", "bad password in URI", NULL, NULL, NULL, NULL},
        {"sip:alice@host;a=b=c", "bad URI parameter value", NULL, NULL, NULL, NULL},
        {"sip:host;a=?x=1", "bad URI parameter value", NULL, NULL, NULL, NULL},
        {"sip:host;=x", "bad URI parameter", NULL, NULL, NULL, NULL},
        {"sip:host;a%2=b", "bad URI parameter", NULL, NULL, NULL, NULL},
        {"sip:host:5060?", "empty URI headers after ?", NULL, NULL, NULL, NULL},
        {"tel:+1;a?b", "bad URI parameter", NULL, NULL, NULL, NULL},
        /* the scheme "sip:" is matched in one compare, any case, the colon exact */
        {"SIP:a@b", NULL, "a", NULL, "", NULL},
        {"sIp:a@b", NULL, "a", NULL, "", NULL},
        {"sip\032a@b", "bad URI scheme", NULL, NULL, NULL, NULL},
        {"sip\x1a", "bad URI scheme", NULL, NULL, NULL, NULL},
        {"sIp:", "bad host in URI", NULL, NULL, NULL, NULL},
        {"si", "bad URI scheme", NULL, NULL, NULL, NULL},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sip_uri u;
        const char *why = NULL;
        size_t n = strlen(cases[i].text);
        char *buf = malloc(n);
        assert_non_null(buf);
        memcpy(buf, cases[i].text, n);
        int ret = sip_uri_parse(&u, slice_make(buf, n), &why);
        if (ret == 0)
            assert_int_equal(u.scheme_id, SIP_URI_SIP);
        if (cases[i].why) {
            assert_int_equal(ret, EBADMSG);
            assert_string_equal(why, cases[i].why);
        } else {
            assert_int_equal(ret, 0);
            if (cases[i].user)
                assert_slice_eq_s(u.user, slice_make(cases[i].user, strlen(cases[i].user)));
            else
                assert_slice_absent(u.user);
            if (cases[i].password)
                assert_slice_eq_s(u.password,
                                  slice_make(cases[i].password, strlen(cases[i].password)));
            else
                assert_slice_absent(u.password);
            assert_int_equal(u.params.len, strlen(cases[i].params));
            assert_memory_equal(u.params.p, cases[i].params, u.params.len);
            if (cases[i].headers)
                assert_slice_eq_s(u.headers, slice_make(cases[i].headers, strlen(cases[i].headers)));
            else
                assert_slice_absent(u.headers);
        }
        free(buf);
    }
    /* users around the 16-byte blocks, then the host scanned in one block */
    for (size_t n = 1; n <= 66; n++) {
        char text[96];
        size_t len = 0;
        memcpy(text, "sip:", 4);
        len = 4;
        for (size_t i = 0; i < n; i++)
            text[len++] = (char)('a' + i % 26);
        memcpy(text + len, "@h.example.com;lr", 17);
        len += 17;
        char *buf = malloc(len);
        assert_non_null(buf);
        memcpy(buf, text, len);
        struct sip_uri u;
        const char *why = NULL;
        assert_int_equal(sip_uri_parse(&u, slice_make(buf, len), &why), 0);
        assert_int_equal(u.user.len, n);
        assert_slice_eq(u.host, "h.example.com");
        assert_true(u.lr);
        free(buf);
    }
}

/*
 * The fast path of sip_uri_parse_in() (both builds where the CPU has
 * SSSE3) against sip_uri_parse_generic(): every field, at the same offset
 * from the start of the text, the verdict and the reason. Each case is at
 * the end of an exact-size heap buffer (ASan catches a read past lim) and
 * is tried with end at every byte, so that each delimiter is once the
 * last byte before end and before lim, and each run ends at every offset
 * of its 16-byte block.
 */
typedef const char *(*uri_fast_fn)(struct sip_uri *, const char *, const char *, const char *);

/* The case followed by pad bytes of fill, lim at the end of them. */
static void check_uri_fast_padded(const char *text, size_t len, size_t pad, char fill)
{
    char *buf = malloc(len + pad ? len + pad : 1);
    assert_non_null(buf);
    memcpy(buf, text, len);
    memset(buf + len, fill, pad);
    const char *lim = buf + len + pad;
    for (size_t e = 0; e <= len; e++) {
        struct sip_uri want, got;
        const char *why1 = NULL, *why2 = NULL;
        /* the reference reads nothing past end */
        char *ref = malloc(e ? e : 1);
        assert_non_null(ref);
        memcpy(ref, buf, e);
        int r1 = sip_uri_parse_generic(&want, slice_make(ref, e), ref + e, &why1);
        int r2 = sip_uri_parse_in(&got, slice_make(buf, e), lim, &why2);
        if (r1 != r2)
            print_error("\"%.*s\": %d (%s), want %d (%s)\n", (int)e, text, r2, why2 ? why2 : "",
                        r1, why1 ? why1 : "");
        assert_int_equal(r1, r2);
        if (r1)
            assert_string_equal(why1, why2);
        else
            same_uri(&got, buf, &want, ref, text, e);
        free(ref);
#if defined(__SSE2__)
        /* each build alone: where it takes the URI (up to end or to a '>'),
         * the reference takes that text alike */
        uri_fast_fn fns[2] = {sip_uri_fast_sse2, NULL};
#if defined(SIP_NIBBLE_SCAN)
        if (sip_cpu_has_ssse3())
            fns[1] = sip_uri_fast_ssse3;
#endif
        for (int f = 0; f < 2 && fns[f]; f++) {
            const char *stop = fns[f](&got, buf, buf + e, lim);
            if (!stop)
                continue;
            assert_true(stop == buf + e || *stop == '>');
            size_t n = (size_t)(stop - buf);
            ref = malloc(n ? n : 1);
            assert_non_null(ref);
            memcpy(ref, buf, n);
            r1 = sip_uri_parse_generic(&want, slice_make(ref, n), ref + n, &why1);
            if (r1)
                print_error("\"%.*s\": build %d took it, the reference says %s\n", (int)n, text,
                            f, why1);
            assert_int_equal(r1, 0);
            same_uri(&got, buf, &want, ref, text, n);
            free(ref);
        }
#endif
    }
    free(buf);
}

/* Short cases take the fast path only with bytes to read after them; the
 * bytes after end are read by the classifications as any others (a run of
 * 'a' goes on past end, an '@' or ':' there is none of the URI's). */
static void check_uri_fast(const char *text, size_t len)
{
    check_uri_fast_padded(text, len, 0, 0);
    check_uri_fast_padded(text, len, 24, 'a');
    check_uri_fast_padded(text, len, 24, ';');
    check_uri_fast_padded(text, len, 24, '@');
    check_uri_fast_padded(text, len, 24, ':');
}

static void test_uri_fast_path(void **state)
{
    static const char *const cases[] = {
        "sip:alice@example.com",
        "SIP:alice@example.com",
        "sIp:Bob@Example.COM",
        "sips:alice@example.com",
        "sip:example.com",
        "sip:alice@192.0.2.10:5060;transport=udp",
        "sip:alice@192.0.2.10:5060;transport=udp>;expires=3600",
        "sip:bob@example.com>",
        "sip:a%41lice@example.com",
        "sip:alice%@example.com",
        "sip:alice:secret@example.com",
        "sip:@example.com",
        "sip:alice@",
        "sip:alice@[2001:db8::1]:5060",
        "sip:a@b@example.com",
        "sip:a;b@example.com",
        "sip:a.b_c-d~e@example.com",
        "sip:+15551234567@example.com;user=phone",
        "sip:a@h:1",
        "sip:a@h:12",
        "sip:a@h:123",
        "sip:a@h:1234",
        "sip:a@h:12345",
        "sip:a@h:123456",
        "sip:a@h:0",
        "sip:a@h:0000",
        "sip:a@h:00000",
        "sip:a@h:65535",
        "sip:a@h:65536",
        "sip:a@h:5060a",
        "sip:a@h:50a0",
        "sip:a@h:",
        "sip:a@h:;x",
        "sip:a@h:5060>",
        "sip:a@256.1.1.1",
        "sip:a@1.2.3",
        "sip:a@1.2.3.4.5",
        "sip:a@1..2.3",
        "sip:a@255.255.255.255:5060",
        "sip:a@01.02.03.04",
        "sip:a@1.2.3.4a",
        "sip:a@a-.b",
        "sip:a@a.-b",
        "sip:a@a..b",
        "sip:a@-a.b",
        "sip:a@.a",
        "sip:a@a.b.",
        "sip:a@a_b.c-d.e",
        "sip:a@h;lr",
        "sip:a@h;LR;Transport=TCP;maddr=1.2.3.4;ttl=5;user=phone;x;y=z",
        "sip:a@h;transport=udp;transport=tcp",
        "sip:a@h;=x",
        "sip:a@h;x=",
        "sip:a@h;;x",
        "sip:a@h;",
        "sip:a@h;x=1?h=v",
        "sip:a@h?h=v",
        "sip:a@h;x=%41",
        "sip:a@h;%6C%72",
        "sip:a@h;p=a:b",
        "sip:a@h;x=\x80",
        "sip:a@h;x>y",
        "sip:a@h>x",
        "sip:a@h x",
        "sip:a@h\x80",
        "sip:a@h,",
        "sip:a@verylonghostname.example.com",
        "sip:u@192.168.100.200:5060;transport=udp",
        "sip:u@192.168.1.100:5060;transport=udp",
        "sip:u@192.168.1.100:50601;lr",
        "sip:u@192.168.1.10:5060;transport=udp;maddr=192.168.100.200",
        "sip:u@abcdefghijklmn.o:5;lr",
        "sip:+4915112345678901234567@192.0.2.1:5060",
        "sip:+@h",
        "sip:a+b",
        "sip:a+b;lr",
        "sip:a@h+x",
        "sip:a@h;x=a+b",
        "sip:a@h;a+b",
        "sip:a@h:50+0",
        "sip:a@192.0.2.1:5060;x=a+b",
        "sip:averyveryverylongusername@example.com",
        "sip:a@h;aaaaaaaaaaaaaaaaaaaa=1",
        "sip:a@h;a=bbbbbbbbbbbbbbbbbbbb;c",
        "tel:+15551234",
        "sip:",
        "sip:a",
        "sipx:a@h",
        "si",
        "",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_uri_fast(cases[i], strlen(cases[i]));

    /* every part's length from 0 to 20, so that each delimiter lands on
     * every offset of its block, block ends included */
    char text[160];
    static const size_t lengths[] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                                     16, 17, 18, 19, 20, 31, 32, 33, 47, 48, 49, 63, 64, 65, 70};
    for (size_t li = 0; li < sizeof(lengths) / sizeof(lengths[0]); li++) {
        size_t k = lengths[li];
        /* '#' is where the run goes */
        static const char *const shapes[] = {
            "sip:#@example.com:5060;transport=udp",  "sip:alice@#:5060;transport=udp",
            "sip:alice@#.example.com;lr",            "sip:alice@h:5060;#=udp;lr",
            "sip:alice@192.0.2.1:5060;transport=#;x", "sip:alice@h;x=#>",
            "sip:#",                                 "sip:u@#:5",
        };
        char run[80];
        for (size_t j = 0; j < k; j++)
            run[j] = (char)('a' + j % 26);
        run[k] = '\0';
        for (size_t si = 0; si < sizeof(shapes) / sizeof(shapes[0]); si++) {
            const char *hole = strchr(shapes[si], '#');
            size_t pre = (size_t)(hole - shapes[si]), n = 0;
            memcpy(text, shapes[si], pre);
            n = pre;
            memcpy(text + n, run, k);
            n += k;
            memcpy(text + n, hole + 1, strlen(hole + 1));
            n += strlen(hole + 1);
            check_uri_fast(text, n);
        }
        /* digits and dots: IPv4 hosts of every length */
        for (size_t j = 0; j < k; j++)
            run[j] = j % 4 == 3 ? '.' : (char)('1' + j % 3);
        int n = snprintf(text, sizeof(text), "sip:u@%s;lr", run);
        check_uri_fast(text, (size_t)n);
    }
    /* every byte in every part: the classifications of both builds */
    static const char *const holes[] = {"sip:u#v@h", "sip:#@h",    "sip:u@h#k",   "sip:u@h#",
                                        "sip:u@h;x#=1", "sip:u@h;x=#", "sip:u@h:5#", "sip:#"};
    for (int c = 0; c < 256; c++) {
        for (size_t hi = 0; hi < sizeof(holes) / sizeof(holes[0]); hi++) {
            const char *hole = strchr(holes[hi], '#');
            size_t pre = (size_t)(hole - holes[hi]), n = pre;
            memcpy(text, holes[hi], pre);
            text[n++] = (char)c;
            memcpy(text + n, hole + 1, strlen(hole + 1));
            n += strlen(hole + 1);
            check_uri_fast(text, n);
        }
    }
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sip_uri_parts),
        cmocka_unit_test(test_hosts),
        cmocka_unit_test(test_tel),
        cmocka_unit_test(test_other_schemes),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_rfc3261_19_1_4),
        cmocka_unit_test(test_uri_eq_rules),
        cmocka_unit_test(test_bad_uris),
        cmocka_unit_test(test_slices_inside_text),
        cmocka_unit_test(test_user_and_params_scan),
        cmocka_unit_test(test_uri_fast_path),
    };
    return cmocka_run_group_tests_name("sip_uri", tests, NULL, NULL);
}
