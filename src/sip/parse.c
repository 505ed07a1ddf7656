/* parse.c: one pass over a SIP message: start line, header table, framing, transaction keys. */
#include "sip/hdr_table.h"
#include "sip/sip_int.h"

#include <errno.h>

/*
 * The pass: the start line is split and checked; then each header line is
 * cut at its LF (continuation lines that start with SP or HTAB belong to
 * it), its name mapped to a type through the generated hash table, and a
 * slot appended to msg->hdrs, which grows in the arena by doubling (no
 * allocation per header). Then the body is framed and the values every
 * receiver needs (top Via, Call-ID, CSeq, From, To, Max-Forwards,
 * Content-Length) are decoded. Everything else is decoded on first use.
 * Bare LF line ends are tolerated as RFC 3261 7.5's robustness advice allows.
 */

const struct sip_limits sip_limits_default = {
    .max_msg_len = 65535,
    .max_headers = 256,
    .max_header_len = 8192,
};

#define HDRS_INITIAL 32u

static int fail(struct sip_error *err, const char *base, const char *at, const char *why,
                unsigned status)
{
    err->offset = (size_t)(at - base);
    err->reason = why;
    err->detail = NULL;
    err->status = status;
    return EBADMSG;
}

/*
 * The line ends of the message, found 64 bytes at a time: one SIMD pass
 * marks every LF of a block in a bitmap, and the splitter takes them in
 * order with a count of trailing zeros, instead of searching each line
 * byte by byte. Every LF of the header block is either a line end or a
 * fold, and both are consumed in order, so "the next LF" is always the one
 * that ends the current line.
 */
struct lf_scan {
    const char *block; /* the current 64-byte block */
    const char *end;   /* the end of the message */
    uint64_t bits;     /* its LFs not yet taken */
};

static uint64_t lf_bits64(const char *q)
{
#if defined(__SSE2__)
    const __m128i nl = _mm_set1_epi8('\n');
    uint64_t m0 = (uint32_t)_mm_movemask_epi8(
        _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)q), nl));
    uint64_t m1 = (uint32_t)_mm_movemask_epi8(
        _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(q + 16)), nl));
    uint64_t m2 = (uint32_t)_mm_movemask_epi8(
        _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(q + 32)), nl));
    uint64_t m3 = (uint32_t)_mm_movemask_epi8(
        _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(q + 48)), nl));
    return m0 | m1 << 16 | m2 << 32 | m3 << 48;
#else
    uint64_t m = 0;
    for (size_t i = 0; i < 64; i++)
        m |= (uint64_t)(q[i] == '\n') << i;
    return m;
#endif
}

#if defined(SIP_NIBBLE_SCAN) && !defined(SIP_NO_AVX2)
#include <immintrin.h>
/*
 * The header split is compiled twice, once for AVX2 (the target
 * attribute) and once without, and picks one per message: its LF bitmap
 * then takes two 32-byte compares per 64 bytes instead of four 16-byte
 * ones. Everything else is the same source. A build with -DSIP_NO_AVX2
 * has only the plain one (to test it on a machine with AVX2).
 */
#define SIP_SPLIT_AVX2 1
#define SIP_SPLIT_TARGET __attribute__((target("avx2,bmi,bmi2")))
SIP_SPLIT_TARGET static inline uint64_t lf_bits64_avx2(const char *q)
{
    const __m256i nl = _mm256_set1_epi8('\n');
    uint64_t m0 = (uint32_t)_mm256_movemask_epi8(
        _mm256_cmpeq_epi8(_mm256_loadu_si256((const __m256i *)(const void *)q), nl));
    uint64_t m1 = (uint32_t)_mm256_movemask_epi8(
        _mm256_cmpeq_epi8(_mm256_loadu_si256((const __m256i *)(const void *)(q + 32)), nl));
    return m0 | m1 << 32;
}

/* AVX2 and BMI1/BMI2 (every CPU with AVX2 has them): with BMI the count
 * of trailing zeros needs no zeroing and no widening, and clearing the
 * lowest bit is one instruction. */
static inline bool cpu_has_avx2(void)
{
#if defined(__AVX2__) && defined(__BMI__) && defined(__BMI2__)
    return true;
#else
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") &&
           __builtin_cpu_supports("bmi2");
#endif
}
#endif

/* The LFs of the n bytes at p (only the first 64 when n is larger); start
 * is the first byte that may be read. A last block shorter than 64 bytes
 * is read as the 64 bytes that end with it when they lie inside the
 * buffer (the bitmap shifted down), else from a zero-padded copy: never a
 * read outside [start, p + n). */
static uint64_t lf_bits(const char *start, const char *p, size_t n)
{
    if (n >= 64)
        return lf_bits64(p);
    if (n == 0)
        return 0;
    if ((size_t)(p - start) >= 64 - n)
        return lf_bits64(p + n - 64) >> (64 - n);
    char tmp[64];
    memset(tmp, 0, sizeof(tmp));
    memcpy(tmp, p, n);
    return lf_bits64(tmp);
}

/* Starts the scan at p; the first LF returned is the first at or after p. */
static void lf_scan_init(struct lf_scan *s, const char *p, const char *end)
{
    s->block = p;
    s->end = end;
    s->bits = lf_bits(p, p, (size_t)(end - p));
}

/* The next LF not yet taken, or the end of the message when none is left.
 * The block never steps past the end; the previous block (64 bytes before
 * the current one) is inside the message, so a short last block reads it. */
static inline const char *lf_scan_next(struct lf_scan *s)
{
    while (s->bits == 0) {
        if (s->end - s->block <= 64) {
            s->block = s->end;
            return s->end;
        }
        s->block += 64;
        s->bits = lf_bits(s->block - 64, s->block, (size_t)(s->end - s->block));
    }
    const char *lf = s->block + (unsigned)__builtin_ctzll(s->bits);
    s->bits &= s->bits - 1;
    return lf;
}

/* The line's content end, before an optional CR. */
static const char *content_end(const char *p, const char *lf)
{
    return (lf > p && lf[-1] == '\r') ? lf - 1 : lf;
}

static bool is_version(struct slice v, bool *is_2_0)
{
    /* "SIP" "/" 1*DIGIT "." 1*DIGIT, SIP case-insensitive */
    if (v.len == 7 && memcmp(v.p, "SIP/2.0", 7) == 0) { /* what everybody sends */
        *is_2_0 = true;
        return true;
    }
    if (v.len < 7 || !slice_caseeq(slice_make(v.p, 4), SLICE_LIT("SIP/")))
        return false;
    const char *p = v.p + 4, *end = slice_end(v);
    const char *d = p;
    while (p < end && cc_is(*p, CC_DIGIT))
        p++;
    if (p == d || p >= end || *p != '.')
        return false;
    d = ++p;
    while (p < end && cc_is(*p, CC_DIGIT))
        p++;
    if (p == d || p != end)
        return false;
    *is_2_0 = v.len == 7 && v.p[4] == '2' && v.p[6] == '0';
    return true;
}

/* Whether the 4 bytes at p are "SIP/", the letters in either case (as
 * slice_caseeq() compares them): one word compare. */
static inline bool starts_sip_slash(const char *p)
{
    static const char lower[4] = {'s', 'i', 'p', '/'}, fold[4] = {0x20, 0x20, 0x20, 0};
    return (slice_load32(p) | slice_load32(fold)) == slice_load32(lower);
}

/* The methods a registrar and a proxy see most, followed by their SP,
 * recognised from the first word of the request line (end - p >= 9 bytes
 * readable): the method's id with *sp at the SP, or SIP_METHOD_OTHER for
 * anything else (then skip_class() and sip_method_lookup() decide; for
 * these the token scan would stop at the same SP). */
