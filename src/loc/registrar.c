/* registrar.c: the registrar module: save() per RFC 3261 10.3 and lookup() of locations and aliases. */
#include "loc/loc_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <urcu/urcu-memb.h>

#include "core/fmt.h"
#include "core/log.h"

struct registrar_params {
    long default_expires;
    long min_expires;
    long max_expires;   /* 0: no maximum */
    long max_contacts;  /* 0: no limit */
    long min_expires_mode;  /* 0 raise to min_expires (SER), 1 reject with 423 */
    long max_contacts_mode; /* 0 reject with 503, 1 evict the oldest */
    long retry_after;   /* seconds, on 503 */
};

static const struct mod_option registrar_options[] = {
    {"default_expires", MOD_OPT_INT, offsetof(struct registrar_params, default_expires), 0,
     UINT32_MAX, 3600, NULL, "lifetime when the REGISTER names none"},
    {"min_expires", MOD_OPT_INT, offsetof(struct registrar_params, min_expires), 0, UINT32_MAX,
     60, NULL, "shortest lifetime accepted"},
    {"max_expires", MOD_OPT_INT, offsetof(struct registrar_params, max_expires), 0, UINT32_MAX, 0,
     NULL, "longest lifetime granted (0: no maximum)"},
    {"max_contacts", MOD_OPT_INT, offsetof(struct registrar_params, max_contacts), 0, 10000, 0,
     NULL, "bindings per AOR (0: no limit)"},
    {"min_expires_mode", MOD_OPT_INT, offsetof(struct registrar_params, min_expires_mode), 0, 1,
     0, NULL, "0 raise short lifetimes to min_expires, 1 answer 423 Interval Too Brief"},
    {"max_contacts_mode", MOD_OPT_INT, offsetof(struct registrar_params, max_contacts_mode), 0, 1,
     0, NULL, "0 answer 503 past max_contacts, 1 evict the oldest binding"},
    {"retry_after", MOD_OPT_INT, offsetof(struct registrar_params, retry_after), 0, 86400, 60,
     NULL, "Retry-After of the 503 for too many contacts"},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};

struct registrar {
    struct usrloc *ul;
};

static int registrar_init(void **state, const void *params, const struct mod_env *env,
                          char *err, size_t cap)
{
    (void)params;
    struct registrar *r = calloc(1, sizeof(*r));
    if (!r)
        return ENOMEM;
    *state = r;
    r->ul = env->state_of(env, "usrloc");
    if (!r->ul) {
        snprintf(err, cap, "the usrloc module did not start");
        return EINVAL;
    }
    return 0;
}

static void registrar_destroy(void *state)
{
    free(state);
}

static int fail(struct sip_ctx *ctx, unsigned code, const char *reason)
{
    ctx->err_code = code;
    ctx->err_reason = reason;
    return MOD_FALSE;
}

/* The AOR of a URI: the unescaped user, "@host" when use_domain (host
 * lower-cased). Written into buf. */
static int make_aor(const struct usrloc *ul, const struct sip_uri *u, char *buf, size_t cap,
                    struct slice *aor)
{
    if ((u->scheme_id != SIP_URI_SIP && u->scheme_id != SIP_URI_SIPS) || !u->user.len)
        return EINVAL;
    long n = sip_unescape(u->user, buf, cap);
    if (n <= 0)
        return EINVAL;
    if (ul->p.use_domain) {
        if ((size_t)n + 1 + u->host.len > cap)
            return EINVAL;
        buf[n++] = '@';
        for (size_t i = 0; i < u->host.len; i++)
            buf[n++] = ascii_lower(u->host.p[i]);
    }
    *aor = slice_make(buf, (size_t)n);
    return 0;
}

/* q: "0.5", "1", "0.125" -> 0..1000; -1 on a malformed value. */
static int parse_q(struct slice v)
{
    if (v.len == 0 || v.len > 5 || (v.p[0] != '0' && v.p[0] != '1'))
        return -1;
    int q = (v.p[0] - '0') * 1000;
    if (v.len == 1)
        return q;
    if (v.p[1] != '.')
        return -1;
    int scale = 100;
    for (size_t i = 2; i < v.len; i++, scale /= 10) {
        if (v.p[i] < '0' || v.p[i] > '9')
            return -1;
        q += (v.p[i] - '0') * scale;
    }
    return q > 1000 ? -1 : q;
}

/* One Contact of the REGISTER, checked, with its granted lifetime. */
struct reg_contact {
    struct slice uri;
    struct slice instance;
    long expires; /* seconds granted; 0 removes */
    int q;
    int reg_id;
};

