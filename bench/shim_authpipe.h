/* shim_authpipe.h: a C face over the subscriber cache and the REGISTER pipeline, for C++. */
#ifndef SIPD_BENCH_SHIM_AUTHPIPE_H
#define SIPD_BENCH_SHIM_AUTHPIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Every thread that calls into this shim registers with RCU first
 * (shimap_thread_enter) and unregisters before it ends (shimap_thread_leave):
 * the cache and the location table are read under urcu-memb. Enters nest
 * (counted per thread): only the outermost pair registers and unregisters.
 */
void shimap_thread_enter(void);
void shimap_thread_leave(void);

/* ---------------------------------------------------------------- the subscriber cache */

/*
 * A struct sub_cache (src/auth/subscriber.c) holding 'users' live entries
 * ("user000000".."user<users-1>", realm example.com, both HA1s), and a
 * precomputed sequence of SHIMAP_SEQ_LEN user numbers drawn uniformly at
 * random (fixed seed). The caller's thread must have entered.
 */
#define SHIMAP_SEQ_LEN 65536u

struct shimap_cache;

int shimap_cache_new(struct shimap_cache **cp, unsigned users, char *err, size_t err_cap);
void shimap_cache_free(struct shimap_cache *c);
/* sub_cache_get() of the user at position i % SHIMAP_SEQ_LEN of the
 * sequence. 0 on a live hit with the MD5 HA1 present, -1 otherwise. Any
 * entered thread, concurrently. */
int shimap_cache_get(struct shimap_cache *c, size_t i);
unsigned long shimap_cache_count(struct shimap_cache *c);

/* ---------------------------------------------------------------- the REGISTER pipeline */

/*
 * sipd's modules initialised as route_runtime_start does it (each module's
 * init with a struct mod_env, in route_modules order, then route_cfg_load
 * with their states), from a config whose "routes" are those of
 * examples/registrar.json, read from the source tree, with:
 *   - usrloc db_mode 0 (memory) and no db_url anywhere, so no database I/O;
 *   - auth_db calculate_ha1 as in the file (SHA-256 is offered), its
 *     subscriber cache pre-filled with the HA1s of 'users' users
 *     (sub_cache_put on the auth_db module's state), TTL one day;
 *   - auth secret fixed and nonce_expire one day, so the shim's nonces,
 *     made with its own struct auth_nonces and the same secret, verify;
 *   - aliases ["example.com"], so sip:example.com is "myself";
 *   - children 1, no ctl_socket, fifo or db_url.
 * Replies (the 100 Trying and the 200 OK) leave through a real UDP socket
 * on 127.0.0.1 towards a second local socket that is never read (receive
 * buffer at its minimum): every sendto succeeds and the kernel drops the
 * datagram at the sink. Not thread safe: one thread drives a pipe.
 */
enum shimap_alg { SHIMAP_MD5 = 0, SHIMAP_SHA256 = 1 };

/* Messages prepared per batch (a slot each: the packet, its arena buffer, the bytes). */
#define SHIMAP_BATCH 64u

struct shimap_pipe;

int shimap_pipe_new(struct shimap_pipe **pp, unsigned users, char *err, size_t err_cap);
void shimap_pipe_free(struct shimap_pipe *p);

/* The config the pipe loaded, as JSON text (valid until shimap_pipe_free). */
const char *shimap_pipe_config(const struct shimap_pipe *p);

/*
 * Fills the SHIMAP_BATCH slots with fresh REGISTERs (not timed): the first
 * 'users' users of the pipe in turn, each with its own Call-ID and AOR, a
 * CSeq one above everything sent before (a refresh the registrar must
 * store, not an out-of-order repeat it ignores), and correct credentials
 * for alg (response computed with auth_response); with qop=auth and the
 * user's next nc (the replay check accepts each once), without qop
 * otherwise. With parsed, each is also parsed (shimap_pipe_parse) so that
 * shimap_pipe_run can time the route alone. 0, or -1 with *why.
 */
int shimap_pipe_prepare(struct shimap_pipe *p, enum shimap_alg alg, bool qop, unsigned users,
                        bool parsed, const char **why);

/* Length of the message in slot i. */
size_t shimap_pipe_msg_len(const struct shimap_pipe *p, unsigned i);

/* sip_msg_parse + sip_sanity of slot i, as a receiver does (arena reset,
 * receivers' limits). 0 when accepted, -1 with *why. */
int shimap_pipe_parse(struct shimap_pipe *p, unsigned i, const char **why);

/*
 * The worker's step on slot i (already parsed): sip_ctx_init + route_run
 * in an RCU read section, as the runtime's work() does. 0 when the message
 * authenticated (ctx.auth_user set), consume_credentials ran, and the 200
 * went out (ctx.replied, one more 200 counted); -1 with *why otherwise.
 */
int shimap_pipe_run(struct shimap_pipe *p, unsigned i, const char **why);

/* shimap_pipe_parse then shimap_pipe_run. */
int shimap_pipe_parse_run(struct shimap_pipe *p, unsigned i, const char **why);

/* For scale: two net_send() of the last 200 OK's bytes through the same
 * sockets (what the pipeline's two replies cost the kernel). 0 or an errno. */
int shimap_pipe_send2(struct shimap_pipe *p);

/* Counters read back from the modules and the message layer. */
struct shimap_counts {
    uint64_t authorized, failed, stale, challenges;                /* the auth module's stats */
    uint64_t cache_hits, cache_misses;                             /* the auth_db module's stats */
    uint64_t aors, contacts;                                       /* the usrloc module's stats */
    uint64_t replies_100, replies_200, replies_other, send_errors; /* struct sip_stats */
    uint64_t routed;      /* shimap_pipe_run calls that passed their checks */
    uint64_t arena_spill; /* parses whose arena had to malloc a chunk */
};

/* 0, or -1 with *why (a module's stats did not read back). */
int shimap_pipe_counts(struct shimap_pipe *p, struct shimap_counts *out, const char **why);

/*
 * Asks usrloc (its ul.show command) for the binding of the user of the
 * last message run, and checks that its CSeq is that message's: the save
 * really stored the latest REGISTER. 0, or -1 with *why.
 */
int shimap_pipe_check_saved(struct shimap_pipe *p, const char **why);

#ifdef __cplusplus
}
#endif

#endif