static inline enum sip_method method_word(const char *p, const char *end, const char **sp)
{
    static const char reg[8] = {'R', 'E', 'G', 'I', 'S', 'T', 'E', 'R'},
                      inv[8] = {'I', 'N', 'V', 'I', 'T', 'E', ' ', 0},
                      ack[8] = {'A', 'C', 'K', ' ', 0, 0, 0, 0},
                      bye[8] = {'B', 'Y', 'E', ' ', 0, 0, 0, 0},
                      m7[8] = {-1, -1, -1, -1, -1, -1, -1, 0}, m4[8] = {-1, -1, -1, -1, 0, 0, 0, 0};

    if (end - p < 9)
        return SIP_METHOD_OTHER;
    uint64_t w = slice_load64(p);
    if ((w & slice_load64(m7)) == slice_load64(inv)) {
        *sp = p + 6;
        return SIP_METHOD_INVITE;
    }
    if (w == slice_load64(reg) && p[8] == ' ') {
        *sp = p + 8;
        return SIP_METHOD_REGISTER;
    }
    if ((w & slice_load64(m4)) == slice_load64(ack)) {
        *sp = p + 3;
        return SIP_METHOD_ACK;
    }
    if ((w & slice_load64(m4)) == slice_load64(bye)) {
        *sp = p + 3;
        return SIP_METHOD_BYE;
    }
    return SIP_METHOD_OTHER;
}

static int parse_request_line(struct sip_msg *msg, const char *base, const char *p,
                              const char *end, const char *lim, struct sip_error *err)
{
    const char *sp1;
    enum sip_method id = method_word(p, end, &sp1);

    if (id == SIP_METHOD_OTHER) {
        sp1 = skip_class(p, end, CC_TOKEN);
        if (sp1 == p || sp1 >= end || *sp1 != ' ')
            return fail(err, base, sp1, "bad request line", 400);
        id = sip_method_lookup(slice_make(p, (size_t)(sp1 - p)));
    }
    msg->method = slice_make(p, (size_t)(sp1 - p));
    msg->method_id = id;
    const char *sp2 = end;
    bool sip20 = end - sp1 >= 9 && memcmp(end - 8, " SIP/2.0", 8) == 0;
    if (sip20) {
        sp2 = end - 8; /* what everybody sends: the last SP found in one compare */
    } else {
        while (sp2 > sp1 && sp2[-1] != ' ')
            sp2--;
        sp2--; /* the last SP */
    }
    if (sp2 == sp1)
        return fail(err, base, sp1, "bad request line", 400);
    if (sp1[1] == ' ')
        return fail(err, base, sp1 + 1, "extra whitespace in request line", 400);
    if (sp2 + 1 == end || sp2[-1] == ' ')
        return fail(err, base, sp2, "extra whitespace in request line", 400);
    msg->ruri_text = slice_make(sp1 + 1, (size_t)(sp2 - sp1 - 1));
    msg->version = slice_make(sp2 + 1, (size_t)(end - sp2 - 1));
    bool v20 = sip20; /* "SIP/2.0" needs no second look */
    if (!sip20 && !is_version(msg->version, &v20))
        return fail(err, base, sp2 + 1, "bad SIP version", 400);
    if (!v20)
        return fail(err, base, sp2 + 1, "SIP version not supported", 505);
    const char *why;
    if (sip_uri_parse_in(&msg->ruri, msg->ruri_text, lim, &why) != 0) {
        fail(err, base, sp1 + 1, "bad Request-URI", 400);
        err->detail = why;
        return EBADMSG;
    }
    msg->ruri_ok = true;
    return 0;
}

static int parse_status_line(struct sip_msg *msg, const char *base, const char *p,
                             const char *end, struct sip_error *err)
{
    /* "SIP/2.0 ", what everybody sends: the first SP and the version in
     * one compare */
    bool v20 = end - p >= 8 && memcmp(p, "SIP/2.0 ", 8) == 0;
    const char *sp = v20 ? p + 7 : find_byte(p, end, ' ');

    if (!sp)
        return fail(err, base, p, "bad status line", 0);
    msg->version = slice_make(p, (size_t)(sp - p));
    if (!v20 && (!is_version(msg->version, &v20) || !v20))
        return fail(err, base, p, "bad SIP version in status line", 0);
    const char *c = sp + 1, *q = c;
    if (end - c >= 4 && cc_is(c[0], CC_DIGIT) && cc_is(c[1], CC_DIGIT) && cc_is(c[2], CC_DIGIT) &&
        c[3] == ' ') {
        q = c + 3; /* three digits and SP: the loop below would stop there */
    } else {
        while (q < end && cc_is(*q, CC_DIGIT))
            q++;
    }
    /* three digits (the loop above checked them): no conversion loop */
    unsigned code = q - c == 3 ? (unsigned)(c[0] - '0') * 100u + (unsigned)(c[1] - '0') * 10u +
                                     (unsigned)(c[2] - '0')
                               : 0;
    if (code < 100 || code > 699)
        return fail(err, base, c, "bad status code", 0);
    if (q < end && *q != ' ')
        return fail(err, base, q, "bad status line", 0);
    msg->status = (unsigned)code;
    msg->reason = q < end ? slice_make(q + 1, (size_t)(end - q - 1)) : slice_make(q, 0);
    return 0;
}

static int grow_hdrs(struct sip_msg *msg, const struct sip_limits *lim)
{
    unsigned cap = msg->hdr_cap ? msg->hdr_cap * 2 : HDRS_INITIAL;

    if (cap > lim->max_headers)
        cap = lim->max_headers;
    struct sip_hdr *h = arena_alloc(msg->arena, cap * sizeof(*h));
    if (!h)
        return ENOMEM;
    if (msg->hdr_count)
        memcpy(h, msg->hdrs, msg->hdr_count * sizeof(*h));
    msg->hdrs = h;
    msg->hdr_cap = cap;
    return 0;
}

const char *sip_hdr_name(enum sip_hdr_type t)
{
    return (unsigned)t < SIP_HDR_COUNT ? sip_hdr_infos[t].name : "";
}

unsigned sip_hdr_flags(enum sip_hdr_type t)
{
    return (unsigned)t < SIP_HDR_COUNT ? sip_hdr_infos[t].flags : 0;
}

static const char *duplicate_reason(enum sip_hdr_type t);

/* slice_end() of a slice into the message being parsed, whose p is never
 * NULL: no test for it. */
static inline const char *msg_end(struct slice s)
{
    return s.p + s.len;
}

/* The first ':' in [p, ce), or NULL; bufend bounds what may be read. The
 * colon ends the name, nearly always within 16 bytes: one load. */
static inline const char *find_colon(const char *p, const char *ce, const char *bufend)
{
#if defined(__SSE2__)
    if (bufend - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(':')));
        if (m) {
            const char *c = p + __builtin_ctz(m);
            return c < ce ? c : NULL;
        }
        return ce - p > 16 ? find_byte(p + 16, ce, ':') : NULL;
    }
#endif
    (void)bufend;
    return find_byte(p, ce, ':');
}

/* Eight bytes at p as a little-endian word (the byte order of the
 * generated table). */
