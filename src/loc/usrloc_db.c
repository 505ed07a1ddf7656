/* usrloc_db.c: the SQL of the location and aliases tables (Kamailio's schema), write-back and loading. */
#include "loc/loc_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

/*
 * Each AOR is written whole: its rows of this node (server_id) are deleted
 * and its current contacts inserted, in one transaction. Rows of other
 * nodes sharing the database are never touched, so nodes never expire or
 * overwrite each other's contacts. The table names are constants, never
 * message data; every value is a bound parameter.
 */

#define COLS                                                                                       \
    "ruid, username, domain, contact, received, path, expires, q, callid, cseq, last_modified, "   \
    "flags, cflags, user_agent, socket, methods, instance, reg_id, server_id"
#define NCOLS 19

static const char *const table_names[2] = {"location", "aliases"};

static const char *sql_text(unsigned table, unsigned kind, char *buf, size_t cap)
{
    const char *t = table_names[table];
    switch (kind) {
    case UL_STMT_DELETE:
        snprintf(buf, cap, "DELETE FROM %s WHERE username = ? AND domain <=> ? AND server_id = ?",
                 t);
        break;
    case UL_STMT_DELETE_ALL:
        snprintf(buf, cap, "DELETE FROM %s WHERE username = ? AND domain <=> ?", t);
        break;
    case UL_STMT_INSERT:
        snprintf(buf, cap,
                 "INSERT INTO %s (" COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                 "?, ?, ?)",
                 t);
        break;
    case UL_STMT_UPSERT:
        snprintf(buf, cap,
                 "INSERT INTO %s (" COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                 "?, ?, ?) ON DUPLICATE KEY UPDATE username = VALUES(username), "
                 "domain = VALUES(domain), contact = VALUES(contact), "
                 "received = VALUES(received), path = VALUES(path), expires = VALUES(expires), "
                 "q = VALUES(q), callid = VALUES(callid), cseq = VALUES(cseq), "
                 "last_modified = VALUES(last_modified), flags = VALUES(flags), "
                 "cflags = VALUES(cflags), user_agent = VALUES(user_agent), "
                 "socket = VALUES(socket), methods = VALUES(methods), "
                 "instance = VALUES(instance), reg_id = VALUES(reg_id), "
                 "server_id = VALUES(server_id)",
                 t);
        break;
    case UL_STMT_LOAD:
        snprintf(buf, cap,
                 "SELECT " COLS " FROM %s WHERE server_id = ? ORDER BY username, domain", t);
        break;
    case UL_STMT_READ:
        snprintf(buf, cap, "SELECT " COLS " FROM %s WHERE username = ? AND domain <=> ?", t);
        break;
    case UL_STMT_EXPIRE:
        /* expires is the epoch for contacts that never expire */
        snprintf(buf, cap,
                 "DELETE FROM %s WHERE server_id = ? AND expires > '1970-01-01 00:00:00' AND "
                 "expires <= ?",
                 t);
        break;
    case UL_STMT_READ_LOCK:
        snprintf(buf, cap,
                 "SELECT " COLS " FROM %s WHERE username = ? AND domain <=> ? FOR UPDATE", t);
        break;
    }
    return buf;
}

static int stmt(struct ul_conn *c, struct ul_table *t, unsigned kind, struct db_stmt **out)
{
    struct db_stmt **s = &c->stmt[t->index][kind];
    if (!*s) {
        char sql[2048];
        int err = db_prepare(c->c, sql_text(t->index, kind, sql, sizeof(sql)), s);
        if (err)
            return err;
    }
    *out = *s;
    return 0;
}

void ul_split_aor(const struct usrloc *ul, struct slice aor, struct slice *user,
                  struct slice *domain)
{
    const char *at = ul->p.use_domain ? memchr(aor.p, '@', aor.len) : NULL;
    if (at) {
        *user = slice_make(aor.p, (size_t)(at - aor.p));
        *domain = slice_make(at + 1, (size_t)(slice_end(aor) - at - 1));
    } else {
        *user = aor;
        *domain = SLICE_NULL;
    }
}

static struct db_val str_or_null(struct slice s)
{
    return s.p ? DB_VAL_STR(s) : DB_VAL_NULL;
}

/* Inserts set's contacts as the AOR's rows (server_id: each contact's own);
 * with kind UL_STMT_UPSERT over the rows of the same ruid where they exist. */
