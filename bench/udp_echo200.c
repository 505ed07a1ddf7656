/* udp_echo200.c: the do-nothing anchor of bench/e2e-options: answers every SIP request with a 200.
 *
 * It is what a stateless reply costs with no SIP stack at all: recvmmsg a
 * batch of datagrams on one loopback UDP socket, turn each request into a
 * minimal valid 200 OK by copying its Via, From, To, Call-ID and CSeq lines
 * (adding a To tag when there is none) and sendmmsg the batch back to the
 * sources. It knows only enough SIP to find those lines: no parser, no
 * sipd code, no validation beyond "has all five". One thread; run it
 * pinned to the core the server under test would use.
 *
 * Usage: udp_echo200 [-p PORT] [-a 127.0.0.1|::1] [-t SECONDS] [-P PORTFILE]
 *   -p  port to bind (0, the default: any free port); the bound port is
 *       printed on stdout, and written to PORTFILE with -P
 *   -a  loopback address to bind: it refuses any other, so it only ever
 *       answers peers on this machine
 *   -t  exit after this many seconds (default 120) whatever happens;
 *       SIGTERM and SIGINT stop it earlier
 * On exit it prints "udp_echo200: received N replied M ignored K" on stderr.
 */
#define _GNU_SOURCE /* recvmmsg, sendmmsg */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/fmt.h"

#define BATCH     64
#define DGRAM_MAX 65535
#define REPLY_MAX 8192

