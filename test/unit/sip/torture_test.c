/* torture_test.c: every message of the RFC 4475 / RFC 5118 corpus through sip_msg_parse() and
 * sip_sanity(). */
#include "../test_util.h"

#ifndef SIPD_TORTURE_DIR
#error "SIPD_TORTURE_DIR must name the torture corpus (test/CMakeLists.txt sets it)"
#endif

/*
 * The corpus's MANIFEST.tsv says, per message, what a parser and a proxy
 * must do. Each row becomes one cmocka test that looks its file name up in
 * the table below: the verdicts sip_sanity() may give (the manifest's
 * 'expected' column; any listed alternative passes) and, for valid and
 * trap rows, a function asserting every value of the 'checks' column. A
 * manifest row without a table entry fails, so new rows are never skipped
 * silently; a table entry without a row fails too.
 */

/* ---------------------------------------------------------------- the manifest */

struct manifest_row {
    const char *name, *kind, *expected, *file, *bytes, *checks;
};

struct manifest {
    char *text;
    size_t len;
    struct manifest_row *rows;
    size_t n;
    const char *error; /* why loading failed, NULL when it worked */
};

/* Splits text into NUL-terminated fields in place (the manifest is our
 * metadata, not message data). Returns the number of fields of the line. */
static size_t split_tsv_line(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *p = line;

    while (n < max) {
        fields[n++] = p;
        char *tab = strchr(p, '\t');
        if (!tab)
            break;
        *tab = '\0';
        p = tab + 1;
    }
    return n;
}

static void manifest_load(struct manifest *m)
{
    enum { COLS = 16 };
    char *fields[COLS];
    int col_name = -1, col_kind = -1, col_expected = -1, col_file = -1, col_bytes = -1,
        col_checks = -1;

    memset(m, 0, sizeof(*m));
    m->text = test_read_file(SIPD_TORTURE_DIR "/MANIFEST.tsv", &m->len);
    if (!m->text) {
        m->error = "cannot read " SIPD_TORTURE_DIR "/MANIFEST.tsv";
        return;
    }
    char *text = realloc(m->text, m->len + 1);
    if (!text) {
        m->error = "out of memory";
        return;
    }
    m->text = text;
    text[m->len] = '\0';
    if (memchr(text, '\0', m->len)) {
        m->error = "NUL in MANIFEST.tsv";
        return;
    }
    size_t lines = 0;
    for (size_t i = 0; i < m->len; i++)
        lines += text[i] == '\n';
    m->rows = calloc(lines + 1, sizeof(*m->rows));
    if (!m->rows) {
        m->error = "out of memory";
        return;
    }
    bool header = true;
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (nl > line && nl[-1] == '\r')
            nl[-1] = '\0';
        size_t nf = split_tsv_line(line, fields, COLS);
        if (header) {
            for (size_t i = 0; i < nf; i++) {
                int *col = !strcmp(fields[i], "name")       ? &col_name
                           : !strcmp(fields[i], "kind")     ? &col_kind
                           : !strcmp(fields[i], "expected") ? &col_expected
                           : !strcmp(fields[i], "file")     ? &col_file
                           : !strcmp(fields[i], "bytes")    ? &col_bytes
                           : !strcmp(fields[i], "checks")   ? &col_checks
                                                            : NULL;
                if (col)
                    *col = (int)i;
            }
            if (col_name < 0 || col_kind < 0 || col_expected < 0 || col_file < 0 || col_bytes < 0 ||
                col_checks < 0) {
                m->error = "MANIFEST.tsv lacks a column (name kind expected file bytes checks)";
                return;
            }
            header = false;
        } else if (nf > 1 || fields[0][0]) {
            int last = col_checks;
            int cols[] = {col_name, col_kind, col_expected, col_file, col_bytes};
            for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
                if (cols[i] > last)
                    last = cols[i];
            if (nf <= (size_t)last) {
                m->error = "a MANIFEST.tsv row has too few columns";
                return;
            }
            struct manifest_row *r = &m->rows[m->n++];
            r->name = fields[col_name];
            r->kind = fields[col_kind];
            r->expected = fields[col_expected];
            r->file = fields[col_file];
            r->bytes = fields[col_bytes];
            r->checks = fields[col_checks];
        }
        line = nl ? nl + 1 : NULL;
    }
    if (m->n == 0)
        m->error = "MANIFEST.tsv has no rows";
}

static void manifest_free(struct manifest *m)
{
    free(m->rows);
    free(m->text);
    memset(m, 0, sizeof(*m));
}

/* ---------------------------------------------------------------- helpers for the checks */

static struct sip_via *vias_n(struct sip_msg *m, unsigned n)
{
    const char *why = NULL;

    assert_int_equal(sip_msg_vias(m, &why), 0);
    assert_int_equal(m->via_n, n);
    return m->vias;
}

static struct sip_nameaddr *contacts_n(struct sip_msg *m, unsigned n)
{
    const char *why = NULL;

    assert_int_equal(sip_msg_contacts(m, &why), 0);
    assert_int_equal(m->contact_n, n);
    return m->contacts;
}

static void check_via(const struct sip_via *v, const char *transport, const char *host,
                      uint8_t host_type, uint16_t port)
{
    assert_slice_eq(v->protocol, "SIP");
    assert_slice_eq(v->version, "2.0");
    assert_slice_eq_s(v->transport, slice_from_str(transport));
    assert_slice_eq_s(v->host, slice_from_str(host));
    assert_int_equal(v->host_type, host_type);
    assert_int_equal(v->port, port);
}

static const struct sip_hdr *hdr_named(const struct sip_msg *m, struct slice name)
{
    const struct sip_hdr *h = sip_msg_hdr_by_name(m, name);

    assert_non_null(h);
    return h;
}

static void check_param(struct slice params, const char *name, const char *value)
{
    struct sip_param p;

    assert_true(sip_param_find(params, name, &p));
    if (value)
        assert_slice_eq_s(p.value, slice_from_str(value));
    else
        assert_slice_absent(p.value);
}

static bool slice_has_prefix(struct slice s, const char *prefix)
{
    size_t n = strlen(prefix);
    return s.len >= n && memcmp(s.p, prefix, n) == 0;
}

static bool slice_has_suffix(struct slice s, const char *suffix)
{
    size_t n = strlen(suffix);
    return s.len >= n && memcmp(s.p + s.len - n, suffix, n) == 0;
}

static bool slice_has_byte(struct slice s, char c)
{
    return s.len && memchr(s.p, c, s.len) != NULL;
}

/* The message layout every accepted request shares: the values are decoded. */
static void check_common(const struct sip_msg *m)
{
    assert_true(m->headers_ok);
    assert_true(m->keys_ok);
    if (m->content_length >= 0)
        assert_int_equal(m->body.len, (size_t)m->content_length);
    assert_true(slice_end(m->body) == slice_end(m->data));
}

/* ---------------------------------------------------------------- valid rows */

/* checks: method=INVITE; ruri=sip:vivekg@chair-dnrc.example.com;unknownparam; Max-Forwards=68;
 * CSeq=9 INVITE; Via values=3 (UDP 192.0.2.2, TCP spindle.example.com, UDP 192.168.255.111);
 * To tag=1918181833n; From tag=98asjd8; Subject empty; Content-Length=150; body=150 octets */