static inline uint64_t hdr_le64(const char *p)
{
    uint64_t w = slice_load64(p);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

/* The bytes of a name of length len (<= SIP_HDR_NAME_MAX) in its first
 * word; hdr_care0[len - 8] those in its second, hdr_care0[len - 16] in its
 * third. */
/* one line per mask would hide the pattern */
/* clang-format off */
static const uint64_t hdr_care0[SIP_HDR_NAME_MAX + 1] = {
    0, 0xffull, 0xffffull, 0xffffffull, 0xffffffffull, 0xffffffffffull, 0xffffffffffffull,
    0xffffffffffffffull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull,
    ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull,
};
/* clang-format on */
_Static_assert(SIP_HDR_NAME_MAX == 24, "hdr_care0 lists one mask per length");

/* The type of a header name, or -1 when it is not a token; bufend bounds
 * what may be read. A known name (the generated table, hashed on its first
 * 16 bytes) is confirmed by up to three masked word compares and its
 * length, which validate it too; only an unknown one is checked byte by
 * byte. A name closer than SIP_HDR_NAME_MAX bytes to bufend is compared
 * from a zero-padded copy. */
static inline int hdr_type_checked(const char *name, size_t len, const char *bufend)
{
    if (len - 1 < SIP_HDR_NAME_MAX) {
        char tmp[SIP_HDR_NAME_MAX];
        const char *q = name;
        if ((size_t)(bufend - name) < SIP_HDR_NAME_MAX) {
            memset(tmp, 0, sizeof(tmp));
            memcpy(tmp, name, len);
            q = tmp;
        }
        uint64_t w0 = hdr_le64(q), w1 = hdr_le64(q + 8);
        const uint64_t *km = sip_hdr_table.key_mask[len < 16 ? len : 16];
        const struct sip_hdr_slot *s =
            SIP_HDR_SLOT(sip_hdr_table.index[SIP_HDR_HASH((w0 & km[0]) ^ (w1 & km[1]))]);
        if (s->len == len) {
            uint64_t x = ((w0 | s->fold[0]) ^ s->name[0]) & hdr_care0[len];
            if (len > 8) {
                x |= ((w1 | s->fold[1]) ^ s->name[1]) & hdr_care0[len - 8];
                if (len > 16)
                    x |= ((hdr_le64(q + 16) | s->fold[2]) ^ s->name[2]) & hdr_care0[len - 16];
            }
            if (x == 0)
                return s->type;
        }
    }
    for (size_t i = 0; i < len; i++)
        if (!cc_is(name[i], CC_TOKEN))
            return -1;
    return SIP_HDR_OTHER;
}

/* hdr_type_checked() out of line: for the fast loop of split_headers(),
 * where a name is rarely unknown. */
static __attribute__((noinline)) int hdr_type_other(const char *name, size_t len,
                                                    const char *bufend)
{
    return hdr_type_checked(name, len, bufend);
}

/* The slot of a known name of 1 to 14 bytes at p that ": " follows, or
 * NULL (an unknown name, no token, no SP after the colon); len is where
 * the first colon of the 16 bytes at p is (0 to 15), or 16 when there is
 * none; the 16 bytes at p may be read. The short key (the name's first
 * word and its length) finds the slot, and one compare of the name and
 * ": " with the stored name and ": " confirms it: a stored name of
 * another length has its colon elsewhere, so the length needs no test;
 * a colon at 0 or 15 and none at all take the key 0 to slot 0, which
 * matches nothing. The slot's bytes past ": " match any byte (fold and
 * name 0xff there), so the compare takes all 16 without a mask. */
static inline const struct sip_hdr_slot *hdr_slot_short(const char *p, size_t len)
{
    uint64_t mask = sip_hdr_table.short_mask[len], mix = sip_hdr_table.short_mix[len];
#if defined(__SSE2__) && defined(__x86_64__)
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    uint64_t w0 = (uint64_t)_mm_cvtsi128_si64(v);
    const struct sip_hdr_slot *s =
        SIP_HDR_SLOT(sip_hdr_table.short_index[SIP_HDR_SHORT_HASH((w0 & mask) ^ mix)]);
    __m128i eq = _mm_cmpeq_epi8(_mm_or_si128(v, _mm_load_si128((const __m128i *)s->fold)),
                                _mm_load_si128((const __m128i *)s->name));
    bool same = (unsigned)_mm_movemask_epi8(eq) == 0xffff;
#else
    uint64_t w0 = hdr_le64(p), w1 = hdr_le64(p + 8);
    const struct sip_hdr_slot *s =
        SIP_HDR_SLOT(sip_hdr_table.short_index[SIP_HDR_SHORT_HASH((w0 & mask) ^ mix)]);
    bool same = (((w0 | s->fold[0]) ^ s->name[0]) | ((w1 | s->fold[1]) ^ s->name[1])) == 0;
#endif
    return same ? s : NULL;
}

#if defined(SIP_SPLIT_AVX2)
/* hdr_slot_short() for the AVX2 split: the compare as (bytes | fold) ^
 * name, all zero (one vptest) instead of equal bytes counted by a mask. */
SIP_SPLIT_TARGET static inline const struct sip_hdr_slot *hdr_slot_short_avx2(const char *p,
                                                                              size_t len)
{
    uint64_t mask = sip_hdr_table.short_mask[len], mix = sip_hdr_table.short_mix[len];
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    uint64_t w0 = (uint64_t)_mm_cvtsi128_si64(v);
    const struct sip_hdr_slot *s =
        SIP_HDR_SLOT(sip_hdr_table.short_index[SIP_HDR_SHORT_HASH((w0 & mask) ^ mix)]);
    __m128i x = _mm_xor_si128(_mm_or_si128(v, _mm_load_si128((const __m128i *)s->fold)),
                              _mm_load_si128((const __m128i *)s->name));
    return _mm_testz_si128(x, x) ? s : NULL;
}
#endif

enum sip_hdr_type sip_hdr_lookup(const char *name, size_t len)
{
    int t = len ? hdr_type_checked(name, len, name + len) : -1;
    return t < 0 ? SIP_HDR_OTHER : (enum sip_hdr_type)t;
}

/* The continuation lines after the line end lf (which a SP or HTAB
 * follows): returns the LF of the last one. Out of line: rare, and it
 * would crowd the registers of the split loop. */
static __attribute__((noinline)) const char *take_folds(struct lf_scan *ls, const char *lf,
                                                        const char *end)
{
    do
        lf = lf_scan_next(ls);
    while (lf + 1 < end && (lf[1] == ' ' || lf[1] == '\t'));
    return lf;
}

/* The split of the header block: what it reads (the message, the limits,
 * where errors go) and its state where the careful path (split_line())
 * takes a line: the LF scan, the header array, its count and capacity,
 * and the first duplicate header that is an error; body is set past the
 * empty line, or NULL when the buffer ended first. One struct, so that
 * split_line() takes one pointer and the fast loop keeps only its hot
 * values in registers. */
struct split_state {
    struct sip_msg *msg;
    const char *base;
    const struct sip_limits *lim;
    struct sip_error *err;
    struct lf_scan scan;
    struct sip_hdr *hdrs;
    unsigned n, cap;
    const struct sip_hdr *dup;
    const char *body;
    const char *next;      /* past the line split_line() took */
    const char *full_end;  /* a block before it has a full block after it */
    const char *last;      /* the message's last byte */
    const char *fast_last; /* an LF before it ends a line that needs no bound test */
    size_t max_line;       /* lim->max_header_len */
    /* 16 ':' for the colon search, read from memory: a constant the
     * compiler can see became, built with AVX2, a broadcast of three
     * instructions on every line (no vector register survives the calls
     * in the loop) */
    _Alignas(16) char colons[16];
};

/* Fills h, the header array's entry k - 1 (the array has room), and links
 * it to the others of its type. first[] is reset by every parse; last[]
 * and count[] are valid only where first[] is set, so they need no reset. */
static inline void add_hdr(struct split_state *st, struct sip_hdr *h, unsigned k, unsigned t,
                           const char *p, const char *next, size_t name_len, const char *vs,
                           const char *ve)
{
    struct sip_msg *msg = st->msg;

    h->line = slice_make(p, (size_t)(next - p));
    h->name = slice_make(p, name_len);
    h->value = slice_make(vs, (size_t)(ve - vs));
    /* type, then next = 0: one store */
    uint32_t type_next = (uint32_t)t;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    type_next <<= 16;
#endif
    memcpy((char *)h + offsetof(struct sip_hdr, type), &type_next, sizeof(type_next));
    if (__builtin_expect(msg->first[t] != 0, 0)) { /* most types occur once */
        st->hdrs[msg->last[t] - 1].next = (uint16_t)k;
        msg->count[t]++;
        /* only a duplicate that is an error counts: a tolerated one
         * (SIP-ETag, Date...) seen first must not hide a second CSeq */
        if (!st->dup && duplicate_reason((enum sip_hdr_type)t))
            st->dup = h;
    } else {
        msg->first[t] = (uint16_t)k;
        msg->count[t] = 1;
    }
    msg->last[t] = (uint16_t)k;
}

/* Takes the header line at p whose first LF (already taken from the scan)
 * is lf, with every check and every rare case: the empty line, folds, LWS
 * around the colon and the value, unknown names, a full array, lines near
 * the end of the buffer. Returns 0 with st->next past the line, -1 at the
 * empty line (st->body set), or an error. Out of line, so that its
 * registers do not crowd the fast loop of split_headers(). */
static __attribute__((noinline)) int split_line(struct split_state *st, const char *p,
                                                const char *lf)
{
    struct sip_msg *msg = st->msg;
    const char *base = st->base, *end = st->scan.end;
    const struct sip_limits *lim = st->lim;
    struct sip_error *err = st->err;

    /* content_end() without its lf > p test: p follows an LF here, so
     * when lf == p, lf[-1] is that LF, not a CR */
    const char *ce = lf - (lf[-1] == '\r');
    if (ce == p) { /* the empty line */
        st->body = lf < end ? lf + 1 : end;
        return -1;
    }
    if ((unsigned char)*p <= ' ' && cc_is(*p, CC_WS)) /* a name starts here */
        return fail(err, base, p, "folded line without a header", 400);
    /* a name starts nearly every next line: one compare rules out a fold */
    if (lf + 1 < end && (unsigned char)lf[1] <= ' ' && (lf[1] == ' ' || lf[1] == '\t')) {
        lf = take_folds(&st->scan, lf, end);
        ce = content_end(p, lf);
    }
    const char *next = lf < end ? lf + 1 : end;
    if ((size_t)(next - p) > lim->max_header_len) {
        fail(err, base, p, "header line too long", 513);
        return EMSGSIZE; /* a limit, as sip_msg_parse() promises */
    }
    /* the name: a token, then optional LWS, then ':' */
    const char *colon = find_colon(p, ce, end);
    if (!colon)
        return fail(err, base, p, "header line without a colon", 400);
    const char *ne = colon;
    if (ne > p && (unsigned char)ne[-1] <= ' ') /* LWS is rare */
        while (ne > p && cc_is(ne[-1], CC_WS))
            ne--;
    size_t name_len = (size_t)(ne - p);
    int t = name_len ? hdr_type_checked(p, name_len, end) : -1;
    if (t < 0)
        return fail(err, base, p, "header line without a colon", 400);
    if (st->n == st->cap) {
        if (st->n >= lim->max_headers) {
            fail(err, base, p, "too many headers", 513);
            return EMSGSIZE;
        }
        msg->hdr_count = st->n;
        if (grow_hdrs(msg, lim) != 0)
            return ENOMEM;
        st->hdrs = msg->hdrs;
        st->cap = msg->hdr_cap;
    }
    /* the value, without the LWS around it (folding included); ": "
     * then the value is what everybody sends */
    const char *vs = colon + 1, *ve = ce;
    if (ce - vs >= 2 && *vs == ' ' && (unsigned char)vs[1] > ' ') /* no LWS byte is > SP */
        vs++;
    else
        vs = skip_lws(vs, ce);
    if (ve > vs && (unsigned char)ve[-1] <= ' ')
        while (ve > vs && cc_is(ve[-1], CC_WS))
            ve--;
    add_hdr(st, &st->hdrs[st->n], st->n + 1, (unsigned)t, p, next, name_len, vs, ve);
    st->n++;
    st->next = next;
    return 0;
}

/* The ':' bytes of the 16 bytes at p, one bit each; colons is 16 ':'
 * (16-byte aligned). */
static inline unsigned colon_bits16(const char *p, const char *colons)
{
#if defined(__SSE2__)
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    return (unsigned)_mm_movemask_epi8(
        _mm_cmpeq_epi8(v, _mm_load_si128((const __m128i *)(const void *)colons)));
#else
    (void)colons;
    unsigned m = 0;
    for (unsigned i = 0; i < 16; i++)
        m |= (unsigned)(p[i] == ':') << i;
    return m;
#endif
}

/* Splits the header block that starts at p (st set up by the caller, the
 * scan's next LF the first at or after p); returns 0 or an error, the
 * count stored in msg.
 *
 * The loop takes the line everybody sends, "Name: value" CRLF with a name
 * of 1 to 14 bytes, no fold after it, on one straight path: each test
 * below rules out a rare case, and a line that fails one goes to
 * split_line(), which takes it with every check (the same decisions in
 * the same order, so the same reasons and offsets). Only the scan (block
 * and bits), the line start, the count and the next array entry are
 * locals (their addresses never escape, so they stay in registers across
 * the stores to the array); what a line reads once (the capacity, the
 * limits, msg) is read from st, and split_line() gets the locals back in
 * st. */
static inline __attribute__((always_inline)) int split_headers_in(struct split_state *st,
                                                                  const char *p, bool avx2)
{
    const char *block = st->scan.block;
    uint64_t bits = st->scan.bits;
    unsigned n = st->n;
    struct sip_hdr *h = st->hdrs ? st->hdrs + n : NULL; /* no array before the first header */

    /* end - 128, or the start of the scan when the message is shorter
     * (never a pointer before the buffer) */
    st->full_end = st->scan.end - st->scan.block >= 128 ? st->scan.end - 128 : st->scan.block;
    if (p >= st->scan.end)
        goto done;
    st->last = st->scan.end - 1; /* p < end: not before the buffer */
    /* A line whose LF is before end - 18 has its next line's first byte
     * and the 19 bytes at its start (the 16 of the name, the value's first
     * byte after a colon at 16) inside the buffer; when the rest of the
     * message is within the line limit, no line is longer than that. So
     * one test covers the three; other lines (and every line of a message
     * longer than the limit) are tested one by one. */
    size_t rest = (size_t)(st->scan.end - p);
    st->fast_last = rest > 18 && rest <= st->max_line ? st->scan.end - 18 : p;
    for (;;) {
        const char *lf;
        if (__builtin_expect(bits == 0, 0)) {
            /* lf_scan_next() with the locals: full blocks inline, the last
             * one (and a message's LF-free end) by it */
            do {
                if (block >= st->full_end) {
                    st->scan.block = block;
                    st->scan.bits = 0;
                    lf = lf_scan_next(&st->scan);
                    block = st->scan.block;
                    bits = st->scan.bits;
                    if (lf == st->scan.end)
                        goto careful;
                    goto got_lf;
                }
                block += 64;
#if defined(SIP_SPLIT_AVX2)
                bits = avx2 ? lf_bits64_avx2(block) : lf_bits64(block);
#else
                (void)avx2;
                bits = lf_bits64(block);
#endif
            } while (bits == 0);
        }
        lf = block + (unsigned)__builtin_ctzll(bits);
        bits &= bits - 1;
    got_lf:;
        /* CR LF ends the line (lf[-1] is in the buffer: p follows an LF), a
         * next line exists (the empty line follows the last header line)
         * and starts with no SP or HTAB (no fold: a control byte other
         * than the empty line's CR goes to split_line() too), the line is
         * within the limit and the 19 bytes at p are inside the buffer.
         * The CR is <= ' ', which bounds the colon and value tests below. */
        if (lf[-1] != '\r')
            goto careful;
        if (__builtin_expect(lf >= st->fast_last, 0)) {
            if (lf >= st->last)
                goto careful_or_empty;
            if ((size_t)(lf + 1 - p) > st->max_line || st->scan.end - p < 19)
                goto careful;
        }
        if (__builtin_expect((unsigned char)lf[1] <= ' ', 0) && lf[1] != '\r')
            goto careful;
        /* the first colon: 16 past p when there is none in the 16 bytes */
        /* (a 64-bit count: no widening for the address and index below) */
        size_t name_len = (size_t)__builtin_ctzll(colon_bits16(p, st->colons) | 1ull << 16);
        const char *colon = p + name_len;
        /* a byte that is no LWS (so not the CR: the value is not empty)
         * after ": " starts the value, and no LWS ends it */
        if ((unsigned char)colon[2] <= ' ' || (unsigned char)lf[-2] <= ' ')
            goto careful_or_empty;
        /* The name is [p, colon) and ": " follows when the lookup finds it:
         * a line that starts with LWS (a fold without a header), a control
         * byte, the empty line, LWS before the colon, a colon beyond the
         * line all put a byte into it that no known name holds; no colon
         * within 15 bytes or one at p finds no name. The careful tests are
         * made only when it finds none. */
#if defined(SIP_SPLIT_AVX2)
        const struct sip_hdr_slot *known =
            avx2 ? hdr_slot_short_avx2(p, name_len) : hdr_slot_short(p, name_len);
#else
        const struct sip_hdr_slot *known = hdr_slot_short(p, name_len);
#endif
        unsigned t;
        if (__builtin_expect(known != NULL, 1)) {
            t = known->type;
        } else {
            /* a name of 1 to 15 bytes (a colon at p is an error), the colon
             * within the line, ": " */
            if (name_len - 1 >= 15 || colon >= lf - 1 || colon[1] != ' ')
                goto careful_or_empty;
            int other = hdr_type_other(p, name_len, st->scan.end); /* unknown, or no token */
            if (other < 0)
                goto careful;
            t = (unsigned)other;
        }
        if (__builtin_expect(n == st->cap, 0)) {
            if (n >= st->lim->max_headers)
                goto careful; /* it reports the fault */
            st->msg->hdr_count = n;
            if (grow_hdrs(st->msg, st->lim) != 0)
                return ENOMEM;
            st->hdrs = st->msg->hdrs;
            st->cap = st->msg->hdr_cap;
            h = st->hdrs + n;
        }
        add_hdr(st, h, ++n, t, p, lf + 1, name_len, colon + 2, lf - 1);
        h++;
        p = lf + 1; /* before the end: the tests above saw a next line */
        continue;
    careful_or_empty:
        /* the CR LF line that a fast test sent here may be the empty line
         * (no colon follows it within it): what split_line() does for it */
        if (lf - 1 == p) {
            st->body = lf < st->scan.end ? lf + 1 : st->scan.end;
            break;
        }
    careful:
        st->scan.block = block;
        st->scan.bits = bits;
        st->n = n;
        int r = split_line(st, p, lf);
        block = st->scan.block;
        bits = st->scan.bits;
        n = st->n;
        h = st->hdrs ? st->hdrs + n : NULL;
        if (r) {
            st->msg->hdr_count = n;
            return r > 0 ? r : 0;
        }
        p = st->next;
        if (p >= st->scan.end)
            break;
    }
done:
    st->msg->hdr_count = n;
    return 0;
}

static __attribute__((noinline)) int split_headers(struct split_state *st, const char *p)
{
    return split_headers_in(st, p, false);
}

#if defined(SIP_SPLIT_AVX2)
SIP_SPLIT_TARGET static __attribute__((noinline)) int
split_headers_avx2(struct split_state *st, const char *p)
{
    return split_headers_in(st, p, true);
}
#endif

/* Reasons for a second header that may occur once. */
static const char *duplicate_reason(enum sip_hdr_type t)
{
    switch (t) {
    case SIP_HDR_CALL_ID: return "duplicate Call-ID";
    case SIP_HDR_CSEQ: return "duplicate CSeq";
    case SIP_HDR_FROM: return "duplicate From";
    case SIP_HDR_TO: return "duplicate To";
    case SIP_HDR_MAX_FORWARDS: return "duplicate Max-Forwards";
    case SIP_HDR_CONTENT_LENGTH: return "duplicate Content-Length";
    case SIP_HDR_CONTENT_TYPE: return "duplicate Content-Type";
    case SIP_HDR_EXPIRES: return "duplicate Expires";
    default: return NULL;
    }
}

static const struct sip_hdr *hdr_at(const struct sip_msg *msg, enum sip_hdr_type t)
{
    return msg->first[t] ? &msg->hdrs[msg->first[t] - 1] : NULL;
}

/* The first header of a type that occurs (hdr_at() without the test the
 * caller made: the compiler cannot tell that its result is not NULL). */
static inline const struct sip_hdr *first_hdr(const struct sip_msg *msg, enum sip_hdr_type t)
{
    return &msg->hdrs[msg->first[t] - 1];
}

#if defined(SIP_NIBBLE_SCAN)
/* callid_bad_byte() for SSSE3: a byte's verdict from its two nibbles, one
 * table lookup each (pshufb). The bad bytes by high nibble: 0x0-, 0x1-
 * and 0x8- to 0xf- all (bit 0 in both tables); 0x2-: SP # $ & , (bit 1);
 * 0x3-: ; = (bit 2); 0x5-: ^ (bit 3); 0x7-: | and DEL (bit 4). A byte is
 * bad when the two bytes looked up share a bit. */
__attribute__((target("ssse3"))) static const char *callid_bad_ssse3(const char *p,
                                                                    const char *end,
                                                                    const char *lim)
{
    const __m128i lo_t = _mm_setr_epi8(0x03, 0x01, 0x01, 0x03, 0x03, 0x01, 0x03, 0x01, 0x01,
                                       0x01, 0x01, 0x05, 0x13, 0x05, 0x09, 0x11);
    const __m128i hi_t = _mm_setr_epi8(0x01, 0x01, 0x02, 0x04, 0x00, 0x08, 0x00, 0x10, 0x01,
                                       0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01);
    const __m128i low4 = _mm_set1_epi8(0x0f);

    while (p < end && lim - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), low4);
        __m128i c = _mm_and_si128(_mm_shuffle_epi8(lo_t, _mm_and_si128(v, low4)),
                                  _mm_shuffle_epi8(hi_t, hi));
        unsigned bad = ~(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(c, _mm_setzero_si128())) &
                       0xffffu;
        if (end - p < 16)
            bad &= (1u << (end - p)) - 1; /* only the bytes of the Call-ID */
        if (bad)
            return p + __builtin_ctz(bad);
        p += 16;
    }
    if (p >= end)
        return NULL;
    for (; p < end; p++)
        if (!cc_is(*p, CC_WORD) && *p != '@')
            return p;
    return NULL;
}
#endif

