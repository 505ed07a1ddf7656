/* nonce_test.c: nonce make/check, expiry, realms, secrets, nc replay slots: src/auth/nonce.c. */
#include "../test_util.h"

#include <pthread.h>
#include <stdatomic.h>

#include <openssl/crypto.h>

#include "auth/digest.h"

#include "openssl_count.h"

#define T0    ((time_t)1700000000)
#define REALM SLICE_LIT("example.com")

static const char secret[] = "a shared secret of the test cluster";

static struct auth_nonces *make_nonces(const char *key, unsigned slots_log2)
{
    struct auth_nonce_cfg cfg = {
        .secret = (const unsigned char *)key,
        .secret_len = key ? strlen(key) : 0,
        .expire = 300,
        .nc_slots_log2 = slots_log2,
    };
    struct auth_nonces *n = NULL;
    assert_int_equal(auth_nonces_new(&n, &cfg), 0);
    assert_non_null(n);
    return n;
}

struct nonce {
    char s[AUTH_NONCE_MAX];
    size_t len;
};

static struct nonce make(struct auth_nonces *n, struct slice realm, time_t now)
{
    struct nonce r;
    memset(r.s, 'z', sizeof(r.s));
    r.len = auth_nonce_make(n, realm, now, r.s);
    assert_int_equal(r.len, 43);
    assert_int_equal(r.s[r.len], '\0');
    return r;
}

#define NS(x) slice_make((x).s, (x).len)

static void test_round_trip(void **state)
{
    struct auth_nonces *n = make_nonces(secret, 0);
    (void)state;

    struct nonce a = make(n, REALM, T0);
    for (size_t i = 0; i < a.len; i++) {
        char c = a.s[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
        if (!ok)
            fail_msg("nonce \"%s\" has '%c' at %zu: not base64url", a.s, c, i);
    }
    assert_int_equal(auth_nonce_check(n, NS(a), REALM, T0), AUTH_NONCE_OK);
    assert_int_equal(auth_nonce_check(n, NS(a), REALM, T0 + 299), AUTH_NONCE_OK);
    /* every nonce differs, even within one second */
    struct nonce b = make(n, REALM, T0);
    assert_string_not_equal(a.s, b.s);
    assert_int_equal(auth_nonce_check(n, NS(b), REALM, T0), AUTH_NONCE_OK);
    /* an empty realm is a realm like any other */
    struct nonce e = make(n, SLICE_LIT(""), T0);
    assert_int_equal(auth_nonce_check(n, NS(e), SLICE_LIT(""), T0), AUTH_NONCE_OK);
    assert_int_equal(auth_nonce_check(n, NS(e), REALM, T0), AUTH_NONCE_BAD);
    auth_nonces_free(n);
}

static void test_tampered(void **state)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    struct auth_nonces *n = make_nonces(secret, 0);
    (void)state;

    struct nonce a = make(n, REALM, T0);
    /* every character replaced by every other one of the alphabet */
    for (size_t i = 0; i < a.len; i++) {
        for (const char *c = alphabet; *c; c++) {
            if (*c == a.s[i])
                continue;
            struct nonce t = a;
            t.s[i] = *c;
            if (auth_nonce_check(n, NS(t), REALM, T0) != AUTH_NONCE_BAD)
                fail_msg("\"%s\" (position %zu changed) was not BAD", t.s, i);
        }
    }
    /* every byte outside the alphabet, at the first, a middle and the last position */
    for (unsigned c = 0; c < 256; c++) {
        if (c && strchr(alphabet, (int)c))
            continue;
        static const size_t where[] = {0, 21, 42};
        for (size_t k = 0; k < 3; k++) {
            struct nonce t = a;
            t.s[where[k]] = (char)c;
            if (auth_nonce_check(n, NS(t), REALM, T0) != AUTH_NONCE_BAD)
                fail_msg("byte 0x%02x at %zu was not BAD", c, where[k]);
        }
    }
    /* shorter, longer, padded, standard base64's characters, empty, absent */
    assert_int_equal(auth_nonce_check(n, slice_make(a.s, a.len - 1), REALM, T0), AUTH_NONCE_BAD);
    struct nonce longer = a;
    longer.s[longer.len++] = 'A';
    assert_int_equal(auth_nonce_check(n, NS(longer), REALM, T0), AUTH_NONCE_BAD);
    struct nonce padded = a;
    padded.s[padded.len++] = '=';
    assert_int_equal(auth_nonce_check(n, NS(padded), REALM, T0), AUTH_NONCE_BAD);
    struct nonce plus = a;
    plus.s[5] = a.s[5] == '-' ? '+' : a.s[5] == '_' ? '/' : '+';
    assert_int_equal(auth_nonce_check(n, NS(plus), REALM, T0), AUTH_NONCE_BAD);
    assert_int_equal(auth_nonce_check(n, SLICE_LIT(""), REALM, T0), AUTH_NONCE_BAD);
    assert_int_equal(auth_nonce_check(n, SLICE_NULL, REALM, T0), AUTH_NONCE_BAD);
    assert_int_equal(
        auth_nonce_check(n, SLICE_LIT("dcd98b7102dd2f0e8b11d0f600bfb0c093"), REALM, T0),
        AUTH_NONCE_BAD);
    /* the original still passes */
    assert_int_equal(auth_nonce_check(n, NS(a), REALM, T0), AUTH_NONCE_OK);
    auth_nonces_free(n);
}