struct save_arg {
    struct sip_ctx *ctx;
    const struct registrar_params *p;
    struct usrloc *ul;
    struct reg_contact *rc;
    unsigned n;
    bool star;
    struct slice aor;
    time_t now;
    struct slice callid, user_agent, socket, path;
    uint32_t cseq;
    unsigned err_code;
    const char *err_reason;
};

static bool same_uri(struct slice a, struct slice b)
{
    return slice_eq(a, b);
}

/*
 * "uloc-<server id>-<process start>-<pid>-<counter>" in hex, in buf[64]
 * (at most 56 bytes). Unique across the restarts of a node: the counter
 * starts again at 0 in each process, so the process's start time and pid
 * tell them apart (a time per contact did not: a node restarted within the
 * second reissued ruids its previous run had written, and the write-back,
 * which updates rows by ruid, then overwrote another AOR's row).
 */
static struct slice make_ruid(char *buf, const struct usrloc *ul, uint64_t id)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t parts[4] = {ul->server_id, ul->ruid_start, ul->ruid_pid, id};
    size_t n = 0;

    memcpy(buf, "uloc", 4);
    n = 4;
    for (int i = 0; i < 4; i++) {
        char tmp[16];
        size_t d = 0;
        uint64_t v = parts[i];
        do {
            tmp[d++] = hex[v & 15];
            v >>= 4;
        } while (v);
        buf[n++] = '-';
        while (d)
            buf[n++] = tmp[--d];
    }
    return slice_make(buf, n);
}

/* RFC 3261 10.3 steps 6-8 on one AOR's bindings, under its writer lock. */
static int apply(void *arg, const struct loc_set *old, struct loc_set **next)
{
    struct save_arg *sa = arg;
    unsigned n_old = old ? old->n : 0;
    size_t cap = n_old + sa->n;
    /* the common case (a phone or two per AOR) needs no allocation */
    struct loc_contact out_local[8];
    char ruids_local[4][64];
    struct loc_contact *out = cap <= 8 ? out_local : malloc(cap * sizeof(*out));
    char (*ruids)[64] = sa->n <= 4 ? ruids_local : malloc(sa->n * sizeof(*ruids));
    bool changed = false;
    unsigned n = 0;
    int ret = 0;

    if (!out || !ruids) {
        ret = ENOMEM;
        goto out;
    }
    /* the live bindings; expired ones drop out here too */
    for (unsigned i = 0; i < n_old; i++) {
        const struct loc_contact *k = &old->c[i];
        if (k->expires && k->expires <= sa->now) {
            changed = true;
            continue;
        }
        if (sa->star && !(slice_eq(k->callid, sa->callid) && sa->cseq <= k->cseq)) {
            changed = true; /* Contact: * removes every binding */
            continue;
        }
        out[n++] = *k;
    }
    for (unsigned j = 0; j < sa->n; j++) {
        const struct reg_contact *rc = &sa->rc[j];
        unsigned i;
        for (i = 0; i < n; i++)
            if (same_uri(out[i].uri, rc->uri))
                break;
        if (i < n) {
            /* same Call-ID with a CSeq not above the stored one: out of order, ignored */
            if (slice_eq(out[i].callid, sa->callid) && sa->cseq <= out[i].cseq)
                continue;
            changed = true;
            if (rc->expires == 0) {
                out[i] = out[--n];
                continue;
            }
            out[i].expires = sa->now + rc->expires;
            out[i].q = rc->q;
            out[i].callid = sa->callid;
            out[i].cseq = sa->cseq;
            out[i].last_modified = sa->now;
            out[i].user_agent = sa->user_agent;
            out[i].socket = sa->socket;
            out[i].path = sa->path;
            out[i].instance = rc->instance;
            out[i].reg_id = rc->reg_id;
            continue;
        }
        if (rc->expires == 0)
            continue;
        if (sa->p->max_contacts && n >= (unsigned)sa->p->max_contacts) {
            if (sa->p->max_contacts_mode == 0) {
                sa->err_code = 503;
                sa->err_reason = "Too Many Registered Contacts";
                ret = EDQUOT;
                break;
            }
            unsigned oldest = 0; /* evict the least recently refreshed */
            for (unsigned k = 1; k < n; k++)
                if (out[k].last_modified < out[oldest].last_modified)
                    oldest = k;
            out[oldest] = out[--n];
        }
        struct loc_contact k = {0};
        uint64_t id = atomic_fetch_add_explicit(&sa->ul->ruid_counter, 1, memory_order_relaxed);
        k.ruid = make_ruid(ruids[j], sa->ul, id);
        k.uri = rc->uri;
        k.expires = sa->now + rc->expires;
        k.q = rc->q;
        k.callid = sa->callid;
        k.cseq = sa->cseq;
        k.last_modified = sa->now;
        k.user_agent = sa->user_agent;
        k.socket = sa->socket;
        k.path = sa->path;
        k.instance = rc->instance;
        k.reg_id = rc->reg_id;
        k.methods = -1;
        k.server_id = sa->ul->server_id;
        out[n++] = k;
        changed = true;
    }
    if (!ret && changed) {
        *next = n ? loc_set_build(sa->aor, out, n) : NULL;
        if (n && !*next)
            ret = ENOMEM;
    }
out:
    if (out != out_local)
        free(out);
    if (ruids != ruids_local)
        free(ruids);
    return ret;
}

