/* worker.c: worker threads and their queues: lock-free hand-off, futex sleep, graceful drain. */
#define _GNU_SOURCE
#include "net/net_int.h"

#include "core/log.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <stdlib.h>

#include <urcu/arch.h>
#include <urcu/compiler.h>
#include <urcu/futex.h>

/*
 * DESIGN
 *
 * The queue. Each worker owns one liburcu wfcqueue. Producers (receivers,
 * other workers) call cds_wfcq_enqueue(): wait-free, no lock. The worker is
 * the queue's only consumer. It takes everything queued at once with
 * __cds_wfcq_splice_blocking() into a list on its stack, then pops that
 * list with __cds_wfcq_dequeue_blocking(): the double-underscore variants,
 * which take no dequeue lock. The synchronization table in urcu/wfcqueue.h
 * shows why none is needed: enqueue [1] needs no exclusion against
 * anything, splicing from a queue [4] and dequeue [3] need it only against
 * each other and against other dequeues, splices and iterations of the
 * same queue, and only this thread ever runs those on its queue (the stack
 * list is private altogether). So the head has no mutex (struct
 * __cds_wfcq_head). One splice costs one exchange of the shared tail per
 * round instead of touching it per item. We call the library's functions
 * (no _LGPL_SOURCE): its atomics are inline assembly that ThreadSanitizer
 * cannot see, so they stay out of instrumented code.
 *
 * The bound. 'depth' counts items dispatched and not yet taken into a batch.
 * net_dispatch() reserves a slot with a compare-and-swap that never lets
 * depth pass queue_bound (an overloaded queue costs a producer one load,
 * no write), then enqueues. The worker subtracts a batch's items (at most
 * 'batch') in one step before running the hook on them, so the shared
 * line is written once per batch, not per item. Every write of depth is a
 * read-modify-write, so the consumer's subtraction (an acquire) reads the
 * end of a release sequence that holds every producer's reservation (a
 * release) made before it: the item's contents, written before
 * net_dispatch(), happen before the work hook reads them in terms of the
 * C11 model and of ThreadSanitizer, on top of the ordering the queue's own
 * barriers give.
 *
 * Sleeping (the pattern of liburcu's call_rcu thread and urcu-wait). The
 * word sleep_state is 0 while the worker runs. With nothing to do it:
 *   1. stores -1,
 *   2. full barrier, then looks at the queue (and the stop flag) again,
 *   3. if still empty, FUTEX_WAIT while the word is -1, then stores 0.
 * A producer, after its enqueue: full barrier, then reads the word; only
 * if it is -1 does it exchange it for 0 and FUTEX_WAKE. Either the worker's
 * re-check (2) sees the new item, or the producer's read sees -1: the two
 * barriers forbid both misses (the store-buffer / Dekker argument). So a
 * busy worker costs producers a read of a shared line and no syscall, and
 * an idle worker sleeps in the kernel without spinning. The word is a C11
 * atomic (its futex syscalls take its address); the fences are
 * cmm_smp_mb() because GCC's -Wtsan refuses atomic_thread_fence() under
 * ThreadSanitizer.
 *
 * Stopping. net_workers_stop() sets worker_stop and wakes every worker.
 * A worker that finds its queue empty with the flag set closes its queue
 * by swapping depth 0 -> NET_DEPTH_CLOSED; from then on net_dispatch()
 * refuses with ESHUTDOWN, so no item can be stranded in a queue nobody
 * reads. If depth is not 0 a producer has reserved a slot and is about to
 * enqueue: the worker yields and takes that item first.
 *
 * Sending. A datagram a worker sends (net_send() on its thread: replies,
 * forwarded requests) is copied into the worker's transmit batch, and the
 * batch leaves when the worker has worked through its batch of items (and
 * after each tick): one sendmmsg() per run of datagrams on the same
 * socket, in the order they were sent. Under load a worker takes up to
 * 'batch' items at once, so one system call carries the replies of many
 * messages; with a quiet queue a batch is one item and a reply leaves as
 * soon as its message is done. What a datagram waits is the rest of its
 * batch's work, microseconds. A full transmit batch leaves at once. The
 * pointer to the batch is thread-local so that every sender on a worker
 * (the reply functions, the modules) takes part without passing the
 * worker down; receivers and other threads send at once. A datagram that
 * cannot leave is counted in the worker's send_errors and logged, because
 * its sender has already gone on.
 */

