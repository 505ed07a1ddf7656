/* rx.c: receiver threads: recvmmsg() batches from one socket each, handed to the rx hook. */
#define _GNU_SOURCE
#include "net/net_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/*
 * Stopping: net_rx_stop() sets rx_stop, then shutdown(SHUT_RD) on every
 * socket. On Linux that wakes a recvmmsg() blocked on an unconnected UDP
 * socket (which returns one empty "datagram" without a source address, and
 * keeps doing so), even though shutdown() itself reports ENOTCONN. The
 * receiver sees the flag after that batch and leaves; datagrams still in
 * the socket buffer then are dropped with it.
 */

static void rx_batch(struct net_receiver *r, unsigned n)
{
    struct net_runtime *rt = r->rt;

    for (unsigned i = 0; i < n; i++) {
        struct mmsghdr *m = &r->msgs[i];
        if (m->msg_hdr.msg_namelen == 0)
            continue; /* the wake-up of shutdown(), not a datagram */
        if (m->msg_hdr.msg_flags & MSG_TRUNC) {
            stat_inc(&r->stats.errors); /* longer than max_dgram */
            continue;
        }
        struct net_dgram d = {
            .data = (const char *)m->msg_hdr.msg_iov->iov_base,
            .len = m->msg_len,
            .sock = r->sock,
            .rt = rt,
            .receiver = r->index,
        };
        d.src.len =
            m->msg_hdr.msg_namelen < sizeof(d.src.ss) ? m->msg_hdr.msg_namelen : sizeof(d.src.ss);
        memcpy(&d.src.ss, m->msg_hdr.msg_name, d.src.len);
        stat_inc(&r->stats.datagrams);
        stat_add(&r->stats.bytes, m->msg_len);
        rt->cfg.rx(rt->cfg.arg, &d);
    }
}

static void *rx_main(void *arg)
{
    struct net_receiver *r = arg;
    struct net_runtime *rt = r->rt;
    unsigned batch = rt->cfg.batch;
    char name[16];

    snprintf(name, sizeof(name), "sipd-rx%u", r->index);
    pthread_setname_np(pthread_self(), name);
    if (rt->cfg.thread_start)
        rt->cfg.thread_start(rt->cfg.arg, r->index, false);
    net_thread_started(rt);

    while (!atomic_load_explicit(&rt->rx_stop, memory_order_acquire)) {
        for (unsigned i = 0; i < batch; i++) {
            r->msgs[i].msg_hdr.msg_namelen = sizeof(r->names[i]);
            r->msgs[i].msg_hdr.msg_flags = 0;
        }
        /* MSG_WAITFORONE: block for the first datagram, then take what is there */
        int n = recvmmsg(r->sock->fd, r->msgs, batch, MSG_WAITFORONE, NULL);
        if (n < 0) {
            int err = errno;
            if (err == EINTR || err == EAGAIN || err == EWOULDBLOCK)
                continue;
            stat_inc(&r->stats.errors);
            /* Not expected on a bound UDP socket; do not spin on it. */
            struct timespec pause = {.tv_sec = 0, .tv_nsec = 1000 * 1000};
            nanosleep(&pause, NULL);
            continue;
        }
        rx_batch(r, (unsigned)n);
    }

    if (rt->cfg.thread_stop)
        rt->cfg.thread_stop(rt->cfg.arg, r->index, false);
    return NULL;
}

static void rx_free(struct net_receiver *r)
{
    free(r->bufs);
    free(r->msgs);
    free(r->iov);
    free(r->names);
    r->bufs = NULL;
    r->msgs = NULL;
    r->iov = NULL;
    r->names = NULL;
}

static int rx_alloc(struct net_receiver *r, unsigned batch, size_t max_dgram)
{
    /* sizes were bounded by net_start(): batch <= NET_MAX_BATCH, max_dgram <= 64 KiB */
    r->bufs = malloc((size_t)batch * max_dgram);
    r->msgs = calloc(batch, sizeof(*r->msgs));
    r->iov = calloc(batch, sizeof(*r->iov));
    r->names = calloc(batch, sizeof(*r->names));
    if (!r->bufs || !r->msgs || !r->iov || !r->names) {
        rx_free(r);
        return ENOMEM;
    }
    for (unsigned i = 0; i < batch; i++) {
        r->iov[i].iov_base = r->bufs + (size_t)i * max_dgram;
        r->iov[i].iov_len = max_dgram;
        r->msgs[i].msg_hdr.msg_iov = &r->iov[i];
        r->msgs[i].msg_hdr.msg_iovlen = 1;
        r->msgs[i].msg_hdr.msg_name = &r->names[i];
        r->msgs[i].msg_hdr.msg_namelen = sizeof(r->names[i]);
    }
    return 0;
}

int net_rx_start(struct net_runtime *rt, char *why, size_t why_cap)
{
    int err;

    for (unsigned i = 0; i < rt->receiver_n; i++) {
        struct net_receiver *r = &rt->receivers[i];
        r->rt = rt;
        r->sock = &rt->socks[i];
        r->index = i;
        if ((err = rx_alloc(r, rt->cfg.batch, rt->cfg.max_dgram)) != 0)
            return net_why(why, why_cap, err, "receiver %u: out of memory for %u x %zu bytes", i,
                           rt->cfg.batch, rt->cfg.max_dgram);
    }
    for (unsigned i = 0; i < rt->receiver_n; i++) {
        struct net_receiver *r = &rt->receivers[i];
        char ebuf[64];
        if ((err = pthread_create(&r->thread, NULL, rx_main, r)) != 0)
            return net_why(why, why_cap, err, "receiver %u: pthread_create: %s", i,
                           net_strerror(err, ebuf, sizeof(ebuf)));
        r->started = true;
    }
    return 0;
}

void net_rx_stop(struct net_runtime *rt)
{
    atomic_store_explicit(&rt->rx_stop, true, memory_order_release);
    for (unsigned i = 0; i < rt->receiver_n; i++) {
        if (rt->receivers[i].started)
            (void)shutdown(rt->receivers[i].sock->fd, SHUT_RD); /* ENOTCONN, but wakes it */
    }
    for (unsigned i = 0; i < rt->receiver_n; i++) {
        struct net_receiver *r = &rt->receivers[i];
        if (r->started)
            pthread_join(r->thread, NULL);
        r->started = false;
        rx_free(r);
    }
}
