/* ctl.h: JSON-RPC 2.0 control server on a unix stream socket and a FIFO. */
#ifndef SIPD_CORE_CTL_H
#define SIPD_CORE_CTL_H

#include <jansson.h>
#include <stddef.h>

/*
 * Commands are registered by modules in tables, as actions are. A handler
 * runs on the control thread, one request at a time, so handlers never race
 * each other; whatever they touch that workers also touch must be safe for
 * that (RCU tables, atomics, job queues).
 *
 * A handler returns the JSON-RPC "result" (a new reference), or NULL with
 * err->code and err->message set (JSON-RPC codes: -32602 invalid params,
 * -32000 and below for application errors).
 */
struct ctl_error {
    int code;
    char message[256];
};

/* 'params' is borrowed: the request's array or object, NULL when it has none.
 * err arrives zeroed; a NULL return with err->code 0 becomes -32603. */
typedef json_t *ctl_handler_fn(void *arg, json_t *params, struct ctl_error *err);

/* The strings are not copied: tables are static and outlive the server. */
struct ctl_cmd {
    const char *name; /* "core.stats" */
    ctl_handler_fn *fn;
    const char *help; /* one line */
};

struct ctl_server;

/*
 * Creates a server listening on the unix stream socket 'sock_path' (may be
 * NULL) and the FIFO 'fifo_path' (may be NULL), both mode 0660. A stale
 * socket (nobody accepts on it) or an existing FIFO is replaced; a live
 * socket is EADDRINUSE, any other kind of file EEXIST.
 *
 * Socket: one JSON-RPC object per line, the reply one line, any number of
 * requests per connection, answered in order. A line over CTL_MAX_REQUEST
 * bytes gets a -32600 reply and the connection is closed. At most 64
 * connections at once (more wait in the backlog); one idle for 5 minutes
 * is closed.
 *
 * FIFO, as Kamailio's jsonrpcs module does it (its README, "JSONRPC Over
 * FIFO", and jsonrpcs_fifo.c): the writer sends the JSON request object with
 * an extra member "reply_name" naming the reply FIFO; documents are framed
 * by balanced braces, not by lines. The reply FIFO must already exist with
 * a reader (the server tries for about 320 ms, then drops the reply); its
 * name is a bare file name (no '/', '\' or '.', as Kamailio checks) looked
 * up in the directory of 'fifo_path' (Kamailio uses its fifo_reply_dir).
 * The reply is the JSON reply followed by a newline. The older SER/OpenSIPS
 * framing, ":reply_name:" before the JSON, is accepted too.
 *
 * 0 or an errno value (*why, set on failure only, names the failing step).
 */
#define CTL_MAX_REQUEST (1024 * 1024)

int ctl_server_create(struct ctl_server **sp, const char *sock_path, const char *fifo_path,
                      const char **why);
/* Adds n commands; each calls fn(arg, ...). Before ctl_server_start() only
 * (EBUSY after). All or none: a name already present is EEXIST, a command
 * without name or fn EINVAL. */
int ctl_server_register(struct ctl_server *s, const struct ctl_cmd *cmds, size_t n, void *arg);
/* Starts the control thread (with every signal blocked, so signals go to
 * the threads that handle them). Once; EALREADY after. */
int ctl_server_start(struct ctl_server *s);
/* Stops the thread (wakes it through an eventfd; returns once the handler
 * running, if any, has finished), closes every connection, closes and
 * unlinks the socket and FIFO, frees. Owner thread; NULL is a no-op. */
void ctl_server_destroy(struct ctl_server *s);

/* Runs one request object through the command table (for tests and the
 * FIFO/socket code): returns the reply object (new reference), or NULL when
 * no reply is due: a notification (a valid request without "id"), whatever
 * its handler did. An invalid request is always answered, with its "id"
 * when that is a string, number or null, else null. Batches get -32600.
 * Built in: "system.listMethods" (the names, sorted) and
 * "system.methodHelp" (params [name]: the help line). Calls handlers on the
 * calling thread: the control thread once started, any one thread before. */
json_t *ctl_server_dispatch(struct ctl_server *s, json_t *request);

/* Client side, for sipctl: connects, sends one request (params borrowed,
 * NULL for none), waits up to timeout_ms (negative: no limit) for the reply
 * and closes. 0 with *reply the whole JSON-RPC response (new reference; a
 * JSON-RPC error is still 0: look at its "error"), or an errno value with
 * *why (set on failure only): ETIMEDOUT, ENOENT/ECONNREFUSED (no server),
 * EPROTO (the reply is not a JSON-RPC response to this request),
 * ECONNRESET, ENOMEM. Any thread. */
int ctl_call(const char *sock_path, const char *method, json_t *params, int timeout_ms,
             json_t **reply, const char **why);

#endif
