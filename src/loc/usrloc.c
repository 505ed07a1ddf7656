/* usrloc.c: the location table: cds_lfht of per-AOR records holding RCU-published contact sets. */
#include "loc/loc.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/rculfhash.h>

#include "core/hash.h"
#include "core/tsan.h"

/*
 * Design. Each AOR is a record in the hash table. The record never moves
 * and holds: a mutex that serialises the AOR's writers, the pointer to its
 * current contact set (RCU-published, immutable), and its dirty state.
 *
 * A reader looks the record up and dereferences the set, both inside its
 * read section: no lock, no atomic read-modify-write, no shared cache line
 * written. A writer takes the record's mutex (found or inserted with
 * cds_lfht_add_unique, so two writers creating one AOR agree on one
 * record), builds the new set, publishes it, and frees the old one with
 * call_rcu. When the last contact goes, the record leaves the table under
 * its mutex and is marked dead; a writer that finds a dead record after
 * waiting for its mutex starts again (and creates a fresh record).
 *
 * Write-back: a changed AOR is appended once to the table's FIFO of dirty
 * records; the flusher (loc_take_dirty) writes each one's current set. A
 * dead record stays alive while it is on that list, so its removal reaches
 * the database; FIFO order makes a dead record's delete come before the
 * insert of a record that replaced it.
 */

struct loc_rec {
    struct cds_lfht_node node;
    struct rcu_head rcu;
    pthread_mutex_t lock;
    struct loc_set *set; /* RCU-published; changed under lock */
    struct loc_rec *dirty_next;
    bool dead;           /* under lock */
    bool dirty;          /* under lock: on the dirty list */
    bool shrunk;         /* under lock: a contact left since the last write */
    unsigned long hash;
    size_t aor_len;
    char aor[];
};

struct loc_table {
    struct cds_lfht *ht;
    char name[32];
    bool track_dirty;
    pthread_mutex_t dirty_lock; /* the dirty FIFO */
    struct loc_rec *dirty_head, *dirty_tail;
    _Atomic uint64_t aors, contacts, dirty, expired;
};

static unsigned long hash_aor(struct slice aor)
{
    uint64_t h = hash_fnv1a(HASH_FNV1A_INIT, aor.p, aor.len);
    return (unsigned long)(h ^ (h >> 29));
}

static int match(struct cds_lfht_node *node, const void *key)
{
    const struct loc_rec *r = caa_container_of(node, struct loc_rec, node);
    const struct slice *aor = key;
    return r->aor_len == aor->len && memcmp(r->aor, aor->p, aor->len) == 0;
}

int loc_table_new(struct loc_table **tp, const char *name, bool track_dirty)
{
    struct loc_table *t = calloc(1, sizeof(*t));
    if (!t)
        return ENOMEM;
    t->ht = cds_lfht_new_flavor(1024, 1024, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING,
                                &urcu_memb_flavor, NULL);
    if (!t->ht) {
        free(t);
        return ENOMEM;
    }
    strncpy(t->name, name, sizeof(t->name) - 1);
    t->track_dirty = track_dirty;
    pthread_mutex_init(&t->dirty_lock, NULL);
    *tp = t;
    return 0;
}