/* The first byte of a Call-ID that is no word character (RFC 3261 25.1:
 * word and "@"), or NULL. 16 bytes at a time, reading up to lim (>= the
 * end of the Call-ID, as find_byte_in()): printable ASCII other than space
 * and the eight printable non-word characters; a block with a bad byte
 * inside the Call-ID is looked at byte by byte. */
static const char *callid_bad_byte(struct slice id, const char *lim)
{
    const char *p = id.p, *end = msg_end(id);
#if defined(SIP_NIBBLE_SCAN)
    if (sip_cpu_has_ssse3())
        return callid_bad_ssse3(p, end, lim);
#endif
#if defined(__SSE2__)
    const __m128i lo = _mm_set1_epi8(0x20), hi = _mm_set1_epi8(0x7f);
    while (p < end && lim - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        /* signed compares: 0x80.. are negative, so they fail "> 0x20" */
        __m128i ok = _mm_and_si128(_mm_cmpgt_epi8(v, lo), _mm_cmplt_epi8(v, hi));
        /* the printable characters that are no word characters either */
        __m128i no = _mm_cmpeq_epi8(v, _mm_set1_epi8('#'));
        no = _mm_or_si128(no, _mm_cmpeq_epi8(v, _mm_set1_epi8('$')));
        no = _mm_or_si128(no, _mm_cmpeq_epi8(v, _mm_set1_epi8('&')));
        no = _mm_or_si128(no, _mm_cmpeq_epi8(v, _mm_set1_epi8(',')));
        no = _mm_or_si128(no, _mm_cmpeq_epi8(v, _mm_set1_epi8(';')));
        no = _mm_or_si128(no, _mm_cmpeq_epi8(v, _mm_set1_epi8('=')));
        no = _mm_or_si128(no, _mm_cmpeq_epi8(v, _mm_set1_epi8('^')));
        no = _mm_or_si128(no, _mm_cmpeq_epi8(v, _mm_set1_epi8('|')));
        unsigned bad = ~(unsigned)_mm_movemask_epi8(_mm_andnot_si128(no, ok)) & 0xffffu;
        if (end - p < 16)
            bad &= (1u << (end - p)) - 1; /* only the bytes of the Call-ID */
        if (bad)
            return p + __builtin_ctz(bad);
        p += 16;
    }
    if (p >= end)
        return NULL;
#else
    (void)lim;
#endif
    for (; p < end; p++)
        if (!cc_is(*p, CC_WORD) && *p != '@')
            return p;
    return NULL;
}

