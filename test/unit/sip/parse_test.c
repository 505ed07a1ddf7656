/* parse_test.c: focused cases of src/sip/parse.c and the header decoders of src/sip/hdr.c. */
#include "../test_util.h"

#include "sip/sip_int.h" /* cc_is(): the reference the fast paths must match */
#include "uri_same.h"

/* The header lines every request below needs, in the long form. */
#define KEYS                                                                                       \
    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n"                                          \
    "From: <sip:alice@example.com>;tag=a1\r\n"                                                     \
    "To: <sip:bob@example.com>\r\n"                                                                \
    "Call-ID: c1@example.com\r\n"                                                                  \
    "CSeq: 1 INVITE\r\n"
#define INVITE_LINE "INVITE sip:bob@example.com SIP/2.0\r\n"

/* Offset of the first occurrence of needle in the literal hay (test data). */
static size_t offset_of(const char *hay, size_t hay_len, const char *needle)
{
    size_t n = strlen(needle);

    for (size_t i = 0; i + n <= hay_len; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return i;
    print_error("'%s' not in the test message\n", needle);
    fail();
    return 0;
}

#define OFFSET_OF(arr, needle) offset_of((arr), sizeof(arr) - 1, needle)

/* ---------------------------------------------------------------- header names */

static void test_compact_forms(void **state)
{
    static const struct {
        const char *compact, *full;
        enum sip_hdr_type type;
    } forms[] = {
        {"i", "Call-ID", SIP_HDR_CALL_ID},
        {"m", "Contact", SIP_HDR_CONTACT},
        {"e", "Content-Encoding", SIP_HDR_CONTENT_ENCODING},
        {"l", "Content-Length", SIP_HDR_CONTENT_LENGTH},
        {"c", "Content-Type", SIP_HDR_CONTENT_TYPE},
        {"f", "From", SIP_HDR_FROM},
        {"k", "Supported", SIP_HDR_SUPPORTED},
        {"s", "Subject", SIP_HDR_SUBJECT},
        {"t", "To", SIP_HDR_TO},
        {"v", "Via", SIP_HDR_VIA},
        {"o", "Event", SIP_HDR_EVENT},
        {"u", "Allow-Events", SIP_HDR_ALLOW_EVENTS},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        char upper = (char)(forms[i].compact[0] - 'a' + 'A');
        assert_int_equal(sip_hdr_lookup(forms[i].compact, 1), forms[i].type);
        assert_int_equal(sip_hdr_lookup(&upper, 1), forms[i].type);
        assert_int_equal(sip_hdr_lookup(forms[i].full, strlen(forms[i].full)), forms[i].type);
        assert_string_equal(sip_hdr_name(forms[i].type), forms[i].full);
    }

    /* the same message written with compact and with long names */
    static const char compact[] = "INVITE sip:bob@example.com SIP/2.0\r\n"
                                  "v: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\n"
                                  "f: <sip:a@example.com>;tag=1\r\n"
                                  "t: <sip:b@example.com>\r\n"
                                  "i: cid@example.com\r\n"
                                  "CSeq: 1 INVITE\r\n"
                                  "m: <sip:a@h.example.com>\r\n"
                                  "e: gzip\r\n"
                                  "c: text/plain\r\n"
                                  "k: 100rel\r\n"
                                  "s: hello\r\n"
                                  "o: presence\r\n"
                                  "u: presence\r\n"
                                  "l: 4\r\n"
                                  "\r\n"
                                  "body";
    static const char full[] = "INVITE sip:bob@example.com SIP/2.0\r\n"
                               "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\n"
                               "From: <sip:a@example.com>;tag=1\r\n"
                               "To: <sip:b@example.com>\r\n"
                               "Call-ID: cid@example.com\r\n"
                               "CSeq: 1 INVITE\r\n"
                               "Contact: <sip:a@h.example.com>\r\n"
                               "Content-Encoding: gzip\r\n"
                               "Content-Type: text/plain\r\n"
                               "Supported: 100rel\r\n"
                               "Subject: hello\r\n"
                               "Event: presence\r\n"
                               "Allow-Events: presence\r\n"
                               "Content-Length: 4\r\n"
                               "\r\n"
                               "body";
    struct test_msg a, b;
    assert_int_equal(test_msg_parse(&a, compact), 0);
    assert_int_equal(test_msg_parse(&b, full), 0);
    assert_int_equal(a.msg.hdr_count, 13);
    assert_int_equal(b.msg.hdr_count, 13);
    for (unsigned i = 0; i < a.msg.hdr_count; i++) {
        assert_int_equal(a.msg.hdrs[i].type, b.msg.hdrs[i].type);
        assert_int_not_equal(a.msg.hdrs[i].type, SIP_HDR_OTHER);
        assert_slice_eq_s(a.msg.hdrs[i].value, b.msg.hdrs[i].value);
        if (a.msg.hdrs[i].type != SIP_HDR_CSEQ) /* CSeq has no compact form */
            assert_int_equal(a.msg.hdrs[i].name.len, 1);
    }
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        assert_int_equal(a.msg.count[forms[i].type], 1);
        assert_non_null(sip_msg_hdr(&a.msg, forms[i].type));
    }
    assert_slice_eq(a.msg.call_id, "cid@example.com");
    assert_slice_eq(a.msg.from.tag, "1");
    assert_slice_eq(a.msg.via.host, "h.example.com");
    assert_int_equal(a.msg.content_length, 4);
    assert_slice_eq(a.msg.body, "body");
    const char *why;
    assert_int_equal(sip_msg_contacts(&a.msg, &why), 0);
    assert_int_equal(a.msg.contact_n, 1);
    test_msg_free(&a);
    test_msg_free(&b);
}

static void test_case_insensitive_names(void **state)
{
    static const char text[] = "OPTIONS sip:bob@example.com SIP/2.0\r\n"
                               "vIA: SIP/2.0/UDP h.example.com;BRANCH=z9hG4bK1\r\n"
                               "FROM: <sip:a@example.com>;TAG=1\r\n"
                               "tO: <sip:b@example.com>\r\n"
                               "cALL-iD: x@y\r\n"
                               "cseq: 7 OPTIONS\r\n"
                               "MAX-forwards: 0070\r\n"
                               "content-LENGTH: 0\r\n"
                               "X-Custom-Header: 1\r\n"
                               "\r\n";
    struct test_msg t;
    (void)state;
    assert_int_equal(test_msg_parse(&t, text), 0);
    assert_slice_eq(t.msg.via.branch, "z9hG4bK1");
    assert_slice_eq(t.msg.from.tag, "1");
    assert_slice_eq(t.msg.call_id, "x@y");
    assert_int_equal(t.msg.cseq.number, 7);
    assert_int_equal(t.msg.max_forwards, 70);
    assert_int_equal(t.msg.content_length, 0);
    assert_int_equal(sip_msg_hdr(&t.msg, SIP_HDR_VIA)->type, SIP_HDR_VIA);
    assert_slice_eq(sip_msg_hdr(&t.msg, SIP_HDR_VIA)->name, "vIA");
    const struct sip_hdr *h = sip_msg_hdr_by_name(&t.msg, SLICE_LIT("x-custom-HEADER"));
    assert_non_null(h);
    assert_int_equal(h->type, SIP_HDR_OTHER);
    assert_slice_eq(h->value, "1");
    assert_null(sip_msg_hdr_by_name(&t.msg, SLICE_LIT("X-Custom")));
    test_msg_free(&t);

    assert_int_equal(sip_hdr_lookup("VIAS", 4), SIP_HDR_OTHER);
    assert_int_equal(sip_hdr_lookup("z", 1), SIP_HDR_OTHER);
    assert_int_equal(sip_hdr_lookup("x", 1), SIP_HDR_SESSION_EXPIRES); /* RFC 4028 */
    assert_int_equal(sip_hdr_lookup("", 0), SIP_HDR_OTHER);
    assert_int_equal(sip_hdr_lookup("WWW-AUTHENTICATE", 16), SIP_HDR_WWW_AUTHENTICATE);
    assert_string_equal(sip_hdr_name(SIP_HDR_OTHER), "");
    assert_true(sip_hdr_flags(SIP_HDR_CONTACT) & SIP_HF_LIST);
    assert_true(sip_hdr_flags(SIP_HDR_CALL_ID) & SIP_HF_SINGLE);
    /* methods are case-sensitive (RFC 3261 7.1) */
    assert_int_equal(sip_method_lookup(SLICE_LIT("INVITE")), SIP_METHOD_INVITE);
    assert_int_equal(sip_method_lookup(SLICE_LIT("invite")), SIP_METHOD_OTHER);
    assert_int_equal(sip_method_lookup(SLICE_LIT("PUBLISH")), SIP_METHOD_PUBLISH);
    assert_string_equal(sip_method_name(SIP_METHOD_REGISTER), "REGISTER");
    static const char *const methods[] = {"INVITE", "ACK", "BYE", "CANCEL", "REGISTER",
                                          "OPTIONS", "INFO", "PRACK", "UPDATE", "SUBSCRIBE",
                                          "NOTIFY", "MESSAGE", "REFER", "PUBLISH"};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        assert_string_equal(sip_method_name(sip_method_lookup(slice_from_str(methods[i]))),
                            methods[i]);
    assert_int_equal(sip_method_lookup(SLICE_LIT("INVITF")), SIP_METHOD_OTHER);
    assert_int_equal(sip_method_lookup(SLICE_LIT("NOTIF")), SIP_METHOD_OTHER);

    /* a known name is matched exactly: a control byte where a '-' belongs
     * (0x0d | 0x20 == '-') is no name, and the line has no valid colon */
    assert_int_equal(sip_hdr_lookup("call\rid", 7), SIP_HDR_OTHER);
    assert_int_equal(sip_hdr_lookup("Max\rForwards", 12), SIP_HDR_OTHER);
    assert_int_equal(sip_hdr_lookup("CALL-id", 7), SIP_HDR_CALL_ID);
    assert_int_equal(sip_hdr_lookup("Max-Forwards", 12), SIP_HDR_MAX_FORWARDS);
    static const char bad_name[] = INVITE_LINE KEYS "Max\rForwards: 70\r\n\r\n";
    assert_int_equal(test_msg_parse(&t, bad_name), EBADMSG);
    assert_string_equal(t.err.reason, "header line without a colon");
    assert_int_equal(t.err.offset, OFFSET_OF(bad_name, "Max\r"));
    test_msg_free(&t);
}

static void test_folded_lines(void **state)
{
    static const char text[] = "INVITE sip:bob@example.com SIP/2.0\r\n"
                               "Via: SIP/2.0/UDP\r\n"
                               " 192.0.2.1\r\n"
                               "\t;branch=z9hG4bK1\r\n"
                               "From: <sip:alice@example.com>\r\n"
                               "  ;tag=a1\r\n"
                               "To:\r\n"
                               " <sip:bob@example.com>\r\n"
                               "Call-ID: c1@example.com\r\n"
                               "CSeq: 1\r\n"
                               "  INVITE\r\n"
                               "Subject: first\r\n"
                               "   second\r\n"
                               "Content-Length: 0\r\n"
                               "\r\n";
    struct test_msg t;
    (void)state;
    assert_int_equal(test_msg_parse(&t, text), 0);
    assert_int_equal(t.msg.hdr_count, 7);
    assert_slice_eq(t.msg.via.host, "192.0.2.1");
    assert_slice_eq(t.msg.via.branch, "z9hG4bK1");
    assert_slice_eq(t.msg.from.tag, "a1");
    assert_slice_eq(t.msg.to.uri_text, "sip:bob@example.com");
    assert_int_equal(t.msg.cseq.method_id, SIP_METHOD_INVITE);
    const struct sip_hdr *s = sip_msg_hdr(&t.msg, SIP_HDR_SUBJECT);
    /* the value keeps the folding; the line runs to after its last CRLF */
    assert_slice_eq(s->value, "first\r\n   second");
    assert_slice_eq(s->line, "Subject: first\r\n   second\r\n");
    test_msg_free(&t);

    /* a continuation line with no header before it */
    static const char bad[] = "INVITE sip:bob@example.com SIP/2.0\r\n"
                              " folded\r\n" KEYS "\r\n";
    assert_int_equal(test_msg_parse(&t, bad), EBADMSG);
    assert_int_equal(t.err.offset, OFFSET_OF(bad, " folded"));
    assert_int_equal(t.err.status, 400);
    test_msg_free(&t);
}

static void test_leading_crlf_and_bare_lf(void **state)
{
    /* RFC 3261 7.5: CRLFs before the start line are ignored; bare LF line ends tolerated */
    static const char text[] = "\r\n\r\nOPTIONS sip:bob@example.com SIP/2.0\n"
                               "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\n"
                               "From: <sip:a@example.com>;tag=1\n"
                               "To: <sip:b@example.com>\n"
                               "Call-ID: lf@x\n"
                               "CSeq: 2 OPTIONS\n"
                               "Content-Length: 2\n"
                               "\n"
                               "hi";
    struct test_msg t;
    (void)state;
    assert_int_equal(test_msg_parse(&t, text), 0);
    assert_int_equal(t.msg.data.p - t.buf, 4);
    assert_slice_eq(t.msg.call_id, "lf@x");
    assert_slice_eq(t.msg.body, "hi");
    assert_int_equal(t.msg.hdr_count, 6);
    test_msg_free(&t);
}

/* ---------------------------------------------------------------- list values */

static void test_multi_value_headers(void **state)
{
    static const char text[] =
        "REGISTER sip:example.com SIP/2.0\r\n" KEYS
        "Contact: \"Doe, John\" <sip:d,oe@example.com>;q=0.5,<sip:x@y.example.com>;expires=60 ,\r\n"
        "  sip:z@w.example.com;q=1\r\n"
        "Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
        "Contact: \"a <b>, c\" <sip:e@example.com>\r\n"
        "Content-Length: 0\r\n"
        "\r\n";
    struct test_msg t;
    const char *why = NULL;
    (void)state;
    assert_int_equal(test_msg_parse(&t, text), 0);
    assert_int_equal(sip_msg_contacts(&t.msg, &why), 0);
    assert_int_equal(t.msg.contact_n, 4);
    struct sip_nameaddr *c = t.msg.contacts;
    assert_slice_eq(c[0].display, "\"Doe, John\"");
    assert_slice_eq(c[0].uri.user, "d,oe");
    assert_slice_eq(c[0].params, ";q=0.5");
    assert_slice_eq(c[1].uri_text, "sip:x@y.example.com");
    assert_slice_eq(c[1].params, ";expires=60");
    assert_false(c[2].bracketed);
    assert_slice_eq(c[2].uri_text, "sip:z@w.example.com");
    assert_slice_eq(c[2].params, ";q=1");
    assert_slice_eq(c[3].display, "\"a <b>, c\"");
    assert_slice_eq(c[3].uri.user, "e");
    assert_true(t.msg.decoded & SIP_DEC_CONTACTS);
    /* a second call returns the cached array */
    assert_int_equal(sip_msg_contacts(&t.msg, &why), 0);
    assert_true(t.msg.contacts == c);

    struct sip_list_iter it;
    struct slice item;
    sip_list_iter_init(&it, sip_msg_hdr(&t.msg, SIP_HDR_ROUTE)->value);
    assert_true(sip_list_next(&it, &item));
    assert_slice_eq(item, "<sip:p1.example.com;lr>");
    assert_true(sip_list_next(&it, &item));
    assert_slice_eq(item, "<sip:p2.example.com;lr>");
    assert_false(sip_list_next(&it, &item));
    test_msg_free(&t);

    /* empty elements and an unterminated quote or bracket are errors of the list */
    sip_list_iter_init(&it, SLICE_LIT("a, ,b,,"));
    assert_true(sip_list_next(&it, &item));
    assert_slice_eq(item, "a");
    assert_true(sip_list_next(&it, &item));
    assert_slice_eq(item, "b");
    assert_false(sip_list_next(&it, &item));
    assert_int_equal(it.empty, 3);
    sip_list_iter_init(&it, SLICE_LIT("\"open, <sip:a@b>"));
    while (sip_list_next(&it, &item))
        ;
    assert_true(it.bad);
    sip_list_iter_init(&it, SLICE_LIT("<sip:a@b, <sip:c@d>"));
    while (sip_list_next(&it, &item))
        ;
    assert_true(it.bad);

    static const char empty_elem[] = "REGISTER sip:example.com SIP/2.0\r\n" KEYS
                                     "Contact: <sip:a@example.com>,,<sip:b@example.com>\r\n"
                                     "Content-Length: 0\r\n\r\n";
    assert_int_equal(test_msg_parse(&t, empty_elem), 0);
    assert_int_equal(sip_msg_contacts(&t.msg, &why), EBADMSG);
    assert_non_null(why);
    test_msg_free(&t);

    static const char star[] = "REGISTER sip:example.com SIP/2.0\r\n" KEYS
                               "Contact: *\r\nExpires: 0\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(test_msg_parse(&t, star), 0);
    assert_int_equal(sip_msg_contacts(&t.msg, &why), 0);
    assert_int_equal(t.msg.contact_n, 1);
    assert_true(t.msg.contacts[0].star);
    test_msg_free(&t);

    static const char star_and_more[] =
        "REGISTER sip:example.com SIP/2.0\r\n" KEYS "Contact: *, <sip:a@example.com>\r\n"
        "Content-Length: 0\r\n\r\n";
    assert_int_equal(test_msg_parse(&t, star_and_more), 0);
    assert_int_equal(sip_msg_contacts(&t.msg, &why), EBADMSG);
    test_msg_free(&t);
}

