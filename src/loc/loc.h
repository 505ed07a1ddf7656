/* loc.h: the location table: address-of-record -> contact set, under RCU, with dirty tracking for write-back. */
#ifndef SIPD_LOC_H
#define SIPD_LOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <urcu/urcu-memb.h>

#include "core/slice.h"

/*
 * Readers never lock: an AOR's contacts are an immutable struct loc_set
 * published with rcu_assign_pointer and replaced whole on every change
 * (copy on write), the old one freed after a grace period. Writers of one
 * AOR are serialised by that AOR's mutex; writers of different AORs never
 * meet. The hash table is liburcu's cds_lfht (urcu-memb flavour).
 *
 * Threads: readers (loc_get, loc_foreach) must be registered with
 * urcu_memb_register_thread() and call them inside urcu_memb_read_lock();
 * what they get stays valid until urcu_memb_read_unlock(). Writers
 * (loc_edit, loc_expire, loc_take_dirty) must be registered too and must NOT
 * hold a read lock (they may wait for a grace period).
 */

/* One binding, the columns of Kamailio's location table. Strings point
 * into the set's own storage. */
struct loc_contact {
    struct slice uri;        /* contact */
    struct slice received;
    struct slice path;
    struct slice callid;
    struct slice user_agent;
    struct slice socket;
    struct slice instance;
    struct slice ruid;       /* unique row id */
    time_t expires;          /* absolute, UTC; 0: never (aliases) */
    time_t last_modified;
    int q;                   /* 0..1000 (q=0.5 is 500); 1000 when the phone gave none */
    uint32_t cseq;
    unsigned flags;
    unsigned cflags;
    int methods;             /* -1: unknown */
    int reg_id;
    unsigned server_id;      /* the node that wrote it (Kamailio's server_id) */
};

struct loc_set {
    struct rcu_head rcu;
    struct slice aor;
    unsigned n;
    struct loc_contact c[]; /* sorted: q descending, then newest first */
};

struct loc_table;

/* A table; 'name' ("location", "aliases") is for messages. With
 * track_dirty, changed AORs are queued for loc_take_dirty (write-back). */
int loc_table_new(struct loc_table **tp, const char *name, bool track_dirty);
/* Frees everything. No thread may use the table any more. */
void loc_table_free(struct loc_table *t);

/* Copies n contacts (and their strings) into a new set for aor, sorted.
 * NULL on ENOMEM. */
struct loc_set *loc_set_build(struct slice aor, const struct loc_contact *c, unsigned n);
/* Frees a set that was never published. */
void loc_set_free(struct loc_set *set);

/* The contacts of aor (exact, case-sensitive match), or NULL. Reader. */
const struct loc_set *loc_get(struct loc_table *t, struct slice aor);

/*
 * Changes aor's contacts: fn gets the current set (NULL when none) and
 * returns in *next the replacement (built with loc_set_build; NULL removes
 * the AOR) or leaves *next == old for "no change". A non-zero return from
 * fn is passed through and changes nothing. The AOR is marked dirty when it
 * changed. Writer.
 */
typedef int loc_edit_fn(void *arg, const struct loc_set *old, struct loc_set **next);
int loc_edit(struct loc_table *t, struct slice aor, loc_edit_fn *fn, void *arg);

/* Removes contacts whose expiry is in (0, now]; returns how many. Writer. */
unsigned loc_expire(struct loc_table *t, time_t now);

/*
 * Hands every dirty AOR to fn (with its current set, NULL when it was
 * removed) and clears its dirty mark. shrunk is false when no contact has
 * left the AOR since its last write (and it was not marked again after a
 * failed one): then writing each contact over its row (by ruid) is the
 * whole write, nothing needs deleting. If fn returns non-zero (the database
 * is away) the AOR stays dirty and the walk stops: nothing is lost.
 * Writer; one caller at a time (the flusher).
 */
typedef int loc_dirty_fn(void *arg, struct slice aor, const struct loc_set *set, bool shrunk);
int loc_take_dirty(struct loc_table *t, loc_dirty_fn *fn, void *arg);

/*
 * Marks aor dirty again after its write failed later than loc_take_dirty
 * thought (a batch whose commit failed): the AOR's current set is written
 * by a later flush, or its removal when it is gone. Writer.
 */
int loc_redirty(struct loc_table *t, struct slice aor);

/* Calls fn for each AOR (in no order). Reader. A non-zero return stops. */
typedef int loc_visit_fn(void *arg, const struct loc_set *set);
int loc_foreach(struct loc_table *t, loc_visit_fn *fn, void *arg);

struct loc_counts {
    uint64_t aors;
    uint64_t contacts;
    uint64_t dirty;    /* AORs waiting for write-back */
    uint64_t expired;  /* contacts expired since start */
};
void loc_counts(const struct loc_table *t, struct loc_counts *out);

#endif
