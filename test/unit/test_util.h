/* test_util.h: helpers shared by the unit tests (slice assertions, exact-size buffers, parsing). */
#ifndef SIPD_TEST_UTIL_H
#define SIPD_TEST_UTIL_H

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/slice.h"
#include "sip/sip.h"

/*
 * Slice assertions report the file and line of the caller and both values.
 * The expected value is a string literal (SLICE_LIT: embedded NULs count).
 */
static inline void test_slice_eq(struct slice got, struct slice want, const char *expr,
                                 const char *file, int line)
{
    if (slice_present(got) && slice_eq(got, want))
        return;
    print_error("%s: got %s\"%.*s\" (%zu bytes), want \"%.*s\" (%zu bytes)\n", expr,
                slice_present(got) ? "" : "(absent) ", (int)got.len, got.p ? got.p : "", got.len,
                (int)want.len, want.p, want.len);
    _fail(file, line);
}

static inline void test_slice_caseeq(struct slice got, struct slice want, const char *expr,
                                     const char *file, int line)
{
    if (slice_present(got) && slice_caseeq(got, want))
        return;
    print_error("%s: got \"%.*s\", want (any case) \"%.*s\"\n", expr, (int)got.len,
                got.p ? got.p : "", (int)want.len, want.p);
    _fail(file, line);
}

static inline void test_slice_absent(struct slice got, const char *expr, const char *file, int line)
{
    if (!slice_present(got))
        return;
    print_error("%s: want absent, got \"%.*s\"\n", expr, (int)got.len, got.p);
    _fail(file, line);
}

/* %HH-decodes got and compares the bytes with want. */
static inline void test_unescaped_eq(struct slice got, struct slice want, const char *expr,
                                     const char *file, int line)
{
    char buf[512];
    long n = slice_present(got) ? sip_unescape(got, buf, sizeof(buf)) : -1;

    if (n >= 0 && (size_t)n == want.len && memcmp(buf, want.p, want.len) == 0)
        return;
    print_error("%s: \"%.*s\" decodes to %ld bytes, want \"%.*s\" (%zu bytes)\n", expr,
                (int)got.len, got.p ? got.p : "", n, (int)want.len, want.p, want.len);
    _fail(file, line);
}

#define assert_slice_eq(got, lit)    test_slice_eq((got), SLICE_LIT(lit), #got, __FILE__, __LINE__)
#define assert_slice_eq_s(got, want) test_slice_eq((got), (want), #got, __FILE__, __LINE__)
#define assert_slice_caseeq(got, lit)                                                              \
    test_slice_caseeq((got), SLICE_LIT(lit), #got, __FILE__, __LINE__)
#define assert_slice_absent(got) test_slice_absent((got), #got, __FILE__, __LINE__)
#define assert_unescaped_eq(got, lit)                                                              \
    test_unescaped_eq((got), SLICE_LIT(lit), #got, __FILE__, __LINE__)

/*
 * A message under test. The bytes are copied into a heap buffer of exactly
 * their length, so the sanitizers catch any read past the end.
 */
struct test_msg {
    char *buf;
    size_t len;
    char arena_buf[2048];
    struct arena arena;
    struct sip_msg msg;
    struct sip_error err;
    int ret;
};

static inline int test_msg_parse_n(struct test_msg *t, const char *bytes, size_t len,
                                   const struct sip_limits *lim, unsigned flags)
{
    t->buf = malloc(len ? len : 1);
    assert_non_null(t->buf);
    if (len)
        memcpy(t->buf, bytes, len);
    t->len = len;
    arena_init(&t->arena, t->arena_buf, sizeof(t->arena_buf), 1u << 20);
    t->ret = sip_msg_parse(&t->msg, &t->arena, t->buf, len, lim, flags, &t->err);
    return t->ret;
}

/* Parses a string literal or a char array holding one (its bytes, not up to a NUL). */
#define test_msg_parse(t, lit) test_msg_parse_n((t), (lit), sizeof(lit) - 1, NULL, 0)

static inline void test_msg_free(struct test_msg *t)
{
    arena_free(&t->arena);
    free(t->buf);
    t->buf = NULL;
}

/* Reads a whole file as raw bytes into an exact-size heap buffer; NULL on failure. */
static inline char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;

    if (!f)
        return NULL;
    for (;;) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    bool failed = ferror(f) != 0;
    fclose(f);
    if (failed) {
        free(buf);
        return NULL;
    }
    /* shrink to the exact size so an over-read is outside the allocation */
    char *exact = malloc(n ? n : 1);
    if (exact && n)
        memcpy(exact, buf, n);
    free(buf);
    *len = n;
    return exact;
}

#endif
