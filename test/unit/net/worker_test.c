/* worker_test.c: tests src/net/worker.c: hand-off, order, bound, idle sleep, ticks, drain on stop.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <urcu/compiler.h>

#include "net/net.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint64_t worker_sum(struct net_runtime *rt, size_t field)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < net_worker_count(rt); i++) {
        const struct net_worker_stats *st = net_worker_stats(rt, i);
        sum += stat_get((const stat_counter *)((const char *)st + field));
    }
    return sum;
}
#define PROCESSED(rt) worker_sum((rt), offsetof(struct net_worker_stats, processed))
#define OVERLOAD(rt)  worker_sum((rt), offsetof(struct net_worker_stats, overload))

static void wait_processed(struct net_runtime *rt, uint64_t n)
{
    double until = now_s() + 10;
    while (PROCESSED(rt) < n && now_s() < until)
        sleep_ms(1);
    assert_true(PROCESSED(rt) >= n);
}

/* ------------------------------------------------ many producers, W workers */

#define PRODUCERS    4
#define WORKERS      3
#define PER_PRODUCER 20000

struct order_item {
    struct net_item item;
    unsigned producer;
    unsigned seq;
    _Atomic unsigned seen; /* times processed: must end at 1 */
};

struct order_test {
    struct net_runtime *rt;
    struct order_item items[PRODUCERS][PER_PRODUCER];
    /* per worker, per producer: the last seq seen (worker-private rows) */
    long last[WORKERS][PRODUCERS];
    unsigned order_errors[WORKERS];
    unsigned wrong_thread[WORKERS];
    pthread_t worker_thread[WORKERS];
    _Atomic unsigned starts, stops, rx_starts;
    _Atomic unsigned eagain;
};

static void order_thread_start(void *arg, unsigned index, bool is_worker)
{
    struct order_test *t = arg;
    /* no cmocka asserts off the main thread: count what went wrong instead */
    if (!is_worker || index >= WORKERS) {
        atomic_fetch_add(&t->rx_starts, 1);
        return;
    }
    t->worker_thread[index] = pthread_self();
    for (unsigned p = 0; p < PRODUCERS; p++)
        t->last[index][p] = -1;
    atomic_fetch_add(&t->starts, 1);
}

static void order_thread_stop(void *arg, unsigned index, bool is_worker)
{
    struct order_test *t = arg;
    if (is_worker && index < WORKERS && pthread_equal(t->worker_thread[index], pthread_self()))
        atomic_fetch_add(&t->stops, 1);
}

static void order_work(void *arg, struct net_worker *w, struct net_item *item)
{
    struct order_test *t = arg;
    struct order_item *it = caa_container_of(item, struct order_item, item);
    unsigned wi = net_worker_index(w);

    if (!pthread_equal(t->worker_thread[wi], pthread_self()))
        t->wrong_thread[wi]++;
    if ((long)it->seq <= t->last[wi][it->producer])
        t->order_errors[wi]++;
    t->last[wi][it->producer] = it->seq;
    atomic_fetch_add_explicit(&it->seen, 1, memory_order_relaxed);
}

struct producer_arg {
    struct order_test *t;
    unsigned id;
};

static void *producer_main(void *p)
{
    struct producer_arg *a = p;
    struct order_test *t = a->t;

    for (unsigned i = 0; i < PER_PRODUCER; i++) {
        struct order_item *it = &t->items[a->id][i];
        it->producer = a->id;
        it->seq = i;
        int err;
        /* item i goes to worker i % W; a full queue is retried */
        while ((err = net_dispatch(t->rt, i, &it->item)) == EAGAIN) {
            atomic_fetch_add_explicit(&t->eagain, 1, memory_order_relaxed);
            sched_yield();
        }
        if (err)
            return (void *)1;
    }
    return NULL;
}

