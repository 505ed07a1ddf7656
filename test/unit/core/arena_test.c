/* arena_test.c: bump allocation, growth, limits and reset of src/core/arena.c. */
#include "../test_util.h"

static bool aligned(const void *p)
{
    return ((uintptr_t)p & 15u) == 0;
}

static void test_initial_buffer(void **state)
{
    _Alignas(16) char buf[256];
    struct arena a;
    (void)state;

    arena_init(&a, buf, sizeof(buf), 0);
    char *p = arena_alloc(&a, 10);
    char *q = arena_alloc(&a, 10);
    assert_non_null(p);
    assert_non_null(q);
    assert_true(p >= buf && p + 10 <= buf + sizeof(buf));
    assert_true(q >= p + 10 && q + 10 <= buf + sizeof(buf));
    assert_true(aligned(p));
    assert_true(aligned(q));
    /* zero bytes still give a distinct, usable pointer */
    char *z = arena_alloc(&a, 0);
    assert_non_null(z);
    assert_true(z != q);
    /* a limit of 0 forbids growth: what does not fit fails */
    assert_null(arena_alloc(&a, sizeof(buf)));
    assert_null(a.chunks);
    /* what still fits still works after a failure */
    assert_non_null(arena_alloc(&a, 16));
    arena_free(&a);
}

static void test_unaligned_initial_buffer(void **state)
{
    _Alignas(16) char buf[64];
    struct arena a;
    (void)state;

    arena_init(&a, buf + 1, 40, 0);
    char *p = arena_alloc(&a, 8);
    assert_non_null(p);
    assert_true(aligned(p));
    assert_true(p >= buf + 1 && p + 8 <= buf + 41);
    /* 40 bytes from buf + 1: aligned starts at buf + 16 and buf + 32 leave 9 bytes */
    assert_null(arena_alloc(&a, 24));
    arena_free(&a);
}

static void test_growth_and_limit(void **state)
{
    char buf[64];
    struct arena a;
    (void)state;

    arena_init(&a, buf, sizeof(buf), 3 * 4096);
    char *first = arena_alloc(&a, 32);
    assert_non_null(first);
    /* past the initial buffer: a malloc'd chunk */
    char *p = arena_alloc(&a, 100);
    assert_non_null(p);
    assert_true(p < buf || p >= buf + sizeof(buf));
    assert_true(aligned(p));
    assert_non_null(a.chunks);
    assert_int_equal(a.used_total, 4096);
    memset(p, 0xab, 100);
    /* bigger than a chunk: one chunk of that size */
    char *big = arena_alloc(&a, 5000);
    assert_non_null(big);
    memset(big, 0xcd, 5000);
    assert_int_equal(a.used_total, 4096 + 5000);
    /* the limit: 3 * 4096 in all, so another 4096 chunk does not fit */
    assert_null(arena_alloc(&a, 4000));
    assert_int_equal(a.used_total, 4096 + 5000);
    /* a request larger than the limit fails without overflow */
    assert_null(arena_alloc(&a, SIZE_MAX));
    assert_null(arena_alloc(&a, SIZE_MAX - 8));
    /* earlier memory is intact */
    for (int i = 0; i < 100; i++)
        assert_int_equal((unsigned char)p[i], 0xab);
    arena_free(&a);
    assert_null(a.chunks);
    assert_int_equal(a.used_total, 0);
}

static void test_no_initial_buffer(void **state)
{
    struct arena a;
    (void)state;

    arena_init(&a, NULL, 0, 1u << 20);
    void *ptrs[64];
    for (int i = 0; i < 64; i++) {
        ptrs[i] = arena_alloc(&a, 200);
        assert_non_null(ptrs[i]);
        assert_true(aligned(ptrs[i]));
        memset(ptrs[i], i, 200);
    }
    for (int i = 0; i < 64; i++)
        assert_int_equal(((unsigned char *)ptrs[i])[199], i);
    arena_free(&a);

    arena_init(&a, NULL, 0, 0);
    assert_null(arena_alloc(&a, 1));
    arena_free(&a);
}

static void test_dup(void **state)
{
    char buf[128];
    struct arena a;
    (void)state;

    arena_init(&a, buf, sizeof(buf), 4096);
    char *d = arena_dup(&a, "a\0b", 3);
    assert_non_null(d);
    assert_memory_equal(d, "a\0b", 3);
    assert_non_null(arena_dup(&a, "", 0));
    arena_init(&a, NULL, 0, 0);
    assert_null(arena_dup(&a, "x", 1));
    arena_free(&a);
}

static void test_reset(void **state)
{
    char buf[128];
    struct arena a;
    (void)state;

    arena_init(&a, buf, sizeof(buf), 1u << 16);
    char *p1 = arena_alloc(&a, 64);
    assert_non_null(arena_alloc(&a, 1000)); /* a chunk */
    assert_non_null(a.chunks);
    arena_reset(&a);
    assert_null(a.chunks);
    assert_int_equal(a.used_total, 0);
    /* the initial buffer is handed out again from its start */
    char *p2 = arena_alloc(&a, 64);
    assert_true(p1 == p2);
    /* and the limit counts from zero again */
    for (int i = 0; i < 16; i++)
        assert_non_null(arena_alloc(&a, 4096));
    assert_null(arena_alloc(&a, 4096));
    arena_free(&a);
    /* freed arenas can be initialised again */
    arena_init(&a, buf, sizeof(buf), 4096);
    assert_non_null(arena_alloc(&a, 8));
    arena_free(&a);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_initial_buffer),
        cmocka_unit_test(test_unaligned_initial_buffer),
        cmocka_unit_test(test_growth_and_limit),
        cmocka_unit_test(test_no_initial_buffer),
        cmocka_unit_test(test_dup),
        cmocka_unit_test(test_reset),
    };
    return cmocka_run_group_tests_name("core_arena", tests, NULL, NULL);
}
