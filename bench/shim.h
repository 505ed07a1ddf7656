/* shim.h: a plain C face over the sipd, sofia-sip and libosip2 parsers for the C++ driver. */
#ifndef SIPD_BENCH_SHIM_H
#define SIPD_BENCH_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * What a proxy reads from a message, as each parser delivered it. Every
 * shim fills every field from its library's decoded structures (never from
 * the raw text), so a parser cannot skip work the others do; the driver
 * checks before timing that the three agree field for field. Lengths are of
 * the values without quotes; absent values are 0 (lengths, counts) or -1
 * (numbers).
 */
struct shim_result {
    uint32_t ruri_host_len;     /* requests */
    uint32_t status;            /* responses */
    uint32_t via_count;         /* every Via value of every Via header */
    uint32_t via_host_len_sum;  /* sent-by hosts */
    uint32_t via_port_sum;      /* sent-by ports (0 when absent) */
    uint32_t via_branch_len_sum;
    uint32_t via_received_len_sum;
    uint32_t via_rport_count;   /* Vias with an rport parameter */
    uint32_t from_user_len, from_host_len, from_tag_len;
    uint32_t to_user_len, to_host_len, to_tag_len;
    uint32_t call_id_len;
    uint32_t cseq_number;
    uint32_t cseq_method_len;
    uint32_t contact_count;
    uint32_t contact_user_len_sum, contact_host_len_sum;
    int64_t contact_expires;    /* expires parameter of the first Contact */
    int64_t expires;            /* Expires header */
    int64_t max_forwards;
    uint32_t auth_username_len, auth_realm_len, auth_nonce_len, auth_uri_len;
    uint32_t auth_response_len, auth_algorithm_len, auth_cnonce_len, auth_qop_len,
        auth_nc_len;
};

/* Compares two results; on a difference writes the field's name to 'what'
 * and returns 0. */
int shim_result_same(const struct shim_result *a, const struct shim_result *b,
                     const char **what);

/*
 * Each parse function parses buf[0..len) completely, as its library does
 * it for a proxy, fills *out, releases everything it allocated, and
 * returns 0; or returns -1 when the library rejected the message (with
 * the reason in *why when the library gives one). Not thread safe: one
 * context per thread.
 */

/* sipd: sip_msg_parse() and the lazy decoders a proxy calls (all Vias,
 * Contacts, Expires, Authorization), with the arena reset per message. */
struct shim_sipd;
struct shim_sipd *shim_sipd_new(void);
void shim_sipd_free(struct shim_sipd *ctx);
int shim_sipd_parse_full(struct shim_sipd *ctx, const char *buf, size_t len,
                         struct shim_result *out, const char **why);
/* sip_msg_parse() alone: the eagerly decoded keys (top Via, Call-ID, CSeq,
 * From, To, Max-Forwards). Only the fields those give are filled. */
int shim_sipd_parse_keys(struct shim_sipd *ctx, const char *buf, size_t len,
                         struct shim_result *out, const char **why);

/* libosip2: osip_message_init/parse/free. shim_osip_init() runs the
 * library's one-time parser_init() and must be called first. */
int shim_osip_init(void);
int shim_osip_parse(const char *buf, size_t len, struct shim_result *out, const char **why);

/* sofia-sip: msg_make(sip_default_mclass(), ...) then msg_destroy(), with
 * the digest parameters decoded by auth_digest_response_get(). */
int shim_sofia_parse(const char *buf, size_t len, struct shim_result *out, const char **why);

#ifdef __cplusplus
}
#endif

#endif
