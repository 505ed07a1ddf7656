/* request.h: the requests sipbench sends and the digest credentials it answers challenges with. */
#ifndef SIPBENCH_REQUEST_H
#define SIPBENCH_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/digest.h"
#include "core/slice.h"
#include "sip/sip.h"

/*
 * Everything here is a pure function of its arguments: any thread may call
 * it. Slices point into strings the caller keeps alive for the call.
 */

/* The fields of one request. */
struct sb_request {
    enum sip_method method; /* SIP_METHOD_REGISTER or SIP_METHOD_OPTIONS */
    struct slice ruri;      /* "sip:127.0.0.1:5060" */
    struct slice domain;    /* host part of From and To: "127.0.0.1" */
    struct slice sent_by;   /* Via sent-by and Contact host: "127.0.0.1:40312" */
    struct slice user;      /* REGISTER: the AOR's user (From, To, Contact) */
    struct slice call_id;
    struct slice from_tag;
    uint32_t cseq;
    uint32_t branch_slot, branch_gen; /* encoded into the Via branch */
    uint32_t expires;                 /* REGISTER: Expires */
    struct slice authorization;       /* complete header lines ("...\r\n"), or absent */
};

/* Longest branch written: magic cookie, "sb", 8 + 8 hex digits. */
#define SB_BRANCH_LEN (7 + 2 + 16)

/* Writes the request into buf[0..cap); returns its length, 0 when it does not fit. */
size_t sb_request_build(char *buf, size_t cap, const struct sb_request *r);

/* The slot and generation a branch of ours encodes; false for any other branch. */
bool sb_branch_decode(struct slice branch, uint32_t *slot, uint32_t *gen);

/* One challenge of a 401 (WWW-Authenticate) or 407 (Proxy-Authenticate). */
struct sb_challenge {
    enum auth_alg alg;
    bool proxy;    /* answer with Proxy-Authorization */
    bool qop_auth; /* the qop list offers "auth" */
    bool stale;
    struct slice realm, nonce, opaque; /* unquoted, into the reply's buffer; opaque may be absent */
};

/*
 * Picks the challenge to answer among the WWW-Authenticate (401) or
 * Proxy-Authenticate (407) headers of reply: the first Digest one whose
 * algorithm is 'want', or with want < 0 the first one whose algorithm is
 * supported (MD5, SHA-256; absent means MD5). 0; ENOENT when none fits;
 * EBADMSG when the status is neither 401 nor 407.
 */
int sb_challenge_pick(struct sip_msg *reply, int want, struct sb_challenge *ch);

/* The digest answer to one challenge. */
struct sb_credentials {
    struct slice user;
    struct slice ha1;    /* hex, for ch->alg and ch->realm */
    struct slice method; /* "REGISTER" */
    struct slice uri;    /* the Request-URI, as sent */
    bool qop;            /* answer with qop=auth (only when ch->qop_auth) */
    uint32_t nc;         /* with qop: the nonce count, 1 for a fresh nonce */
    struct slice cnonce; /* with qop */
};

/*
 * Writes "Authorization: Digest ...\r\n" (or Proxy-Authorization) into
 * buf[0..cap): username, realm, nonce, uri, response, algorithm, then with
 * qop: qop=auth, nc, cnonce, and opaque when the challenge had one.
 * Returns its length; 0 when it does not fit or the hash failed.
 */
size_t sb_credentials_build(char *buf, size_t cap, const struct sb_challenge *ch,
                            const struct sb_credentials *c);

/* 8 lower-case hex digits of v into out (no NUL). */
void sb_hex32(char out[8], uint32_t v);

#endif