static _Thread_local struct net_worker *tx_worker;

bool net_tx_queue(int fd, const struct sockaddr *dst, socklen_t dst_len, const void *buf,
                  size_t len)
{
    struct net_worker *w = tx_worker;

    if (!w)
        return false;
    struct net_txq *q = w->tx;
    if (q->n == NET_TX_MAX || q->used + len > NET_TX_BUF)
        net_tx_flush(w);
    if (len > NET_TX_BUF)
        return false; /* sent at once, after what was queued before it */
    unsigned i = q->n++;
    char *p = q->buf + q->used;
    memcpy(p, buf, len);
    q->used += len;
    memcpy(&q->dst[i], dst, dst_len);
    q->fd[i] = fd;
    q->iov[i] = (struct iovec){.iov_base = p, .iov_len = len};
    q->msgs[i].msg_hdr = (struct msghdr){
        .msg_name = &q->dst[i], .msg_namelen = dst_len, .msg_iov = &q->iov[i], .msg_iovlen = 1};
    return true;
}

static void tx_failed(struct net_worker *w, const struct net_txq *q, unsigned i, int err)
{
    stat_inc(&w->stats.send_errors);
    log_msg(LOG_LVL_ERR, (const struct sockaddr *)&q->dst[i], SLICE_NULL,
            "sending a datagram of %zu bytes failed: %s", q->iov[i].iov_len, strerror(err));
}

void net_tx_flush(struct net_worker *w)
{
    struct net_txq *q = w->tx;
    unsigned i = 0, retries = 0;

    while (i < q->n) {
        unsigned run = 1;
        while (i + run < q->n && q->fd[i + run] == q->fd[i])
            run++;
        int k = sendmmsg(q->fd[i], &q->msgs[i], run, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (k < 0) {
            int err = errno;
            if (net_send_again(q->fd[i], err, &retries))
                continue;
            tx_failed(w, q, i, err); /* the first of the run failed: skip it */
            i++;
            retries = 0;
            continue;
        }
        stat_add(&w->stats.sent, (uint64_t)k);
        stat_inc(&w->stats.send_calls);
        for (int j = 0; j < k; j++)
            if (q->msgs[i + (unsigned)j].msg_len != q->iov[i + (unsigned)j].iov_len)
                tx_failed(w, q, i + (unsigned)j, EMSGSIZE);
        i += (unsigned)k;
        retries = 0;
    }
    q->n = 0;
    q->used = 0;
}

static void worker_wake(struct net_worker *w)
{
    if (atomic_load_explicit(&w->sleep_state, memory_order_relaxed) == -1 &&
        atomic_exchange_explicit(&w->sleep_state, 0, memory_order_relaxed) == -1)
        (void)futex_async((int32_t *)&w->sleep_state, FUTEX_WAKE, 1, NULL, NULL, 0);
}

int net_dispatch(struct net_runtime *rt, unsigned index, struct net_item *item)
{
    struct net_worker *w = &rt->workers[index % rt->worker_n];
    uint64_t bound = rt->cfg.queue_bound;
    uint64_t depth = atomic_load_explicit(&w->stats.depth, memory_order_relaxed);

    do {
        if (depth & NET_DEPTH_CLOSED)
            return ESHUTDOWN;
        if (depth >= bound) {
            stat_inc(&w->stats.overload);
            return EAGAIN;
        }
    } while (!atomic_compare_exchange_weak_explicit(&w->stats.depth, &depth, depth + 1,
                                                    memory_order_release, memory_order_relaxed));

    cds_wfcq_node_init(&item->node);
    cds_wfcq_enqueue(&w->head, &w->tail, &item->node);
    /* The enqueue before the read of sleep_state; pairs with worker_sleep(). */
    cmm_smp_mb();
    worker_wake(w);
    return 0;
}

static bool worker_has_work(struct net_worker *w)
{
    return !cds_wfcq_empty(&w->head, &w->tail) ||
           atomic_load_explicit(&w->rt->worker_stop, memory_order_relaxed);
}

static void deadline_after(struct timespec *t, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, t);
    t->tv_sec += ms / 1000;
    t->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t->tv_nsec >= 1000000000L) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000L;
    }
}

