/* udp_test.c: tests src/net/udp.c and rx.c on loopback: echo, sources, truncation, stop under load.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <urcu/compiler.h>

#include "net/net.h"

#define SA(a) ((const struct sockaddr *)&(a).ss)

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static struct net_listen parse_listen(const char *text)
{
    struct net_listen l;
    char why[128];
    if (net_listen_parse(text, 5060, &l, why, sizeof(why)) != 0)
        fail_msg("%s: %s", text, why);
    return l;
}

/* A client socket bound to the loopback address of 'family', port chosen by the kernel. */
static int client_socket(int family, struct net_addr *local)
{
    struct net_addr any;
    int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {.tv_sec = 5};

    assert_true(fd >= 0);
    assert_int_equal(net_addr_from_ip(family == AF_INET ? "127.0.0.1" : "::1",
                                      family == AF_INET ? 9 : 3, 0, &any),
                     0);
    assert_int_equal(bind(fd, SA(any), any.len), 0);
    local->len = sizeof(local->ss);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&local->ss, &local->len), 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static uint64_t rx_sum(struct net_runtime *rt, size_t field)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < net_receiver_count(rt); i++)
        sum += stat_get((const stat_counter *)((const char *)net_rx_stats(rt, i) + field));
    return sum;
}
#define RX_DATAGRAMS(rt) rx_sum((rt), offsetof(struct net_rx_stats, datagrams))
#define RX_BYTES(rt)     rx_sum((rt), offsetof(struct net_rx_stats, bytes))
#define RX_ERRORS(rt)    rx_sum((rt), offsetof(struct net_rx_stats, errors))

/* ------------------------------------------------ echo from the socket it came in on */

#define CLIENTS 32 /* all on one socket of a group of two: 2^-31 */

struct echo_test {
    pthread_mutex_t lock;
    struct net_addr last_src;   /* of the last datagram */
    struct net_addr last_local; /* d->sock->local */
    unsigned receivers_seen;    /* bit per receiver index */
    unsigned bad;               /* hook-side failures */
    struct net_runtime *rt_seen;
    unsigned rx_thread_starts;
};

static void echo_thread_start(void *arg, unsigned index, bool is_worker)
{
    struct echo_test *t = arg;
    pthread_mutex_lock(&t->lock);
    if (!is_worker)
        t->rx_thread_starts++;
    (void)index;
    pthread_mutex_unlock(&t->lock);
}

static void echo_rx(void *arg, const struct net_dgram *d)
{
    struct echo_test *t = arg;
    char out[256];
    int n = snprintf(out, sizeof(out), "pong:%.*s", (int)(d->len < 200 ? d->len : 200), d->data);

    pthread_mutex_lock(&t->lock);
    t->last_src = d->src;
    t->last_local = d->sock->local;
    t->receivers_seen |= 1u << (d->receiver & 31);
    t->rt_seen = d->rt;
    if (d->sock->listen->port != net_addr_port(SA(d->sock->local)))
        t->bad++;
    pthread_mutex_unlock(&t->lock);
    if (net_send(d->sock, SA(d->src), d->src.len, out, (size_t)n) != 0) {
        pthread_mutex_lock(&t->lock);
        t->bad++;
        pthread_mutex_unlock(&t->lock);
    }
}

static void noop_work(void *arg, struct net_worker *w, struct net_item *item)
{
    (void)arg;
    (void)w;
    (void)item;
}