/* RFC 4475 3.1.2.15 (baddn) with its header section terminated: the unquoted
 * display names with , and . are rejected for themselves. */
static void test_unquoted_display_name(void **state)
{
    static const char text[] = "OPTIONS sip:t.watson@example.org SIP/2.0\r\n"
                               "Via:     SIP/2.0/UDP c.example.com:5060;branch=z9hG4bKkdjuw\r\n"
                               "Max-Forwards:      70\r\n"
                               "From:    Bell, Alexander <sip:a.g.bell@example.com>;tag=43\r\n"
                               "To:      Watson, Thomas <sip:t.watson@example.org>\r\n"
                               "Call-ID: baddn.31415@c.example.com\r\n"
                               "CSeq:    3923239 OPTIONS\r\n"
                               "l: 0\r\n"
                               "\r\n";
    struct test_msg t;
    (void)state;
    assert_int_equal(test_msg_parse(&t, text), EBADMSG);
    assert_string_equal(t.err.reason, "bad From");
    assert_int_equal(t.err.offset, OFFSET_OF(text, "Bell, Alexander"));
    assert_int_equal(t.err.status, 400);
    test_msg_free(&t);
}

/* ---------------------------------------------------------------- Content-Length and framing */

static void test_content_length_errors(void **state)
{
    static const char overflow[] =
        INVITE_LINE KEYS "Content-Length: 99999999999999999999999\r\n\r\nbody";
    static const char over_int[] = INVITE_LINE KEYS "Content-Length: 2147483648\r\n\r\nbody";
    static const char negative[] = INVITE_LINE KEYS "Content-Length: -4\r\n\r\nbody";
    static const char garbage[] = INVITE_LINE KEYS "Content-Length: 4x\r\n\r\nbody";
    static const char conflicting[] =
        INVITE_LINE KEYS "Content-Length: 4\r\nContent-Length: 5\r\n\r\nbody!";
    static const char too_long[] = INVITE_LINE KEYS "Content-Length: 10\r\n\r\nbody";
    struct test_msg t;
    (void)state;

    assert_int_equal(test_msg_parse(&t, overflow), EBADMSG);
    assert_int_equal(t.err.offset, OFFSET_OF(overflow, "9999"));
    assert_int_equal(t.err.status, 400);
    assert_int_equal(t.msg.content_length, -1);
    assert_true(t.msg.headers_ok);
    test_msg_free(&t);

    assert_int_equal(test_msg_parse(&t, over_int), EBADMSG);
    assert_int_equal(t.err.offset, OFFSET_OF(over_int, "2147483648"));
    test_msg_free(&t);

    assert_int_equal(test_msg_parse(&t, negative), EBADMSG);
    assert_int_equal(t.err.offset, OFFSET_OF(negative, "-4"));
    assert_int_equal(t.err.status, 400);
    test_msg_free(&t);

    assert_int_equal(test_msg_parse(&t, garbage), EBADMSG);
    assert_int_equal(t.err.offset, OFFSET_OF(garbage, "4x"));
    test_msg_free(&t);

    assert_int_equal(test_msg_parse(&t, conflicting), EBADMSG);
    assert_int_equal(t.err.offset, OFFSET_OF(conflicting, "Content-Length: 5"));
    assert_int_equal(t.err.status, 400);
    struct sip_verdict v;
    sip_sanity(&t.msg, t.ret, &t.err, NULL, &v);
    assert_int_equal(v.action, SIP_REPLY);
    assert_int_equal(v.code, 400);
    test_msg_free(&t);

    /* over UDP a Content-Length larger than the datagram is an error, never a wait */
    assert_int_equal(test_msg_parse(&t, too_long), EBADMSG);
    assert_int_equal(t.err.offset, OFFSET_OF(too_long, "10\r\n"));
    test_msg_free(&t);
}

static void test_datagram_body_framing(void **state)
{
    static const char trailing[] = INVITE_LINE KEYS "Content-Length: 4\r\n\r\nbodyJUNK\r\nMORE";
    static const char no_cl[] = INVITE_LINE KEYS "\r\nbody and the rest\r\n";
    static const char zero[] = INVITE_LINE KEYS "Content-Length: 0\r\n\r\n\r\n\r\n";
    static const char no_body[] = INVITE_LINE KEYS "Content-Length: 0\r\n\r\n";
    struct test_msg t;
    (void)state;

    assert_int_equal(test_msg_parse(&t, trailing), 0);
    assert_slice_eq(t.msg.body, "body");
    assert_int_equal(t.msg.trailing, 10);
    assert_int_equal(t.msg.data.len, sizeof(trailing) - 1 - 10);
    assert_true(t.msg.data.p == t.buf);
    test_msg_free(&t);

    assert_int_equal(test_msg_parse(&t, no_cl), 0);
    assert_int_equal(t.msg.content_length, -1);
    assert_slice_eq(t.msg.body, "body and the rest\r\n");
    assert_int_equal(t.msg.trailing, 0);
    test_msg_free(&t);

    assert_int_equal(test_msg_parse(&t, zero), 0);
    assert_int_equal(t.msg.body.len, 0);
    assert_int_equal(t.msg.trailing, 4);
    test_msg_free(&t);

    assert_int_equal(test_msg_parse(&t, no_body), 0);
    assert_int_equal(t.msg.body.len, 0);
    assert_int_equal(t.msg.trailing, 0);
    assert_int_equal(t.msg.data.len, sizeof(no_body) - 1);
    test_msg_free(&t);

    /* in stream mode the Content-Length is mandatory */
    assert_int_equal(test_msg_parse_n(&t, no_cl, sizeof(no_cl) - 1, NULL, SIP_PARSE_STREAM),
                     EBADMSG);
    assert_int_equal(t.err.status, 400);
    test_msg_free(&t);
}

/* ---------------------------------------------------------------- stream framing */

static int frame_exact(const char *bytes, size_t len, const struct sip_limits *lim, size_t *skip,
                       size_t *msg_len, struct sip_error *err)
{
    char *buf = malloc(len ? len : 1);
    assert_non_null(buf);
    if (len)
        memcpy(buf, bytes, len);
    int ret = sip_stream_frame(buf, len, lim, skip, msg_len, err);
    free(buf);
    return ret;
}

static void test_stream_incomplete_prefixes(void **state)
{
    static const char msg[] = INVITE_LINE KEYS "Content-Type: text/plain\r\n"
                                               "Content-Length:\r\n 11\r\n\r\nhello world";
    size_t len = sizeof(msg) - 1, skip, msg_len;
    struct sip_error err;
    (void)state;

    for (size_t k = 0; k < len; k++) {
        skip = msg_len = 12345;
        int ret = frame_exact(msg, k, NULL, &skip, &msg_len, &err);
        if (ret != ENODATA) {
            print_error("prefix of %zu bytes: %d (%s)\n", k, ret, err.reason ? err.reason : "");
            fail();
        }
        assert_int_equal(msg_len, 12345);
    }
    assert_int_equal(frame_exact(msg, len, NULL, &skip, &msg_len, &err), 0);
    assert_int_equal(skip, 0);
    assert_int_equal(msg_len, len);

    struct test_msg t;
    assert_int_equal(test_msg_parse_n(&t, msg, len, NULL, SIP_PARSE_STREAM), 0);
    assert_slice_eq(t.msg.body, "hello world");
    test_msg_free(&t);
}

static void test_stream_keepalive_and_pipelining(void **state)
{
    static const char two[] = "\r\n\r\n" INVITE_LINE KEYS "l: 3\r\n\r\nabc"
                              "\r\n"
                              "OPTIONS sip:bob@example.com SIP/2.0\r\n"
                              "Via: SIP/2.0/TCP h.example.com;branch=z9hG4bK2\r\n"
                              "From: <sip:a@example.com>;tag=2\r\nTo: <sip:b@example.com>\r\n"
                              "Call-ID: second@x\r\nCSeq: 2 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    size_t len = sizeof(two) - 1, skip, msg_len;
    struct sip_error err;
    struct test_msg t;
    (void)state;

    /* keep-alives alone: nothing to frame yet, all of it skippable */
    assert_int_equal(frame_exact("\r\n\r\n", 4, NULL, &skip, &msg_len, &err), ENODATA);
    assert_int_equal(skip, 4);

    assert_int_equal(frame_exact(two, len, NULL, &skip, &msg_len, &err), 0);
    assert_int_equal(skip, 4);
    size_t first_len = OFFSET_OF(two, "abc") + 3 - 4;
    assert_int_equal(msg_len, first_len);
    assert_int_equal(test_msg_parse_n(&t, two + skip, msg_len, NULL, SIP_PARSE_STREAM), 0);
    assert_int_equal(t.msg.method_id, SIP_METHOD_INVITE);
    assert_slice_eq(t.msg.body, "abc");
    test_msg_free(&t);

    size_t at = skip + msg_len;
    assert_int_equal(frame_exact(two + at, len - at, NULL, &skip, &msg_len, &err), 0);
    assert_int_equal(skip, 2);
    assert_int_equal(at + skip + msg_len, len);
    assert_int_equal(test_msg_parse_n(&t, two + at + skip, msg_len, NULL, SIP_PARSE_STREAM), 0);
    assert_int_equal(t.msg.method_id, SIP_METHOD_OPTIONS);
    assert_slice_eq(t.msg.call_id, "second@x");
    test_msg_free(&t);
}

static void test_stream_bad(void **state)
{
    static const char negative[] = INVITE_LINE KEYS "Content-Length: -1\r\n\r\n";
    static const char conflicting[] = INVITE_LINE KEYS "Content-Length: 1\r\nl: 2\r\n\r\nab";
    static const char missing[] = INVITE_LINE KEYS "\r\nbody";
    static const char huge[] = INVITE_LINE KEYS "Content-Length: 70000\r\n\r\n";
    size_t skip, msg_len;
    struct sip_error err;
    (void)state;

    assert_int_equal(frame_exact(negative, sizeof(negative) - 1, NULL, &skip, &msg_len, &err),
                     EBADMSG);
    assert_int_equal(err.offset, OFFSET_OF(negative, "-1"));
    assert_int_equal(err.status, 400);
    assert_int_equal(frame_exact(conflicting, sizeof(conflicting) - 1, NULL, &skip, &msg_len, &err),
                     EBADMSG);
    assert_int_equal(err.offset, OFFSET_OF(conflicting, "l: 2"));
    assert_int_equal(frame_exact(missing, sizeof(missing) - 1, NULL, &skip, &msg_len, &err),
                     EBADMSG);
    assert_int_equal(err.status, 400);
    assert_int_equal(frame_exact(huge, sizeof(huge) - 1, NULL, &skip, &msg_len, &err), EMSGSIZE);
    assert_int_equal(err.status, 513);

    /* a header section that never ends and outgrows the limit */
    struct sip_limits lim = sip_limits_default;
    lim.max_msg_len = 64;
    static const char endless[] = INVITE_LINE KEYS "X-Filler: aaaaaaaaaaaaaaaa";
    assert_int_equal(frame_exact(endless, sizeof(endless) - 1, &lim, &skip, &msg_len, &err),
                     EMSGSIZE);
    assert_int_equal(err.status, 513);
    assert_int_equal(frame_exact(endless, 30, &lim, &skip, &msg_len, &err), ENODATA);
}

/* ---------------------------------------------------------------- limits */

static void test_limits(void **state)
{
    static const char text[] = INVITE_LINE KEYS "Content-Length: 4\r\n\r\nbody";
    struct sip_limits lim = sip_limits_default;
    struct test_msg t;
    struct sip_verdict v;
    (void)state;

    assert_int_equal(sip_limits_default.max_msg_len, 65535);
    assert_int_equal(sip_limits_default.max_headers, 256);
    assert_int_equal(sip_limits_default.max_header_len, 8192);

    /* exactly at each limit: accepted */
    lim.max_msg_len = sizeof(text) - 1;
    lim.max_headers = 6;
    lim.max_header_len = sizeof("Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n") - 1;
    assert_int_equal(test_msg_parse_n(&t, text, sizeof(text) - 1, &lim, 0), 0);
    test_msg_free(&t);

    /* one byte over the message limit: EMSGSIZE, 513, and a reply can still be built */
    lim = sip_limits_default;
    lim.max_msg_len = sizeof(text) - 2;
    assert_int_equal(test_msg_parse_n(&t, text, sizeof(text) - 1, &lim, 0), EMSGSIZE);
    assert_int_equal(t.err.status, 513);
    assert_int_equal(t.err.offset, lim.max_msg_len);
    assert_true(t.msg.headers_ok);
    sip_sanity(&t.msg, t.ret, &t.err, NULL, &v);
    assert_int_equal(v.action, SIP_REPLY);
    assert_int_equal(v.code, 513);
    test_msg_free(&t);

    /* one header too many: EMSGSIZE (sip.h: "EMSGSIZE when a limit is exceeded"), at that line */
    lim = sip_limits_default;
    lim.max_headers = 5;
    assert_int_equal(test_msg_parse_n(&t, text, sizeof(text) - 1, &lim, 0), EMSGSIZE);
    assert_int_equal(t.err.status, 513);
    assert_int_equal(t.err.offset, OFFSET_OF(text, "Content-Length"));
    test_msg_free(&t);

    /* one header line a byte too long: EMSGSIZE, at that line */
    lim = sip_limits_default;
    lim.max_header_len = sizeof("Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n") - 2;
    assert_int_equal(test_msg_parse_n(&t, text, sizeof(text) - 1, &lim, 0), EMSGSIZE);
    assert_int_equal(t.err.status, 513);
    assert_int_equal(t.err.offset, OFFSET_OF(text, "Via:"));
    test_msg_free(&t);

    /* the header table grows past its first allocation up to the default limit */
    char big[16384];
    size_t n = 0;
    n += (size_t)snprintf(big + n, sizeof(big) - n, "%s%s", INVITE_LINE, KEYS);
    for (int i = 0; i < 251; i++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "X-H%d: %d\r\n", i, i);
    n += (size_t)snprintf(big + n, sizeof(big) - n, "\r\n");
    assert_int_equal(test_msg_parse_n(&t, big, n, NULL, 0), 0);
    assert_int_equal(t.msg.hdr_count, 256);
    assert_slice_eq(sip_msg_hdr_by_name(&t.msg, SLICE_LIT("X-H250"))->value, "250");
    test_msg_free(&t);
    n -= 2;
    n += (size_t)snprintf(big + n, sizeof(big) - n, "X-Last: 1\r\n\r\n");
    assert_int_equal(test_msg_parse_n(&t, big, n, NULL, 0), EMSGSIZE);
    assert_int_equal(t.err.offset, offset_of(big, n, "X-Last"));
    test_msg_free(&t);

    /* an arena that cannot grow is ENOMEM, not a crash */
    char tiny[64];
    struct arena a;
    struct sip_msg m;
    struct sip_error err;
    arena_init(&a, tiny, sizeof(tiny), 0);
    assert_int_equal(sip_msg_parse(&m, &a, text, sizeof(text) - 1, NULL, 0, &err), ENOMEM);
    sip_sanity(&m, ENOMEM, &err, NULL, &v);
    assert_int_equal(v.action, SIP_DROP);
    arena_free(&a);
}

