/* udp.c: the UDP sockets: SO_REUSEPORT groups per listen entry, buffer sizes, sending. */
#define _GNU_SOURCE
#include "net/net_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Socket buffers we ask for; the kernel caps them at net.core.[rw]mem_max. */
#define SOCK_BUF_WANT (4 << 20)

/*
 * A UDP socket bound to addr. The IPv6 ones are IPv6-only so that an IPv4
 * entry can use the same port. Fills *local with the bound address.
 */
static int bind_socket(const struct net_addr *addr, bool reuseport, int *fdp,
                       struct net_addr *local, char *why, size_t cap)
{
    char text[80], ebuf[64];
    int family = addr->ss.ss_family, one = 1, err;
    int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    net_addr_format((const struct sockaddr *)&addr->ss, text, sizeof(text));
    if (fd < 0) {
        err = errno;
        return net_why(why, cap, err, "socket for %s: %s", text,
                       net_strerror(err, ebuf, sizeof(ebuf)));
    }
    if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) {
        err = errno;
        net_why(why, cap, err, "IPV6_V6ONLY on %s: %s", text,
                net_strerror(err, ebuf, sizeof(ebuf)));
        goto out;
    }
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
        err = errno;
        net_why(why, cap, err, "SO_REUSEPORT on %s: %s", text,
                net_strerror(err, ebuf, sizeof(ebuf)));
        goto out;
    }
    if (reuseport) {
        /* Bigger buffers absorb bursts; the kernel clamps (or refuses) the
         * request by its sysctl limits, and the defaults still work. */
        int want = SOCK_BUF_WANT;
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want));
    }
    if (bind(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0) {
        err = errno;
        net_why(why, cap, err, "bind %s: %s", text, net_strerror(err, ebuf, sizeof(ebuf)));
        goto out;
    }
    local->len = sizeof(local->ss);
    if (getsockname(fd, (struct sockaddr *)&local->ss, &local->len) < 0) {
        err = errno;
        net_why(why, cap, err, "getsockname %s: %s", text, net_strerror(err, ebuf, sizeof(ebuf)));
        goto out;
    }
    *fdp = fd;
    return 0;
out:
    close(fd);
    return err;
}

static void set_port(struct net_addr *a, uint16_t port)
{
    if (a->ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
    else if (a->ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
}

/*
 * One listen entry's group. The probe (no SO_REUSEPORT) proves the port is
 * free, since a member of any existing group, ours or another process's,
 * makes its bind fail, and it learns the port when the entry asks for 0.
 * The group then binds that port; between the probe's close and the
 * group's binds another process could take the port, which the group's
 * binds then report (unless it is a same-user SO_REUSEPORT group: a window
 * of microseconds at startup that we accept).
 */
static int open_listen(struct net_runtime *rt, struct net_rt_listen *l, char *why, size_t cap)
{
    struct net_addr bound;
    int probe = -1, err;

    if ((err = bind_socket(&l->asked, false, &probe, &bound, why, cap)) != 0)
        return err;
    close(probe);

    uint16_t port = net_addr_port((const struct sockaddr *)&bound.ss);
    l->listen.port = port;
    set_port(&l->listen.addr, port);

    for (unsigned i = 0; i < l->sock_n; i++) {
        struct net_sock *s = &rt->socks[l->first_sock + i];
        if ((err = bind_socket(&l->listen.addr, true, &s->fd, &s->local, why, cap)) != 0)
            return err;
        s->proto = NET_PROTO_UDP;
        s->listen = &l->listen;
    }
    return 0;
}

int net_udp_open(struct net_runtime *rt, char *why, size_t why_cap)
{
    int err;

    for (unsigned i = 0; i < rt->sock_n; i++)
        rt->socks[i].fd = -1;
    for (size_t i = 0; i < rt->listen_n; i++) {
        if (rt->listens[i].listen.proto != NET_PROTO_UDP)
            continue;
        if ((err = open_listen(rt, &rt->listens[i], why, why_cap)) != 0)
            return err;
    }
    return 0;
}

void net_udp_close(struct net_runtime *rt)
{
    for (unsigned i = 0; i < rt->sock_n; i++) {
        if (rt->socks[i].fd >= 0)
            close(rt->socks[i].fd);
        rt->socks[i].fd = -1;
    }
}

struct net_sock *net_socket_for(struct net_runtime *rt, const struct net_listen *listen)
{
    if (!rt || !listen)
        return NULL;
    for (size_t i = 0; i < rt->listen_n; i++) {
        struct net_rt_listen *l = &rt->listens[i];
        const struct sockaddr *want = (const struct sockaddr *)&listen->addr.ss;
        if (l->sock_n == 0 || l->listen.proto != listen->proto)
            continue;
        if (listen == &l->listen || net_addr_eq(want, (const struct sockaddr *)&l->asked.ss) ||
            net_addr_eq(want, (const struct sockaddr *)&l->listen.addr.ss))
            return &rt->socks[l->first_sock];
    }
    return NULL;
}

bool net_send_again(int fd, int err, unsigned *retries)
{
    if (err == EINTR)
        return true;
    if ((err != EAGAIN && err != EWOULDBLOCK && err != ENOBUFS) || (*retries)++ >= NET_SEND_RETRIES)
        return false;
    /* Room in the socket buffer wakes poll; a full device queue (ENOBUFS)
     * does not, and then the timeout is the wait. */
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    (void)poll(&pfd, 1, NET_SEND_WAIT_MS);
    return true;
}

int net_send_now(int fd, const struct sockaddr *dst, socklen_t dst_len, const void *buf, size_t len)
{
    unsigned retries = 0;

    for (;;) {
        /* MSG_DONTWAIT: a worker never blocks on a full socket buffer */
        ssize_t n = sendto(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL, dst, dst_len);
        if (n >= 0)
            return (size_t)n == len ? 0 : EMSGSIZE;
        int err = errno;
        if (!net_send_again(fd, err, &retries))
            return err;
    }
}

int net_send(const struct net_sock *sock, const struct sockaddr *dst, socklen_t dst_len,
             const void *buf, size_t len)
{
    if (!sock || sock->fd < 0 || !dst)
        return EINVAL;
    if (dst_len > sizeof(struct sockaddr_storage))
        return EINVAL;
    if (net_tx_queue(sock->fd, dst, dst_len, buf, len))
        return 0;
    return net_send_now(sock->fd, dst, dst_len, buf, len);
}
