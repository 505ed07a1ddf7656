/* subscriber_test.c: tests src/auth/subscriber.c: hits, misses, expiry, invalidation, and threads. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <urcu/urcu-memb.h>

#include "auth/auth.h"

static struct sub_ha1 entry(const char *md5)
{
    struct sub_ha1 v;
    memset(&v, 0, sizeof(v));
    v.found = true;
    v.has[AUTH_ALG_MD5] = true;
    snprintf(v.ha1[AUTH_ALG_MD5], sizeof(v.ha1[AUTH_ALG_MD5]), "%s", md5);
    return v;
}

static int setup(void **state)
{
    urcu_memb_register_thread();
    struct sub_cache *c;
    assert_int_equal(sub_cache_new(&c), 0);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    sub_cache_free(*state);
    urcu_memb_unregister_thread();
    return 0;
}

static void test_hit_miss_expiry(void **state)
{
    struct sub_cache *c = *state;
    struct sub_ha1 v = entry("0123456789abcdef0123456789abcdef"), got;
    assert_int_equal(sub_cache_get(c, SLICE_LIT("1000"), SLICE_LIT("example.com"), 100, &got),
                     ENOENT);
    assert_int_equal(sub_cache_put(c, SLICE_LIT("1000"), SLICE_LIT("example.com"), &v, 200), 0);
    assert_int_equal(sub_cache_get(c, SLICE_LIT("1000"), SLICE_LIT("example.com"), 100, &got), 0);
    assert_true(got.found);
    assert_string_equal(got.ha1[AUTH_ALG_MD5], "0123456789abcdef0123456789abcdef");
    /* the realm is part of the key; an expired entry is a miss */
    assert_int_equal(sub_cache_get(c, SLICE_LIT("1000"), SLICE_LIT("example.org"), 100, &got),
                     ENOENT);
    assert_int_equal(sub_cache_get(c, SLICE_LIT("1000"), SLICE_LIT("example.com"), 200, &got),
                     ENOENT);
    /* a negative entry */
    struct sub_ha1 none;
    memset(&none, 0, sizeof(none));
    assert_int_equal(sub_cache_put(c, SLICE_LIT("nobody"), SLICE_LIT("example.com"), &none, 300),
                     0);
    assert_int_equal(sub_cache_get(c, SLICE_LIT("nobody"), SLICE_LIT("example.com"), 100, &got),
                     0);
    assert_false(got.found);
}

static void test_replace_and_invalidate(void **state)
{
    struct sub_cache *c = *state;
    struct sub_ha1 a = entry("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), b = entry("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    struct sub_ha1 got;
    sub_cache_put(c, SLICE_LIT("1000"), SLICE_LIT("r1"), &a, 1000);
    sub_cache_put(c, SLICE_LIT("1000"), SLICE_LIT("r1"), &b, 1000);
    sub_cache_put(c, SLICE_LIT("1000"), SLICE_LIT("r2"), &a, 1000);
    sub_cache_put(c, SLICE_LIT("10000"), SLICE_LIT("r1"), &a, 1000);
    assert_int_equal(sub_cache_get(c, SLICE_LIT("1000"), SLICE_LIT("r1"), 1, &got), 0);
    assert_string_equal(got.ha1[AUTH_ALG_MD5], "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    assert_int_equal(sub_cache_count(c), 3);
    assert_int_equal(sub_cache_invalidate(c, SLICE_LIT("1000"), SLICE_LIT("r2")), 1);
    assert_int_equal(sub_cache_invalidate(c, SLICE_LIT("1000"), SLICE_NULL), 1);
    assert_int_equal(sub_cache_get(c, SLICE_LIT("1000"), SLICE_LIT("r1"), 1, &got), ENOENT);
    /* "10000" is another user, not a prefix match */
    assert_int_equal(sub_cache_get(c, SLICE_LIT("10000"), SLICE_LIT("r1"), 1, &got), 0);
}

struct race {
    struct sub_cache *c;
    int id;
};

static void *worker(void *arg)
{
    struct race *r = arg;
    urcu_memb_register_thread();
    char user[16];
    for (int i = 0; i < 3000; i++) {
        snprintf(user, sizeof(user), "u%d", i % 50);
        struct sub_ha1 got;
        if (r->id == 0 && i % 7 == 0) {
            sub_cache_invalidate(r->c, slice_from_str(user), SLICE_NULL);
        } else if (sub_cache_get(r->c, slice_from_str(user), SLICE_LIT("realm"), 10, &got) != 0) {
            struct sub_ha1 v = entry("cccccccccccccccccccccccccccccccc");
            sub_cache_put(r->c, slice_from_str(user), SLICE_LIT("realm"), &v, 1000);
        } else if (strcmp(got.ha1[AUTH_ALG_MD5], "cccccccccccccccccccccccccccccccc") != 0) {
            abort(); /* a reader never sees a half-written entry */
        }
    }
    urcu_memb_unregister_thread();
    return NULL;
}

static void test_threads(void **state)
{
    struct sub_cache *c = *state;
    pthread_t th[4];
    struct race args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct race){c, i};
        assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_true(sub_cache_count(c) <= 50);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hit_miss_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace_and_invalidate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
