/* digest_int.h: the per-thread HMAC context that nonce.c borrows from digest.c. */
#ifndef SIPD_AUTH_DIGEST_INT_H
#define SIPD_AUTH_DIGEST_INT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/*
 * The calling thread's HMAC-SHA-256 context, initialised and ready for
 * EVP_MAC_update() with the key of the nonce state key_id. It is re-keyed
 * only when the last key this thread used had another id (each
 * auth_nonces has a random id, never 0), so one process with one nonce
 * state keys each thread's context once. NULL on failure (out of memory);
 * the next call then re-keys. The context is the caller's until its next
 * call into the auth module on the same thread; it is freed (and its key
 * material cleansed) when the thread exits.
 */
EVP_MAC_CTX *auth_mac_ctx(uint64_t key_id, const unsigned char *key, size_t key_len);

/* Forgets the key of the thread's HMAC context: after a failed update or
 * final, the next auth_mac_ctx() re-keys rather than restart a context in
 * an unknown state. */
void auth_mac_ctx_reset(void);

#endif
