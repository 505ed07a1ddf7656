/* jobq.c: database threads fed by wait-free queues: FIFO per thread, retries in order, graceful stop. */
#define _GNU_SOURCE
#include "db/db_int.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include <urcu/compiler.h>

/*
 * DESIGN
 *
 * Threads and queues. Each of the queue's threads owns one liburcu
 * wfcqueue and one database connection. db_jobq_push() puts a job on the
 * queue of thread key % threads with cds_wfcq_enqueue(): wait-free, no lock,
 * from any thread. The thread is its queue's only consumer: it takes
 * everything queued at once with __cds_wfcq_splice_blocking() into a list
 * on its stack and pops that with __cds_wfcq_dequeue_blocking(), the
 * variants without a dequeue lock, which the synchronization table of
 * urcu/wfcqueue.h allows because no other thread dequeues, splices or
 * iterates that queue (the same argument as the net workers in
 * src/net/worker.c).
 *
 * Order. Enqueue order is the order of the exchanges on the queue's tail,
 * which for one producer is its program order; splice and dequeue keep it.
 * The thread runs one job at a time and a job that returns EAGAIN is run
 * again, after the backoff, before the thread looks at the next one. So
 * jobs of one thread finish in push order and a retried job is never
 * overtaken; the price is head-of-line blocking, which is what an outage
 * means for writes that must land in order anyway (every job of the thread
 * would fail the same way). At stop, once the grace period is over, the
 * first job that still fails is reported undone, and so is every later job
 * of that thread without running: a failure never lets a later write land
 * before an earlier one.
 *
 * Depth, memory ordering, closing. 'depth' counts a thread's jobs pushed
 * and not yet done. A push reserves a slot by incrementing it (a release
 * compare-and-swap) before it enqueues; the thread, after each splice, does
 * an acquire read-modify-write of it. All writes of depth are
 * read-modify-writes, so that acquire reads the end of a release sequence
 * holding every reservation made before the items it spliced: the job's
 * fields written before the push happen before the thread reads them, in
 * terms of the C11 model and of ThreadSanitizer (liburcu's own barriers are
 * inline assembly neither can see). When stopping, a thread whose queue is
 * empty swaps depth 0 for DB_JOBQ_CLOSED and exits; a push finding that bit
 * refuses with ESHUTDOWN, and a push that reserved before it makes depth
 * non-zero, so the thread waits for that job. No job is stranded.
 *
 * Sleeping. An idle thread waits on its condition variable after checking
 * the queue under the mutex. A producer whose enqueue found the queue
 * empty (cds_wfcq_enqueue() returns false) takes the mutex and signals.
 * The exchange in the enqueue orders the two: if the thread saw the queue
 * empty, some producer's exchange came after that check and that producer
 * signals, under the mutex the thread holds until it waits. A busy thread
 * costs producers no lock. The retry wait is a timed wait on the same
 * condition (CLOCK_MONOTONIC), so db_jobq_stop() can cut it short.
 */

#define DB_JOBQ_CLOSED (UINT64_C(1) << 63)
#define DB_JOBQ_MAX_THREADS 64

struct db_jobq_thread {
    struct __cds_wfcq_head head; /* consumer side */
    struct cds_wfcq_tail tail;   /* producers */
    atomic_uint_fast64_t depth;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct db_jobq *q;
    struct db_conn *conn;
    unsigned index;
    pthread_t thread;
    bool started; /* main thread only */
};

struct db_jobq {
    struct db *db;
    unsigned n;
    atomic_bool stopping;
    atomic_int_fast64_t deadline_ns; /* set before stopping */
    bool stopped;                    /* db_jobq_stop ran; its caller's thread only */
    struct db_jobq_thread *threads;
};

static void jobq_wake(struct db_jobq_thread *t)
{
    pthread_mutex_lock(&t->lock);
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
}

int db_jobq_push(struct db_jobq *q, struct db_job *job)
{
    if (atomic_load(&q->stopping))
        return ESHUTDOWN;
    struct db_jobq_thread *t = &q->threads[job->key % q->n];
    uint_fast64_t depth = atomic_load_explicit(&t->depth, memory_order_relaxed);
    do {
        if (depth & DB_JOBQ_CLOSED)
            return ESHUTDOWN;
    } while (!atomic_compare_exchange_weak_explicit(&t->depth, &depth, depth + 1,
                                                    memory_order_release, memory_order_relaxed));
    cds_wfcq_node_init(&job->node);
    if (!cds_wfcq_enqueue(&t->head, &t->tail, &job->node))
        jobq_wake(t); /* the queue was empty: the thread may be asleep */
    return 0;
}

uint64_t db_jobq_pending(const struct db_jobq *q)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < q->n; i++)
        n += atomic_load(&q->threads[i].depth) & ~DB_JOBQ_CLOSED;
    return n;
}

static struct timespec ns_to_timespec(int64_t ns)
{
    return (struct timespec){.tv_sec = ns / 1000000000LL, .tv_nsec = ns % 1000000000LL};
}

/* Sleeps until the queue has something or the queue is stopping. */
static void jobq_sleep(struct db_jobq_thread *t)
{
    pthread_mutex_lock(&t->lock);
    while (cds_wfcq_empty(&t->head, &t->tail) && !atomic_load(&t->q->stopping))
        pthread_cond_wait(&t->cond, &t->lock);
    pthread_mutex_unlock(&t->lock);
}

/* Waits out the backoff before a job runs again. false: stopping and the
 * grace period is over, give up. */