static void free_rec_now(struct loc_rec *r)
{
    free(r->set);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

void loc_table_free(struct loc_table *t)
{
    struct cds_lfht_iter it;
    struct cds_lfht_node *n;

    if (!t)
        return;
    /* wait for call_rcu frees queued by writers, then free what is left */
    urcu_memb_barrier();
    urcu_memb_read_lock();
    cds_lfht_first(t->ht, &it);
    while ((n = cds_lfht_iter_get_node(&it)) != NULL) {
        struct loc_rec *r = caa_container_of(n, struct loc_rec, node);
        cds_lfht_next(t->ht, &it);
        cds_lfht_del(t->ht, n);
        if (!r->dirty)
            free_rec_now(r);
    }
    urcu_memb_read_unlock();
    for (struct loc_rec *r = t->dirty_head; r;) {
        struct loc_rec *next = r->dirty_next;
        free_rec_now(r);
        r = next;
    }
    cds_lfht_destroy(t->ht, NULL);
    pthread_mutex_destroy(&t->dirty_lock);
    free(t);
}

static int by_q_then_newest(const void *a, const void *b)
{
    const struct loc_contact *x = a, *y = b;
    if (x->q != y->q)
        return x->q > y->q ? -1 : 1;
    if (x->last_modified != y->last_modified)
        return x->last_modified > y->last_modified ? -1 : 1;
    return 0;
}

static size_t contact_strings(const struct loc_contact *c)
{
    return c->uri.len + c->received.len + c->path.len + c->callid.len + c->user_agent.len +
           c->socket.len + c->instance.len + c->ruid.len;
}

static struct slice copy_into(char **dst, struct slice s)
{
    if (!s.p)
        return SLICE_NULL;
    struct slice out = slice_make(*dst, s.len);
    if (s.len)
        memcpy(*dst, s.p, s.len);
    *dst += s.len;
    return out;
}

struct loc_set *loc_set_build(struct slice aor, const struct loc_contact *c, unsigned n)
{
    size_t strings = aor.len;
    for (unsigned i = 0; i < n; i++)
        strings += contact_strings(&c[i]);
    struct loc_set *s = malloc(sizeof(*s) + n * sizeof(s->c[0]) + strings);
    if (!s)
        return NULL;
    char *p = (char *)&s->c[n];
    s->n = n;
    s->aor = copy_into(&p, aor);
    for (unsigned i = 0; i < n; i++) {
        struct loc_contact *d = &s->c[i];
        *d = c[i];
        d->uri = copy_into(&p, c[i].uri);
        d->received = copy_into(&p, c[i].received);
        d->path = copy_into(&p, c[i].path);
        d->callid = copy_into(&p, c[i].callid);
        d->user_agent = copy_into(&p, c[i].user_agent);
        d->socket = copy_into(&p, c[i].socket);
        d->instance = copy_into(&p, c[i].instance);
        d->ruid = copy_into(&p, c[i].ruid);
    }
    if (n > 1)
        qsort(s->c, n, sizeof(s->c[0]), by_q_then_newest);
    return s;
}

void loc_set_free(struct loc_set *set)
{
    free(set);
}

static void free_set_rcu(struct rcu_head *h)
{
    free(caa_container_of(h, struct loc_set, rcu));
}

static void free_rec_rcu(struct rcu_head *h)
{
    free_rec_now(caa_container_of(h, struct loc_rec, rcu));
}

static struct loc_rec *lookup(struct loc_table *t, struct slice aor, unsigned long hash)
{
    struct cds_lfht_iter it;
    cds_lfht_lookup(t->ht, hash, match, &aor, &it);
    struct cds_lfht_node *n = cds_lfht_iter_get_node(&it);
    if (!n)
        return NULL;
    TSAN_ACQUIRE(n); /* published by cds_lfht_add_unique */
    return caa_container_of(n, struct loc_rec, node);
}

static const struct loc_set *deref_set(struct loc_rec *r)
{
    const struct loc_set *s = rcu_dereference(r->set);
    if (s)
        TSAN_ACQUIRE(s); /* published by rcu_assign_pointer */
    return s;
}

const struct loc_set *loc_get(struct loc_table *t, struct slice aor)
{
    struct loc_rec *r = lookup(t, aor, hash_aor(aor));
    return r ? deref_set(r) : NULL;
}

static void mark_dirty(struct loc_table *t, struct loc_rec *r)
{
    if (!t->track_dirty || r->dirty)
        return;
    r->dirty = true;
    r->dirty_next = NULL;
    pthread_mutex_lock(&t->dirty_lock);
    if (t->dirty_tail)
        t->dirty_tail->dirty_next = r;
    else
        t->dirty_head = r;
    t->dirty_tail = r;
    pthread_mutex_unlock(&t->dirty_lock);
    atomic_fetch_add_explicit(&t->dirty, 1, memory_order_relaxed);
}

/* Finds or creates aor's record and returns it locked and alive. */
static struct loc_rec *lock_rec(struct loc_table *t, struct slice aor, int *err)
{
    unsigned long hash = hash_aor(aor);

    for (;;) {
        urcu_memb_read_lock();
        struct loc_rec *r = lookup(t, aor, hash);
        if (r) {
            /* the record's memory outlives this read section's wait */
            pthread_mutex_lock(&r->lock);
            urcu_memb_read_unlock();
            if (!r->dead)
                return r;
            pthread_mutex_unlock(&r->lock);
            continue; /* removed while we waited: look again */
        }
        urcu_memb_read_unlock();
        struct loc_rec *fresh = calloc(1, sizeof(*fresh) + aor.len);
        if (!fresh) {
            *err = ENOMEM;
            return NULL;
        }
        pthread_mutex_init(&fresh->lock, NULL);
        cds_lfht_node_init(&fresh->node);
        fresh->hash = hash;
        fresh->aor_len = aor.len;
        memcpy(fresh->aor, aor.p, aor.len);
        pthread_mutex_lock(&fresh->lock);
        urcu_memb_read_lock();
        TSAN_RELEASE(&fresh->node);
        struct cds_lfht_node *got = cds_lfht_add_unique(t->ht, hash, match, &aor, &fresh->node);
        urcu_memb_read_unlock();
        if (got == &fresh->node) {
            uint64_t n = atomic_fetch_add_explicit(&t->aors, 1, memory_order_relaxed) + 1;
            /* liburcu 0.13's automatic resize can stall for good: the
             * insert that starts one sets its "resize initiated" flag after
             * queueing the work, and a worker that finished first leaves the
             * flag set, so the table stays at a few thousand buckets and a
             * million AORs sit in long chains (found by bench_loc: lookups
             * 80 us instead of 1 us). Growing it ourselves at each power of
             * two clears the flag and keeps chains short. */
            if (n >= 4096 && (n & (n - 1)) == 0)
                cds_lfht_resize(t->ht, (unsigned long)n);
            return fresh;
        }
        pthread_mutex_unlock(&fresh->lock);
        free_rec_now(fresh); /* another writer inserted it first; never visible */
    }
}

/* Whether a contact of old (by ruid) is missing from next. */
static bool lost_contact(const struct loc_set *old, const struct loc_set *next)
{
    if (!old)
        return false;
    if (!next)
        return old->n > 0;
    for (unsigned i = 0; i < old->n; i++) {
        unsigned j = 0;
        while (j < next->n && !slice_eq(next->c[j].ruid, old->c[i].ruid))
            j++;
        if (j == next->n)
            return true;
    }
    return false;
}

int loc_edit(struct loc_table *t, struct slice aor, loc_edit_fn *fn, void *arg)
{
    int err = 0;
    struct loc_rec *r = lock_rec(t, aor, &err);
    if (!r)
        return err;
    struct loc_set *old = r->set, *next = old;
    err = fn(arg, old, &next);
    if (err)
        next = old;
    if (next != old) {
        if (next)
            TSAN_RELEASE(next);
        rcu_assign_pointer(r->set, next);
        int64_t delta = (int64_t)(next ? next->n : 0) - (int64_t)(old ? old->n : 0);
        atomic_fetch_add_explicit(&t->contacts, (uint64_t)delta, memory_order_relaxed);
        if (t->track_dirty && lost_contact(old, next))
            r->shrunk = true;
        mark_dirty(t, r);
    }
    bool free_rec = false;
    if (!r->set) {
        /* no contacts left (or a fresh record that got none): leave the table */
        urcu_memb_read_lock();
        cds_lfht_del(t->ht, &r->node);
        urcu_memb_read_unlock();
        r->dead = true;
        atomic_fetch_sub_explicit(&t->aors, 1, memory_order_relaxed);
        free_rec = !r->dirty; /* a dirty one is freed by the flusher */
    }
    pthread_mutex_unlock(&r->lock);
    if (old && next != old)
        urcu_memb_call_rcu(&old->rcu, free_set_rcu);
    if (free_rec)
        urcu_memb_call_rcu(&r->rcu, free_rec_rcu);
    return err;
}

struct expire_arg {
    time_t now;
    unsigned removed;
};

static int expire_one(void *arg, const struct loc_set *old, struct loc_set **next)
{
    struct expire_arg *ea = arg;
    if (!old)
        return 0;
    struct loc_contact keep[old->n ? old->n : 1];
    unsigned n = 0;
    for (unsigned i = 0; i < old->n; i++)
        if (old->c[i].expires == 0 || old->c[i].expires > ea->now)
            keep[n++] = old->c[i];
    if (n == old->n)
        return 0;
    ea->removed += old->n - n;
    if (n == 0) {
        *next = NULL;
        return 0;
    }
    *next = loc_set_build(old->aor, keep, n);
    return *next ? 0 : ENOMEM;
}

static bool has_expired(const struct loc_set *s, time_t now)
{
    for (unsigned i = 0; s && i < s->n; i++)
        if (s->c[i].expires != 0 && s->c[i].expires <= now)
            return true;
    return false;
}

unsigned loc_expire(struct loc_table *t, time_t now)
{
    struct cds_lfht_iter it;
    struct cds_lfht_node *n;
    struct expire_arg ea = {now, 0};

    /* Collect the AORs to touch under a read section, then edit each
     * outside it (an edit may wait for the record's mutex). */
    size_t cap = 64, count = 0;
    char **aors = malloc(cap * sizeof(*aors));
    size_t *lens = malloc(cap * sizeof(*lens));
    if (!aors || !lens) {
        free(aors);
        free(lens);
        return 0;
    }
    urcu_memb_read_lock();
    cds_lfht_for_each(t->ht, &it, n)
    {
        TSAN_ACQUIRE(n);
        struct loc_rec *r = caa_container_of(n, struct loc_rec, node);
        if (!has_expired(deref_set(r), now))
            continue;
        if (count == cap) {
            char **a2 = realloc(aors, cap * 2 * sizeof(*aors));
            size_t *l2 = a2 ? realloc(lens, cap * 2 * sizeof(*lens)) : NULL;
            if (!a2 || !l2) {
                aors = a2 ? a2 : aors;
                break;
            }
            aors = a2;
            lens = l2;
            cap *= 2;
        }
        aors[count] = malloc(r->aor_len ? r->aor_len : 1);
        if (!aors[count])
            break;
        memcpy(aors[count], r->aor, r->aor_len);
        lens[count] = r->aor_len;
        count++;
    }
    urcu_memb_read_unlock();
    for (size_t i = 0; i < count; i++) {
        loc_edit(t, slice_make(aors[i], lens[i]), expire_one, &ea);
        free(aors[i]);
    }
    free(aors);
    free(lens);
    atomic_fetch_add_explicit(&t->expired, ea.removed, memory_order_relaxed);
    return ea.removed;
}

int loc_take_dirty(struct loc_table *t, loc_dirty_fn *fn, void *arg)
{
    pthread_mutex_lock(&t->dirty_lock);
    struct loc_rec *list = t->dirty_head;
    t->dirty_head = t->dirty_tail = NULL;
    pthread_mutex_unlock(&t->dirty_lock);

    while (list) {
        struct loc_rec *r = list;
        pthread_mutex_lock(&r->lock);
        int ret = fn(arg, slice_make(r->aor, r->aor_len), r->set, r->shrunk || r->dead);
        if (ret) {
            /* put the rest back in front, in order: later edits appended
             * meanwhile stay behind them */
            pthread_mutex_unlock(&r->lock);
            pthread_mutex_lock(&t->dirty_lock);
            struct loc_rec *last = list;
            while (last->dirty_next)
                last = last->dirty_next;
            last->dirty_next = t->dirty_head;
            if (!t->dirty_head)
                t->dirty_tail = last;
            t->dirty_head = list;
            pthread_mutex_unlock(&t->dirty_lock);
            return ret;
        }
        list = r->dirty_next;
        r->dirty = false;
        r->shrunk = false;
        r->dirty_next = NULL;
        bool dead = r->dead;
        pthread_mutex_unlock(&r->lock);
        atomic_fetch_sub_explicit(&t->dirty, 1, memory_order_relaxed);
        if (dead)
            urcu_memb_call_rcu(&r->rcu, free_rec_rcu);
    }
    return 0;
}

int loc_redirty(struct loc_table *t, struct slice aor)
{
    unsigned long hash = hash_aor(aor);

    if (!t->track_dirty)
        return 0;
    urcu_memb_read_lock();
    struct loc_rec *r = lookup(t, aor, hash);
    if (r) {
        pthread_mutex_lock(&r->lock);
        urcu_memb_read_unlock();
        if (!r->dead) {
            r->shrunk = true; /* what reached the database is unknown: rewrite it whole */
            mark_dirty(t, r);
            pthread_mutex_unlock(&r->lock);
            return 0;
        }
        pthread_mutex_unlock(&r->lock);
    } else {
        urcu_memb_read_unlock();
    }
    /* gone from the table: a tombstone on the dirty list carries the
     * removal to the database (FIFO: before any newer record of the AOR) */
    struct loc_rec *tomb = calloc(1, sizeof(*tomb) + aor.len);
    if (!tomb)
        return ENOMEM;
    pthread_mutex_init(&tomb->lock, NULL);
    tomb->hash = hash;
    tomb->aor_len = aor.len;
    memcpy(tomb->aor, aor.p, aor.len);
    tomb->dead = true;
    pthread_mutex_lock(&tomb->lock);
    mark_dirty(t, tomb);
    pthread_mutex_unlock(&tomb->lock);
    return 0;
}

int loc_foreach(struct loc_table *t, loc_visit_fn *fn, void *arg)
{
    struct cds_lfht_iter it;
    struct cds_lfht_node *n;

    cds_lfht_for_each(t->ht, &it, n)
    {
        TSAN_ACQUIRE(n);
        struct loc_rec *r = caa_container_of(n, struct loc_rec, node);
        const struct loc_set *s = deref_set(r);
        if (!s)
            continue;
        int ret = fn(arg, s);
        if (ret)
            return ret;
    }
    return 0;
}

void loc_counts(const struct loc_table *t, struct loc_counts *out)
{
    out->aors = atomic_load_explicit(&t->aors, memory_order_relaxed);
    out->contacts = atomic_load_explicit(&t->contacts, memory_order_relaxed);
    out->dirty = atomic_load_explicit(&t->dirty, memory_order_relaxed);
    out->expired = atomic_load_explicit(&t->expired, memory_order_relaxed);
}