/* ---------------------------------------------------------------- error offsets */

static void test_error_offsets(void **state)
{
    static const struct {
        const char *text;
        const char *at; /* the fault; NULL: the end of the buffer */
        unsigned status;
        const char *reason;
    } cases[] = {
        {"INVITE  sip:bob@example.com SIP/2.0\r\n" KEYS "\r\n", " sip:bob", 400,
         "extra whitespace in request line"},
        {"INVITE sip:bob@example.com SIP/2.0 \r\n" KEYS "\r\n", " \r\n", 400,
         "extra whitespace in request line"},
        {"INVITE sip:bob@example.com SIP/2.x\r\n" KEYS "\r\n", "SIP/2.x", 400, "bad SIP version"},
        {"INVITE sip:bob@example.com SIP/3.0\r\n" KEYS "\r\n", "SIP/3.0", 505,
         "SIP version not supported"},
        {"INVITE sip:bob@@example.com SIP/2.0\r\n" KEYS "\r\n", "sip:bob@@", 400,
         "bad Request-URI"},
        {INVITE_LINE KEYS "Foobar roobar\r\n\r\n", "Foobar", 400, "header line without a colon"},
        {INVITE_LINE KEYS "Call-ID: again@x\r\n\r\n", "Call-ID: again", 400, "duplicate Call-ID"},
        {INVITE_LINE "Via: SIP/2.0/UDP 192.0.2.1;;\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\n"
                     "Call-ID: x\r\nCSeq: 1 INVITE\r\n\r\n",
         "SIP/2.0/UDP 192.0.2.1;;", 400, "bad Via parameter"},
        {INVITE_LINE "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
                     "To: <sip:c@d>\r\nCall-ID: x\r\nCSeq: one INVITE\r\n\r\n",
         "one INVITE", 400, "bad CSeq number"},
        {INVITE_LINE "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
                     "To: sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n",
         "sip:c@d>", 400, "bad To"},
        {INVITE_LINE KEYS "Max-Forwards: 7a\r\n\r\n", "7a", 400, "bad Max-Forwards"},
        {INVITE_LINE "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
                     "To: <sip:c@d>\r\nCall-ID: a b\r\nCSeq: 1 INVITE\r\n\r\n",
         " b\r\n", 400, "bad Call-ID"},
        {INVITE_LINE KEYS, NULL, 400, "no empty line after the headers"},
        {"SIP/2.0 2000 OK\r\n" KEYS "\r\n", "2000", 0, "bad status code"},
        {"SIP/2.0 099 Low\r\n" KEYS "\r\n", "099", 0, "bad status code"},
        {"SIP/2.0 200OK\r\n" KEYS "\r\n", "OK\r\n", 0, "bad status line"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct test_msg t;
        size_t len = strlen(cases[i].text);
        size_t want = cases[i].at ? offset_of(cases[i].text, len, cases[i].at) : len;
        int ret = test_msg_parse_n(&t, cases[i].text, len, NULL, 0);
        if (ret != EBADMSG || t.err.offset != want || t.err.status != cases[i].status ||
            !t.err.reason || strcmp(t.err.reason, cases[i].reason) != 0) {
            print_error("case %zu: ret %d offset %zu (want %zu) status %u (want %u) reason '%s' "
                        "(want '%s')\n",
                        i, ret, t.err.offset, want, t.err.status, cases[i].status,
                        t.err.reason ? t.err.reason : "", cases[i].reason);
            fail();
        }
        test_msg_free(&t);
    }

    /* a missing key names itself; the detail carries the URI decoder's reason */
    struct test_msg t;
    assert_int_equal(test_msg_parse(&t, INVITE_LINE "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
                                                    "From: <sip:a@b>;tag=1\r\nCall-ID: x\r\n"
                                                    "CSeq: 1 INVITE\r\n\r\n"),
                     EBADMSG);
    assert_string_equal(t.err.reason, "missing To");
    test_msg_free(&t);
    assert_int_equal(test_msg_parse(&t, "INVITE sip:[::1 SIP/2.0\r\n" KEYS "\r\n"), EBADMSG);
    assert_non_null(t.err.detail);
    assert_true(t.msg.headers_ok);
    test_msg_free(&t);
    assert_int_equal(test_msg_parse(&t, "\r\n\r\n"), EBADMSG);
    assert_int_equal(t.err.status, 0);
    test_msg_free(&t);
}

static void test_numbers(void **state)
{
    struct test_msg t;
    (void)state;

    assert_int_equal(
        test_msg_parse(&t,
                       INVITE_LINE "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
                                   "To: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 4294967295 INVITE\r\n"
                                   "Max-Forwards: 0068\r\n\r\n"),
        0);
    assert_int_equal(t.msg.cseq.number, 4294967295u);
    assert_int_equal(t.msg.max_forwards, 68);
    test_msg_free(&t);
    assert_int_equal(
        test_msg_parse(&t, INVITE_LINE
                       "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
                       "To: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 4294967296 INVITE\r\n\r\n"),
        EBADMSG);
    assert_string_equal(t.err.reason, "CSeq number over 2**32-1");
    test_msg_free(&t);

    struct sip_cseq cs;
    const char *why;
    assert_int_equal(sip_cseq_parse(&cs, SLICE_LIT(" 12\r\n  REGISTER "), &why), 0);
    assert_int_equal(cs.number, 12);
    assert_int_equal(cs.method_id, SIP_METHOD_REGISTER);
    assert_int_equal(sip_cseq_parse(&cs, SLICE_LIT("12REGISTER"), &why), EBADMSG);
    assert_int_equal(sip_cseq_parse(&cs, SLICE_LIT("12 REGISTER x"), &why), EBADMSG);
    assert_int_equal(sip_cseq_parse(&cs, SLICE_LIT("12"), &why), EBADMSG);
}

static void test_expires(void **state)
{
    static const char base[] = "REGISTER sip:example.com SIP/2.0\r\n" KEYS;
    static const struct {
        const char *value;
        int ret;
        long expires;
    } cases[] = {
        {"3600", 0, 3600},
        {"0", 0, 0},
        {"4294967295", 0, 4294967295L},
        /* RFC 3261 20.19: a value above 2**32-1 clamps to it */
        {"4294967296", 0, 4294967295L},
        {"100000000000000000000000000000000000000000000", 0, 4294967295L},
        {"-1", EBADMSG, -1},
        {"soon", EBADMSG, -1},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[512];
        int n = snprintf(text, sizeof(text), "%sExpires: %s\r\nContent-Length: 0\r\n\r\n", base,
                         cases[i].value);
        struct test_msg t;
        const char *why = NULL;
        assert_int_equal(test_msg_parse_n(&t, text, (size_t)n, NULL, 0), 0);
        assert_int_equal(sip_msg_expires(&t.msg, &why), cases[i].ret);
        if (cases[i].ret == 0) {
            assert_int_equal(t.msg.expires, cases[i].expires);
            assert_true(t.msg.decoded & SIP_DEC_EXPIRES);
        }
        test_msg_free(&t);
    }
    struct test_msg t;
    const char *why = NULL;
    assert_int_equal(test_msg_parse(&t, "REGISTER sip:example.com SIP/2.0\r\n" KEYS "\r\n"), 0);
    assert_int_equal(sip_msg_expires(&t.msg, &why), 0);
    assert_int_equal(t.msg.expires, -1);
    test_msg_free(&t);
}

/* ---------------------------------------------------------------- Via */

static void test_via_params(void **state)
{
    struct sip_via v;
    const char *why = NULL;
    struct sip_param p;
    (void)state;

    assert_int_equal(
        sip_via_parse(&v, SLICE_LIT("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;rport"), &why), 0);
    assert_slice_eq(v.host, "192.0.2.1");
    assert_int_equal(v.host_type, SIP_HOST_IPV4);
    assert_int_equal(v.port, 5060);
    assert_slice_eq(v.port_str, "5060");
    assert_true(v.rport);
    assert_slice_absent(v.rport_value);
    assert_slice_eq(v.branch, "z9hG4bK1");
    assert_slice_eq(v.params, ";branch=z9hG4bK1;rport");

    assert_int_equal(
        sip_via_parse(&v, SLICE_LIT("SIP/2.0/TCP h.example.com;rport=5061;branch=x"), &why), 0);
    assert_true(v.rport);
    assert_slice_eq(v.rport_value, "5061");
    assert_int_equal(v.port, 0);
    assert_slice_absent(v.port_str);

    assert_int_equal(
        sip_via_parse(&v,
                      SLICE_LIT("SIP/2.0/UDP h.example.com;received=192.0.2.9;maddr=224.2.0.1;"
                                "ttl=16;foo=bar;baz;BRANCH=z9hG4bKq"),
                      &why),
        0);
    assert_slice_eq(v.received, "192.0.2.9");
    assert_slice_eq(v.maddr, "224.2.0.1");
    assert_slice_eq(v.ttl, "16");
    assert_slice_eq(v.branch, "z9hG4bKq");
    assert_false(v.rport);
    assert_true(sip_param_find(v.params, "foo", &p));
    assert_slice_eq(p.value, "bar");
    assert_true(sip_param_find(v.params, "BAZ", &p));
    assert_slice_absent(p.value);
    assert_false(sip_param_find(v.params, "ba", &p));

    assert_int_equal(sip_via_parse(&v, SLICE_LIT("SIP/2.0/TLS [2001:db8::1]:5061;branch=b"), &why),
                     0);
    assert_slice_eq(v.host, "2001:db8::1");
    assert_int_equal(v.host_type, SIP_HOST_IPV6);
    assert_int_equal(v.port, 5061);
    assert_slice_eq(v.transport, "TLS");

    assert_int_equal(
        sip_via_parse(&v, SLICE_LIT("SIP/2.0/UDP [2001:db8::1];received=[2001:db8::2]"), &why), 0);
    assert_slice_eq(v.received, "2001:db8::2");
    assert_int_equal(v.port, 0);

    /* LWS around every delimiter, transport case kept as written */
    assert_int_equal(
        sip_via_parse(
            &v, SLICE_LIT("SIP / 2.0 / udp  h.example.com : 5070 ;\r\n branch = z9hG4bKx"), &why),
        0);
    assert_slice_eq(v.transport, "udp");
    assert_slice_eq(v.host, "h.example.com");
    assert_int_equal(v.port, 5070);
    assert_slice_eq(v.branch, "z9hG4bKx");

    static const char *const bad[] = {
        "SIP/2.0 UDP h.example.com",         "SIP/2.0/UDP",
        "SIP/2.0/UDP h.example.com:0",       "SIP/2.0/UDP h.example.com:70000",
        "SIP/2.0/UDP h.example.com:",        "SIP/2.0/UDP [2001:db8::1",
        "SIP/2.0/UDP 2001:db8::1",           "SIP/2.0/UDP h.example.com;branch=",
        "SIP/2.0/UDP h.example.com;;branch", "SIP/2.0/UDP h.example.com x",
        "SIP/2.0/UDP -h.example.com",        "/2.0/UDP h.example.com",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        if (sip_via_parse(&v, slice_from_str(bad[i]), &why) != EBADMSG || !why) {
            print_error("Via '%s' was accepted\n", bad[i]);
            fail();
        }
    }
}

/* ---------------------------------------------------------------- digest */

static void test_digest(void **state)
{
    struct sip_digest d;
    const char *why = NULL;
    (void)state;

    assert_int_equal(
        sip_digest_parse(&d,
                         SLICE_LIT("Digest username=\"bob\", realm=\"example.com\", nonce=\"n1\","
                                   " uri=\"sip:example.com\", response=\"0123456789abcdef\","
                                   " algorithm=MD5, cnonce=\"c1\", opaque=\"o1\", qop=auth,"
                                   " nc=00000001"),
                         &why),
        0);
    assert_slice_eq(d.scheme, "Digest");
    assert_slice_eq(d.username, "bob");
    assert_slice_eq(d.realm, "example.com");
    assert_slice_eq(d.nonce, "n1");
    assert_slice_eq(d.uri, "sip:example.com");
    assert_slice_eq(d.response, "0123456789abcdef");
    assert_slice_eq(d.algorithm, "MD5");
    assert_slice_eq(d.cnonce, "c1");
    assert_slice_eq(d.opaque, "o1");
    assert_slice_eq(d.qop, "auth");
    assert_slice_eq(d.nc, "00000001");
    assert_slice_absent(d.userhash);

    /* any order, quoted or not, any case of names, LWS and folding around , and = */
    assert_int_equal(
        sip_digest_parse(&d,
                         SLICE_LIT("dIgEsT RESPONSE = \"r\",URI=sip:x@y ,\r\n NONCE=n2,"
                                   "UserName=\"a\\\"b,c\" ,  Realm=realm.example, X-Ext=\"q\""),
                         &why),
        0);
    assert_slice_caseeq(d.scheme, "digest");
    assert_slice_eq(d.response, "r");
    assert_slice_eq(d.uri, "sip:x@y");
    assert_slice_eq(d.nonce, "n2");
    assert_slice_eq(d.username, "a\\\"b,c"); /* quotes stripped, escapes kept */
    assert_slice_eq(d.realm, "realm.example");

    /* an unknown name before a known one, '=' inside quotes, tab before '=' */
    assert_int_equal(sip_digest_parse(&d,
                                      SLICE_LIT("Digest x-a=\"u=v\", nonce\t=\"=\\\\\", "
                                                "realm=\"r\""),
                                      &why),
                     0);
    assert_slice_eq(d.nonce, "=\\\\");
    assert_slice_eq(d.realm, "r");
    assert_int_equal(sip_digest_parse(&d,
                                      SLICE_LIT("Digest username=\"a\", realm=\"r\" , "
                                                "userhash=true"),
                                      &why),
                     0);
    assert_slice_eq(d.userhash, "true");

    /* a challenge */
    assert_int_equal(
        sip_digest_parse(&d,
                         SLICE_LIT("Digest realm=\"r\", domain=\"sip:a sip:b\", nonce=\"n\", "
                                   "stale=FALSE, algorithm=MD5, qop=\"auth,auth-int\""),
                         &why),
        0);
    assert_slice_eq(d.domain, "sip:a sip:b");
    assert_slice_eq(d.stale, "FALSE");
    assert_slice_eq(d.qop, "auth,auth-int");

    /* another scheme is carried, not decoded */
    assert_int_equal(sip_digest_parse(&d, SLICE_LIT("Basic QWxhZGRpbjpvcGVu"), &why), 0);
    assert_slice_eq(d.scheme, "Basic");
    assert_slice_eq(d.params, "QWxhZGRpbjpvcGVu");
    assert_slice_absent(d.username);

    static const char *const bad[] = {
        "",
        "Digest username",
        "Digest username=\"bob",
        "Digest username=bob realm=r",
        "Digest realm=a, realm=b",
        "Digest =x",
        "Digest realm\x01=x",
        "Digest \"realm\"=x",
        "Digest realm=\"a\\\"",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        if (sip_digest_parse(&d, slice_from_str(bad[i]), &why) != EBADMSG || !why) {
            print_error("credentials '%s' were accepted\n", bad[i]);
            fail();
        }
    }
}

/*
 * The credentials decoder as the byte loops of 03c47c6 give it: the
 * reference the fast paths (one 16-byte load per parameter, "Digest " by
 * word compares) must match on every input, results and reasons alike.
 */
static const char *ref_skip_ws(const char *p, const char *end)
{
    while (p < end && cc_is(*p, CC_WS))
        p++;
    return p;
}

static struct slice *ref_digest_slot(struct sip_digest *d, struct slice name)
{
    static const struct {
        const char *name;
        size_t off;
    } names[] = {
        {"username", offsetof(struct sip_digest, username)},
        {"realm", offsetof(struct sip_digest, realm)},
        {"nonce", offsetof(struct sip_digest, nonce)},
        {"uri", offsetof(struct sip_digest, uri)},
        {"response", offsetof(struct sip_digest, response)},
        {"algorithm", offsetof(struct sip_digest, algorithm)},
        {"cnonce", offsetof(struct sip_digest, cnonce)},
        {"opaque", offsetof(struct sip_digest, opaque)},
        {"qop", offsetof(struct sip_digest, qop)},
        {"nc", offsetof(struct sip_digest, nc)},
        {"userhash", offsetof(struct sip_digest, userhash)},
        {"domain", offsetof(struct sip_digest, domain)},
        {"stale", offsetof(struct sip_digest, stale)},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (slice_caseeq(name, slice_from_str(names[i].name)))
            return (struct slice *)(void *)((char *)d + names[i].off);
    return NULL;
}

static int ref_digest_parse(struct sip_digest *d, const char *p, const char *end,
                            const char **reason)
{
    memset(d, 0, sizeof(*d));
    p = ref_skip_ws(p, end);
    const char *s = p;
    while (p < end && cc_is(*p, CC_TOKEN))
        p++;
    d->scheme = slice_make(s, (size_t)(p - s));
    if (d->scheme.len == 0)
        return *reason = "missing authentication scheme", EBADMSG;
    p = ref_skip_ws(p, end);
    d->params = slice_make(p, (size_t)(end - p));
    if (!slice_caseeq(d->scheme, SLICE_LIT("digest")))
        return 0;
    while (p < end) {
        s = p;
        while (p < end && cc_is(*p, CC_TOKEN))
            p++;
        struct slice name = slice_make(s, (size_t)(p - s));
        if (name.len == 0)
            return *reason = "bad digest parameter", EBADMSG;
        p = ref_skip_ws(p, end);
        if (p >= end || *p != '=')
            return *reason = "digest parameter without value", EBADMSG;
        struct slice *dst = ref_digest_slot(d, name), value;
        p = ref_skip_ws(p + 1, end);
        if (p < end && *p == '"') {
            const char *q = p + 1;
            while (q < end && *q != '"')
                q += *q == '\\' ? 2 : 1;
            if (q >= end)
                return *reason = "unterminated quoted digest value", EBADMSG;
            value = slice_make(p + 1, (size_t)(q - p - 1));
            p = q + 1;
        } else {
            s = p;
            while (p < end && *p != ',' && !cc_is(*p, CC_WS))
                p++;
            value = slice_make(s, (size_t)(p - s));
        }
        p = ref_skip_ws(p, end);
        if (p < end) {
            if (*p != ',')
                return *reason = "bad digest parameter list", EBADMSG;
            p = ref_skip_ws(p + 1, end);
        }
        if (dst) {
            if (slice_present(*dst))
                return *reason = "duplicate digest parameter", EBADMSG;
            *dst = value;
        }
    }
    return 0;
}

/* The same slice, as offsets from each decoder's own buffer. */
static void digest_slice_same(struct slice got, const char *gbase, struct slice want,
                              const char *wbase, const char *what, const char *text)
{
    if (slice_present(got) == slice_present(want) &&
        (!slice_present(got) || (got.p - gbase == want.p - wbase && got.len == want.len)))
        return;
    print_error("credentials \"%s\": %s differs\n", text, what);
    fail();
}

static void digest_same(const struct sip_digest *got, const char *gbase,
                        const struct sip_digest *want, const char *wbase, const char *text)
{
#define SAME(f) digest_slice_same(got->f, gbase, want->f, wbase, #f, text)
    SAME(scheme);
    SAME(username);
    SAME(realm);
    SAME(nonce);
    SAME(uri);
    SAME(response);
    SAME(algorithm);
    SAME(cnonce);
    SAME(opaque);
    SAME(qop);
    SAME(nc);
    SAME(userhash);
    SAME(domain);
    SAME(stale);
    SAME(params);
#undef SAME
}

/* Decodes text three ways: from an exact-size buffer (nothing readable
 * past the end: the fast path stops 16 bytes before it), from a buffer
 * readable 40 bytes further (filled with the delimiters the fast path
 * looks for), and with the reference; all must agree. */
static void digest_check(const char *text, size_t n)
{
    struct sip_digest want, got;
    const char *wwhy = NULL, *why = NULL;
    int wret = ref_digest_parse(&want, text, text + n, &wwhy);

    char *exact = malloc(n ? n : 1);
    assert_non_null(exact);
    memcpy(exact, text, n);
    int ret = sip_digest_parse(&got, slice_make(exact, n), &why);
    if (ret != wret || (ret && strcmp(why, wwhy) != 0)) {
        print_error("credentials \"%.*s\": %d (%s), want %d (%s)\n", (int)n, text, ret,
                    ret ? why : "", wret, wret ? wwhy : "");
        fail();
    }
    if (ret == 0)
        digest_same(&got, exact, &want, text, text);
    free(exact);

    static const char pad[] = "\",=\\\" ,\"=, \"\\,\"=\",\" ,= \"\"\\\",,\"=\"";
    char *padded = malloc(n + sizeof(pad) - 1);
    assert_non_null(padded);
    memcpy(padded, text, n);
    memcpy(padded + n, pad, sizeof(pad) - 1);
    why = NULL;
    ret = sip_digest_parse_in(&got, slice_make(padded, n), padded + n + sizeof(pad) - 1, &why);
    if (ret != wret || (ret && strcmp(why, wwhy) != 0)) {
        print_error("credentials \"%.*s\" (padded): %d (%s), want %d (%s)\n", (int)n, text, ret,
                    ret ? why : "", wret, wret ? wwhy : "");
        fail();
    }
    if (ret == 0)
        digest_same(&got, padded, &want, text, text);
    free(padded);
}

/* shape with its first "%s" replaced by a and its second by b, into buf. */
static size_t fill_shape(char *buf, size_t size, const char *shape, const char *a, const char *b)
{
    size_t n = 0;
    int k = 0;

    for (const char *p = shape; *p; p++) {
        const char *with = NULL;
        if (p[0] == '%' && p[1] == 's')
            with = k++ ? b : a;
        size_t w = with ? strlen(with) : 1;
        assert_true(n + w < size);
        memcpy(buf + n, with ? with : p, w);
        n += w;
        p += with != NULL;
    }
    buf[n] = '\0';
    return n;
}

/*
 * The fast paths against the reference at their edges: every delimiter
 * moved across the 16-byte loads (values of 0 to 40 bytes), credentials
 * ending at the last byte of the buffer, then random lists of parameters
 * built from usual and unusual pieces: LWS around '=' and ',', escapes,
 * empty and unterminated quoted values, duplicates, unknown and upper-case
 * names, control bytes, separators missing or doubled.
 */
static void test_digest_fast_path_edges(void **state)
{
    char text[1024];
    (void)state;

    static const char *const shapes[] = {
        "Digest username=\"%s\", realm=\"r\", nonce=n, uri=\"sip:x\", response=\"%s\"",
        "Digest realm=\"%s\", nc=%s, qop=auth",
        "Digest algorithm=%s, cnonce=\"%s\"",
        "Digest nonce=\"%s\",response=\"%s\"",
        "Digest uri=%s , nc=\"%s\"",
        "Digest opaque=\"%s\", stale=%s",
        "Digest qop=%s, qop=\"%s\"",
        "Digest x-a=\"%s\", domain=%s",
        "Digest USERNAME=\"%s\", Realm=%s",
        "digest nc=%s, nc=%s",
        "DIGEST  userhash=\"%s\",  algorithm=%s",
        "Digest username=\"%s\\\"\", realm=%s",
        "Digest username=\"%s, realm=%s",
        "Digest username =\"%s\", realm= %s",
        "Digest username=\"%s\" , realm=%s,",
        "Digest username=\"%s\",\trealm=%s, ",
        "Digest username=\"%s\",\r\n realm=%s",
        "Digest username=\"%s\"x, realm=%s",
        "Digest username=%s\x01, realm=%s",
        "Digest username=\"%s\", realm=\"%s\"",
        "Digest username=\"\", realm=\"%s\", nonce=%s",
        "Digest a=%s, b=\"%s\"",
        "Digest usernames=\"%s\", algorithmx=%s",
        "Digest algorithm=\"%s\", algorith=%s",
        "Digest algorithn=\"%s\", algorithm=%s",
        "Digest nonce=%s realm=%s",
        "Digest nonce=%s,realm=%s",
        "Digest nonce=%s, =%s",
        "Digest nonce=%s, realm",
        "Digest nonce=\"%s\", realm=\"%s",
    };
    static const char fill[] = "0123456789abcdef0123456789abcdef0123456789";
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        for (int a = 0; a <= 40; a++) {
            for (int b = 0; b <= 20; b += (a % 3 == 0 ? 1 : 7)) {
                digest_check(
                    text, fill_shape(text, sizeof(text), shapes[i], fill + 42 - a, fill + 42 - b));
            }
        }
    }

    static const char *const names[] = {
        "username",   "realm",     "nonce",     "uri", "response", "algorithm",
        "cnonce",     "opaque",    "qop",       "nc",  "userhash", "domain",
        "stale",      "UserName",  "REALM",     "x",   "nonc",     "nonces",
        "algorithmx", "algorithn", "ALGORITHM", "a-b", "n\x01",    "",
    };
    static const char *const eqs[] = {"=", "=", "=", " =", "= ", "\t=\t", ""};
    static const char *const values[] = {
        "\"v\"",
        "\"sip:a@b.example\"",
        "\"0d6b3a9e5c7f1428b6e2a4d8c0f39e71\"",
        "MD5",
        "auth",
        "00000001",
        "\"\"",
        "",
        "\"a\\\"b\"",
        "\"a\\\\\"",
        "\"x,y=z\"",
        "\"open",
        "v\x01w",
        "v\"w",
        "\"\\",
        "tok=en",
    };
    static const char *const seps[] = {", ",  ", ",  ", ", ",",  " , ",
                                       ",  ", ",\t", " ",  ",,", ", ,"};
    uint32_t rnd = 12345;
#define NEXT(n) (rnd ^= rnd << 13, rnd ^= rnd >> 17, rnd ^= rnd << 5, rnd % (n))
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = (size_t)snprintf(text, sizeof(text), "%s",
                                      NEXT(8)   ? "Digest "
                                      : NEXT(2) ? "digest\t"
                                                : "Basic ");
        unsigned count = 1 + NEXT(9);
        for (unsigned k = 0; k < count; k++) {
            const char *nm =
                NEXT(6) ? names[NEXT(13)] : names[NEXT(sizeof(names) / sizeof(names[0]))];
            const char *eq = NEXT(8) ? "=" : eqs[NEXT(sizeof(eqs) / sizeof(eqs[0]))];
            const char *val = values[NEXT(sizeof(values) / sizeof(values[0]))];
            const char *sep = k + 1 == count ? (NEXT(6) ? "" : seps[NEXT(10)])
                              : NEXT(4)      ? ", "
                                             : seps[NEXT(10)];
            int w = snprintf(text + len, sizeof(text) - len, "%s%s%s%s", nm, eq, val, sep);
            assert_true(w >= 0 && (size_t)w < sizeof(text) - len);
            len += (size_t)w;
        }
        digest_check(text, len);
    }
#undef NEXT
}

