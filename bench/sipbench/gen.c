/* gen.c: the generator engine of sipbench register / options.
 *
 * DESIGN
 *
 * Threads share nothing while they run. Each generator thread owns its UDP
 * sockets (connected to the target, so replies come back on the socket
 * that sent the request), its transaction table, its timer queues, its
 * share of the users and its histograms; the main thread only reads a few
 * relaxed atomic counters for the progress line, sets the stop flag, and
 * merges the results once the threads have ended.
 *
 * An operation is one registration (REGISTER, 401/407, REGISTER with
 * credentials, 2xx) or one OPTIONS. It lives in one slot of the thread's
 * transaction table from its first request to its end; each request it
 * sends is a new client transaction in that slot with a new generation
 * number. The Via branch encodes slot and generation, so a response finds
 * its transaction with one array index, and a late response to an earlier
 * transaction of the slot (a retransmitted 401, say) is recognised and
 * counted as stray. The request's bytes stay in the slot until its final
 * response: retransmissions resend them.
 *
 * Timers (RFC 3261 17.1.2, non-INVITE): a request is retransmitted after
 * T1 = 500 ms, then at doubling intervals up to T2 = 4 s, and at T2 once a
 * provisional response came; the transaction gives up after --timeout
 * (Timer F, 64*T1 = 32 s by default). Every timer of a kind is armed with
 * the same delay from "now", and now only grows, so each kind's pending
 * timers expire in the order they were armed: a FIFO per kind (one per
 * retransmission interval, one for Timer F) is an exact timer queue with
 * O(1) arm, cancel and expiry. The links live in the transaction; ending
 * a transaction unlinks it from both.
 *
 * The loop: receive every socket (recvmmsg, non-blocking, a bounded number
 * of batches), handle each response (a 401 is answered at once), start
 * the operations that are due (open loop: the k-th start of a thread at
 * t0 + k/rate, or --burst starts at once at the time of the first; closed
 * loop: while fewer than its share of --concurrency are in flight), fire
 * the timers, and sleep in ppoll until a socket is readable or the next
 * start or timer is due. Requests queued in a phase are sent with sendmmsg
 * at the end of that phase (or as soon as a batch is full), so no request
 * buffer is rewritten while it waits to be sent.
 *
 * A registration keeps one Call-ID per user for the whole run and
 * increments the user's CSeq, as a phone refreshing its binding would;
 * a user has at most one registration in flight. Users are dealt to the
 * threads round-robin (user i to thread i mod T), each thread walks its
 * idle users in the order they became idle. HA1 is cached per user (by algorithm and realm), so an
 * answer costs two hashes.
 *
 * Latencies are taken from just before a request is queued to just after
 * the recvmmsg that returned its response: they include the generator's
 * own batching delay, at most one loop iteration.
 */
#define _GNU_SOURCE /* recvmmsg, sendmmsg, ppoll */
#include "gen.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "core/arena.h"
#include "report.h"
#include "request.h"
#include "sip/sip.h"

#define SB_T1_NS     UINT64_C(500000000)
#define SB_LEVELS    4 /* retransmission intervals T1, 2 T1, 4 T1, T2 = 8 T1 */
#define SB_NIL       UINT32_MAX
#define SB_MSG_MAX   1400 /* one request, credentials included */
#define SB_RX_MAX    4096 /* one response; longer ones are counted as bad */
#define SB_RX_ROUNDS 4    /* recvmmsg batches per socket per loop iteration */
#define SB_ARENA     16384
#define SB_AUTH_MAX  2 /* challenges answered per registration (a stale nonce: one more) */
#define SB_WAKE_NS   UINT64_C(50000000) /* longest sleep: the stop flag is looked at this often */

/* How an operation ends (op_end): a final status 300..699 is a failure by status. */
#define SB_END_OK      200  /* a 2xx */
#define SB_END_TIMEOUT 1000 /* Timer F */
#define SB_END_LOCAL_FAIL                                                                          \
    1001 /* the request did not fit or the digest failed: failed_status[0]                         \
          */

struct sb_link {
    uint32_t prev, next;
};

struct sb_queue {
    uint32_t head, tail;
};

enum sb_step { SB_STEP_FIRST, SB_STEP_AUTH };

/* One operation in flight (see DESIGN). */
struct sb_txn {
    struct sb_link rt;   /* in the retransmission queue of 'level' */
    struct sb_link ex;   /* in the Timer F queue */
    uint64_t op_start;   /* first request of the operation queued */
    uint64_t sent;       /* this request first queued */
    uint64_t rt_at;      /* next retransmission */
    uint64_t ex_at;      /* gives up */
    uint32_t gen;        /* generation of the current transaction */
    uint32_t user;       /* index into the thread's user states */
    uint32_t op_seq;     /* the thread's operation number: From tag, OPTIONS Call-ID */
    uint16_t len;        /* of msg */
    uint8_t sock;        /* index of the socket it goes out on */
    uint8_t level;       /* retransmission interval T1 << level */
    uint8_t step;        /* enum sb_step */
    uint8_t auth_rounds; /* challenges answered */
    bool active;
    bool armed;      /* linked in a retransmission queue and the Timer F queue */
    bool proceeding; /* a provisional response came */
    char msg[SB_MSG_MAX];
};

