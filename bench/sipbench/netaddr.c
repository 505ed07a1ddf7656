/* netaddr.c: address parsing and UDP sockets for sipbench. */
#include "netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Socket buffers asked for: several batches of datagrams in flight at high rates. */
#define SB_SOCKBUF (8 << 20)

int sb_addr_parse(struct sb_addr *a, const char *text, uint16_t default_port, char *err,
                  size_t err_cap)
{
    char host[sizeof(a->host)];
    const char *port_text = NULL;
    size_t host_len;
    memset(a, 0, sizeof(*a));

    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || (close[1] != '\0' && close[1] != ':')) {
            snprintf(err, err_cap, "%s: expected [v6address] or [v6address]:port", text);
            return EINVAL;
        }
        host_len = (size_t)(close - text - 1);
        if (host_len >= sizeof(host)) {
            snprintf(err, err_cap, "%s: address too long", text);
            return EINVAL;
        }
        memcpy(host, text + 1, host_len);
        if (close[1] == ':')
            port_text = close + 2;
    } else {
        const char *colon = strchr(text, ':');
        if (colon && strchr(colon + 1, ':'))
            colon = NULL; /* a bare IPv6 address: no port */
        host_len = colon ? (size_t)(colon - text) : strlen(text);
        if (host_len >= sizeof(host)) {
            snprintf(err, err_cap, "%s: address too long", text);
            return EINVAL;
        }
        memcpy(host, text, host_len);
        if (colon)
            port_text = colon + 1;
    }
    host[host_len] = '\0';
    if (host_len == 0) {
        snprintf(err, err_cap, "%s: no host", text);
        return EINVAL;
    }
    a->port = default_port;
    if (port_text) {
        char *end;
        long port = strtol(port_text, &end, 10);
        if (*port_text == '\0' || *end || port < 0 || port > 65535) {
            snprintf(err, err_cap, "%s: bad port", text);
            return EINVAL;
        }
        a->port = (uint16_t)port;
    }

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, NULL, &hints, &res);
    if (gai != 0 || !res) {
        snprintf(err, err_cap, "%s: %s", host, gai ? gai_strerror(gai) : "no address");
        return EINVAL;
    }
    memcpy(&a->ss, res->ai_addr, res->ai_addrlen);
    a->len = res->ai_addrlen;
    freeaddrinfo(res);
    sb_addr_set_port(&a->ss, a->port);
    /* host is shorter than a->host: with the brackets it may not fit */
    bool brackets = a->ss.ss_family == AF_INET6 && strchr(host, ':');
    if (host_len + 2 * brackets >= sizeof(a->host)) {
        snprintf(err, err_cap, "%s: address too long", text);
        return EINVAL;
    }
    size_t n = 0;
    if (brackets)
        a->host[n++] = '[';
    memcpy(a->host + n, host, host_len);
    n += host_len;
    if (brackets)
        a->host[n++] = ']';
    a->host[n] = '\0';
    return 0;
}

size_t sb_addr_format(const struct sockaddr *sa, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];
    int n;
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
        n = snprintf(out, cap, "[%s]:%u", ip, ntohs(s6->sin6_port));
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
        n = snprintf(out, cap, "%s:%u", ip, ntohs(s4->sin_port));
    }
    return n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
}

uint16_t sb_addr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return ntohs(((const struct sockaddr_in *)sa)->sin_port);
}

void sb_addr_set_port(struct sockaddr_storage *ss, uint16_t port)
{
    if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
    else
        ((struct sockaddr_in *)ss)->sin_port = htons(port);
}

/* Asks for size bytes of buffer; the FORCE variant passes rmem_max when we may. */
static void set_buffer(int fd, int opt, int force_opt, int size)
{
    if (setsockopt(fd, SOL_SOCKET, force_opt, &size, sizeof(size)) != 0)
        setsockopt(fd, SOL_SOCKET, opt, &size, sizeof(size));
}

int sb_udp_socket(const struct sockaddr *family_of, const struct sockaddr *bind_to,
                  socklen_t bind_len, bool reuseport)
{
    int fd = socket(family_of->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    set_buffer(fd, SO_RCVBUF, SO_RCVBUFFORCE, SB_SOCKBUF);
    set_buffer(fd, SO_SNDBUF, SO_SNDBUFFORCE, SB_SOCKBUF);
    int one = 1;
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
        goto fail;
    if (bind_to && bind(fd, bind_to, bind_len) != 0)
        goto fail;
    return fd;
fail:;
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
}
