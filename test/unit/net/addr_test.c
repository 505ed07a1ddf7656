/* addr_test.c: tests src/net/addr.c: listen entries, address text, comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "net/net.h"

#define SA(a) ((const struct sockaddr *)&(a).ss)

static void test_listen_good(void **state)
{
    static const struct {
        const char *text;
        enum net_proto proto;
        int family;
        const char *host;
        uint16_t port;
    } cases[] = {
        {"udp:192.0.2.1:5060", NET_PROTO_UDP, AF_INET, "192.0.2.1", 5060},
        {"tcp:192.0.2.1:5061", NET_PROTO_TCP, AF_INET, "192.0.2.1", 5061},
        {"tls:192.0.2.1", NET_PROTO_TLS, AF_INET, "192.0.2.1", 5060},
        {"UDP:192.0.2.1", NET_PROTO_UDP, AF_INET, "192.0.2.1", 5060},
        {"192.0.2.1", NET_PROTO_UDP, AF_INET, "192.0.2.1", 5060},
        {"192.0.2.1:5070", NET_PROTO_UDP, AF_INET, "192.0.2.1", 5070},
        {"0.0.0.0:0", NET_PROTO_UDP, AF_INET, "0.0.0.0", 0},
        {"::1", NET_PROTO_UDP, AF_INET6, "::1", 5060},
        {"[::1]", NET_PROTO_UDP, AF_INET6, "::1", 5060},
        {"[::1]:5070", NET_PROTO_UDP, AF_INET6, "::1", 5070},
        {"udp:[::1]:5070", NET_PROTO_UDP, AF_INET6, "::1", 5070},
        {"tcp:::1", NET_PROTO_TCP, AF_INET6, "::1", 5060},
        {"0:0:0:0:0:0:0:1", NET_PROTO_UDP, AF_INET6, "::1", 5060}, /* canonical text */
        {"fe80::1", NET_PROTO_UDP, AF_INET6, "fe80::1", 5060},
        {"add::1", NET_PROTO_UDP, AF_INET6, "add::1", 5060}, /* hex, not a transport */
        {"[2001:db8::10]:65535", NET_PROTO_UDP, AF_INET6, "2001:db8::10", 65535},
        {"::ffff:192.0.2.1", NET_PROTO_UDP, AF_INET6, "::ffff:192.0.2.1", 5060},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct net_listen l;
        char why[128] = "";
        int err = net_listen_parse(cases[i].text, 5060, &l, why, sizeof(why));
        if (err)
            fail_msg("%s: %s", cases[i].text, why);
        assert_int_equal(l.proto, cases[i].proto);
        assert_int_equal(l.addr.ss.ss_family, cases[i].family);
        assert_string_equal(l.host, cases[i].host);
        assert_int_equal(l.port, cases[i].port);
        assert_int_equal(net_addr_port(SA(l.addr)), cases[i].port);
        assert_int_equal(l.addr.len, cases[i].family == AF_INET ? sizeof(struct sockaddr_in)
                                                                : sizeof(struct sockaddr_in6));
    }
}

