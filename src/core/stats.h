/* stats.h: counters that many threads bump and the control thread reads. */
#ifndef SIPD_CORE_STATS_H
#define SIPD_CORE_STATS_H

#include <stdatomic.h>
#include <stdint.h>

/*
 * A counter is a relaxed atomic: increments never order anything and never
 * take a lock. Hot counters that several threads bump belong in per-thread
 * blocks (each thread owns a cache line of its own) summed on read; the
 * helpers below are for that sum and for plain shared counters.
 */
typedef _Atomic uint64_t stat_counter;

static inline void stat_inc(stat_counter *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static inline void stat_add(stat_counter *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline uint64_t stat_get(const stat_counter *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

#endif