static void test_other_realm(void **state)
{
    struct auth_nonces *n = make_nonces(secret, 0);
    (void)state;

    struct nonce a = make(n, REALM, T0);
    assert_int_equal(auth_nonce_check(n, NS(a), SLICE_LIT("example.org"), T0), AUTH_NONCE_BAD);
    assert_int_equal(auth_nonce_check(n, NS(a), SLICE_LIT("Example.com"), T0), AUTH_NONCE_BAD);
    assert_int_equal(auth_nonce_check(n, NS(a), SLICE_LIT("example.co"), T0), AUTH_NONCE_BAD);
    assert_int_equal(auth_nonce_check(n, NS(a), SLICE_LIT(""), T0), AUTH_NONCE_BAD);
    auth_nonces_free(n);
}

static void test_expiry(void **state)
{
    struct auth_nonces *n = make_nonces(secret, 0);
    (void)state;

    struct nonce a = make(n, REALM, T0);
    assert_int_equal(auth_nonce_check(n, NS(a), REALM, T0 + 300), AUTH_NONCE_OK);
    assert_int_equal(auth_nonce_check(n, NS(a), REALM, T0 + 301), AUTH_NONCE_STALE);
    assert_int_equal(auth_nonce_check(n, NS(a), REALM, T0 + 86400), AUTH_NONCE_STALE);
    /* dated ahead of now: up to 60 s (another node's clock) passes */
    assert_int_equal(auth_nonce_check(n, NS(a), REALM, T0 - 60), AUTH_NONCE_OK);
    assert_int_equal(auth_nonce_check(n, NS(a), REALM, T0 - 61), AUTH_NONCE_STALE);
    /* stale is still authentic only for the right realm */
    assert_int_equal(auth_nonce_check(n, NS(a), SLICE_LIT("example.org"), T0 + 301),
                     AUTH_NONCE_BAD);
    auth_nonces_free(n);

    /* the default lifetime is 300 s; a configured one is honoured */
    struct auth_nonce_cfg cfg = {.secret = (const unsigned char *)secret,
                                 .secret_len = strlen(secret)};
    assert_int_equal(auth_nonces_new(&n, &cfg), 0);
    a = make(n, REALM, T0);
    assert_int_equal(auth_nonce_check(n, NS(a), REALM, T0 + 300), AUTH_NONCE_OK);
    assert_int_equal(auth_nonce_check(n, NS(a), REALM, T0 + 301), AUTH_NONCE_STALE);
    auth_nonces_free(n);
    cfg.expire = 30;
    assert_int_equal(auth_nonces_new(&n, &cfg), 0);
    a = make(n, REALM, T0);
    assert_int_equal(auth_nonce_check(n, NS(a), REALM, T0 + 30), AUTH_NONCE_OK);
    assert_int_equal(auth_nonce_check(n, NS(a), REALM, T0 + 31), AUTH_NONCE_STALE);
    auth_nonces_free(n);
}