/* Sends "ping <i>" from 'fd' to 'server' and checks the answer and what the hook saw. */
static void ping(struct echo_test *t, struct net_runtime *rt, int fd, const struct net_addr *local,
                 const struct net_addr *server, unsigned i)
{
    char msg[64], want[80], got[256];
    struct net_addr from = {.len = sizeof(from.ss)};
    int n = snprintf(msg, sizeof(msg), "ping %u", i);

    snprintf(want, sizeof(want), "pong:%s", msg);
    assert_int_equal(sendto(fd, msg, (size_t)n, 0, SA(*server), server->len), n);
    ssize_t r = recvfrom(fd, got, sizeof(got) - 1, 0, (struct sockaddr *)&from.ss, &from.len);
    assert_true(r > 0);
    got[r] = '\0';
    assert_string_equal(got, want);
    /* the reply left from the server's port, whichever socket of the group got it */
    assert_true(net_addr_eq(SA(from), SA(*server)));
    pthread_mutex_lock(&t->lock);
    assert_true(net_addr_eq(SA(t->last_src), SA(*local)));
    assert_true(net_addr_eq(SA(t->last_local), SA(*server)));
    assert_ptr_equal(t->rt_seen, rt);
    pthread_mutex_unlock(&t->lock);
}

static void test_echo(void **state)
{
    struct echo_test t = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct net_listen listens[2] = {parse_listen("udp:127.0.0.1:0"), parse_listen("[::1]:0")};
    struct net_runtime *rt;
    char why[160];

    (void)state;
    struct net_cfg cfg = {
        .listens = listens,
        .listen_n = 2,
        .receivers = 2,
        .workers = 1,
        .rx = echo_rx,
        .work = noop_work,
        .thread_start = echo_thread_start,
        .arg = &t,
    };
    int err = net_start(&rt, &cfg, why, sizeof(why));
    if (err)
        fail_msg("net_start: %s", why);
    assert_int_equal(net_receiver_count(rt), 4);
    assert_int_equal(t.rx_thread_starts, 4);

    for (unsigned l = 0; l < 2; l++) {
        /* the caller's entry (port 0) finds the socket, which knows its real port */
        struct net_sock *s = net_socket_for(rt, &listens[l]);
        assert_non_null(s);
        assert_ptr_equal(net_socket_for(rt, s->listen), s);
        uint16_t port = net_addr_port(SA(s->local));
        assert_true(port != 0);
        assert_int_equal(s->listen->port, port);
        assert_int_equal(s->local.ss.ss_family, listens[l].addr.ss.ss_family);

        int family = listens[l].addr.ss.ss_family;
        for (unsigned c = 0; c < CLIENTS; c++) {
            struct net_addr local;
            int fd = client_socket(family, &local);
            for (unsigned i = 0; i < 3; i++)
                ping(&t, rt, fd, &local, &s->local, c * 10 + i);
            close(fd);
        }
    }
    struct net_listen other = parse_listen("127.0.0.2:5060");
    assert_null(net_socket_for(rt, &other));

    assert_int_equal(RX_DATAGRAMS(rt), 2 * CLIENTS * 3);
    assert_int_equal(RX_ERRORS(rt), 0);
    /* 32 source ports per family spread over both sockets of each group */
    print_message("receivers that got datagrams: 0x%x\n", t.receivers_seen);
    assert_true(t.receivers_seen == 0xf);
    assert_int_equal(t.bad, 0);
    net_stop(rt);
}

/* ------------------------------------------------ port sharing and conflicts */