/* sip_nameaddr_parse() of a From or To value, reading up to lim. */
static int nameaddr_parse_in(struct sip_nameaddr *na, struct slice text, const char *lim,
                             const char **reason)
{
    const char *next, *end = msg_end(text);
    int ret = sip_nameaddr_parse_at(na, text.p, end, lim, false, false, &next, reason);
    if (ret == 0 && skip_lws(next, end) != end) {
        *reason = "unexpected character after the address";
        return EBADMSG;
    }
    return ret;
}

static int decode_keys(struct sip_msg *msg, const char *base, const struct sip_hdr *dup,
                       struct sip_error *err)
{
    const struct sip_hdr *h;
    const char *why;

    if (dup) {
        const char *r = duplicate_reason((enum sip_hdr_type)dup->type);
        if (r)
            return fail(err, base, dup->line.p, r, 400);
    }
    if (!msg->first[SIP_HDR_VIA])
        return fail(err, base, msg->data.p, "missing Via", 400);
    h = first_hdr(msg, SIP_HDR_VIA);
    const char *next;
    const char *lim = msg_end(msg->data); /* the decoders may read up to here */
    if (sip_via_parse_at(&msg->via, h->value.p, msg_end(h->value), lim, true, &next, &why) !=
        0)
        return fail(err, base, h->value.p, why, 400);
    msg->via_next = next;

