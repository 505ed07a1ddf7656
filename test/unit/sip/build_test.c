/* build_test.c: replies and forwarded requests of src/sip/build.c, parsed back. */
#include "../test_util.h"

#define REQ_A                                                                                      \
    "INVITE sip:bob@example.com SIP/2.0\r\n"                                                       \
    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;rport\r\n"                                    \
    "Route: <sip:proxy.example.com;lr>\r\n"                                                        \
    "Route: <sip:next.example.com;lr>\r\n"                                                         \
    "Max-Forwards: 70\r\n"                                                                         \
    "From: <sip:alice@example.com>;tag=a1\r\n"                                                     \
    "To: <sip:bob@example.com>\r\n"                                                                \
    "Call-ID: c1@example.com\r\n"                                                                  \
    "CSeq: 1 INVITE\r\n"                                                                           \
    "X-Odd:   spacing  \r\n"                                                                       \
    "Content-Length: 4\r\n"                                                                        \
    "\r\n"                                                                                         \
    "body"

/* REQ_A as one datagram with octets after its body */
static const char req_a_datagram[] = REQ_A "JUNK\r\n";

static void assert_buf_eq(const struct sip_buf *b, const char *want, size_t want_len)
{
    if (b->len == want_len && memcmp(b->p, want, want_len) == 0)
        return;
    print_error("built %zu bytes:\n%.*s\n---- want %zu bytes:\n%.*s\n----\n", b->len, (int)b->len,
                b->p, want_len, (int)want_len, want);
    fail();
}

#define assert_buf_eq_lit(b, lit) assert_buf_eq((b), (lit), sizeof(lit) - 1)

static bool buf_contains_slice(const struct sip_buf *b, struct slice needle)
{
    for (size_t i = 0; i + needle.len <= b->len; i++)
        if (memcmp(b->p + i, needle.p, needle.len) == 0)
            return true;
    return false;
}

/* needle is test text, never message data */
static bool buf_contains(const struct sip_buf *b, const char *needle)
{
    return buf_contains_slice(b, slice_from_str(needle));
}

/* ---------------------------------------------------------------- replies */