/* The time left until deadline; false when it has passed. */
static bool time_left(const struct timespec *deadline, struct timespec *left)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    left->tv_sec = deadline->tv_sec - now.tv_sec;
    left->tv_nsec = deadline->tv_nsec - now.tv_nsec;
    if (left->tv_nsec < 0) {
        left->tv_sec--;
        left->tv_nsec += 1000000000L;
    }
    return left->tv_sec >= 0 && (left->tv_sec > 0 || left->tv_nsec > 0);
}

/* Sleeps until an item arrives, a stop, or timeout_ms (-1: no timeout). */
static void worker_sleep(struct net_worker *w, int timeout_ms)
{
    struct timespec deadline, left;

    if (timeout_ms == 0)
        return;
    if (timeout_ms > 0)
        deadline_after(&deadline, timeout_ms);

    atomic_store_explicit(&w->sleep_state, -1, memory_order_relaxed);
    /* The store of -1 before the re-check; pairs with net_dispatch(). */
    cmm_smp_mb();
    if (worker_has_work(w))
        goto out;
    while (atomic_load_explicit(&w->sleep_state, memory_order_relaxed) == -1) {
        const struct timespec *timeout = NULL;
        if (timeout_ms > 0) {
            if (!time_left(&deadline, &left))
                break;
            timeout = &left;
        }
        /* Returns on a wake, when the word is no longer -1 (EAGAIN), on a
         * signal (EINTR) or at the timeout; the loop sorts them out. */
        if (futex_async((int32_t *)&w->sleep_state, FUTEX_WAIT, -1, timeout, NULL, 0) < 0 &&
            errno != EINTR && errno != EAGAIN && errno != ETIMEDOUT)
            break; /* unexpected: never sleep blind, look at the queue */
    }
out:
    atomic_store_explicit(&w->sleep_state, 0, memory_order_relaxed);
}

/* Stop requested and queue empty: close it unless a producer holds a slot. */
static bool worker_try_close(struct net_worker *w)
{
    uint64_t empty = 0;

    if (atomic_compare_exchange_strong_explicit(&w->stats.depth, &empty, NET_DEPTH_CLOSED,
                                                memory_order_acq_rel, memory_order_relaxed))
        return true;
    sched_yield(); /* let that producer finish its enqueue */
    return false;
}

/*
 * Runs the work hook on every item of a list taken from the queue, in
 * batches: the batch's items leave depth in one subtraction (an acquire:
 * see "The bound"), then the hook runs on each, then the tick.
 */
static void worker_run(struct net_worker *w, struct __cds_wfcq_head *head,
                       struct cds_wfcq_tail *tail)
{
    const struct net_cfg *cfg = &w->rt->cfg;
    struct cds_wfcq_node *nodes[NET_MAX_BATCH];

    for (;;) {
        unsigned n = 0;
        struct cds_wfcq_node *node;

        while (n < cfg->batch && (node = __cds_wfcq_dequeue_blocking(head, tail)))
            nodes[n++] = node;
        if (n == 0)
            return;
        atomic_fetch_sub_explicit(&w->stats.depth, n, memory_order_acquire);
        for (unsigned i = 0; i < n; i++)
            cfg->work(cfg->arg, w, caa_container_of(nodes[i], struct net_item, node));
        net_tx_flush(w);
        stat_add(&w->stats.processed, n);
        if (cfg->tick) {
            (void)cfg->tick(cfg->arg, w, false);
            net_tx_flush(w);
        }
    }
}

