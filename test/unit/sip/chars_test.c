/* chars_test.c: the character classes of src/sip/chars.c and the fast paths of its scanners. */
#include "../test_util.h"

#include "sip/sip_int.h"

/*
 * The fast paths (16-byte host classification, pshufb class runs, the
 * SSSE3 build of sip_scan_params) must give exactly what the byte-by-byte
 * paths give. Each case is copied to the end of an exact-size heap buffer,
 * so that ASan catches a read past 'lim', and tried with the run ending at
 * 15, 16, 17, 31, 32, 33, 63, 64 and 65 bytes and with lim at end and past it.
 */

static const size_t boundary_lengths[] = {0, 1, 3, 4, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65};

/* bytes that end a run: delimiters, LWS, NUL, bytes >= 0x80 */
static const unsigned char stop_bytes[] = {';',  ',',  '=',  '"', '<',  '>',  '?',  ' ',
                                           '\t', '\r', '\n', 0,   0x7f, 0x80, 0xc3, 0xff};

/* A heap copy of n bytes, exactly n long. */
static char *exact_copy(const char *bytes, size_t n)
{
    char *b = malloc(n ? n : 1);
    assert_non_null(b);
    if (n)
        memcpy(b, bytes, n);
    return b;
}

/* The members of a class in byte order, as a string. */
static size_t class_members(unsigned cls, char *out)
{
    size_t n = 0;
    for (int b = 1; b < 256; b++)
        if (cc_is((char)b, cls))
            out[n++] = (char)b;
    return n;
}

static void test_nibble_tables(void **state)
{
    static const struct {
        enum sip_nibble_class nib;
        unsigned cls;
    } classes[] = {{SIP_NIB_TOKEN, CC_TOKEN}, {SIP_NIB_PVAL, CC_PVAL}};
    (void)state;
    for (size_t c = 0; c < sizeof(classes) / sizeof(classes[0]); c++) {
        const uint8_t *lo = sip_nibble_lo[classes[c].nib];
        for (unsigned b = 0; b < 256; b++) {
            unsigned row = b >> 4;
            bool in = row >= 2 && row <= 7 && ((lo[b & 15] >> (row - 2)) & 1);
            if (in != cc_is((char)b, classes[c].cls)) {
                print_error("class %zu, byte 0x%02x: nibble table says %d\n", c, b, in);
                fail();
            }
        }
    }
}

#if defined(SIP_NIBBLE_SCAN)
/* skip_nibble() is compiled for SSSE3: called only where the CPU has it. */
static void check_run(const char *members, size_t nmembers, unsigned cls, enum sip_nibble_class nib)
{
    char text[256];

    for (size_t li = 0; li < sizeof(boundary_lengths) / sizeof(boundary_lengths[0]); li++) {
        size_t n = boundary_lengths[li];
        for (size_t si = 0; si < sizeof(stop_bytes) / sizeof(stop_bytes[0]); si++) {
            for (size_t tail = 0; tail <= 20; tail += 5) {
                /* run, stop byte, then more class bytes that lie past the stop */
                size_t len = 0;
                for (size_t i = 0; i < n; i++)
                    text[len++] = members[(i * 7 + li) % nmembers];
                text[len++] = (char)stop_bytes[si];
                for (size_t i = 0; i < tail; i++)
                    text[len++] = members[i % nmembers];
                char *buf = exact_copy(text, len);
                const char *lim = buf + len;
                /* end after the stop byte, and end at the stop byte */
                for (size_t e = n; e <= n + 1; e++) {
                    const char *want = skip_class(buf, buf + e, cls);
                    const char *got = skip_nibble(buf, buf + e, lim, sip_nibble_lo[nib], cls);
                    if (got != want) {
                        print_error("run %zu, stop 0x%02x, end %zu: got %td, want %td\n", n,
                                    stop_bytes[si], e, got - buf, want - buf);
                        fail();
                    }
                    /* lim == end: what a buffer that ends with the run allows */
                    got = skip_nibble(buf, buf + e, buf + e, sip_nibble_lo[nib], cls);
                    assert_ptr_equal(got, want);
                }
                free(buf);
            }
        }
        /* end inside a longer run: a whole block in the class reaches past it */
        size_t len = 0;
        for (size_t i = 0; i < n + 40; i++)
            text[len++] = members[(i * 5 + li) % nmembers];
        char *buf = exact_copy(text, len);
        for (size_t e = n; e <= n + 1; e++) {
            const char *got = skip_nibble(buf, buf + e, buf + len, sip_nibble_lo[nib], cls);
            if (got != buf + e) {
                print_error("run of %zu, end %zu: got %td\n", n + 40, e, got - buf);
                fail();
            }
        }
        free(buf);
    }
}
#endif