/* The state of one user that changes during the run; owned by one thread. */
struct sb_ustate {
    uint32_t index; /* into cfg->users */
    uint32_t cseq;
    int8_t ha1_alg; /* algorithm of the cached HA1, -1: none */
    uint32_t nc;    /* nonce count of the last nonce answered */
    uint64_t realm_hash, nonce_hash;
    char ha1[AUTH_HEX_MAX];
};

struct sb_sock {
    int fd;
    char sent_by[64]; /* "127.0.0.1:40312" or "[::1]:40312" */
    size_t sent_by_len;
    unsigned out_n;
    struct mmsghdr out[SB_BATCH_MAX];
    struct iovec out_iov[SB_BATCH_MAX];
};

/* What every thread reads and only the main thread writes (stop). */
struct sb_shared {
    const struct sb_config *cfg;
    _Atomic int stop; /* 0 run; 1 stop starting, let the rest end; 2 abandon at once */
    char runtag[8];   /* hex: makes Call-IDs unique to the run */
    struct slice ruri, domain;
    uint64_t t0; /* the common start, CLOCK_MONOTONIC ns */
    uint64_t start_end, hard_end;
};

/* One generator thread: everything it owns. */
struct sb_worker {
    struct sb_shared *sh;
    const struct sb_config *cfg;
    uint32_t index;
    pthread_t tid;
    bool running;

    struct sb_sock *socks;
    struct pollfd *pfds;
    uint32_t nsocks;

    struct sb_txn *txns;
    uint32_t cap;
    uint32_t *free_slots;
    uint32_t free_n;
    struct sb_queue rtq[SB_LEVELS], exq;

    struct sb_ustate *us;
    uint32_t nus;
    /* users with no registration in flight, a ring in the order they became free */
    uint32_t *idle;
    uint32_t idle_head, idle_n;

    /* this thread's share of the load */
    double rate_per_ns; /* open loop; 0: closed loop */
    uint64_t quota;     /* starts to schedule; UINT64_MAX: until start_end */
    uint32_t conc;      /* closed loop */
    uint64_t scheduled; /* starts scheduled so far (started + skipped) */
    uint64_t inflight;
    uint32_t seq;
    uint64_t first_start, last_start, last_end;

    struct mmsghdr *rx;
    struct iovec *rx_iov;
    char *rx_buf;
    struct arena arena;
    char *arena_buf;

    struct sb_result res;

    /* read by the main thread for the progress line */
    _Atomic uint64_t p_started, p_completed, p_failed, p_timeouts, p_inflight;
    _Atomic bool p_done;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t fnv1a(struct slice s)
{
    uint64_t h = UINT64_C(14695981039346656037);
    for (size_t i = 0; i < s.len; i++)
        h = (h ^ (unsigned char)s.p[i]) * UINT64_C(1099511628211);
    return h ^ s.len;
}

/* ---------------------------------------------------------------- timer queues */

static struct sb_link *link_of(struct sb_worker *w, uint32_t i, bool rt)
{
    return rt ? &w->txns[i].rt : &w->txns[i].ex;
}

static void q_push(struct sb_worker *w, struct sb_queue *q, uint32_t i, bool rt)
{
    struct sb_link *l = link_of(w, i, rt);
    l->prev = q->tail;
    l->next = SB_NIL;
    if (q->tail == SB_NIL)
        q->head = i;
    else
        link_of(w, q->tail, rt)->next = i;
    q->tail = i;
}

static void q_remove(struct sb_worker *w, struct sb_queue *q, uint32_t i, bool rt)
{
    struct sb_link *l = link_of(w, i, rt);
    if (l->prev == SB_NIL)
        q->head = l->next;
    else
        link_of(w, l->prev, rt)->next = l->next;
    if (l->next == SB_NIL)
        q->tail = l->prev;
    else
        link_of(w, l->next, rt)->prev = l->prev;
    l->prev = l->next = SB_NIL;
}

static uint32_t slot_of(struct sb_worker *w, struct sb_txn *t)
{
    return (uint32_t)(t - w->txns);
}

static void timers_cancel(struct sb_worker *w, struct sb_txn *t)
{
    if (!t->armed)
        return;
    uint32_t i = slot_of(w, t);
    q_remove(w, &w->rtq[t->level], i, true);
    q_remove(w, &w->exq, i, false);
    t->armed = false;
}

/* ---------------------------------------------------------------- sending */

static void flush(struct sb_worker *w, struct sb_sock *s)
{
    unsigned done = 0;
    while (done < s->out_n) {
        int k = sendmmsg(s->fd, s->out + done, s->out_n - done, 0);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            /* e.g. ECONNREFUSED from an earlier ICMP: this datagram is lost,
             * its retransmission timer sends it again */
            w->res.send_errors++;
            done++;
            continue;
        }
        done += (unsigned)k;
    }
    s->out_n = 0;
}