/* sip_cseq_parse() as the byte loops of 03c47c6 give it; the method's id
 * by comparing with every method's name. */
static int ref_cseq_parse(struct sip_cseq *c, const char *p, const char *end, const char **why)
{
    p = ref_skip_ws(p, end);
    const char *s = p;
    while (p < end && cc_is(*p, CC_DIGIT))
        p++;
    int err = slice_to_u32(slice_make(s, (size_t)(p - s)), &c->number);
    if (err == ERANGE)
        return *why = "CSeq number over 2**32-1", EBADMSG;
    if (err)
        return *why = "bad CSeq number", EBADMSG;
    if (p >= end || !cc_is(*p, CC_WS))
        return *why = "bad CSeq", EBADMSG;
    p = ref_skip_ws(p + 1, end);
    s = p;
    while (p < end && cc_is(*p, CC_TOKEN))
        p++;
    c->method = slice_make(s, (size_t)(p - s));
    if (c->method.len == 0 || ref_skip_ws(p, end) != end)
        return *why = "bad CSeq method", EBADMSG;
    c->method_id = SIP_METHOD_OTHER;
    for (int m = SIP_METHOD_OTHER + 1; m <= SIP_METHOD_PUBLISH; m++)
        if (slice_eq(c->method, slice_from_str(sip_method_name((enum sip_method)m))))
            c->method_id = (enum sip_method)m;
    return 0;
}

/*
 * The CSeq fast path (1 to 9 digits, one SP, a known method up to the
 * end) and the method lookup against the reference, each value from an
 * exact-size buffer: numbers of 0 to 12 digits (over 2**32-1 too), every
 * method and near misses (one byte changed, one more or fewer, lower
 * case), LWS before, between and after, a byte after the method.
 */
static void test_cseq_fast_path_edges(void **state)
{
    static const char *const numbers[] = {
        "",           "0",          "1",           "12",           "007",
        "1234",       "99999",      "123456789",   "999999999",    "1234567890",
        "4294967295", "4294967296", "00000000001", "123456789012",
    };
    static const char *const gaps[] = {" ", " ", "", "  ", "\t", " \t", "\r\n "};
    static const char *const methods[] = {
        "INVITE", "ACK",     "BYE",       "CANCEL",    "REGISTER",   "OPTIONS",
        "INFO",   "PRACK",   "UPDATE",    "SUBSCRIBE", "NOTIFY",     "MESSAGE",
        "REFER",  "PUBLISH", "invite",    "INVITEX",   "INVIT",      "AC",
        "A",      "ACKS",    "SUBSCRIBX", "SUBSXRIBE", "SUBSCRIBEE", "REGISTEr",
        "INV@TE", "",        "OPTIONs",   "PRACk",     "iNFO",       "BYe",
    };
    static const char *const tails[] = {"", "", " ", "\t", "x", " x", "@"};
    static const char *const heads[] = {"", " "};
    char text[64];
    (void)state;
    for (size_t h = 0; h < sizeof(heads) / sizeof(heads[0]); h++)
        for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++)
            for (size_t g = 0; g < sizeof(gaps) / sizeof(gaps[0]); g++)
                for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++)
                    for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
                        int n = snprintf(text, sizeof(text), "%s%s%s%s%s", heads[h], numbers[i],
                                         gaps[g], methods[m], tails[t]);
                        assert_true(n >= 0 && (size_t)n < sizeof(text));
                        char *buf = malloc(n ? (size_t)n : 1);
                        assert_non_null(buf);
                        memcpy(buf, text, (size_t)n);
                        struct sip_cseq got, want;
                        const char *why = NULL, *wwhy = NULL;
                        int wret = ref_cseq_parse(&want, text, text + n, &wwhy);
                        int ret = sip_cseq_parse(&got, slice_make(buf, (size_t)n), &why);
                        if (ret != wret || (ret && strcmp(why, wwhy) != 0) ||
                            (ret == 0 &&
                             (got.number != want.number || got.method_id != want.method_id ||
                              got.method.p - buf != want.method.p - text ||
                              got.method.len != want.method.len))) {
                            print_error("CSeq \"%s\": %d (%s), want %d (%s)\n", text, ret,
                                        ret ? why : "", wret, wret ? wwhy : "");
                            fail();
                        }
                        if (wret == 0)
                            assert_int_equal(sip_method_lookup(slice_make(
                                                 buf + (want.method.p - text), want.method.len)),
                                             want.method_id);
                        free(buf);
                    }
}