static void *worker_main(void *arg)
{
    struct net_worker *w = arg;
    struct net_runtime *rt = w->rt;
    const struct net_cfg *cfg = &rt->cfg;
    char name[16];

    snprintf(name, sizeof(name), "sipd-w%u", w->index);
    pthread_setname_np(pthread_self(), name);
    tx_worker = w;
    if (cfg->thread_start)
        cfg->thread_start(cfg->arg, w->index, true);
    net_tx_flush(w);
    net_thread_started(rt);

    for (;;) {
        /* Take everything queued at once (one exchange of the shared
         * tail), then work through it in batches from this private list. */
        struct __cds_wfcq_head taken;
        struct cds_wfcq_tail taken_tail;
        __cds_wfcq_init(&taken, &taken_tail);
        if (__cds_wfcq_splice_blocking(&taken, &taken_tail, &w->head, &w->tail) !=
            CDS_WFCQ_RET_SRC_EMPTY) {
            worker_run(w, &taken, &taken_tail);
            continue; /* more may have come meanwhile */
        }
        /* The queue was empty. */
        if (atomic_load_explicit(&rt->worker_stop, memory_order_acquire)) {
            if (worker_try_close(w))
                break;
            continue;
        }
        int timeout_ms = cfg->tick ? cfg->tick(cfg->arg, w, true) : -1;
        net_tx_flush(w);
        worker_sleep(w, timeout_ms < 0 ? -1 : timeout_ms);
        if (cfg->tick) {
            (void)cfg->tick(cfg->arg, w, false);
            net_tx_flush(w);
        }
    }

    if (cfg->thread_stop)
        cfg->thread_stop(cfg->arg, w->index, true);
    net_tx_flush(w);
    tx_worker = NULL;
    return NULL;
}

int net_workers_start(struct net_runtime *rt, char *why, size_t why_cap)
{
    for (unsigned i = 0; i < rt->worker_n; i++) {
        struct net_worker *w = &rt->workers[i];
        w->rt = rt;
        w->index = i;
        __cds_wfcq_init(&w->head, &w->tail);
        atomic_init(&w->sleep_state, 0);
        atomic_init(&w->stats.processed, 0);
        atomic_init(&w->stats.depth, 0);
        atomic_init(&w->stats.overload, 0);
        atomic_init(&w->stats.sent, 0);
        atomic_init(&w->stats.send_calls, 0);
        atomic_init(&w->stats.send_errors, 0);
        if (!w->tx && !(w->tx = calloc(1, sizeof(*w->tx))))
            return net_why(why, why_cap, ENOMEM, "worker %u: no memory for its transmit batch", i);
    }
    for (unsigned i = 0; i < rt->worker_n; i++) {
        struct net_worker *w = &rt->workers[i];
        char ebuf[64];
        int err = pthread_create(&w->thread, NULL, worker_main, w);
        if (err)
            return net_why(why, why_cap, err, "worker %u: pthread_create: %s", i,
                           net_strerror(err, ebuf, sizeof(ebuf)));
        w->started = true;
    }
    return 0;
}

void net_workers_stop(struct net_runtime *rt)
{
    atomic_store_explicit(&rt->worker_stop, true, memory_order_release);
    /* The flag before the read of sleep_state, as an enqueue in net_dispatch(). */
    cmm_smp_mb();
    for (unsigned i = 0; i < rt->worker_n; i++)
        worker_wake(&rt->workers[i]);
    for (unsigned i = 0; i < rt->worker_n; i++) {
        struct net_worker *w = &rt->workers[i];
        if (w->started)
            pthread_join(w->thread, NULL);
        w->started = false;
    }
}

unsigned net_worker_index(const struct net_worker *w)
{
    return w->index;
}

struct net_runtime *net_worker_runtime(const struct net_worker *w)
{
    return w->rt;
}

void net_worker_set_ctx(struct net_worker *w, void *ctx)
{
    w->ctx = ctx;
}

void *net_worker_ctx(const struct net_worker *w)
{
    return w->ctx;
}
