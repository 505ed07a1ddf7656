/* shim_auth.h: a plain C face over sipd's digests and nonces (src/auth) for the C++ benchmarks. */
#ifndef SIPD_BENCH_SHIM_AUTH_H
#define SIPD_BENCH_SHIM_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * One REGISTER's digest credentials (user alice, realm example.com,
 * uri sip:example.com, qop=auth, nc 00000001, an 8-character cnonce and a
 * nonce made by sipd), the client's response for each algorithm, the HA1s
 * a subscriber cache would hold, a nonce state with a fixed secret, and,
 * for the bounds, an EVP digest context and an HMAC context of the shim's
 * own with the same bytes laid out ready to hash.
 *
 * shim_auth_new() checks, before anything is timed, that sipd's verify
 * accepts the client's response and refuses a wrong one, that the raw
 * bound's two digests end in the client's response (it hashes the same
 * bytes), that the raw HMAC equals sipd's nonce MAC input for input, and
 * that the nonce checks OK. Single-threaded: one thread uses a shim.
 */
enum shim_auth_alg { SHIM_AUTH_MD5 = 0, SHIM_AUTH_SHA256 = 1 };

struct shim_auth;

/* 0, or an errno value with *why saying what did not hold. */
int shim_auth_new(struct shim_auth **sp, const char **why);
void shim_auth_free(struct shim_auth *s);

/* sipd: auth_response() from the cached HA1 (HA2, then the response),
 * then auth_hex_eq() against the client's response. True when equal. */
bool shim_auth_verify(struct shim_auth *s, enum shim_auth_alg alg);

/* The bound: two EVP digests with one reused context, over the bytes
 * "REGISTER:sip:example.com" and "HA1:nonce:nc:cnonce:auth:HA2" (laid out
 * once, before timing). Returns the response digest's first byte. */
unsigned shim_auth_raw(struct shim_auth *s, enum shim_auth_alg alg);

/* sipd: auth_nonce_make() for the realm; returns the nonce's length. */
size_t shim_auth_nonce_make(struct shim_auth *s);

/* sipd: auth_nonce_check() of a valid nonce; true when OK. */
bool shim_auth_nonce_check(struct shim_auth *s);

/* The nonce MAC's bound: HMAC-SHA-256 of the same bytes as a check (16
 * bytes of nonce payload, then the realm) with a keyed context reused
 * (EVP_MAC_init without a key). Returns the MAC's first byte. */
unsigned shim_auth_hmac_reused(struct shim_auth *s);

/* The same HMAC through OpenSSL's one-shot HMAC() (fetch, context, key
 * schedule per call), for comparison. Returns the MAC's first byte. */
unsigned shim_auth_hmac_oneshot(struct shim_auth *s);

/* sipd: auth_nonce_nc() with the next nc of one nonce (a fresh nonce when
 * the count would wrap). True when accepted, as every call should be. */
bool shim_auth_nonce_nc(struct shim_auth *s);

#ifdef __cplusplus
}
#endif

#endif