static bool jobq_retry_wait(struct db_jobq_thread *t)
{
    struct db_jobq *q = t->q;
    int64_t now = db_now_ns();
    int64_t wake_at = now + (int64_t)db_retry_delay_ms(q->db) * 1000000;
    bool go_on = true;

    pthread_mutex_lock(&t->lock);
    for (;;) {
        int64_t until = wake_at;
        if (atomic_load(&q->stopping)) {
            int64_t deadline = atomic_load(&q->deadline_ns);
            if (now >= deadline) {
                go_on = false;
                break;
            }
            if (until > deadline)
                until = deadline;
        }
        if (now >= until)
            break;
        struct timespec ts = ns_to_timespec(until);
        (void)pthread_cond_timedwait(&t->cond, &t->lock, &ts);
        now = db_now_ns();
    }
    pthread_mutex_unlock(&t->lock);
    return go_on;
}

/* Runs a job until it returns something other than EAGAIN, or the grace
 * period of a stop is over (EAGAIN then). */
static int jobq_run(struct db_jobq_thread *t, struct db_job *job)
{
    for (;;) {
        int ret = job->run(t->conn, job);
        if (ret != EAGAIN || !jobq_retry_wait(t))
            return ret;
    }
}

static void *jobq_main(void *arg)
{
    struct db_jobq_thread *t = arg;
    struct db_jobq *q = t->q;
    bool failing = false; /* past the grace, a job failed: later ones fail unrun */
    char name[16];

    snprintf(name, sizeof(name), "sipd-db%u", t->index);
    pthread_setname_np(pthread_self(), name);
    mysql_thread_init();

    for (;;) {
        struct __cds_wfcq_head list;
        struct cds_wfcq_tail list_tail;
        __cds_wfcq_init(&list, &list_tail);
        if (__cds_wfcq_splice_blocking(&list, &list_tail, &t->head, &t->tail) !=
            CDS_WFCQ_RET_SRC_EMPTY) {
            /* The acquire that makes the spliced jobs' contents visible ("Depth"). */
            atomic_fetch_add_explicit(&t->depth, 0, memory_order_acquire);
            struct cds_wfcq_node *node;
            while ((node = __cds_wfcq_dequeue_blocking(&list, &list_tail))) {
                struct db_job *job = caa_container_of(node, struct db_job, node);
                int ret = failing ? EAGAIN : jobq_run(t, job);
                if (ret == EAGAIN)
                    failing = true; /* only after the grace period */
                if (job->done)
                    job->done(job, ret); /* the owner may free the job now */
                atomic_fetch_sub_explicit(&t->depth, 1, memory_order_release);
            }
            continue;
        }
        if (atomic_load(&q->stopping)) {
            uint_fast64_t empty = 0;
            if (atomic_compare_exchange_strong(&t->depth, &empty, DB_JOBQ_CLOSED))
                break;
            sched_yield(); /* a producer reserved a slot and is about to enqueue */
            continue;
        }
        jobq_sleep(t);
    }

    db_conn_free(t->conn);
    t->conn = NULL;
    mysql_thread_end();
    return NULL;
}

static void jobq_free(struct db_jobq *q)
{
    for (unsigned i = 0; i < q->n; i++) {
        struct db_jobq_thread *t = &q->threads[i];
        db_conn_free(t->conn); /* threads that never started */
        pthread_cond_destroy(&t->cond);
        pthread_mutex_destroy(&t->lock);
    }
    free(q->threads);
    free(q);
}

int db_jobq_start(struct db_jobq **qp, struct db *db, unsigned threads)
{
    struct db_jobq *q;
    int ret = 0;

    if (threads == 0 || threads > DB_JOBQ_MAX_THREADS)
        return EINVAL;
    q = calloc(1, sizeof(*q));
    if (!q)
        return ENOMEM;
    q->threads = calloc(threads, sizeof(*q->threads));
    if (!q->threads) {
        free(q);
        return ENOMEM;
    }
    q->db = db;
    atomic_init(&q->stopping, false);
    atomic_init(&q->deadline_ns, 0);

    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    for (unsigned i = 0; i < threads; i++) {
        struct db_jobq_thread *t = &q->threads[i];
        __cds_wfcq_init(&t->head, &t->tail);
        atomic_init(&t->depth, 0);
        t->q = q;
        t->index = i;
        if (pthread_mutex_init(&t->lock, NULL)) {
            ret = ENOMEM;
            break;
        }
        if (pthread_cond_init(&t->cond, &attr)) {
            pthread_mutex_destroy(&t->lock);
            ret = ENOMEM;
            break;
        }
        q->n = i + 1;
        ret = db_conn_new(db, &t->conn);
        if (ret)
            break;
    }
    pthread_condattr_destroy(&attr);
    if (ret) {
        jobq_free(q);
        return ret;
    }

    for (unsigned i = 0; i < threads; i++) {
        struct db_jobq_thread *t = &q->threads[i];
        ret = pthread_create(&t->thread, NULL, jobq_main, t);
        if (ret) {
            db_jobq_free(q);
            return ret;
        }
        t->started = true;
    }
    *qp = q;
    return 0;
}

void db_jobq_stop(struct db_jobq *q, unsigned grace_ms)
{
    if (!q || q->stopped)
        return;
    q->stopped = true;
    atomic_store(&q->deadline_ns, db_now_ns() + (int64_t)grace_ms * 1000000);
    atomic_store(&q->stopping, true);
    for (unsigned i = 0; i < q->n; i++)
        jobq_wake(&q->threads[i]);
    for (unsigned i = 0; i < q->n; i++) {
        struct db_jobq_thread *t = &q->threads[i];
        if (t->started)
            pthread_join(t->thread, NULL);
        t->started = false;
    }
}

void db_jobq_free(struct db_jobq *q)
{
    if (!q)
        return;
    db_jobq_stop(q, 0);
    jobq_free(q);
}