static void test_reply_round_trip(void **state)
{
    static const char req[] =
        "INVITE sip:bob@example.com SIP/2.0\r\n"
        "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bKa;rport, SIP/2.0/TCP b.example.com"
        ";branch=z9hG4bKb\r\n"
        "Max-Forwards: 70\r\n"
        "v: SIP/2.0/UDP c.example.com:5070\r\n"
        " ;branch=z9hG4bKc\r\n"
        "To: Bob <sip:bob@example.com>\r\n"
        "From: \"Alice\" <sip:alice@example.com>;tag=1928301774\r\n"
        "Call-ID: a84b4c76e66710@pc33.example.com\r\n"
        "Via: SIP/2.0/UDP d.example.com;branch=z9hG4bKd;received=192.0.2.9\r\n"
        "CSeq: 314159 INVITE\r\n"
        "Contact: <sip:alice@pc33.example.com>\r\n"
        "Content-Type: application/sdp\r\n"
        "Content-Length: 4\r\n"
        "\r\n"
        "v=0\n";
    struct test_msg t, r;
    char out[2048];
    struct sip_buf b = {out, 0, sizeof(out)};
    struct sip_reply_opts opts = {
        .received = SLICE_LIT("198.51.100.7"),
        .rport = 5062,
        .extra_headers = SLICE_LIT("Retry-After: 60\r\nWarning: 399 proxy \"busy\"\r\n"),
    };
    const char *why = NULL;
    (void)state;

    assert_int_equal(test_msg_parse(&t, req), 0);
    assert_int_equal(sip_build_reply(&b, &t.msg, 486, SLICE_NULL, &opts), 0);
    char tag[16];
    sip_to_tag(&t.msg, tag);

    /* the exact bytes: Via lines in order (the top one with received and
     * rport filled in), From, To with a tag, Call-ID, CSeq as they stand */
    char want[1024];
    int n = snprintf(want, sizeof(want),
                     "SIP/2.0 486 Busy Here\r\n"
                     "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bKa;rport=5062;"
                     "received=198.51.100.7, SIP/2.0/TCP b.example.com;branch=z9hG4bKb\r\n"
                     "v: SIP/2.0/UDP c.example.com:5070\r\n"
                     " ;branch=z9hG4bKc\r\n"
                     "To: Bob <sip:bob@example.com>;tag=%.16s\r\n"
                     "From: \"Alice\" <sip:alice@example.com>;tag=1928301774\r\n"
                     "Call-ID: a84b4c76e66710@pc33.example.com\r\n"
                     "Via: SIP/2.0/UDP d.example.com;branch=z9hG4bKd;received=192.0.2.9\r\n"
                     "CSeq: 314159 INVITE\r\n"
                     "Retry-After: 60\r\n"
                     "Warning: 399 proxy \"busy\"\r\n"
                     "Content-Length: 0\r\n"
                     "\r\n",
                     tag);
    assert_buf_eq(&b, want, (size_t)n);

    /* and it parses back to the same values */
    assert_int_equal(test_msg_parse_n(&r, b.p, b.len, NULL, 0), 0);
    assert_false(r.msg.is_request);
    assert_int_equal(r.msg.status, 486);
    assert_slice_eq(r.msg.reason, "Busy Here");
    assert_int_equal(sip_msg_vias(&r.msg, &why), 0);
    assert_int_equal(r.msg.via_n, 4);
    static const char *const hosts[] = {"a.example.com", "b.example.com", "c.example.com",
                                        "d.example.com"};
    static const char *const branches[] = {"z9hG4bKa", "z9hG4bKb", "z9hG4bKc", "z9hG4bKd"};
    for (unsigned i = 0; i < 4; i++) {
        assert_slice_eq_s(r.msg.vias[i].host, slice_from_str(hosts[i]));
        assert_slice_eq_s(r.msg.vias[i].branch, slice_from_str(branches[i]));
    }
    assert_slice_eq(r.msg.vias[0].received, "198.51.100.7");
    assert_slice_eq(r.msg.vias[0].rport_value, "5062");
    assert_slice_absent(r.msg.vias[1].received);
    assert_int_equal(r.msg.vias[2].port, 5070);
    assert_slice_eq(r.msg.vias[3].received, "192.0.2.9");
    assert_slice_eq_s(r.msg.from.raw, t.msg.from.raw);
    assert_slice_eq(r.msg.from.tag, "1928301774");
    assert_slice_eq(r.msg.to.display, "Bob");
    assert_slice_eq_s(r.msg.to.tag, slice_make(tag, sizeof(tag)));
    assert_slice_eq_s(r.msg.call_id, t.msg.call_id);
    assert_int_equal(r.msg.cseq.number, 314159);
    assert_int_equal(r.msg.cseq.method_id, SIP_METHOD_INVITE);
    assert_int_equal(r.msg.content_length, 0);
    assert_int_equal(r.msg.body.len, 0);
    assert_slice_eq(sip_msg_hdr(&r.msg, SIP_HDR_RETRY_AFTER)->value, "60");
    assert_null(sip_msg_hdr(&r.msg, SIP_HDR_CONTACT));
    assert_null(sip_msg_hdr(&r.msg, SIP_HDR_MAX_FORWARDS));
    assert_null(sip_msg_hdr(&r.msg, SIP_HDR_CONTENT_TYPE));
    test_msg_free(&r);
    test_msg_free(&t);
}

