/* shim_queue.h: a plain C face over sipd's worker queues (src/net) for the C++ hand-off benchmark.
 */
#ifndef SIPD_BENCH_SHIM_QUEUE_H
#define SIPD_BENCH_SHIM_QUEUE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A net runtime with workers only (no sockets) and, per producer thread, a
 * ring of preallocated items that the worker hook hands back: the numbers
 * measure the hand-off (net_dispatch, the wfcqueue, the futex wake-ups and
 * the work hook's call), not an allocator.
 */
struct shimq;

/* Starts 'workers' workers for up to 'producers' producer threads. 0 or an errno value. */
int shimq_start(struct shimq **qp, unsigned workers, unsigned producers, unsigned queue_bound);

/*
 * Producer 'producer' (one thread per number) hands one item to the next
 * worker in its round robin, retrying while the queue is full. Returns the
 * number of retries (EAGAIN refusals and waits for a recycled item).
 */
uint64_t shimq_push(struct shimq *q, unsigned producer);

/* Waits until every pushed item has been through the work hook. */
void shimq_drain(struct shimq *q);

/* Items the workers processed so far. */
uint64_t shimq_processed(const struct shimq *q);

/* Drains, stops the workers and frees q. */
void shimq_stop(struct shimq *q);

#ifdef __cplusplus
}
#endif

#endif