static void test_many_producers(void **state)
{
    struct order_test *t = calloc(1, sizeof(*t));
    struct producer_arg args[PRODUCERS];
    pthread_t threads[PRODUCERS];
    char why[128];

    (void)state;
    assert_non_null(t);
    struct net_cfg cfg = {
        .workers = WORKERS,
        .queue_bound = 256, /* small enough that producers hit it */
        .work = order_work,
        .thread_start = order_thread_start,
        .thread_stop = order_thread_stop,
        .arg = t,
    };
    int err = net_start(&t->rt, &cfg, why, sizeof(why));
    if (err)
        fail_msg("net_start: %s", why);
    assert_int_equal(net_worker_count(t->rt), WORKERS);
    assert_int_equal(net_receiver_count(t->rt), 0);
    /* every start hook ran before net_start returned */
    assert_int_equal(atomic_load(&t->starts), WORKERS);
    assert_int_equal(atomic_load(&t->rx_starts), 0);

    for (unsigned p = 0; p < PRODUCERS; p++) {
        args[p] = (struct producer_arg){t, p};
        assert_int_equal(pthread_create(&threads[p], NULL, producer_main, &args[p]), 0);
    }
    for (unsigned p = 0; p < PRODUCERS; p++) {
        void *ret;
        pthread_join(threads[p], &ret);
        assert_null(ret);
    }
    wait_processed(t->rt, (uint64_t)PRODUCERS * PER_PRODUCER);
    assert_int_equal(OVERLOAD(t->rt), atomic_load(&t->eagain));
    net_stop(t->rt);

    assert_int_equal(atomic_load(&t->stops), WORKERS);
    for (unsigned w = 0; w < WORKERS; w++) {
        assert_int_equal(t->order_errors[w], 0);
        assert_int_equal(t->wrong_thread[w], 0);
    }
    for (unsigned p = 0; p < PRODUCERS; p++)
        for (unsigned i = 0; i < PER_PRODUCER; i++)
            if (atomic_load(&t->items[p][i].seen) != 1)
                fail_msg("producer %u item %u processed %u times", p, i,
                         atomic_load(&t->items[p][i].seen));
    /* each worker saw the last item of each producer meant for it */
    for (unsigned w = 0; w < WORKERS; w++)
        for (unsigned p = 0; p < PRODUCERS; p++)
            assert_int_equal(t->last[w][p] % WORKERS, w);
    free(t);
}

/* ------------------------------------------------ bound */

struct gate_test {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool entered, open;
    _Atomic unsigned done;
};

static void gate_work(void *arg, struct net_worker *w, struct net_item *item)
{
    struct gate_test *g = arg;
    (void)w;
    (void)item;
    pthread_mutex_lock(&g->lock);
    g->entered = true;
    pthread_cond_broadcast(&g->cond);
    while (!g->open)
        pthread_cond_wait(&g->cond, &g->lock);
    pthread_mutex_unlock(&g->lock);
    atomic_fetch_add(&g->done, 1);
}

static void test_queue_bound(void **state)
{
    struct gate_test g = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct net_item items[7];
    struct net_runtime *rt;
    char why[128];

    (void)state;
    struct net_cfg cfg = {.workers = 1, .queue_bound = 4, .work = gate_work, .arg = &g};
    assert_int_equal(net_start(&rt, &cfg, why, sizeof(why)), 0);

    /* the first item holds the worker in the hook: the queue is then empty */
    assert_int_equal(net_dispatch(rt, 0, &items[0]), 0);
    pthread_mutex_lock(&g.lock);
    while (!g.entered)
        pthread_cond_wait(&g.cond, &g.lock);
    pthread_mutex_unlock(&g.lock);

    for (int i = 1; i <= 4; i++)
        assert_int_equal(net_dispatch(rt, 7 /* modulo 1 */, &items[i]), 0);
    assert_int_equal(net_dispatch(rt, 0, &items[5]), EAGAIN);
    assert_int_equal(net_dispatch(rt, 0, &items[6]), EAGAIN);
    const struct net_worker_stats *st = net_worker_stats(rt, 0);
    assert_int_equal(stat_get(&st->depth), 4);
    assert_int_equal(stat_get(&st->overload), 2);
    assert_null(net_worker_stats(rt, 1));

    pthread_mutex_lock(&g.lock);
    g.open = true;
    pthread_cond_broadcast(&g.cond);
    pthread_mutex_unlock(&g.lock);
    wait_processed(rt, 5);
    assert_int_equal(stat_get(&st->depth), 0);
    /* room again */
    assert_int_equal(net_dispatch(rt, 0, &items[5]), 0);
    net_stop(rt);
    assert_int_equal(atomic_load(&g.done), 6);
}