static void test_reply_to_tag_and_reason(void **state)
{
    static const char with_tag[] = "BYE sip:bob@example.com SIP/2.0\r\n"
                                   "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n"
                                   "From: <sip:alice@example.com>;tag=a1\r\n"
                                   "t: <sip:bob@example.com> ; tag = b2\r\n"
                                   "Call-ID: c1@example.com\r\n"
                                   "CSeq: 2 BYE\r\n"
                                   "\r\n";
    struct test_msg t, r;
    char out[1024];
    struct sip_buf b = {out, 0, sizeof(out)};
    (void)state;

    /* a To tag already present is kept, line and all */
    assert_int_equal(test_msg_parse(&t, with_tag), 0);
    assert_int_equal(sip_build_reply(&b, &t.msg, 200, SLICE_LIT("Fine"), NULL), 0);
    assert_buf_eq_lit(&b, "SIP/2.0 200 Fine\r\n"
                          "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n"
                          "From: <sip:alice@example.com>;tag=a1\r\n"
                          "t: <sip:bob@example.com> ; tag = b2\r\n"
                          "Call-ID: c1@example.com\r\n"
                          "CSeq: 2 BYE\r\n"
                          "Content-Length: 0\r\n"
                          "\r\n");
    assert_int_equal(test_msg_parse_n(&r, b.p, b.len, NULL, 0), 0);
    assert_slice_eq(r.msg.to.tag, "b2");
    test_msg_free(&r);
    test_msg_free(&t);

    /* 100 Trying gets no tag; a tag given by the caller is used as is */
    assert_int_equal(test_msg_parse(&t, REQ_A), 0);
    b.len = 0;
    assert_int_equal(sip_build_reply(&b, &t.msg, 100, SLICE_NULL, NULL), 0);
    assert_true(buf_contains(&b, "SIP/2.0 100 Trying\r\n"));
    assert_true(buf_contains(&b, "\r\nTo: <sip:bob@example.com>\r\n"));
    b.len = 0;
    struct sip_reply_opts opts = {.to_tag = SLICE_LIT("mytag")};
    assert_int_equal(sip_build_reply(&b, &t.msg, 404, SLICE_NULL, &opts), 0);
    assert_true(buf_contains(&b, "SIP/2.0 404 Not Found\r\n"));
    assert_true(buf_contains(&b, "\r\nTo: <sip:bob@example.com>;tag=mytag\r\n"));
    /* without opts the top Via is copied untouched */
    assert_true(buf_contains(&b, "\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;rport\r\n"));

    /* rport 0 leaves a valueless rport alone; received alone is appended */
    b.len = 0;
    opts = (struct sip_reply_opts){.received = SLICE_LIT("192.0.2.200")};
    assert_int_equal(sip_build_reply(&b, &t.msg, 480, SLICE_NULL, &opts), 0);
    assert_true(buf_contains(
        &b, "\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;rport;received=192.0.2.200\r\n"));
    test_msg_free(&t);

    /* rport in the middle of the parameters is filled where it stands */
    assert_int_equal(test_msg_parse(&t, "OPTIONS sip:bob@example.com SIP/2.0\r\n"
                                        "Via: SIP/2.0/UDP h.example.com;rport;branch=z9hG4bKm\r\n"
                                        "From: <sip:a@example.com>;tag=1\r\n"
                                        "To: <sip:b@example.com>\r\n"
                                        "Call-ID: m@x\r\nCSeq: 1 OPTIONS\r\n\r\n"),
                     0);
    b.len = 0;
    opts = (struct sip_reply_opts){.rport = 1024};
    assert_int_equal(sip_build_reply(&b, &t.msg, 200, SLICE_NULL, &opts), 0);
    assert_true(
        buf_contains(&b, "\r\nVia: SIP/2.0/UDP h.example.com;rport=1024;branch=z9hG4bKm\r\n"));
    test_msg_free(&t);
}

static void test_reply_body_and_errors(void **state)
{
    struct test_msg t, r;
    char out[1024];
    struct sip_buf b = {out, 0, sizeof(out)};
    struct sip_reply_opts opts = {
        .content_type = SLICE_LIT("text/plain"),
        .body = SLICE_LIT("no\0way"),
    };
    (void)state;

    assert_int_equal(test_msg_parse(&t, REQ_A), 0);
    assert_int_equal(sip_build_reply(&b, &t.msg, 603, SLICE_NULL, &opts), 0);
    assert_true(buf_contains(&b, "\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\n"));
    assert_int_equal(test_msg_parse_n(&r, b.p, b.len, NULL, 0), 0);
    assert_slice_eq(r.msg.body, "no\0way");
    assert_int_equal(r.msg.status, 603);
    assert_slice_eq(r.msg.reason, "Decline");
    test_msg_free(&r);

    /* too small a buffer: ENOSPC, and what was in it before is kept */
    memcpy(out, "keep", 4);
    for (size_t cap = 4; cap < 200; cap++) {
        b = (struct sip_buf){out, 4, cap};
        assert_int_equal(sip_build_reply(&b, &t.msg, 603, SLICE_NULL, &opts), ENOSPC);
        assert_int_equal(b.len, 4);
    }
    assert_memory_equal(out, "keep", 4);
    /* appending after existing content */
    b = (struct sip_buf){out, 4, sizeof(out)};
    assert_int_equal(sip_build_reply(&b, &t.msg, 603, SLICE_NULL, &opts), 0);
    assert_memory_equal(out, "keepSIP/2.0 603 Decline\r\n", 25);

    /* codes out of range */
    b = (struct sip_buf){out, 0, sizeof(out)};
    assert_int_equal(sip_build_reply(&b, &t.msg, 99, SLICE_NULL, NULL), EINVAL);
    assert_int_equal(sip_build_reply(&b, &t.msg, 700, SLICE_NULL, NULL), EINVAL);
    assert_int_equal(b.len, 0);
    test_msg_free(&t);

    /* never a reply to a response */
    assert_int_equal(test_msg_parse(&t, "SIP/2.0 200 OK\r\n"
                                        "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n"
                                        "From: <sip:a@example.com>;tag=1\r\n"
                                        "To: <sip:b@example.com>;tag=2\r\n"
                                        "Call-ID: x\r\nCSeq: 1 INVITE\r\n\r\n"),
                     0);
    assert_int_equal(sip_build_reply(&b, &t.msg, 400, SLICE_NULL, NULL), EINVAL);
    assert_int_equal(sip_build_request(&b, &t.msg, NULL), EINVAL);
    test_msg_free(&t);
}