    if (!msg->first[SIP_HDR_CALL_ID])
        return fail(err, base, msg->data.p, "missing Call-ID", 400);
    h = first_hdr(msg, SIP_HDR_CALL_ID);
    msg->call_id = h->value;
    if (msg->call_id.len == 0)
        return fail(err, base, h->line.p, "empty Call-ID", 400);
    const char *bad = callid_bad_byte(msg->call_id, lim);
    if (bad)
        return fail(err, base, bad, "bad Call-ID", 400);

    if (!msg->first[SIP_HDR_CSEQ])
        return fail(err, base, msg->data.p, "missing CSeq", 400);
    h = first_hdr(msg, SIP_HDR_CSEQ);
    if (sip_cseq_parse(&msg->cseq, h->value, &why) != 0)
        return fail(err, base, h->value.p, why, 400);

    if (!msg->first[SIP_HDR_FROM])
        return fail(err, base, msg->data.p, "missing From", 400);
    h = first_hdr(msg, SIP_HDR_FROM);
    if (nameaddr_parse_in(&msg->from, h->value, lim, &why) != 0) {
        fail(err, base, h->value.p, "bad From", 400);
        err->detail = why;
        return EBADMSG;
    }

    if (!msg->first[SIP_HDR_TO])
        return fail(err, base, msg->data.p, "missing To", 400);
    h = first_hdr(msg, SIP_HDR_TO);
    if (nameaddr_parse_in(&msg->to, h->value, lim, &why) != 0) {
        fail(err, base, h->value.p, "bad To", 400);
        err->detail = why;
        return EBADMSG;
    }

    h = hdr_at(msg, SIP_HDR_MAX_FORWARDS);
    if (h) {
        uint64_t mf;
        int e = slice_to_u64(h->value, 0x7fffffff, &mf);
        if (e != 0)
            return fail(err, base, h->value.p, "bad Max-Forwards", 400);
        msg->max_forwards = (int)mf;
    }
    return 0;
}

static int frame_body(struct sip_msg *msg, const char *base, const char *body, const char *end,
                      unsigned flags, struct sip_error *err)
{
    const struct sip_hdr *h = hdr_at(msg, SIP_HDR_CONTENT_LENGTH);

    if (h) {
        uint64_t cl;
        int e = slice_to_u64(h->value, 0x7fffffff, &cl);
        if (e == ERANGE)
            return fail(err, base, h->value.p, "Content-Length too large", 400);
        if (e != 0)
            return fail(err, base, h->value.p, "bad Content-Length", 400);
        if (msg->count[SIP_HDR_CONTENT_LENGTH] > 1)
            return fail(err, base, h->value.p, "duplicate Content-Length", 400);
        if (cl > (uint64_t)(end - body))
            return fail(err, base, h->value.p, "Content-Length larger than the body", 400);
        msg->content_length = (long)cl;
        msg->body = slice_make(body, (size_t)cl);
        msg->trailing = (size_t)(end - body) - (size_t)cl;
    } else {
        if (flags & SIP_PARSE_STREAM)
            return fail(err, base, body, "missing Content-Length", 400);
        msg->body = slice_make(body, (size_t)(end - body));
    }
    msg->data = slice_make(msg->data.p, (size_t)(msg_end(msg->body) - msg->data.p));
    return 0;
}