static void test_msg_auth(void **state)
{
    static const char text[] =
        "REGISTER sip:example.com SIP/2.0\r\n" KEYS "Authorization: Basic QWxhZGRpbjpvcGVu\r\n"
        "Authorization: Digest realm=\"a.example\", username=\"alice\","
        " nonce=\"n\", uri=\"sip:example.com\", response=\"r\"\r\n"
        "Proxy-Authorization: digest username=bob, realm=p.example,"
        " nonce=m, uri=\"sip:example.com\", response=s\r\n"
        "Content-Length: 0\r\n\r\n";
    struct test_msg t;
    const char *why = NULL;
    (void)state;

    assert_int_equal(test_msg_parse(&t, text), 0);
    assert_int_equal(sip_msg_auth(&t.msg, false, &why), 0);
    assert_true(t.msg.has_auth);
    assert_slice_eq(t.msg.auth.username, "alice");
    assert_slice_eq(t.msg.auth.realm, "a.example");
    assert_true(t.msg.decoded & SIP_DEC_AUTH);
    assert_false(t.msg.decoded & SIP_DEC_PROXY_AUTH);
    assert_int_equal(sip_msg_auth(&t.msg, true, &why), 0);
    assert_true(t.msg.has_proxy_auth);
    assert_slice_eq(t.msg.proxy_auth.username, "bob");
    assert_slice_eq(t.msg.proxy_auth.realm, "p.example");
    assert_slice_eq(t.msg.proxy_auth.response, "s");
    test_msg_free(&t);

    assert_int_equal(test_msg_parse(&t, "REGISTER sip:example.com SIP/2.0\r\n" KEYS "\r\n"), 0);
    assert_int_equal(sip_msg_auth(&t.msg, false, &why), 0);
    assert_false(t.msg.has_auth);
    assert_int_equal(sip_msg_auth(&t.msg, true, &why), 0);
    assert_false(t.msg.has_proxy_auth);
    test_msg_free(&t);

    assert_int_equal(test_msg_parse(&t, "REGISTER sip:example.com SIP/2.0\r\n" KEYS
                                        "Authorization: Digest username=\"open\r\n\r\n"),
                     0);
    assert_int_equal(sip_msg_auth(&t.msg, false, &why), EBADMSG);
    test_msg_free(&t);
}

/* ---------------------------------------------------------------- name-addr */

static void test_nameaddr(void **state)
{
    struct sip_nameaddr na;
    const char *why = NULL;
    (void)state;

    assert_int_equal(sip_nameaddr_parse(&na,
                                        SLICE_LIT("  \"A \\\"B\\\"\" <sip:a@b.example>;tag=x;p "),
                                        false, &why),
                     0);
    assert_slice_eq(na.display, "\"A \\\"B\\\"\"");
    assert_true(na.bracketed);
    assert_slice_eq(na.uri_text, "sip:a@b.example");
    assert_slice_eq(na.tag, "x");
    assert_slice_eq(na.params, ";tag=x;p");

    assert_int_equal(
        sip_nameaddr_parse(&na, SLICE_LIT("Bob Smith <sip:b@example.com>"), false, &why), 0);
    assert_slice_eq(na.display, "Bob Smith");

    assert_int_equal(sip_nameaddr_parse(&na, SLICE_LIT("sip:b@example.com;tag=t"), false, &why), 0);
    assert_false(na.bracketed);
    assert_slice_eq(na.uri_text, "sip:b@example.com");
    assert_slice_eq(na.tag, "t");
    assert_slice_eq(na.uri.params, "");

    assert_int_equal(sip_nameaddr_parse(&na, SLICE_LIT("*"), true, &why), 0);
    assert_true(na.star);
    assert_int_equal(sip_nameaddr_parse(&na, SLICE_LIT("*"), false, &why), EBADMSG);

    static const char *const bad[] = {
        "",
        "\"open <sip:a@b>",
        "\"name\" sip:a@b",
        "<sip:a@b",
        "sip:a@b?x=y",
        "<sip:a@b>;tag",
        "<sip:a@b>;tag=",
        "<sip:a@b> junk",
        "Bell, Al <sip:a@b>",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        if (sip_nameaddr_parse(&na, slice_from_str(bad[i]), false, &why) != EBADMSG || !why) {
            print_error("address '%s' was accepted\n", bad[i]);
            fail();
        }
    }
}

/*
 * The name-addr decoder takes the common <URI> in one pass that also finds
 * its '>': the URI it gives must be what sip_uri_parse_generic() makes of
 * the text up to the first '>', and the whole result must not depend on
 * where the buffer ends (each case is at the end of an exact-size heap
 * buffer, decoded with every end, with lim at end and at the buffer's end).
 */
static void check_nameaddr_padded(const char *text, size_t len, bool list, size_t pad, char fill)
{
    char *buf = malloc(len + pad ? len + pad : 1);
    assert_non_null(buf);
    memcpy(buf, text, len);
    memset(buf + len, fill, pad);
    const char *lim = buf + len + pad;
    for (size_t e = 0; e <= len; e++) {
        struct sip_nameaddr n1, n2;
        const char *why1 = NULL, *why2 = NULL, *next1 = NULL, *next2 = NULL;
        char *ref = malloc(e ? e : 1);
        assert_non_null(ref);
        memcpy(ref, buf, e);
        int r1 = sip_nameaddr_parse_at(&n1, ref, ref + e, ref + e, true, list, &next1, &why1);
        int r2 = sip_nameaddr_parse_at(&n2, buf, buf + e, lim, true, list, &next2, &why2);
        if (r1 != r2)
            print_error("\"%.*s\": %d (%s) with lim at end, %d (%s) past it\n", (int)e, text, r1,
                        why1 ? why1 : "", r2, why2 ? why2 : "");
        assert_int_equal(r1, r2);
        if (r1) {
            assert_string_equal(why1, why2);
        } else {
            assert_int_equal(next1 - ref, next2 - buf);
            same_slice_at(n1.raw, ref, n2.raw, buf, "raw", text, e);
            same_slice_at(n1.display, ref, n2.display, buf, "display", text, e);
            same_slice_at(n1.uri_text, ref, n2.uri_text, buf, "uri_text", text, e);
            same_slice_at(n1.params, ref, n2.params, buf, "params", text, e);
            same_slice_at(n1.tag, ref, n2.tag, buf, "tag", text, e);
            same_slice_at(n1.expires, ref, n2.expires, buf, "expires", text, e);
            same_slice_at(n1.q, ref, n2.q, buf, "q", text, e);
            assert_int_equal(n1.bracketed, n2.bracketed);
            assert_int_equal(n1.star, n2.star);
            same_uri(&n1.uri, ref, &n2.uri, buf, text, e);
        }
        free(ref);
        if (r2 || n2.star || !n2.bracketed)
            continue;
        /* the URI ends at the first '>' and is what the reference makes of it */
        struct slice ut = n2.uri_text;
        assert_int_equal(ut.p[-1], '<');
        assert_int_equal(ut.p[ut.len], '>');
        assert_null(memchr(ut.p, '>', ut.len));
        struct sip_uri want;
        char *u = malloc(ut.len ? ut.len : 1);
        assert_non_null(u);
        memcpy(u, ut.p, ut.len);
        assert_int_equal(sip_uri_parse_generic(&want, slice_make(u, ut.len), u + ut.len, &why1), 0);
        same_uri(&n2.uri, ut.p, &want, u, text, e);
        free(u);
    }
    free(buf);
}

/* Short cases take the fast path only with bytes to read after them. */
static void check_nameaddr_fast(const char *text, size_t len, bool list)
{
    check_nameaddr_padded(text, len, list, 0, 0);
    check_nameaddr_padded(text, len, list, 24, 'a');
    check_nameaddr_padded(text, len, list, 24, '>');
    check_nameaddr_padded(text, len, list, 24, '@');
}

static void test_nameaddr_fast_path(void **state)
{
    static const char *const cases[] = {
        "\"Alice\" <sip:alice@example.com>;tag=7c2b4a91",
        "<sip:alice@192.0.2.10:5060;transport=udp>;expires=3600",
        "<sip:bob@example.com>",
        "<sip:bob@example.com>;tag=3e8d51a2",
        "  <SIP:Bob@Example.COM:5062;LR>  ;q=0.5",
        "\"A \\\"B\\\"\" <sip:a@b.example>;tag=x",
        "\"A\\\\\" <sip:a@b.example>",
        "Alice Smith <sip:alice@example.com>",
        "sip:alice@example.com;tag=1",
        "sip:alice@example.com",
        "<sip:a%41lice@example.com>",
        "<sip:alice:pw@example.com>",
        "<sip:alice@[2001:db8::1]:5060>",
        "<sip:alice@256.1.1.1>",
        "<sip:alice@1.2.3>",
        "<sip:alice@a-.b>",
        "<sip:alice@a..b>",
        "<sip:alice@h:0>",
        "<sip:alice@h:123456>",
        "<sip:alice@h;x=1?h=v>",
        "<sip:alice@h;x>y>",
        "<sip:alice@h",
        "<sip:alice@h >",
        "<sip:alice@h>junk",
        "<sip:a@h>, <sip:b@h>",
        "<tel:+15551234>",
        "<sips:a@h>",
        "<>",
        "<sip:>",
        "*",
        "* , <sip:a@h>",
        "\"A\"<sip:a@h>",
        "\"A\"  <sip:a@h>",
        "\"A\" \t<sip:a@h>",
        "\"A\" x<sip:a@h>",
        "\"A\" ",
        "\"A\" <",
        "\"A\"",
        " \"A\" <sip:a@h>",
        " <sip:a@h>",
        "<",
        "\"",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        check_nameaddr_fast(cases[i], strlen(cases[i]), false);
        check_nameaddr_fast(cases[i], strlen(cases[i]), true);
    }
    /* '>' and the other delimiters at every offset of the blocks */
    char text[128];
    for (size_t k = 0; k <= 40; k++) {
        size_t n = 0;
        memcpy(text, "<sip:", 5);
        n = 5;
        for (size_t j = 0; j < k; j++)
            text[n++] = (char)('a' + j % 26);
        memcpy(text + n, "@192.0.2.1:5060;transport=udp>;tag=x", 36);
        check_nameaddr_fast(text, n + 36, false);
        n = 0;
        memcpy(text, "<sip:u@h;x=", 11);
        n = 11;
        for (size_t j = 0; j < k; j++)
            text[n++] = (char)('a' + j % 26);
        text[n++] = '>';
        check_nameaddr_fast(text, n, true);
    }
}

/* The header parameters after the '>' of "<sip:alice@example.com>" as the
 * name-addr decoder gives them (its fast path for one ";tag=" or
 * ";expires=" included), against the parameter scan alone over a copy that
 * ends at end, for every end past the '>' and each padding after it. */
static void check_nameaddr_params_padded(const char *suffix, bool list, size_t pad, char fill)
{
    static const char head[] = "<sip:alice@example.com>";
    static const struct sip_param_want want[] = {
        SIP_WANT("tag"),
        SIP_WANT("expires"),
        SIP_WANT("q"),
    };
    size_t hl = sizeof(head) - 1, len = hl + strlen(suffix);
    char *buf = malloc(len + pad ? len + pad : 1);
    assert_non_null(buf);
    memcpy(buf, head, hl);
    memcpy(buf + hl, suffix, len - hl);
    memset(buf + len, fill, pad);
    for (size_t e = hl; e <= len; e++) {
        struct sip_nameaddr na;
        const char *next = NULL, *why = NULL;
        int r = sip_nameaddr_parse_at(&na, buf, buf + e, buf + len + pad, false, list, &next, &why);
        /* the reference: the scan of a copy of the parameters */
        size_t pl = e - hl;
        char *ref = malloc(pl ? pl : 1);
        assert_non_null(ref);
        memcpy(ref, buf + hl, pl);
        struct slice found[3] = {SLICE_NULL, SLICE_NULL, SLICE_NULL}, params = slice_make(ref, 0);
        const char *stop = ref, *rwhy = NULL;
        int rr = pl ? sip_scan_params_generic(ref, ref + pl, ref + pl, list, want, 3, found,
                                              &params, &stop, &rwhy)
                    : 0;
        if (rr == 0 && slice_present(found[0]) && found[0].len == 0) {
            rr = EBADMSG;
            rwhy = "empty tag";
        }
        if (r != rr)
            print_error("\"%.*s\" (pad %zu): %d (%s), the scan %d (%s)\n", (int)e, buf, pad, r,
                        r ? why : "", rr, rr ? rwhy : "");
        assert_int_equal(r, rr);
        if (r) {
            assert_string_equal(why, rwhy);
        } else {
            assert_int_equal(next - (buf + hl), stop - ref);
            same_slice_at(na.params, buf + hl, params, ref, "params", buf, e);
            same_slice_at(na.tag, buf + hl, found[0], ref, "tag", buf, e);
            same_slice_at(na.expires, buf + hl, found[1], ref, "expires", buf, e);
            same_slice_at(na.q, buf + hl, found[2], ref, "q", buf, e);
            const char *last = params.len ? params.p + params.len : ref;
            assert_int_equal(na.raw.p - buf, 0);
            assert_int_equal(na.raw.len, hl + (size_t)(last - ref));
        }
        free(ref);
    }
    free(buf);
}

static void check_nameaddr_params(const char *suffix, bool list)
{
    check_nameaddr_params_padded(suffix, list, 0, 0);
    check_nameaddr_params_padded(suffix, list, 40, 'a');
    check_nameaddr_params_padded(suffix, list, 40, ';');
    check_nameaddr_params_padded(suffix, list, 40, ',');
}

static void test_nameaddr_param_fast_path(void **state)
{
    static const char *const cases[] = {
        ";tag=9f21c7d3",
        ";TAG=9f21c7d3",
        ";Tag=x",
        ";tag=",
        ";tag",
        ";tag;x",
        ";tag=;x",
        ";tag= x",
        ";tag =x",
        " ;tag=x",
        "\t;tag=x",
        ";tag=x ",
        ";tag=x;expires=1",
        ";tag=x, <sip:b@h>",
        ";tag=x,<sip:b@h>",
        ";tag=x ,<sip:b@h>",
        ";tag=a+b.c-d_e",
        ";tag=a!b",
        ";tag=a%41",
        ";tag=a~b",
        ";tag=\"q\"",
        ";tag=[::1]",
        ";tag=a:b",
        ";tag=\x80",
        ";tagx=1",
        ";ta=1",
        ";tag\x1d" "1",
        ";expires=3600",
        ";EXPIRES=3600",
        ";Expires=0",
        ";expires=",
        ";expires",
        ";expire=1",
        ";expiresx=1",
        ";expires\x1d" "1",
        ";expires=3600;q=0.5",
        ";q=0.5",
        ";x=1;tag=y",
        ";;tag=x",
        "x;tag=y",
        ",",
        "",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        check_nameaddr_params(cases[i], false);
        check_nameaddr_params(cases[i], true);
    }
    /* values of every length: their end at every offset of the blocks
     * after the '>', the end of the buffer included */
    char text[128];
    for (size_t k = 0; k <= 70; k++) {
        static const char *const names[] = {";tag=", ";expires=", ";TAG=", ";tag=a!"};
        for (size_t ni = 0; ni < sizeof(names) / sizeof(names[0]); ni++) {
            size_t n = strlen(names[ni]);
            memcpy(text, names[ni], n);
            for (size_t j = 0; j < k; j++)
                text[n++] = (char)('a' + j % 26);
            text[n] = '\0';
            check_nameaddr_params(text, k % 2 == 0);
            text[n++] = ',';
            text[n] = '\0';
            check_nameaddr_params(text, true);
        }
    }
}

/* ---------------------------------------------------------------- sanity */

static void test_sanity(void **state)
{
    struct test_msg t;
    struct sip_verdict v;
    (void)state;

    /* a good request is accepted; Max-Forwards is left to the route pipeline */
    assert_int_equal(test_msg_parse(&t, INVITE_LINE KEYS "Max-Forwards: 0\r\n\r\n"), 0);
    sip_sanity(&t.msg, t.ret, &t.err, NULL, &v);
    assert_int_equal(v.action, SIP_ACCEPT);
    test_msg_free(&t);

    /* a broken ACK is never answered */
    assert_int_equal(test_msg_parse(&t, "ACK sip:bob@example.com SIP/2.0\r\n" KEYS "\r\n"), 0);
    sip_sanity(&t.msg, t.ret, &t.err, NULL, &v);
    assert_int_equal(v.action, SIP_DROP); /* CSeq INVITE on an ACK */
    test_msg_free(&t);

    /* Proxy-Require: supported tags pass, the others come back in 420 */
    static const char *const supported[] = {"path", NULL};
    struct sip_sanity_cfg cfg = {.proxy_require_supported = supported};
    assert_int_equal(test_msg_parse(&t, INVITE_LINE KEYS "Proxy-Require: path, foo\r\n"
                                                         "Proxy-Require: bar\r\n\r\n"),
                     0);
    sip_sanity(&t.msg, t.ret, &t.err, &cfg, &v);
    assert_int_equal(v.action, SIP_REPLY);
    assert_int_equal(v.code, 420);
    assert_string_equal(v.unsupported, "foo, bar");
    assert_string_equal(v.reason, "Bad Extension");
    test_msg_free(&t);
    assert_int_equal(test_msg_parse(&t, INVITE_LINE KEYS "Proxy-Require: PATH\r\n\r\n"), 0);
    sip_sanity(&t.msg, t.ret, &t.err, &cfg, &v);
    assert_int_equal(v.action, SIP_ACCEPT);
    test_msg_free(&t);

    assert_string_equal(sip_status_reason(483), "Too Many Hops");
    assert_string_equal(sip_status_reason(299), "");
}