static void flush_all(struct sb_worker *w)
{
    for (uint32_t i = 0; i < w->nsocks; i++)
        if (w->socks[i].out_n)
            flush(w, &w->socks[i]);
}

static void queue_out(struct sb_worker *w, struct sb_txn *t)
{
    struct sb_sock *s = &w->socks[t->sock];
    if (s->out_n == w->cfg->batch)
        flush(w, s);
    s->out_iov[s->out_n] = (struct iovec){t->msg, t->len};
    s->out[s->out_n].msg_hdr = (struct msghdr){.msg_iov = &s->out_iov[s->out_n], .msg_iovlen = 1};
    s->out_n++;
}

/* Sends t's request as a new transaction: timers armed from now. */
static void send_new(struct sb_worker *w, struct sb_txn *t, uint64_t now)
{
    uint32_t i = slot_of(w, t);
    t->sent = now;
    t->level = 0;
    t->proceeding = false;
    t->rt_at = now + SB_T1_NS;
    t->ex_at = now + (uint64_t)(w->cfg->timeout * 1e9);
    q_push(w, &w->rtq[0], i, true);
    q_push(w, &w->exq, i, false);
    t->armed = true;
    queue_out(w, t);
    w->res.requests++;
}

/* ---------------------------------------------------------------- operations */

/* Ends t's operation as 'how' says (SB_END_*, or the failing final status). */
static void op_end(struct sb_worker *w, struct sb_txn *t, uint64_t now, unsigned how)
{
    timers_cancel(w, t);
    t->active = false;
    if (w->cfg->mode == SB_MODE_REGISTER)
        w->idle[(w->idle_head + w->idle_n++) % w->nus] = t->user;
    w->free_slots[w->free_n++] = slot_of(w, t);
    w->inflight--;
    w->last_end = now;
    if (how == SB_END_OK) {
        w->res.completed++;
        hist_record(&w->res.op_latency, now - t->op_start);
    } else if (how == SB_END_TIMEOUT) {
        w->res.timeouts++;
    } else {
        w->res.failed++;
        w->res.failed_status[how < 700 ? how : 0]++;
    }
}

/* The request of t's current step into t->msg; false when it does not fit. */
static bool build(struct sb_worker *w, struct sb_txn *t, struct slice authorization)
{
    const struct sb_config *cfg = w->cfg;
    struct sb_sock *s = &w->socks[t->sock];
    char call_id[48], tag[16];
    size_t call_id_len;

    sb_hex32(tag, w->index);
    sb_hex32(tag + 8, t->op_seq);
    memcpy(call_id, w->sh->runtag, 8);
    call_id[8] = '-';
    struct sb_request r = {
        .ruri = w->sh->ruri,
        .domain = w->sh->domain,
        .sent_by = slice_make(s->sent_by, s->sent_by_len),
        .from_tag = slice_make(tag, sizeof(tag)),
        .branch_slot = slot_of(w, t),
        .branch_gen = t->gen,
        .authorization = authorization,
    };
    if (cfg->mode == SB_MODE_REGISTER) {
        struct sb_ustate *u = &w->us[t->user];
        sb_hex32(call_id + 9, u->index);
        call_id_len = 17;
        r.method = SIP_METHOD_REGISTER;
        r.user = cfg->users->v[u->index].name;
        r.cseq = ++u->cseq;
        r.expires = cfg->expires;
    } else {
        sb_hex32(call_id + 9, w->index);
        call_id[17] = '-';
        sb_hex32(call_id + 18, t->op_seq);
        call_id_len = 26;
        r.method = SIP_METHOD_OPTIONS;
        r.cseq = 1;
    }
    memcpy(call_id + call_id_len, "@sipbench", 9);
    r.call_id = slice_make(call_id, call_id_len + 9);
    size_t len = sb_request_build(t->msg, sizeof(t->msg), &r);
    t->len = (uint16_t)len;
    return len > 0;
}

