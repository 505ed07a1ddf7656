/* nonce.c: stateless HMAC nonces (make, check) and the lock-free nc replay slots. */
#include "auth/digest.h"

#include <assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "auth/digest_int.h"

/*
 * Layout. A nonce is 32 bytes, base64url without padding (43 characters):
 *
 *   0..7    issue time, seconds since 1970, big-endian
 *   8..11   index: this process's counter at the time, big-endian
 *   12..15  salt: random per process (per auth_nonces), big-endian
 *   16..31  HMAC-SHA-256(secret, bytes 0..15 || realm), first 16 bytes
 *
 * The MAC covers the realm without carrying it, so a nonce made for one
 * realm fails for another. 16 bytes of MAC (128 bits) are far beyond
 * guessing within a nonce's life. The index and salt make every nonce of
 * every node distinct (the time alone repeats within a second) and choose
 * its replay slot.
 *
 * Replay slots. Slot (index + salt) mod 2^k holds ((issue time mod 2^32)
 * << 32 | highest nc) of what was accepted there: a 64-bit register that
 * only grows (compare-and-swap, relaxed: nothing else is published through
 * it). A request is accepted when its own (time, nc) value is larger, so
 * a (nonce, nc) pair accepted once can never be accepted again: the
 * register is at least that large from then on. Ordering by issue time
 * rather than by index keeps this true for nonces made by other nodes,
 * whose indexes do not compare with ours; consecutive indexes of one
 * process still fill consecutive slots, so its own nonces collide only
 * after 2^k newer ones. Seconds since 1970 fit 32 bits until 2106.
 */

#define NONCE_PAYLOAD 16
#define NONCE_MAC     16
#define NONCE_BYTES   (NONCE_PAYLOAD + NONCE_MAC)
#define NONCE_CHARS   43 /* ceil(32 * 8 / 6) */
#define NONCE_FUTURE  60 /* seconds a nonce may be dated ahead of now */

#define DEFAULT_EXPIRE     300
#define DEFAULT_SLOTS_LOG2 18
#define MAX_SLOTS_LOG2     26
#define RANDOM_SECRET_LEN  32

static_assert(NONCE_CHARS < AUTH_NONCE_MAX, "a nonce and its NUL fit AUTH_NONCE_MAX");
static_assert(NONCE_BYTES == 32 && NONCE_CHARS == 43,
              "nonce_decode's tail is written for 32 bytes");
static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "the replay slots need lock-free 64-bit atomics");

struct auth_nonces {
    uint64_t key_id; /* tells the per-thread HMAC contexts which key they hold */
    unsigned expire;
    uint32_t salt;
    uint32_t slot_mask;
    _Atomic uint32_t next_index;
    size_t secret_len;
    unsigned char *secret;
    _Atomic uint64_t *slots;
};

static void put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static void put_be32(unsigned char *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static uint64_t get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static uint32_t get_be32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = v << 8 | p[i];
    return v;
}

/* ---------------------------------------------------------------- base64url (RFC 4648 5) */

