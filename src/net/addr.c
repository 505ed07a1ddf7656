/* addr.c: listen entries and socket addresses: parsing, formatting, comparing. Numeric only. */
#define _GNU_SOURCE
#include "net/net.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "net/net_int.h"

#include "core/fmt.h"

/* Longest IP text we take: an IPv6 address with an embedded IPv4 is 45. */
#define IP_TEXT_MAX 63

int net_why(char *why, size_t cap, int err, const char *fmt, ...)
{
    if (why && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, cap, fmt, ap);
        va_end(ap);
    }
    return err;
}

const char *net_strerror(int err, char *buf, size_t cap)
{
    return strerror_r(err, buf, cap); /* the GNU variant: returns the text */
}

/* Parses exactly ip[0..len) as one numeric address (no brackets) into out. */
static int parse_ip(const char *ip, size_t len, uint16_t port, struct net_addr *out)
{
    char text[IP_TEXT_MAX + 1];

    if (len == 0 || len > IP_TEXT_MAX || memchr(ip, '\0', len))
        return EINVAL;
    memcpy(text, ip, len);
    text[len] = '\0';

    memset(out, 0, sizeof(*out));
    if (!memchr(text, ':', len)) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;
        /* inet_pton takes only dotted quads, unlike inet_aton ("1", "0x7f.1") */
        if (inet_pton(AF_INET, text, &sin->sin_addr) != 1)
            return EINVAL;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        out->len = sizeof(*sin);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;
        if (inet_pton(AF_INET6, text, &sin6->sin6_addr) != 1)
            return EINVAL;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        out->len = sizeof(*sin6);
    }
    return 0;
}

int net_addr_from_ip(const char *ip, size_t ip_len, uint16_t port, struct net_addr *out)
{
    if (!ip)
        return EINVAL;
    if (ip_len >= 2 && ip[0] == '[' && ip[ip_len - 1] == ']') {
        if (!memchr(ip + 1, ':', ip_len - 2))
            return EINVAL; /* brackets are for IPv6 only */
        return parse_ip(ip + 1, ip_len - 2, port, out);
    }
    return parse_ip(ip, ip_len, port, out);
}

/* A decimal port of 1..5 digits, 0..65535. */
static int parse_port(const char *p, uint16_t *port, char *why, size_t cap)
{
    unsigned long v = 0;
    size_t n = strlen(p);

    if (n == 0)
        return net_why(why, cap, EINVAL, "missing port after ':'");
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)p[i]) || i >= 5)
            return net_why(why, cap, EINVAL, "bad port %.16s%s", p, n > 16 ? "..." : "");
        v = v * 10 + (unsigned long)(p[i] - '0');
    }
    if (v > 65535)
        return net_why(why, cap, EINVAL, "bad port %lu", v);
    *port = (uint16_t)v;
    return 0;
}

/* Strips a "udp:" / "tcp:" / "tls:" prefix. A run of letters before a ':'
 * that is no protocol and no hex group of an IPv6 address is an error. */
static int parse_proto(const char **textp, enum net_proto *proto, char *why, size_t cap)
{
    static const struct {
        const char *name;
        enum net_proto proto;
    } protos[] = {{"udp", NET_PROTO_UDP}, {"tcp", NET_PROTO_TCP}, {"tls", NET_PROTO_TLS}};
    const char *text = *textp;
    size_t n = 0;
    bool hex = true;

    *proto = NET_PROTO_UDP;
    while (isalpha((unsigned char)text[n])) {
        if (!isxdigit((unsigned char)text[n]))
            hex = false;
        n++;
    }
    if (n == 0 || text[n] != ':')
        return 0;
    for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
        if (n == 3 && strncasecmp(text, protos[i].name, 3) == 0) {
            *proto = protos[i].proto;
            *textp = text + 4;
            return 0;
        }
    }
    if (hex)
        return 0; /* "fe80:..." is an IPv6 address */
    if (text[n + 1] && strspn(text + n + 1, "0123456789") == strlen(text + n + 1))
        return 0; /* "localhost:5060": a name and a port, refused as a name below */
    return net_why(why, cap, EINVAL, "unknown transport \"%.*s\" (udp, tcp or tls)", (int)n, text);
}