/* ---------------------------------------------------------------- fast paths */

/* A request with the given Call-ID (n bytes) and a pad header of pad bytes;
 * returns its length in buf. */
static size_t build_request(char *buf, size_t cap, const char *call_id, size_t n, size_t pad)
{
    size_t len = 0;
    static const char head[] = INVITE_LINE "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n"
                                           "From: <sip:alice@example.com>;tag=a1\r\n"
                                           "To: <sip:bob@example.com>\r\n"
                                           "CSeq: 1 INVITE\r\n"
                                           "X-Pad: ";
    memcpy(buf, head, sizeof(head) - 1);
    len = sizeof(head) - 1;
    for (size_t i = 0; i < pad; i++)
        buf[len++] = (char)('a' + i % 26);
    len += (size_t)snprintf(buf + len, cap - len, "\r\nCall-ID: ");
    memcpy(buf + len, call_id, n);
    len += n;
    len += (size_t)snprintf(buf + len, cap - len, "\r\nContent-Length: 0\r\n\r\n");
    return len;
}

/* Every byte value at each place of Call-IDs around the 16-byte blocks the
 * check reads: a byte that is no word character is reported at its offset;
 * what follows the Call-ID (CR LF) is never taken for part of it. */
static void test_call_id_bytes(void **state)
{
    static const size_t lengths[] = {1, 2, 15, 16, 17, 31, 32, 33, 63, 64, 65};
    char id[80], buf[512];
    struct test_msg t;
    (void)state;
    for (size_t li = 0; li < sizeof(lengths) / sizeof(lengths[0]); li++) {
        size_t n = lengths[li];
        for (size_t i = 0; i < n; i++)
            id[i] = (char)('a' + i % 26);
        /* all good, at each length */
        size_t len = build_request(buf, sizeof(buf), id, n, 0);
        assert_int_equal(test_msg_parse_n(&t, buf, len, NULL, 0), 0);
        assert_int_equal(t.msg.call_id.len, n);
        test_msg_free(&t);
        for (unsigned b = 0; b < 256; b++) {
            if (b == '\n')
                continue; /* a line end, not part of the value */
            size_t pos[3] = {0, n / 2, n - 1};
            for (size_t k = 0; k < 3; k++) {
                /* SP, HTAB and CR at an end are LWS around the value, not in it */
                if ((pos[k] == 0 || pos[k] == n - 1) && (b == ' ' || b == '\t' || b == '\r'))
                    continue;
                for (size_t i = 0; i < n; i++)
                    id[i] = (char)('a' + i % 26);
                id[pos[k]] = (char)b;
                len = build_request(buf, sizeof(buf), id, n, 0);
                int ret = test_msg_parse_n(&t, buf, len, NULL, 0);
                bool good = cc_is((char)b, CC_WORD) || b == '@';
                if (good) {
                    assert_int_equal(ret, 0);
                } else {
                    if (ret != EBADMSG || strcmp(t.err.reason, "bad Call-ID") != 0) {
                        print_error("byte 0x%02x at %zu of %zu: ret %d reason %s\n", b, pos[k], n,
                                    ret, t.err.reason ? t.err.reason : "(none)");
                        fail();
                    }
                    size_t at = (size_t)(strstr(buf, "Call-ID: ") - buf) + 9 + pos[k];
                    assert_int_equal(t.err.offset, at);
                }
                test_msg_free(&t);
            }
        }
    }
}

/* The Call-ID as the last header line, so that the message ends 4 bytes
 * after it, or with a body of 0 to 40 bytes after it: the 16-byte
 * checks, and the bytes after them, near the end of the buffer; a bad byte
 * at every place of Call-IDs of 1 to 70 bytes is reported at its offset. */
static void test_call_id_at_message_end(void **state)
{
    static const char head[] = INVITE_LINE "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n"
                                           "From: <sip:alice@example.com>;tag=a1\r\n"
                                           "To: <sip:bob@example.com>\r\n"
                                           "CSeq: 1 INVITE\r\n";
    static const char bad[] = {'#', ',', ';', '\x80', '\x01', '|'};
    char buf[512];
    struct test_msg t;
    (void)state;
    for (size_t body = 0; body <= 40; body += 8) {
        for (size_t n = 1; n <= 70; n++) {
            for (size_t pos = 0; pos <= n; pos++) { /* pos == n: all good */
                int len = snprintf(buf, sizeof(buf), "%sContent-Length: %zu\r\nCall-ID: ", head,
                                   body);
                size_t at = (size_t)len;
                for (size_t i = 0; i < n; i++)
                    buf[len++] = (char)('a' + i % 26);
                if (pos < n)
                    buf[at + pos] = bad[(n + pos) % sizeof(bad)];
                memcpy(buf + len, "\r\n\r\n", 4);
                len += 4;
                memset(buf + len, 'b', body);
                len += (int)body;
                int ret = test_msg_parse_n(&t, buf, (size_t)len, NULL, 0);
                if (pos == n) {
                    assert_int_equal(ret, 0);
                    assert_int_equal(t.msg.call_id.len, n);
                } else {
                    if (ret != EBADMSG || strcmp(t.err.reason, "bad Call-ID") != 0 ||
                        t.err.offset != at + pos) {
                        print_error("Call-ID of %zu, bad at %zu, body %zu: ret %d reason %s\n", n,
                                    pos, body, ret, t.err.reason ? t.err.reason : "(none)");
                        fail();
                    }
                }
                test_msg_free(&t);
            }
        }
    }
}

/* Header lines whose line ends fall on each side of the 64-byte blocks of
 * the LF bitmap: every value is cut where it ends. */
static void test_line_ends_at_block_edges(void **state)
{
    char buf[1024];
    struct test_msg t;
    (void)state;
    for (size_t pad = 0; pad <= 200; pad++) {
        size_t len = build_request(buf, sizeof(buf), "c1@example.com", 14, pad);
        assert_int_equal(test_msg_parse_n(&t, buf, len, NULL, 0), 0);
        const struct sip_hdr *h = sip_msg_hdr_by_name(&t.msg, SLICE_LIT("X-Pad"));
        assert_non_null(h);
        assert_int_equal(h->value.len, pad);
        assert_slice_eq(t.msg.call_id, "c1@example.com");
        assert_int_equal(t.msg.hdr_count, 7);
        assert_int_equal(t.msg.body.len, 0);
        test_msg_free(&t);
    }
}

/* Header names as the last line of the message, at every distance from
 * its end (the word compares read up to 24 bytes from the name, or from a
 * zero-padded copy near the end): every known name in its own, lower and
 * upper case maps to its type, and a name with any one byte changed to
 * '!' (a token byte in no known name) to SIP_HDR_OTHER. */
static void test_header_names_at_message_end(void **state)
{
    char buf[512], name[64];
    struct test_msg t;
    (void)state;
    for (unsigned ty = 1; ty < SIP_HDR_COUNT; ty++) {
        const char *canon = sip_hdr_name((enum sip_hdr_type)ty);
        size_t n = strlen(canon);
        assert_true(n > 0 && n < sizeof(name));
        for (int form = 0; form < 3; form++) {
            for (size_t i = 0; i < n; i++) {
                char c = canon[i];
                name[i] = form == 1 && c >= 'A' && c <= 'Z'   ? (char)(c + 32)
                          : form == 2 && c >= 'a' && c <= 'z' ? (char)(c - 32)
                                                              : c;
            }
            assert_int_equal(sip_hdr_lookup(name, n), ty);
            for (size_t vlen = 0; vlen <= 26; vlen++) {
                for (size_t bad = 0; bad <= n; bad++) { /* bad == n: unchanged */
                    char nm[64];
                    memcpy(nm, name, n);
                    if (bad < n)
                        nm[bad] = '!';
                    int len = snprintf(buf, sizeof(buf), INVITE_LINE KEYS "%.*s:%.*s\r\n\r\n",
                                       (int)n, nm, (int)vlen, "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvv");
                    assert_true(len > 0 && (size_t)len < sizeof(buf));
                    test_msg_parse_n(&t, buf, (size_t)len, NULL, 0);
                    assert_true(t.msg.headers_ok);
                    assert_int_equal(t.msg.hdr_count, 6);
                    const struct sip_hdr *h = &t.msg.hdrs[5];
                    assert_int_equal(h->name.len, n);
                    assert_memory_equal(h->name.p, nm, n);
                    assert_int_equal(h->value.len, vlen);
                    assert_int_equal(h->type, bad < n ? SIP_HDR_OTHER : ty);
                    assert_int_equal(sip_hdr_lookup(nm, n), bad < n ? SIP_HDR_OTHER : ty);
                    test_msg_free(&t);
                }
            }
        }
    }
    /* the compact forms, likewise near the end */
    static const char compact[] = "aiumelctfyrbjdxsokv";
    for (size_t c = 0; c < sizeof(compact) - 1; c++) {
        for (size_t vlen = 0; vlen <= 26; vlen++) {
            int len = snprintf(buf, sizeof(buf), INVITE_LINE KEYS "%c:%.*s\r\n\r\n",
                               compact[c] - 32, (int)vlen, "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvv");
            test_msg_parse_n(&t, buf, (size_t)len, NULL, 0);
            assert_int_equal(t.msg.hdr_count, 6);
            assert_int_equal(t.msg.hdrs[5].type, sip_hdr_lookup(&compact[c], 1));
            assert_int_not_equal(t.msg.hdrs[5].type, SIP_HDR_OTHER);
            test_msg_free(&t);
        }
    }
    /* names longer than any known one, and not tokens */
    assert_int_equal(sip_hdr_lookup("P-Preferred-Identity-X", 22), SIP_HDR_OTHER);
    assert_int_equal(sip_hdr_lookup("P-Preferred-Identity-XYZWV", 26), SIP_HDR_OTHER);
    assert_int_equal(sip_hdr_lookup("Via\x80", 4), SIP_HDR_OTHER);
}

/* A slice of the Via under test as an offset into its buffer (-1: absent),
 * so that two decodes from different buffers compare. */
static long via_off(struct slice s, const char *base)
{
    return s.p ? (long)(s.p - base) : -1;
}

/* sip_via_parse_at() (the SSSE3 build where the CPU has it) against the
 * build without SSSE3, on every end from 0 to len of text: the same
 * verdict, reason, fields and stop. The reference reads an exact copy of
 * the value (lim at its end); the build under test reads up to the end of
 * the whole text, an exact-size heap buffer, as it does in a message. */
static void check_via_in(const char *text, size_t len, bool list, const char *pad, size_t padlen)
{
    char *buf = malloc(len + padlen ? len + padlen : 1);
    assert_non_null(buf);
    memcpy(buf, text, len);
    if (padlen)
        memcpy(buf + len, pad, padlen);
    for (size_t e = 0; e <= len; e++) {
        char *ref = malloc(e ? e : 1);
        assert_non_null(ref);
        memcpy(ref, buf, e);
        struct sip_via v1, v2;
        const char *n1 = NULL, *n2 = NULL, *r1 = NULL, *r2 = NULL;
        memset(&v1, 0x5a, sizeof(v1));
        memset(&v2, 0xa5, sizeof(v2));
        int e1 = sip_via_parse_at_generic(&v1, ref, ref + e, ref + e, list, &n1, &r1);
        int e2 = sip_via_parse_at(&v2, buf, buf + e, buf + len + padlen, list, &n2, &r2);
        if (e1 != e2)
            print_error("via \"%.*s\" end %zu list %d: %d (%s) / %d (%s)\n", (int)len, text, e,
                        list, e1, e1 ? r1 : "", e2, e2 ? r2 : "");
        assert_int_equal(e1, e2);
        if (e1) {
            assert_string_equal(r1, r2);
        } else {
            assert_int_equal(n1 - ref, n2 - buf);
            assert_int_equal(v1.port, v2.port);
            assert_int_equal(v1.host_type, v2.host_type);
            assert_int_equal(v1.rport, v2.rport);
        }
        /* a failure leaves every field absent: offsets compare as -1 */
        const struct slice *s1[] = {&v1.raw,      &v1.protocol, &v1.version,  &v1.transport,
                                    &v1.host,     &v1.port_str, &v1.params,   &v1.branch,
                                    &v1.received, &v1.rport_value, &v1.maddr, &v1.ttl};
        const struct slice *s2[] = {&v2.raw,      &v2.protocol, &v2.version,  &v2.transport,
                                    &v2.host,     &v2.port_str, &v2.params,   &v2.branch,
                                    &v2.received, &v2.rport_value, &v2.maddr, &v2.ttl};
        for (size_t i = 0; i < sizeof(s1) / sizeof(s1[0]); i++) {
            if (via_off(*s1[i], ref) != via_off(*s2[i], buf) || s1[i]->len != s2[i]->len)
                print_error("via \"%.*s\" end %zu list %d: field %zu differs\n", (int)len, text,
                            e, list, i);
            assert_int_equal(via_off(*s1[i], ref), via_off(*s2[i], buf));
            assert_int_equal(s1[i]->len, s2[i]->len);
        }
        free(ref);
    }
    free(buf);
}

/* check_via_in() of the text alone, and of the text followed by the rest
 * of a message (16 bytes and more readable past every end, so that the
 * SSSE3 build takes its whole-Via fast path) or by bytes a read past end
 * would take into a token, a value or a port. */
static void check_via(const char *text, size_t len, bool list)
{
    static const char msg_rest[] = "\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    static const char tempting[] = "5060;branch=z9hG4bK.1.2.3abc=def,;received=1.2.3.4";
    check_via_in(text, len, list, NULL, 0);
    check_via_in(text, len, list, msg_rest, sizeof(msg_rest) - 1);
    check_via_in(text, len, list, tempting, sizeof(tempting) - 1);
}

/* The SSSE3 build of the Via decoder, whose parameter scan classifies 16
 * bytes at a name and the next 16 for a long value, at its edges: names
 * and values ending before, at and after the 16- and 32-byte marks from
 * the name, names one byte off the wanted ones and of 8, 9 and 16 bytes,
 * upper case, empty values, "=" at the end, a list's ',' right after a
 * value, quotes, LWS and bracketed addresses (which take the byte loops). */