static int write_set(struct ul_conn *c, struct ul_table *t, unsigned kind, struct slice user,
                     struct slice domain, const struct loc_set *set)
{
    struct db_stmt *ins;
    int err = stmt(c, t, kind, &ins);
    for (unsigned i = 0; !err && set && i < set->n; i++) {
        const struct loc_contact *k = &set->c[i];
        struct db_val v[NCOLS] = {
            DB_VAL_STR(k->ruid),
            DB_VAL_STR(user),
            str_or_null(domain),
            DB_VAL_STR(k->uri),
            str_or_null(k->received),
            str_or_null(k->path),
            DB_VAL_TIME(k->expires),
            DB_VAL_DOUBLE(k->q / 1000.0),
            DB_VAL_STR(k->callid.p ? k->callid : SLICE_LIT("")),
            DB_VAL_INT(k->cseq),
            DB_VAL_TIME(k->last_modified),
            DB_VAL_INT(k->flags),
            DB_VAL_INT(k->cflags),
            DB_VAL_STR(k->user_agent.p ? k->user_agent : SLICE_LIT("")),
            str_or_null(k->socket),
            k->methods >= 0 ? DB_VAL_INT(k->methods) : DB_VAL_NULL,
            str_or_null(k->instance),
            DB_VAL_INT(k->reg_id),
            DB_VAL_INT(k->server_id),
        };
        err = db_exec(ins, v, NCOLS, NULL);
    }
    return err;
}

int ul_db_write_aor(struct usrloc *ul, struct ul_conn *c, struct ul_table *t, struct slice aor,
                    const struct loc_set *set)
{
    struct db_stmt *del;
    struct slice user, domain;
    int err;

    ul_split_aor(ul, aor, &user, &domain);
    if ((err = stmt(c, t, UL_STMT_DELETE, &del)) != 0)
        return err;
    if ((err = db_begin(c->c)) != 0)
        return err;
    struct db_val key[3] = {DB_VAL_STR(user), str_or_null(domain), DB_VAL_INT(ul->server_id)};
    err = db_exec(del, key, 3, NULL);
    if (!err)
        err = write_set(c, t, UL_STMT_INSERT, user, domain, set);
    if (!err)
        err = db_commit(c->c);
    if (err) {
        db_rollback(c->c);
        return err;
    }
    atomic_fetch_add_explicit(&ul->rows_written, set ? set->n : 0, memory_order_relaxed);
    return 0;
}

int ul_db_replace_aor(struct usrloc *ul, struct ul_conn *c, struct ul_table *t, struct slice aor,
                      const struct loc_set *set)
{
    struct db_stmt *del;
    struct slice user, domain;
    int err;

    ul_split_aor(ul, aor, &user, &domain);
    if ((err = stmt(c, t, UL_STMT_DELETE_ALL, &del)) != 0)
        return err;
    struct db_val key[2] = {DB_VAL_STR(user), str_or_null(domain)};
    err = db_exec(del, key, 2, NULL);
    if (!err)
        err = write_set(c, t, UL_STMT_INSERT, user, domain, set);
    if (!err)
        atomic_fetch_add_explicit(&ul->rows_written, set ? set->n : 0, memory_order_relaxed);
    return err;
}

/*
 * Write-back in batches: up to flush_batch AORs go into one transaction
 * (each AOR: delete this node's rows, insert its contacts; or, when no
 * contact has left it since its last write, each contact written over its
 * row by ruid, INSERT ... ON DUPLICATE KEY UPDATE, one statement a contact,
 * as Kamailio's one UPDATE per contact). loc_take_dirty
 * clears an AOR's dirty mark as soon as it is handed over, so the AORs of
 * the open batch are remembered: when a statement or the commit fails, the
 * batch is rolled back and every AOR in it marked dirty again (removed ones
 * as tombstones), and the flush stops until the next round. Nothing
 * accepted is lost while the database is away.
 */
struct flush_arg {
    struct usrloc *ul;
    struct ul_conn *c;
    struct ul_table *t;
    char **batch; /* AORs in the open transaction */
    size_t *lens;
    unsigned n, cap;
    int err;
};

static void batch_forget(struct flush_arg *fa)
{
    for (unsigned i = 0; i < fa->n; i++)
        free(fa->batch[i]);
    fa->n = 0;
}

static void batch_fail(struct flush_arg *fa)
{
    db_rollback(fa->c->c);
    for (unsigned i = 0; i < fa->n; i++)
        loc_redirty(fa->t->mem, slice_make(fa->batch[i], fa->lens[i]));
    batch_forget(fa);
}

static int batch_commit(struct flush_arg *fa)
{
    if (fa->n == 0)
        return 0;
    int err = db_commit(fa->c->c);
    if (err) {
        batch_fail(fa);
        return err;
    }
    batch_forget(fa);
    return 0;
}

