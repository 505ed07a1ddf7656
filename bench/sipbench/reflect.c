/* reflect.c: sipbench reflect: parse a request, answer 401 / 200 from its own header lines.
 *
 * Each thread owns one UDP socket bound with SO_REUSEPORT to the same
 * address (the kernel spreads the peers over them), a batch of receive
 * and reply buffers and a parse arena; nothing is shared but the stop
 * flag and, at the end, the counters. A reply is sip_build_reply() over
 * the parsed request (every Via, From, To with a tag, Call-ID, CSeq) with
 * the challenge lines added to a 401: the cost of a stateless answer with
 * sipd's own parser and builder, and no routing, database or state.
 */
#define _GNU_SOURCE /* recvmmsg, sendmmsg */
#include "reflect.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/arena.h"
#include "sip/sip.h"

#define RF_RX_MAX        8192
#define RF_TX_MAX        2048
#define RF_ARENA         16384
#define RF_NONCE         "c2lwYmVuY2ggcmVmbGVjdCBub25jZQ" /* fixed: nothing is checked */
#define RF_CHALLENGE_MAX 1024

struct rf_shared {
    const struct sb_reflect_config *cfg;
    _Atomic bool stop;
    char challenge[RF_CHALLENGE_MAX]; /* the WWW-Authenticate lines of every 401 */
    size_t challenge_len;
};

struct rf_worker {
    struct rf_shared *sh;
    int fd;
    pthread_t tid;
    bool running;
    struct mmsghdr *rx, *tx;
    struct iovec *rx_iov, *tx_iov;
    struct sockaddr_storage *peers;
    char *rx_buf, *tx_buf;
    struct arena arena;
    char *arena_buf;
    uint64_t received, replied_100, replied_401, replied_200, ignored, send_errors;
};

/* The replies to one datagram into out (RF_TX_MAX each): their count (0 for
 * none, 2 with a 100 Trying first), lens[] their lengths. */
static unsigned answer(struct rf_worker *w, const char *in, size_t len, char *out, size_t lens[2])
{
    struct sip_msg msg;
    struct sip_error err;
    arena_reset(&w->arena);
    if (sip_msg_parse(&msg, &w->arena, in, len, &sip_limits_default, 0, &err) != 0 ||
        !msg.is_request || !msg.keys_ok)
        return 0;
    unsigned code;
    struct sip_reply_opts opts = {.to_tag = SLICE_NULL};
    if (msg.method_id == SIP_METHOD_REGISTER) {
        bool has_auth = msg.first[SIP_HDR_AUTHORIZATION] || msg.first[SIP_HDR_PROXY_AUTHORIZATION];
        code = has_auth ? 200 : 401;
        if (!has_auth)
            opts.extra_headers = slice_make(w->sh->challenge, w->sh->challenge_len);
    } else if (msg.method_id == SIP_METHOD_OPTIONS) {
        code = 200;
    } else {
        return 0;
    }
    unsigned n = 0;
    if (w->sh->cfg->trying && msg.method_id == SIP_METHOD_REGISTER) {
        struct sip_reply_opts none = {.to_tag = SLICE_NULL};
        struct sip_buf t = {out, 0, RF_TX_MAX};
        if (sip_build_reply(&t, &msg, 100, SLICE_NULL, &none) != 0)
            return 0;
        lens[n++] = t.len;
        w->replied_100++;
    }
    struct sip_buf b = {out + (size_t)n * RF_TX_MAX, 0, RF_TX_MAX};
    if (sip_build_reply(&b, &msg, code, SLICE_NULL, &opts) != 0)
        return 0;
    if (code == 401)
        w->replied_401++;
    else
        w->replied_200++;
    lens[n++] = b.len;
    return n;
}