/* Date: RFC 1123 in GMT. */
/* The Date line, formatted once a second per thread (strftime is slow). */
static void date_header(struct fmt *f, time_t now)
{
    static _Thread_local time_t when = -1;
    static _Thread_local char line[64];
    static _Thread_local size_t len;

    if (now != when) {
        struct tm tm;
        gmtime_r(&now, &tm);
        len = strftime(line, sizeof(line), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        when = now;
    }
    fmt_mem(f, line, len);
}

/* The 200's Contact lines: every live binding with its remaining lifetime. */
static int reply_ok(struct sip_ctx *ctx, const struct loc_set *s, time_t now)
{
    size_t cap = 64;
    for (unsigned i = 0; s && i < s->n; i++)
        cap += s->c[i].uri.len + 64;
    char *buf = arena_alloc(&ctx->pkt->arena, cap);
    if (!buf)
        return fail(ctx, 500, "Server Internal Error");
    struct fmt f = fmt_init(buf, cap);
    for (unsigned i = 0; s && i < s->n; i++) {
        const struct loc_contact *k = &s->c[i];
        if (k->expires && k->expires <= now)
            continue;
        fmt_str(&f, "Contact: <");
        fmt_slice(&f, k->uri);
        fmt_str(&f, ">;expires=");
        fmt_u(&f, k->expires ? (uint64_t)(k->expires - now) : 0);
        if (k->q != 1000 && k->q >= 0 && k->q <= 1000) {
            /* q=0.500 -> q=0.5 */
            char q[5] = {'.', (char)('0' + k->q / 100 % 10), (char)('0' + k->q / 10 % 10),
                         (char)('0' + k->q % 10), 0};
            size_t ql = 4;
            while (ql > 2 && q[ql - 1] == '0')
                ql--;
            fmt_str(&f, ";q=");
            fmt_char(&f, (char)('0' + k->q / 1000));
            fmt_mem(&f, q, ql);
        }
        fmt_str(&f, "\r\n");
    }
    date_header(&f, now);
    if (!f.ok)
        return fail(ctx, 500, "Server Internal Error");
    return sip_ctx_reply(ctx, 200, SLICE_LIT("OK"), slice_make(buf, f.len)) == 0 ? MOD_TRUE
                                                                                  : MOD_FALSE;
}

static int act_save(struct sip_ctx *ctx, const struct mod_inst *mi, const struct mod_arg *args)
{
    struct registrar *r = mi->state;
    const struct registrar_params *p = mi->params;
    struct usrloc *ul = r->ul;
    struct sip_msg *msg = ctx->msg;
    const char *why;
    char aorbuf[256];
    struct slice aor;

    if (msg->method_id != SIP_METHOD_REGISTER)
        return fail(ctx, 500, "save() on a request other than REGISTER");
    struct ul_table *t = usrloc_table(ul, args[0].s);
    if (!t)
        return fail(ctx, 500, "Server Internal Error");
    if (make_aor(ul, &msg->to.uri, aorbuf, sizeof(aorbuf), &aor) != 0)
        return fail(ctx, 400, "Bad Request: To is not a SIP AOR");
    if (sip_msg_contacts(msg, &why) != 0 || sip_msg_expires(msg, &why) != 0)
        return fail(ctx, 400, "Bad Request: bad Contact or Expires");

    time_t now = time(NULL);
    struct save_arg sa = {.ctx = ctx, .p = p, .ul = ul, .now = now, .aor = aor};
    sa.callid = msg->call_id;
    sa.cseq = msg->cseq.number;
    const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_USER_AGENT);
    sa.user_agent = h ? h->value : SLICE_LIT("");
    h = sip_msg_hdr(msg, SIP_HDR_PATH);
    sa.path = h ? h->value : SLICE_NULL;
    char sock[80] = "udp:";
    size_t sl = 4 + net_addr_format((struct sockaddr *)&ctx->pkt->sock->listen->addr.ss, sock + 4,
                                    sizeof(sock) - 4);
    sa.socket = slice_make(sock, sl);

    if (msg->contact_n) {
        if (msg->contacts[0].star) {
            if (msg->expires != 0)
                return fail(ctx, 400, "Bad Request: Contact * without Expires: 0");
            sa.star = true;
        } else {
            sa.rc = arena_alloc(&ctx->pkt->arena, msg->contact_n * sizeof(*sa.rc));
            if (!sa.rc)
                return fail(ctx, 500, "Server Internal Error");
            for (unsigned i = 0; i < msg->contact_n; i++) {
                const struct sip_nameaddr *na = &msg->contacts[i];
                struct reg_contact *rc = &sa.rc[sa.n++];
                uint64_t e;
                memset(rc, 0, sizeof(*rc));
                rc->uri = na->uri_text;
                if (na->expires.len && slice_to_u64(na->expires, UINT32_MAX, &e) == 0)
                    rc->expires = (long)e;
                else if (na->expires.len)
                    rc->expires = p->default_expires; /* RFC 3261 10.3: malformed: default */
                else if (msg->expires >= 0)
                    rc->expires = msg->expires;
                else
                    rc->expires = p->default_expires;
                if (rc->expires > 0 && rc->expires < p->min_expires) {
                    if (p->min_expires_mode == 1) {
                        char *mh = arena_alloc(&ctx->pkt->arena, 40);
                        if (mh) {
                            int w = snprintf(mh, 40, "Min-Expires: %ld\r\n", p->min_expires);
                            ctx->err_headers = slice_make(mh, (size_t)w);
                        }
                        return fail(ctx, 423, "Interval Too Brief");
                    }
                    rc->expires = p->min_expires;
                }
                if (p->max_expires && rc->expires > p->max_expires)
                    rc->expires = p->max_expires;
                rc->q = 1000;
                if (na->q.len && (rc->q = parse_q(na->q)) < 0)
                    return fail(ctx, 400, "Bad Request: bad q value");
                struct sip_param prm;
                if (sip_param_find(na->params, "+sip.instance", &prm))
                    rc->instance = sip_unquote(prm.value);
                if (sip_param_find(na->params, "reg-id", &prm)) {
                    uint64_t v;
                    if (slice_to_u64(prm.value, INT32_MAX, &v) == 0)
                        rc->reg_id = (int)v;
                }
            }
        }
    }

    int ret = 0;
    if (ul->p.db_mode == DB_MODE_ONLY) {
        /* no cache: read (locking the AOR's rows), apply, write, commit, on
         * this worker's connection; nodes sharing the database serialise on
         * the row locks */
        struct ul_conn *c = ul_worker_conn(ul, ctx->worker->index);
        struct loc_set *cur = NULL, *next = NULL;
        bool locking = msg->contact_n > 0;
        if (!c || (locking && db_begin(c->c) != 0))
            return fail(ctx, 500, "Server Internal Error: database unavailable");
        ret = ul_db_read_aor(ul, c, t, aor, locking, &cur);
        next = cur;
        if (!ret && locking)
            ret = apply(&sa, cur, &next);
        if (!ret && next != cur)
            ret = ul_db_replace_aor(ul, c, t, aor, next);
        if (locking)
            ret = ret ? (db_rollback(c->c), ret) : db_commit(c->c);
        int r2 = ret ? MOD_FALSE : reply_ok(ctx, next, now);
        if (next != cur)
            loc_set_free(next);
        loc_set_free(cur);
        if (ret == EDQUOT)
            goto too_many;
        return ret ? fail(ctx, 500, "Server Internal Error: database unavailable") : r2;
    }
    if (msg->contact_n)
        ret = loc_edit(t->mem, aor, apply, &sa);
    if (ret == EDQUOT)
        goto too_many;
    if (ret)
        return fail(ctx, 500, "Server Internal Error");
    if (ul->p.db_mode == DB_MODE_THROUGH && msg->contact_n) {
        /* the row is written before the reply; if the database is away the
         * AOR stays dirty and the timer writes it when it returns */
        struct ul_conn *c = ul_worker_conn(ul, ctx->worker->index);
        urcu_memb_read_lock();
        const struct loc_set *s = loc_get(t->mem, aor);
        struct loc_set *copy = s ? loc_set_build(s->aor, s->c, s->n) : NULL;
        urcu_memb_read_unlock();
        if (c && (!s || copy))
            ul_db_write_aor(ul, c, t, aor, copy);
        loc_set_free(copy);
    }
    urcu_memb_read_lock();
    int r2 = reply_ok(ctx, loc_get(t->mem, aor), now);
    urcu_memb_read_unlock();
    return r2;

too_many:
    {
        char *hdrs = arena_alloc(&ctx->pkt->arena, 128);
        if (hdrs) {
            int w = snprintf(hdrs, 128,
                             "P-Registrar-Error: Too many registered contacts\r\n"
                             "Retry-After: %ld\r\n",
                             p->retry_after);
            ctx->err_headers = slice_make(hdrs, (size_t)w);
        }
        return fail(ctx, 503, sa.err_reason ? sa.err_reason : "Service Unavailable");
    }
}