/* Replies to requests whose parse failed, built from the raw header lines. */
static void test_reply_to_failed_parse(void **state)
{
    static const char *const files[] = {"badinv01.dat", "insuf.dat", "ncl.dat"};
    (void)state;

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[1024];
        size_t len;
        snprintf(path, sizeof(path), "%s/%s", SIPD_TORTURE_DIR, files[i]);
        char *data = test_read_file(path, &len);
        if (!data) {
            print_error("cannot read %s\n", path);
            fail();
            return;
        }
        struct test_msg t;
        assert_int_equal(test_msg_parse_n(&t, data, len, NULL, 0), EBADMSG);
        assert_true(t.msg.headers_ok);
        struct sip_verdict v;
        sip_sanity(&t.msg, t.ret, &t.err, NULL, &v);
        assert_int_equal(v.action, SIP_REPLY);
        assert_int_equal(v.code, 400);

        char out[4096];
        struct sip_buf b = {out, 0, sizeof(out)};
        struct sip_reply_opts opts = {.received = SLICE_LIT("203.0.113.5"), .rport = 5060};
        assert_int_equal(sip_build_reply(&b, &t.msg, v.code, slice_from_str(v.reason), &opts), 0);
        char status[200];
        snprintf(status, sizeof(status), "SIP/2.0 400 %s\r\n", v.reason);
        assert_true(buf_contains(&b, status));
        assert_true(buf_contains(&b, "\r\nContent-Length: 0\r\n\r\n"));
        assert_memory_equal(b.p + b.len - 4, "\r\n\r\n", 4);
        /* every Via, From, To, Call-ID and CSeq line the request has */
        for (unsigned h = 0; h < t.msg.hdr_count; h++) {
            const struct sip_hdr *hd = &t.msg.hdrs[h];
            bool copied = hd->type == SIP_HDR_VIA || hd->type == SIP_HDR_FROM ||
                          hd->type == SIP_HDR_TO || hd->type == SIP_HDR_CALL_ID ||
                          hd->type == SIP_HDR_CSEQ;
            if (copied && !(t.msg.keys_ok && (hd->type == SIP_HDR_VIA || hd->type == SIP_HDR_TO)))
                assert_true(buf_contains_slice(&b, hd->line));
            if (!copied)
                assert_false(buf_contains_slice(&b, hd->line));
        }
        if (!t.msg.keys_ok) {
            /* nothing decoded: the top Via copied as it is (and, by the loop
             * above, the To line too: no tag invented) */
            assert_false(buf_contains(&b, "received=203.0.113.5"));
        } else {
            /* ncl: the keys were decoded before the framing failed */
            assert_true(buf_contains(&b, ";received=203.0.113.5\r\n"));
            struct test_msg r;
            assert_int_equal(test_msg_parse_n(&r, b.p, b.len, NULL, 0), 0);
            assert_int_equal(r.msg.status, 400);
            assert_int_equal(r.msg.to.tag.len, 16);
            test_msg_free(&r);
        }
        test_msg_free(&t);
        free(data);
    }
}

