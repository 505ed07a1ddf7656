/* digest.c: HA1 and responses through EVP, algorithm names, constant-time hex compare. */
#include "auth/digest.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "auth/digest_int.h"

/*
 * Per-thread contexts. Fetching an algorithm (EVP_MD_fetch) takes a lock
 * and a lookup in OpenSSL's method store, and making a context allocates:
 * both far too slow for once per request. So each thread has one struct
 * auth_tls holding, made on first use of each: the fetched MD5 and SHA-256
 * methods with one digest context each (one per algorithm: re-initialising
 * a context with another algorithm frees and re-makes its state), and the
 * fetched HMAC with one MAC context and the id of the key it holds.
 *
 * The struct is found through a _Thread_local pointer (one TLS load per
 * call) and registered under a pthread key whose destructor frees it when
 * the thread exits. The key is the one piece of process-wide state here:
 * created once (pthread_once), never changed, never deleted.
 */
struct auth_tls {
    EVP_MD *md[AUTH_ALG_COUNT];
    EVP_MD_CTX *md_ctx[AUTH_ALG_COUNT];
    EVP_MAC *mac;
    EVP_MAC_CTX *mac_ctx;
    uint64_t mac_key_id; /* whose key mac_ctx holds; 0: none */
};

static _Thread_local struct auth_tls *tls;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static pthread_key_t tls_key;
static int tls_key_err; /* written once inside pthread_once */

/* OpenSSL's names (EVP_MD_fetch), in enum auth_alg order. */
static const char *const md_fetch_names[AUTH_ALG_COUNT] = {"MD5", "SHA2-256"};
/* The names of RFC 7616's algorithm parameter, in enum auth_alg order. */
static const char *const alg_names[AUTH_ALG_COUNT] = {"MD5", "SHA-256"};

static void tls_free(void *p)
{
    struct auth_tls *t = p;

    for (int i = 0; i < AUTH_ALG_COUNT; i++) {
        EVP_MD_CTX_free(t->md_ctx[i]);
        EVP_MD_free(t->md[i]);
    }
    EVP_MAC_CTX_free(t->mac_ctx); /* cleanses the key's pads */
    EVP_MAC_free(t->mac);
    free(t);
    tls = NULL;
}

static void tls_key_make(void)
{
    tls_key_err = pthread_key_create(&tls_key, tls_free);
}

static struct auth_tls *tls_get(void)
{
    if (tls)
        return tls;
    if (pthread_once(&tls_once, tls_key_make) != 0 || tls_key_err != 0)
        return NULL;
    struct auth_tls *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    if (pthread_setspecific(tls_key, t) != 0) {
        free(t);
        return NULL;
    }
    tls = t;
    return t;
}

/* The thread's context for alg, initialised for a new digest; NULL on failure. */
static EVP_MD_CTX *md_begin(enum auth_alg alg)
{
    struct auth_tls *t = tls_get();

    if (!t)
        return NULL;
    if (!t->md_ctx[alg]) {
        if (!t->md[alg])
            t->md[alg] = EVP_MD_fetch(NULL, md_fetch_names[alg], NULL);
        if (!t->md[alg])
            goto fail;
        t->md_ctx[alg] = EVP_MD_CTX_new();
        if (!t->md_ctx[alg])
            goto fail;
    }
    if (EVP_DigestInit_ex2(t->md_ctx[alg], t->md[alg], NULL) != 1)
        goto fail;
    return t->md_ctx[alg];
fail:
    ERR_clear_error();
    return NULL;
}

EVP_MAC_CTX *auth_mac_ctx(uint64_t key_id, const unsigned char *key, size_t key_len)
{
    struct auth_tls *t = tls_get();

    if (!t)
        return NULL;
    if (!t->mac_ctx) {
        if (!t->mac)
            t->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        if (!t->mac)
            goto fail;
        t->mac_ctx = EVP_MAC_CTX_new(t->mac);
        if (!t->mac_ctx)
            goto fail;
    }
    if (key_id != 0 && t->mac_key_id == key_id) {
        /* same key: restart from the stored inner and outer pad states */
        if (EVP_MAC_init(t->mac_ctx, NULL, 0, NULL) != 1)
            goto fail;
        return t->mac_ctx;
    }
    char digest[] = "SHA2-256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    t->mac_key_id = 0;
    if (EVP_MAC_init(t->mac_ctx, key, key_len, params) != 1)
        goto fail;
    t->mac_key_id = key_id;
    return t->mac_ctx;
fail:
    t->mac_key_id = 0;
    ERR_clear_error();
    return NULL;
}