int net_listen_parse(const char *text, uint16_t default_port, struct net_listen *out, char *why,
                     size_t why_cap)
{
    enum net_proto proto;
    const char *host, *port_text = NULL;
    size_t host_len;
    uint16_t port = default_port;
    int err;

    if (!text || !*text)
        return net_why(why, why_cap, EINVAL, "empty listen address");
    if ((err = parse_proto(&text, &proto, why, why_cap)) != 0)
        return err;
    if (!*text)
        return net_why(why, why_cap, EINVAL, "missing address after the transport");

    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close)
            return net_why(why, why_cap, EINVAL, "missing ']' in %s", text);
        host = text + 1;
        host_len = (size_t)(close - host);
        if (!memchr(host, ':', host_len))
            return net_why(why, why_cap, EINVAL, "brackets are for IPv6 addresses only: %.*s",
                           (int)host_len, host);
        if (close[1] == ':')
            port_text = close + 2;
        else if (close[1] != '\0')
            return net_why(why, why_cap, EINVAL, "unexpected \"%s\" after ']'", close + 1);
    } else {
        const char *colon = strchr(text, ':');
        host = text;
        host_len = strlen(text);
        if (colon && !strchr(colon + 1, ':')) {
            /* one colon: IPv4:port (an IPv6 address has at least two) */
            host_len = (size_t)(colon - text);
            port_text = colon + 1;
        }
    }

    if (port_text && (err = parse_port(port_text, &port, why, why_cap)) != 0)
        return err;

    memset(out, 0, sizeof(*out));
    if (parse_ip(host, host_len, port, &out->addr) != 0)
        return net_why(why, why_cap, EINVAL, "not a numeric IP address: %.*s",
                       (int)(host_len > IP_TEXT_MAX ? IP_TEXT_MAX : host_len), host);
    out->proto = proto;
    out->port = port;
    net_addr_ip((const struct sockaddr *)&out->addr.ss, out->host, sizeof(out->host));
    return 0;
}

/* Copies text (n bytes) into buf as a string, cut to cap - 1; the length written. */
static size_t put_text(char *buf, size_t cap, const char *text, size_t n)
{
    if (cap == 0)
        return 0;
    if (n > cap - 1)
        n = cap - 1;
    memcpy(buf, text, n);
    buf[n] = 0;
    return n;
}

/* Dotted quad, without inet_ntop and printf: every received= and every
 * ban key formats the source address. out has room for 16 bytes. */
static size_t ipv4_text(const struct in_addr *a, char *out)
{
    const unsigned char *b = (const unsigned char *)&a->s_addr;
    size_t n = 0;

    for (int i = 0; i < 4; i++) {
        if (i)
            out[n++] = '.';
        n += fmt_u64(out + n, b[i]);
    }
    return n;
}

size_t net_addr_ip(const struct sockaddr *sa, char *buf, size_t cap)
{
    char text[INET6_ADDRSTRLEN];

    if (sa && sa->sa_family == AF_INET)
        return put_text(buf, cap, text,
                        ipv4_text(&((const struct sockaddr_in *)sa)->sin_addr, text));
    if (sa && sa->sa_family == AF_INET6 &&
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, text, sizeof(text)))
        return put_text(buf, cap, text, strlen(text));
    return put_text(buf, cap, "unknown", 7);
}

size_t net_addr_format(const struct sockaddr *sa, char *buf, size_t cap)
{
    char text[INET6_ADDRSTRLEN + 16];
    size_t n = 0;
    bool v6 = sa && sa->sa_family == AF_INET6;

    if (v6)
        text[n++] = '[';
    n += net_addr_ip(sa, text + n, INET6_ADDRSTRLEN);
    if (v6)
        text[n++] = ']';
    if (sa && (sa->sa_family == AF_INET || v6)) {
        text[n++] = ':';
        n += fmt_u64(text + n, net_addr_port(sa));
    }
    return put_text(buf, cap, text, n);
}

uint16_t net_addr_port(const struct sockaddr *sa)
{
    if (sa && sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa && sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return 0;
}

/* An address reduced to what net_addr_eq compares: IPv4-mapped IPv6 as IPv4. */
struct addr_key {
    int family;
    uint8_t bytes[16];
    uint16_t port;
    uint32_t scope;
};

static bool addr_key(const struct sockaddr *sa, struct addr_key *k)
{
    memset(k, 0, sizeof(*k));
    if (!sa)
        return false;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        k->family = AF_INET;
        memcpy(k->bytes, &sin->sin_addr, 4);
        k->port = sin->sin_port;
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        k->port = sin6->sin6_port;
        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
            k->family = AF_INET;
            memcpy(k->bytes, &sin6->sin6_addr.s6_addr[12], 4);
        } else {
            k->family = AF_INET6;
            memcpy(k->bytes, &sin6->sin6_addr, 16);
            k->scope = sin6->sin6_scope_id;
        }
        return true;
    }
    return false;
}

bool net_addr_eq(const struct sockaddr *a, const struct sockaddr *b)
{
    struct addr_key ka, kb;

    if (!addr_key(a, &ka) || !addr_key(b, &kb))
        return false;
    return ka.family == kb.family && ka.port == kb.port && ka.scope == kb.scope &&
           memcmp(ka.bytes, kb.bytes, sizeof(ka.bytes)) == 0;
}
