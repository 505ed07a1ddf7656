/* proc.h: a received message, the context the route pipeline runs it in, and stateless replies. */
#ifndef SIPD_SIP_PROC_H
#define SIPD_SIP_PROC_H

#include <stdbool.h>

#include "core/stats.h"
#include "net/net.h"
#include "sip/module.h"
#include "sip/sip.h"

/* The core settings a message is judged by; part of the config snapshot. */
struct sip_core_cfg {
    size_t max_len;                  /* SER's max_len: "msg:len > max_len" */
    const struct net_listen *listens; /* what counts as myself, with the aliases */
    size_t listen_n;
    const struct slice *alias_hosts; /* "example.com" */
    const uint16_t *alias_ports;     /* 0: any port of ours */
    size_t alias_n;
};

/* Counters of the message layer. Many threads bump them (relaxed atomics). */
#define SIP_STATS_REASONS 64
struct sip_stats {
    stat_counter requests;
    stat_counter responses;
    stat_counter parse_errors;
    stat_counter dropped;           /* sanity drops, malformed responses */
    stat_counter overload;          /* 503 or drop because a worker queue was full */
    stat_counter replies[7];        /* stateless replies sent, by class 1xx..6xx (index 1..6) */
    stat_counter reply_codes[600];  /* the same by code, index code - 100 (Kamailio's sl stats) */
    stat_counter send_errors;
    stat_counter unmatched_responses; /* responses with no transaction (until tm) */
    /* parse errors by reason: the reason strings are static, so a slot is
     * claimed once by compare-and-swap of the pointer and then counted */
    const char *_Atomic reason[SIP_STATS_REASONS];
    stat_counter reason_count[SIP_STATS_REASONS];
};

void sip_stats_reason(struct sip_stats *st, const char *reason);

/* A received message: one allocation holding this struct, the arena's first
 * block and the datagram bytes. Created on a receiver, freed on a worker. */
struct sip_pkt {
    struct net_item item;
    struct net_sock *sock;
    struct net_addr src;
    struct sip_msg msg;
    struct arena arena;
    size_t len;
    char *data;
};

void sip_pkt_free(struct sip_pkt *pkt);

/* Per-worker state of the message layer: the buffer replies are built in. */
#define SIP_OUT_CAP 65536
struct sip_worker {
    unsigned index;
    char out[SIP_OUT_CAP];
};

/* The context one message runs through the pipeline with. */
struct sip_ctx {
    struct sip_pkt *pkt;
    struct sip_msg *msg;
    const struct sip_core_cfg *core;
    struct sip_worker *worker;
    struct sip_stats *stats;
    int mf_value;           /* Max-Forwards to write when relaying; -1 untouched */
    unsigned err_code;      /* what sl_reply_error() sends; 0: 500 */
    const char *err_reason;
    struct slice err_headers; /* header lines sl_reply_error() adds (Min-Expires...) */
    bool replied;           /* a final stateless reply was sent */
    /* the Request-URI as the pipeline has rewritten it (lookup, aliases):
     * text in the packet's arena, parsed; starts as the message's */
    struct slice ruri;
    struct sip_uri ruri_parsed;
    /* further targets lookup("location") found, for forking (text in the arena) */
    struct slice *branches;
    unsigned branch_n;
    /* authentication: the digest username that authenticated (in the message) */
    struct slice auth_user;
    bool auth_stale;              /* the challenge that follows says stale=true */
    const struct sip_hdr *auth_hdr; /* the credentials that authenticated */
    bool consume_auth;            /* consume_credentials(): drop auth_hdr on relay */
};

/* Rewrites the Request-URI the pipeline works with (copied into the
 * packet's arena, parsed). 0, EBADMSG or ENOMEM. */
int sip_ctx_set_ruri(struct sip_ctx *ctx, struct slice uri);

void sip_ctx_init(struct sip_ctx *ctx, struct sip_pkt *pkt, const struct sip_core_cfg *core,
                  struct sip_worker *worker, struct sip_stats *stats);

/* RFC 3261 18.2.1 / RFC 3581: the received and rport values a request's top
 * Via gets, given its source. *received is absent when sent-by equals the
 * source IP; *rport is 0 when the Via has no valueless rport. ipbuf holds
 * the received text. */
void sip_via_fixup(const struct sip_msg *msg, const struct sockaddr *src, char *ipbuf,
                   size_t ipcap, struct slice *received, unsigned *rport);

/* Where a response to this request goes (RFC 3261 18.2.2, RFC 3581):
 * rport -> source IP and port; otherwise source IP and the sent-by port (5060
 * when absent). */
void sip_reply_dest(const struct sip_msg *msg, const struct net_addr *src, struct net_addr *dst);

/*
 * Sends a stateless reply to the request in 'pkt' from the socket it came in
 * on, built in buf (cap bytes). Counts it. From receivers and workers.
 * 0 or an errno value.
 */
int sip_send_reply(struct sip_pkt *pkt, struct sip_stats *st, unsigned code, struct slice reason,
                   struct slice extra_headers, char *buf, size_t cap);

/* The same, from the pipeline (sl_send_reply). */
int sip_ctx_reply(struct sip_ctx *ctx, unsigned code, struct slice reason,
                  struct slice extra_headers);

/* True when the URI's host and port are one of our listen addresses or aliases. */
bool sip_uri_is_myself(const struct sip_core_cfg *core, const struct sip_uri *uri);

/* ---------------------------------------------------------------- receiving */

/* The receiver side: parse, sanity verdict, reply or drop, or dispatch to
 * the worker hash(Call-ID) % workers. Settings fixed at start. */
struct sip_rx {
    struct sip_stats *stats;
    struct sip_limits limits;
    struct sip_sanity_cfg sanity;
};

/* net_rx_fn for struct sip_rx. */
void sip_rx_datagram(void *arg, const struct net_dgram *d);

/* The worker a Call-ID maps to. */
unsigned sip_callid_hash(struct slice call_id);

/* ---------------------------------------------------------------- modules */

extern const struct module sip_sl_module;     /* sl_send_reply, sl_reply_error */
extern const struct module sip_maxfwd_module; /* mf_process_maxfwd_header */

#endif