/* ------------------------------------------------ idle workers sleep */

static void count_work(void *arg, struct net_worker *w, struct net_item *item)
{
    (void)w;
    (void)item;
    atomic_fetch_add((_Atomic unsigned *)arg, 1);
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void test_idle_sleeps(void **state)
{
    _Atomic unsigned done = 0;
    struct net_item items[16];
    struct net_runtime *rt;
    char why[128];

    (void)state;
    struct net_cfg cfg = {.workers = 2, .work = count_work, .arg = &done};
    assert_int_equal(net_start(&rt, &cfg, why, sizeof(why)), 0);
    for (unsigned i = 0; i < 16; i++)
        assert_int_equal(net_dispatch(rt, i, &items[i]), 0);
    wait_processed(rt, 16);
    sleep_ms(20); /* let both reach their futex */

    /* Two spinning workers would burn ~600 ms of CPU in 300 ms. */
    double before = cpu_seconds();
    sleep_ms(300);
    double used = cpu_seconds() - before;
    print_message("CPU over 300 ms idle: %.1f ms\n", used * 1000);
    assert_true(used < 0.060);

    /* and they still wake up */
    for (unsigned i = 0; i < 16; i++)
        assert_int_equal(net_dispatch(rt, i, &items[i]), 0);
    wait_processed(rt, 32);
    net_stop(rt);
    assert_int_equal(atomic_load(&done), 32);
}

/* ------------------------------------------------ tick hook */

struct tick_test {
    _Atomic unsigned idle_ticks, busy_ticks, work;
    bool idle_pending[2]; /* per worker: idle tick seen, busy tick not yet */
    unsigned violations;
    struct net_worker *workers[2];
};

static int tick_hook(void *arg, struct net_worker *w, bool idle)
{
    struct tick_test *t = arg;
    unsigned i = net_worker_index(w);

    if (!net_worker_ctx(w))
        net_worker_set_ctx(w, t);
    if (idle) {
        t->idle_pending[i] = true;
        atomic_fetch_add(&t->idle_ticks, 1);
        return 20;
    }
    t->idle_pending[i] = false;
    atomic_fetch_add(&t->busy_ticks, 1);
    return 0;
}

static void tick_work(void *arg, struct net_worker *w, struct net_item *item)
{
    struct tick_test *t = arg;
    (void)item;
    if (t->idle_pending[net_worker_index(w)])
        t->violations++;
    if (net_worker_ctx(w) != t)
        t->violations++;
    atomic_fetch_add(&t->work, 1);
}

static void test_tick(void **state)
{
    struct tick_test t = {0};
    struct net_item items[100];
    struct net_runtime *rt;
    char why[128];

    (void)state;
    struct net_cfg cfg = {
        .workers = 1, .batch = 8, .work = tick_work, .tick = tick_hook, .arg = &t};
    assert_int_equal(net_start(&rt, &cfg, why, sizeof(why)), 0);
    /* idle with a 20 ms timer: the hook runs again and again, not in a spin */
    sleep_ms(200);
    unsigned idle = atomic_load(&t.idle_ticks);
    print_message("idle ticks in 200 ms at 20 ms: %u\n", idle);
    assert_true(idle >= 4 && idle <= 20);

    for (unsigned i = 0; i < 100; i++)
        assert_int_equal(net_dispatch(rt, 0, &items[i]), 0);
    wait_processed(rt, 100);
    net_stop(rt);
    assert_int_equal(t.violations, 0);
    assert_int_equal(atomic_load(&t.work), 100);
    assert_true(atomic_load(&t.busy_ticks) >= idle);
}

/* ------------------------------------------------ stop drains, also hops between workers */

#define HOP_ITEMS 20000
#define HOPS      3

struct hop_item {
    struct net_item item;
    unsigned hops;
};

struct hop_test {
    struct hop_item *items;
    _Atomic unsigned finished, refused, eagain;
};

static void hop_work(void *arg, struct net_worker *w, struct net_item *item)
{
    struct hop_test *t = arg;
    struct hop_item *it = caa_container_of(item, struct hop_item, item);

    if (it->hops < HOPS) {
        it->hops++;
        int err = net_dispatch(net_worker_runtime(w), net_worker_index(w) + 1, item);
        if (err == 0)
            return; /* the next worker owns it now */
        /* EAGAIN (or anything else) is a failure, checked on the main thread */
        atomic_fetch_add(err == ESHUTDOWN ? &t->refused : &t->eagain, 1);
    }
    atomic_fetch_add(&t->finished, 1);
}

static void test_stop_drains(void **state)
{
    struct hop_test t = {.items = calloc(HOP_ITEMS, sizeof(struct hop_item))};
    struct net_runtime *rt;
    char why[128];
    unsigned queued = 0;

    (void)state;
    assert_non_null(t.items);
    struct net_cfg cfg = {.workers = 2, .queue_bound = 100000, .work = hop_work, .arg = &t};
    assert_int_equal(net_start(&rt, &cfg, why, sizeof(why)), 0);
    for (unsigned i = 0; i < HOP_ITEMS; i++)
        if (net_dispatch(rt, i, &t.items[i].item) == 0)
            queued++;
    assert_int_equal(queued, HOP_ITEMS);

    /* stop at once: everything queued is still processed, each item exactly
     * once, and hops to a worker that already left are refused, not lost */
    double t0 = now_s();
    net_stop(rt);
    double took = now_s() - t0;
    print_message("net_stop with %u items queued: %.1f ms, %u hops refused\n", HOP_ITEMS,
                  took * 1000, atomic_load(&t.refused));
    assert_true(took < 5.0);
    assert_int_equal(atomic_load(&t.finished), HOP_ITEMS);
    assert_int_equal(atomic_load(&t.eagain), 0);
    free(t.items);
}

/* ------------------------------------------------ bad configs */

static void test_bad_cfg(void **state)
{
    struct net_runtime *rt = NULL;
    char why[128];
    _Atomic unsigned done = 0;

    (void)state;
    struct net_cfg cfg = {.workers = 0, .work = count_work, .arg = &done};
    assert_int_equal(net_start(&rt, &cfg, why, sizeof(why)), EINVAL);
    assert_string_equal(why, "workers must be 1..1024, not 0");
    assert_null(rt);

    cfg.workers = 1;
    cfg.work = NULL;
    assert_int_equal(net_start(&rt, &cfg, why, sizeof(why)), EINVAL);
    assert_string_equal(why, "no work hook");

    cfg.work = count_work;
    cfg.batch = NET_MAX_BATCH + 1;
    assert_int_equal(net_start(&rt, &cfg, why, sizeof(why)), EINVAL);
    assert_string_equal(why, "batch must be 1..1024, not 1025");
    assert_null(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_producers), cmocka_unit_test(test_queue_bound),
        cmocka_unit_test(test_idle_sleeps),    cmocka_unit_test(test_tick),
        cmocka_unit_test(test_stop_drains),    cmocka_unit_test(test_bad_cfg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