static void test_secrets(void **state)
{
    struct auth_nonces *a = make_nonces(secret, 0), *b = make_nonces(secret, 0);
    struct auth_nonces *other = make_nonces("another secret", 0);
    struct auth_nonces *r1 = make_nonces(NULL, 0), *r2 = make_nonces(NULL, 0);
    (void)state;

    /* two nodes with one secret accept each other's nonces */
    struct nonce na = make(a, REALM, T0), nb = make(b, REALM, T0);
    assert_int_equal(auth_nonce_check(b, NS(na), REALM, T0), AUTH_NONCE_OK);
    assert_int_equal(auth_nonce_check(a, NS(nb), REALM, T0), AUTH_NONCE_OK);
    assert_int_equal(auth_nonce_check(b, NS(na), REALM, T0 + 301), AUTH_NONCE_STALE);
    /* their first nonces of the same second still differ (salt) */
    assert_string_not_equal(na.s, nb.s);
    /* another secret: not ours */
    assert_int_equal(auth_nonce_check(other, NS(na), REALM, T0), AUTH_NONCE_BAD);
    assert_int_equal(auth_nonce_check(a, NS(make(other, REALM, T0)), REALM, T0), AUTH_NONCE_BAD);
    /* random secrets: each accepts only its own */
    struct nonce n1 = make(r1, REALM, T0);
    assert_int_equal(auth_nonce_check(r1, NS(n1), REALM, T0), AUTH_NONCE_OK);
    assert_int_equal(auth_nonce_check(r2, NS(n1), REALM, T0), AUTH_NONCE_BAD);
    assert_int_equal(auth_nonce_check(a, NS(n1), REALM, T0), AUTH_NONCE_BAD);
    /* and switching instances on one thread (re-keying its HMAC) keeps each right */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(auth_nonce_check(a, NS(na), REALM, T0), AUTH_NONCE_OK);
        assert_int_equal(auth_nonce_check(other, NS(na), REALM, T0), AUTH_NONCE_BAD);
        assert_int_equal(auth_nonce_check(r1, NS(n1), REALM, T0), AUTH_NONCE_OK);
    }
    auth_nonces_free(a);
    auth_nonces_free(b);
    auth_nonces_free(other);
    auth_nonces_free(r1);
    auth_nonces_free(r2);
}

static void test_cfg(void **state)
{
    struct auth_nonces *n = NULL;
    struct auth_nonce_cfg cfg = {.secret = (const unsigned char *)"", .secret_len = 0};
    (void)state;

    assert_int_equal(auth_nonces_new(&n, &cfg), EINVAL); /* a set but empty secret */
    assert_null(n);
    cfg = (struct auth_nonce_cfg){.nc_slots_log2 = 27};
    assert_int_equal(auth_nonces_new(&n, &cfg), EINVAL);
    assert_null(n);
    cfg.nc_slots_log2 = 26;
    assert_int_equal(auth_nonces_new(&n, &cfg), 0);
    auth_nonces_free(n);
    n = NULL;
    assert_int_equal(auth_nonces_new(&n, NULL), 0); /* all defaults */
    struct nonce a = make(n, REALM, T0);
    assert_int_equal(auth_nonce_check(n, NS(a), REALM, T0 + 300), AUTH_NONCE_OK);
    assert_int_equal(auth_nonce_check(n, NS(a), REALM, T0 + 301), AUTH_NONCE_STALE);
    auth_nonces_free(n);
    auth_nonces_free(NULL);
}