/* ---------------------------------------------------------------- To tags */

static void test_to_tag_determinism(void **state)
{
    static const char base[] = "INVITE sip:bob@example.com SIP/2.0\r\n"
                               "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n"
                               "From: <sip:alice@example.com>;tag=a1\r\n"
                               "To: <sip:bob@example.com>\r\n"
                               "Call-ID: c1@example.com\r\n"
                               "CSeq: 1 INVITE\r\n\r\n";
    static const char other_branch[] = "INVITE sip:bob@example.com SIP/2.0\r\n"
                                       "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK2\r\n"
                                       "From: <sip:alice@example.com>;tag=a1\r\n"
                                       "To: <sip:bob@example.com>\r\n"
                                       "Call-ID: c1@example.com\r\n"
                                       "CSeq: 1 INVITE\r\n\r\n";
    static const char other_call_id[] = "INVITE sip:bob@example.com SIP/2.0\r\n"
                                        "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n"
                                        "From: <sip:alice@example.com>;tag=a1\r\n"
                                        "To: <sip:bob@example.com>\r\n"
                                        "Call-ID: c2@example.com\r\n"
                                        "CSeq: 1 INVITE\r\n\r\n";
    /* a retransmission: same values, different spelling and an extra header */
    static const char retransmission[] = "INVITE sip:bob@example.com SIP/2.0\r\n"
                                         "v: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n"
                                         "f: <sip:alice@example.com>;tag=a1\r\n"
                                         "t: <sip:bob@example.com>\r\n"
                                         "i: c1@example.com\r\n"
                                         "CSeq: 1 INVITE\r\n"
                                         "User-Agent: test\r\n\r\n";
    struct test_msg a, b;
    char ta[16], tb[16];
    (void)state;

    assert_int_equal(test_msg_parse(&a, base), 0);
    sip_to_tag(&a.msg, ta);
    for (int i = 0; i < 16; i++)
        assert_true((ta[i] >= '0' && ta[i] <= '9') || (ta[i] >= 'a' && ta[i] <= 'f'));
    sip_to_tag(&a.msg, tb);
    assert_memory_equal(ta, tb, 16);

    assert_int_equal(test_msg_parse(&b, base), 0);
    sip_to_tag(&b.msg, tb);
    assert_memory_equal(ta, tb, 16);
    test_msg_free(&b);

    assert_int_equal(test_msg_parse(&b, retransmission), 0);
    sip_to_tag(&b.msg, tb);
    assert_memory_equal(ta, tb, 16);
    test_msg_free(&b);

    assert_int_equal(test_msg_parse(&b, other_branch), 0);
    sip_to_tag(&b.msg, tb);
    assert_memory_not_equal(ta, tb, 16);
    test_msg_free(&b);

    assert_int_equal(test_msg_parse(&b, other_call_id), 0);
    sip_to_tag(&b.msg, tb);
    assert_memory_not_equal(ta, tb, 16);
    test_msg_free(&b);

    /* the tag of the reply is the same for the request and its retransmission */
    char out1[1024], out2[1024];
    struct sip_buf b1 = {out1, 0, sizeof(out1)}, b2 = {out2, 0, sizeof(out2)};
    assert_int_equal(sip_build_reply(&b1, &a.msg, 486, SLICE_NULL, NULL), 0);
    assert_int_equal(test_msg_parse(&b, base), 0);
    assert_int_equal(sip_build_reply(&b2, &b.msg, 486, SLICE_NULL, NULL), 0);
    assert_int_equal(b1.len, b2.len);
    assert_memory_equal(out1, out2, b1.len);
    test_msg_free(&b);
    test_msg_free(&a);
}

/* ---------------------------------------------------------------- forwarded requests */

