/* usrloc_test.c: tests src/loc/usrloc.c: edits, lookups, expiry, dirty tracking, and threads racing
 * on one AOR. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "loc/loc.h"

static struct loc_contact contact(const char *uri, time_t expires, int q, time_t modified)
{
    struct loc_contact c = {0};
    c.uri = slice_from_str(uri);
    c.callid = SLICE_LIT("call-1");
    c.ruid = slice_from_str(uri);
    c.expires = expires;
    c.q = q;
    c.last_modified = modified;
    c.methods = -1;
    return c;
}

/* Edit callback: replace the set with 'arg' (a built set, or NULL to remove). */
static int set_to(void *arg, const struct loc_set *old, struct loc_set **next)
{
    (void)old;
    *next = arg;
    return 0;
}

/* Edit callback: add one contact to whatever is there. */
static int add_one(void *arg, const struct loc_set *old, struct loc_set **next)
{
    const struct loc_contact *c = arg;
    unsigned n = old ? old->n : 0;
    struct loc_contact all[n + 1];
    for (unsigned i = 0; i < n; i++)
        all[i] = old->c[i];
    all[n] = *c;
    *next = loc_set_build(old ? old->aor : SLICE_LIT("alice"), all, n + 1);
    return *next ? 0 : -1;
}

static int setup(void **state)
{
    urcu_memb_register_thread();
    struct loc_table *t;
    assert_int_equal(loc_table_new(&t, "location", true), 0);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    loc_table_free(*state);
    urcu_memb_unregister_thread();
    return 0;
}

static void test_edit_get_sorted(void **state)
{
    struct loc_table *t = *state;
    struct loc_contact cs[3] = {
        contact("sip:a@192.0.2.1", 2000, 500, 10),
        contact("sip:b@192.0.2.2", 2000, 1000, 5),
        contact("sip:c@192.0.2.3", 2000, 500, 20),
    };
    struct loc_set *s = loc_set_build(SLICE_LIT("alice"), cs, 3);
    assert_non_null(s);
    assert_int_equal(loc_edit(t, SLICE_LIT("alice"), set_to, s), 0);

    urcu_memb_read_lock();
    const struct loc_set *got = loc_get(t, SLICE_LIT("alice"));
    assert_non_null(got);
    assert_int_equal(got->n, 3);
    /* highest q first, then the newest */
    assert_true(slice_eq_str(got->c[0].uri, "sip:b@192.0.2.2"));
    assert_true(slice_eq_str(got->c[1].uri, "sip:c@192.0.2.3"));
    assert_true(slice_eq_str(got->c[2].uri, "sip:a@192.0.2.1"));
    assert_null(loc_get(t, SLICE_LIT("alicE")));
    urcu_memb_read_unlock();

    struct loc_counts k;
    loc_counts(t, &k);
    assert_int_equal(k.aors, 1);
    assert_int_equal(k.contacts, 3);
    assert_int_equal(k.dirty, 1);

    assert_int_equal(loc_edit(t, SLICE_LIT("alice"), set_to, NULL), 0);
    urcu_memb_read_lock();
    assert_null(loc_get(t, SLICE_LIT("alice")));
    urcu_memb_read_unlock();
    loc_counts(t, &k);
    assert_int_equal(k.aors, 0);
    assert_int_equal(k.contacts, 0);
}

struct seen {
    int calls;
    int removed;
    int fail_after;
    int shrunk;
};

static int flush(void *arg, struct slice aor, const struct loc_set *set, bool shrunk)
{
    struct seen *s = arg;
    (void)aor;
    if (s->fail_after >= 0 && s->calls >= s->fail_after)
        return -1; /* the database is away */
    s->calls++;
    if (!set)
        s->removed++;
    if (shrunk)
        s->shrunk++;
    return 0;
}