static void check_wsinv(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    check_common(m);
    assert_int_equal(m->method_id, SIP_METHOD_INVITE);
    assert_slice_eq(m->method, "INVITE");
    assert_slice_eq(m->ruri_text, "sip:vivekg@chair-dnrc.example.com;unknownparam");
    assert_int_equal(m->ruri.scheme_id, SIP_URI_SIP);
    assert_slice_eq(m->ruri.user, "vivekg");
    assert_slice_eq(m->ruri.host, "chair-dnrc.example.com");
    assert_int_equal(m->ruri.host_type, SIP_HOST_NAME);
    assert_int_equal(m->ruri.port, 0);
    assert_slice_eq(m->ruri.params, ";unknownparam");
    assert_int_equal(m->max_forwards, 68);
    assert_int_equal(m->cseq.number, 9);
    assert_slice_eq(m->cseq.method, "INVITE");
    assert_int_equal(m->cseq.method_id, SIP_METHOD_INVITE);
    /* two Via header lines (Via and v) hold the three values */
    assert_int_equal(m->count[SIP_HDR_VIA], 2);
    struct sip_via *via = vias_n(m, 3);
    check_via(&via[0], "UDP", "192.0.2.2", SIP_HOST_IPV4, 0);
    assert_slice_eq(via[0].branch, "390skdjuw");
    check_via(&via[1], "TCP", "spindle.example.com", SIP_HOST_NAME, 0);
    assert_slice_eq(via[1].branch, "z9hG4bK9ikj8");
    check_via(&via[2], "UDP", "192.168.255.111", SIP_HOST_IPV4, 0);
    assert_slice_eq(via[2].branch, "z9hG4bK30239");
    assert_slice_eq(m->via.branch, "390skdjuw");
    assert_slice_eq(m->to.tag, "1918181833n");
    assert_false(m->to.bracketed);
    assert_slice_absent(m->to.display);
    assert_slice_eq(m->to.uri_text, "sip:vivekg@chair-dnrc.example.com");
    assert_slice_eq(m->from.tag, "98asjd8");
    assert_slice_eq(m->from.display, "\"J Rosenberg \\\\\\\"\"");
    assert_true(m->from.bracketed);
    assert_slice_eq(m->from.uri_text, "sip:jdrosen@example.com");
    assert_slice_eq(m->call_id, "wsinv.ndaksdj@192.0.2.1");
    const struct sip_hdr *subject = sip_msg_hdr(m, SIP_HDR_SUBJECT);
    assert_non_null(subject);
    assert_slice_eq(subject->name, "s");
    assert_non_null(subject->value.p);
    assert_int_equal(subject->value.len, 0);
    assert_int_equal(m->content_length, 150);
    assert_int_equal(m->body.len, 150);
    assert_true(slice_has_prefix(m->body, "v=0\r\n"));
    assert_int_equal(m->trailing, 0);
    assert_slice_eq(sip_msg_hdr(m, SIP_HDR_CONTENT_TYPE)->value, "application/sdp");
    /* unknown headers are kept as written, folding included */
    const struct sip_hdr *h = hdr_named(m, SLICE_LIT("NewFangledHeader"));
    assert_int_equal(h->type, SIP_HDR_OTHER);
    assert_slice_eq(h->value, "newfangled value\r\n continued newfangled value");
    assert_slice_eq(hdr_named(m, SLICE_LIT("UnknownHeaderWithUnusualValue"))->value, ";;,,;;,;");
    assert_int_equal(m->count[SIP_HDR_ROUTE], 1);
    assert_int_equal(m->hdr_count, 14);
    struct sip_nameaddr *c = contacts_n(m, 1);
    assert_slice_eq(c->display, "\"Quoted string \\\"\\\"\"");
    assert_slice_eq(c->uri_text, "sip:jdrosen@example.com");
    check_param(c->params, "newparam", "newvalue");
    check_param(c->params, "secondparam", NULL);
    check_param(c->params, "q", "0.33");
}

/* checks: method=!interesting-Method0123456789_*+`.%indeed'~ (not INVITE); CSeq method equals
 * start-line method; Max-Forwards=255; Content-Length=0 */
