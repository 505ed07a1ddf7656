/* hist.c: the log-linear latency histogram of hist.h. */
#include "hist.h"

#include <string.h>

void hist_init(struct hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

/*
 * Below 2^SUB the index is the value. At or above, with m the position of
 * the top bit and shift = m - SUB + 1, v >> shift lies in [HALF, 2 HALF):
 * index = shift * HALF + (v >> shift). Consecutive powers of two thus take
 * consecutive runs of HALF buckets, starting right after the linear part.
 */
unsigned hist_index(uint64_t ns)
{
    if (ns > HIST_MAX_NS)
        ns = HIST_MAX_NS;
    if (ns < (UINT64_C(1) << HIST_SUB_BITS))
        return (unsigned)ns;
    unsigned top = 63u - (unsigned)__builtin_clzll(ns);
    unsigned shift = top - HIST_SUB_BITS + 1;
    return shift * HIST_HALF + (unsigned)(ns >> shift);
}

uint64_t hist_bucket_high(unsigned index)
{
    if (index < (1u << HIST_SUB_BITS))
        return index;
    unsigned shift = index / HIST_HALF - 1;
    uint64_t sub = index - shift * HIST_HALF;
    return ((sub + 1) << shift) - 1;
}

void hist_record(struct hist *h, uint64_t ns)
{
    if (ns > HIST_MAX_NS)
        ns = HIST_MAX_NS;
    h->buckets[hist_index(ns)]++;
    h->count++;
    if (ns < h->min)
        h->min = ns;
    if (ns > h->max)
        h->max = ns;
    h->sum = h->sum + ns < h->sum ? UINT64_MAX : h->sum + ns;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    dst->sum = dst->sum + src->sum < dst->sum ? UINT64_MAX : dst->sum + src->sum;
}

uint64_t hist_percentile(const struct hist *h, double percentile)
{
    if (h->count == 0)
        return 0;
    if (percentile <= 0)
        return h->min;
    /* the rank of the wanted value, 1-based: ceil(count * p / 100) */
    double want = (double)h->count * percentile / 100.0;
    uint64_t rank = (uint64_t)want;
    if ((double)rank < want)
        rank++;
    if (rank < 1)
        rank = 1;
    if (rank > h->count)
        rank = h->count;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t v = hist_bucket_high(i);
            if (v > h->max)
                v = h->max;
            if (v < h->min)
                v = h->min;
            return v;
        }
    }
    return h->max;
}

double hist_mean(const struct hist *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0.0;
}
