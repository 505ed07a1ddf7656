/* reflect.h: sipbench reflect, a do-nothing SIP responder: the ceiling sipbench can reach. */
#ifndef SIPBENCH_REFLECT_H
#define SIPBENCH_REFLECT_H

#include <stdbool.h>
#include <stdint.h>

#include "netaddr.h"

struct sb_reflect_config {
    struct sb_addr listen;  /* port 0: any free one (printed) */
    uint32_t threads;       /* one SO_REUSEPORT socket each */
    uint32_t batch;         /* datagrams per recvmmsg / sendmmsg */
    double duration;        /* exits after this many seconds */
    const char *realm;      /* of the challenge */
    const char *algorithms; /* "MD5", "SHA-256" or "SHA-256,MD5": one challenge each, in order */
    bool qop;               /* offer qop="auth" */
    bool trying;            /* a 100 Trying before each REGISTER's final reply */
};

/*
 * Answers, on every socket until SIGINT/SIGTERM or the duration: REGISTER
 * without Authorization/Proxy-Authorization with a 401 carrying the fixed
 * challenges, REGISTER with one with a 200 (with trying, each after a 100
 * Trying, in the same sendmmsg), OPTIONS with a 200; ignores
 * every other datagram. Checks nothing. Prints the bound port on stdout
 * once the sockets are ready, and its counters on stderr at the end.
 * Returns the exit status (0, or 1 when set-up failed). Main thread, once.
 */
int sb_reflect(const struct sb_reflect_config *cfg);

#endif
