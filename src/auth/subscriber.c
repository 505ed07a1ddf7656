/* subscriber.c: the subscriber cache: (username, realm) -> HA1s under RCU, with negative entries. */
#include "auth/auth.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/rculfhash.h>
#include <urcu/urcu-memb.h>

#include "core/hash.h"
#include "core/tsan.h"

/*
 * Entries are immutable: a put inserts a new one with cds_lfht_add_replace
 * and frees the old after a grace period. The key is "username\0realm".
 */
struct sub_entry {
    struct cds_lfht_node node;
    struct rcu_head rcu;
    time_t until;
    struct sub_ha1 v;
    size_t user_len;
    size_t key_len;
    char key[];
};

struct sub_cache {
    struct cds_lfht *ht;
    _Atomic unsigned long puts;    /* new keys inserted, for the explicit resizes (see usrloc.c) */
    _Atomic unsigned long entries; /* live entries, for stats without walking the table */
};

struct key {
    const char *p;
    size_t len;
};

static unsigned long hash_key(struct key k)
{
    uint64_t h = hash_fnv1a(HASH_FNV1A_INIT, k.p, k.len);
    return (unsigned long)(h ^ (h >> 31));
}

static int match(struct cds_lfht_node *node, const void *key)
{
    const struct sub_entry *e = caa_container_of(node, struct sub_entry, node);
    const struct key *k = key;
    return e->key_len == k->len && memcmp(e->key, k->p, k->len) == 0;
}

int sub_cache_new(struct sub_cache **cp)
{
    struct sub_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return ENOMEM;
    c->ht = cds_lfht_new_flavor(1024, 1024, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING,
                                &urcu_memb_flavor, NULL);
    if (!c->ht) {
        free(c);
        return ENOMEM;
    }
    *cp = c;
    return 0;
}

static void free_entry_rcu(struct rcu_head *h)
{
    free(caa_container_of(h, struct sub_entry, rcu));
}

void sub_cache_free(struct sub_cache *c)
{
    struct cds_lfht_iter it;
    struct cds_lfht_node *n;

    if (!c)
        return;
    urcu_memb_barrier();
    urcu_memb_read_lock();
    cds_lfht_for_each(c->ht, &it, n)
    {
        cds_lfht_del(c->ht, n);
        free(caa_container_of(n, struct sub_entry, node));
    }
    urcu_memb_read_unlock();
    cds_lfht_destroy(c->ht, NULL);
    free(c);
}

/* "user\0realm" into buf. */
static struct key make_key(struct slice user, struct slice realm, char *buf, size_t cap)
{
    if (user.len + 1 + realm.len > cap)
        return (struct key){NULL, 0};
    memcpy(buf, user.p, user.len);
    buf[user.len] = '\0';
    memcpy(buf + user.len + 1, realm.p, realm.len);
    return (struct key){buf, user.len + 1 + realm.len};
}

int sub_cache_get(struct sub_cache *c, struct slice user, struct slice realm, time_t now,
                  struct sub_ha1 *out)
{
    char buf[512];
    struct key k = make_key(user, realm, buf, sizeof(buf));
    struct cds_lfht_iter it;
    int ret = ENOENT;

    if (!k.p)
        return ENOENT;
    urcu_memb_read_lock();
    cds_lfht_lookup(c->ht, hash_key(k), match, &k, &it);
    struct cds_lfht_node *n = cds_lfht_iter_get_node(&it);
    if (n) {
        TSAN_ACQUIRE(n);
        const struct sub_entry *e = caa_container_of(n, struct sub_entry, node);
        if (e->until > now) {
            *out = e->v;
            ret = 0;
        }
    }
    urcu_memb_read_unlock();
    return ret;
}

int sub_cache_put(struct sub_cache *c, struct slice user, struct slice realm,
                  const struct sub_ha1 *v, time_t until)
{
    char buf[512];
    struct key k = make_key(user, realm, buf, sizeof(buf));
    if (!k.p)
        return EINVAL;
    struct sub_entry *e = malloc(sizeof(*e) + k.len);
    if (!e)
        return ENOMEM;
    cds_lfht_node_init(&e->node);
    e->until = until;
    e->v = *v;
    e->user_len = user.len;
    e->key_len = k.len;
    memcpy(e->key, k.p, k.len);
    TSAN_RELEASE(&e->node);
    urcu_memb_read_lock();
    struct cds_lfht_node *old = cds_lfht_add_replace(c->ht, hash_key(k), match, &k, &e->node);
    urcu_memb_read_unlock();
    if (old) {
        urcu_memb_call_rcu(&caa_container_of(old, struct sub_entry, node)->rcu, free_entry_rcu);
    } else {
        /* liburcu 0.13's automatic resize can stall (see src/loc/usrloc.c):
         * grow at each power of two of the inserts ourselves */
        atomic_fetch_add_explicit(&c->entries, 1, memory_order_relaxed);
        unsigned long n = atomic_fetch_add_explicit(&c->puts, 1, memory_order_relaxed) + 1;
        if (n >= 4096 && (n & (n - 1)) == 0)
            cds_lfht_resize(c->ht, n);
    }
    return 0;
}

unsigned sub_cache_invalidate(struct sub_cache *c, struct slice user, struct slice domain)
{
    struct cds_lfht_iter it;
    struct cds_lfht_node *n;
    unsigned removed = 0;

    urcu_memb_read_lock();
    cds_lfht_for_each(c->ht, &it, n)
    {
        TSAN_ACQUIRE(n);
        struct sub_entry *e = caa_container_of(n, struct sub_entry, node);
        if (e->user_len != user.len || memcmp(e->key, user.p, user.len) != 0)
            continue;
        struct slice realm = slice_make(e->key + e->user_len + 1, e->key_len - e->user_len - 1);
        if (domain.p && !slice_caseeq(realm, domain))
            continue;
        if (cds_lfht_del(c->ht, n) == 0) {
            urcu_memb_call_rcu(&e->rcu, free_entry_rcu);
            atomic_fetch_sub_explicit(&c->entries, 1, memory_order_relaxed);
            removed++;
        }
    }
    urcu_memb_read_unlock();
    return removed;
}

unsigned long sub_cache_count(struct sub_cache *c)
{
    /* a counter, not a walk: the control thread asks, and it is no RCU reader */
    return atomic_load_explicit(&c->entries, memory_order_relaxed);
}