static void *worker_main(void *arg)
{
    struct rf_worker *w = arg;
    unsigned batch = w->sh->cfg->batch;
    while (!atomic_load_explicit(&w->sh->stop, memory_order_relaxed)) {
        for (unsigned i = 0; i < batch; i++)
            w->rx[i].msg_hdr.msg_namelen = sizeof(w->peers[i]);
        int n = recvmmsg(w->fd, w->rx, batch, MSG_WAITFORONE, NULL);
        if (n <= 0)
            continue; /* the 100 ms receive timeout, EINTR: look at the stop flag */
        unsigned m = 0;
        for (int i = 0; i < n; i++) {
            w->received++;
            size_t lens[2];
            unsigned k = 0;
            if (!(w->rx[i].msg_hdr.msg_flags & MSG_TRUNC))
                k = answer(w, w->rx_buf + (size_t)i * RF_RX_MAX, w->rx[i].msg_len,
                           w->tx_buf + (size_t)m * RF_TX_MAX, lens);
            if (k == 0) {
                w->ignored++;
                continue;
            }
            for (unsigned j = 0; j < k; j++, m++) {
                w->tx_iov[m] = (struct iovec){w->tx_buf + (size_t)m * RF_TX_MAX, lens[j]};
                w->tx[m].msg_hdr = (struct msghdr){.msg_name = &w->peers[i],
                                                   .msg_namelen = w->rx[i].msg_hdr.msg_namelen,
                                                   .msg_iov = &w->tx_iov[m],
                                                   .msg_iovlen = 1};
            }
        }
        unsigned sent = 0;
        while (sent < m) {
            int k = sendmmsg(w->fd, w->tx + sent, m - sent, 0);
            if (k < 0) {
                if (errno == EINTR)
                    continue;
                w->send_errors++; /* that peer went away: skip its reply */
                sent++;
                continue;
            }
            sent += (unsigned)k;
        }
    }
    return NULL;
}

static void worker_free(struct rf_worker *w)
{
    if (w->fd >= 0)
        close(w->fd);
    free(w->rx);
    free(w->tx);
    free(w->rx_iov);
    free(w->tx_iov);
    free(w->peers);
    free(w->rx_buf);
    free(w->tx_buf);
    arena_free(&w->arena);
    free(w->arena_buf);
}

static int worker_init(struct rf_worker *w, struct rf_shared *sh, const struct sb_addr *addr)
{
    unsigned batch = sh->cfg->batch;
    memset(w, 0, sizeof(*w));
    w->sh = sh;
    w->fd = sb_udp_socket((const struct sockaddr *)&addr->ss, (const struct sockaddr *)&addr->ss,
                          addr->len, true);
    if (w->fd < 0) {
        fprintf(stderr, "sipbench reflect: %s:%u: %s\n", addr->host, addr->port, strerror(errno));
        return errno;
    }
    struct timeval tv = {0, 100000}; /* the stop flag is looked at this often */
    setsockopt(w->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    w->rx = calloc(batch, sizeof(*w->rx));
    w->tx = calloc(2 * (size_t)batch, sizeof(*w->tx));
    w->rx_iov = calloc(batch, sizeof(*w->rx_iov));
    w->tx_iov = calloc(2 * (size_t)batch, sizeof(*w->tx_iov));
    w->peers = calloc(batch, sizeof(*w->peers));
    w->rx_buf = malloc((size_t)batch * RF_RX_MAX);
    w->tx_buf = malloc(2 * (size_t)batch * RF_TX_MAX);
    w->arena_buf = malloc(RF_ARENA);
    if (!w->rx || !w->tx || !w->rx_iov || !w->tx_iov || !w->peers || !w->rx_buf || !w->tx_buf ||
        !w->arena_buf) {
        fputs("sipbench reflect: out of memory\n", stderr);
        return ENOMEM;
    }
    arena_init(&w->arena, w->arena_buf, RF_ARENA, 4 * RF_ARENA);
    for (unsigned i = 0; i < batch; i++) {
        w->rx_iov[i] = (struct iovec){w->rx_buf + (size_t)i * RF_RX_MAX, RF_RX_MAX};
        w->rx[i].msg_hdr = (struct msghdr){.msg_name = &w->peers[i],
                                           .msg_namelen = sizeof(w->peers[i]),
                                           .msg_iov = &w->rx_iov[i],
                                           .msg_iovlen = 1};
    }
    return 0;
}

/* The 401's challenge lines, one per algorithm listed. */
static int make_challenge(struct rf_shared *sh)
{
    const struct sb_reflect_config *cfg = sh->cfg;
    const char *p = cfg->algorithms;
    size_t len = 0;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        int w =
            snprintf(sh->challenge + len, sizeof(sh->challenge) - len,
                     "WWW-Authenticate: Digest realm=\"%s\", nonce=\"%s\", algorithm=%.*s%s\r\n",
                     cfg->realm, RF_NONCE, (int)n, p, cfg->qop ? ", qop=\"auth\"" : "");
        if (w < 0 || (size_t)w >= sizeof(sh->challenge) - len)
            return ENOSPC;
        len += (size_t)w;
        p += n + (comma != NULL);
    }
    sh->challenge_len = len;
    return 0;
}