void auth_mac_ctx_reset(void)
{
    if (tls)
        tls->mac_key_id = 0;
    ERR_clear_error();
}

/* ---------------------------------------------------------------- digests */

/* Parts up to this many bytes in all are joined on the stack and hashed
 * with one update; longer inputs (a long password) take one update each. */
#define JOIN_BUF 512

/*
 * H(parts[0] ":" parts[1] ":" ...) into md; returns the digest's length, 0
 * on failure. With 'secret' (a password among the parts) the stack copy is
 * cleansed. An HA1 is not cleansed: it is a password equivalent too, but
 * the subscriber cache keeps it in memory anyway, and the response is hot.
 */
static unsigned digest_join(enum auth_alg alg, const struct slice *parts, size_t n, bool secret,
                            unsigned char md[EVP_MAX_MD_SIZE])
{
    EVP_MD_CTX *c = md_begin(alg);
    char buf[JOIN_BUF];
    size_t total = n - 1;
    int ok = 1;
    unsigned len = 0;

    if (!c)
        return 0;
    for (size_t i = 0; i < n; i++)
        total += parts[i].len;
    if (total <= sizeof(buf)) {
        char *w = buf;
        for (size_t i = 0; i < n; i++) {
            if (i)
                *w++ = ':';
            if (parts[i].len)
                memcpy(w, parts[i].p, parts[i].len);
            w += parts[i].len;
        }
        ok = EVP_DigestUpdate(c, buf, total);
        if (secret)
            OPENSSL_cleanse(buf, total);
    } else {
        for (size_t i = 0; i < n && ok; i++)
            ok = (i == 0 || EVP_DigestUpdate(c, ":", 1)) &&
                 EVP_DigestUpdate(c, parts[i].p, parts[i].len);
    }
    if (!ok || EVP_DigestFinal_ex(c, md, &len) != 1) {
        ERR_clear_error();
        return 0;
    }
    return len;
}

/* "000102...feff": the two lower-case hex digits of every byte value. */
#define HEX_ROW(h)                                                                                 \
    h "0" h "1" h "2" h "3" h "4" h "5" h "6" h "7" h "8" h "9" h "a" h "b" h "c" h "d" h "e" h "f"
static const char hex_pairs[512 + 1] = HEX_ROW("0") HEX_ROW("1") HEX_ROW("2") HEX_ROW("3")
    HEX_ROW("4") HEX_ROW("5") HEX_ROW("6") HEX_ROW("7") HEX_ROW("8") HEX_ROW("9") HEX_ROW("a")
        HEX_ROW("b") HEX_ROW("c") HEX_ROW("d") HEX_ROW("e") HEX_ROW("f");

/* Lower-case hex of len bytes (a digest: a multiple of 4) and a NUL into
 * out: one table load per byte, four bytes per turn. */
static void to_hex(const unsigned char *md, size_t len, char *out)
{
    for (size_t i = 0; i < len; i += 4, md += 4, out += 8) {
        memcpy(out, hex_pairs + 2 * (size_t)md[0], 2);
        memcpy(out + 2, hex_pairs + 2 * (size_t)md[1], 2);
        memcpy(out + 4, hex_pairs + 2 * (size_t)md[2], 2);
        memcpy(out + 6, hex_pairs + 2 * (size_t)md[3], 2);
    }
    *out = '\0';
}

int auth_alg_parse(struct slice name, enum auth_alg *out)
{
    if (!slice_present(name)) {
        *out = AUTH_ALG_MD5;
        return 0;
    }
    /* slice_caseeq, not SLICE_IEQ: a configured name is not a validated token */
    for (int i = 0; i < AUTH_ALG_COUNT; i++) {
        if (slice_caseeq(name, slice_from_str(alg_names[i]))) {
            *out = (enum auth_alg)i;
            return 0;
        }
    }
    return EINVAL;
}

const char *auth_alg_name(enum auth_alg alg)
{
    return (unsigned)alg < AUTH_ALG_COUNT ? alg_names[alg] : NULL;
}

size_t auth_alg_hex_len(enum auth_alg alg)
{
    switch (alg) {
    case AUTH_ALG_MD5:
        return 32;
    case AUTH_ALG_SHA256:
        return 64;
    default:
        return 0;
    }
}