/* Set by SIGTERM/SIGINT: the one way a handler may talk to the loop. */
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Does line[0..len) start with header 'name' (or its compact form), any case, then ':'? */
static bool is_header(const char *line, size_t len, const char *name, char compact)
{
    size_t n = strlen(name), i = 0;
    size_t name_len = 0;

    if (len >= n) {
        for (i = 0; i < n && lower(line[i]) == name[i]; i++)
            ;
        if (i == n)
            name_len = n;
    }
    if (name_len == 0 && len >= 1 && lower(line[0]) == compact)
        name_len = 1;
    if (name_len == 0)
        return false;
    for (i = name_len; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
        ;
    return i < len && line[i] == ':';
}

/* Is there a ";tag=" parameter in the To value line[0..len)? Crude (it would
 * also see one inside a quoted display name or the URI's angle brackets after
 * '>' is absent), which is good enough for a load generator's To. */
static bool has_tag(const char *line, size_t len)
{
    const char *gt = memchr(line, '>', len);
    const char *p = gt ? gt : line;
    size_t rest = len - (size_t)(p - line);
    for (size_t i = 0; i + 4 < rest; i++)
        if (p[i] == ';' && lower(p[i + 1]) == 't' && lower(p[i + 2]) == 'a' &&
            lower(p[i + 3]) == 'g' && p[i + 4] == '=')
            return true;
    return false;
}

/*
 * Builds the 200 for the request in in[0..len) into out. Returns its length,
 * or 0 when the datagram gets no reply (a response, an ACK, no header end,
 * a missing Via/From/To/Call-ID/CSeq, a reply too big).
 */
static size_t make_200(const char *in, size_t len, char *outbuf, size_t cap, uint64_t serial)
{
    static const char hex[] = "0123456789abcdef";
    struct fmt o = fmt_init(outbuf, cap);
    unsigned seen = 0; /* bits: Via, From, To, Call-ID, CSeq */

    if (len < 8 || memcmp(in, "SIP/2.0 ", 8) == 0 || (len >= 4 && memcmp(in, "ACK ", 4) == 0))
        return 0;
    const char *end = in + len;
    const char *line = memchr(in, '\n', len); /* skip the request line */
    if (!line)
        return 0;
    line++;
    fmt_mem(&o, "SIP/2.0 200 OK\r\n", 16);
    while (line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        if (!nl)
            return 0; /* no blank line: not a complete header block */
        size_t n = (size_t)(nl - line);
        size_t text = n > 0 && line[n - 1] == '\r' ? n - 1 : n;
        if (text == 0)
            break; /* end of the headers */
        if (is_header(line, text, "via", 'v')) {
            seen |= 1u;
            fmt_mem(&o, line, text);
            fmt_mem(&o, "\r\n", 2);
        } else if (is_header(line, text, "from", 'f')) {
            seen |= 2u;
            fmt_mem(&o, line, text);
            fmt_mem(&o, "\r\n", 2);
        } else if (is_header(line, text, "to", 't')) {
            seen |= 4u;
            fmt_mem(&o, line, text);
            if (!has_tag(line, text)) {
                char tag[5 + 16];
                memcpy(tag, ";tag=", 5);
                for (int i = 0; i < 16; i++)
                    tag[5 + i] = hex[(serial >> (60 - 4 * i)) & 15];
                fmt_mem(&o, tag, sizeof(tag));
            }
            fmt_mem(&o, "\r\n", 2);
        } else if (is_header(line, text, "call-id", 'i')) {
            seen |= 8u;
            fmt_mem(&o, line, text);
            fmt_mem(&o, "\r\n", 2);
        } else if (is_header(line, text, "cseq", '\0')) {
            seen |= 16u;
            fmt_mem(&o, line, text);
            fmt_mem(&o, "\r\n", 2);
        }
        line = nl + 1;
    }
    fmt_mem(&o, "Content-Length: 0\r\n\r\n", 21);
    if (seen != 31 || !o.ok)
        return 0;
    return o.len;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage(void)
{
    fprintf(stderr, "usage: udp_echo200 [-p PORT] [-a 127.0.0.1|::1] [-t SECONDS] [-P PORTFILE]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *addr_text = "127.0.0.1", *port_file = NULL;
    long port = 0, seconds = 120;
    int opt;

    while ((opt = getopt(argc, argv, "p:a:t:P:")) != -1) {
        char *e;
        switch (opt) {
        case 'p':
            port = strtol(optarg, &e, 10);
            if (*e || port < 0 || port > 65535)
                return usage();
            break;
        case 'a':
            addr_text = optarg;
            break;
        case 't':
            seconds = strtol(optarg, &e, 10);
            if (*e || seconds < 1 || seconds > 3600)
                return usage();
            break;
        case 'P':
            port_file = optarg;
            break;
        default:
            return usage();
        }
    }
    if (optind != argc)
        return usage();

    struct sockaddr_storage ss;
    socklen_t ss_len;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr_text, &sin->sin_addr) == 1) {
        if ((ntohl(sin->sin_addr.s_addr) >> 24) != 127) {
            fprintf(stderr, "udp_echo200: %s is not a loopback address\n", addr_text);
            return 2;
        }
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        ss_len = sizeof(*sin);
    } else if (inet_pton(AF_INET6, addr_text, &sin6->sin6_addr) == 1) {
        if (!IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr)) {
            fprintf(stderr, "udp_echo200: %s is not a loopback address\n", addr_text);
            return 2;
        }
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        ss_len = sizeof(*sin6);
    } else {
        fprintf(stderr, "udp_echo200: %s is not an IP address\n", addr_text);
        return 2;
    }

    int fd = socket(ss.ss_family, SOCK_DGRAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&ss, ss_len) != 0) {
        perror("udp_echo200: socket/bind");
        return 1;
    }
    /* wake up every 100 ms to check the deadline and the stop flag */
    struct timeval tv = {0, 100000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    int bufsize = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize));
    if (getsockname(fd, (struct sockaddr *)&ss, &ss_len) != 0) {
        perror("udp_echo200: getsockname");
        return 1;
    }
    unsigned bound = ntohs(ss.ss_family == AF_INET ? sin->sin_port : sin6->sin6_port);
    printf("%u\n", bound);
    fflush(stdout);
    if (port_file) {
        char tmp[4096];
        snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "%u\n", bound) < 0 || fclose(f) != 0 || rename(tmp, port_file) != 0) {
            perror("udp_echo200: port file");
            return 1;
        }
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: a signal ends a blocked recvmmsg */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    /* 4.5 MiB of buffers: static rather than on the stack; main runs once */
    static char in[BATCH][DGRAM_MAX];
    static char out[BATCH][REPLY_MAX];
    struct mmsghdr rx[BATCH], tx[BATCH];
    struct iovec rx_iov[BATCH], tx_iov[BATCH];
    struct sockaddr_storage src[BATCH];
    uint64_t received = 0, replied = 0, ignored = 0, send_errors = 0;
    double deadline = now_s() + (double)seconds;
    int status = 0;

    while (!stop_requested && now_s() < deadline) {
        for (int i = 0; i < BATCH; i++) {
            rx_iov[i] = (struct iovec){in[i], DGRAM_MAX};
            rx[i].msg_hdr = (struct msghdr){.msg_name = &src[i],
                                            .msg_namelen = sizeof(src[i]),
                                            .msg_iov = &rx_iov[i],
                                            .msg_iovlen = 1};
            rx[i].msg_len = 0;
        }
        int n = recvmmsg(fd, rx, BATCH, MSG_WAITFORONE, NULL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                continue;
            perror("udp_echo200: recvmmsg");
            status = 1;
            break;
        }
        int m = 0;
        for (int i = 0; i < n; i++) {
            received++;
            size_t len = make_200(in[i], rx[i].msg_len, out[m], REPLY_MAX, received);
            if (len == 0) {
                ignored++;
                continue;
            }
            tx_iov[m] = (struct iovec){out[m], len};
            tx[m].msg_hdr = (struct msghdr){.msg_name = &src[i],
                                            .msg_namelen = rx[i].msg_hdr.msg_namelen,
                                            .msg_iov = &tx_iov[m],
                                            .msg_iovlen = 1};
            m++;
        }
        int sent = 0;
        while (sent < m) {
            int k = sendmmsg(fd, tx + sent, (unsigned)(m - sent), 0);
            if (k < 0) {
                if (errno == EINTR)
                    continue;
                send_errors++; /* e.g. the peer's port closed: skip this datagram */
                sent++;
                continue;
            }
            sent += k;
            replied += (uint64_t)k;
        }
    }
    fprintf(stderr, "udp_echo200: received %llu replied %llu ignored %llu send_errors %llu\n",
            (unsigned long long)received, (unsigned long long)replied, (unsigned long long)ignored,
            (unsigned long long)send_errors);
    close(fd);
    return status;
}