int sb_reflect(const struct sb_reflect_config *cfg)
{
    struct rf_shared sh = {.cfg = cfg};
    struct sb_addr addr = cfg->listen;
    int status = 1;

    if (make_challenge(&sh) != 0) {
        fputs("sipbench reflect: challenge too long (--realm)\n", stderr);
        return 2;
    }
    struct rf_worker *w = calloc(cfg->threads, sizeof(*w));
    if (!w) {
        fputs("sipbench reflect: out of memory\n", stderr);
        return 1;
    }
    for (uint32_t i = 0; i < cfg->threads; i++)
        w[i].fd = -1;
    /* the signals wait in sigtimedwait below, in no thread's handler */
    sigset_t sigs, old_mask;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, &old_mask);

    for (uint32_t i = 0; i < cfg->threads; i++) {
        if (worker_init(&w[i], &sh, &addr) != 0)
            goto out;
        if (i == 0 && addr.port == 0) { /* the other sockets join the port the first one got */
            struct sockaddr_storage me;
            socklen_t len = sizeof(me);
            if (getsockname(w[0].fd, (struct sockaddr *)&me, &len) != 0)
                goto out;
            addr.port = sb_addr_port((struct sockaddr *)&me);
            sb_addr_set_port(&addr.ss, addr.port);
        }
    }
    printf("%u\n", addr.port);
    fflush(stdout);
    for (uint32_t i = 0; i < cfg->threads; i++) {
        if (pthread_create(&w[i].tid, NULL, worker_main, &w[i]) != 0) {
            fputs("sipbench reflect: cannot start a thread\n", stderr);
            break;
        }
        w[i].running = true;
    }
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        double left = cfg->duration -
                      ((double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9);
        if (left <= 0)
            break;
        if (left > 0.5)
            left = 0.5;
        struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
        if (sigtimedwait(&sigs, NULL, &ts) > 0)
            break;
    }
    atomic_store(&sh.stop, true);
    uint64_t received = 0, r100 = 0, r401 = 0, r200 = 0, ignored = 0, send_errors = 0;
    for (uint32_t i = 0; i < cfg->threads; i++) {
        if (!w[i].running)
            continue;
        pthread_join(w[i].tid, NULL);
        received += w[i].received;
        r100 += w[i].replied_100;
        r401 += w[i].replied_401;
        r200 += w[i].replied_200;
        ignored += w[i].ignored;
        send_errors += w[i].send_errors;
    }
    fprintf(stderr,
            "sipbench reflect: received %" PRIu64 ", replied 100 %" PRIu64 ", 401 %" PRIu64
            ", 200 %" PRIu64 ", ignored %" PRIu64 ", send errors %" PRIu64 "\n",
            received, r100, r401, r200, ignored, send_errors);
    status = 0;
out:
    for (uint32_t i = 0; i < cfg->threads; i++)
        worker_free(&w[i]);
    free(w);
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    return status;
}