static void test_via_ssse3_matches_generic(void **state)
{
    static const char *const cases[] = {
        "SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-p2-4d1c6e0a9b37;received=198.51.100.7",
        "SIP/2.0/UDP 203.0.113.4:5060;branch=z9hG4bK-p1-a07e2c95d1f4;rport=5060",
        "SIP/2.0/UDP 192.0.2.10:5060;received=192.0.2.10;rport=5060;"
        "branch=z9hG4bK-d8754z-77ab31c0e4f2",
        "SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bK-5f3e8a1b9c2d",
        "SIP/2.0/UDP h;BRANCH=x;Received=1.2.3.4;RPORT=1;MADDR=m;TTL=1",
        "SIP/2.0/UDP h;branc=1;branchx=2;receive=3;receivedx=4;rpor=5;rportx;madd=6;maddrx=7;tt=8"
        ";ttlx=9",
        "SIP/2.0/UDP h;abcdefgh=1;abcdefghi=2;abcdefghijklmnop=3;abcdefghijklmnopq;received",
        "SIP/2.0/UDP h;branch=;rport",
        "SIP/2.0/UDP h;branch=",
        "SIP/2.0/UDP h;rport=",
        "SIP/2.0/UDP h;branch=x,SIP/2.0/UDP h2;branch=y",
        "SIP/2.0/UDP h;rport,SIP/2.0/UDP h2",
        "SIP/2.0/UDP h;branch=x ,SIP/2.0/UDP h2",
        "SIP/2.0/UDP h;branch=\"x\";rport",
        "SIP/2.0/UDP h;branch = x; rport",
        "SIP/2.0/UDP h;received=[2001:db8::1];maddr=a:b;branch=x",
        "SIP/2.0/UDP h;;branch=x",
        "SIP/2.0/UDP h;=x",
        "SIP/2.0/UDP h;branch==x",
        "SIP/2.0/UDP h;branch=x=y",
        "SIP/2.0/UDP h;branch=x;",
        "SIP/2.0/UDP h;br@nch=x",
        "SIP/2.0/UDP h;branch=x\x80y",
        "SIP/2.0/UDP h;branch=z9hG4bK\r\n",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        check_via(cases[i], strlen(cases[i]), true);
        check_via(cases[i], strlen(cases[i]), false);
    }
    /* a name of 1 to 17 bytes, then a value of 0 to 40 bytes, then each
     * of a few stops: every end of the name and the value around 16, 32
     * and 48 bytes from the name */
    static const char stops[] = {';', ',', ' ', '"', ':', '\r', 0};
    char text[128];
    for (size_t nl = 1; nl <= 17; nl++) {
        for (size_t vl = 0; vl <= 40; vl++) {
            for (size_t si = 0; si < sizeof(stops); si++) {
                size_t len = 0;
                memcpy(text, "SIP/2.0/UDP h;", 14);
                len = 14;
                for (size_t k = 0; k < nl; k++)
                    text[len++] = "branchreceivedxyz"[k];
                if (vl > 0 || si == 0) {
                    text[len++] = '=';
                    for (size_t k = 0; k < vl; k++)
                        text[len++] = (char)('a' + k % 26);
                }
                text[len++] = stops[si];
                memcpy(text + len, "rport", 5);
                len += 5;
                check_via(text, len, true);
            }
        }
    }
}

/* The whole-Via fast path of the SSSE3 build at its edges: transports,
 * IPv4 sent-by hosts of every shape (parts of 0 to 4 digits, 3 to 5
 * parts, 255/256, leading zeros, ending 15, 16 and 17 bytes from the
 * host), host names, ports of 0 to 5 digits and what follows them. */
static void test_via_fast_path(void **state)
{
    static const char *const cases[] = {
        "SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK1",
        "SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bK1",
        "SIP/2.0/SCTP 192.0.2.1:5060;branch=z9hG4bK1",
        "SIP/2.0/udp 192.0.2.1:5060;branch=z9hG4bK1",
        "SIP/2.0/UDP  192.0.2.1:5060;branch=z9hG4bK1",
        "SIP/2.0/UDP\t192.0.2.1:5060;branch=z9hG4bK1",
        " SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1",
        "SIP/2.0 /UDP 192.0.2.1:5060;branch=z9hG4bK1",
        "SIP/2.1/UDP 192.0.2.1:5060;branch=z9hG4bK1",
        "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK1",
        "SIP/2.0/UDP -pc33.atlanta.com;branch=z9hG4bK1",
        "SIP/2.0/UDP pc33..atlanta.com;branch=z9hG4bK1",
        "SIP/2.0/UDP pc33.atlanta.com-;branch=z9hG4bK1",
        "SIP/2.0/UDP a.very.long.host.name.example.com:5060;branch=z9hG4bK1",
        "SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK1",
        "SIP/2.0/UDP 192.0.2.1:5060;branch;branch=x",
        "SIP/2.0/UDP 192.0.2.1:5060;branch=x;branch",
        "SIP/2.0/UDP 192.0.2.1:5060;rport=1;rport",
        "SIP/2.0/UDP 192.0.2.1:5060;rport;rport=1",
        "SIP/2.0/UDP 192.0.2.1:5060;received=[2001:db8::1];received=[x",
        "SIP/2.0/UDP 192.0.2.1:5060;received=[];maddr=[1]",
        "SIP/2.0/UDP 192.0.2.1:5060;ttl=1;maddr=224.2.0.1;x:y=1",
        "SIP/2.0/UDP 192.0.2.1:5060;branch=x,SIP/2.0/TCP 192.0.2.2;branch=y",
        "SIP/2.0/UDP 192.0.2.1:5060;branch=x;",
        "SIP/2.0/UDP 192.0.2.1:5060;",
        "SIP/2.0/UDP 192.0.2.1:5060",
        "SIP/2.0/UDP 192.0.2.1",
        "SIP/2.0/UDP 192.0.2.1,SIP/2.0/UDP h",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        check_via(cases[i], strlen(cases[i]), true);
        check_via(cases[i], strlen(cases[i]), false);
    }
    static const char *const parts[] = {"",    "0",   "00",  "000",  "1",   "25",  "255",
                                        "256", "099", "300", "1234", "999", "199", "249"};
    static const char *const after[] = {
        ":5060;branch=z9hG4bK-1",
        ";branch=z9hG4bK-1;rport",
        ":5060",
        "",
        " ;branch=x",
        ",SIP/2.0/UDP h",
        "a;branch=x",
        "-x;branch=x",
        "_:5060;branch=x",
        ".;branch=x",
        ":0;branch=x",
        ":0000;branch=x",
        ":65535;branch=x",
        ":65536;branch=x",
        ":5060 ;branch=x",
        ":506;branch=x",
        ":50600;branch=x",
        ": 5060;branch=x",
        ":5060,SIP/2.0/UDP h",
        ":5O60;branch=x",
        ":5060x;branch=x",
    };
    char text[160];
    uint32_t x = 2463534242u; /* xorshift32: the same cases every run */
    for (unsigned t = 0; t < 1200; t++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        unsigned nparts = 3 + x % 3;
        size_t len = 12;
        memcpy(text, "SIP/2.0/UDP ", 12);
        for (unsigned k = 0; k < nparts; k++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            const char *part = parts[x % (sizeof(parts) / sizeof(parts[0]))];
            if (k)
                text[len++] = '.';
            memcpy(text + len, part, strlen(part));
            len += strlen(part);
        }
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        const char *tail = after[x % (sizeof(after) / sizeof(after[0]))];
        memcpy(text + len, tail, strlen(tail));
        len += strlen(tail);
        check_via(text, len, true);
    }
    /* hosts of 7 to 17 bytes of well-formed parts: the run ends 15, 16 and
     * 17 bytes from the host */
    static const char *const hosts[] = {
        "1.2.3.4",         "11.2.3.4",         "111.22.3.4",       "111.222.33.4",
        "111.222.133.44",  "111.222.133.144",  "111.222.133.1444", "1.222.133.144.5",
        "255.255.255.255", "255.255.255.2555", "0.0.0.0.0",        "10.0.0.1.",
    };
    for (size_t h = 0; h < sizeof(hosts) / sizeof(hosts[0]); h++) {
        for (size_t a = 0; a < sizeof(after) / sizeof(after[0]); a++) {
            int len = snprintf(text, sizeof(text), "SIP/2.0/UDP %s%s", hosts[h], after[a]);
            check_via(text, (size_t)len, true);
        }
    }
}

#define START_LINE "OPTIONS sip:x SIP/2.0\r\n"

/* The header split as written out byte by byte (the rules of split_headers()
 * and split_line() without their fast path): the reference that the split
 * of a message must match at every block edge. Returns the number of header
 * lines taken; *reason and *at are the fault (NULL when the split ended at
 * the empty line or the end of the buffer). */
struct ref_hdr {
    size_t line, line_len, name, name_len, value, value_len;
};

static size_t ref_split(const char *b, size_t len, size_t p, const struct sip_limits *lim,
                        struct ref_hdr *out, size_t max, const char **reason, size_t *at)
{
    size_t n = 0;
    *reason = NULL;
    *at = 0;
    while (p < len) {
        size_t lf = p;
        while (lf < len && b[lf] != '\n')
            lf++;
        size_t ce = lf > p && b[lf - 1] == '\r' ? lf - 1 : lf;
        if (ce == p)
            break; /* the empty line */
        if (b[p] == ' ' || b[p] == '\t') {
            *reason = "folded line without a header";
            *at = p;
            return n;
        }
        while (lf + 1 < len && (b[lf + 1] == ' ' || b[lf + 1] == '\t')) { /* folds */
            lf++;
            while (lf < len && b[lf] != '\n')
                lf++;
        }
        ce = lf > p && b[lf - 1] == '\r' ? lf - 1 : lf;
        size_t next = lf < len ? lf + 1 : len;
        if (next - p > lim->max_header_len) {
            *reason = "header line too long";
            *at = p;
            return n;
        }
        size_t colon = p;
        while (colon < ce && b[colon] != ':')
            colon++;
        size_t ne = colon;
        while (ne > p && cc_is(b[ne - 1], CC_WS))
            ne--;
        bool token = colon < ce && ne > p;
        for (size_t i = p; i < ne; i++)
            token = token && cc_is(b[i], CC_TOKEN);
        if (!token) {
            *reason = "header line without a colon";
            *at = p;
            return n;
        }
        if (n >= lim->max_headers) {
            *reason = "too many headers";
            *at = p;
            return n;
        }
        size_t vs = colon + 1, ve = ce;
        while (vs < ce && cc_is(b[vs], CC_WS))
            vs++;
        while (ve > vs && cc_is(b[ve - 1], CC_WS))
            ve--;
        assert_true(n < max);
        out[n++] = (struct ref_hdr){p, next - p, p, ne - p, vs, ve - vs};
        p = next;
    }
    return n;
}

/* Parses the message in an exact-size buffer and checks its header table
 * (every slice, the types, the links of each type) and any split fault
 * against ref_split(). */
static void check_split(const char *buf, size_t len, size_t hdr_start, const struct sip_limits *lim)
{
    struct ref_hdr ref[64];
    const char *reason;
    size_t at;
    struct test_msg t;
    size_t n = ref_split(buf, len, hdr_start, lim ? lim : &sip_limits_default, ref, 64, &reason,
                         &at);

    test_msg_parse_n(&t, buf, len, lim, 0);
    assert_true(t.msg.headers_ok);
    if (reason) {
        bool limit = !strcmp(reason, "header line too long") || !strcmp(reason, "too many headers");
        assert_int_equal(t.ret, limit ? EMSGSIZE : EBADMSG);
        assert_string_equal(t.err.reason, reason);
        assert_int_equal(t.err.offset, at);
    }
    assert_int_equal(t.msg.hdr_count, n);
    uint16_t first[SIP_HDR_COUNT] = {0}, last[SIP_HDR_COUNT] = {0}, count[SIP_HDR_COUNT] = {0};
    for (size_t i = 0; i < n; i++) {
        const struct sip_hdr *h = &t.msg.hdrs[i];
        assert_ptr_equal(h->line.p, t.buf + ref[i].line);
        assert_int_equal(h->line.len, ref[i].line_len);
        assert_ptr_equal(h->name.p, t.buf + ref[i].name);
        assert_int_equal(h->name.len, ref[i].name_len);
        assert_ptr_equal(h->value.p, t.buf + ref[i].value);
        assert_int_equal(h->value.len, ref[i].value_len);
        unsigned ty = sip_hdr_lookup(buf + ref[i].name, ref[i].name_len);
        assert_int_equal(h->type, ty);
        if (first[ty])
            assert_int_equal(t.msg.hdrs[last[ty] - 1].next, i + 1);
        else
            first[ty] = (uint16_t)(i + 1);
        last[ty] = (uint16_t)(i + 1);
        count[ty]++;
    }
    for (unsigned ty = 0; ty < SIP_HDR_COUNT; ty++) {
        assert_int_equal(t.msg.first[ty], first[ty]);
        if (first[ty]) {
            assert_int_equal(t.msg.count[ty], count[ty]);
            assert_int_equal(t.msg.hdrs[last[ty] - 1].next, 0);
        }
    }
    test_msg_free(&t);
}

/* The split's fast path at its edges, against ref_split(): a header line
 * (known names of 1 to 19 bytes in any case, unknown ones of 1 to 17, and
 * names that are no tokens) with every shape the fast path hands on (LWS
 * before the colon or around the value, no colon, an empty value, a bare
 * LF, a fold after it) starting at every byte of a 64-byte block of the
 * LF scan (so its colon and its line end fall on each side of a block
 * edge and of the 16 bytes read at its start), followed by another line,
 * by the empty line and a short body (a colon in it), by the empty line at
 * the end of the buffer, or by the end of the buffer. */
static void test_split_fast_path_edges(void **state)
{
    static const char *const names[] = {
        "v", "T", "To", "Via", "VIA", "From", "CSeq", "Allow", "Accept", "Contact", "call-id",
        "Expires", "Supported", "User-Agent", "Max-Forwards", "Content-Type", "Authorization",
        "Proxy-Require", "Content-Length", "cOnTeNt-LeNgTh", "Accept-Encoding",
        "WWW-Authenticate", "Content-Language", "Subscription-State", "P-Asserted-Identity",
        /* unknown tokens, some one byte off a known name */
        "X", "Xy", "X-A", "Toz", "Vias", "Max_Forwards", "Content-Lengt", "Accept-Languag",
        "Content-Lengthh", "Content-Length2", "Accept-Encodinh", "X-Sixteen-Bytes1",
        "X-Seventeen-Bytes",
        /* no tokens */
        "", "X@Y", "Vi a", "\x01Via", "Content\x80Length", "Call-ID\"",
    };
    static const char *const seps[] = {
        ": v", ":v", ":  v", ": \tv", " : v", "\t: v", ":", ": ", ": v ", ": v\t", ": a b c",
        ":: v", " v", ": \x01v",
    };
    static const char *const tails[] = {
        "Max-Forwards: 70\r\n\r\n", "\r\n", "\r\nb", "\r\na: b\r\n", " w\r\n\r\n", "\t w\r\n", "",
    };
    char buf[512];
    (void)state;
    for (size_t pad = 0; pad <= 64; pad++) {
        for (size_t ni = 0; ni < sizeof(names) / sizeof(names[0]); ni++) {
            for (size_t si = 0; si < sizeof(seps) / sizeof(seps[0]); si++) {
                for (int bare = 0; bare < 2; bare++) {
                    for (size_t ti = 0; ti < sizeof(tails) / sizeof(tails[0]); ti++) {
                        /* the start line, then pad bytes of a header before the line */
                        size_t len = (size_t)snprintf(buf, sizeof(buf), START_LINE);
                        size_t hdr_start = len;
                        if (pad) {
                            buf[len++] = 'P';
                            buf[len++] = ':';
                            for (size_t i = 0; i + 1 < pad; i++)
                                buf[len++] = (char)('a' + i % 26);
                            buf[len++] = '\r';
                            buf[len++] = '\n';
                        }
                        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s%s%s",
                                                names[ni], seps[si], bare ? "\n" : "\r\n",
                                                tails[ti]);
                        check_split(buf, len, hdr_start, NULL);
                    }
                }
            }
        }
    }
    /* a short line with no colon of its own, then a body whose colon is the
     * last byte of the buffer, at every place of the 16 bytes read at the
     * line's start: the colon is never taken for the line's */
    static const char *const short_lines[] = {"V", "Via v", "To x", "Content-Len"};
    for (size_t li = 0; li < sizeof(short_lines) / sizeof(short_lines[0]); li++) {
        for (size_t k = 0; k <= 16; k++) {
            size_t len = (size_t)snprintf(buf, sizeof(buf), START_LINE);
            size_t hdr_start = len;
            len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s\r\n\r\n%.*s:",
                                    short_lines[li], (int)k, "bbbbbbbbbbbbbbbbbbbb");
            check_split(buf, len, hdr_start, NULL);
        }
    }
}

/* The line limit and the header count limit where the fast path tests
 * them: lines of 14 to 21 bytes (some shorter than the 16 bytes the fast
 * path reads at a line's start) under limits of 1 to 24 bytes, and limits
 * of 0 to 4 headers. */