/* Starts one operation; false when no user or slot is free. */
static bool op_start(struct sb_worker *w, uint64_t now)
{
    uint32_t user = 0;
    if (w->free_n == 0 || (w->cfg->mode == SB_MODE_REGISTER && w->idle_n == 0))
        return false;
    if (w->cfg->mode == SB_MODE_REGISTER) {
        user = w->idle[w->idle_head];
        w->idle_head = w->idle_head + 1 == w->nus ? 0 : w->idle_head + 1;
        w->idle_n--;
    }
    struct sb_txn *t = &w->txns[w->free_slots[--w->free_n]];
    t->active = true;
    t->gen++;
    t->step = SB_STEP_FIRST;
    t->auth_rounds = 0;
    t->user = user;
    t->op_seq = w->seq++;
    t->sock = (uint8_t)(w->res.started % w->nsocks);
    t->op_start = now;
    w->res.started++;
    w->inflight++;
    if (w->first_start == 0)
        w->first_start = now;
    w->last_start = now;
    if (!build(w, t, SLICE_NULL)) {
        op_end(w, t, now, SB_END_LOCAL_FAIL);
        return true;
    }
    send_new(w, t, now);
    return true;
}

/* Answers the challenge in reply with a new REGISTER, or ends the operation when the
 * answer cannot be computed; false when there is nothing to answer (the caller ends
 * the operation with the reply's status). */
static bool answer(struct sb_worker *w, struct sb_txn *t, struct sip_msg *reply, uint64_t now)
{
    const struct sb_config *cfg = w->cfg;
    struct sb_challenge ch;
    if (sb_challenge_pick(reply, cfg->algorithm, &ch) != 0)
        return false;
    /* credentials refused: a failure, unless only the nonce had gone stale */
    if ((t->step == SB_STEP_AUTH && !ch.stale) || t->auth_rounds >= SB_AUTH_MAX)
        return false;

    struct sb_ustate *u = &w->us[t->user];
    const struct sb_user *user = &cfg->users->v[u->index];
    uint64_t realm_hash = fnv1a(ch.realm);
    if (u->ha1_alg != (int8_t)ch.alg || u->realm_hash != realm_hash) {
        if (auth_ha1(ch.alg, user->name, ch.realm, user->password, u->ha1) != 0) {
            op_end(w, t, now, SB_END_LOCAL_FAIL);
            return true;
        }
        u->ha1_alg = (int8_t)ch.alg;
        u->realm_hash = realm_hash;
    }
    bool qop = cfg->qop && ch.qop_auth;
    uint64_t nonce_hash = fnv1a(ch.nonce);
    if (qop) {
        if (u->nonce_hash == nonce_hash && u->nc != 0)
            u->nc++;
        else
            u->nc = 1;
        u->nonce_hash = nonce_hash;
    }
    char cnonce[16];
    sb_hex32(cnonce, w->index ^ 0x5b5b0000u);
    sb_hex32(cnonce + 8, w->seq++);
    struct sb_credentials c = {
        .user = user->name,
        .ha1 = slice_make(u->ha1, auth_alg_hex_len(ch.alg)),
        .method = SLICE_LIT("REGISTER"),
        .uri = w->sh->ruri,
        .qop = qop,
        .nc = u->nc,
        .cnonce = slice_make(cnonce, sizeof(cnonce)),
    };
    char line[SB_MSG_MAX];
    size_t len = sb_credentials_build(line, sizeof(line), &ch, &c);
    if (len == 0) {
        op_end(w, t, now, SB_END_LOCAL_FAIL);
        return true;
    }
    timers_cancel(w, t);
    t->gen++;
    t->step = SB_STEP_AUTH;
    t->auth_rounds++;
    if (!build(w, t, slice_make(line, len))) {
        op_end(w, t, now, SB_END_LOCAL_FAIL);
        return true;
    }
    w->res.credentials[ch.alg]++;
    w->res.credentials_qop += qop;
    send_new(w, t, now);
    return true;
}

static void on_response(struct sb_worker *w, const char *buf, size_t len, uint64_t now)
{
    struct sip_msg msg;
    struct sip_error err;
    uint32_t slot, gen;

    arena_reset(&w->arena);
    if (sip_msg_parse(&msg, &w->arena, buf, len, &sip_limits_default, 0, &err) != 0 ||
        msg.is_request || !msg.keys_ok) {
        w->res.bad++;
        return;
    }
    w->res.responses++;
    if (!sb_branch_decode(msg.via.branch, &slot, &gen) || slot >= w->cap || !w->txns[slot].active ||
        w->txns[slot].gen != gen) {
        w->res.stray++;
        return;
    }
    struct sb_txn *t = &w->txns[slot];
    if (msg.status < 200) {
        if (!t->proceeding) {
            /* Timer E now fires at T2 */
            t->proceeding = true;
            q_remove(w, &w->rtq[t->level], slot, true);
            t->level = SB_LEVELS - 1;
            t->rt_at = now + (SB_T1_NS << t->level);
            q_push(w, &w->rtq[t->level], slot, true);
        }
        return;
    }
    hist_record(&w->res.req_latency, now > t->sent ? now - t->sent : 0);
    if (msg.status < 300) {
        op_end(w, t, now, SB_END_OK);
        return;
    }
    if (w->cfg->mode == SB_MODE_REGISTER && (msg.status == 401 || msg.status == 407) &&
        answer(w, t, &msg, now))
        return;
    op_end(w, t, now, msg.status);
}

