/* shim_loc.h: a plain C face over the location table (src/loc) for the C++ location benchmarks. */
#ifndef SIPD_BENCH_SHIM_LOC_H
#define SIPD_BENCH_SHIM_LOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A location table (no dirty tracking: db_mode 0's table) of n AORs,
 * "user0000042@example.com", each with one contact whose strings have the
 * sizes a phone's REGISTER gives (shim_loc.c says which), plus two
 * precomputed random orders in which to visit the AORs: one over all of
 * them, one over a fixed random 1,024 of them ("hot"). Each order holds
 * SHIM_LOC_ORDER entries whatever n is, so walking it costs the same at
 * every size; the AOR text is formatted from its number on the stack, so
 * the only memory that grows with n is the table's own.
 *
 * Threads: every thread that calls the functions below (except
 * shim_loc_mem_now) first calls shim_loc_thread_enter() and, before it
 * ends, shim_loc_thread_leave() (liburcu registration; loc_edit also
 * queues call_rcu work).
 */
#define SHIM_LOC_ORDER (1u << 20)

struct shim_loc;

void shim_loc_thread_enter(void);
void shim_loc_thread_leave(void);

/* An empty table for n AORs (1..10,000,000) and its visiting orders. 0 or an errno value. */
int shim_loc_new(struct shim_loc **sp, uint32_t n);
/* Inserts the n AORs (loc_edit + loc_set_build, one contact each), then
 * gives liburcu's resize thread time to finish growing the hash table. */
int shim_loc_fill(struct shim_loc *s);
/* Waits for pending call_rcu frees (urcu_memb_barrier), then frees the
 * table. No other thread may use it any more. */
void shim_loc_free(struct shim_loc *s);
uint32_t shim_loc_aors(const struct shim_loc *s);
/* The table's AOR and contact counts (loc_counts). */
void shim_loc_counts(const struct shim_loc *s, uint64_t *aors, uint64_t *contacts);

/*
 * One lookup: the AOR at position i (taken modulo SHIM_LOC_ORDER) of the
 * random order (hot: of the 1,024-AOR order), loc_get inside its own read
 * section, reading the first contact's URI. Returns the URI's length plus
 * its first byte, 0 when the AOR was not found. Reader.
 */
size_t shim_loc_lookup(struct shim_loc *s, uint32_t i, bool hot);

/*
 * One re-REGISTER's table work: loc_edit replaces the AOR's set by a new
 * one-contact set built with loc_set_build (old set freed by call_rcu).
 * The AOR is the one at position i of the random order, moved to the
 * nearest one whose number is lane modulo lanes, so that lanes (threads)
 * never write the same AOR. The contact's strings are fixed, realistic
 * sizes; cseq is seq. 0 or an errno value. Writer (no read section held).
 */
int shim_loc_save(struct shim_loc *s, uint32_t i, unsigned lane, unsigned lanes, uint32_t seq);

/* Process memory now: resident set (/proc/self/statm) and bytes malloc
 * has handed out (mallinfo2: in use from the arenas plus mmapped chunks). */
struct shim_loc_mem {
    uint64_t rss;
    uint64_t heap;
};
int shim_loc_mem_now(struct shim_loc_mem *m);

/*
 * The comparison point for lookups: a chain of dependent loads through a
 * buffer of 'bytes' (malloc'd, so the same 4 KiB pages as the table), one
 * 64-byte node per cache line, visited in one random cycle. Each hop is a
 * cache miss (and, past what the TLB covers, a page walk) once the buffer
 * is larger than the caches: the cost of one pointer the table follows.
 */
struct shim_chase;
int shim_chase_new(struct shim_chase **cp, size_t bytes);
/* Follows 'hops' pointers from where the last call stopped; returns the
 * node reached (so that the loads cannot be dropped). */
const void *shim_chase_run(struct shim_chase *c, unsigned hops);
void shim_chase_free(struct shim_chase *c);

/* The string bytes shim_loc_fill handed to loc_set_build, AORs included,
 * summed over all AORs: what the table must hold at the very least. */
uint64_t shim_loc_string_bytes(const struct shim_loc *s);

#ifdef __cplusplus
}
#endif

#endif