static void check_intmeth(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    check_common(m);
    assert_slice_eq(m->method, "!interesting-Method0123456789_*+`.%indeed'~");
    assert_int_equal(m->method_id, SIP_METHOD_OTHER);
    assert_true(slice_eq(m->cseq.method, m->method));
    assert_int_equal(m->cseq.method_id, SIP_METHOD_OTHER);
    assert_int_equal(m->cseq.number, 139122385);
    assert_int_equal(m->max_forwards, 255);
    assert_int_equal(m->content_length, 0);
    assert_int_equal(m->body.len, 0);
    assert_slice_eq(m->ruri.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
    assert_slice_eq(m->ruri.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
    assert_slice_eq(m->ruri.host, "example.com");
    check_via(&m->via, "TCP", "host1.example.com", SIP_HOST_NAME, 0);
    assert_slice_eq(m->via.branch, "z9hG4bK-.!%66*_+`'~");
    /* the raw NUL inside the quoted-pair is part of the display name */
    assert_slice_eq(m->to.display, "\"BEL:\\\x07 NUL:\\\0 DEL:\\\x7f\"");
    assert_slice_eq(m->to.uri.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
    assert_slice_eq(m->from.display, "token1~` token2'+_ token3*%!.-");
    assert_slice_eq(m->from.uri_text, "sip:mundane@example.com");
    assert_slice_eq(m->from.tag, "_token~1'+`*%!-.");
    check_param(
        m->from.params, "fromParam''~+*_!.-%",
        "\"\xd1\x80\xd0\xb0\xd0\xb1\xd0\xbe\xd1\x82\xd0\xb0\xd1\x8e\xd1\x89\xd0\xb8\xd0\xb9\"");
    assert_slice_eq(m->call_id, "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
    assert_slice_eq(hdr_named(m, SLICE_LIT("extensionHeader-!.%*+_`'~"))->value,
                    "\xef\xbb\xbf\xe5\xa4\xa7\xe5\x81\x9c\xe9\x9b\xbb");
}

/* checks: method=INVITE; ruri user (decoded)=sips:user@example.com; To user (decoded)=user;
 * Contact params decode to lr and name=value%41; Content-Length=150 */
static void check_esc01(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    check_common(m);
    assert_int_equal(m->method_id, SIP_METHOD_INVITE);
    assert_slice_eq(m->ruri.user, "sips%3Auser%40example.com");
    assert_unescaped_eq(m->ruri.user, "sips:user@example.com");
    /* RFC 3261 19.1.4: escaped reserved characters (%3A, %40) are data and
     * differ from the delimiters; the hex digits' case does not matter */
    assert_false(sip_escaped_eq(m->ruri.user, SLICE_LIT("sips:user@example.com"), false));
    assert_true(sip_escaped_eq(m->ruri.user, SLICE_LIT("sips%3auser%40example.com"), false));
    assert_slice_eq(m->ruri.host, "example.net");
    assert_unescaped_eq(m->to.uri.user, "user");
    assert_true(sip_escaped_eq(m->to.uri.user, SLICE_LIT("user"), false));
    assert_unescaped_eq(m->from.uri.user, "I have spaces");
    assert_slice_eq(m->from.tag, "938");
    assert_slice_eq(m->call_id, "esc01.239409asdfakjkn23onasd0-3234");
    assert_slice_eq(sip_msg_hdr(m, SIP_HDR_CONTENT_TYPE)->name, "C");
    struct sip_nameaddr *c = contacts_n(m, 1);
    assert_unescaped_eq(c->uri.user, "caller");
    /* escapes are undone once: %6C%72 is lr, n%61me=v%61lue%25%34%31 is name=value%41 */
    assert_true(c->uri.lr);
    struct sip_param_iter it;
    struct sip_param p;
    sip_param_iter_init(&it, c->uri.params);
    assert_true(sip_param_next(&it, &p));
    assert_unescaped_eq(p.name, "lr");
    assert_slice_absent(p.value);
    assert_true(sip_param_next(&it, &p));
    assert_unescaped_eq(p.name, "name");
    assert_unescaped_eq(p.value, "value%41");
    assert_false(sip_param_next(&it, &p));
    assert_int_equal(m->content_length, 150);
    assert_int_equal(m->body.len, 150);
}

/* checks: method=REGISTER; Contact values=2 (<sip:%00@host5.example.com>,
 * <sip:%00%00@host5.example.com>) and they are NOT equal; Content-Length=0 (L:0) */
static void check_escnull(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    check_common(m);
    assert_int_equal(m->method_id, SIP_METHOD_REGISTER);
    assert_unescaped_eq(m->to.uri.user, "null-\0-null");
    assert_unescaped_eq(m->from.uri.user, "null-\0-null");
    struct sip_nameaddr *c = contacts_n(m, 2);
    assert_slice_eq(c[0].uri_text, "sip:%00@host5.example.com");
    assert_slice_eq(c[1].uri_text, "sip:%00%00@host5.example.com");
    assert_unescaped_eq(c[0].uri.user, "\0");
    assert_unescaped_eq(c[1].uri.user, "\0\0");
    assert_false(sip_uri_eq(&c[0].uri, &c[1].uri));
    assert_false(sip_uri_eq(&c[1].uri, &c[0].uri));
    assert_true(sip_uri_eq(&c[0].uri, &c[0].uri));
    assert_false(sip_escaped_eq(c[0].uri.user, c[1].uri.user, false));
    const struct sip_hdr *cl = sip_msg_hdr(m, SIP_HDR_CONTENT_LENGTH);
    assert_slice_eq(cl->name, "L");
    assert_int_equal(m->content_length, 0);
    assert_int_equal(m->body.len, 0);
}

/* checks: method=RE%47IST%45R; Contact values=2 (alias1, alias3); unknown header C%6Fntact present;
 * Content-Length=0 */
static void check_esc02(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    check_common(m);
    assert_slice_eq(m->method, "RE%47IST%45R");
    assert_int_equal(m->method_id, SIP_METHOD_OTHER);
    assert_slice_eq(m->cseq.method, "RE%47IST%45R");
    assert_slice_eq(m->to.display, "\"%Z%45\"");
    assert_slice_eq(m->from.display, "\"%Z%45\"");
    assert_slice_eq(m->via.branch, "z9hG4bK209%fzsnel234");
    assert_int_equal(m->count[SIP_HDR_CONTACT], 2);
    struct sip_nameaddr *c = contacts_n(m, 2);
    assert_slice_eq(c[0].uri_text, "sip:alias1@host1.example.com");
    assert_slice_eq(c[1].uri_text, "sip:alias3@host3.example.com");
    const struct sip_hdr *h = hdr_named(m, SLICE_LIT("C%6Fntact"));
    assert_int_equal(h->type, SIP_HDR_OTHER);
    assert_slice_eq(h->value, "<sip:alias2@host2.example.com>");
    assert_int_equal(m->content_length, 0);
}

/* checks: method=OPTIONS; From display-name=caller; From URI=sip:caller@example.com; From tag=323
 */
static void check_lwsdisp(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    check_common(m);
    assert_int_equal(m->method_id, SIP_METHOD_OPTIONS);
    assert_slice_eq(m->from.display, "caller");
    assert_true(m->from.bracketed);
    assert_slice_eq(m->from.uri_text, "sip:caller@example.com");
    assert_slice_eq(m->from.uri.user, "caller");
    assert_slice_eq(m->from.uri.host, "example.com");
    assert_slice_eq(m->from.tag, "323");
}

/* checks: method=INVITE; Via values=34 (top sip33.example.com, bottom host.example.com);
 * CSeq=3882340 INVITE; Content-Length=150; total 3515 octets */
static void check_longreq(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    check_common(m);
    assert_int_equal(m->method_id, SIP_METHOD_INVITE);
    assert_int_equal(m->count[SIP_HDR_VIA], 34);
    struct sip_via *via = vias_n(m, 34);
    for (unsigned i = 0; i < 33; i++) {
        char host[32];
        snprintf(host, sizeof(host), "sip%u.example.com", 33 - i);
        check_via(&via[i], "TCP", host, SIP_HOST_NAME, 0);
    }
    check_via(&via[33], "TCP", "host.example.com", SIP_HOST_NAME, 0);
    assert_slice_eq(via[33].received, "192.0.2.5");
    assert_true(slice_has_prefix(via[33].branch, "verylonglong"));
    assert_true(slice_has_suffix(via[33].branch, "longbranchvalue"));
    assert_int_equal(m->cseq.number, 3882340);
    assert_slice_eq(m->cseq.method, "INVITE");
    assert_int_equal(m->content_length, 150);
    assert_int_equal(m->body.len, 150);
    assert_int_equal(m->data.len, 3515);
    assert_int_equal(m->trailing, 0);
    assert_int_equal(m->to.uri.port, 6000);
    assert_true(slice_has_prefix(m->to.display, "\"I have a user name of extremeextreme"));
    assert_true(slice_has_prefix(m->from.tag, "1298298298"));
    assert_true(slice_has_prefix(m->call_id, "longreq.onereallyreally"));
    assert_true(slice_has_suffix(m->call_id, "reallylongcallid"));
    contacts_n(m, 1);
}

/* checks: method=REGISTER; CSeq=8 REGISTER; body=0 octets; 450 trailing octets ignored */
static void check_dblreq(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    check_common(m);
    assert_int_equal(m->method_id, SIP_METHOD_REGISTER);
    assert_int_equal(m->cseq.number, 8);
    assert_slice_eq(m->cseq.method, "REGISTER");
    assert_int_equal(m->content_length, 0);
    assert_int_equal(m->body.len, 0);
    assert_int_equal(m->trailing, 450);
    assert_int_equal(m->data.len, 750 - 450);
    assert_slice_eq(sip_msg_hdr(m, SIP_HDR_CALL_ID)->name, "I");
    struct sip_nameaddr *c = contacts_n(m, 1);
    assert_false(c->bracketed);
    assert_slice_eq(c->uri_text, "sip:j.user@host.example.com");
}

/* checks: ruri user (decoded)=user;par=u@example.net; ruri host=example.com; Accept has 6 values
 * (folded list) */
static void check_semiuri(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    static const char *const accept[] = {
        "application/sdp", "application/pkcs7-mime", "multipart/mixed", "multipart/signed",
        "message/sip",     "message/sipfrag",
    };
    check_common(m);
    assert_unescaped_eq(m->ruri.user, "user;par=u@example.net");
    assert_slice_eq(m->ruri.host, "example.com");
    assert_int_equal(m->ruri.params.len, 0);
    const struct sip_hdr *h = sip_msg_hdr(m, SIP_HDR_ACCEPT);
    assert_non_null(h);
    struct sip_list_iter it;
    struct slice item;
    unsigned n = 0;
    sip_list_iter_init(&it, h->value);
    while (sip_list_next(&it, &item)) {
        assert_in_range(n, 0, 5);
        assert_slice_eq_s(item, slice_from_str(accept[n]));
        n++;
    }
    assert_int_equal(n, 6);
    assert_int_equal(it.empty, 0);
    assert_false(it.bad);
}

/* checks: Via values=5; transports=UDP,SCTP,TLS,UNKNOWN,TCP */
static void check_transports(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    static const char *const transports[] = {"UDP", "SCTP", "TLS", "UNKNOWN", "TCP"};
    check_common(m);
    struct sip_via *via = vias_n(m, 5);
    for (unsigned i = 0; i < 5; i++) {
        char host[32];
        snprintf(host, sizeof(host), "t%u.example.com", i + 1);
        check_via(&via[i], transports[i], host, SIP_HOST_NAME, 0);
    }
    assert_slice_eq(m->call_id, "transports.kijh4akdnaqjkwendsasfdj");
}

/* checks: method=MESSAGE; Content-Length=553; body=553 octets incl. NUL bytes;
 * boundary=7a9cbec02ceef655 */
static void check_mpart01(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    check_common(m);
    assert_int_equal(m->method_id, SIP_METHOD_MESSAGE);
    assert_int_equal(m->content_length, 553);
    assert_int_equal(m->body.len, 553);
    unsigned nuls = 0;
    for (size_t i = 0; i < m->body.len; i++)
        nuls += m->body.p[i] == '\0';
    assert_int_equal(nuls, 2);
    assert_true(slice_has_prefix(m->body, "--7a9cbec02ceef655\r\n"));
    assert_true(slice_has_suffix(m->body, "--7a9cbec02ceef655--\r\n"));
    const struct sip_hdr *ct = sip_msg_hdr(m, SIP_HDR_CONTENT_TYPE);
    assert_non_null(ct);
    const char *semi = memchr(ct->value.p, ';', ct->value.len);
    assert_non_null(semi);
    check_param(slice_make(semi, (size_t)(slice_end(ct->value) - semi)), "boundary",
                "7a9cbec02ceef655");
    check_via(&m->via, "UDP", "127.0.0.1", SIP_HOST_IPV4, 5070);
    assert_true(m->via.rport);
    assert_slice_absent(m->via.rport_value);
}

/* checks: status=200; reason starts with "= 2**3 * 5**2 "; CSeq=35 INVITE; Content-Length=154 */
static void check_unreason(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    check_common(m);
    assert_false(m->is_request);
    assert_int_equal(m->status, 200);
    assert_true(slice_has_prefix(m->reason, "= 2**3 * 5**2 "));
    /* the whole opaque UTF-8 phrase, up to the CRLF */
    assert_true(
        slice_has_suffix(m->reason, "\xd0\xbf\xd1\x80\xd0\xbe\xd1\x81\xd1\x82\xd0\xbe\xd0\xb5"));
    assert_false(slice_has_byte(m->reason, '\r'));
    assert_int_equal(m->cseq.number, 35);
    assert_slice_eq(m->cseq.method, "INVITE");
    assert_int_equal(m->content_length, 154);
    assert_int_equal(m->body.len, 154);
}

/* checks: status=100; reason empty; Content-Length=0 */
static void check_noreason(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    check_common(m);
    assert_false(m->is_request);
    assert_int_equal(m->status, 100);
    assert_non_null(m->reason.p);
    assert_int_equal(m->reason.len, 0);
    assert_int_equal(m->content_length, 0);
}

/* checks: method=INVITE; body=105 octets (everything after the empty line) */
static void check_inv2543(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    check_common(m);
    assert_int_equal(m->method_id, SIP_METHOD_INVITE);
    assert_int_equal(m->content_length, -1);
    assert_int_equal(m->body.len, 105);
    assert_int_equal(m->trailing, 0);
    assert_true(slice_has_prefix(m->body, "v=0\r\n"));
    /* RFC 2543 leftovers: no branch, no From tag, no Max-Forwards */
    assert_slice_absent(m->via.branch);
    assert_slice_absent(m->from.tag);
    assert_int_equal(m->max_forwards, -1);
    assert_non_null(sip_msg_hdr(m, SIP_HDR_RECORD_ROUTE));
}

/* checks: ruri host=2001:db8::10; Via host=2001:db8::9:1; Contact host=2001:db8::1 */
static void check_ipv6_good(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    check_common(m);
    assert_int_equal(m->method_id, SIP_METHOD_REGISTER);
    assert_slice_eq(m->ruri.host, "2001:db8::10");
    assert_int_equal(m->ruri.host_type, SIP_HOST_IPV6);
    assert_int_equal(m->ruri.port, 0);
    check_via(&vias_n(m, 1)[0], "UDP", "2001:db8::9:1", SIP_HOST_IPV6, 0);
    struct sip_nameaddr *c = contacts_n(m, 1);
    assert_slice_eq(c->display, "\"Caller\"");
    assert_slice_eq(c->uri.host, "2001:db8::1");
    assert_int_equal(c->uri.host_type, SIP_HOST_IPV6);
}

/* checks: ruri host=2001:db8::10; ruri port=5070 */
static void check_port_unambiguous(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    check_common(m);
    assert_slice_eq(m->ruri.host, "2001:db8::10");
    assert_int_equal(m->ruri.host_type, SIP_HOST_IPV6);
    assert_int_equal(m->ruri.port, 5070);
    assert_slice_eq(m->ruri.port_str, "5070");
}

/* checks: Via received=2001:db8::9:255 */
static void check_via_received_no_delim(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    check_common(m);
    struct sip_via *via = vias_n(m, 1);
    check_via(via, "UDP", "2001:db8::9:1", SIP_HOST_IPV6, 0);
    assert_slice_eq(via->received, "2001:db8::9:255");
    assert_slice_eq(via->branch, "z9hG4bKas3");
}

/* checks: Content-Length=251 (wire form); body=251 octets */
static void check_ipv6_in_sdp(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    check_common(m);
    assert_int_equal(m->content_length, 251);
    assert_int_equal(m->body.len, 251);
    assert_slice_eq(m->ruri.host, "2001:db8::10");
    assert_slice_eq(m->to.uri.host, "2001:db8::10");
}

/* checks: Via values=3: [2001:db8::9:1]:6050 UDP, 192.0.2.1 UDP, [2001:db8::9:255] TCP with
 * received=192.0.2.200 */
static void check_mult_ip_in_header(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    check_common(m);
    struct sip_via *via = vias_n(m, 3);
    check_via(&via[0], "UDP", "2001:db8::9:1", SIP_HOST_IPV6, 6050);
    assert_slice_eq(via[0].port_str, "6050");
    check_via(&via[1], "UDP", "192.0.2.1", SIP_HOST_IPV4, 0);
    check_via(&via[2], "TCP", "2001:db8::9:255", SIP_HOST_IPV6, 0);
    assert_slice_eq(via[2].received, "192.0.2.200");
    assert_slice_absent(via[0].received);
    assert_slice_absent(via[1].received);
}

/* checks: Content-Length=189 (wire form); body=189 octets */
static void check_mult_ip_in_sdp(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    check_common(m);
    assert_int_equal(m->content_length, 189);
    assert_int_equal(m->body.len, 189);
}

/* checks: top Via host=::ffff:192.0.2.10 port=19823; Content-Length=245 (wire form) */
static void check_ipv4_mapped_ipv6(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    check_common(m);
    struct sip_via *via = vias_n(m, 2);
    check_via(&via[0], "UDP", "::ffff:192.0.2.10", SIP_HOST_IPV6, 19823);
    check_via(&via[1], "UDP", "::ffff:192.0.2.2", SIP_HOST_IPV6, 0);
    assert_int_equal(m->content_length, 245);
    assert_int_equal(m->body.len, 245);
    struct sip_nameaddr *c = contacts_n(m, 1);
    assert_slice_eq(c->display, "\"T. desk phone\"");
    assert_slice_eq(c->uri.host, "::ffff:192.0.2.2");
}

/* checks: ruri host=2001:db8::192.0.2.1 (also what a tolerant parser reads from the 3-colon form)
 */
static void check_ipv6_2_colons(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    check_common(m);
    assert_slice_eq(m->ruri.host, "2001:db8::192.0.2.1");
    assert_int_equal(m->ruri.host_type, SIP_HOST_IPV6);
}

/* ---------------------------------------------------------------- trap rows */

/* checks: Via branch=z9hG4bK */
static void check_badbranch(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    check_common(m);
    assert_slice_eq(m->via.branch, "z9hG4bK");
}

/* checks: ruri scheme=nobodyKnowsThisScheme */
static void check_unkscm(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    check_common(m);
    assert_slice_eq(m->ruri.scheme, "nobodyKnowsThisScheme");
    assert_int_equal(m->ruri.scheme_id, SIP_URI_OTHER);
    assert_slice_eq(m->ruri.opaque, "totallyopaquecontent");
}

/* checks: ruri scheme=soap.beep */
static void check_novelsc(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    check_common(m);
    assert_slice_eq(m->ruri.scheme, "soap.beep");
    assert_int_equal(m->ruri.scheme_id, SIP_URI_OTHER);
    assert_slice_eq(m->ruri.opaque, "//192.0.2.103:3002");
}

/* no checks; the schemes are above the parser, which must only carry them */
static void check_unksm2(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    check_common(m);
    assert_int_equal(m->to.uri.scheme_id, SIP_URI_OTHER);
    assert_slice_eq(m->to.uri.scheme, "isbn");
    assert_int_equal(m->from.uri.scheme_id, SIP_URI_OTHER);
    assert_slice_eq(m->from.uri.scheme, "http");
    struct sip_nameaddr *c = contacts_n(m, 1);
    assert_slice_eq(c->uri.scheme, "name");
    assert_slice_eq(c->uri.opaque, "John_Smith");
}

/* expected: 420 with Unsupported listing noProxiesSupportThis, norDoAnyProxiesSupportThis */
static void check_bext01(struct sip_msg *m, const struct sip_verdict *v)
{
    check_common(m);
    assert_int_equal(v->code, 420);
    assert_string_equal(v->unsupported, "noProxiesSupportThis, norDoAnyProxiesSupportThis");
}

/* checks: Content-Type=application/unknownformat; Content-Length=40 */
static void check_invut(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    check_common(m);
    assert_slice_eq(sip_msg_hdr(m, SIP_HDR_CONTENT_TYPE)->value, "application/unknownformat");
    assert_int_equal(m->content_length, 40);
    assert_int_equal(m->body.len, 40);
}

/* expected: forwarded with Authorization unmodified: carried, not decoded as Digest */
static void check_regaut01(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    const char *why = NULL;
    check_common(m);
    assert_int_equal(sip_msg_auth(m, false, &why), 0);
    assert_false(m->has_auth);
    struct sip_digest d;
    assert_int_equal(sip_digest_parse(&d, sip_msg_hdr(m, SIP_HDR_AUTHORIZATION)->value, &why), 0);
    assert_slice_eq(d.scheme, "NoOneKnowsThisScheme");
    assert_slice_eq(d.params, "opaque-data=here");
}

/* checks: status=200; Via values=2 */
static void check_bcast(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    check_common(m);
    assert_false(m->is_request);
    assert_int_equal(m->status, 200);
    struct sip_via *via = vias_n(m, 2);
    check_via(&via[1], "UDP", "255.255.255.255", SIP_HOST_IPV4, 0);
}

/* checks: Max-Forwards=0. The 483 is the route pipeline's decision (sip.h: "Max-Forwards and
 * routing decisions are left to the route pipeline"), so the sanity verdict accepts. */
static void check_zeromf(struct sip_msg *m, const struct sip_verdict *v)
{
    check_common(m);
    assert_int_equal(v->action, SIP_ACCEPT);
    assert_int_equal(m->max_forwards, 0);
}

/* checks: Contact URI=sip:+19725552222@gw1.example.net; contact-param unknownparam present */
static void check_cparam01(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    check_common(m);
    struct sip_nameaddr *c = contacts_n(m, 1);
    assert_false(c->bracketed);
    assert_slice_eq(c->uri_text, "sip:+19725552222@gw1.example.net");
    assert_int_equal(c->uri.params.len, 0);
    check_param(c->params, "unknownparam", NULL);
}

/* checks: Contact URI=sip:+19725552222@gw1.example.net;unknownparam; no contact-params */
static void check_cparam02(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    check_common(m);
    struct sip_nameaddr *c = contacts_n(m, 1);
    assert_true(c->bracketed);
    assert_slice_eq(c->uri_text, "sip:+19725552222@gw1.example.net;unknownparam");
    assert_slice_eq(c->uri.params, ";unknownparam");
    assert_int_equal(c->params.len, 0);
}

/* checks: Contact URI headers: Route=<sip:sip.example.com> (escaped) */
static void check_regescrt(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    check_common(m);
    assert_slice_eq(sip_msg_hdr(m, SIP_HDR_CONTACT)->name, "M");
    struct sip_nameaddr *c = contacts_n(m, 1);
    assert_slice_eq(c->uri.headers, "Route=%3Csip:sip.example.com%3E");
    assert_unescaped_eq(c->uri.headers, "Route=<sip:sip.example.com>");
    assert_slice_eq(c->uri.host, "example.com");
}

/* checks: ruri host=2001:db8::10:5070; ruri port absent */
static void check_port_ambiguous(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    check_common(m);
    assert_slice_eq(m->ruri.host, "2001:db8::10:5070");
    assert_int_equal(m->ruri.host_type, SIP_HOST_IPV6);
    assert_int_equal(m->ruri.port, 0);
    assert_slice_absent(m->ruri.port_str);
}

/* checks: Via received=2001:db8::9:255 (bracketed in the message) */
static void check_via_received_delim(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    check_common(m);
    struct sip_via *via = vias_n(m, 1);
    assert_slice_eq(via->received, "2001:db8::9:255");
    assert_slice_eq(via->branch, "z9hG4bKas3-111");
}

/* ---------------------------------------------------------------- liberal readings of invalid rows
 */

/* Run only when the parser accepted an invalid message under a liberal
 * alternative the manifest allows: the defect must not survive. */
static void check_no_space_in_request_line(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    assert_false(slice_has_byte(m->ruri_text, ' '));
    assert_slice_eq(m->version, "SIP/2.0");
}

static void check_no_brackets_in_ruri(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    assert_false(slice_has_byte(m->ruri_text, '<'));
    assert_false(slice_has_byte(m->ruri_text, '>'));
}

static void check_no_space_in_to_uri(struct sip_msg *m, const struct sip_verdict *v)
{
    (void)v;
    assert_false(slice_has_byte(m->to.uri_text, ' '));
}

/* ---------------------------------------------------------------- the table */

enum { ACCEPT = 1u << 0, DROP = 1u << 1, REPLY = 1u << 2 };

typedef void check_fn(struct sip_msg *m, const struct sip_verdict *v);

struct torture_case {
    const char *name;
    const char *kind;  /* as the manifest says; a change of kind must be looked at */
    bool must_parse;   /* sip_msg_parse() must return 0 */
    unsigned allow;    /* verdicts that pass */
    unsigned codes[2]; /* reply codes that pass when REPLY is allowed */
    check_fn *check;   /* run whenever the parse succeeded */
};

#define VALID   "valid"
#define INVALID "invalid"
#define TRAP    "valid-but-semantic-trap"

static const struct torture_case cases[] = {
    /* "parse; proxy must accept and forward" */
    {"wsinv", VALID, true, ACCEPT, {0, 0}, check_wsinv},
    /* "a proxy forwards it if it can route the R-URI": routing is not the verdict's job */
    {"intmeth", VALID, true, ACCEPT, {0, 0}, check_intmeth},
    /* "parse; proxy accepts and forwards" */
    {"esc01", VALID, true, ACCEPT, {0, 0}, check_esc01},
    /* "REGISTER carries two distinct contact bindings" */
    {"escnull", VALID, true, ACCEPT, {0, 0}, check_escnull},
    /* "proxy routes on the R-URI or rejects by policy; a UAS answers 501": a proxy, so accept */
    {"esc02", VALID, true, ACCEPT, {0, 0}, check_esc02},
    /* "parse; accept (RFC 3261 grammar demands LWS before <, recognised as a spec bug)" */
    {"lwsdisp", VALID, true, ACCEPT, {0, 0}, check_lwsdisp},
    /* "parse; accept; no fixed-size buffers or header-count limits that truncate" */
    {"longreq", VALID, true, ACCEPT, {0, 0}, check_longreq},
    /* "parse the REGISTER only; over UDP everything after the Content-Length:0 body is ignored" */
    {"dblreq", VALID, true, ACCEPT, {0, 0}, check_dblreq},
    /* "parse; accept" */
    {"semiuri", VALID, true, ACCEPT, {0, 0}, check_semiuri},
    /* "treat unknown transport UNKNOWN as an opaque extension token" */
    {"transports", VALID, true, ACCEPT, {0, 0}, check_transports},
    /* "frame the body strictly by Content-Length (553); forward body byte-for-byte" */
    {"mpart01", VALID, true, ACCEPT, {0, 0}, check_mpart01},
    /* "parse response; reason phrase is opaque UTF-8 text; proxy forwards it unchanged" */
    {"unreason", VALID, true, ACCEPT, {0, 0}, check_unreason},
    /* "parse response; empty reason phrase is legal" */
    {"noreason", VALID, true, ACCEPT, {0, 0}, check_noreason},
    /* "reply 400 Bad Request" (Via ;;,;,, and Contact ;;;;) */
    {"badinv01", INVALID, false, REPLY, {400, 0}, NULL},
    /* "reject: Content-Length larger than body; UDP: reply 400" */
    {"clerr", INVALID, false, REPLY, {400, 0}, NULL},
    /* "reply 400 (negative Content-Length)" */
    {"ncl", INVALID, false, REPLY, {400, 0}, NULL},
    /* "reply 400 because CSeq exceeds 2^32-1" */
    {"scalar02", INVALID, false, REPLY, {400, 0}, NULL},
    /* "drop the response silently (do not forward)" */
    {"scalarlg", INVALID, false, DROP, {0, 0}, NULL},
    /* "reply 400 Bad Request (a liberal element may infer the closing quote only when unambiguous)"
     */
    {"quotbal", INVALID, false, REPLY | ACCEPT, {400, 0}, NULL},
    /* "reply 400 Bad Request (liberal: strip the brackets, but never forward them)" */
    {"ltgtruri", INVALID, false, REPLY | ACCEPT, {400, 0}, check_no_brackets_in_ruri},
    /* "reply 400 Bad Request" */
    {"lwsruri", INVALID, false, REPLY, {400, 0}, NULL},
    /* "reply 400, or (liberal) ignore the extra SPs; a forwarded request must not contain them" */
    {"lwsstart", INVALID, false, REPLY | ACCEPT, {400, 0}, check_no_space_in_request_line},
    /* "reply 400, or (liberal) ignore the trailing SPs" */
    {"trws", INVALID, false, REPLY | ACCEPT, {400, 0}, check_no_space_in_request_line},
    /* "reply 400, or (liberal) drop the escaped headers; a proxy must never forward ?Route=...":
     * the verdict cannot drop them (sip_build_request copies the R-URI), so only 400 */
    {"escruri", INVALID, false, REPLY, {400, 0}, NULL},
    /* "reject (400) only if the Date value matters to processing; otherwise ignore it" */
    {"baddate", INVALID, false, ACCEPT | REPLY, {400, 0}, NULL},
    /* "reply 400 Bad Request (liberal: infer the <> since it is unambiguous here)" */
    {"regbadct", INVALID, false, REPLY | ACCEPT, {400, 0}, NULL},
    /* "reply 400 Bad Request; must not crash (liberal: ignore the spaces)" */
    {"badaspec", INVALID, false, REPLY | ACCEPT, {400, 0}, check_no_space_in_to_uri},
    /* "reply 400 Bad Request; a liberal proxy must not propagate the unquoted names" */
    {"baddn", INVALID, false, REPLY, {400, 0}, NULL},
    /* "reply 505 Version Not Supported (SIP/7.0)" */
    {"badvers", INVALID, false, REPLY, {505, 0}, NULL},
    /* "reply 400 Bad Request" (CSeq method INVITE on an OPTIONS) */
    {"mismatch01", INVALID, false, REPLY, {400, 0}, NULL},
    /* "reply 501 Not Implemented (preferred, esp. at proxies); 400 also acceptable" */
    {"mismatch02", INVALID, false, REPLY, {501, 400}, NULL},
    /* "drop the response (status code > 699); never forward" */
    {"bigcode", INVALID, false, DROP, {0, 0}, NULL},
    /* "parse; reply 400 (preferably statelessly) or fall back to RFC 2543-style matching" */
    {"badbranch", TRAP, true, REPLY | ACCEPT, {400, 0}, check_badbranch},
    /* "reply 400 Bad Request (missing Call-ID, From, To)"; a parser-level reject is fine */
    {"insuf", TRAP, false, REPLY, {400, 0}, NULL},
    /* "reply 416 Unsupported URI Scheme; never route using the To header" */
    {"unkscm", TRAP, true, REPLY, {416, 0}, check_unkscm},
    /* "reply 416 if the scheme is never acceptable, otherwise 404 for unaccepted URIs" */
    {"novelsc", TRAP, true, REPLY, {416, 404}, check_novelsc},
    /* "proxy treats it like any request to this R-URI"; the registrar's 400 is decided above */
    {"unksm2", TRAP, true, ACCEPT, {0, 0}, check_unksm2},
    /* "proxy: reply 420 Bad Extension with Unsupported listing the Proxy-Require tags" */
    {"bext01", TRAP, true, REPLY, {420, 0}, check_bext01},
    /* "proxy forwards like any INVITE; a UAS would reply 415" */
    {"invut", TRAP, true, ACCEPT, {0, 0}, check_invut},
    /* "proxy forwards the REGISTER with the Authorization header unmodified" */
    {"regaut01", TRAP, true, ACCEPT, {0, 0}, check_regaut01},
    /* "reply 400 Bad Request; must not crash" (two Call-ID, To, From, Max-Forwards, CSeq) */
    {"multi01", TRAP, false, REPLY, {400, 0}, NULL},
    /* "reply 400 (conflicting Content-Length 13 and 5 means framing is unknown)" */
    {"mcl01", TRAP, false, REPLY, {400, 0}, NULL},
    /* "proxy must drop the response (second Via sent-by is 255.255.255.255)" */
    {"bcast", TRAP, true, DROP, {0, 0}, check_bcast},
    /* "proxy: do not forward, reply 483 Too Many Hops": the route pipeline's job, the
     * sanity verdict accepts and keeps Max-Forwards 0 for it (see check_zeromf) */
    {"zeromf", TRAP, true, ACCEPT, {0, 0}, check_zeromf},
    /* "parse: unknownparam is a Contact header param (no <>), not a URI param" */
    {"cparam01", TRAP, true, ACCEPT, {0, 0}, check_cparam01},
    /* "parse: unknownparam is a URI param (inside <>)" */
    {"cparam02", TRAP, true, ACCEPT, {0, 0}, check_cparam02},
    /* "parse; registrar: 200 and the stored contact keeps the escaped ?Route= header" */
    {"regescrt", TRAP, true, ACCEPT, {0, 0}, check_regescrt},
    /* "proxy forwards; a UAS would reply 406 Not Acceptable" */
    {"sdp01", TRAP, true, ACCEPT, {0, 0}, NULL},
    /* "parse and accept for RFC 2543 compatibility" */
    {"inv2543", VALID, true, ACCEPT, {0, 0}, check_inv2543},
    /* "reply 400 or drop: request line lacks SIP-Version and ... has no colon" */
    {"test", INVALID, false, REPLY | DROP, {400, 0}, NULL},
    /* "parse; accept" */
    {"ipv6-good", VALID, true, ACCEPT, {0, 0}, check_ipv6_good},
    /* "reply 400 Bad Request" (IPv6 R-URI without [ ]) */
    {"ipv6-bad", INVALID, false, REPLY, {400, 0}, NULL},
    /* "parse; host is the IPv6 address 2001:db8::10:5070 with no port" */
    {"port-ambiguous", TRAP, true, ACCEPT, {0, 0}, check_port_ambiguous},
    /* "parse; accept" */
    {"port-unambiguous", VALID, true, ACCEPT, {0, 0}, check_port_unambiguous},
    /* "parse the top Via and continue processing although received=[...] has brackets" */
    {"via-received-param-with-delim", TRAP, true, ACCEPT, {0, 0}, check_via_received_delim},
    /* "parse; accept" */
    {"via-received-param-no-delim", VALID, true, ACCEPT, {0, 0}, check_via_received_no_delim},
    /* "parse; accept; forward the SDP unchanged" */
    {"ipv6-in-sdp", VALID, true, ACCEPT, {0, 0}, check_ipv6_in_sdp},
    /* "parse; accept" */
    {"mult-ip-in-header", VALID, true, ACCEPT, {0, 0}, check_mult_ip_in_header},
    /* "parse; accept" */
    {"mult-ip-in-sdp", VALID, true, ACCEPT, {0, 0}, check_mult_ip_in_sdp},
    /* "parse; accept" */
    {"ipv4-mapped-ipv6", VALID, true, ACCEPT, {0, 0}, check_ipv4_mapped_ipv6},
    /* "reply 400, or (robustness per RFC 5118) read it as 2001:db8::192.0.2.1" */
    {"ipv6-bug-abnf-3-colons", INVALID, false, REPLY | ACCEPT, {400, 0}, check_ipv6_2_colons},
    /* "parse; accept" */
    {"ipv6-correct-abnf-2-colons", VALID, true, ACCEPT, {0, 0}, check_ipv6_2_colons},
};

#define CASE_COUNT (sizeof(cases) / sizeof(cases[0]))

static const struct torture_case *case_find(const char *name)
{
    for (size_t i = 0; i < CASE_COUNT; i++)
        if (!strcmp(cases[i].name, name))
            return &cases[i];
    return NULL;
}

/* ---------------------------------------------------------------- the tests */

struct row_state {
    const struct manifest_row *row;
    const struct torture_case *tc;
    const struct manifest *manifest;
};

static const char *action_name(enum sip_action a)
{
    return a == SIP_ACCEPT ? "accept" : a == SIP_REPLY ? "reply" : "drop";
}

static bool verdict_allowed(const struct torture_case *tc, const struct sip_verdict *v)
{
    switch (v->action) {
    case SIP_ACCEPT:
        return (tc->allow & ACCEPT) != 0;
    case SIP_DROP:
        return (tc->allow & DROP) != 0;
    case SIP_REPLY:
        return (tc->allow & REPLY) && (v->code == tc->codes[0] || v->code == tc->codes[1]);
    }
    return false;
}

static char *read_row_file(const struct manifest_row *row, size_t *len)
{
    char path[1024];

    snprintf(path, sizeof(path), "%s/%s", SIPD_TORTURE_DIR, row->file);
    char *data = test_read_file(path, len);
    if (!data) {
        print_error("cannot read %s\n", path);
        fail();
    }
    return data;
}

static void test_row(void **state)
{
    const struct row_state *rs = *state;
    const struct manifest_row *row = rs->row;
    const struct torture_case *tc = rs->tc;

    if (!tc) {
        print_error("manifest row '%s' (%s) has no entry in the table of torture_test.c\n",
                    row->name, row->file);
        fail();
    }
    if (strcmp(tc->kind, row->kind) != 0) {
        print_error("%s: the manifest says kind '%s', the table '%s'\n", row->name, row->kind,
                    tc->kind);
        fail();
    }
    size_t len = 0;
    char *data = read_row_file(row, &len);
    assert_int_equal(len, strtoul(row->bytes, NULL, 10));

    char first[4096];
    struct arena arena;
    struct sip_msg msg;
    struct sip_error err;
    struct sip_verdict v;
    arena_init(&arena, first, sizeof(first), 1u << 20);
    int ret = sip_msg_parse(&msg, &arena, data, len, NULL, 0, &err);
    sip_sanity(&msg, ret, &err, NULL, &v);
    if (tc->must_parse && ret != 0) {
        print_error("%s: parse failed: %d %s (%s) at offset %zu\n", row->name, ret,
                    err.reason ? err.reason : "", err.detail ? err.detail : "", err.offset);
        fail();
    }
    if (ret != 0) {
        assert_non_null(err.reason);
        assert_true(err.offset <= len);
    }
    if (!verdict_allowed(tc, &v)) {
        print_error("%s: verdict %s %u \"%s\" is not what the manifest expects: %s\n"
                    "    (parse %d: %s)\n",
                    row->name, action_name(v.action), v.code, v.reason ? v.reason : "",
                    row->expected, ret, ret ? err.reason : "ok");
        fail();
    }
    if (v.action == SIP_REPLY)
        assert_non_null(v.reason);
    if (ret == 0 && tc->check)
        tc->check(&msg, &v);
    arena_free(&arena);
    free(data);
}

static void test_manifest_loads(void **state)
{
    const struct manifest *m = *state;

    if (m->error) {
        print_error("%s\n", m->error);
        fail();
    }
    /* RFC 4475: 49 messages + test.dat; RFC 5118: 12 */
    assert_true(m->n >= 62);
}

/* A table entry whose row disappeared (or was renamed) is stale. */
static void test_table_entries_have_rows(void **state)
{
    const struct manifest *m = *state;

    assert_null(m->error);
    for (size_t i = 0; i < CASE_COUNT; i++) {
        bool found = false;
        for (size_t r = 0; r < m->n && !found; r++)
            found = !strcmp(m->rows[r].name, cases[i].name);
        if (!found) {
            print_error("table entry '%s' has no manifest row\n", cases[i].name);
            fail();
        }
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(cases[i].name, cases[j].name);
    }
}

/*
 * Every prefix of every message, each in a buffer of exactly that size:
 * the parser, the lazy decoders, the verdict, the reply builder and the
 * stream framer must neither crash nor read past the end (the sanitizer
 * builds catch that), and the framer must never claim more than it has.
 */
static void test_every_prefix(void **state)
{
    const struct manifest *m = *state;

    assert_null(m->error);
    for (size_t r = 0; r < m->n; r++) {
        size_t len = 0;
        char *data = read_row_file(&m->rows[r], &len);
        for (size_t k = 0; k <= len; k++) {
            char *buf = malloc(k ? k : 1);
            assert_non_null(buf);
            memcpy(buf, data, k);
            struct arena arena;
            struct sip_msg msg;
            struct sip_error err;
            struct sip_verdict v;
            const char *why;
            arena_init(&arena, NULL, 0, 1u << 20);
            int ret = sip_msg_parse(&msg, &arena, buf, k, NULL, 0, &err);
            assert_true(ret == 0 || ret == EBADMSG || ret == EMSGSIZE);
            if (ret)
                assert_true(err.offset <= k);
            else
                assert_true(slice_end(msg.data) <= buf + k);
            sip_sanity(&msg, ret, &err, NULL, &v);
            if (msg.headers_ok) {
                (void)sip_msg_vias(&msg, &why);
                (void)sip_msg_contacts(&msg, &why);
                (void)sip_msg_expires(&msg, &why);
                (void)sip_msg_auth(&msg, false, &why);
                (void)sip_msg_auth(&msg, true, &why);
            }
            if (msg.is_request && msg.headers_ok) {
                char out[8192];
                struct sip_buf b = {out, 0, sizeof(out)};
                assert_int_equal(sip_build_reply(&b, &msg, 400, SLICE_NULL, NULL), 0);
            }
            size_t skip = 0, msg_len = 0;
            int fr = sip_stream_frame(buf, k, NULL, &skip, &msg_len, &err);
            assert_true(fr == 0 || fr == ENODATA || fr == EBADMSG || fr == EMSGSIZE);
            if (fr == 0)
                assert_true(skip + msg_len <= k);
            arena_free(&arena);
            free(buf);
        }
        free(data);
    }
}

/* README, "Stream transports": clerr waits for more data, ncl and mcl01 lose
 * framing, and a message without Content-Length (inv2543) is not acceptable. */
static void test_stream_rows(void **state)
{
    static const struct {
        const char *name;
        int want;
    } rows[] = {
        {"clerr", ENODATA}, {"ncl", EBADMSG}, {"mcl01", EBADMSG}, {"inv2543", EBADMSG},
        {"wsinv", 0},       {"mpart01", 0},   {"dblreq", 0},
    };
    const struct manifest *m = *state;

    assert_null(m->error);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct manifest_row *row = NULL;
        for (size_t r = 0; r < m->n; r++)
            if (!strcmp(m->rows[r].name, rows[i].name))
                row = &m->rows[r];
        if (!row) {
            print_error("no manifest row '%s'\n", rows[i].name);
            fail();
            return;
        }
        size_t len = 0, skip = 0, msg_len = 0; /* gcc -O3 cannot see read_row_file() set it */
        struct sip_error err;
        char *data = read_row_file(row, &len);
        int ret = sip_stream_frame(data, len, NULL, &skip, &msg_len, &err);
        if (ret != rows[i].want) {
            print_error("%s: sip_stream_frame gave %d (%s), want %d\n", row->name, ret,
                        err.reason ? err.reason : "", rows[i].want);
            fail();
        }
        if (ret == 0) {
            struct test_msg t;
            assert_int_equal(skip, 0);
            assert_int_equal(test_msg_parse_n(&t, data, msg_len, NULL, SIP_PARSE_STREAM), 0);
            assert_int_equal(t.msg.trailing, 0);
            assert_int_equal(t.msg.data.len, msg_len);
            test_msg_free(&t);
        }
        free(data);
    }
}

int main(void)
{
    struct manifest m;
    manifest_load(&m);

    enum { FIXED = 4 };
    size_t n = FIXED + m.n;
    struct CMUnitTest *tests = calloc(n, sizeof(*tests));
    struct row_state *states = calloc(m.n + 1, sizeof(*states));
    if (!tests || !states)
        return 1;
    tests[0] = (struct CMUnitTest){"manifest_loads", test_manifest_loads, NULL, NULL, &m};
    tests[1] = (struct CMUnitTest){"table_entries_have_rows", test_table_entries_have_rows, NULL,
                                   NULL, &m};
    tests[2] = (struct CMUnitTest){"every_prefix", test_every_prefix, NULL, NULL, &m};
    tests[3] = (struct CMUnitTest){"stream_rows", test_stream_rows, NULL, NULL, &m};
    for (size_t i = 0; i < m.n; i++) {
        states[i] = (struct row_state){&m.rows[i], case_find(m.rows[i].name), &m};
        tests[FIXED + i] = (struct CMUnitTest){m.rows[i].name, test_row, NULL, NULL, &states[i]};
    }
    int failed = _cmocka_run_group_tests("sip_torture", tests, n, NULL, NULL);
    free(states);
    free(tests);
    manifest_free(&m);
    return failed;
}