static void test_nibble_runs(void **state)
{
    (void)state;
#if defined(SIP_NIBBLE_SCAN)
    if (!sip_cpu_has_ssse3()) {
        skip();
        return;
    }
    char members[256];
    size_t n = class_members(CC_TOKEN, members);
    check_run(members, n, CC_TOKEN, SIP_NIB_TOKEN);
    n = class_members(CC_PVAL, members);
    check_run(members, n, CC_PVAL, SIP_NIB_PVAL);
#else
    skip();
#endif
}

/* sip_scan_host_in() against sip_scan_host() with nothing readable past end
 * (its byte-by-byte path for hosts under 16 bytes). */
static void check_host(const char *host, size_t hlen, unsigned char stop)
{
    char text[160];
    static const size_t tails[] = {0, 1, 16, 40};

    memcpy(text, host, hlen);
    for (size_t ti = 0; ti < sizeof(tails) / sizeof(tails[0]); ti++) {
        size_t len = hlen;
        text[len++] = (char)stop;
        for (size_t i = 0; i < tails[ti]; i++)
            text[len++] = 'a';
        char *buf = exact_copy(text, len);
        for (size_t e = hlen; e <= hlen + 1; e++) {
            struct slice h1 = SLICE_NULL, h2 = SLICE_NULL;
            uint8_t t1 = 0xee, t2 = 0xee;
            char *ref = exact_copy(buf, e); /* nothing readable past end */
            const char *want = sip_scan_host(ref, ref + e, ref + e, &h1, &t1);
            const char *got = sip_scan_host_in(buf, buf + e, buf + len, &h2, &t2);
            if ((want == NULL) != (got == NULL) ||
                (want && (got - buf != want - ref || h2.len != h1.len || t1 != t2))) {
                print_error("host \"%.*s\" stop 0x%02x end %zu tail %zu: got %td type %u, "
                            "want %td type %u\n",
                            (int)hlen, host, stop, e, tails[ti], got ? got - buf : -1, t2,
                            want ? want - ref : -1, t1);
                fail();
            }
            free(ref);
        }
        free(buf);
    }
}

static void test_host_fast_path(void **state)
{
    static const char *const hosts[] = {
        "a",
        "example.com",
        "example.com.",
        "a-b.c",
        "a_b.example.com",
        "-a.com",
        "a-.com",
        "a.-b",
        "a..b",
        ".a.b",
        "a.b-",
        "a.b.",
        "1.2.3.4",
        "192.0.2.10",
        "255.255.255.255",
        "256.1.1.1",
        "1.2.3",
        "1.2.3.4.5",
        "1..2.3",
        "1.2.3.",
        ".1.2.3",
        "1234.1.1.1",
        "01.02.03.04",
        "1.2.3.4a",
        "a1.2.3.4",
        "[::1]",
        "[2001:db8::1]",
        "[::1",
        "",
        "x",
        "abcdefghijklmn",
        "abcdefghijklmno",
        "abcdefghijklmnop",
        "abcdefghijklmnopq",
        "abcdefghij.klmno-",
        "abcdefghij.klmn-.",
        "abcdefghijklmn.-",
        "sub.domain.example.net",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.bc",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b-",
        "111.111.111.11",
        "111.111.111.111",
        "1.1.1.1111",
    };
    static const unsigned char stops[] = {':', ';', '>', ',', ' ', 0, 0x80, 0xff, '.', '-'};
    (void)state;
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++)
        for (size_t s = 0; s < sizeof(stops) / sizeof(stops[0]); s++)
            check_host(hosts[i], strlen(hosts[i]), stops[s]);
}

