/* digest.h: HTTP digest (RFC 2617, 7616, 8760) computations and stateless nonces. */
#ifndef SIPD_AUTH_DIGEST_H
#define SIPD_AUTH_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/slice.h"

/*
 * Hashes go through OpenSSL's EVP interface. Every function here may be
 * called from any thread at any time. Each thread gets its own EVP digest
 * and HMAC contexts on first use, reuses them, and frees them when it
 * exits, so no call fetches an algorithm or makes a context. OpenSSL 3.0
 * still frees and re-creates its small internal digest state at every
 * digest init (one malloc and free each, from the thread's cache); that
 * allocation can fail, hence the int results below.
 */

enum auth_alg { AUTH_ALG_MD5 = 0, AUTH_ALG_SHA256 = 1, AUTH_ALG_COUNT };

/* Longest hex digest (SHA-256) plus a NUL. */
#define AUTH_HEX_MAX 65

/* "MD5" / "SHA-256" (case-insensitive); an absent algorithm ({NULL, 0}) is
 * MD5 (RFC 2617). EINVAL for anything else, including an empty value and
 * the -sess variants, which sipd does not offer. */
int auth_alg_parse(struct slice name, enum auth_alg *out);
/* "MD5" or "SHA-256"; NULL for a value outside the enum. */
const char *auth_alg_name(enum auth_alg alg);
/* Hex length of the algorithm's digests: 32 or 64 (0 outside the enum). */
size_t auth_alg_hex_len(enum auth_alg alg);

/*
 * HA1 = H(username ":" realm ":" password), lower-case hex with a NUL, into
 * out (AUTH_HEX_MAX bytes). 0, EINVAL (alg outside the enum) or ENOMEM
 * (OpenSSL could not make its context). On failure out is "", which
 * auth_hex_eq never finds equal to anything.
 */
int auth_ha1(enum auth_alg alg, struct slice username, struct slice realm, struct slice password,
             char out[AUTH_HEX_MAX]);

/*
 * The response a client must send: with qop,
 *   H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" H(method ":" uri)),
 * without (qop absent), H(HA1 ":" nonce ":" H(method ":" uri)).
 * ha1 is hex of the algorithm's length, in either case (it is hashed in
 * lower case, as H() writes it). qop, when present, must be "auth" (any
 * case; hashed as sent) with nc and cnonce present: auth-int would need the
 * body's hash in HA2, and sipd does not offer it. out gets lower-case hex
 * and a NUL. 0, EINVAL (bad alg, ha1 length or qop; out is "") or ENOMEM
 * (out is "").
 */
int auth_response(enum auth_alg alg, struct slice ha1, struct slice nonce, struct slice nc,
                  struct slice cnonce, struct slice qop, struct slice method, struct slice uri,
                  char out[AUTH_HEX_MAX]);

/* Compares two hex strings, case-insensitively, in time that depends only
 * on a's length (a wrong response costs the same whatever it is, and
 * whatever its length): pass the expected value as a and the received one
 * as b. False when either is empty or holds a byte that is not a hex digit. */
bool auth_hex_eq(struct slice a, struct slice b);

/* ---------------------------------------------------------------- nonces */

/*
 * A nonce is self-contained: issue time (seconds), a per-process index from
 * an atomic counter, a random per-process salt, and an HMAC-SHA-256
 * (truncated to 16 bytes) over them and the realm, keyed with the
 * configured secret, base64url-encoded without padding (43 characters).
 * Any node with the same secret verifies it without shared state.
 *
 * nc replay (qop=auth): each node keeps a fixed array of 64-bit slots; a
 * nonce's slot comes from its index and salt (consecutive nonces of one
 * process take consecutive slots). A slot holds the largest
 * (issue time, nc) pair accepted in it, updated with compare-and-swap
 * (lock-free); a request is accepted only when its pair is larger. So an
 * nc is never accepted twice for a nonce on one node; a nonce whose slot a
 * newer nonce (later issue time) took meanwhile is refused (answer stale:
 * a fresh challenge); two nonces issued in the same second that share a
 * slot share its counter (either may be refused, never a replay accepted).
 * The state is per node and in memory: another node, or this one after a
 * restart, has not seen the nc values used here.
 */
struct auth_nonces;

struct auth_nonce_cfg {
    const unsigned char *secret; /* NULL: a random one (the caller warns that the
                                    nodes of a cluster must share one) */
    size_t secret_len;           /* > 0 when secret is set */
    unsigned expire;             /* seconds a nonce is valid; 0: 300 */
    unsigned nc_slots_log2;      /* 2^n replay slots of 8 bytes, 1..26; 0: 18 */
};

/* Creates the nonce state (the secret is copied). 0, EINVAL (bad cfg; NULL
 * cfg means all defaults), ENOMEM, or EIO (no random bytes). */
int auth_nonces_new(struct auth_nonces **np, const struct auth_nonce_cfg *cfg);
/* NULL is fine. No other thread may be using n. */
void auth_nonces_free(struct auth_nonces *n);

/* A new nonce for realm into out (at least AUTH_NONCE_MAX bytes), with a
 * NUL; returns its length without the NUL, or 0 (out is "") when OpenSSL
 * failed (out of memory). */
#define AUTH_NONCE_MAX 64
size_t auth_nonce_make(struct auth_nonces *n, struct slice realm, time_t now, char *out);

enum auth_nonce_state {
    AUTH_NONCE_OK = 0,
    AUTH_NONCE_STALE, /* authentic but expired: challenge again with stale=true */
    AUTH_NONCE_BAD,   /* not one of ours, malformed, or for another realm */
};

/* Verifies a nonce for realm (byte for byte) at 'now'. Valid while
 * now - issue time <= expire. A nonce dated more than 60 s after now
 * (another node's clock is ahead) is STALE too. BAD also when OpenSSL
 * failed (out of memory). */
enum auth_nonce_state auth_nonce_check(struct auth_nonces *n, struct slice nonce,
                                       struct slice realm, time_t now);

/*
 * qop=auth replay check: true when nc is accepted for this nonce on this
 * node, and records it. nc is exactly 8 hex digits, either case, and not 0
 * (a client's first request with a nonce sends 00000001, RFC 7616 3.4).
 * Call it only for a nonce auth_nonce_check() found OK, and after the
 * response was verified (an attacker must not advance the counter).
 * False: a replayed or lower nc, the slot belongs to a newer nonce now
 * (answer stale), or a malformed nc or nonce.
 */
bool auth_nonce_nc(struct auth_nonces *n, struct slice nonce, struct slice nc);

#endif