static int parse_msg(struct sip_msg *msg, struct arena *arena, const char *buf, size_t len,
                     const struct sip_limits *lim, unsigned flags, struct sip_error *err)
{
    const char *p = buf, *end = buf + len, *body;
    int ret;

    zero_struct(msg, offsetof(struct sip_msg, last)); /* last[], count[] need no reset */
    msg->arena = arena;
    msg->max_forwards = -1;
    msg->content_length = -1;
    msg->expires = -1;
    err->offset = 0;
    err->reason = NULL;
    err->detail = NULL;
    err->status = 0;
    if (!lim)
        lim = &sip_limits_default;
    bool too_big = len > lim->max_msg_len;

    /* RFC 3261 7.5: ignore CRLFs before the start line */
    while (p < end && (*p == '\r' || *p == '\n'))
        p++;
    if (p == end)
        return fail(err, buf, p, "empty message", 0);
    msg->data = slice_make(p, (size_t)(end - p));
    struct lf_scan ls;
    lf_scan_init(&ls, p, end);
    const char *lf = lf_scan_next(&ls);
    const char *ce = content_end(p, lf);
    msg->is_request = !(ce - p >= 4 && starts_sip_slash(p));
    ret = msg->is_request ? parse_request_line(msg, buf, p, ce, end, err)
                          : parse_status_line(msg, buf, p, ce, err);
    if (lf == end)
        return ret ? ret : fail(err, buf, end, "no header section", msg->is_request ? 400 : 0);
    /* A request line with a method still gets its headers split, so an
     * error reply can be built; a broken status line stops here. */
    if (ret && !(msg->is_request && slice_present(msg->method)))
        return ret;
    /* The header array's first block, here rather than at the first
     * header line, where the split's loop would leave its straight path
     * for it. A failure is left to the split, which meets it again there
     * (so ENOMEM comes where it came). */
    unsigned first_cap = lim->max_headers < HDRS_INITIAL ? lim->max_headers : HDRS_INITIAL;
    if (first_cap) { /* grow_hdrs() of an empty array, its allocation inline */
        struct sip_hdr *h = arena_alloc_inline(arena, first_cap * sizeof(*h));
        if (h) {
            msg->hdrs = h;
            msg->hdr_cap = first_cap;
        }
    }
    /* the first fault is the one reported: a request-line error keeps its
     * reason and status even when a header line is bad too */
    struct sip_error header_err;
    struct split_state st = {
        .msg = msg,
        .base = buf,
        .lim = lim,
        .err = ret ? &header_err : err,
        .scan = ls,
        .hdrs = msg->hdrs,
        .n = msg->hdr_count,
        .cap = msg->hdr_cap,
        .max_line = lim->max_header_len,
    };
    memset(st.colons, ':', sizeof(st.colons));
#if defined(SIP_SPLIT_AVX2)
    int sret = cpu_has_avx2() ? split_headers_avx2(&st, lf + 1) : split_headers(&st, lf + 1);
#else
    int sret = split_headers(&st, lf + 1);
#endif
    const struct sip_hdr *dup = st.dup;
    body = st.body;
    if (sret == ENOMEM)
        return ENOMEM;
    msg->headers_ok = true;
    if (ret)
        return ret;
    if (sret)
        return sret;
    if (too_big) {
        fail(err, buf, buf + lim->max_msg_len, "message too large", 513);
        return EMSGSIZE;
    }
    if (!body)
        return fail(err, buf, end, "no empty line after the headers", 400);
    ret = decode_keys(msg, buf, dup, err);
    if (ret)
        return ret;
    msg->keys_ok = true;
    ret = frame_body(msg, buf, body, end, flags, err);
    if (ret)
        return ret;
    if (!msg->is_request && msg->status == 0)
        return fail(err, buf, p, "bad status line", 0);
    return 0;
}

int sip_msg_parse(struct sip_msg *msg, struct arena *arena, const char *buf, size_t len,
                  const struct sip_limits *lim, unsigned flags, struct sip_error *err)
{
    int ret = parse_msg(msg, arena, buf, len, lim, flags, err);
    if (ret) {
        /* what was not decoded reads as absent, not as a previous message */
        if (!msg->ruri_ok)
            memset(&msg->ruri, 0, sizeof(msg->ruri));
        if (!msg->keys_ok) {
            memset(&msg->via, 0, sizeof(msg->via));
            memset(&msg->cseq, 0, sizeof(msg->cseq));
            memset(&msg->from, 0, sizeof(msg->from));
            memset(&msg->to, 0, sizeof(msg->to));
        }
    }
    return ret;
}

int sip_stream_frame(const char *buf, size_t len, const struct sip_limits *lim, size_t *skip,
                     size_t *msg_len, struct sip_error *err)
{
    const char *p = buf, *end = buf + len;

    if (!lim)
        lim = &sip_limits_default;
    err->offset = 0;
    err->reason = NULL;
    err->detail = NULL;
    err->status = 0;
    while (p < end && (*p == '\r' || *p == '\n'))
        p++;
    *skip = (size_t)(p - buf);
    const char *start = p;
    long cl = -1;
    /* header lines up to the empty line; we only need Content-Length */
    for (;;) {
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        if (!lf) {
            if ((size_t)(end - start) > lim->max_msg_len) {
                fail(err, buf, end, "message too large", 513);
                return EMSGSIZE;
            }
            return ENODATA;
        }
        const char *ce = content_end(p, lf);
        if (ce == p && p != start)
            break; /* the empty line */
        if (p != start && (*p == 'l' || *p == 'L' || *p == 'c' || *p == 'C')) {
            const char *n = p;
            while (n < ce && cc_is(*n, CC_TOKEN))
                n++;
            if (sip_hdr_lookup(p, (size_t)(n - p)) == SIP_HDR_CONTENT_LENGTH) {
                n = skip_lws(n, ce);
                if (n >= ce || *n != ':')
                    return fail(err, buf, p, "bad Content-Length", 400);
                /* a folded value: take the continuation lines too */
                const char *ve = lf;
                while (ve + 1 < end && (ve[1] == ' ' || ve[1] == '\t')) {
                    const char *nl = memchr(ve + 1, '\n', (size_t)(end - ve - 1));
                    if (!nl)
                        return ENODATA;
                    ve = nl;
                }
                /* the buffer ends after this line: a continuation may follow */
                if (ve + 1 >= end)
                    return ENODATA;
                uint64_t v;
                struct slice value = slice_trim(slice_make(n + 1, (size_t)(ve - n - 1)));
                int e = slice_to_u64(value, 0x7fffffff, &v);
                if (e != 0)
                    return fail(err, buf, value.len ? value.p : n + 1, "bad Content-Length", 400);
                if (cl >= 0)
                    return fail(err, buf, p, (uint64_t)cl != v ? "conflicting Content-Length"
                                                               : "duplicate Content-Length",
                                400);
                cl = (long)v;
            }
        }
        p = lf + 1;
        if ((size_t)(p - start) > lim->max_msg_len) {
            fail(err, buf, p, "message too large", 513);
            return EMSGSIZE;
        }
    }
    const char *body = memchr(p, '\n', (size_t)(end - p)) + 1;
    if (cl < 0)
        return fail(err, buf, body, "missing Content-Length", 400);
    size_t total = (size_t)(body - start) + (size_t)cl;
    if (total > lim->max_msg_len) {
        fail(err, buf, body, "message too large", 513);
        return EMSGSIZE;
    }
    if ((size_t)(end - start) < total)
        return ENODATA;
    *msg_len = total;
    return 0;
}

const struct sip_hdr *sip_msg_hdr(const struct sip_msg *msg, enum sip_hdr_type t)
{
    return ((unsigned)t < SIP_HDR_COUNT && msg->first[t]) ? &msg->hdrs[msg->first[t] - 1] : NULL;
}

const struct sip_hdr *sip_msg_hdr_next(const struct sip_msg *msg, const struct sip_hdr *h)
{
    return h->next ? &msg->hdrs[h->next - 1] : NULL;
}

const struct sip_hdr *sip_msg_hdr_by_name(const struct sip_msg *msg, struct slice name)
{
    for (unsigned i = 0; i < msg->hdr_count; i++)
        if (slice_caseeq(msg->hdrs[i].name, name))
            return &msg->hdrs[i];
    return NULL;
}

/* How far a decoder may read for the header value [p, end): the end of
 * the message that holds it, or end for a value from elsewhere (a header
 * added by the caller). */
static inline const char *value_lim(const struct sip_msg *msg, const char *p, const char *end)
{
    const char *data_end = slice_end(msg->data);
    return (data_end && p >= msg->data.p && end <= data_end) ? data_end : end;
}

/* Decodes every value of a list header (Via, Contact) into an arena array,
 * in one pass over the values, straight into the array: it starts with one
 * element per header line (most carry one value) and doubles when a line
 * holds more. 'first' is an already decoded first value (the top Via) or
 * NULL. */
#define LIST_FIRST_CAP 8192u /* bytes: how "too many values" is counted */
#define LIST_MAX 1024

typedef int list_decode_fn(void *elem, const char *p, const char *end, const char *lim,
                           const char **next, const char **reason);

/* The number of values after which a list is refused: what a first array
 * of LIST_FIRST_CAP bytes doubled until it holds LIST_MAX elements holds
 * (1280 Vias, 1472 Contacts). */