/* ---------------------------------------------------------------- the loop */

static unsigned receive(struct sb_worker *w, struct sb_sock *s)
{
    unsigned total = 0, batch = w->cfg->batch;
    for (int round = 0; round < SB_RX_ROUNDS; round++) {
        for (unsigned i = 0; i < batch; i++) {
            w->rx[i].msg_hdr.msg_flags = 0;
            w->rx[i].msg_len = 0;
        }
        int n = recvmmsg(s->fd, w->rx, batch, MSG_DONTWAIT, NULL);
        if (n <= 0)
            break; /* EAGAIN; ECONNREFUSED (the target is not there) ends up as timeouts */
        uint64_t now = now_ns();
        for (int i = 0; i < n; i++) {
            if (w->rx[i].msg_hdr.msg_flags & MSG_TRUNC)
                w->res.bad++;
            else
                on_response(w, w->rx_buf + (size_t)i * SB_RX_MAX, w->rx[i].msg_len, now);
        }
        total += (unsigned)n;
        if ((unsigned)n < batch)
            break;
    }
    return total;
}

/* Is the thread still to start operations? */
static bool starting(struct sb_worker *w, uint64_t now)
{
    return atomic_load_explicit(&w->sh->stop, memory_order_relaxed) == 0 &&
           w->scheduled < w->quota && now < w->sh->start_end;
}

/* When the next open-loop start is due: the k-th at t0 + k/rate, or with bursts of B,
 * the whole burst at the time of its first start. */
static uint64_t next_start_at(struct sb_worker *w)
{
    uint64_t k = w->scheduled - w->scheduled % w->cfg->burst;
    return w->sh->t0 + (uint64_t)((double)k / w->rate_per_ns);
}

static unsigned start_due(struct sb_worker *w, uint64_t now)
{
    unsigned n = 0, limit = w->cfg->batch * w->nsocks;
    if (w->rate_per_ns > 0) {
        while (n < limit && w->scheduled < w->quota && next_start_at(w) <= now) {
            w->scheduled++;
            if (!op_start(w, now))
                w->res.skipped++;
            n++;
        }
    } else {
        while (n < limit && w->scheduled < w->quota && w->inflight < w->conc && op_start(w, now)) {
            w->scheduled++;
            n++;
        }
    }
    flush_all(w);
    return n;
}

static unsigned run_timers(struct sb_worker *w, uint64_t now)
{
    unsigned n = 0;
    for (unsigned level = 0; level < SB_LEVELS; level++) {
        struct sb_queue *q = &w->rtq[level];
        while (q->head != SB_NIL && w->txns[q->head].rt_at <= now) {
            uint32_t i = q->head;
            struct sb_txn *t = &w->txns[i];
            q_remove(w, q, i, true);
            t->level = level + 1 < SB_LEVELS ? (uint8_t)(level + 1) : (uint8_t)level;
            t->rt_at = now + (SB_T1_NS << t->level);
            q_push(w, &w->rtq[t->level], i, true);
            queue_out(w, t);
            w->res.retransmissions++;
            n++;
        }
    }
    while (w->exq.head != SB_NIL && w->txns[w->exq.head].ex_at <= now) {
        op_end(w, &w->txns[w->exq.head], now, SB_END_TIMEOUT);
        n++;
    }
    flush_all(w);
    return n;
}

static void publish(struct sb_worker *w)
{
    atomic_store_explicit(&w->p_started, w->res.started, memory_order_relaxed);
    atomic_store_explicit(&w->p_completed, w->res.completed, memory_order_relaxed);
    atomic_store_explicit(&w->p_failed, w->res.failed, memory_order_relaxed);
    atomic_store_explicit(&w->p_timeouts, w->res.timeouts, memory_order_relaxed);
    atomic_store_explicit(&w->p_inflight, w->inflight, memory_order_relaxed);
}

/* Sleeps until a socket is readable or 'until' (ns), whichever is first. */
static void wait_until(struct sb_worker *w, uint64_t now, uint64_t until)
{
    if (until <= now)
        return;
    uint64_t d = until - now;
    struct timespec ts = {(time_t)(d / 1000000000u), (long)(d % 1000000000u)};
    ppoll(w->pfds, w->nsocks, &ts, NULL);
}

