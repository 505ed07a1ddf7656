/* loc_load.c: times ul_db_load of the location table, as usrloc_init does in db_mode 1 and 2. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <urcu/urcu-memb.h>

#include "loc/loc_int.h"
#include "shim_loc.h"

/*
 * usage: loc_load DB_URL [SERVER_ID]
 *
 * Builds the usrloc state that usrloc_init builds for db_mode 2 with
 * use_domain on (a location table with dirty tracking, the database
 * handle with sipd's default timeouts, one connection), then does what
 * usrloc_init does for the location table: ul_db_load, then
 * loc_take_dirty to clear the marks of the rows just read. Prints one
 * line of key=value pairs: rows, load_s (ul_db_load), clear_s
 * (loc_take_dirty), rows_per_s (over both), the memory the table took per
 * contact (rss_B, heap_B; see bench/shim_loc.h), and lookup_ns: the mean
 * of LOOKUPS loc_get calls of loaded AORs in random order (their text
 * copied beforehand, in that order, into one buffer read front to back),
 * which shows what the loaded table costs its readers. Exit 0, or 1 with
 * the reason on stderr.
 *
 * load_s is the SELECT streamed from the server plus one loc_edit per
 * row; this program's own work beyond that is reading the clock twice.
 */

#define LOOKUPS 200000u

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The AORs of the table, for the lookups. */
struct aor_list {
    struct slice *aor;
    size_t n, cap;
};

static int list_aor(void *arg, const struct loc_set *set)
{
    struct aor_list *l = arg;
    if (l->n == l->cap)
        return 1;
    l->aor[l->n++] = set->aor;
    return 0;
}

/* Mean ns of LOOKUPS loc_get calls of random loaded AORs; 0 when the table
 * is empty, negative when out of memory. */
static double time_lookups(struct loc_table *t, uint64_t aors)
{
    struct aor_list l = {calloc(aors ? aors : 1, sizeof(struct slice)), 0, aors};
    char *text = NULL;
    struct slice *keys = NULL;
    double ns = -1;
    uint64_t found = 0, rng = 0x10ad;

    if (!l.aor)
        goto out;
    urcu_memb_read_lock();
    loc_foreach(t, list_aor, &l);
    urcu_memb_read_unlock();
    if (l.n == 0) {
        ns = 0;
        goto out;
    }
    size_t bytes = 0;
    uint32_t *pick = malloc(LOOKUPS * sizeof(*pick));
    keys = malloc(LOOKUPS * sizeof(*keys));
    if (!pick || !keys) {
        free(pick);
        goto out;
    }
    for (unsigned i = 0; i < LOOKUPS; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        pick[i] = (uint32_t)((rng >> 33) % l.n);
        bytes += l.aor[pick[i]].len;
    }
    text = malloc(bytes ? bytes : 1);
    if (!text) {
        free(pick);
        goto out;
    }
    for (unsigned i = 0, at = 0; i < LOOKUPS; i++) {
        struct slice a = l.aor[pick[i]];
        memcpy(text + at, a.p, a.len);
        keys[i] = slice_make(text + at, a.len);
        at += (unsigned)a.len;
    }
    free(pick);
    double t0 = now_s();
    for (unsigned i = 0; i < LOOKUPS; i++) {
        urcu_memb_read_lock();
        found += loc_get(t, keys[i]) != NULL;
        urcu_memb_read_unlock();
    }
    ns = (now_s() - t0) * 1e9 / LOOKUPS;
    if (found != LOOKUPS)
        ns = -1;
out:
    free(text);
    free(keys);
    free(l.aor);
    return ns;
}

static int forget_dirty(void *arg, struct slice aor, const struct loc_set *set, bool shrunk)
{
    (void)arg;
    (void)aor;
    (void)set;
    (void)shrunk;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fputs("usage: loc_load DB_URL [SERVER_ID]\n", stderr);
        return 1;
    }
    struct usrloc ul;
    memset(&ul, 0, sizeof(ul));
    ul.p.db_url = argv[1];
    ul.p.db_mode = DB_MODE_BACK;
    ul.p.use_domain = true;
    ul.server_id = argc == 3 ? (unsigned)strtoul(argv[2], NULL, 10) : 0;
    ul.location.name = "location";
    ul.location.index = 0;

    struct ul_conn conn;
    memset(&conn, 0, sizeof(conn));
    char why[256] = "";
    int status = 1, err;
    struct shim_loc_mem before, after;
    uint64_t rows = 0;

    urcu_memb_register_thread();
    if ((err = loc_table_new(&ul.location.mem, "location", true)) != 0) {
        fprintf(stderr, "loc_load: loc_table_new: %s\n", strerror(err));
        goto out;
    }
    if ((err = db_open(&ul.db, ul.p.db_url, NULL, why, sizeof(why))) != 0) {
        fprintf(stderr, "loc_load: db_open: %s\n", why);
        goto out;
    }
    if ((err = db_conn_new(ul.db, &conn.c)) != 0) {
        fprintf(stderr, "loc_load: db_conn_new: %s\n", strerror(err));
        goto out;
    }
    if (shim_loc_mem_now(&before) != 0) {
        fputs("loc_load: cannot read /proc/self/statm\n", stderr);
        goto out;
    }
    double t0 = now_s();
    err = ul_db_load(&ul, &conn, &ul.location, &rows);
    double t1 = now_s();
    if (err) {
        fprintf(stderr, "loc_load: ul_db_load failed after %.3f s and %llu rows: %s\n", t1 - t0,
                (unsigned long long)rows, strerror(err));
        goto out;
    }
    loc_take_dirty(ul.location.mem, forget_dirty, NULL);
    double t2 = now_s();
    if (shim_loc_mem_now(&after) != 0) {
        fputs("loc_load: cannot read /proc/self/statm\n", stderr);
        goto out;
    }
    struct loc_counts k;
    loc_counts(ul.location.mem, &k);
    double per = k.contacts ? (double)k.contacts : 1.0;
    double lookup_ns = time_lookups(ul.location.mem, k.aors);
    if (lookup_ns < 0) {
        fputs("loc_load: the lookups failed (out of memory, or an AOR not found)\n", stderr);
        goto out;
    }
    printf("rows=%llu aors=%llu contacts=%llu load_s=%.3f clear_s=%.3f rows_per_s=%.0f "
           "rss_B=%.0f heap_B=%.0f lookup_ns=%.0f\n",
           (unsigned long long)rows, (unsigned long long)k.aors, (unsigned long long)k.contacts,
           t1 - t0, t2 - t1, (double)rows / (t2 - t0), (double)(after.rss - before.rss) / per,
           (double)(after.heap - before.heap) / per, lookup_ns);
    status = 0;
out:
    db_conn_free(conn.c);
    db_thread_end();
    db_close(ul.db);
    urcu_memb_barrier();
    loc_table_free(ul.location.mem);
    urcu_memb_unregister_thread();
    return status;
}
