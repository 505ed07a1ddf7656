/* shim_auth.c: sipd's digest verify and nonces, and the raw OpenSSL bounds for them. */
#include "shim_auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#include "auth/digest.h"

#define USER     "alice"
#define REALM    "example.com"
#define PASSWORD "correct horse battery staple"
#define METHOD   "REGISTER"
#define URI      "sip:example.com"
#define NC       "00000001"
#define CNONCE   "3f9a1c7b"
#define QOP      "auth"
#define SECRET   "the bench cluster's shared secret"

struct shim_auth {
    time_t now;
    char nonce[AUTH_NONCE_MAX];
    size_t nonce_len;
    char ha1[AUTH_ALG_COUNT][AUTH_HEX_MAX];
    char response[AUTH_ALG_COUNT][AUTH_HEX_MAX]; /* what the client sends */
    struct auth_nonces *nonces;

    /* nc benchmark: one nonce and its next count */
    char nc_nonce[AUTH_NONCE_MAX];
    size_t nc_nonce_len;
    uint32_t nc_next;

    /* the raw bounds */
    EVP_MD *md[AUTH_ALG_COUNT];
    EVP_MD_CTX *md_ctx;
    char a2[64];
    size_t a2_len;
    char kd[AUTH_ALG_COUNT][256];
    size_t kd_len[AUTH_ALG_COUNT];
    EVP_MAC *mac;
    EVP_MAC_CTX *mac_ctx;
    unsigned char mac_input[16 + sizeof(REALM) - 1];
};

static void hex(const unsigned char *md, unsigned len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < len; i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 15];
    }
    out[2 * len] = '\0';
}

/* base64url without padding, back to bytes (the nonce payload, for the HMAC bound). */
static size_t unb64url(const char *s, size_t n, unsigned char *out)
{
    static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        const char *d = strchr(digits, s[i]);
        if (!d || !*d)
            return 0;
        acc = acc << 6 | (uint32_t)(d - digits);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[w++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return w;
}

static unsigned raw_digest(EVP_MD_CTX *c, const EVP_MD *md, const void *p, size_t n,
                           unsigned char *out)
{
    unsigned len = 0;
    if (EVP_DigestInit_ex2(c, md, NULL) != 1 || EVP_DigestUpdate(c, p, n) != 1 ||
        EVP_DigestFinal_ex(c, out, &len) != 1)
        return 0;
    return len;
}

int shim_auth_new(struct shim_auth **sp, const char **why)
{
    struct shim_auth *s = calloc(1, sizeof(*s));
    static const char *const fetch[AUTH_ALG_COUNT] = {"MD5", "SHA2-256"};

    *why = "out of memory";
    if (!s)
        return ENOMEM;
    s->now = time(NULL);
    struct auth_nonce_cfg cfg = {.secret = (const unsigned char *)SECRET,
                                 .secret_len = sizeof(SECRET) - 1};
    if (auth_nonces_new(&s->nonces, &cfg) != 0)
        goto fail;
    s->nonce_len = auth_nonce_make(s->nonces, SLICE_LIT(REALM), s->now, s->nonce);
    s->nc_nonce_len = auth_nonce_make(s->nonces, SLICE_LIT(REALM), s->now, s->nc_nonce);
    s->nc_next = 1;
    *why = "auth_nonce_make failed or the nonce does not check OK";
    if (!s->nonce_len || !s->nc_nonce_len || !shim_auth_nonce_check(s))
        goto fail;

    struct slice nonce = slice_make(s->nonce, s->nonce_len);
    for (int a = 0; a < AUTH_ALG_COUNT; a++) {
        *why = "auth_ha1 or auth_response failed";
        if (auth_ha1((enum auth_alg)a, SLICE_LIT(USER), SLICE_LIT(REALM), SLICE_LIT(PASSWORD),
                     s->ha1[a]) != 0 ||
            auth_response((enum auth_alg)a, slice_from_str(s->ha1[a]), nonce, SLICE_LIT(NC),
                          SLICE_LIT(CNONCE), SLICE_LIT(QOP), SLICE_LIT(METHOD), SLICE_LIT(URI),
                          s->response[a]) != 0)
            goto fail;
        *why = "cannot fetch a digest";
        s->md[a] = EVP_MD_fetch(NULL, fetch[a], NULL);
        if (!s->md[a])
            goto fail;
    }
    s->md_ctx = EVP_MD_CTX_new();
    if (!s->md_ctx)
        goto fail;

    /* the raw bound's bytes: A2, and the response's input with HA2 in hex */
    s->a2_len = (size_t)snprintf(s->a2, sizeof(s->a2), "%s:%s", METHOD, URI);
    for (int a = 0; a < AUTH_ALG_COUNT; a++) {
        unsigned char md[EVP_MAX_MD_SIZE];
        char ha2[AUTH_HEX_MAX], resp[AUTH_HEX_MAX];
        unsigned len = raw_digest(s->md_ctx, s->md[a], s->a2, s->a2_len, md);
        *why = "raw digest failed";
        if (!len)
            goto fail;
        hex(md, len, ha2);
        s->kd_len[a] =
            (size_t)snprintf(s->kd[a], sizeof(s->kd[a]), "%s:%.*s:%s:%s:%s:%s", s->ha1[a],
                             (int)s->nonce_len, s->nonce, NC, CNONCE, QOP, ha2);
        len = raw_digest(s->md_ctx, s->md[a], s->kd[a], s->kd_len[a], md);
        if (!len)
            goto fail;
        hex(md, len, resp);
        *why = "the raw bound does not hash the bytes of the client's response";
        if (strcmp(resp, s->response[a]) != 0)
            goto fail;
        *why = "sipd's verify refuses the right response or accepts a wrong one";
        if (!shim_auth_verify(s, (enum shim_auth_alg)a))
            goto fail;
        s->response[a][5] ^= 1; /* one digit changed (or made non-hex) */
        bool wrong = shim_auth_verify(s, (enum shim_auth_alg)a);
        s->response[a][5] ^= 1;
        if (wrong)
            goto fail;
    }

    /* the HMAC bound: the nonce's payload (its first 16 bytes), then the realm */
    unsigned char raw[32];
    *why = "cannot decode the nonce";
    if (unb64url(s->nonce, s->nonce_len, raw) != sizeof(raw))
        goto fail;
    memcpy(s->mac_input, raw, 16);
    memcpy(s->mac_input + 16, REALM, sizeof(REALM) - 1);
    *why = "cannot set up HMAC";
    s->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    s->mac_ctx = s->mac ? EVP_MAC_CTX_new(s->mac) : NULL;
    char digest[] = "SHA2-256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    if (!s->mac_ctx ||
        EVP_MAC_init(s->mac_ctx, (const unsigned char *)SECRET, sizeof(SECRET) - 1, params) != 1)
        goto fail;
    unsigned char full[EVP_MAX_MD_SIZE];
    unsigned full_len = 0;
    *why = "the HMAC bounds do not compute the nonce's MAC";
    if (!HMAC(EVP_sha256(), SECRET, (int)sizeof(SECRET) - 1, s->mac_input, sizeof(s->mac_input),
              full, &full_len) ||
        memcmp(full, raw + 16, 16) != 0 || shim_auth_hmac_reused(s) != raw[16] ||
        shim_auth_hmac_oneshot(s) != raw[16])
        goto fail;

    *sp = s;
    *why = NULL;
    return 0;
fail:
    shim_auth_free(s);
    return EINVAL;
}