static void test_dirty_and_removal_reach_the_flusher(void **state)
{
    struct loc_table *t = *state;
    struct loc_contact c = contact("sip:x@192.0.2.9", 0, 1000, 1);
    for (int i = 0; i < 5; i++) {
        char aor[16];
        snprintf(aor, sizeof(aor), "user%d", i);
        assert_int_equal(loc_edit(t, slice_from_str(aor), add_one, &c), 0);
    }
    assert_int_equal(loc_edit(t, SLICE_LIT("user0"), set_to, NULL), 0);
    /* the flusher fails after two: the rest stays dirty, nothing lost */
    struct seen s = {0, 0, 2, 0};
    assert_int_equal(loc_take_dirty(t, flush, &s), -1);
    struct loc_counts k;
    loc_counts(t, &k);
    assert_int_equal(k.dirty, 3);
    s.fail_after = -1;
    assert_int_equal(loc_take_dirty(t, flush, &s), 0);
    assert_int_equal(s.calls, 5);
    assert_int_equal(s.removed, 1);
    assert_int_equal(s.shrunk, 1); /* user0 lost its contact; the others only gained */
    loc_counts(t, &k);
    assert_int_equal(k.dirty, 0);
    assert_int_equal(k.aors, 4);
}

/* shrunk says when a write must delete: only after a contact left (or a failed write) */
static void test_shrunk_marks_removals_only(void **state)
{
    struct loc_table *t = *state;
    struct loc_contact a = contact("sip:a@192.0.2.1", 0, 1000, 1);
    struct loc_contact b = contact("sip:b@192.0.2.2", 0, 1000, 2);
    struct seen s = {0, 0, -1, 0};

    assert_int_equal(loc_edit(t, SLICE_LIT("alice"), add_one, &a), 0);
    assert_int_equal(loc_take_dirty(t, flush, &s), 0);
    assert_int_equal(s.shrunk, 0);
    /* a refresh: the same contact (same ruid) in a new set, then one more */
    struct loc_set *again = loc_set_build(SLICE_LIT("alice"), &a, 1);
    assert_int_equal(loc_edit(t, SLICE_LIT("alice"), set_to, again), 0);
    assert_int_equal(loc_edit(t, SLICE_LIT("alice"), add_one, &b), 0);
    assert_int_equal(loc_take_dirty(t, flush, &s), 0);
    assert_int_equal(s.calls, 2);
    assert_int_equal(s.shrunk, 0);
    /* a leaves and comes back before the flush: its row may be stale, rewrite whole */
    struct loc_set *only_b = loc_set_build(SLICE_LIT("alice"), &b, 1);
    assert_int_equal(loc_edit(t, SLICE_LIT("alice"), set_to, only_b), 0);
    struct loc_set *b_and_a = loc_set_build(SLICE_LIT("alice"), (struct loc_contact[]){b, a}, 2);
    assert_int_equal(loc_edit(t, SLICE_LIT("alice"), set_to, b_and_a), 0);
    assert_int_equal(loc_take_dirty(t, flush, &s), 0);
    assert_int_equal(s.calls, 3);
    assert_int_equal(s.shrunk, 1);
    /* after a failed write nothing is known of the rows: rewrite whole */
    assert_int_equal(loc_redirty(t, SLICE_LIT("alice")), 0);
    assert_int_equal(loc_take_dirty(t, flush, &s), 0);
    assert_int_equal(s.calls, 4);
    assert_int_equal(s.shrunk, 2);
    /* removed altogether */
    assert_int_equal(loc_edit(t, SLICE_LIT("alice"), set_to, NULL), 0);
    assert_int_equal(loc_take_dirty(t, flush, &s), 0);
    assert_int_equal(s.removed, 1);
    assert_int_equal(s.shrunk, 3);
}