static void test_nc_sequence(void **state)
{
    struct auth_nonces *n = make_nonces(secret, 0);
    (void)state;

    struct nonce a = make(n, REALM, T0);
    assert_true(auth_nonce_nc(n, NS(a), SLICE_LIT("00000001")));
    assert_true(auth_nonce_nc(n, NS(a), SLICE_LIT("00000002")));
    /* a replay, and a lower nc */
    assert_false(auth_nonce_nc(n, NS(a), SLICE_LIT("00000002")));
    assert_false(auth_nonce_nc(n, NS(a), SLICE_LIT("00000001")));
    /* gaps are fine (lost requests); hex digits in either case */
    assert_true(auth_nonce_nc(n, NS(a), SLICE_LIT("0000000a")));
    assert_false(auth_nonce_nc(n, NS(a), SLICE_LIT("0000000A")));
    assert_true(auth_nonce_nc(n, NS(a), SLICE_LIT("0000000B")));
    assert_true(auth_nonce_nc(n, NS(a), SLICE_LIT("ffffffff")));
    assert_false(auth_nonce_nc(n, NS(a), SLICE_LIT("ffffffff")));
    /* another nonce of the same process has its own slot */
    struct nonce b = make(n, REALM, T0);
    assert_true(auth_nonce_nc(n, NS(b), SLICE_LIT("00000001")));
    /* a second node with the same secret keeps its own record */
    struct auth_nonces *other = make_nonces(secret, 0);
    assert_true(auth_nonce_nc(other, NS(a), SLICE_LIT("00000001")));
    assert_false(auth_nonce_nc(other, NS(a), SLICE_LIT("00000001")));
    auth_nonces_free(other);
    auth_nonces_free(n);
}

static void test_nc_format(void **state)
{
    struct auth_nonces *n = make_nonces(secret, 0);
    (void)state;

    struct nonce a = make(n, REALM, T0);
    static const char *const bad[] = {"",         "1",        "0000001",  "000000001",
                                      "00000000", "0000000g", " 0000001", "0000001 ",
                                      "0x000001", "-0000001", "+0000001", "00000\0001"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t len = i == sizeof(bad) / sizeof(bad[0]) - 1 ? 8 : strlen(bad[i]);
        if (auth_nonce_nc(n, NS(a), slice_make(bad[i], len)))
            fail_msg("nc \"%s\" was accepted", bad[i]);
    }
    assert_false(auth_nonce_nc(n, NS(a), SLICE_NULL));
    /* a malformed nonce */
    assert_false(auth_nonce_nc(n, SLICE_LIT("short"), SLICE_LIT("00000001")));
    /* none of that advanced anything */
    assert_true(auth_nonce_nc(n, NS(a), SLICE_LIT("00000001")));
    auth_nonces_free(n);
}

/*
 * Two slots: a process's nonces k and k + 2 share one. A newer nonce (later
 * issue time) takes the slot over, after which the older one is refused
 * (answer stale), whatever its nc; the older one cannot take it back.
 */