static void *worker_main(void *arg)
{
    struct sb_worker *w = arg;
    /* the default 50 us timer slack would round every short open-loop sleep up */
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    uint64_t now = now_ns();
    if (now < w->sh->t0)
        wait_until(w, now, w->sh->t0);
    now = now_ns();
    for (;;) {
        int stop = atomic_load_explicit(&w->sh->stop, memory_order_relaxed);
        bool go = starting(w, now);
        if (!go && w->inflight == 0)
            break;
        if (stop == 2 || now >= w->sh->hard_end) {
            w->res.unfinished += w->inflight;
            w->res.capped = stop != 2;
            break;
        }
        unsigned work = 0;
        for (uint32_t i = 0; i < w->nsocks; i++)
            work += receive(w, &w->socks[i]);
        flush_all(w);
        now = now_ns();
        if (go)
            work += start_due(w, now);
        work += run_timers(w, now);
        publish(w);
        if (work == 0) {
            uint64_t until = now + SB_WAKE_NS;
            if (go && w->rate_per_ns > 0 && next_start_at(w) < until)
                until = next_start_at(w);
            if (go && w->rate_per_ns == 0 && w->inflight < w->conc)
                until = now; /* a closed-loop start is possible at once */
            for (unsigned level = 0; level < SB_LEVELS; level++)
                if (w->rtq[level].head != SB_NIL && w->txns[w->rtq[level].head].rt_at < until)
                    until = w->txns[w->rtq[level].head].rt_at;
            if (w->exq.head != SB_NIL && w->txns[w->exq.head].ex_at < until)
                until = w->txns[w->exq.head].ex_at;
            if (go && w->sh->start_end < until)
                until = w->sh->start_end;
            if (w->sh->hard_end < until)
                until = w->sh->hard_end;
            wait_until(w, now, until);
        }
        now = now_ns();
    }
    publish(w);
    atomic_store_explicit(&w->p_done, true, memory_order_release);
    return NULL;
}

/* ---------------------------------------------------------------- set-up */

static void worker_free(struct sb_worker *w)
{
    for (uint32_t i = 0; w->socks && i < w->nsocks; i++)
        if (w->socks[i].fd >= 0)
            close(w->socks[i].fd);
    free(w->socks);
    free(w->pfds);
    free(w->txns);
    free(w->free_slots);
    free(w->us);
    free(w->idle);
    free(w->rx);
    free(w->rx_iov);
    free(w->rx_buf);
    arena_free(&w->arena);
    free(w->arena_buf);
    w->socks = NULL;
}

/* Opens socket i of w: bound to --local (its port + i when one was given), connected. */
static int open_socket(struct sb_worker *w, uint32_t i)
{
    const struct sb_config *cfg = w->cfg;
    struct sb_sock *s = &w->socks[i];
    struct sockaddr_storage local;
    const struct sockaddr *bind_to = NULL;
    socklen_t bind_len = 0;

    if (cfg->has_local) {
        local = cfg->local.ss;
        if (cfg->local.port)
            sb_addr_set_port(&local, (uint16_t)(cfg->local.port + w->index * cfg->sockets + i));
        bind_to = (const struct sockaddr *)&local;
        bind_len = cfg->local.len;
    }
    s->fd = sb_udp_socket((const struct sockaddr *)&cfg->target.ss, bind_to, bind_len, false);
    if (s->fd < 0 ||
        connect(s->fd, (const struct sockaddr *)&cfg->target.ss, cfg->target.len) != 0) {
        fprintf(stderr, "sipbench: socket to %s:%u: %s\n", cfg->target.host, cfg->target.port,
                strerror(errno));
        return errno ? errno : EIO;
    }
    struct sockaddr_storage me;
    socklen_t me_len = sizeof(me);
    if (getsockname(s->fd, (struct sockaddr *)&me, &me_len) != 0)
        return errno;
    s->sent_by_len = sb_addr_format((struct sockaddr *)&me, s->sent_by, sizeof(s->sent_by));
    w->pfds[i] = (struct pollfd){.fd = s->fd, .events = POLLIN};
    return 0;
}