static void test_expire(void **state)
{
    struct loc_table *t = *state;
    struct loc_contact cs[2] = {
        contact("sip:old@192.0.2.1", 100, 1000, 1),
        contact("sip:new@192.0.2.1", 300, 1000, 2),
    };
    assert_int_equal(loc_edit(t, SLICE_LIT("bob"), set_to, loc_set_build(SLICE_LIT("bob"), cs, 2)),
                     0);
    struct loc_contact alias = contact("sip:forever@192.0.2.1", 0, 1000, 1);
    assert_int_equal(loc_edit(t, SLICE_LIT("carol"), add_one, &alias), 0);
    assert_int_equal(loc_expire(t, 99), 0);
    assert_int_equal(loc_expire(t, 100), 1);
    urcu_memb_read_lock();
    const struct loc_set *s = loc_get(t, SLICE_LIT("bob"));
    assert_non_null(s);
    assert_int_equal(s->n, 1);
    assert_true(slice_eq_str(s->c[0].uri, "sip:new@192.0.2.1"));
    urcu_memb_read_unlock();
    assert_int_equal(loc_expire(t, 1000), 1); /* bob's last; carol's never expires */
    urcu_memb_read_lock();
    assert_null(loc_get(t, SLICE_LIT("bob")));
    assert_non_null(loc_get(t, SLICE_LIT("carol")));
    urcu_memb_read_unlock();
    struct loc_counts k;
    loc_counts(t, &k);
    assert_int_equal(k.expired, 2);
}

/* Threads: writers add and remove contacts of one AOR, readers walk its set,
 * an expirer runs; ThreadSanitizer watches (the test is labelled concurrent). */
struct race {
    struct loc_table *t;
    int id;
    int rounds;
};

static void *writer(void *arg)
{
    struct race *r = arg;
    urcu_memb_register_thread();
    char uri[64];
    for (int i = 0; i < r->rounds; i++) {
        snprintf(uri, sizeof(uri), "sip:w%d-%d@192.0.2.1", r->id, i % 8);
        struct loc_contact c = contact(uri, (i % 3) ? 5 : 0, 100 * (i % 10), i);
        loc_edit(r->t, SLICE_LIT("shared"), add_one, &c);
        if (i % 16 == 15)
            loc_edit(r->t, SLICE_LIT("shared"), set_to, NULL);
    }
    urcu_memb_unregister_thread();
    return NULL;
}

static void *reader(void *arg)
{
    struct race *r = arg;
    urcu_memb_register_thread();
    unsigned long sum = 0;
    for (int i = 0; i < r->rounds * 4; i++) {
        urcu_memb_read_lock();
        const struct loc_set *s = loc_get(r->t, SLICE_LIT("shared"));
        for (unsigned j = 0; s && j < s->n; j++) {
            sum += s->c[j].uri.len;
            if (j && s->c[j].q > s->c[j - 1].q)
                abort(); /* every published set is sorted */
        }
        urcu_memb_read_unlock();
    }
    urcu_memb_unregister_thread();
    return (void *)sum;
}

static void *expirer(void *arg)
{
    struct race *r = arg;
    urcu_memb_register_thread();
    for (int i = 0; i < r->rounds / 4; i++)
        loc_expire(r->t, 10);
    urcu_memb_unregister_thread();
    return NULL;
}

static void test_threads_on_one_aor(void **state)
{
    struct loc_table *t = *state;
    pthread_t th[6];
    struct race args[6];
    for (int i = 0; i < 6; i++) {
        args[i] = (struct race){t, i, 400};
        void *(*fn)(void *) = i < 3 ? writer : i < 5 ? reader : expirer;
        assert_int_equal(pthread_create(&th[i], NULL, fn, &args[i]), 0);
    }
    for (int i = 0; i < 6; i++)
        pthread_join(th[i], NULL);
    /* the counters agree with what is there */
    struct loc_counts k;
    loc_counts(t, &k);
    urcu_memb_read_lock();
    const struct loc_set *s = loc_get(t, SLICE_LIT("shared"));
    assert_int_equal(k.contacts, s ? s->n : 0);
    assert_int_equal(k.aors, s ? 1 : 0);
    urcu_memb_read_unlock();
    struct seen seen = {0, 0, -1, 0};
    assert_int_equal(loc_take_dirty(t, flush, &seen), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_edit_get_sorted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dirty_and_removal_reach_the_flusher, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shrunk_marks_removals_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_on_one_aor, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
