/* shim_loc.c: the location benchmarks' C side: filled tables, random orders, a lookup, a save. */
#include "shim_loc.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <urcu/urcu-memb.h>

#include "loc/loc.h"

/*
 * The contact every AOR gets, sized as a desk phone's REGISTER to sipd's
 * registrar makes it (src/loc/registrar.c fills the same fields):
 *   AOR         user0000042@example.com                        23 bytes
 *   contact     sip:user0000042@198.51.100.43:5060;ob          37 to 39
 *   Call-ID     24 hex digits + 4 + "@192.0.2.N"               37 to 39
 *   User-Agent  one of three real-looking ones                 26 or 27
 *   ruid        uloc-1-<8 hex>-<16 hex>, as the registrar's    32
 *   socket      udp:127.0.0.1:5060                             18
 * received, path and instance stay absent (no NAT, no Path, no outbound).
 * Every AOR's strings differ, as they would.
 */

#define AOR_LEN  23 /* "user" + 7 digits + "@example.com" */
#define HOT_AORS 1024u

static const char *const user_agents[3] = {
    "Yealink SIP-T46S 66.86.0.15",
    "Grandstream GXP2170 1.0.11",
    "Linphone/5.2.5 (belle-sip)",
};

struct shim_loc {
    struct loc_table *table;
    uint32_t n;
    uint32_t *order; /* SHIM_LOC_ORDER random AOR numbers in [0, n) */
    uint32_t *hot;   /* SHIM_LOC_ORDER picks among HOT_AORS random AOR numbers */
    uint64_t string_bytes;
};

void shim_loc_thread_enter(void)
{
    urcu_memb_register_thread();
}

void shim_loc_thread_leave(void)
{
    urcu_memb_unregister_thread();
}

/* splitmix64: a small, good generator; only used before timing. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* "user%07u@example.com" without snprintf: a few ns, the same at every n. */
static struct slice aor_text(char buf[AOR_LEN], uint32_t number)
{
    memcpy(buf, "user", 4);
    for (int d = 10; d >= 4; d--) {
        buf[d] = (char)('0' + number % 10);
        number /= 10;
    }
    memcpy(buf + 11, "@example.com", 12);
    return slice_make(buf, AOR_LEN);
}

int shim_loc_new(struct shim_loc **sp, uint32_t n)
{
    if (n == 0 || n > 10000000)
        return EINVAL;
    struct shim_loc *s = calloc(1, sizeof(*s));
    if (!s)
        return ENOMEM;
    s->n = n;
    s->order = malloc(SHIM_LOC_ORDER * sizeof(*s->order));
    s->hot = malloc(SHIM_LOC_ORDER * sizeof(*s->hot));
    if (!s->order || !s->hot || loc_table_new(&s->table, "location", false) != 0) {
        free(s->order);
        free(s->hot);
        free(s);
        return ENOMEM;
    }
    uint64_t rng = 0x5eed0000u + n;
    uint32_t hot_set[HOT_AORS];
    for (unsigned i = 0; i < HOT_AORS; i++)
        hot_set[i] = (uint32_t)(next_random(&rng) % n);
    for (uint32_t i = 0; i < SHIM_LOC_ORDER; i++) {
        s->order[i] = (uint32_t)(next_random(&rng) % n);
        s->hot[i] = hot_set[next_random(&rng) % HOT_AORS];
    }
    *sp = s;
    return 0;
}

struct set_arg {
    struct slice aor;
    const struct loc_contact *k;
};

/* loc_edit callback: the AOR's set becomes one contact, whatever it was. */
static int replace_set(void *arg, const struct loc_set *old, struct loc_set **next)
{
    const struct set_arg *a = arg;
    (void)old;
    *next = loc_set_build(a->aor, a->k, 1);
    return *next ? 0 : ENOMEM;
}

static size_t contact_string_bytes(const struct loc_contact *k)
{
    return k->uri.len + k->received.len + k->path.len + k->callid.len + k->user_agent.len +
           k->socket.len + k->instance.len + k->ruid.len;
}

int shim_loc_fill(struct shim_loc *s)
{
    char aor[AOR_LEN], uri[64], callid[64], ruid[48];
    time_t now = time(NULL);
    uint64_t rng = 0xca11u;

    for (uint32_t u = 0; u < s->n; u++) {
        uint64_t r = next_random(&rng);
        int ul = snprintf(uri, sizeof(uri), "sip:user%07u@198.51.100.%u:5060;ob", u,
                          (unsigned)(r % 254) + 1);
        int cl = snprintf(callid, sizeof(callid), "%08x%08x%08x%04x@192.0.2.%u",
                          (unsigned)(r >> 32), (unsigned)r, (unsigned)(r >> 16) ^ u,
                          (unsigned)(r >> 48), (unsigned)(r >> 8) % 254 + 1);
        int rl = snprintf(ruid, sizeof(ruid), "uloc-1-%08lx-%016llx", (unsigned long)now,
                          (unsigned long long)u);
        if (ul <= 0 || cl <= 0 || rl <= 0)
            return EINVAL;
        struct loc_contact k = {
            .uri = slice_make(uri, (size_t)ul),
            .callid = slice_make(callid, (size_t)cl),
            .user_agent = slice_from_str(user_agents[u % 3]),
            .socket = SLICE_LIT("udp:127.0.0.1:5060"),
            .ruid = slice_make(ruid, (size_t)rl),
            .expires = now + 3600,
            .last_modified = now,
            .q = 1000,
            .cseq = (uint32_t)(r % 1000) + 1,
            .methods = -1,
        };
        struct set_arg a = {aor_text(aor, u), &k};
        int err = loc_edit(s->table, a.aor, replace_set, &a);
        if (err)
            return err;
        s->string_bytes += AOR_LEN + contact_string_bytes(&k);
    }
    /* The hash table grows in liburcu's resize thread, some time after the
     * insert that crossed a threshold: let it finish before anything is
     * timed or measured. */
    urcu_memb_barrier();
    struct timespec settle = {0, 300 * 1000 * 1000};
    nanosleep(&settle, NULL);
    return 0;
}

