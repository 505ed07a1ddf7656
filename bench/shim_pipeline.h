/* shim_pipeline.h: a plain C face over sipd's route pipeline (src/route) for the C++ benchmark. */
#ifndef SIPD_BENCH_SHIM_PIPELINE_H
#define SIPD_BENCH_SHIM_PIPELINE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * One compiled config and one message slot, as a worker would hold them.
 * The config is the seed's sanity section (ser.cfg's first two ifs) plus
 * its "method != REGISTER" test, then "break": for a REGISTER with
 * Max-Forwards above 0 that fits max_len, the pipeline takes no branch,
 * sends nothing and touches no socket. The message slot is a struct
 * sip_pkt whose arena starts in a buffer big enough that parsing never
 * mallocs (a receiver's packet allocation holds the same). Not thread safe:
 * one per thread.
 */
struct shimp;

/*
 * Writes the config to a temporary JSON file, loads and compiles it with
 * route_cfg_load() and removes the file. 0, or an errno value with the
 * reason in err.
 */
int shimp_open(struct shimp **pp, char *err, size_t err_cap);
void shimp_close(struct shimp *p);

/* The config as JSON text (for the record and for error messages). */
const char *shimp_config_text(void);

/*
 * Resets the arena, parses buf[0..len) in place with the receivers' limits
 * and gives it the receivers' sanity verdict (sip_msg_parse + sip_sanity,
 * as sip_rx_datagram does; the receiver's copy of the datagram and its
 * malloc are not included). buf must outlive the next shimp_run(). 0 when
 * the message parsed, was accepted and is a REGISTER that the config lets
 * through without a reply (Max-Forwards above 0, within max_len); -1
 * otherwise (reason in *why).
 */
int shimp_parse(struct shimp *p, const char *buf, size_t len, const char **why);

/*
 * Runs the "main" route on the message last parsed (sip_ctx_init +
 * route_run). 0 when it took the expected path: route_run returned
 * MOD_TRUE (it ended on a break), no reply was sent, and maxfwd set the
 * Max-Forwards to relay with to the message's value minus one; -1
 * otherwise (reason in *why).
 */
int shimp_run(struct shimp *p, const char **why);

/* shimp_parse() then shimp_run(): a message from bytes to a routing verdict. */
int shimp_parse_run(struct shimp *p, const char *buf, size_t len, const char **why);

#ifdef __cplusplus
}
#endif

#endif
