/* openssl_count.h: counts OpenSSL's allocations, for the tests that assert the digest and
 * nonce paths allocate nothing per call. Include once per test program; call
 * openssl_count_install() first thing in main(). */
#ifndef SIPD_TEST_OPENSSL_COUNT_H
#define SIPD_TEST_OPENSSL_COUNT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/crypto.h>

static _Atomic long openssl_allocs;

static void *count_malloc(size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    atomic_fetch_add(&openssl_allocs, 1);
    return malloc(n);
}

static void *count_realloc(void *p, size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    atomic_fetch_add(&openssl_allocs, 1);
    return realloc(p, n);
}

static void count_free(void *p, const char *file, int line)
{
    (void)file;
    (void)line;
    free(p);
}

/* Before anything in the process asks OpenSSL for memory; false if refused. */
static bool openssl_count_install(void)
{
    if (CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free))
        return true;
    fprintf(stderr, "CRYPTO_set_mem_functions failed\n");
    return false;
}

#endif