void shim_loc_free(struct shim_loc *s)
{
    if (!s)
        return;
    urcu_memb_barrier(); /* frees queued by saves */
    loc_table_free(s->table);
    free(s->order);
    free(s->hot);
    free(s);
}

uint32_t shim_loc_aors(const struct shim_loc *s)
{
    return s->n;
}

void shim_loc_counts(const struct shim_loc *s, uint64_t *aors, uint64_t *contacts)
{
    struct loc_counts k;
    loc_counts(s->table, &k);
    *aors = k.aors;
    *contacts = k.contacts;
}

uint64_t shim_loc_string_bytes(const struct shim_loc *s)
{
    return s->string_bytes;
}

size_t shim_loc_lookup(struct shim_loc *s, uint32_t i, bool hot)
{
    char buf[AOR_LEN];
    const uint32_t *order = hot ? s->hot : s->order;
    struct slice aor = aor_text(buf, order[i & (SHIM_LOC_ORDER - 1)]);
    size_t found = 0;

    urcu_memb_read_lock();
    const struct loc_set *set = loc_get(s->table, aor);
    if (set && set->n)
        found = set->c[0].uri.len + (unsigned char)set->c[0].uri.p[0];
    urcu_memb_read_unlock();
    return found;
}

int shim_loc_save(struct shim_loc *s, uint32_t i, unsigned lane, unsigned lanes, uint32_t seq)
{
    char buf[AOR_LEN];
    uint32_t number = s->order[i & (SHIM_LOC_ORDER - 1)];
    number = number - number % lanes + lane;
    if (number >= s->n)
        number -= lanes;
    time_t now = time(NULL);
    /* The registrar copies these from the parsed message; their sizes are
     * the fill's, their text needs no formatting here. */
    struct loc_contact k = {
        .uri = SLICE_LIT("sip:user0000042@198.51.100.43:5060;ob"),
        .callid = SLICE_LIT("3b2f1c0a9e8d7c6b5a493827e1f0@192.0.2.17"),
        .user_agent = SLICE_LIT("Yealink SIP-T46S 66.86.0.15"),
        .socket = SLICE_LIT("udp:127.0.0.1:5060"),
        .ruid = SLICE_LIT("uloc-1-692a3f10-00000000000f4240"),
        .expires = now + 3600,
        .last_modified = now,
        .q = 1000,
        .cseq = seq,
        .methods = -1,
    };
    struct set_arg a = {aor_text(buf, number), &k};
    return loc_edit(s->table, a.aor, replace_set, &a);
}

int shim_loc_mem_now(struct shim_loc_mem *m)
{
    unsigned long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return errno;
    int got = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    if (got != 2)
        return EIO;
    m->rss = (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
    struct mallinfo2 mi = mallinfo2();
    m->heap = (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
    return 0;
}

struct chase_node {
    struct chase_node *next;
    char pad[64 - sizeof(struct chase_node *)];
};

struct shim_chase {
    struct chase_node *nodes;
    struct chase_node *at;
};

int shim_chase_new(struct shim_chase **cp, size_t bytes)
{
    size_t n = bytes / sizeof(struct chase_node);
    if (n < 2)
        return EINVAL;
    struct shim_chase *c = calloc(1, sizeof(*c));
    uint32_t *perm = malloc(n * sizeof(*perm));
    if (c)
        c->nodes = aligned_alloc(64, n * sizeof(struct chase_node));
    if (!c || !c->nodes || !perm || n > UINT32_MAX) {
        if (c)
            free(c->nodes);
        free(c);
        free(perm);
        return ENOMEM;
    }
    /* Sattolo's shuffle: one cycle through all n nodes */
    uint64_t rng = 0xc4a5e;
    for (size_t i = 0; i < n; i++)
        perm[i] = (uint32_t)i;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)(next_random(&rng) % i);
        uint32_t tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
    for (size_t i = 0; i < n; i++)
        c->nodes[perm[i]].next = &c->nodes[perm[(i + 1) % n]];
    free(perm);
    c->at = &c->nodes[0];
    *cp = c;
    return 0;
}

const void *shim_chase_run(struct shim_chase *c, unsigned hops)
{
    struct chase_node *p = c->at;
    for (unsigned i = 0; i < hops; i++)
        p = p->next;
    c->at = p;
    return p;
}

void shim_chase_free(struct shim_chase *c)
{
    if (!c)
        return;
    free(c->nodes);
    free(c);
}