static int worker_init(struct sb_worker *w, struct sb_shared *sh, uint32_t index)
{
    const struct sb_config *cfg = sh->cfg;
    uint32_t T = cfg->threads;
    int ret = ENOMEM;

    memset(w, 0, sizeof(*w));
    w->sh = sh;
    w->cfg = cfg;
    w->index = index;
    hist_init(&w->res.op_latency);
    hist_init(&w->res.req_latency);
    w->quota = cfg->count ? cfg->count / T + (index < cfg->count % T) : UINT64_MAX;
    if (cfg->rate > 0) {
        w->rate_per_ns = cfg->rate / T / 1e9;
        w->cap = cfg->max_inflight / T + (index < cfg->max_inflight % T);
    } else {
        w->conc = cfg->concurrency / T + (index < cfg->concurrency % T);
        w->cap = w->conc;
    }
    if (cfg->mode == SB_MODE_REGISTER) {
        size_t n = cfg->users->n;
        w->nus = (uint32_t)(n / T + (index < n % T));
        if (w->cap > w->nus)
            w->cap = w->nus; /* one registration per user in flight */
        if (w->conc > w->nus)
            w->conc = w->nus;
        w->us = calloc(w->nus ? w->nus : 1, sizeof(*w->us));
        w->idle = malloc((w->nus ? w->nus : 1) * sizeof(*w->idle));
        if (!w->us || !w->idle)
            goto fail;
        for (uint32_t k = 0; k < w->nus; k++) {
            w->us[k].index = index + k * T;
            w->us[k].ha1_alg = -1;
            w->idle[k] = k;
        }
        w->idle_n = w->nus;
    }
    if (w->cap == 0)
        w->cap = 1;

    w->nsocks = cfg->sockets;
    w->socks = calloc(w->nsocks, sizeof(*w->socks));
    w->pfds = calloc(w->nsocks, sizeof(*w->pfds));
    /* calloc of a large table maps fresh pages: only slots ever used get touched */
    w->txns = calloc(w->cap, sizeof(*w->txns));
    w->free_slots = malloc(w->cap * sizeof(*w->free_slots));
    w->rx = calloc(cfg->batch, sizeof(*w->rx));
    w->rx_iov = calloc(cfg->batch, sizeof(*w->rx_iov));
    w->rx_buf = malloc((size_t)cfg->batch * SB_RX_MAX);
    w->arena_buf = malloc(SB_ARENA);
    if (!w->socks || !w->pfds || !w->txns || !w->free_slots || !w->rx || !w->rx_iov || !w->rx_buf ||
        !w->arena_buf)
        goto fail;
    arena_init(&w->arena, w->arena_buf, SB_ARENA, 4 * SB_ARENA);
    for (uint32_t i = 0; i < w->nsocks; i++)
        w->socks[i].fd = -1;
    for (uint32_t i = 0; i < w->cap; i++)
        w->free_slots[i] = w->cap - 1 - i; /* slot 0 first: LIFO reuse keeps the table small */
    w->free_n = w->cap;
    for (unsigned l = 0; l < SB_LEVELS; l++)
        w->rtq[l] = (struct sb_queue){SB_NIL, SB_NIL};
    w->exq = (struct sb_queue){SB_NIL, SB_NIL};
    for (uint32_t i = 0; i < cfg->batch; i++) {
        w->rx_iov[i] = (struct iovec){w->rx_buf + (size_t)i * SB_RX_MAX, SB_RX_MAX};
        w->rx[i].msg_hdr = (struct msghdr){.msg_iov = &w->rx_iov[i], .msg_iovlen = 1};
    }
    for (uint32_t i = 0; i < w->nsocks; i++) {
        ret = open_socket(w, i);
        if (ret)
            goto fail;
    }
    return 0;
fail:
    if (ret == ENOMEM)
        fprintf(stderr, "sipbench: out of memory for thread %u\n", index);
    worker_free(w);
    return ret;
}

/* "sip:DOMAIN" with ":PORT" when DOMAIN is the target's host, or cfg->ruri. */
static void make_ruri(const struct sb_config *cfg, char *out, size_t cap)
{
    if (cfg->ruri)
        snprintf(out, cap, "%s", cfg->ruri);
    else if (strcmp(cfg->domain, cfg->target.host) == 0)
        snprintf(out, cap, "sip:%s:%u", cfg->domain, cfg->target.port);
    else
        snprintf(out, cap, "sip:%s", cfg->domain);
}

static void merge(struct sb_result *dst, const struct sb_result *src)
{
    dst->started += src->started;
    dst->completed += src->completed;
    dst->failed += src->failed;
    dst->timeouts += src->timeouts;
    dst->skipped += src->skipped;
    dst->unfinished += src->unfinished;
    dst->requests += src->requests;
    dst->retransmissions += src->retransmissions;
    dst->responses += src->responses;
    dst->stray += src->stray;
    dst->bad += src->bad;
    dst->send_errors += src->send_errors;
    for (size_t i = 0; i < sizeof(dst->failed_status) / sizeof(dst->failed_status[0]); i++)
        dst->failed_status[i] += src->failed_status[i];
    for (size_t i = 0; i < 2; i++)
        dst->credentials[i] += src->credentials[i];
    dst->credentials_qop += src->credentials_qop;
    dst->capped |= src->capped;
    hist_merge(&dst->op_latency, &src->op_latency);
    hist_merge(&dst->req_latency, &src->req_latency);
}

/* The main thread's part while the workers run: signals (blocked in every
 * thread, taken here with sigtimedwait), progress, until all are done. */
