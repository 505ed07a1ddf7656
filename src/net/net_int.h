/* net_int.h: the runtime's private structures, shared by the files of src/net/. */
#ifndef SIPD_NET_INT_H
#define SIPD_NET_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net/net.h"

#define NET_CACHE_LINE 64

/* A worker's depth once it has exited: net_dispatch() refuses with ESHUTDOWN. */
#define NET_DEPTH_CLOSED (UINT64_C(1) << 63)

/*
 * A worker's transmit batch (see "Sending" in worker.c): datagrams its
 * thread sent during the current batch of items, in order, waiting for one
 * sendmmsg() per run of the same socket.
 */
#define NET_SEND_RETRIES 2             /* after EAGAIN / ENOBUFS, each after a wait of */
#define NET_SEND_WAIT_MS 1             /* at most this */
#define NET_TX_MAX       64            /* datagrams */
#define NET_TX_BUF       (64u * 1024u) /* their bytes */
struct net_txq {
    unsigned n;
    size_t used;
    int fd[NET_TX_MAX];
    struct mmsghdr msgs[NET_TX_MAX];
    struct iovec iov[NET_TX_MAX];
    struct sockaddr_storage dst[NET_TX_MAX];
    char buf[NET_TX_BUF];
};

/*
 * One worker. The consumer's half (the queue head, the worker's own
 * fields) and the producers' half (the tail every enqueue exchanges, the
 * depth every dispatch reserves, the sleep word every dispatch reads) sit
 * on separate cache lines, as urcu/wfcqueue.h advises for head and tail.
 */
struct net_worker {
    /* consumer side: written by the worker thread only */
    struct __cds_wfcq_head head;
    struct net_runtime *rt;
    unsigned index;
    void *ctx;
    struct net_txq *tx; /* allocated by net_workers_start() */
    pthread_t thread;
    bool started; /* pthread_create succeeded; main thread only */

    /* producer side */
    _Alignas(NET_CACHE_LINE) struct cds_wfcq_tail tail;
    /* 0 awake, -1 asleep or about to sleep (see worker.c). A futex word. */
    _Atomic int32_t sleep_state;
    struct net_worker_stats stats;
};

/* One receiver thread and the socket it alone reads. */
struct net_receiver {
    struct net_runtime *rt;
    struct net_sock *sock;
    unsigned index;
    pthread_t thread;
    bool started;
    char *bufs;                     /* batch x max_dgram */
    struct mmsghdr *msgs;           /* batch */
    struct iovec *iov;              /* batch */
    struct sockaddr_storage *names; /* batch */
    _Alignas(NET_CACHE_LINE) struct net_rx_stats stats;
};

/* A listen entry as the runtime keeps it. */
struct net_rt_listen {
    struct net_listen listen; /* with the bound port */
    struct net_addr asked;    /* the address as configured (port 0 stays 0) */
    unsigned first_sock;      /* its sockets are socks[first_sock .. + receivers) */
    unsigned sock_n;
};

struct net_runtime {
    struct net_cfg cfg; /* defaults applied; cfg.listens is not used after start */
    struct net_rt_listen *listens;
    size_t listen_n;
    struct net_sock *socks;
    unsigned sock_n;
    struct net_receiver *receivers; /* one per socket */
    unsigned receiver_n;
    struct net_worker *workers;
    unsigned worker_n;
    atomic_bool rx_stop;
    atomic_bool worker_stop;

    /* net_start() waits until every started thread ran its start hook */
    pthread_mutex_t start_lock;
    pthread_cond_t start_cond;
    unsigned started_n;
};

/* Formats a reason into why (when why_cap > 0); returns err. */
int net_why(char *why, size_t cap, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* strerror, thread-safe: the text, in buf or static. */
const char *net_strerror(int err, char *buf, size_t cap);

/* A thread ran its start hook (or failed to start); wakes net_start(). */
void net_thread_started(struct net_runtime *rt);

/* udp.c: binds the sockets of every UDP listen entry (rt->socks). */
int net_udp_open(struct net_runtime *rt, char *why, size_t why_cap);
void net_udp_close(struct net_runtime *rt);

/* rx.c */
int net_rx_start(struct net_runtime *rt, char *why, size_t why_cap);
void net_rx_stop(struct net_runtime *rt);

/* udp.c: after a failed send with errno err: true (after waiting for room,
 * at most NET_SEND_WAIT_MS) when it is worth trying again, counting the
 * retries in *retries; false when err is final. */
bool net_send_again(int fd, int err, unsigned *retries);
/* udp.c: one sendto() with net_send()'s retries; 0 or an errno value. */
int net_send_now(int fd, const struct sockaddr *dst, socklen_t dst_len, const void *buf,
                 size_t len);

/* worker.c */
/* On a worker thread: queues the datagram in its transmit batch and returns
 * true; elsewhere (or when it cannot hold it) returns false. */
/* Sends the worker's transmit batch (on its own thread). */
void net_tx_flush(struct net_worker *w);
bool net_tx_queue(int fd, const struct sockaddr *dst, socklen_t dst_len, const void *buf,
                  size_t len);
int net_workers_start(struct net_runtime *rt, char *why, size_t why_cap);
void net_workers_stop(struct net_runtime *rt);

#endif