static void test_slot_takeover(void **state)
{
    struct auth_nonces *n = make_nonces(secret, 1);
    (void)state;

    struct nonce old = make(n, REALM, T0);       /* slot s */
    struct nonce mid = make(n, REALM, T0);       /* slot s + 1 */
    struct nonce newer = make(n, REALM, T0 + 1); /* slot s again */
    assert_true(auth_nonce_nc(n, NS(old), SLICE_LIT("00000001")));
    assert_true(auth_nonce_nc(n, NS(mid), SLICE_LIT("00000001")));
    assert_true(auth_nonce_nc(n, NS(newer), SLICE_LIT("00000001")));
    assert_false(auth_nonce_nc(n, NS(old), SLICE_LIT("00000002")));
    assert_false(auth_nonce_nc(n, NS(old), SLICE_LIT("ffffffff")));
    assert_true(auth_nonce_nc(n, NS(newer), SLICE_LIT("00000002")));
    /* the other slot was not disturbed */
    assert_true(auth_nonce_nc(n, NS(mid), SLICE_LIT("00000002")));

    /* an older nonce never takes a newer one's slot, even with a fresh nc */
    struct nonce late = make(n, REALM, T0 + 10); /* slot s + 1 */
    struct nonce early = make(n, REALM, T0 + 5); /* slot s */
    (void)early;
    struct nonce late2 = make(n, REALM, T0 + 10); /* slot s + 1 */
    assert_true(auth_nonce_nc(n, NS(late), SLICE_LIT("00000001")));
    assert_false(auth_nonce_nc(n, NS(mid), SLICE_LIT("00000003")));

    /* two nonces of the same second in one slot share its counter: either
     * may be refused, neither replayed */
    assert_false(auth_nonce_nc(n, NS(late2), SLICE_LIT("00000001")));
    assert_true(auth_nonce_nc(n, NS(late2), SLICE_LIT("00000002")));
    assert_false(auth_nonce_nc(n, NS(late), SLICE_LIT("00000002")));
    assert_true(auth_nonce_nc(n, NS(late), SLICE_LIT("00000003")));
    auth_nonces_free(n);
}

/* A nonce from another node (other salt, an index unrelated to ours) takes
 * a slot by issue time like one of our own. */
static void test_foreign_nonce_slots(void **state)
{
    struct auth_nonces *a = make_nonces(secret, 1), *b = make_nonces(secret, 1);
    (void)state;

    /* a's two slots both hold a nonce of a issued at T0 */
    struct nonce mine0 = make(a, REALM, T0), mine1 = make(a, REALM, T0);
    assert_true(auth_nonce_nc(a, NS(mine0), SLICE_LIT("00000001")));
    assert_true(auth_nonce_nc(a, NS(mine1), SLICE_LIT("00000001")));
    /* an older nonce of b is refused whichever slot it lands in */
    struct nonce older = make(b, REALM, T0 - 1);
    assert_false(auth_nonce_nc(a, NS(older), SLICE_LIT("00000001")));
    /* a newer one takes one of them over: exactly one of a's nonces is refused now */
    struct nonce theirs = make(b, REALM, T0 + 1);
    assert_true(auth_nonce_nc(a, NS(theirs), SLICE_LIT("00000001")));
    assert_false(auth_nonce_nc(a, NS(theirs), SLICE_LIT("00000001")));
    bool ok0 = auth_nonce_nc(a, NS(mine0), SLICE_LIT("00000002"));
    bool ok1 = auth_nonce_nc(a, NS(mine1), SLICE_LIT("00000002"));
    assert_true(ok0 != ok1);
    assert_true(auth_nonce_nc(a, NS(theirs), SLICE_LIT("00000002")));
    auth_nonces_free(a);
    auth_nonces_free(b);
}

/* ---------------------------------------------------------------- threads */

#define THREADS 4
#define NC_MAX  20000

struct hammer {
    pthread_barrier_t start; /* all threads begin together, so that they race */
    struct auth_nonces *n;
    struct nonce shared;
    _Atomic unsigned char accepted[NC_MAX + 1]; /* per nc of the shared nonce */
    _Atomic long own_refused, checks_failed;
    _Atomic unsigned next_thread;
    unsigned won[THREADS]; /* shared-nonce values each thread had accepted */
};