int auth_ha1(enum auth_alg alg, struct slice username, struct slice realm, struct slice password,
             char out[AUTH_HEX_MAX])
{
    const struct slice parts[3] = {username, realm, password};
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len;

    out[0] = '\0';
    if ((unsigned)alg >= AUTH_ALG_COUNT)
        return EINVAL;
    len = digest_join(alg, parts, 3, true, md);
    if (!len)
        return ENOMEM;
    to_hex(md, len, out);
    return 0;
}

int auth_response(enum auth_alg alg, struct slice ha1, struct slice nonce, struct slice nc,
                  struct slice cnonce, struct slice qop, struct slice method, struct slice uri,
                  char out[AUTH_HEX_MAX])
{
    size_t hex_len = auth_alg_hex_len(alg);
    char ha1_lower[AUTH_HEX_MAX - 1];
    char ha2[AUTH_HEX_MAX];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len;

    out[0] = '\0';
    if (hex_len == 0 || ha1.len != hex_len)
        return EINVAL;
    /* SLICE_IEQ folds only A/U/T/H onto a/u/t/h: an exact case-insensitive test here */
    if (slice_present(qop) &&
        (!SLICE_IEQ(qop, "auth") || !slice_present(nc) || !slice_present(cnonce)))
        return EINVAL;

    const struct slice a2[2] = {method, uri};
    len = digest_join(alg, a2, 2, false, md);
    if (!len)
        return ENOMEM;
    to_hex(md, len, ha2);

    /* OR 0x20 lower-cases hex letters and keeps digits (an HA1 holding
     * other bytes is no HA1: no client computes a response from it) */
    for (size_t i = 0; i < hex_len; i += 8) {
        uint64_t w;
        memcpy(&w, ha1.p + i, 8);
        w |= 0x2020202020202020ull;
        memcpy(ha1_lower + i, &w, 8);
    }
    struct slice h1 = slice_make(ha1_lower, hex_len), h2 = slice_make(ha2, 2 * (size_t)len);
    if (slice_present(qop)) {
        const struct slice parts[6] = {h1, nonce, nc, cnonce, qop, h2};
        len = digest_join(alg, parts, 6, false, md);
    } else {
        const struct slice parts[3] = {h1, nonce, h2};
        len = digest_join(alg, parts, 3, false, md);
    }
    if (!len)
        return ENOMEM;
    to_hex(md, len, out);
    return 0;
}

/* 1 when c is not a hex digit, without a branch on c. */
static inline unsigned not_hex(unsigned char c)
{
    unsigned digit = (unsigned char)(c - '0') < 10;
    unsigned letter = (unsigned char)((c | 0x20) - 'a') < 6;
    return (digit | letter) ^ 1;
}

/*
 * The same for 8 bytes at once: the top bit of each byte of the result is
 * set when that byte is not a hex digit. With the top bits cleared no byte
 * carries into the next: c + 0x50 reaches 0x80 exactly when c >= '0',
 * c + 0x46 when c > '9'; for l = c | 0x20, l + 0x1f when l >= 'a', l + 0x19
 * when l > 'f'. A byte with its top bit set is never a digit.
 */
static inline uint64_t not_hex8(uint64_t w)
{
    const uint64_t top = 0x8080808080808080ull;
    uint64_t low = w & ~top;
    uint64_t digit = (low + 0x5050505050505050ull) & ~(low + 0x4646464646464646ull);
    uint64_t l = low | 0x2020202020202020ull;
    uint64_t letter = (l + 0x1f1f1f1f1f1f1f1full) & ~(l + 0x1919191919191919ull);
    return (((digit | letter) & top) ^ top) | (w & top);
}

bool auth_hex_eq(struct slice a, struct slice b)
{
    /* Lengths decide the only branches: with unequal lengths a is
     * compared with itself, so the loop still runs over all of a. */
    const char *bp = a.len == b.len ? b.p : a.p;
    uint64_t diff = (a.len != b.len) | (a.len == 0);
    size_t i = 0;

    /* OR 0x20 lower-cases A-F and leaves 0-9 alone; the not-hex tests rule
     * out the other bytes it would fold onto them */
    for (; i + 8 <= a.len; i += 8) {
        uint64_t x, y;
        memcpy(&x, a.p + i, 8);
        memcpy(&y, bp + i, 8);
        diff |=
            ((x | 0x2020202020202020ull) ^ (y | 0x2020202020202020ull)) | not_hex8(x) | not_hex8(y);
    }
    for (; i < a.len; i++) {
        unsigned char x = (unsigned char)a.p[i], y = (unsigned char)bp[i];
        diff |= ((x | 0x20u) ^ (y | 0x20u)) | not_hex(x) | not_hex(y);
    }
    return diff == 0;
}