static const char b64url_digits[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Encodes n bytes without padding; writes ceil(n * 4 / 3) characters. */
static void b64url_encode(const unsigned char *in, size_t n, char *out)
{
    size_t i = 0;

    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *out++ = b64url_digits[v >> 18];
        *out++ = b64url_digits[(v >> 12) & 63];
        *out++ = b64url_digits[(v >> 6) & 63];
        *out++ = b64url_digits[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        *out++ = b64url_digits[v >> 18];
        *out++ = b64url_digits[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        *out++ = b64url_digits[v >> 18];
        *out++ = b64url_digits[(v >> 12) & 63];
        *out++ = b64url_digits[(v >> 6) & 63];
    }
}

/* The value of each byte as a base64url digit; 255: not one. */
/* clang-format off */
static const unsigned char b64url_values[256] = {
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,  62, 255, 255,
     52,  53,  54,  55,  56,  57,  58,  59,  60,  61, 255, 255, 255, 255, 255, 255,
    255,   0,   1,   2,   3,   4,   5,   6,   7,   8,   9,  10,  11,  12,  13,  14,
     15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25, 255, 255, 255, 255,  63,
    255,  26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,
     41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
};
/* clang-format on */

/* Decodes a nonce's 43 characters into its 32 bytes, four characters to
 * three bytes at a time. Strict: any other length, a byte outside the
 * alphabet, or set bits in the unused low bits of the last character (a
 * second spelling of the same bytes) fail. Nonces are public: no need to
 * hide where one is malformed. */
static bool nonce_decode(struct slice s, unsigned char out[NONCE_BYTES])
{
    const unsigned char *p = (const unsigned char *)s.p;
    unsigned bad = 0;
    uint32_t v[NONCE_CHARS];

    if (s.len != NONCE_CHARS)
        return false;
    for (size_t i = 0; i < NONCE_CHARS; i++) {
        unsigned d = b64url_values[p[i]];
        bad |= d;
        v[i] = d;
    }
    if (bad & 0xc0) /* not a digit somewhere (digits are below 64) */
        return false;
    size_t i = 0, w = 0;
    for (; i + 4 <= NONCE_CHARS; i += 4, w += 3) {
        uint32_t x = v[i] << 18 | v[i + 1] << 12 | v[i + 2] << 6 | v[i + 3];
        out[w] = (unsigned char)(x >> 16);
        out[w + 1] = (unsigned char)(x >> 8);
        out[w + 2] = (unsigned char)x;
    }
    /* 43 = 4 * 10 + 3: three digits left for the last two bytes and 2 spare bits */
    uint32_t x = v[i] << 12 | v[i + 1] << 6 | v[i + 2];
    out[w] = (unsigned char)(x >> 10);
    out[w + 1] = (unsigned char)(x >> 2);
    return (x & 3) == 0;
}

/* ---------------------------------------------------------------- state */

int auth_nonces_new(struct auth_nonces **np, const struct auth_nonce_cfg *cfg)
{
    static const struct auth_nonce_cfg defaults = {0};
    struct auth_nonces *n;
    unsigned log2;
    int err = ENOMEM;

    if (!cfg)
        cfg = &defaults;
    log2 = cfg->nc_slots_log2 ? cfg->nc_slots_log2 : DEFAULT_SLOTS_LOG2;
    if (log2 > MAX_SLOTS_LOG2 || (cfg->secret && cfg->secret_len == 0))
        return EINVAL;

    n = calloc(1, sizeof(*n));
    if (!n)
        return ENOMEM;
    n->expire = cfg->expire ? cfg->expire : DEFAULT_EXPIRE;
    n->slot_mask = (1u << log2) - 1;
    atomic_init(&n->next_index, 0);
    n->secret_len = cfg->secret ? cfg->secret_len : RANDOM_SECRET_LEN;
    n->secret = malloc(n->secret_len);
    n->slots = calloc((size_t)1 << log2, sizeof(*n->slots)); /* all 0: nothing accepted */
    if (!n->secret || !n->slots)
        goto fail;
    err = EIO;
    if (cfg->secret)
        memcpy(n->secret, cfg->secret, n->secret_len);
    else if (RAND_bytes(n->secret, (int)n->secret_len) != 1)
        goto fail;
    unsigned char rnd[12];
    do {
        if (RAND_bytes(rnd, sizeof(rnd)) != 1)
            goto fail;
        n->key_id = get_be64(rnd);
    } while (n->key_id == 0);
    n->salt = get_be32(rnd + 8);
    *np = n;
    return 0;
fail:
    auth_nonces_free(n);
    return err;
}

void auth_nonces_free(struct auth_nonces *n)
{
    if (!n)
        return;
    if (n->secret)
        OPENSSL_clear_free(n->secret, n->secret_len);
    free(n->slots);
    free(n);
}

/* The first NONCE_MAC bytes of HMAC(secret, payload || realm) into mac. */
static bool nonce_mac(const struct auth_nonces *n, const unsigned char *payload, struct slice realm,
                      unsigned char mac[NONCE_MAC])
{
    unsigned char full[EVP_MAX_MD_SIZE];
    size_t len = 0;
    EVP_MAC_CTX *c = auth_mac_ctx(n->key_id, n->secret, n->secret_len);

    if (!c)
        return false;
    if (EVP_MAC_update(c, payload, NONCE_PAYLOAD) != 1 ||
        (realm.len && EVP_MAC_update(c, (const unsigned char *)realm.p, realm.len) != 1) ||
        EVP_MAC_final(c, full, &len, sizeof(full)) != 1 || len < NONCE_MAC) {
        auth_mac_ctx_reset();
        return false;
    }
    memcpy(mac, full, NONCE_MAC);
    return true;
}

size_t auth_nonce_make(struct auth_nonces *n, struct slice realm, time_t now, char *out)
{
    unsigned char raw[NONCE_BYTES];
    uint32_t index = atomic_fetch_add_explicit(&n->next_index, 1, memory_order_relaxed);

    put_be64(raw, (uint64_t)now);
    put_be32(raw + 8, index);
    put_be32(raw + 12, n->salt);
    if (!nonce_mac(n, raw, realm, raw + NONCE_PAYLOAD)) {
        out[0] = '\0';
        return 0;
    }
    b64url_encode(raw, NONCE_BYTES, out);
    out[NONCE_CHARS] = '\0';
    return NONCE_CHARS;
}

enum auth_nonce_state auth_nonce_check(struct auth_nonces *n, struct slice nonce,
                                       struct slice realm, time_t now)
{
    unsigned char raw[NONCE_BYTES], mac[NONCE_MAC];

    if (!nonce_decode(nonce, raw) || !nonce_mac(n, raw, realm, mac) ||
        CRYPTO_memcmp(mac, raw + NONCE_PAYLOAD, NONCE_MAC) != 0)
        return AUTH_NONCE_BAD;
    /* authentic from here on: only its age is in question */
    int64_t issued = (int64_t)get_be64(raw), at = (int64_t)now;
    if (issued > at + NONCE_FUTURE || at - issued > (int64_t)n->expire)
        return AUTH_NONCE_STALE;
    return AUTH_NONCE_OK;
}

/* nc: exactly 8 hex digits, not all zero. */
static bool parse_nc(struct slice s, uint32_t *out)
{
    uint32_t v = 0;

    if (s.len != 8)
        return false;
    for (size_t i = 0; i < 8; i++) {
        int d = hex_value(s.p[i]);
        if (d < 0)
            return false;
        v = v << 4 | (uint32_t)d;
    }
    *out = v;
    return v != 0;
}

bool auth_nonce_nc(struct auth_nonces *n, struct slice nonce, struct slice nc)
{
    unsigned char raw[NONCE_BYTES];
    uint32_t count;

    if (!nonce_decode(nonce, raw) || !parse_nc(nc, &count))
        return false;
    uint32_t issued = (uint32_t)get_be64(raw);
    uint32_t slot = (get_be32(raw + 8) + get_be32(raw + 12)) & n->slot_mask;
    uint64_t want = (uint64_t)issued << 32 | count;
    _Atomic uint64_t *p = &n->slots[slot];
    uint64_t cur = atomic_load_explicit(p, memory_order_relaxed);
    do {
        if (cur >= want)
            return false; /* replayed or lower nc, or a newer nonce holds the slot */
    } while (!atomic_compare_exchange_weak_explicit(p, &cur, want, memory_order_relaxed,
                                                    memory_order_relaxed));
    return true;
}