static void test_bind_rules(void **state)
{
    struct net_listen l4 = parse_listen("127.0.0.1:0");
    struct net_runtime *rt1, *rt2;
    char why[160], want[160];

    (void)state;
    struct net_cfg cfg = {.listens = &l4,
                          .listen_n = 1,
                          .receivers = 2,
                          .workers = 1,
                          .rx = echo_rx,
                          .work = noop_work};
    assert_int_equal(net_start(&rt1, &cfg, why, sizeof(why)), 0);
    uint16_t port = net_socket_for(rt1, &l4)->listen->port;

    /* the same address and port again: refused, even by a SO_REUSEPORT group of ours */
    char text[64];
    snprintf(text, sizeof(text), "127.0.0.1:%u", port);
    struct net_listen again = parse_listen(text);
    cfg.listens = &again;
    rt2 = NULL;
    assert_int_equal(net_start(&rt2, &cfg, why, sizeof(why)), EADDRINUSE);
    snprintf(want, sizeof(want), "bind 127.0.0.1:%u: Address already in use", port);
    assert_string_equal(why, want);
    assert_null(rt2);

    /* IPv6 on the same port coexists (IPv6-only sockets) */
    snprintf(text, sizeof(text), "[::1]:%u", port);
    struct net_listen v6 = parse_listen(text);
    cfg.listens = &v6;
    int err = net_start(&rt2, &cfg, why, sizeof(why));
    if (err)
        fail_msg("IPv6 beside IPv4 on port %u: %s", port, why);
    net_stop(rt2);
    net_stop(rt1);

    /* tcp and tls are parsed but not served yet */
    struct net_listen tcp = parse_listen("tcp:127.0.0.1:5060");
    cfg.listens = &tcp;
    assert_int_equal(net_start(&rt2, &cfg, why, sizeof(why)), EPROTONOSUPPORT);
    assert_string_equal(why, "listen tcp:127.0.0.1:5060: tcp is not supported yet (only udp)");
    struct net_listen tls = parse_listen("tls:[::1]:5061");
    cfg.listens = &tls;
    assert_int_equal(net_start(&rt2, &cfg, why, sizeof(why)), EPROTONOSUPPORT);
    assert_string_equal(why, "listen tls:[::1]:5061: tls is not supported yet (only udp)");

    /* a UDP listen needs an rx hook and receivers */
    cfg.listens = &l4;
    cfg.rx = NULL;
    assert_int_equal(net_start(&rt2, &cfg, why, sizeof(why)), EINVAL);
    assert_string_equal(why, "no rx hook");
    cfg.rx = echo_rx;
    cfg.receivers = 0;
    assert_int_equal(net_start(&rt2, &cfg, why, sizeof(why)), EINVAL);
    assert_string_equal(why, "receivers must be 1..256, not 0");
}

/* ------------------------------------------------ truncation and send errors */

struct trunc_test {
    _Atomic unsigned got;
    _Atomic size_t last_len;
};

static void trunc_rx(void *arg, const struct net_dgram *d)
{
    struct trunc_test *t = arg;
    atomic_store(&t->last_len, d->len);
    atomic_fetch_add(&t->got, 1);
}

static void test_truncated_and_send(void **state)
{
    struct trunc_test t = {0};
    struct net_listen l = parse_listen("127.0.0.1:0");
    struct net_runtime *rt;
    struct net_addr local;
    char big[100], why[160];

    (void)state;
    struct net_cfg cfg = {.listens = &l,
                          .listen_n = 1,
                          .receivers = 1,
                          .workers = 1,
                          .max_dgram = 64,
                          .batch = 4,
                          .rx = trunc_rx,
                          .work = noop_work,
                          .arg = &t};
    assert_int_equal(net_start(&rt, &cfg, why, sizeof(why)), 0);
    struct net_sock *s = net_socket_for(rt, &l);
    int fd = client_socket(AF_INET, &local);

    memset(big, 'x', sizeof(big));
    assert_int_equal(sendto(fd, big, sizeof(big), 0, SA(s->local), s->local.len), sizeof(big));
    assert_int_equal(sendto(fd, big, 64, 0, SA(s->local), s->local.len), 64);
    assert_int_equal(sendto(fd, big, 10, 0, SA(s->local), s->local.len), 10);
    double until = now_s() + 5;
    while (atomic_load(&t.got) < 2 && now_s() < until)
        sleep_ms(1);
    assert_int_equal(atomic_load(&t.got), 2);
    assert_int_equal(atomic_load(&t.last_len), 10);
    assert_int_equal(RX_ERRORS(rt), 1);
    assert_int_equal(RX_DATAGRAMS(rt), 2);
    assert_int_equal(RX_BYTES(rt), 74);

    /* net_send: to the client, then to a family this socket cannot reach */
    assert_int_equal(net_send(s, SA(local), local.len, "hi", 2), 0);
    char got[8];
    assert_int_equal(recv(fd, got, sizeof(got), 0), 2);
    struct net_addr v6;
    assert_int_equal(net_addr_from_ip("::1", 3, 9, &v6), 0);
    int err = net_send(s, SA(v6), v6.len, "hi", 2);
    assert_true(err == EAFNOSUPPORT || err == EINVAL);
    assert_int_equal(net_send(NULL, SA(v6), v6.len, "hi", 2), EINVAL);
    close(fd);
    net_stop(rt);
}

