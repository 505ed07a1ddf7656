/* hist.h: a log-linear latency histogram (HDR-like): fixed memory, bounded relative error. */
#ifndef SIPBENCH_HIST_H
#define SIPBENCH_HIST_H

#include <stdint.h>

/*
 * Values are nanoseconds. Below 2^HIST_SUB_BITS a bucket holds one value;
 * above, each power of two is cut into 2^(HIST_SUB_BITS - 1) equal buckets,
 * so a bucket is at most 1/128 of its values wide (under 0.8% error).
 * Values above HIST_MAX_NS (about 18 minutes) are counted as HIST_MAX_NS.
 * min, max and the sum are kept exactly.
 *
 * A histogram belongs to one thread; merge them when the threads are done.
 */
#define HIST_SUB_BITS 8
#define HIST_MAX_BITS 40 /* 2^40 ns */
#define HIST_MAX_NS   ((UINT64_C(1) << HIST_MAX_BITS) - 1)
#define HIST_HALF     (1u << (HIST_SUB_BITS - 1))
#define HIST_BUCKETS  ((HIST_MAX_BITS - HIST_SUB_BITS + 2) * HIST_HALF)

struct hist {
    uint64_t count;
    uint64_t min, max; /* min is UINT64_MAX while empty */
    uint64_t sum;      /* saturates rather than wraps */
    uint64_t buckets[HIST_BUCKETS];
};

/* An empty histogram. */
void hist_init(struct hist *h);
/* Counts one value. */
void hist_record(struct hist *h, uint64_t ns);
/* Adds every count of src into dst. */
void hist_merge(struct hist *dst, const struct hist *src);
/*
 * The smallest recorded value v such that at least 'percentile' percent
 * (0..100) of the values are <= v, up to the bucket's width: the bucket's
 * highest value, never above the exact max. 0 when empty.
 */
uint64_t hist_percentile(const struct hist *h, double percentile);
/* Mean in nanoseconds; 0 when empty. */
double hist_mean(const struct hist *h);

/* Bucket index of a value, and the highest value of a bucket (exposed for tests). */
unsigned hist_index(uint64_t ns);
uint64_t hist_bucket_high(unsigned index);

#endif