static unsigned list_limit(size_t elem_size)
{
    unsigned cap = (unsigned)(LIST_FIRST_CAP / elem_size);
    while (cap < LIST_MAX)
        cap *= 2;
    return cap;
}

/* Inlined into each caller, so that the element size, the limit and the
 * decoder are constants there (no loop for the limit, a direct call). */
static inline __attribute__((always_inline)) int
decode_list(struct sip_msg *msg, enum sip_hdr_type t, size_t elem_size, const void *first,
            const char *first_next, void **out, unsigned *n, const char **reason,
            list_decode_fn *decode)
{
    char *arr = NULL;
    unsigned cap = msg->first[t] ? msg->count[t] : 0, count = 0;

    *out = NULL;
    *n = 0;
    if (cap == 0)
        return 0;
    unsigned limit = list_limit(elem_size);
    if (cap > limit)
        cap = limit;
    arr = arena_alloc_inline(msg->arena, (size_t)cap * elem_size);
    if (!arr)
        return ENOMEM;
    for (const struct sip_hdr *h = sip_msg_hdr(msg, t); h; h = sip_msg_hdr_next(msg, h)) {
        const char *p = h->value.p, *end = slice_end(h->value);
        const char *lim = value_lim(msg, p, end);
        if (p == end) {
            *reason = "empty list element";
            return EBADMSG;
        }
        while (p < end) {
            if (count == cap) {
                if (count >= limit) {
                    *reason = "too many values";
                    return EBADMSG;
                }
                unsigned bigger_cap = cap * 2 < limit ? cap * 2 : limit;
                char *bigger = arena_alloc(msg->arena, (size_t)bigger_cap * elem_size);
                if (!bigger)
                    return ENOMEM;
                memcpy(bigger, arr, (size_t)count * elem_size);
                arr = bigger;
                cap = bigger_cap;
            }
            const char *next;
            char *elem = arr + (size_t)count * elem_size;
            if (count == 0 && first) {
                memcpy(elem, first, elem_size); /* the eager pass decoded it already */
                next = first_next;
            } else if (decode(elem, p, end, lim, &next, reason) != 0) {
                return EBADMSG;
            }
            count++;
            if (next < end) { /* at the ',' */
                next = skip_lws(next + 1, end);
                if (next == end || *next == ',') {
                    *reason = "empty list element";
                    return EBADMSG;
                }
            }
            p = next;
        }
    }
    *out = arr;
    *n = count;
    return 0;
}

static int decode_via(void *elem, const char *p, const char *end, const char *lim,
                      const char **next, const char **reason)
{
    return sip_via_parse_at(elem, p, end, lim, true, next, reason);
}

static int decode_contact(void *elem, const char *p, const char *end, const char *lim,
                          const char **next, const char **reason)
{
    return sip_nameaddr_parse_at(elem, p, end, lim, true, true, next, reason);
}

/* sip_msg_vias() of any Via lines: out of line, so that the common case
 * there needs no registers saved. */
static __attribute__((noinline)) int vias_decode(struct sip_msg *msg, const char **reason)
{
    void *arr = NULL;
    bool top = msg->keys_ok && msg->via_next;
    int ret = decode_list(msg, SIP_HDR_VIA, sizeof(struct sip_via), top ? &msg->via : NULL,
                          top ? msg->via_next : NULL, &arr, &msg->via_n, reason, decode_via);
    if (ret)
        return ret;
    msg->vias = arr;
    msg->decoded |= SIP_DEC_VIAS;
    return 0;
}

int sip_msg_vias(struct sip_msg *msg, const char **reason)
{
    if (msg->decoded & SIP_DEC_VIAS)
        return 0;
    unsigned first = msg->first[SIP_HDR_VIA]; /* set when the top Via was decoded */
    if (msg->keys_ok && msg->via_next && first && msg->count[SIP_HDR_VIA] == 1 &&
        msg->via_next == slice_end(msg->hdrs[first - 1].value)) {
        /* one Via line holding one value, decoded already: the list is
         * that value, so the array of one is msg->via itself (no copy;
         * nothing writes either after the decode) */
        msg->vias = &msg->via;
        msg->via_n = 1;
        msg->decoded |= SIP_DEC_VIAS;
        return 0;
    }
    return vias_decode(msg, reason);
}

int sip_msg_contacts(struct sip_msg *msg, const char **reason)
{
    if (msg->decoded & SIP_DEC_CONTACTS)
        return 0;
    void *arr = NULL;
    int ret = decode_list(msg, SIP_HDR_CONTACT, sizeof(struct sip_nameaddr), NULL, NULL, &arr,
                          &msg->contact_n, reason, decode_contact);
    if (ret)
        return ret;
    msg->contacts = arr;
    for (unsigned i = 0; msg->contact_n > 1 && i < msg->contact_n; i++) {
        if (msg->contacts[i].star) {
            *reason = "Contact * with other contacts";
            return EBADMSG;
        }
    }
    msg->decoded |= SIP_DEC_CONTACTS;
    return 0;
}

/* sip_msg_expires() of an Expires line, the first of its type at index
 * first - 1: out of line, so that the call without one saves no
 * registers. */
static __attribute__((noinline)) int expires_decode(struct sip_msg *msg, unsigned first,
                                                    const char **reason)
{
    uint64_t v;
    int e = slice_to_u64(msg->hdrs[first - 1].value, UINT32_MAX, &v);
    if (e == ERANGE) {
        v = UINT32_MAX; /* RFC 3261 20.19: a larger value means 2**32-1 */
    } else if (e) {
        msg->expires = -1;
        *reason = "bad Expires";
        return EBADMSG;
    }
    msg->expires = (long)v;
    msg->decoded |= SIP_DEC_EXPIRES;
    return 0;
}

int sip_msg_expires(struct sip_msg *msg, const char **reason)
{
    if (msg->decoded & SIP_DEC_EXPIRES)
        return 0;
    unsigned first = msg->first[SIP_HDR_EXPIRES];
    if (first)
        return expires_decode(msg, first, reason);
    msg->expires = -1;
    msg->decoded |= SIP_DEC_EXPIRES;
    return 0;
}

/* sip_msg_auth() of any credentials lines: out of line, so that the call
 * without one saves no registers. */
static __attribute__((noinline)) int auth_decode(struct sip_msg *msg, bool proxy,
                                                 const char **reason)
{
    uint32_t bit = proxy ? SIP_DEC_PROXY_AUTH : SIP_DEC_AUTH;
    struct sip_digest *d = proxy ? &msg->proxy_auth : &msg->auth;
    bool *has = proxy ? &msg->has_proxy_auth : &msg->has_auth;
    enum sip_hdr_type t = proxy ? SIP_HDR_PROXY_AUTHORIZATION : SIP_HDR_AUTHORIZATION;

    *has = false;
    for (const struct sip_hdr *h = sip_msg_hdr(msg, t); h; h = sip_msg_hdr_next(msg, h)) {
        const char *lim = value_lim(msg, h->value.p, slice_end(h->value));
        if (sip_digest_parse_in(d, h->value, lim, reason) != 0)
            return EBADMSG;
        if (SLICE_IEQ(d->scheme, "digest")) {
            *has = true;
            break;
        }
    }
    msg->decoded |= bit;
    return 0;
}

int sip_msg_auth(struct sip_msg *msg, bool proxy, const char **reason)
{
    uint32_t bit = proxy ? SIP_DEC_PROXY_AUTH : SIP_DEC_AUTH;

    if (msg->decoded & bit)
        return 0;
    if (msg->first[proxy ? SIP_HDR_PROXY_AUTHORIZATION : SIP_HDR_AUTHORIZATION])
        return auth_decode(msg, proxy, reason);
    *(proxy ? &msg->has_proxy_auth : &msg->has_auth) = false;
    msg->decoded |= bit;
    return 0;
}