static void test_split_limits_edges(void **state)
{
    char buf[256];
    struct sip_limits lim = sip_limits_default;
    (void)state;
    for (size_t vlen = 1; vlen <= 8; vlen++) {
        for (int ends = 0; ends < 2; ends++) {
            size_t len = (size_t)snprintf(buf, sizeof(buf), START_LINE);
            size_t hdr_start = len;
            len += (size_t)snprintf(buf + len, sizeof(buf) - len, "Via: %.*s\r\nTo: %.*s\r\n%s",
                                    (int)vlen, "vvvvvvvvvv", (int)(vlen + 7), "tttttttttttttttt",
                                    ends ? "\r\n" : "\r\nbody: x\r\n");
            for (size_t max = 1; max <= 24; max++) {
                lim = sip_limits_default;
                lim.max_header_len = max;
                check_split(buf, len, hdr_start, &lim);
            }
            for (unsigned maxh = 0; maxh <= 4; maxh++) {
                lim = sip_limits_default;
                lim.max_headers = maxh;
                check_split(buf, len, hdr_start, &lim);
            }
        }
    }
}

/* The split's bound tests near the end of the buffer, against
 * ref_split(): a header line (names of 1 to 17 bytes, known and unknown,
 * so that the colon is at every place of the 16 bytes read at the line's
 * start and past them) followed by the empty line and a body of 0 to 24
 * bytes, so that its LF falls on each side of the place after which the
 * split tests the bounds one by one; each under the default limits and
 * under line limits just below, at and above the length of the header
 * block (under which a block no longer than the limit needs no test of
 * its own per line). */
static void test_split_end_edges(void **state)
{
    static const char *const names[] = {
        "T", "To", "Via", "From", "Contact", "Max-Forwards", "Authorization", "Content-Length",
        "Accept-Encoding", "WWW-Authenticate", "Subscription-State", "X", "X-Abcdefghijk",
        "X-Abcdefghijkl", "X-Abcdefghijklm", "X-Abcdefghijklmn", "Content-Lengt", "\x01Via",
    };
    static const char *const seps[] = {": v", ":v", ": vw", ":  v", ": v "};
    char buf[256];
    struct sip_limits lim;
    (void)state;
    for (size_t ni = 0; ni < sizeof(names) / sizeof(names[0]); ni++) {
        for (size_t si = 0; si < sizeof(seps) / sizeof(seps[0]); si++) {
            for (size_t body = 0; body <= 24; body++) {
                for (int two = 0; two < 2; two++) {
                    size_t len = (size_t)snprintf(buf, sizeof(buf), START_LINE);
                    size_t hdr_start = len;
                    len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s%s\r\n\r\n%.*s",
                                            two ? "Call-ID: c1\r\n" : "", names[ni], seps[si],
                                            (int)body, "b:b:b:b:b:b:b:b:b:b:b:b:b:b:b");
                    check_split(buf, len, hdr_start, NULL);
                    size_t rest = len - hdr_start;
                    for (size_t max = rest - 1; max <= rest + 1; max++) {
                        lim = sip_limits_default;
                        lim.max_header_len = max;
                        check_split(buf, len, hdr_start, &lim);
                    }
                }
            }
        }
    }
}

/* sip_msg_contacts() of one Contact line (decoded by sip_msg_contacts()
 * itself unless a second value follows on the line, which decode_list()
 * then takes on) against the same values on lines of their own (always
 * decode_list()): the same values, or the same error, and nothing cached
 * after an error. */
static void test_contacts_one_line(void **state)
{
    static const char *const lists[][3] = {
        {"<sip:a@example.com>;expires=60", NULL, NULL},
        {"<sip:a@example.com>", "sip:b@example.com;q=0.5", NULL},
        {"\"A, B\" <sip:a@example.com>", "<sip:b@example.com>", "<sip:c@example.com>"},
        {"*", NULL, NULL},
        {"*", "<sip:a@example.com>", NULL},
        {"<sip:a@exa mple.com>", NULL, NULL},
        {"<sip:a@example.com>", "<sip:b@exa mple.com>", NULL},
        {"<sip:a@example.com", NULL, NULL},
    };
    char one[1024], many[512], vals[256], tmp[1024];
    (void)state;
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        size_t vn = 0, mn = 0;
        for (size_t k = 0; k < 3 && lists[i][k]; k++) {
            vn += (size_t)snprintf(vals + vn, sizeof(vals) - vn, "%s%s", k ? ", " : "",
                                   lists[i][k]);
            mn += (size_t)snprintf(many + mn, sizeof(many) - mn, "Contact: %s\r\n", lists[i][k]);
        }
        snprintf(one, sizeof(one), INVITE_LINE KEYS "Contact: %s\r\n\r\n", vals);
        snprintf(tmp, sizeof(tmp), INVITE_LINE KEYS "%s\r\n", many);
        struct test_msg a, b;
        const char *wa = NULL, *wb = NULL;
        assert_int_equal(test_msg_parse(&a, one), 0);
        assert_int_equal(test_msg_parse(&b, tmp), 0);
        int ra = sip_msg_contacts(&a.msg, &wa), rb = sip_msg_contacts(&b.msg, &wb);
        assert_int_equal(ra, rb);
        assert_int_equal(a.msg.contact_n, b.msg.contact_n);
        assert_int_equal(a.msg.decoded & SIP_DEC_CONTACTS, b.msg.decoded & SIP_DEC_CONTACTS);
        if (ra) {
            assert_string_equal(wa, wb);
            assert_false(a.msg.decoded & SIP_DEC_CONTACTS);
        }
        for (unsigned k = 0; !ra && k < a.msg.contact_n; k++) {
            const struct sip_nameaddr *x = &a.msg.contacts[k], *y = &b.msg.contacts[k];
            assert_int_equal(x->star, y->star);
            assert_int_equal(x->uri_text.len, y->uri_text.len);
            assert_memory_equal(x->uri_text.p, y->uri_text.p, x->uri_text.len);
            assert_int_equal(x->params.len, y->params.len);
            assert_memory_equal(x->params.p, y->params.p, x->params.len);
            assert_int_equal(x->uri.host.len, y->uri.host.len);
        }
        test_msg_free(&a);
        test_msg_free(&b);
    }
}

/* sip_msg_vias() for each shape of the Via lines: one line with one value
 * (the top Via, decoded already, is the array of one: msg->via itself),
 * one line with two values, two lines, and a line whose list ends in an
 * empty element; a longer list is an array of its own. */
static void test_vias_shapes(void **state)
{
    static const struct {
        const char *vias;
        unsigned n;         /* values; 0: an error */
        const char *second; /* the second value's host */
    } cases[] = {
        {"Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n", 1, NULL},
        {"Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TCP b.example.com\r\n", 2,
         "b.example.com"},
        {"Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\nv: SIP/2.0/TLS c.example.com\r\n", 2,
         "c.example.com"},
        {"Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1 ,\r\n", 0, NULL},
        {"Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n  , SIP/2.0/UDP d.example.com\r\n", 2,
         "d.example.com"},
    };
    char buf[512];
    struct test_msg t;
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int len = snprintf(buf, sizeof(buf),
                           INVITE_LINE "%sFrom: <sip:alice@example.com>;tag=a1\r\n"
                                       "To: <sip:bob@example.com>\r\nCall-ID: c1@example.com\r\n"
                                       "CSeq: 1 INVITE\r\n\r\n",
                           cases[i].vias);
        assert_true(len > 0 && (size_t)len < sizeof(buf));
        assert_int_equal(test_msg_parse_n(&t, buf, (size_t)len, NULL, 0), 0);
        const char *why = NULL;
        int ret = sip_msg_vias(&t.msg, &why);
        if (cases[i].n == 0) {
            assert_int_equal(ret, EBADMSG);
            assert_string_equal(why, "empty list element");
            assert_int_equal(t.msg.via_n, 0);
            assert_false(t.msg.decoded & SIP_DEC_VIAS);
        } else {
            assert_int_equal(ret, 0);
            assert_int_equal(t.msg.via_n, cases[i].n);
            assert_true((t.msg.vias == &t.msg.via) == (cases[i].n == 1));
            assert_memory_equal(&t.msg.vias[0], &t.msg.via, sizeof(t.msg.via));
            if (cases[i].second) {
                struct slice host = t.msg.vias[1].host;
                assert_int_equal(host.len, strlen(cases[i].second));
                assert_memory_equal(host.p, cases[i].second, host.len);
            }
            assert_true(t.msg.decoded & SIP_DEC_VIAS);
        }
        test_msg_free(&t);
    }
}

/* The Via transport and port fast paths ("UDP " + host, a four-digit
 * port) at their edges (LWS after the transport, ports of 3, 4 and 5
 * digits, zero, a non-digit, the value ending right after the port), each
 * decoded from an exact-size buffer: what the byte loops give. */
static void test_via_fast_path_edges(void **state)
{
    static const struct {
        const char *text;
        int ret;
        const char *transport, *host, *port_str;
        unsigned port;
    } cases[] = {
        {"SIP/2.0/UDP h", 0, "UDP", "h", NULL, 0},
        {"SIP/2.0/UDP  h", 0, "UDP", "h", NULL, 0},
        {"SIP/2.0/UDP\th", 0, "UDP", "h", NULL, 0},
        {"SIP/2.0/UDP \th", 0, "UDP", "h", NULL, 0},
        {"SIP/2.0/UD@ h", EBADMSG, NULL, NULL, NULL, 0},
        {"SIP/2.0/UDPX h", 0, "UDPX", "h", NULL, 0},
        {"SIP/2.0/WS h", 0, "WS", "h", NULL, 0},
        {"SIP/2.0/UDP h:5060", 0, "UDP", "h", "5060", 5060},
        {"SIP/2.0/UDP h:0000", EBADMSG, NULL, NULL, NULL, 0},
        {"SIP/2.0/UDP h:0001", 0, "UDP", "h", "0001", 1},
        {"SIP/2.0/UDP h:9999;x", 0, "UDP", "h", "9999", 9999},
        {"SIP/2.0/UDP h:50601", 0, "UDP", "h", "50601", 50601},
        {"SIP/2.0/UDP h:65536", EBADMSG, NULL, NULL, NULL, 0},
        {"SIP/2.0/UDP h:506", 0, "UDP", "h", "506", 506},
        {"SIP/2.0/UDP h:50a0", EBADMSG, NULL, NULL, NULL, 0},
        {"SIP/2.0/UDP h:5060 ;x", 0, "UDP", "h", "5060", 5060},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = strlen(cases[i].text);
        char *buf = malloc(n);
        assert_non_null(buf);
        memcpy(buf, cases[i].text, n);
        struct sip_via v;
        const char *why = NULL;
        int ret = sip_via_parse(&v, slice_make(buf, n), &why);
        if (ret != cases[i].ret)
            print_error("via \"%s\": %d (%s)\n", cases[i].text, ret, why ? why : "");
        assert_int_equal(ret, cases[i].ret);
        if (ret == 0) {
            assert_slice_eq_s(v.transport,
                              slice_make(cases[i].transport, strlen(cases[i].transport)));
            assert_slice_eq_s(v.host, slice_make(cases[i].host, strlen(cases[i].host)));
            if (cases[i].port_str)
                assert_slice_eq_s(v.port_str,
                                  slice_make(cases[i].port_str, strlen(cases[i].port_str)));
            else
                assert_slice_absent(v.port_str);
            assert_int_equal(v.port, cases[i].port);
        }
        free(buf);
    }
}

/* Vias and Contacts decoded straight into an array sized by header lines:
 * lines with several values grow it; the count limit stays 1280 Vias. */
static void test_list_growth_and_limit(void **state)
{
    static const char text[] =
        "SIP/2.0 200 OK\r\n"
        "Via: SIP/2.0/UDP a1, SIP/2.0/UDP a2, SIP/2.0/UDP a3, SIP/2.0/UDP a4, SIP/2.0/UDP a5\r\n"
        "Via: SIP/2.0/UDP b1;branch=z9hG4bK1\r\n"
        "Via: SIP/2.0/UDP c1, SIP/2.0/UDP c2\r\n"
        "From: <sip:alice@example.com>;tag=a1\r\n"
        "To: <sip:bob@example.com>;tag=b1\r\n"
        "Call-ID: c1@example.com\r\n"
        "CSeq: 1 INVITE\r\n"
        "Contact: <sip:a@h1>, <sip:b@h2>, <sip:c@h3>\r\n"
        "Content-Length: 0\r\n\r\n";
    static const char *const hosts[] = {"a1", "a2", "a3", "a4", "a5", "b1", "c1", "c2"};
    struct test_msg t;
    const char *why = NULL;
    (void)state;
    assert_int_equal(test_msg_parse(&t, text), 0);
    assert_int_equal(sip_msg_vias(&t.msg, &why), 0);
    assert_int_equal(t.msg.via_n, 8);
    for (unsigned i = 0; i < 8; i++)
        assert_slice_eq_s(t.msg.vias[i].host, slice_make(hosts[i], 2));
    assert_slice_eq(t.msg.vias[5].branch, "z9hG4bK1");
    assert_int_equal(sip_msg_contacts(&t.msg, &why), 0);
    assert_int_equal(t.msg.contact_n, 3);
    assert_slice_eq(t.msg.contacts[2].uri.host, "h3");
    test_msg_free(&t);

    /* 1280 Vias decode, 1281 are too many: 10 lines of 128 (or 129) values */
    for (int extra = 0; extra <= 1; extra++) {
        size_t cap = 70000, len = 0;
        char *buf = malloc(cap);
        assert_non_null(buf);
        len += (size_t)snprintf(buf + len, cap - len, "SIP/2.0 200 OK\r\n");
        for (int line = 0; line < 10; line++) {
            len += (size_t)snprintf(buf + len, cap - len, "Via: ");
            int values = 128 + (extra && line == 9);
            for (int v = 0; v < values; v++)
                len += (size_t)snprintf(buf + len, cap - len, "%sSIP/2.0/UDP h%d", v ? "," : "", v);
            len += (size_t)snprintf(buf + len, cap - len, "\r\n");
        }
        len += (size_t)snprintf(buf + len, cap - len,
                                "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\n"
                                "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n");
        struct sip_limits lim = sip_limits_default;
        lim.max_header_len = 4096;
        assert_int_equal(test_msg_parse_n(&t, buf, len, &lim, 0), 0);
        if (extra) {
            assert_int_equal(sip_msg_vias(&t.msg, &why), EBADMSG);
            assert_string_equal(why, "too many values");
        } else {
            assert_int_equal(sip_msg_vias(&t.msg, &why), 0);
            assert_int_equal(t.msg.via_n, 1280);
            assert_slice_eq(t.msg.vias[1279].host, "h127");
        }
        test_msg_free(&t);
        free(buf);
    }
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compact_forms),
        cmocka_unit_test(test_case_insensitive_names),
        cmocka_unit_test(test_folded_lines),
        cmocka_unit_test(test_leading_crlf_and_bare_lf),
        cmocka_unit_test(test_multi_value_headers),
        cmocka_unit_test(test_unquoted_display_name),
        cmocka_unit_test(test_content_length_errors),
        cmocka_unit_test(test_datagram_body_framing),
        cmocka_unit_test(test_stream_incomplete_prefixes),
        cmocka_unit_test(test_stream_keepalive_and_pipelining),
        cmocka_unit_test(test_stream_bad),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_error_offsets),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_expires),
        cmocka_unit_test(test_via_params),
        cmocka_unit_test(test_digest),
        cmocka_unit_test(test_digest_fast_path_edges),
        cmocka_unit_test(test_cseq_fast_path_edges),
        cmocka_unit_test(test_msg_auth),
        cmocka_unit_test(test_nameaddr),
        cmocka_unit_test(test_nameaddr_fast_path),
        cmocka_unit_test(test_nameaddr_param_fast_path),
        cmocka_unit_test(test_sanity),
        cmocka_unit_test(test_call_id_bytes),
        cmocka_unit_test(test_call_id_at_message_end),
        cmocka_unit_test(test_line_ends_at_block_edges),
        cmocka_unit_test(test_header_names_at_message_end),
        cmocka_unit_test(test_split_fast_path_edges),
        cmocka_unit_test(test_split_limits_edges),
        cmocka_unit_test(test_split_end_edges),
        cmocka_unit_test(test_contacts_one_line),
        cmocka_unit_test(test_vias_shapes),
        cmocka_unit_test(test_via_fast_path_edges),
        cmocka_unit_test(test_via_ssse3_matches_generic),
        cmocka_unit_test(test_via_fast_path),
        cmocka_unit_test(test_list_growth_and_limit),
    };
    return cmocka_run_group_tests_name("sip_parse", tests, NULL, NULL);
}
