/* net.h: listen addresses, UDP sockets, receiver threads, worker queues and threads, sending. */
#ifndef SIPD_NET_H
#define SIPD_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <urcu/wfcqueue.h>

#include "core/stats.h"

/*
 * Data flow (DESIGN.md): per listen address, one UDP socket per receiver
 * thread, all bound with SO_REUSEPORT. A receiver reads batches with
 * recvmmsg() and hands each datagram to the upper layer's rx hook, on the
 * receiver thread. The hook parses, replies or drops right there, or pushes
 * an item onto a worker's queue with net_dispatch(). Each worker owns one
 * liburcu wfcqueue (many producers, one consumer, no lock), sleeps on a
 * futex when it is empty, and runs the upper layer's work hook per item.
 * net knows nothing of SIP: items are embedded in the upper layer's objects.
 */

/* ---------------------------------------------------------------- addresses */

enum net_proto { NET_PROTO_UDP = 0, NET_PROTO_TCP, NET_PROTO_TLS };

struct net_addr {
    struct sockaddr_storage ss;
    socklen_t len;
};

/* One listen entry of the config: "udp:192.0.2.1:5060", "[::1]:5070", "::1", "10.0.0.1". */
struct net_listen {
    enum net_proto proto;
    struct net_addr addr;
    char host[64];  /* the address as canonical text without brackets ("::1") */
    uint16_t port;
};

/*
 * Parses a listen entry: an optional "udp:", "tcp:" or "tls:" prefix (any
 * case; udp when absent), then "IPv4", "IPv4:port", "IPv6", "[IPv6]" or
 * "[IPv6]:port". The port is default_port when the text has none; port 0
 * asks net_start() for a free port chosen by the kernel (tests). Only
 * numeric addresses: sipd does no DNS at startup. 0, or EINVAL with the
 * reason in why ("bad port 70000", "not a numeric IP address: foo").
 * Any thread; no shared state.
 */
int net_listen_parse(const char *text, uint16_t default_port, struct net_listen *out, char *why,
                     size_t why_cap);
/*
 * "192.0.2.1:5060" or "[2001:db8::1]:5060" ("unknown" for another family).
 * Returns the length written, truncated to cap-1; buf is always terminated
 * when cap > 0.
 */
size_t net_addr_format(const struct sockaddr *sa, char *buf, size_t cap);
/* The bare IP text ("192.0.2.1", "2001:db8::1"), as net_addr_format. */
size_t net_addr_ip(const struct sockaddr *sa, char *buf, size_t cap);
/* The port in host order; 0 for a family without ports. */
uint16_t net_addr_port(const struct sockaddr *sa);
/*
 * Same address and port (and IPv6 scope). An IPv4-mapped IPv6 address
 * (::ffff:192.0.2.1) equals its IPv4 form: both name the same IPv4 peer, and
 * a dual-stack socket reports IPv4 peers that way. sipd's own IPv6 sockets
 * are IPv6-only, so this only matters for addresses from text (a Via, a
 * Contact, a config entry).
 */
bool net_addr_eq(const struct sockaddr *a, const struct sockaddr *b);
/*
 * Parses a numeric IP and port into out. ip is a slice (no terminator
 * needed); an IPv6 address may come bracketed ("[::1]", as in a URI host).
 * 0 or EINVAL.
 */
int net_addr_from_ip(const char *ip, size_t ip_len, uint16_t port, struct net_addr *out);

/* ---------------------------------------------------------------- runtime */

struct net_runtime;
struct net_worker;

/* A socket sipd received on; replies leave from it. */
struct net_sock {
    int fd;
    enum net_proto proto;
    /* The runtime's copy of the config entry it serves, with the port the
     * kernel chose when the entry asked for port 0. */
    const struct net_listen *listen;
    struct net_addr local; /* the bound address (getsockname) */
};

/* A queue item; the upper layer embeds it and uses container_of. */
struct net_item {
    struct cds_wfcq_node node;
};

/* One datagram, valid only during the rx hook call. */
struct net_dgram {
    const char *data;
    size_t len;
    struct net_addr src;
    struct net_sock *sock;
    struct net_runtime *rt; /* for net_dispatch(), valid from the first datagram on */
    unsigned receiver;      /* the receiver thread's index, as given to thread_start */
};

/* Runs on a receiver thread for every datagram. */
typedef void net_rx_fn(void *arg, const struct net_dgram *d);
/* Runs on a worker thread for every item; the callee owns (frees) the item. */
typedef void net_work_fn(void *arg, struct net_worker *w, struct net_item *item);
/*
 * Thread start/stop hooks (RCU registration, per-thread contexts); may be
 * NULL. 'index' is the worker or receiver number: workers count 0..W-1,
 * receivers 0..R-1 (R = receivers x UDP listen entries) separately. Per
 * thread state can live in arrays indexed by it (the work hook has
 * net_worker_index(w), the rx hook d->receiver) or be attached to a worker
 * with net_worker_set_ctx() from its first work or tick call. start runs on
 * the new thread before it handles anything; stop runs on it after its last
 * item or datagram.
 */
typedef void net_thread_fn(void *arg, unsigned index, bool is_worker);
/*
 * Runs on a worker thread between items: after each batch of items (at
 * most 'batch' of them; idle false), and just before the worker goes to
 * sleep because its queue is empty (idle true). Returns the milliseconds
 * the worker may sleep before the hook must run again (its next timer), 0
 * for "run me again now", or -1 for "until an item arrives" (only the
 * value of an idle call is used). A call with idle true is always
 * followed, after the sleep (or when an item arrived meanwhile), by a call
 * with idle false before the next work call: the place for timers, and for
 * rcu_thread_offline()/rcu_thread_online() around a QSBR worker's sleep.
 */