static void supervise(struct sb_shared *sh, struct sb_worker *w, uint32_t n, const sigset_t *sigs,
                      bool *interrupted)
{
    uint64_t next_tick = sh->t0 + 1000000000u, last_tick = sh->t0, last_completed = 0;
    int seen = 0;
    for (;;) {
        bool all_done = true;
        for (uint32_t i = 0; i < n; i++)
            all_done &= atomic_load_explicit(&w[i].p_done, memory_order_acquire);
        if (all_done)
            return;
        uint64_t now = now_ns();
        if (now >= next_tick) {
            struct sb_progress p = {.seconds = (double)(now - sh->t0) / 1e9};
            for (uint32_t i = 0; i < n; i++) {
                p.started += atomic_load_explicit(&w[i].p_started, memory_order_relaxed);
                p.completed += atomic_load_explicit(&w[i].p_completed, memory_order_relaxed);
                p.failed += atomic_load_explicit(&w[i].p_failed, memory_order_relaxed);
                p.timeouts += atomic_load_explicit(&w[i].p_timeouts, memory_order_relaxed);
                p.inflight += atomic_load_explicit(&w[i].p_inflight, memory_order_relaxed);
            }
            p.rate = (double)(p.completed - last_completed) / ((double)(now - last_tick) / 1e9);
            last_completed = p.completed;
            last_tick = now;
            next_tick += 1000000000u;
            if (!sh->cfg->quiet)
                sb_report_progress(stderr, &p);
        }
        struct timespec ts = {0, 20000000}; /* 20 ms: the end is seen soon */
        if (sigtimedwait(sigs, NULL, &ts) > 0) {
            /* the first stops the starts, the second abandons what is in flight */
            seen++;
            *interrupted = true;
            atomic_store_explicit(&sh->stop, seen >= 2 ? 2 : 1, memory_order_relaxed);
        }
    }
}

int sb_run(const struct sb_config *cfg, struct sb_result *res)
{
    struct sb_shared sh = {.cfg = cfg};
    char ruri[512];
    int ret = 0;

    memset(res, 0, sizeof(*res));
    hist_init(&res->op_latency);
    hist_init(&res->req_latency);
    make_ruri(cfg, ruri, sizeof(ruri));
    sh.ruri = slice_from_str(ruri);
    sh.domain = slice_from_str(cfg->domain);
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    sb_hex32(sh.runtag,
             (uint32_t)getpid() * 2654435761u ^ (uint32_t)rt.tv_nsec ^ (uint32_t)rt.tv_sec);

    struct sb_worker *w = calloc(cfg->threads, sizeof(*w));
    if (!w) {
        fputs("sipbench: out of memory\n", stderr);
        return ENOMEM;
    }
    uint32_t made = 0;
    for (; made < cfg->threads; made++) {
        ret = worker_init(&w[made], &sh, made);
        if (ret)
            goto out;
    }

    /* blocked everywhere (the workers inherit the mask); supervise() waits for them */
    sigset_t sigs, old_mask;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, &old_mask);

    sh.t0 = now_ns() + 10000000u; /* every thread starts at the same instant */
    sh.start_end = sh.t0 + (uint64_t)(cfg->duration * 1e9);
    /* the hard cap: the last start, its whole Timer F, and a margin */
    sh.hard_end = sh.start_end + (uint64_t)(cfg->timeout * 1e9) + 2000000000u;
    for (uint32_t i = 0; i < cfg->threads; i++) {
        ret = pthread_create(&w[i].tid, NULL, worker_main, &w[i]);
        if (ret) {
            fprintf(stderr, "sipbench: thread: %s\n", strerror(ret));
            atomic_store(&sh.stop, 2);
            for (uint32_t j = i; j < cfg->threads; j++)
                atomic_store(&w[j].p_done, true);
            break;
        }
        w[i].running = true;
    }
    supervise(&sh, w, cfg->threads, &sigs, &res->interrupted);
    uint64_t first = UINT64_MAX, last_start = 0, last_end = 0;
    for (uint32_t i = 0; i < cfg->threads; i++) {
        if (!w[i].running)
            continue;
        pthread_join(w[i].tid, NULL);
        merge(res, &w[i].res);
        if (w[i].first_start && w[i].first_start < first)
            first = w[i].first_start;
        if (w[i].last_start > last_start)
            last_start = w[i].last_start;
        if (w[i].last_end > last_end)
            last_end = w[i].last_end;
    }
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    if (first != UINT64_MAX) {
        res->elapsed = last_end > first ? (double)(last_end - first) / 1e9 : 0;
        res->start_elapsed = (double)(last_start - first) / 1e9;
    }
out:
    for (uint32_t i = 0; i < made; i++)
        worker_free(&w[i]);
    free(w);
    return ret;
}
