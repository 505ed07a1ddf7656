/* net.c: the runtime's life: checking the cfg, starting and stopping sockets and threads. */
#define _GNU_SOURCE
#include "net/net_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Bounds that keep the allocations sane whatever the config says. */
#define MAX_RECEIVERS_PER_LISTEN 256u
#define MAX_WORKERS              1024u
#define MAX_LISTENS              256u
#define MAX_DGRAM_LIMIT          65535u /* the largest UDP payload fits */

static const char *proto_name(enum net_proto p)
{
    switch (p) {
    case NET_PROTO_UDP:
        return "udp";
    case NET_PROTO_TCP:
        return "tcp";
    case NET_PROTO_TLS:
        return "tls";
    }
    return "?";
}

/* Checks cfg and copies it into rt with the defaults applied. */
static int check_cfg(struct net_runtime *rt, const struct net_cfg *cfg, unsigned *udp_n, char *why,
                     size_t cap)
{
    *udp_n = 0;
    if (!cfg->work)
        return net_why(why, cap, EINVAL, "no work hook");
    if (cfg->workers < 1 || cfg->workers > MAX_WORKERS)
        return net_why(why, cap, EINVAL, "workers must be 1..%u, not %u", MAX_WORKERS,
                       cfg->workers);
    if (cfg->listen_n > MAX_LISTENS || (cfg->listen_n && !cfg->listens))
        return net_why(why, cap, EINVAL, "listen entries must be 0..%u", MAX_LISTENS);
    for (size_t i = 0; i < cfg->listen_n; i++) {
        const struct net_listen *l = &cfg->listens[i];
        char text[80];
        net_addr_format((const struct sockaddr *)&l->addr.ss, text, sizeof(text));
        if (l->proto != NET_PROTO_UDP)
            return net_why(why, cap, EPROTONOSUPPORT,
                           "listen %s:%s: %s is not supported yet (only udp)", proto_name(l->proto),
                           text, proto_name(l->proto));
        if (l->addr.ss.ss_family != AF_INET && l->addr.ss.ss_family != AF_INET6)
            return net_why(why, cap, EINVAL, "listen entry %zu has no IP address", i);
        (*udp_n)++;
    }
    if (*udp_n && !cfg->rx)
        return net_why(why, cap, EINVAL, "no rx hook");
    if (*udp_n && (cfg->receivers < 1 || cfg->receivers > MAX_RECEIVERS_PER_LISTEN))
        return net_why(why, cap, EINVAL, "receivers must be 1..%u, not %u",
                       MAX_RECEIVERS_PER_LISTEN, cfg->receivers);
    if (cfg->batch > NET_MAX_BATCH)
        return net_why(why, cap, EINVAL, "batch must be 1..%u, not %u", NET_MAX_BATCH, cfg->batch);
    if (cfg->max_dgram > MAX_DGRAM_LIMIT)
        return net_why(why, cap, EINVAL, "max_dgram must be 1..%u, not %zu", MAX_DGRAM_LIMIT,
                       cfg->max_dgram);

    rt->cfg = *cfg;
    rt->cfg.listens = NULL; /* the caller's array may go; rt->listens is the copy */
    if (!rt->cfg.batch)
        rt->cfg.batch = NET_DEFAULT_BATCH;
    if (!rt->cfg.max_dgram)
        rt->cfg.max_dgram = NET_DEFAULT_MAX_DGRAM;
    if (!rt->cfg.queue_bound)
        rt->cfg.queue_bound = NET_DEFAULT_QUEUE_BOUND;
    return 0;
}

static void rt_free(struct net_runtime *rt)
{
    free(rt->listens);
    free(rt->socks);
    free(rt->receivers);
    for (unsigned i = 0; rt->workers && i < rt->worker_n; i++)
        free(rt->workers[i].tx);
    free(rt->workers);
    pthread_cond_destroy(&rt->start_cond);
    pthread_mutex_destroy(&rt->start_lock);
    free(rt);
}