static void test_listen_bad(void **state)
{
    static const struct {
        const char *text;
        const char *why;
    } cases[] = {
        {"", "empty listen address"},
        {"192.0.2.1:70000", "bad port 70000"},
        {"192.0.2.1:5o60", "bad port 5o60"},
        {"192.0.2.1:123456", "bad port 123456"},
        {"192.0.2.1:", "missing port after ':'"},
        {"[::1]:", "missing port after ':'"},
        {"[::1]:99999", "bad port 99999"},
        {"foo", "not a numeric IP address: foo"},
        {"localhost:5060", "not a numeric IP address: localhost"},
        {"udp:example.com", "not a numeric IP address: example.com"},
        {"192.0.2", "not a numeric IP address: 192.0.2"},
        {"192.0.2.256", "not a numeric IP address: 192.0.2.256"},
        {"1.2.3.4.5", "not a numeric IP address: 1.2.3.4.5"},
        {"::1::2", "not a numeric IP address: ::1::2"},
        {"sctp:192.0.2.1", "unknown transport \"sctp\" (udp, tcp or tls)"},
        {"udp:", "missing address after the transport"},
        {"[::1", "missing ']' in [::1"},
        {"[::1]5060", "unexpected \"5060\" after ']'"},
        {"[192.0.2.1]:5060", "brackets are for IPv6 addresses only: 192.0.2.1"},
        {"[]", "brackets are for IPv6 addresses only: "},
        {"fe80::1%eth0", "not a numeric IP address: fe80::1%eth0"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct net_listen l;
        char why[128] = "";
        int err = net_listen_parse(cases[i].text, 5060, &l, why, sizeof(why));
        if (err != EINVAL || strcmp(why, cases[i].why) != 0)
            fail_msg("\"%s\": got %d \"%s\", want EINVAL \"%s\"", cases[i].text, err, why,
                     cases[i].why);
    }
}

static void test_listen_long_input(void **state)
{
    char text[512], why[128];
    struct net_listen l;

    (void)state;
    memset(text, '1', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    assert_int_equal(net_listen_parse(text, 5060, &l, why, sizeof(why)), EINVAL);
    assert_non_null(strstr(why, "not a numeric IP address"));
    /* a tiny why buffer is truncated, never overrun */
    char small[8];
    assert_int_equal(net_listen_parse("foo", 5060, &l, small, sizeof(small)), EINVAL);
    assert_string_equal(small, "not a n");
    assert_int_equal(net_listen_parse("foo", 5060, &l, NULL, 0), EINVAL);
}

static void test_format(void **state)
{
    struct net_addr a;
    char buf[64];

    (void)state;
    assert_int_equal(net_addr_from_ip("192.0.2.1", 9, 5060, &a), 0);
    assert_int_equal(net_addr_format(SA(a), buf, sizeof(buf)), strlen("192.0.2.1:5060"));
    assert_string_equal(buf, "192.0.2.1:5060");
    assert_int_equal(net_addr_ip(SA(a), buf, sizeof(buf)), 9);
    assert_string_equal(buf, "192.0.2.1");

    assert_int_equal(net_addr_from_ip("2001:db8::1", 11, 5061, &a), 0);
    net_addr_format(SA(a), buf, sizeof(buf));
    assert_string_equal(buf, "[2001:db8::1]:5061");
    net_addr_ip(SA(a), buf, sizeof(buf));
    assert_string_equal(buf, "2001:db8::1");
    assert_int_equal(net_addr_port(SA(a)), 5061);

    /* truncation: the length written, always terminated */
    assert_int_equal(net_addr_format(SA(a), buf, 6), 5);
    assert_string_equal(buf, "[2001");
    assert_int_equal(net_addr_format(SA(a), buf, 0), 0);

    /* IPv4 is formatted by hand: every octet width, against inet_ntop */
    static const char *const v4[] = {"0.0.0.0", "255.255.255.255", "10.0.0.1", "127.0.0.1",
                                     "1.22.133.4", "100.10.1.0"};
    for (size_t i = 0; i < sizeof(v4) / sizeof(v4[0]); i++) {
        char want[INET_ADDRSTRLEN];
        assert_int_equal(net_addr_from_ip(v4[i], strlen(v4[i]), 65535, &a), 0);
        assert_non_null(inet_ntop(AF_INET, &((struct sockaddr_in *)&a.ss)->sin_addr, want,
                                  sizeof(want)));
        assert_int_equal(net_addr_ip(SA(a), buf, sizeof(buf)), strlen(want));
        assert_string_equal(buf, want);
        char with_port[64];
        snprintf(with_port, sizeof(with_port), "%s:65535", want);
        assert_int_equal(net_addr_format(SA(a), buf, sizeof(buf)), strlen(with_port));
        assert_string_equal(buf, with_port);
    }
    assert_int_equal(net_addr_from_ip("255.255.255.255", 15, 0, &a), 0);
    assert_int_equal(net_addr_ip(SA(a), buf, 4), 3);
    assert_string_equal(buf, "255");
    assert_int_equal(net_addr_format(SA(a), buf, sizeof(buf)), strlen("255.255.255.255:0"));

    struct sockaddr_storage unix_ss = {.ss_family = AF_UNIX};
    net_addr_format((struct sockaddr *)&unix_ss, buf, sizeof(buf));
    assert_string_equal(buf, "unknown");
    assert_int_equal(net_addr_port((struct sockaddr *)&unix_ss), 0);
}

static void test_from_ip(void **state)
{
    struct net_addr a;
    const char *text = "10.0.0.1;transport=udp"; /* a slice of a longer string */

    (void)state;
    assert_int_equal(net_addr_from_ip(text, 8, 7, &a), 0);
    assert_int_equal(a.ss.ss_family, AF_INET);
    assert_int_equal(net_addr_port(SA(a)), 7);
    assert_int_equal(net_addr_from_ip("[::1]", 5, 9, &a), 0);
    assert_int_equal(a.ss.ss_family, AF_INET6);
    assert_int_equal(net_addr_from_ip("::1", 3, 9, &a), 0);

    assert_int_equal(net_addr_from_ip("", 0, 1, &a), EINVAL);
    assert_int_equal(net_addr_from_ip("[1.2.3.4]", 9, 1, &a), EINVAL);
    assert_int_equal(net_addr_from_ip("example.com", 11, 1, &a), EINVAL);
    assert_int_equal(net_addr_from_ip("1.2.3.4", 6, 1, &a), EINVAL); /* "1.2.3." */
    assert_int_equal(net_addr_from_ip("1\0.2.3.4", 8, 1, &a), EINVAL);
    assert_int_equal(net_addr_from_ip("[::1", 4, 1, &a), EINVAL);
    assert_int_equal(net_addr_from_ip(NULL, 0, 1, &a), EINVAL);
}

static void test_eq(void **state)
{
    struct net_addr v4, v4b, v4port, mapped, v6, v6b;

    (void)state;
    assert_int_equal(net_addr_from_ip("192.0.2.1", 9, 5060, &v4), 0);
    assert_int_equal(net_addr_from_ip("192.0.2.1", 9, 5060, &v4b), 0);
    assert_int_equal(net_addr_from_ip("192.0.2.1", 9, 5061, &v4port), 0);
    assert_int_equal(net_addr_from_ip("::ffff:192.0.2.1", 16, 5060, &mapped), 0);
    assert_int_equal(net_addr_from_ip("2001:db8::1", 11, 5060, &v6), 0);
    assert_int_equal(net_addr_from_ip("2001:db8:0::1", 13, 5060, &v6b), 0);

    assert_true(net_addr_eq(SA(v4), SA(v4b)));
    assert_false(net_addr_eq(SA(v4), SA(v4port)));
    /* IPv4-mapped IPv6 equals its IPv4 form, both ways */
    assert_true(net_addr_eq(SA(v4), SA(mapped)));
    assert_true(net_addr_eq(SA(mapped), SA(v4)));
    assert_false(net_addr_eq(SA(v4port), SA(mapped)));
    assert_true(net_addr_eq(SA(v6), SA(v6b)));
    assert_false(net_addr_eq(SA(v6), SA(v4)));
    /* IPv6 scopes differ: different addresses */
    ((struct sockaddr_in6 *)&v6b.ss)->sin6_scope_id = 2;
    assert_false(net_addr_eq(SA(v6), SA(v6b)));

    struct sockaddr_storage unspec = {.ss_family = AF_UNSPEC};
    assert_false(net_addr_eq((struct sockaddr *)&unspec, (struct sockaddr *)&unspec));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listen_good),       cmocka_unit_test(test_listen_bad),
        cmocka_unit_test(test_listen_long_input), cmocka_unit_test(test_format),
        cmocka_unit_test(test_from_ip),           cmocka_unit_test(test_eq),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