static void test_forward_edits(void **state)
{
    struct test_msg t, r;
    char out[2048];
    struct sip_buf b = {out, 0, sizeof(out)};
    const char *why = NULL;
    (void)state;

    assert_int_equal(test_msg_parse(&t, req_a_datagram), 0);
    assert_int_equal(t.msg.trailing, 6);
    /* find the first Route by type, as a caller would */
    const struct sip_hdr *route = sip_msg_hdr(&t.msg, SIP_HDR_ROUTE);
    assert_non_null(route);
    uint16_t remove[] = {(uint16_t)(route - t.msg.hdrs)};
    assert_int_equal(remove[0], 1);
    struct sip_fwd_opts opts = {
        .new_ruri = SLICE_LIT("sip:bob@192.0.2.4"),
        .prepend = SLICE_LIT("Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKfwd\r\n"),
        .append = SLICE_LIT("X-Appended: 1\r\n"),
        .remove = remove,
        .remove_n = 1,
        .max_forwards = 69,
        .received = SLICE_LIT("198.51.100.7"),
        .rport = 5062,
    };
    assert_int_equal(sip_build_request(&b, &t.msg, &opts), 0);
    assert_buf_eq_lit(&b, "INVITE sip:bob@192.0.2.4 SIP/2.0\r\n"
                          "Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKfwd\r\n"
                          "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;rport=5062;"
                          "received=198.51.100.7\r\n"
                          "Route: <sip:next.example.com;lr>\r\n"
                          "Max-Forwards: 69\r\n"
                          "From: <sip:alice@example.com>;tag=a1\r\n"
                          "To: <sip:bob@example.com>\r\n"
                          "Call-ID: c1@example.com\r\n"
                          "CSeq: 1 INVITE\r\n"
                          "X-Odd:   spacing  \r\n"
                          "Content-Length: 4\r\n"
                          "X-Appended: 1\r\n"
                          "\r\n"
                          "body");
    assert_false(buf_contains(&b, "JUNK"));

    assert_int_equal(test_msg_parse_n(&r, b.p, b.len, NULL, 0), 0);
    assert_int_equal(r.msg.trailing, 0);
    assert_slice_eq(r.msg.ruri_text, "sip:bob@192.0.2.4");
    assert_slice_eq(r.msg.ruri.host, "192.0.2.4");
    assert_int_equal(sip_msg_vias(&r.msg, &why), 0);
    assert_int_equal(r.msg.via_n, 2);
    assert_slice_eq(r.msg.vias[0].host, "proxy.example.com");
    assert_slice_eq(r.msg.vias[1].received, "198.51.100.7");
    assert_slice_eq(r.msg.vias[1].rport_value, "5062");
    assert_int_equal(r.msg.max_forwards, 69);
    assert_int_equal(r.msg.count[SIP_HDR_ROUTE], 1);
    assert_slice_eq(sip_msg_hdr(&r.msg, SIP_HDR_ROUTE)->value, "<sip:next.example.com;lr>");
    assert_slice_eq(r.msg.body, "body");
    assert_slice_eq_s(r.msg.call_id, t.msg.call_id);
    test_msg_free(&r);

    /* no edits: the message as it stands, without the trailing datagram octets */
    b.len = 0;
    assert_int_equal(sip_build_request(&b, &t.msg, NULL), 0);
    assert_buf_eq_lit(&b, REQ_A);

    /* removing several headers, the last one included */
    uint16_t several[] = {1, 2, 8, 9};
    opts = (struct sip_fwd_opts){.remove = several, .remove_n = 4, .max_forwards = -1};
    b.len = 0;
    assert_int_equal(sip_build_request(&b, &t.msg, &opts), 0);
    assert_buf_eq_lit(&b, "INVITE sip:bob@example.com SIP/2.0\r\n"
                          "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;rport\r\n"
                          "Max-Forwards: 70\r\n"
                          "From: <sip:alice@example.com>;tag=a1\r\n"
                          "To: <sip:bob@example.com>\r\n"
                          "Call-ID: c1@example.com\r\n"
                          "CSeq: 1 INVITE\r\n"
                          "\r\n"
                          "body");

    /* too small a buffer: ENOSPC and the length is restored */
    opts = (struct sip_fwd_opts){.max_forwards = 69, .received = SLICE_LIT("198.51.100.7")};
    for (size_t cap = 0; cap < sizeof(REQ_A) + 20; cap++) {
        b = (struct sip_buf){out, 0, cap};
        assert_int_equal(sip_build_request(&b, &t.msg, &opts), ENOSPC);
        assert_int_equal(b.len, 0);
    }
    test_msg_free(&t);
}