/* sip_scan_params_generic() and, where the CPU has SSSE3, the SSSE3 build:
 * the same verdict, reason, values, run and stop on every case. */
static void check_params(const char *text, size_t len, bool list)
{
    static const struct sip_param_want want[] = {
        SIP_WANT("branch"),
        SIP_WANT("received"),
        SIP_WANT("rport"),
        SIP_WANT("tag"),
    };
    enum { NWANT = sizeof(want) / sizeof(want[0]) };
    char *buf = exact_copy(text, len);

    for (size_t e = 0; e <= len; e++) {
        struct slice f1[NWANT], f2[NWANT], p1 = SLICE_NULL, p2 = SLICE_NULL;
        const char *s1 = NULL, *s2 = NULL, *r1 = NULL, *r2 = NULL;
        for (size_t i = 0; i < NWANT; i++)
            f1[i] = f2[i] = SLICE_NULL;
        /* the reference reads nothing past end */
        char *ref = exact_copy(buf, e);
        int e1 =
            sip_scan_params_generic(ref, ref + e, ref + e, list, want, NWANT, f1, &p1, &s1, &r1);
        int e2 = sip_scan_params(buf, buf + e, buf + len, list, want, NWANT, f2, &p2, &s2, &r2);
        if (e1 != e2 || (!e1 && s1 - ref != s2 - buf))
            print_error("params \"%.*s\" end %zu list %d: %d/%d, stop %td/%td\n", (int)len, text, e,
                        list, e1, e2, e1 ? 0 : s1 - ref, e2 ? 0 : s2 - buf);
        assert_int_equal(e1, e2);
        if (e1) {
            assert_string_equal(r1, r2);
        } else {
            assert_int_equal(s1 - ref, s2 - buf);
            assert_int_equal(p1.p - ref, p2.p - buf);
            assert_int_equal(p1.len, p2.len);
            for (size_t i = 0; i < NWANT; i++) {
                assert_int_equal(slice_present(f1[i]), slice_present(f2[i]));
                if (slice_present(f1[i])) {
                    assert_int_equal(f1[i].p - ref, f2[i].p - buf);
                    assert_int_equal(f1[i].len, f2[i].len);
                }
            }
        }
        free(ref);
    }
    free(buf);
}

/* check_params() with bytes after the text up to lim, as in a message:
 * every end takes the SSSE3 fast path, and the bytes past end (a token
 * run, then delimiters) must not change what it finds. */
static void check_params_padded(const char *text, size_t len, bool list)
{
    static const char pad[] = "abc=def;tag=1,x;branch=2\r\n\r\nzzzzzzzzzzzzzzzz";
    char *buf = malloc(len + sizeof(pad));
    assert_non_null(buf);
    memcpy(buf, text, len);
    memcpy(buf + len, pad, sizeof(pad));
    check_params(buf, len + sizeof(pad), list);
    free(buf);
}