static int rt_alloc(struct net_runtime *rt, const struct net_cfg *cfg, unsigned udp_n)
{
    rt->listen_n = cfg->listen_n;
    rt->worker_n = cfg->workers;
    rt->sock_n = udp_n * rt->cfg.receivers; /* <= 256 x 256 */
    rt->receiver_n = rt->sock_n;

    rt->listens = calloc(rt->listen_n ? rt->listen_n : 1, sizeof(*rt->listens));
    rt->socks = calloc(rt->sock_n ? rt->sock_n : 1, sizeof(*rt->socks));
    /* struct net_receiver keeps its counters on a cache line of their own:
     * the array must honour that alignment, which calloc does not promise */
    size_t rx_bytes = (size_t)(rt->receiver_n ? rt->receiver_n : 1) * sizeof(*rt->receivers);
    rt->receivers = aligned_alloc(_Alignof(struct net_receiver), rx_bytes);
    if (rt->receivers)
        memset(rt->receivers, 0, rx_bytes);
    /* struct net_worker is cache-line aligned, so its size is a multiple of it */
    rt->workers =
        aligned_alloc(_Alignof(struct net_worker), (size_t)rt->worker_n * sizeof(*rt->workers));
    if (!rt->listens || !rt->socks || !rt->receivers || !rt->workers)
        return ENOMEM;
    memset(rt->workers, 0, (size_t)rt->worker_n * sizeof(*rt->workers));

    unsigned next_sock = 0;
    for (size_t i = 0; i < rt->listen_n; i++) {
        struct net_rt_listen *l = &rt->listens[i];
        l->listen = cfg->listens[i];
        l->asked = cfg->listens[i].addr;
        l->first_sock = next_sock;
        l->sock_n = l->listen.proto == NET_PROTO_UDP ? rt->cfg.receivers : 0;
        next_sock += l->sock_n;
    }
    return 0;
}

void net_thread_started(struct net_runtime *rt)
{
    pthread_mutex_lock(&rt->start_lock);
    rt->started_n++;
    pthread_cond_broadcast(&rt->start_cond);
    pthread_mutex_unlock(&rt->start_lock);
}

static void wait_started(struct net_runtime *rt)
{
    unsigned want = rt->worker_n + rt->receiver_n;

    pthread_mutex_lock(&rt->start_lock);
    while (rt->started_n < want)
        pthread_cond_wait(&rt->start_cond, &rt->start_lock);
    pthread_mutex_unlock(&rt->start_lock);
}

int net_start(struct net_runtime **rtp, const struct net_cfg *cfg, char *why, size_t why_cap)
{
    struct net_runtime *rt;
    unsigned udp_n;
    int err;

    if (why && why_cap)
        why[0] = '\0';
    if (!rtp || !cfg)
        return net_why(why, why_cap, EINVAL, "no cfg");
    rt = calloc(1, sizeof(*rt));
    if (!rt)
        return net_why(why, why_cap, ENOMEM, "out of memory");
    pthread_mutex_init(&rt->start_lock, NULL);
    pthread_cond_init(&rt->start_cond, NULL);
    atomic_init(&rt->rx_stop, false);
    atomic_init(&rt->worker_stop, false);

    if ((err = check_cfg(rt, cfg, &udp_n, why, why_cap)) != 0) {
        rt_free(rt);
        return err;
    }
    if ((err = rt_alloc(rt, cfg, udp_n)) != 0) {
        rt_free(rt);
        return net_why(why, why_cap, err, "out of memory");
    }
    if ((err = net_udp_open(rt, why, why_cap)) != 0)
        goto fail;
    /* workers first: a receiver may dispatch from its first datagram on */
    if ((err = net_workers_start(rt, why, why_cap)) != 0)
        goto fail;
    if ((err = net_rx_start(rt, why, why_cap)) != 0)
        goto fail;
    wait_started(rt);
    *rtp = rt;
    return 0;

fail:
    net_rx_stop(rt);
    net_workers_stop(rt);
    net_udp_close(rt);
    rt_free(rt);
    return err;
}

void net_stop(struct net_runtime *rt)
{
    if (!rt)
        return;
    net_rx_stop(rt);
    net_workers_stop(rt);
    net_udp_close(rt);
    rt_free(rt);
}

unsigned net_worker_count(const struct net_runtime *rt)
{
    return rt->worker_n;
}

unsigned net_receiver_count(const struct net_runtime *rt)
{
    return rt->receiver_n;
}

const struct net_worker_stats *net_worker_stats(const struct net_runtime *rt, unsigned index)
{
    return index < rt->worker_n ? &rt->workers[index].stats : NULL;
}

const struct net_rx_stats *net_rx_stats(const struct net_runtime *rt, unsigned index)
{
    return index < rt->receiver_n ? &rt->receivers[index].stats : NULL;
}