typedef int net_tick_fn(void *arg, struct net_worker *w, bool idle);

#define NET_DEFAULT_BATCH       32u
#define NET_MAX_BATCH           1024u /* the kernel's limit for one recvmmsg() (UIO_MAXIOV) */
#define NET_DEFAULT_MAX_DGRAM   65535u
#define NET_DEFAULT_QUEUE_BOUND 16384u

struct net_cfg {
    const struct net_listen *listens; /* copied by net_start() */
    size_t listen_n;       /* may be 0: workers only */
    unsigned receivers;    /* receiver threads (and sockets) per UDP listen entry, >= 1 */
    unsigned workers;      /* worker threads, SER's "children", >= 1 */
    unsigned queue_bound;  /* items a worker queue may hold before net_dispatch says EAGAIN;
                              0: NET_DEFAULT_QUEUE_BOUND */
    unsigned batch;        /* datagrams per recvmmsg() and items per tick; 0: NET_DEFAULT_BATCH,
                              at most NET_MAX_BATCH */
    size_t max_dgram;      /* receive buffer per datagram; 0: NET_DEFAULT_MAX_DGRAM. A longer
                              datagram is counted in errors and dropped */
    net_rx_fn *rx;         /* required when there is a UDP listen entry */
    net_work_fn *work;     /* required */
    net_tick_fn *tick;     /* may be NULL: workers then sleep until an item arrives */
    net_thread_fn *thread_start;
    net_thread_fn *thread_stop;
    void *arg;             /* passed to every hook */
};

/*
 * Per-worker and per-receiver counters (read with stat_get from any thread
 * while the runtime lives). A worker's depth counts items net_dispatch()
 * accepted that the worker has not yet taken into a batch; once the worker
 * has exited in net_stop() it reads as 2^63 (closed). processed grows by
 * a batch at a time, after the batch's work calls.
 */
struct net_worker_stats {
    stat_counter processed;
    stat_counter depth;    /* items queued now */
    stat_counter overload; /* net_dispatch refusals */
    stat_counter sent;        /* datagrams the worker's transmit batches sent */
    stat_counter send_calls;  /* the sendmmsg() calls that sent them */
    stat_counter send_errors; /* datagrams of those batches that could not be sent */
};
struct net_rx_stats {
    stat_counter datagrams;
    stat_counter bytes;
    stat_counter errors;   /* truncated datagrams and failed reads */
};

/*
 * Binds every socket (errors name the address: "bind 192.0.2.1:5060:
 * Address already in use"), then starts workers and receivers, and returns
 * once every thread_start hook has run. Before binding a listen entry's
 * SO_REUSEPORT group, a probe socket without SO_REUSEPORT is bound to the
 * address: it fails when anything (another sipd too) already holds the
 * port, and for port 0 it picks the free port the whole group then binds.
 * IPv6 sockets are IPv6-only, so IPv4 and IPv6 entries can share a port.
 * Returns 0, EPROTONOSUPPORT for a tcp or tls entry ("not supported yet"),
 * EINVAL for a bad cfg, or the errno of the failing call, with the reason in
 * why. On failure nothing is left running. Call from the main thread.
 */
int net_start(struct net_runtime **rtp, const struct net_cfg *cfg, char *why, size_t why_cap);

/*
 * Graceful stop: receivers stop reading and are joined, then every worker
 * drains its queue and is joined, then the sockets are closed and rt freed.
 * Only workers may still dispatch while it runs (receivers are gone): an
 * item dispatched to a worker that has already exited is refused with
 * ESHUTDOWN. Call from the main thread, once no other thread calls into rt.
 */
void net_stop(struct net_runtime *rt);

/*
 * Hands an item to worker 'index' (taken modulo the worker count). From any
 * thread while the runtime lives. Returns 0 (the worker owns the item now),
 * or EAGAIN when that queue holds queue_bound items, or ESHUTDOWN during
 * net_stop() (see there); on error the item is not queued and still belongs
 * to the caller. Items a producer hands to one worker are processed in the
 * order it handed them.
 */
int net_dispatch(struct net_runtime *rt, unsigned index, struct net_item *item);

/* Accessors: from any thread while the runtime lives. */
unsigned net_worker_count(const struct net_runtime *rt);
unsigned net_receiver_count(const struct net_runtime *rt);
unsigned net_worker_index(const struct net_worker *w);
struct net_runtime *net_worker_runtime(const struct net_worker *w);
const struct net_worker_stats *net_worker_stats(const struct net_runtime *rt, unsigned index);
const struct net_rx_stats *net_rx_stats(const struct net_runtime *rt, unsigned index);
/* The per-worker context pointer; set and read it on that worker's thread. */
void net_worker_set_ctx(struct net_worker *w, void *ctx);
void *net_worker_ctx(const struct net_worker *w);
/*
 * The first socket of a listen entry, e.g. for sending requests not tied to
 * a received one. 'listen' is the caller's config entry (matched by
 * protocol and address, port 0 included) or a sock->listen. NULL if none.
 */
struct net_sock *net_socket_for(struct net_runtime *rt, const struct net_listen *listen);

/*
 * Sends one datagram from sock without blocking; EAGAIN and ENOBUFS (full
 * socket buffer or device queue) are retried twice after waiting up to 1 ms
 * each, then returned. Thread-safe. 0 or an errno value.
 * On a worker thread the datagram is queued instead (0 then means queued)
 * and leaves in one sendmmsg() with the others of the worker's batch, in
 * order (worker.c, "Sending"); a failure is then counted in the worker's
 * send_errors and logged.
 */
int net_send(const struct net_sock *sock, const struct sockaddr *dst, socklen_t dst_len,
             const void *buf, size_t len);

#endif