static void test_forward_adds_missing_headers(void **state)
{
    /* RFC 2543-style: no Max-Forwards, no Content-Length, the body is the
     * rest of the datagram (compact names kept as written) */
    static const char req[] = "OPTIONS sip:carol@example.com SIP/2.0\r\n"
                              "v: SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK2\r\n"
                              "f: <sip:a@example.com>;tag=x\r\n"
                              "t: <sip:carol@example.com>\r\n"
                              "i: c2@example.com\r\n"
                              "CSeq: 5 OPTIONS\r\n"
                              "\r\n"
                              "hello\r\n";
    struct test_msg t, r;
    char out[1024];
    struct sip_buf b = {out, 0, sizeof(out)};
    struct sip_fwd_opts opts = {.max_forwards = 70};
    (void)state;

    assert_int_equal(test_msg_parse(&t, req), 0);
    assert_int_equal(sip_build_request(&b, &t.msg, &opts), 0);
    assert_buf_eq_lit(&b, "OPTIONS sip:carol@example.com SIP/2.0\r\n"
                          "v: SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK2\r\n"
                          "f: <sip:a@example.com>;tag=x\r\n"
                          "t: <sip:carol@example.com>\r\n"
                          "i: c2@example.com\r\n"
                          "CSeq: 5 OPTIONS\r\n"
                          "Max-Forwards: 70\r\n"
                          "Content-Length: 7\r\n"
                          "\r\n"
                          "hello\r\n");
    /* the result is framed for a stream too */
    size_t skip, msg_len;
    struct sip_error err;
    assert_int_equal(sip_stream_frame(b.p, b.len, NULL, &skip, &msg_len, &err), 0);
    assert_int_equal(skip + msg_len, b.len);
    assert_int_equal(test_msg_parse_n(&r, b.p, b.len, NULL, SIP_PARSE_STREAM), 0);
    assert_int_equal(r.msg.max_forwards, 70);
    assert_int_equal(r.msg.content_length, 7);
    assert_slice_eq(r.msg.body, "hello\r\n");
    test_msg_free(&r);
    test_msg_free(&t);

    /* a message whose parse failed is never forwarded */
    assert_int_equal(test_msg_parse(&t, "OPTIONS sip:carol@example.com SIP/2.0\r\n"
                                        "v: SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK2\r\n\r\n"),
                     EBADMSG);
    b.len = 0;
    assert_int_equal(sip_build_request(&b, &t.msg, NULL), EINVAL);
    assert_int_equal(b.len, 0);
    test_msg_free(&t);
}

/* RFC 4475 3.1.1.8 (dblreq): "a forwarded REGISTER must not carry those octets". */
static void test_forward_dblreq(void **state)
{
    char path[1024];
    size_t len;
    (void)state;

    snprintf(path, sizeof(path), "%s/dblreq.dat", SIPD_TORTURE_DIR);
    char *data = test_read_file(path, &len);
    if (!data) {
        print_error("cannot read %s\n", path);
        fail();
        return;
    }
    struct test_msg t;
    assert_int_equal(test_msg_parse_n(&t, data, len, NULL, 0), 0);
    char out[2048];
    struct sip_buf b = {out, 0, sizeof(out)};
    struct sip_fwd_opts opts = {.max_forwards = 7};
    assert_int_equal(sip_build_request(&b, &t.msg, &opts), 0);
    assert_false(buf_contains(&b, "INVITE"));
    assert_false(buf_contains(&b, "Max-Forwards: 8"));
    assert_true(buf_contains(&b, "\r\nMax-Forwards: 7\r\n"));
    assert_int_equal(b.len, t.msg.data.len); /* "8" became "7" */
    assert_memory_equal(out + b.len - 4, "\r\n\r\n", 4);
    test_msg_free(&t);
    free(data);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_round_trip),
        cmocka_unit_test(test_reply_to_tag_and_reason),
        cmocka_unit_test(test_reply_body_and_errors),
        cmocka_unit_test(test_reply_to_failed_parse),
        cmocka_unit_test(test_to_tag_determinism),
        cmocka_unit_test(test_forward_edits),
        cmocka_unit_test(test_forward_adds_missing_headers),
        cmocka_unit_test(test_forward_dblreq),
    };
    return cmocka_run_group_tests_name("sip_build", tests, NULL, NULL);
}