static void *hammer_thread(void *arg)
{
    struct hammer *h = arg;
    unsigned me = atomic_fetch_add(&h->next_thread, 1), won = 0;
    char nc[9];
    /* a nonce of this thread's own, made here (per-thread HMAC context) */
    struct nonce own;
    own.len = auth_nonce_make(h->n, REALM, T0, own.s);
    if (own.len != 43 || auth_nonce_check(h->n, NS(own), REALM, T0) != AUTH_NONCE_OK)
        atomic_fetch_add(&h->checks_failed, 1);
    pthread_barrier_wait(&h->start);

    for (unsigned i = 1; i <= NC_MAX; i++) {
        snprintf(nc, sizeof(nc), "%08x", i);
        if (auth_nonce_nc(h->n, NS(h->shared), slice_make(nc, 8))) {
            atomic_fetch_add(&h->accepted[i], 1);
            won++;
        }
        if (!auth_nonce_nc(h->n, NS(own), slice_make(nc, 8)))
            atomic_fetch_add(&h->own_refused, 1);
        if ((i & 63) == 0 && auth_nonce_check(h->n, NS(h->shared), REALM, T0) != AUTH_NONCE_OK)
            atomic_fetch_add(&h->checks_failed, 1);
    }
    h->won[me] = won; /* read after pthread_join */
    return NULL;
}

static void test_threads(void **state)
{
    static struct hammer h; /* large: off the stack */
    pthread_t th[THREADS];
    (void)state;

    h.n = make_nonces(secret, 0);
    h.shared = make(h.n, REALM, T0);
    assert_int_equal(pthread_barrier_init(&h.start, NULL, THREADS), 0);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer_thread, &h), 0);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);

    /* every nc of the shared nonce accepted at most once, the highest exactly once */
    unsigned total = 0;
    for (unsigned i = 1; i <= NC_MAX; i++) {
        unsigned a = atomic_load(&h.accepted[i]);
        if (a > 1)
            fail_msg("nc %u of the shared nonce accepted %u times", i, a);
        total += a;
    }
    assert_int_equal(atomic_load(&h.accepted[NC_MAX]), 1);
    /* every value was tried by every thread; the one ahead takes each */
    assert_int_equal(total, NC_MAX);
    print_message("shared nonce: %u nc values accepted, by thread: %u %u %u %u\n", total, h.won[0],
                  h.won[1], h.won[2], h.won[3]);
    /* each thread's own nonce (consecutive indexes: distinct slots) saw all of its nc */
    assert_int_equal(atomic_load(&h.own_refused), 0);
    assert_int_equal(atomic_load(&h.checks_failed), 0);
    pthread_barrier_destroy(&h.start);
    auth_nonces_free(h.n);
}

/* After the first call on a thread, make and check allocate nothing of
 * their own: OpenSSL 3.0's HMAC restart re-creates its digest states. */
static void test_allocations(void **state)
{
    struct auth_nonces *n = make_nonces(secret, 0);
    (void)state;

    struct nonce a = make(n, REALM, T0);
    long before = atomic_load(&openssl_allocs);
    for (int i = 0; i < 100; i++)
        assert_int_equal(auth_nonce_check(n, NS(a), REALM, T0), AUTH_NONCE_OK);
    long per_check = (atomic_load(&openssl_allocs) - before) / 100;
    before = atomic_load(&openssl_allocs);
    for (int i = 0; i < 100; i++)
        make(n, REALM, T0);
    long per_make = (atomic_load(&openssl_allocs) - before) / 100;
    print_message("OpenSSL allocations per check: %ld, per make: %ld\n", per_check, per_make);
    assert_true(per_check <= 2);
    assert_true(per_make <= 2);
    auth_nonces_free(n);
}

int main(void)
{
    /* before anything in the process asks OpenSSL for memory */
    if (!openssl_count_install())
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),    cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_other_realm),   cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_secrets),       cmocka_unit_test(test_cfg),
        cmocka_unit_test(test_nc_sequence),   cmocka_unit_test(test_nc_format),
        cmocka_unit_test(test_slot_takeover), cmocka_unit_test(test_foreign_nonce_slots),
        cmocka_unit_test(test_threads),       cmocka_unit_test(test_allocations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