static void test_params_fast_path(void **state)
{
    static const char *const cases[] = {
        ";branch=z9hG4bK-d8754z-77ab31c0e4f2;rport",
        ";rport;branch=z9hG4bK-p1-a07e2c95d1f4;received=198.51.100.7",
        ";received=192.0.2.10;rport=5060;branch=z9hG4bK-d8754z-77ab31c0e4f2, SIP/2.0/UDP h",
        " ; branch = z9hG4bK1 ; rport ;tag=\"a b\" ,x",
        ";tag=\"unterminated",
        ";tag=",
        ";tag= ;x",
        ";=x",
        "; ;x",
        ";branch=abc;;x",
        ";x=[2001:db8::1];y=a:b",
        ";branch=aaaaaaaaaaaaaaa;b=1",
        ";branch=aaaaaaaaaaaaaaaa;b=1",
        ";branch=aaaaaaaaaaaaaaaaa;b=1",
        ";bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb=1;cccccccccccccccccccccccccccccccc",
        ";branch=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa;",
        ";branch=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,",
        ";branch=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa x",
        ";tag=abc\200def",
        ";tag=abc\xff",
        ";tag\x80=1",
        "junk",
        ";RPORT;Branch=X",
        /* names one byte off the wanted ones, longer than a word, '_' and '`' */
        ";branc=1;branchx=2;RECEIVED=3;receivedx=4;rpor=5;rportt;t=6;ta=7;tagg=8;TaG=9",
        ";bra_ch=1;branch`=2;tag_=3;rport_;receive=4;received=5",
        ";Branch=1",
        ";tag",
        ";r",
        ";receivedreceived=1;branch=2",
        /* names holding value bytes that are no token bytes (':' '[' ']'),
         * wanted or not, with a value, bare, at the end */
        ";a:b=c;tag=1",
        ";ta:g=1",
        ";tag:=1",
        ";[=1",
        ";t[ag]=1;branch=x",
        ";branch]=x",
        ";x:y;tag=2",
        ";tag:",
        ";rport;x]",
        ";abcdefghijklmn:=1",
        ";r;t=1;branch;tag;x=y;z",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        check_params(cases[i], strlen(cases[i]), true);
        check_params(cases[i], strlen(cases[i]), false);
        check_params_padded(cases[i], strlen(cases[i]), true);
        check_params_padded(cases[i], strlen(cases[i]), false);
    }
    /* NUL bytes inside and right after a value */
    static const char with_nul[] = ";branch=abc\0def;tag=x\0";
    check_params(with_nul, sizeof(with_nul) - 1, true);
    /* a delimiter as the last byte before lim, at each run length */
    char text[128];
    for (size_t li = 0; li < sizeof(boundary_lengths) / sizeof(boundary_lengths[0]); li++) {
        for (size_t si = 0; si < sizeof(stop_bytes) / sizeof(stop_bytes[0]); si++) {
            size_t len = 0;
            memcpy(text, ";branch=", 8);
            len = 8;
            for (size_t k = 0; k < boundary_lengths[li]; k++)
                text[len++] = (char)('a' + k % 26);
            text[len++] = (char)stop_bytes[si];
            check_params(text, len, true);
        }
    }
    /* a name of 1 to 17 bytes, with a value of 0 to 40 bytes or none, then
     * a stop and another parameter: names and values ending around the 16
     * and 32 bytes the SSSE3 build classifies from a name, upper case */
    static const unsigned char stops[] = {';', ',', ' ', '"', ':', '[', '\r', 0, 0x80};
    for (size_t nl = 1; nl <= 17; nl++) {
        for (size_t vl = 0; vl <= 40; vl++) {
            for (size_t si = 0; si < sizeof(stops); si++) {
                size_t len = 0;
                text[len++] = ';';
                for (size_t k = 0; k < nl; k++)
                    text[len++] = "BranchTagReceived"[k];
                if (vl > 0 || si == 0) {
                    text[len++] = '=';
                    for (size_t k = 0; k < vl; k++)
                        text[len++] = (char)('a' + k % 26);
                }
                text[len++] = (char)stops[si];
                memcpy(text + len, "tag=x", 5);
                len += 5;
                check_params(text, len, true);
            }
        }
    }
}

/* sip_port4() against the loop it replaces (digits, then slice_to_u64)
 * on every string of 0 to 6 bytes over digits and the bytes around them,
 * each at the end of an exact-size heap buffer: true exactly when the
 * digit run is four long, with the same value. */
static void test_port4(void **state)
{
    static const char bytes[] = "0159/:;a \x80";
    const size_t nb = sizeof(bytes) - 1;
    (void)state;
    for (size_t len = 0; len <= 6; len++) {
        size_t combos = 1;
        for (size_t i = 0; i < len; i++)
            combos *= nb;
        for (size_t c = 0; c < combos; c++) {
            char *buf = malloc(len ? len : 1);
            assert_non_null(buf);
            for (size_t i = 0, k = c; i < len; i++, k /= nb)
                buf[i] = bytes[k % nb];
            const char *p = buf, *end = buf + len, *q = p;
            while (q < end && cc_is(*q, CC_DIGIT))
                q++;
            uint64_t want = 0, got = 12345;
            bool four = q - p == 4;
            if (four)
                assert_int_equal(slice_to_u64(slice_make(p, 4), 65535, &want), 0);
            bool fast = sip_port4(p, end, &got);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            assert_int_equal(fast, four);
#endif
            if (fast)
                assert_int_equal(got, want);
            free(buf);
        }
    }
}

