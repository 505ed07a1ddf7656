/* tsan.h: happens-before annotations for ThreadSanitizer where liburcu publishes memory. */
#ifndef SIPD_CORE_TSAN_H
#define SIPD_CORE_TSAN_H

/*
 * liburcu's publication (rcu_assign_pointer, cds_lfht_add_unique) and
 * subscription (rcu_dereference, cds_lfht_lookup) order memory with
 * barriers TSan does not model, so a record initialised by one thread and
 * found by another looks like a race. Each publication point releases the
 * published object and each subscription acquires it: the edge RCU
 * guarantees, stated to TSan. Nothing in other builds.
 */
#if defined(__SANITIZE_THREAD__)
#define SIPD_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SIPD_TSAN 1
#endif
#endif

#ifdef SIPD_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define TSAN_ACQUIRE(p) __tsan_acquire((void *)(p))
#define TSAN_RELEASE(p) __tsan_release((void *)(p))
#else
#define TSAN_ACQUIRE(p) ((void)0)
#define TSAN_RELEASE(p) ((void)0)
#endif

#endif
