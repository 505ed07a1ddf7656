/* netaddr.h: sipbench's address arguments (host[:port], [v6]:port) and UDP socket set-up. */
#ifndef SIPBENCH_NETADDR_H
#define SIPBENCH_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* An address as given on the command line, resolved. */
struct sb_addr {
    struct sockaddr_storage ss;
    socklen_t len;
    char host[128]; /* as written, brackets kept for IPv6: "127.0.0.1", "[::1]" */
    uint16_t port;  /* 0 when none was given and there is no default */
};

/*
 * Parses "host", "host:port", "[v6]" or "[v6]:port" (a bare IPv6 address
 * without brackets is taken whole, without a port). host is an IP address
 * or a name (getaddrinfo, first UDP result). default_port applies when
 * none is written. 0, or EINVAL with a message in err.
 */
int sb_addr_parse(struct sb_addr *a, const char *text, uint16_t default_port, char *err,
                  size_t err_cap);

/* "a.b.c.d:port" or "[v6]:port" of a socket address, into out; returns its length. */
size_t sb_addr_format(const struct sockaddr *sa, char *out, size_t cap);

/* The port of an AF_INET or AF_INET6 address. */
uint16_t sb_addr_port(const struct sockaddr *sa);
void sb_addr_set_port(struct sockaddr_storage *ss, uint16_t port);

/*
 * A UDP socket for the family of 'family_of', with large buffers (forced
 * when allowed), SO_REUSEPORT when reuseport. Bound to bind_to when it is
 * not NULL. Returns the descriptor, or -1 with errno set.
 */
int sb_udp_socket(const struct sockaddr *family_of, const struct sockaddr *bind_to,
                  socklen_t bind_len, bool reuseport);

#endif