static int flush_one(void *arg, struct slice aor, const struct loc_set *set, bool shrunk)
{
    struct flush_arg *fa = arg;
    struct db_stmt *del;
    struct slice user, domain;
    int err;

    if (fa->n == 0 && (err = db_begin(fa->c->c)) != 0)
        return fa->err = err;
    char *copy = malloc(aor.len ? aor.len : 1);
    if (!copy) {
        batch_fail(fa);
        return fa->err = ENOMEM;
    }
    memcpy(copy, aor.p, aor.len);
    fa->batch[fa->n] = copy;
    fa->lens[fa->n++] = aor.len;
    ul_split_aor(fa->ul, aor, &user, &domain);
    if (!shrunk && set) {
        /* nothing left since the last write: each contact over its row, one
         * statement per contact (a re-registration is one UPDATE) */
        err = write_set(fa->c, fa->t, UL_STMT_UPSERT, user, domain, set);
    } else {
        err = stmt(fa->c, fa->t, UL_STMT_DELETE, &del);
        if (!err) {
            struct db_val key[3] = {DB_VAL_STR(user), str_or_null(domain),
                                    DB_VAL_INT(fa->ul->server_id)};
            err = db_exec(del, key, 3, NULL);
        }
        if (!err)
            err = write_set(fa->c, fa->t, UL_STMT_INSERT, user, domain, set);
    }
    if (!err && fa->n == fa->cap)
        err = batch_commit(fa);
    else if (err)
        batch_fail(fa);
    if (!err)
        atomic_fetch_add_explicit(&fa->ul->rows_written, set ? set->n : 0, memory_order_relaxed);
    fa->err = err;
    /* stop the walk on any failure: this AOR was marked dirty again above,
     * and the ones not reached stay dirty */
    return err ? EAGAIN : 0;
}

int ul_db_flush(struct usrloc *ul, struct ul_conn *c, struct ul_table *t)
{
    unsigned cap = (unsigned)(ul->p.flush_batch > 0 ? ul->p.flush_batch : 1000);
    struct flush_arg fa = {ul, c, t, calloc(cap, sizeof(char *)), calloc(cap, sizeof(size_t)),
                           0, cap, 0};
    if (!fa.batch || !fa.lens) {
        free(fa.batch);
        free(fa.lens);
        return ENOMEM;
    }
    int err = loc_take_dirty(t->mem, flush_one, &fa);
    if (err == EAGAIN) {
        /* loc_take_dirty kept the failing AOR dirty; flush_one already
         * re-marked its batch. The failing one was re-marked too, which
         * is harmless: marking a dirty AOR is a no-op. */
        err = fa.err ? fa.err : EAGAIN;
    } else if (!err) {
        err = batch_commit(&fa);
    }
    batch_forget(&fa);
    free(fa.batch);
    free(fa.lens);
    return err;
}

int ul_db_expire(struct usrloc *ul, struct ul_conn *c, struct ul_table *t, time_t now,
                 uint64_t *removed)
{
    struct db_stmt *s;
    int err = stmt(c, t, UL_STMT_EXPIRE, &s);
    if (err)
        return err;
    struct db_val v[2] = {DB_VAL_INT(ul->server_id), DB_VAL_TIME(now)};
    return db_exec(s, v, 2, removed);
}

/* Fills a contact from a row; strings point into the row (copied by the caller). */
static void row_contact(const struct db_val *col, struct loc_contact *k, struct slice *user,
                        struct slice *domain)
{
    memset(k, 0, sizeof(*k));
    k->ruid = col[0].s;
    *user = col[1].s;
    *domain = col[2].type == DB_NULL ? SLICE_NULL : col[2].s;
    k->uri = col[3].s;
    k->received = col[4].type == DB_NULL ? SLICE_NULL : col[4].s;
    k->path = col[5].type == DB_NULL ? SLICE_NULL : col[5].s;
    k->expires = col[6].t;
    k->q = (int)(col[7].d * 1000.0 + 0.5);
    k->callid = col[8].s;
    k->cseq = (uint32_t)col[9].i;
    k->last_modified = col[10].t;
    k->flags = (unsigned)col[11].i;
    k->cflags = (unsigned)col[12].i;
    k->user_agent = col[13].s;
    k->socket = col[14].type == DB_NULL ? SLICE_NULL : col[14].s;
    k->methods = col[15].type == DB_NULL ? -1 : (int)col[15].i;
    k->instance = col[16].type == DB_NULL ? SLICE_NULL : col[16].s;
    k->reg_id = (int)col[17].i;
    k->server_id = (unsigned)col[18].i;
}

