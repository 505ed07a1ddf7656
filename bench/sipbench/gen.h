/* gen.h: the load generator of sipbench register / options: threads, transactions, timers. */
#ifndef SIPBENCH_GEN_H
#define SIPBENCH_GEN_H

#include <stdbool.h>
#include <stdint.h>

#include "hist.h"
#include "netaddr.h"
#include "users.h"

enum sb_mode { SB_MODE_REGISTER, SB_MODE_OPTIONS };

/* Most generator threads, sockets per thread, and datagrams per system call. */
#define SB_THREADS_MAX 256
#define SB_SOCKETS_MAX 64
#define SB_BATCH_MAX   256

/* One run, as the command line set it. Read-only while the run goes. */
struct sb_config {
    enum sb_mode mode;
    struct sb_addr target;
    struct sb_addr local; /* family AF_UNSPEC: let connect() choose the source */
    bool has_local;
    const char *domain;   /* From/To host and the realm one expects: default the target host */
    const char *ruri;     /* default sip:DOMAIN, with the target port when DOMAIN is its host */
    uint32_t expires;     /* REGISTER Expires */
    int algorithm;        /* enum auth_alg to answer, or -1: the first one offered */
    bool qop;             /* answer qop=auth when offered */
    double rate;          /* open loop: operations started per second; 0: closed loop */
    uint32_t burst;       /* open loop: starts a thread releases together (1: evenly spread) */
    uint32_t concurrency; /* closed loop: operations in flight */
    double duration;      /* seconds during which operations start */
    uint64_t count;       /* operations to start in all; 0: no limit but the duration */
    double timeout;       /* seconds a transaction may take (Timer F) */
    uint32_t threads, sockets, batch;
    uint32_t max_inflight;        /* open loop: transactions in flight, all threads together */
    bool quiet;                   /* no progress line */
    const struct sb_users *users; /* REGISTER */
};

/* What a run did, all threads merged. */
struct sb_result {
    double elapsed;       /* seconds from the first start to the end of the last operation */
    double start_elapsed; /* seconds from the first start to the last one */
    uint64_t started, completed, failed, timeouts;
    uint64_t skipped;    /* open loop: starts that found no free user or slot */
    uint64_t unfinished; /* still in flight when the hard time cap stopped the run */
    uint64_t requests, retransmissions, responses;
    uint64_t stray; /* responses matching no transaction (late, duplicate, foreign) */
    uint64_t bad;   /* datagrams that did not parse as a response */
    uint64_t send_errors;
    uint64_t failed_status[700]; /* final status of failed operations; [0]: local failure */
    uint64_t credentials[2];     /* answers sent, by enum auth_alg */
    uint64_t credentials_qop;    /* of which with qop=auth */
    bool interrupted;            /* SIGINT/SIGTERM stopped the starts early */
    bool capped;                 /* the hard time cap ended the run */
    struct hist op_latency;      /* completed operations, first request sent to final 2xx */
    struct hist req_latency;     /* every transaction with a final response */
};

/*
 * Runs the load described by cfg (validated by the caller) and fills res.
 * SIGINT and SIGTERM are blocked during the run and taken by the calling
 * thread: the first stops the starts and lets the transactions in flight
 * end, the second abandons them.
 * Prints the progress line to stderr unless cfg->quiet, errors to stderr.
 * 0, or an errno value when the sockets or threads could not be set up.
 * Call from the main thread, once at a time.
 */
int sb_run(const struct sb_config *cfg, struct sb_result *res);

#endif