void shim_auth_free(struct shim_auth *s)
{
    if (!s)
        return;
    auth_nonces_free(s->nonces);
    for (int a = 0; a < AUTH_ALG_COUNT; a++)
        EVP_MD_free(s->md[a]);
    EVP_MD_CTX_free(s->md_ctx);
    EVP_MAC_CTX_free(s->mac_ctx);
    EVP_MAC_free(s->mac);
    free(s);
}

bool shim_auth_verify(struct shim_auth *s, enum shim_auth_alg alg)
{
    char expect[AUTH_HEX_MAX];
    enum auth_alg a = (enum auth_alg)alg;

    if (auth_response(a, slice_make(s->ha1[a], auth_alg_hex_len(a)),
                      slice_make(s->nonce, s->nonce_len), SLICE_LIT(NC), SLICE_LIT(CNONCE),
                      SLICE_LIT(QOP), SLICE_LIT(METHOD), SLICE_LIT(URI), expect) != 0)
        return false;
    return auth_hex_eq(slice_make(expect, auth_alg_hex_len(a)),
                       slice_make(s->response[a], auth_alg_hex_len(a)));
}

unsigned shim_auth_raw(struct shim_auth *s, enum shim_auth_alg alg)
{
    unsigned char ha2[EVP_MAX_MD_SIZE], resp[EVP_MAX_MD_SIZE];

    raw_digest(s->md_ctx, s->md[alg], s->a2, s->a2_len, ha2);
    raw_digest(s->md_ctx, s->md[alg], s->kd[alg], s->kd_len[alg], resp);
    return resp[0] ^ ha2[0];
}

size_t shim_auth_nonce_make(struct shim_auth *s)
{
    char out[AUTH_NONCE_MAX];
    return auth_nonce_make(s->nonces, SLICE_LIT(REALM), s->now, out);
}

bool shim_auth_nonce_check(struct shim_auth *s)
{
    return auth_nonce_check(s->nonces, slice_make(s->nonce, s->nonce_len), SLICE_LIT(REALM),
                            s->now) == AUTH_NONCE_OK;
}

unsigned shim_auth_hmac_reused(struct shim_auth *s)
{
    unsigned char out[EVP_MAX_MD_SIZE];
    size_t len = 0;

    if (EVP_MAC_init(s->mac_ctx, NULL, 0, NULL) != 1 ||
        EVP_MAC_update(s->mac_ctx, s->mac_input, sizeof(s->mac_input)) != 1 ||
        EVP_MAC_final(s->mac_ctx, out, &len, sizeof(out)) != 1)
        return 256;
    return out[0];
}

unsigned shim_auth_hmac_oneshot(struct shim_auth *s)
{
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned len = 0;

    if (!HMAC(EVP_sha256(), SECRET, (int)sizeof(SECRET) - 1, s->mac_input, sizeof(s->mac_input),
              out, &len))
        return 256;
    return out[0];
}

bool shim_auth_nonce_nc(struct shim_auth *s)
{
    static const char digits[] = "0123456789abcdef";
    char nc[8];

    if (s->nc_next == 0) { /* wrapped: a new nonce starts at 1 */
        s->nc_nonce_len = auth_nonce_make(s->nonces, SLICE_LIT(REALM), s->now, s->nc_nonce);
        s->nc_next = 1;
    }
    for (int i = 7; i >= 0; i--)
        nc[7 - i] = digits[(s->nc_next >> (4 * i)) & 15];
    s->nc_next++;
    return auth_nonce_nc(s->nonces, slice_make(s->nc_nonce, s->nc_nonce_len),
                         slice_make(nc, sizeof(nc)));
}