static struct slice join_aor(const struct usrloc *ul, struct slice user, struct slice domain,
                             char *buf, size_t cap)
{
    if (!ul->p.use_domain || !domain.p || domain.len == 0)
        return user;
    int n = snprintf(buf, cap, "%.*s@%.*s", (int)user.len, user.p, (int)domain.len, domain.p);
    return slice_make(buf, n > 0 && (size_t)n < cap ? (size_t)n : 0);
}

struct append_arg {
    const struct loc_contact *k;
    struct slice aor;
};

static int append_contact(void *arg, const struct loc_set *old, struct loc_set **next)
{
    const struct append_arg *a = arg;
    unsigned n = old ? old->n : 0;
    struct loc_contact *all = malloc((n + 1) * sizeof(*all));
    if (!all)
        return ENOMEM;
    for (unsigned i = 0; i < n; i++)
        all[i] = old->c[i];
    all[n] = *a->k;
    *next = loc_set_build(a->aor, all, n + 1);
    free(all);
    return *next ? 0 : ENOMEM;
}

struct load_arg {
    struct usrloc *ul;
    struct ul_table *t;
    uint64_t rows;
};

static int load_row(void *arg, const struct db_val *col, unsigned ncols)
{
    struct load_arg *la = arg;
    struct loc_contact k;
    struct slice user, domain;
    char buf[512];

    if (ncols < NCOLS)
        return EINVAL;
    row_contact(col, &k, &user, &domain);
    struct append_arg a = {&k, join_aor(la->ul, user, domain, buf, sizeof(buf))};
    if (a.aor.len == 0)
        return 0;
    int err = loc_edit(la->t->mem, a.aor, append_contact, &a);
    if (err)
        return err;
    la->rows++;
    return 0;
}

int ul_db_load(struct usrloc *ul, struct ul_conn *c, struct ul_table *t, uint64_t *rows)
{
    struct db_stmt *s;
    int err = stmt(c, t, UL_STMT_LOAD, &s);
    if (err)
        return err;
    struct load_arg la = {ul, t, 0};
    struct db_val key = DB_VAL_INT(ul->server_id);
    err = db_query(s, &key, 1, load_row, &la);
    *rows = la.rows;
    return err;
}

struct read_arg {
    struct loc_contact *c;
    unsigned n, cap;
    char *strings; /* copies of the row strings */
    size_t used, scap;
    int err;
};

static struct slice keep(struct read_arg *ra, struct slice s)
{
    if (!s.p)
        return SLICE_NULL;
    if (ra->used + s.len > ra->scap) {
        ra->err = ENOMEM; /* sized generously below; a huge row is refused */
        return SLICE_NULL;
    }
    memcpy(ra->strings + ra->used, s.p, s.len);
    struct slice out = slice_make(ra->strings + ra->used, s.len);
    ra->used += s.len;
    return out;
}

static int read_row(void *arg, const struct db_val *col, unsigned ncols)
{
    struct read_arg *ra = arg;
    struct loc_contact k;
    struct slice user, domain;

    if (ncols < NCOLS || ra->n == ra->cap)
        return 0;
    row_contact(col, &k, &user, &domain);
    k.ruid = keep(ra, k.ruid);
    k.uri = keep(ra, k.uri);
    k.received = keep(ra, k.received);
    k.path = keep(ra, k.path);
    k.callid = keep(ra, k.callid);
    k.user_agent = keep(ra, k.user_agent);
    k.socket = keep(ra, k.socket);
    k.instance = keep(ra, k.instance);
    ra->c[ra->n++] = k;
    return ra->err;
}

int ul_db_read_aor(struct usrloc *ul, struct ul_conn *c, struct ul_table *t, struct slice aor,
                   bool lock, struct loc_set **out)
{
    struct db_stmt *s;
    struct slice user, domain;
    enum { MAX_READ = 64 };
    struct loc_contact contacts[MAX_READ];
    int err = stmt(c, t, lock ? UL_STMT_READ_LOCK : UL_STMT_READ, &s);

    *out = NULL;
    if (err)
        return err;
    ul_split_aor(ul, aor, &user, &domain);
    struct read_arg ra = {contacts, 0, MAX_READ, malloc(MAX_READ * 2048), 0, MAX_READ * 2048, 0};
    if (!ra.strings)
        return ENOMEM;
    struct db_val key[2] = {DB_VAL_STR(user), str_or_null(domain)};
    err = db_query(s, key, 2, read_row, &ra);
    if (!err && ra.n) {
        *out = loc_set_build(aor, contacts, ra.n);
        if (!*out)
            err = ENOMEM;
    }
    free(ra.strings);
    return err;
}