/* sip_ipv4_dots_valid() against sip_ipv4_digitdot_valid() on every string
 * of 1 to 8 bytes over "0259." and on 200,000 pseudo-random ones of 9 to 15
 * bytes over "01256789.", read from exact-size heap buffers; and
 * sip_ipv4_dots_valid16() from a 16-byte buffer. */
static void check_ipv4(const char *text, unsigned n)
{
    char *buf = exact_copy(text, n);
    unsigned dots = 0;
    for (unsigned i = 0; i < n; i++)
        dots |= (unsigned)(buf[i] == '.') << i;
    if (sip_ipv4_dots_valid(buf, n, dots) != sip_ipv4_digitdot_valid(buf, n))
        print_error("ipv4 \"%.*s\"\n", (int)n, text);
    assert_int_equal(sip_ipv4_dots_valid(buf, n, dots), sip_ipv4_digitdot_valid(buf, n));
    /* the word-load build, 16 bytes readable, digits and dots after the
     * address that a wrong read would take in */
    char *wide = malloc(16);
    assert_non_null(wide);
    memcpy(wide, text, n);
    for (unsigned i = n; i < 16; i++)
        wide[i] = i & 1 ? '9' : '.';
    assert_int_equal(sip_ipv4_dots_valid16(wide, n, dots), sip_ipv4_digitdot_valid(buf, n));
    free(wide);
    free(buf);
}

static void test_ipv4_from_dots(void **state)
{
    static const char small[] = "0259.";
    static const char wide[] = "01256789.";
    char text[16];
    (void)state;
    for (unsigned n = 1; n <= 8; n++) {
        unsigned combos = 1;
        for (unsigned i = 0; i < n; i++)
            combos *= 5;
        for (unsigned c = 0; c < combos; c++) {
            for (unsigned i = 0, k = c; i < n; i++, k /= 5)
                text[i] = small[k % 5];
            check_ipv4(text, n);
        }
    }
    uint32_t x = 2463534242u; /* xorshift32: the same cases every run */
    for (unsigned t = 0; t < 200000; t++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        unsigned n = 9 + x % 7;
        for (unsigned i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            text[i] = (x % 4 == 0) ? '.' : wide[x % 8]; /* about one byte in three a dot */
        }
        check_ipv4(text, n);
    }
    check_ipv4("255.255.255.255", 15);
    check_ipv4("256.255.255.255", 15);
    check_ipv4("255.255.255.256", 15);
    check_ipv4("199.0.0.1", 9);
    check_ipv4("300.0.0.1", 9);
    /* every dot mask of every length, the digits all '2', '5' or '6' (a
     * three-digit part 222, 555 or 666: at, over and well over 255) */
    for (unsigned n = 1; n <= 15; n++) {
        for (unsigned mask = 0; mask < (1u << n); mask++) {
            for (unsigned d = 0; d < 3; d++) {
                for (unsigned i = 0; i < n; i++)
                    text[i] = mask >> i & 1 ? '.' : "256"[d];
                check_ipv4(text, n);
            }
        }
    }
    static const char *const edges[] = {
        "0.0.0.0",       "00.00.00.00", "000.000.000.000", "001.002.003.004", "255.0.0.255",
        "256.0.0.1",     "1.256.0.1",   "1.0.256.1",       "1.0.0.256",       "249.250.251.252",
        "199.200.201.2", "1.2.3",       "1.2.3.4.5",       "1.2.3.4.",        ".1.2.3.4",
        "1..2.3",        "1234.1.1.1",  "1.1.1.1234",      "12.34.56.78",     "9.99.999.9",
    };
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
        check_ipv4(edges[i], (unsigned)strlen(edges[i]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nibble_tables),
        cmocka_unit_test(test_nibble_runs),
        cmocka_unit_test(test_host_fast_path),
        cmocka_unit_test(test_params_fast_path),
        cmocka_unit_test(test_port4),
        cmocka_unit_test(test_ipv4_from_dots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