static int act_lookup(struct sip_ctx *ctx, const struct mod_inst *mi, const struct mod_arg *args)
{
    struct registrar *r = mi->state;
    struct usrloc *ul = r->ul;
    struct ul_table *t = usrloc_table(ul, args[0].s);
    char aorbuf[256];
    struct slice aor;
    time_t now = time(NULL);

    if (!t)
        return MOD_FALSE;
    if (!ctx->msg->is_request || make_aor(ul, &ctx->ruri_parsed, aorbuf, sizeof(aorbuf), &aor))
        return MOD_FALSE;
    struct loc_set *owned = NULL;
    const struct loc_set *s;
    if (ul->p.db_mode == DB_MODE_ONLY) {
        struct ul_conn *c = ul_worker_conn(ul, ctx->worker->index);
        if (!c || ul_db_read_aor(ul, c, t, aor, false, &owned) != 0)
            return fail(ctx, 500, "Server Internal Error: database unavailable");
        s = owned;
    } else {
        urcu_memb_read_lock();
        s = loc_get(t->mem, aor);
    }
    int ret = MOD_FALSE;
    unsigned live = 0;
    for (unsigned i = 0; s && i < s->n; i++)
        if (!s->c[i].expires || s->c[i].expires > now)
            live++;
    if (live) {
        /* the set is sorted by q: the first live one is the new R-URI,
         * the others are branches for the proxy */
        ctx->branches = live > 1 ? arena_alloc(&ctx->pkt->arena, (live - 1) * sizeof(struct slice))
                                 : NULL;
        ctx->branch_n = 0;
        bool first = true;
        ret = MOD_TRUE;
        for (unsigned i = 0; i < s->n; i++) {
            const struct loc_contact *k = &s->c[i];
            if (k->expires && k->expires <= now)
                continue;
            if (first) {
                if (sip_ctx_set_ruri(ctx, k->uri) != 0)
                    ret = MOD_FALSE;
                first = false;
            } else if (ctx->branches) {
                char *copy = arena_dup(&ctx->pkt->arena, k->uri.p, k->uri.len);
                if (copy)
                    ctx->branches[ctx->branch_n++] = slice_make(copy, k->uri.len);
            }
        }
    }
    if (ul->p.db_mode != DB_MODE_ONLY)
        urcu_memb_read_unlock();
    loc_set_free(owned);
    return ret;
}

static int fixup_table(struct mod_arg *args, unsigned n, const void *params, char *err,
                       size_t cap)
{
    (void)n;
    (void)params;
    /* the table's state is bound when the action runs; the name is checked here */
    if (!slice_eq_str(args[0].s, "location") && !slice_eq_str(args[0].s, "aliases")) {
        snprintf(err, cap, "unknown table \"%.*s\" (location or aliases)", (int)args[0].s.len,
                 args[0].s.p);
        return -1;
    }
    return 0;
}

static const struct mod_action registrar_actions[] = {
    {"save", act_save, 1, 1, {MOD_ARG_STRING}, fixup_table},
    {"lookup", act_lookup, 1, 1, {MOD_ARG_STRING}, fixup_table},
    {NULL, NULL, 0, 0, {0}, NULL},
};

const struct module loc_registrar_module = {
    .name = "registrar",
    .params_size = sizeof(struct registrar_params),
    .options = registrar_options,
    .actions = registrar_actions,
    .init = registrar_init,
    .destroy = registrar_destroy,
};
