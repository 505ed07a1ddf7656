/* shim_queue.c: the queue benchmark's C side: a workers-only net runtime and recycled items. */
#include "shim_queue.h"

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include <urcu/compiler.h>

#include "net/net.h"

/* Items per producer ring: more than the queues can hold, so a producer
 * rarely waits for an item to come back. A power of two. */
#define RING 16384u

struct shimq_item {
    struct net_item item;
    _Atomic bool busy; /* set by the producer, cleared by the work hook */
};

struct shimq_producer {
    _Alignas(64) struct shimq_item *ring;
    uint64_t next;   /* items pushed */
    unsigned worker; /* round robin */
};

struct shimq {
    struct net_runtime *rt;
    unsigned workers;
    unsigned producer_n;
    struct shimq_producer *producers;
};

static void shimq_work(void *arg, struct net_worker *w, struct net_item *item)
{
    struct shimq_item *it = caa_container_of(item, struct shimq_item, item);
    (void)arg;
    (void)w;
    atomic_store_explicit(&it->busy, false, memory_order_release);
}

static void shimq_free(struct shimq *q)
{
    for (unsigned i = 0; i < q->producer_n; i++)
        free(q->producers[i].ring);
    free(q->producers);
    free(q);
}

int shimq_start(struct shimq **qp, unsigned workers, unsigned producers, unsigned queue_bound)
{
    struct shimq *q = calloc(1, sizeof(*q));
    char why[160];
    int err;

    if (!q)
        return ENOMEM;
    q->workers = workers;
    q->producer_n = producers;
    q->producers = aligned_alloc(64, producers * sizeof(*q->producers));
    if (!q->producers) {
        free(q);
        return ENOMEM;
    }
    for (unsigned i = 0; i < producers; i++) {
        q->producers[i] = (struct shimq_producer){.ring = calloc(RING, sizeof(struct shimq_item))};
        if (!q->producers[i].ring) {
            shimq_free(q);
            return ENOMEM;
        }
    }
    struct net_cfg cfg = {.workers = workers, .queue_bound = queue_bound, .work = shimq_work};
    if ((err = net_start(&q->rt, &cfg, why, sizeof(why))) != 0) {
        shimq_free(q);
        return err;
    }
    *qp = q;
    return 0;
}

uint64_t shimq_push(struct shimq *q, unsigned producer)
{
    struct shimq_producer *p = &q->producers[producer];
    struct shimq_item *it = &p->ring[p->next++ & (RING - 1)];
    uint64_t retries = 0;

    while (atomic_load_explicit(&it->busy, memory_order_acquire)) {
        retries++;
        sched_yield();
    }
    atomic_store_explicit(&it->busy, true, memory_order_relaxed);
    unsigned w = p->worker;
    p->worker = w + 1 == q->workers ? 0 : w + 1;
    while (net_dispatch(q->rt, w, &it->item) == EAGAIN) {
        retries++;
        sched_yield(); /* two cores: let the worker run */
    }
    return retries;
}

uint64_t shimq_processed(const struct shimq *q)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < q->workers; i++)
        n += stat_get(&net_worker_stats(q->rt, i)->processed);
    return n;
}

void shimq_drain(struct shimq *q)
{
    uint64_t pushed = 0;
    for (unsigned i = 0; i < q->producer_n; i++)
        pushed += q->producers[i].next;
    while (shimq_processed(q) < pushed)
        sched_yield();
}

void shimq_stop(struct shimq *q)
{
    if (!q)
        return;
    net_stop(q->rt); /* drains the queues */
    shimq_free(q);
}