/* ------------------------------------------------ rx -> workers, stop under load */

struct load_item {
    struct net_item item;
    size_t len;
    char data[];
};

struct load_test {
    _Atomic uint64_t dispatched, refused, processed, bytes;
    _Atomic bool blasting;
    struct net_addr server;
};

static void load_rx(void *arg, const struct net_dgram *d)
{
    struct load_test *t = arg;
    struct load_item *it = malloc(sizeof(*it) + d->len);
    if (!it)
        return;
    it->len = d->len;
    memcpy(it->data, d->data, d->len);
    /* a stand-in for hash(Call-ID): the source port */
    if (net_dispatch(d->rt, net_addr_port(SA(d->src)), &it->item) == 0) {
        atomic_fetch_add(&t->dispatched, 1);
    } else {
        atomic_fetch_add(&t->refused, 1);
        free(it);
    }
}

static void load_work(void *arg, struct net_worker *w, struct net_item *item)
{
    struct load_test *t = arg;
    struct load_item *it = caa_container_of(item, struct load_item, item);
    (void)w;
    atomic_fetch_add(&t->bytes, it->len);
    atomic_fetch_add(&t->processed, 1);
    free(it);
}

static void *blaster(void *arg)
{
    struct load_test *t = arg;
    struct net_addr local;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    char msg[200];
    (void)local;
    memset(msg, 'm', sizeof(msg));
    while (atomic_load_explicit(&t->blasting, memory_order_relaxed))
        (void)sendto(fd, msg, sizeof(msg), MSG_DONTWAIT, SA(t->server), t->server.len);
    close(fd);
    return NULL;
}

static void test_stop_under_load(void **state)
{
    struct load_test *t = calloc(1, sizeof(*t));
    struct net_listen l = parse_listen("127.0.0.1:0");
    struct net_runtime *rt;
    pthread_t th[2];
    char why[160];

    (void)state;
    assert_non_null(t);
    struct net_cfg cfg = {.listens = &l,
                          .listen_n = 1,
                          .receivers = 2,
                          .workers = 2,
                          .queue_bound = 512,
                          .rx = load_rx,
                          .work = load_work,
                          .arg = t};
    assert_int_equal(net_start(&rt, &cfg, why, sizeof(why)), 0);
    t->server = net_socket_for(rt, &l)->local;
    atomic_store(&t->blasting, true);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, blaster, t), 0);
    sleep_ms(300);

    double t0 = now_s();
    net_stop(rt); /* while the blasters still send */
    double took = now_s() - t0;
    atomic_store(&t->blasting, false);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);

    uint64_t dispatched = atomic_load(&t->dispatched), processed = atomic_load(&t->processed);
    print_message("under load: %llu dispatched, %llu refused, %llu processed; net_stop %.1f ms\n",
                  (unsigned long long)dispatched, (unsigned long long)atomic_load(&t->refused),
                  (unsigned long long)processed, took * 1000);
    assert_true(dispatched > 0);
    assert_int_equal(processed, dispatched); /* drained: nothing queued was lost */
    assert_int_equal(atomic_load(&t->bytes), processed * 200);
    assert_true(took < 2.0);
    free(t);
}

/* ------------------------------------------------ a worker's sends leave in batches, in order */

struct batch_item {
    struct net_item item;
    struct net_sock *sock;
    struct net_addr src;
    size_t len;
    char data[32];
};

static void batch_rx(void *arg, const struct net_dgram *d)
{
    struct batch_item *it = calloc(1, sizeof(*it));
    (void)arg;
    if (!it)
        return;
    it->sock = d->sock;
    it->src = d->src;
    it->len = d->len < sizeof(it->data) ? d->len : sizeof(it->data);
    memcpy(it->data, d->data, it->len);
    if (net_dispatch(d->rt, 0, &it->item) != 0)
        free(it);
}

/* Two answers per datagram, "a:<data>" and "b:<data>"; for "bad" one more
 * in between, to an address the IPv4 socket cannot reach. */
static void batch_work(void *arg, struct net_worker *w, struct net_item *item)
{
    _Atomic unsigned *bad = arg;
    struct batch_item *it = caa_container_of(item, struct batch_item, item);
    char out[40];
    (void)w;
    for (char c = 'a'; c <= 'b'; c++) {
        int n = snprintf(out, sizeof(out), "%c:%.*s", c, (int)it->len, it->data);
        if (net_send(it->sock, SA(it->src), it->src.len, out, (size_t)n) != 0)
            atomic_fetch_add(bad, 1);
        if (c == 'a' && it->len == 3 && memcmp(it->data, "bad", 3) == 0) {
            struct net_addr v6;
            assert_int_equal(net_addr_from_ip("::1", 3, 9, &v6), 0);
            /* queued: 0 now, the failure shows in send_errors */
            if (net_send(it->sock, SA(v6), v6.len, "x", 1) != 0)
                atomic_fetch_add(bad, 1);
        }
    }
    free(it);
}

static void test_worker_batched_send(void **state)
{
    _Atomic unsigned bad = 0;
    struct net_listen l = parse_listen("127.0.0.1:0");
    struct net_runtime *rt;
    struct net_addr local;
    char why[160], msg[32], got[64], want[64];
    const unsigned n = 40;

    (void)state;
    struct net_cfg cfg = {.listens = &l,
                          .listen_n = 1,
                          .receivers = 1,
                          .workers = 1,
                          .batch = 8,
                          .rx = batch_rx,
                          .work = batch_work,
                          .arg = &bad};
    assert_int_equal(net_start(&rt, &cfg, why, sizeof(why)), 0);
    struct net_sock *s = net_socket_for(rt, &l);
    int fd = client_socket(AF_INET, &local);
    for (unsigned i = 0; i < n; i++) {
        int len =
            i == n / 2 ? snprintf(msg, sizeof(msg), "bad") : snprintf(msg, sizeof(msg), "m%u", i);
        assert_int_equal(sendto(fd, msg, (size_t)len, 0, SA(s->local), s->local.len), len);
    }
    /* every answer arrives, in the order sent: one worker, one queue */
    for (unsigned i = 0; i < n; i++) {
        for (char c = 'a'; c <= 'b'; c++) {
            int wl = i == n / 2 ? snprintf(want, sizeof(want), "%c:bad", c)
                                : snprintf(want, sizeof(want), "%c:m%u", c, i);
            ssize_t r = recv(fd, got, sizeof(got), 0);
            assert_int_equal(r, wl);
            assert_memory_equal(got, want, (size_t)wl);
        }
    }
    assert_int_equal(atomic_load(&bad), 0);
    const struct net_worker_stats *ws = net_worker_stats(rt, 0);
    double until = now_s() + 5;
    /* the counters move after sendmmsg returns, maybe after the client read */
    while ((stat_get(&ws->send_errors) < 1 || stat_get(&ws->sent) < 2 * n) && now_s() < until)
        sleep_ms(1);
    assert_int_equal(stat_get(&ws->sent), 2 * n);
    assert_int_equal(stat_get(&ws->send_errors), 1);
    /* both answers of a datagram leave in one call at least; more under load */
    uint64_t calls = stat_get(&ws->send_calls);
    print_message("%u answers in %llu sendmmsg calls\n", 2 * n, (unsigned long long)calls);
    assert_true(calls >= 1 && calls <= n + 1);
    close(fd);
    net_stop(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo),
        cmocka_unit_test(test_bind_rules),
        cmocka_unit_test(test_truncated_and_send),
        cmocka_unit_test(test_stop_under_load),
        cmocka_unit_test(test_worker_batched_send),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
