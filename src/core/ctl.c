/* ctl.c: the JSON-RPC 2.0 control server (unix socket and FIFO) and its client. */
#define _GNU_SOURCE /* accept4 */
#include "core/ctl.h"

#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/*
 * DESIGN
 *
 * One control thread serves everything with one poll(): the wake eventfd,
 * the listening socket, the FIFO and every connection, all non-blocking.
 * Handlers run on it one request at a time, so they never race each other;
 * a slow handler delays other control clients, never SIP traffic.
 *
 * Back-pressure: a connection is read only while it has no reply waiting
 * to be sent. A client that pipelines requests without reading replies
 * stalls itself, not the server, and its input buffer holds at most one
 * partial line (bounded by CTL_MAX_REQUEST) plus one read.
 *
 * The FIFO is opened for reading and, once more, for writing: holding a
 * writer ourselves means the read end never sees end-of-file (and poll()
 * never spins on POLLHUP) between two clients. Replies go to a FIFO the
 * client made; opening it is retried briefly while the client has not yet
 * opened its end (ENXIO), as Kamailio does, with the retries waiting on the
 * wake fd so that ctl_server_destroy() is never held up for long.
 *
 * Stopping: ctl_server_destroy() sets 'stop' and writes the eventfd; the
 * thread checks both on every turn of the loop and in every wait.
 */

#define CTL_MAX_CLIENTS      64
#define CTL_IDLE_MS          (5 * 60 * 1000)
#define CTL_READ_CHUNK       65536
#define CTL_BACKLOG          16
#define CTL_REPLY_NAME_MAX   128
#define CTL_FIFO_OPEN_TRIES  4
#define CTL_FIFO_RETRY_MS    80
#define CTL_FIFO_WRITE_MS    1000
#define CTL_CLIENT_REPLY_MAX (64 * 1024 * 1024)

#define JSONRPC_PARSE_ERROR      -32700
#define JSONRPC_INVALID_REQUEST  -32600
#define JSONRPC_METHOD_NOT_FOUND -32601
#define JSONRPC_INVALID_PARAMS   -32602
#define JSONRPC_INTERNAL_ERROR   -32603

/* What a transport sends when it cannot even build an error reply. */
static const char oom_reply[] = "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32603,\"message\":"
                                "\"Internal error\"},\"id\":null}\n";

struct buf {
    char *p;
    size_t len;
    size_t cap;
};

static int buf_reserve(struct buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return 0;
    if (extra > SIZE_MAX / 2 - b->len)
        return ENOMEM;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

static int buf_append(struct buf *b, const void *p, size_t n)
{
    int err = buf_reserve(b, n);
    if (err)
        return err;
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

static void buf_consume(struct buf *b, size_t n)
{
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

static void buf_free(struct buf *b)
{
    free(b->p);
    *b = (struct buf){0};
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until 'deadline' for poll(): -1 without a deadline. */
static int ms_left(int64_t deadline)
{
    if (deadline < 0)
        return -1;
    int64_t left = deadline - now_ms();
    if (left <= 0)
        return 0;
    return left > INT_MAX ? INT_MAX : (int)left;
}

struct ctl_entry {
    struct ctl_cmd cmd;
    void *arg;
};

struct ctl_conn {
    int fd;
    struct buf in;
    struct buf out;
    size_t scanned; /* bytes of 'in' already searched for a newline */
    bool eof;       /* the client sent everything it will send */
    bool closing;   /* close once 'out' is sent */
    bool dead;      /* close now */
    int64_t last_active_ms;
};

enum fifo_state { FIFO_IDLE, FIFO_NAME, FIFO_DOC };

/* Framing of the FIFO byte stream into JSON documents (see ctl.h). */
struct fifo_reader {
    enum fifo_state state;
    char name[CTL_REPLY_NAME_MAX + 1]; /* from a ":name:" prefix */
    size_t name_len;
    bool have_prefix;
    bool name_too_long;
    struct buf doc;
    int depth;
    bool in_string;
    bool escaped;
    bool oversize; /* dropped bytes past CTL_MAX_REQUEST; still framing */
    bool garbage_logged;
};

struct ctl_server {
    struct ctl_entry *cmds; /* sorted by name */
    size_t ncmds;
    int wake_fd;
    int listen_fd;
    char *sock_path; /* set once we created the file: we unlink it */
    int fifo_fd;
    int fifo_keep_fd;
    char *fifo_path;
    char *fifo_dir;
    struct fifo_reader fifo;
    struct ctl_conn conns[CTL_MAX_CLIENTS];
    size_t nconns;
    int64_t accept_resume_ms; /* after EMFILE: pause accepting until then */
    pthread_t thread;
    bool started;
    atomic_bool stop;
};

/* ---- dispatch ------------------------------------------------------------------------- */

static const char *default_message(int code)
{
    switch (code) {
    case JSONRPC_PARSE_ERROR:
        return "Parse error";
    case JSONRPC_INVALID_REQUEST:
        return "Invalid Request";
    case JSONRPC_METHOD_NOT_FOUND:
        return "Method not found";
    case JSONRPC_INVALID_PARAMS:
        return "Invalid params";
    case JSONRPC_INTERNAL_ERROR:
        return "Internal error";
    default:
        return "Server error";
    }
}

/* {"jsonrpc":"2.0", <key>: value, "id": id}; steals 'value'; NULL on ENOMEM. */
static json_t *reply_new(const char *key, json_t *value, json_t *id)
{
    json_t *r = json_object();
    if (!r || !value || json_object_set_new(r, "jsonrpc", json_string("2.0"))) {
        json_decref(value);
        json_decref(r);
        return NULL;
    }
    /* json_object_set_new() takes 'value' even when it fails */
    if (json_object_set_new(r, key, value) || json_object_set(r, "id", id ? id : json_null())) {
        json_decref(r);
        return NULL;
    }
    return r;
}

/* An error reply. 'message' need not be valid UTF-8: the generic text for
 * the code replaces one that jansson refuses. */
static json_t *error_reply(json_t *id, int code, const char *message)
{
    json_t *text = json_string(message ? message : default_message(code));
    if (!text)
        text = json_string(default_message(code));
    json_t *err = json_object();
    if (!err || json_object_set_new(err, "code", json_integer(code)) ||
        json_object_set_new(err, "message", text)) {
        json_decref(err);
        return NULL;
    }
    return reply_new("error", err, id);
}

static json_t *error_replyf(json_t *id, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static json_t *error_replyf(json_t *id, int code, const char *fmt, ...)
{
    char message[sizeof(((struct ctl_error *)0)->message)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    return error_reply(id, code, message);
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct ctl_entry *)a)->cmd.name, ((const struct ctl_entry *)b)->cmd.name);
}

static const struct ctl_entry *lookup(const struct ctl_server *s, const char *name)
{
    struct ctl_entry key = {.cmd = {.name = name}};
    return bsearch(&key, s->cmds, s->ncmds, sizeof(*s->cmds), entry_cmp);
}

/* Cuts s to at most max bytes at a UTF-8 character boundary: the length. */
static int utf8_cut(const char *s, int max)
{
    int n = (int)strnlen(s, (size_t)max + 1);
    if (n <= max)
        return n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    return n;
}

/*
 * Validates and runs one request. Returns whether a reply is due; *reply is
 * then the reply, or NULL when memory ran out building it.
 */
static bool dispatch(struct ctl_server *s, json_t *req, json_t **reply)
{
    *reply = NULL;
    if (json_is_array(req)) {
        *reply = error_reply(NULL, JSONRPC_INVALID_REQUEST,
                             "Invalid Request: batch requests are not supported");
        return true;
    }
    if (!json_is_object(req)) {
        *reply = error_reply(NULL, JSONRPC_INVALID_REQUEST,
                             "Invalid Request: a request is a JSON object");
        return true;
    }

    json_t *id = json_object_get(req, "id");
    if (id && !json_is_string(id) && !json_is_number(id) && !json_is_null(id)) {
        *reply = error_reply(NULL, JSONRPC_INVALID_REQUEST,
                             "Invalid Request: \"id\" must be a string, a number or null");
        return true;
    }
    json_t *version = json_object_get(req, "jsonrpc");
    if (!json_is_string(version) || strcmp(json_string_value(version), "2.0") != 0) {
        *reply = error_reply(id, JSONRPC_INVALID_REQUEST,
                             "Invalid Request: \"jsonrpc\" must be \"2.0\"");
        return true;
    }
    json_t *method = json_object_get(req, "method");
    if (!json_is_string(method)) {
        *reply = error_reply(id, JSONRPC_INVALID_REQUEST,
                             "Invalid Request: \"method\" must be a string");
        return true;
    }
    json_t *params = json_object_get(req, "params");
    if (json_is_null(params))
        params = NULL; /* some clients write "params": null for none */
    if (params && !json_is_array(params) && !json_is_object(params)) {
        *reply = error_reply(id, JSONRPC_INVALID_REQUEST,
                             "Invalid Request: \"params\" must be an array or an object");
        return true;
    }

    const char *name = json_string_value(method);
    const struct ctl_entry *e = lookup(s, name);
    if (!e) {
        if (!id)
            return false;
        *reply = error_replyf(id, JSONRPC_METHOD_NOT_FOUND, "Method not found: %.*s",
                              utf8_cut(name, 128), name);
        return true;
    }

    struct ctl_error err = {0};
    json_t *result = e->cmd.fn(e->arg, params, &err);
    if (!id) {
        json_decref(result);
        return false;
    }
    if (result) {
        *reply = reply_new("result", result, id);
        return true;
    }
    err.message[sizeof(err.message) - 1] = '\0';
    int code = err.code ? err.code : JSONRPC_INTERNAL_ERROR;
    *reply = error_reply(id, code, err.message[0] ? err.message : NULL);
    return true;
}

json_t *ctl_server_dispatch(struct ctl_server *s, json_t *request)
{
    json_t *reply;
    dispatch(s, request, &reply);
    return reply;
}

/* Parses and runs one request text; as dispatch(). */
static bool handle_text(struct ctl_server *s, const char *p, size_t n, json_t **reply)
{
    json_error_t jerr;
    json_t *req = json_loadb(p, n, JSON_DECODE_ANY, &jerr);
    if (!req) {
        *reply = error_replyf(NULL, JSONRPC_PARSE_ERROR, "Parse error: %s", jerr.text);
        return true;
    }
    bool due = dispatch(s, req, reply);
    json_decref(req);
    return due;
}

/* Serialises a reply as one line onto 'out'. */
static int put_reply(struct buf *out, json_t *reply)
{
    char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
    int err;

    if (!text)
        return buf_append(out, oom_reply, sizeof(oom_reply) - 1);
    err = buf_append(out, text, strlen(text));
    if (!err)
        err = buf_append(out, "\n", 1);
    free(text);
    return err;
}

/* ---- built-in commands ------------------------------------------------------------------ */

static json_t *cmd_list_methods(void *arg, json_t *params, struct ctl_error *err)
{
    const struct ctl_server *s = arg;
    json_t *names = json_array();
    (void)params;
    (void)err;
    for (size_t i = 0; names && i < s->ncmds; i++) {
        if (json_array_append_new(names, json_string(s->cmds[i].cmd.name))) {
            json_decref(names);
            return NULL;
        }
    }
    return names;
}

static json_t *cmd_method_help(void *arg, json_t *params, struct ctl_error *err)
{
    const struct ctl_server *s = arg;
    json_t *name = json_is_array(params) && json_array_size(params) == 1
                       ? json_array_get(params, 0)
                       : json_object_get(params, "name");
    if (!json_is_string(name)) {
        err->code = JSONRPC_INVALID_PARAMS;
        snprintf(err->message, sizeof(err->message),
                 "Invalid params: expected [\"method name\"] or {\"name\": \"method name\"}");
        return NULL;
    }
    const struct ctl_entry *e = lookup(s, json_string_value(name));
    if (!e) {
        const char *n = json_string_value(name);
        err->code = JSONRPC_INVALID_PARAMS;
        snprintf(err->message, sizeof(err->message), "Invalid params: no method named %.*s",
                 utf8_cut(n, 128), n);
        return NULL;
    }
    return json_string(e->cmd.help ? e->cmd.help : "");
}

static const struct ctl_cmd builtin_cmds[] = {
    {"system.listMethods", cmd_list_methods, "Lists the method names"},
    {"system.methodHelp", cmd_method_help, "The help line of a method: [name]"},
};

int ctl_server_register(struct ctl_server *s, const struct ctl_cmd *cmds, size_t n, void *arg)
{
    if (s->started)
        return EBUSY;
    for (size_t i = 0; i < n; i++)
        if (!cmds[i].name || !cmds[i].name[0] || !cmds[i].fn)
            return EINVAL;
    if (n > SIZE_MAX / sizeof(*s->cmds) - s->ncmds)
        return ENOMEM;

    struct ctl_entry *all = malloc((s->ncmds + n) * sizeof(*all) + 1);
    if (!all)
        return ENOMEM;
    if (s->ncmds)
        memcpy(all, s->cmds, s->ncmds * sizeof(*all));
    for (size_t i = 0; i < n; i++)
        all[s->ncmds + i] = (struct ctl_entry){cmds[i], arg};
    qsort(all, s->ncmds + n, sizeof(*all), entry_cmp);
    for (size_t i = 1; i < s->ncmds + n; i++) {
        if (strcmp(all[i - 1].cmd.name, all[i].cmd.name) == 0) {
            free(all);
            return EEXIST;
        }
    }
    free(s->cmds);
    s->cmds = all;
    s->ncmds += n;
    return 0;
}

/* ---- unix socket connections ------------------------------------------------------------ */

static void conn_flush(struct ctl_conn *c, int64_t now)
{
    while (c->out.len) {
        ssize_t n = send(c->fd, c->out.p, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            buf_consume(&c->out, (size_t)n);
            c->last_active_ms = now;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        c->dead = true; /* the client went away: its replies go nowhere */
        return;
    }
}

static void conn_reply(struct ctl_conn *c, json_t *reply)
{
    if (put_reply(&c->out, reply)) {
        log_err("ctl: out of memory for a reply; closing the connection");
        c->dead = true;
    }
}

/* Runs the complete lines in 'in' while no reply is waiting to be sent. */
static void conn_process(struct ctl_server *s, struct ctl_conn *c, int64_t now)
{
    while (!c->dead && !c->closing && c->out.len == 0) {
        char *nl = c->in.len > c->scanned
                       ? memchr(c->in.p + c->scanned, '\n', c->in.len - c->scanned)
                       : NULL;
        size_t len = nl ? (size_t)(nl - c->in.p) : c->in.len;

        if (len > CTL_MAX_REQUEST) {
            json_t *r =
                error_replyf(NULL, JSONRPC_INVALID_REQUEST,
                             "Invalid Request: a request may not exceed %d bytes", CTL_MAX_REQUEST);
            conn_reply(c, r);
            json_decref(r);
            c->closing = true;
            break;
        }
        if (!nl && !c->eof) {
            c->scanned = c->in.len;
            break;
        }
        if (!nl && len == 0) { /* end of input on a line boundary */
            c->closing = true;
            break;
        }

        size_t line_len = len;
        if (line_len && c->in.p[line_len - 1] == '\r')
            line_len--;
        bool blank = true;
        for (size_t i = 0; i < line_len && blank; i++)
            blank = c->in.p[i] == ' ' || c->in.p[i] == '\t';
        if (!blank) {
            json_t *r;
            if (handle_text(s, c->in.p, line_len, &r))
                conn_reply(c, r);
            json_decref(r);
        }
        buf_consume(&c->in, nl ? len + 1 : len);
        c->scanned = 0;
        conn_flush(c, now);
    }
}

static void conn_read(struct ctl_server *s, struct ctl_conn *c, int64_t now)
{
    while (!c->dead && !c->closing && !c->eof && c->out.len == 0) {
        if (buf_reserve(&c->in, CTL_READ_CHUNK)) {
            log_err("ctl: out of memory reading a request; closing the connection");
            c->dead = true;
            return;
        }
        ssize_t n = recv(c->fd, c->in.p + c->in.len, CTL_READ_CHUNK, MSG_DONTWAIT);
        if (n > 0) {
            c->in.len += (size_t)n;
            c->last_active_ms = now;
        } else if (n == 0) {
            c->eof = true;
        } else if (errno == EINTR) {
            continue;
        } else {
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                c->dead = true;
            return;
        }
        conn_process(s, c, now);
    }
}

static void conn_service(struct ctl_server *s, struct ctl_conn *c, short revents, int64_t now)
{
    if (c->out.len && (revents & (POLLOUT | POLLERR | POLLHUP)))
        conn_flush(c, now);
    if (c->out.len == 0)
        conn_process(s, c, now); /* lines that waited for the last reply to go out */
    if (revents & (POLLIN | POLLERR | POLLHUP))
        conn_read(s, c, now);
    if (c->closing && c->out.len == 0)
        c->dead = true;
}

static void conn_close(struct ctl_conn *c)
{
    close(c->fd);
    c->fd = -1;
    buf_free(&c->in);
    buf_free(&c->out);
}

static void accept_clients(struct ctl_server *s, int64_t now)
{
    while (s->nconns < CTL_MAX_CLIENTS) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                log_err("ctl: cannot accept a control connection: %s", strerror(errno));
                s->accept_resume_ms = now + 1000;
            }
            return;
        }
        s->conns[s->nconns++] = (struct ctl_conn){.fd = fd, .last_active_ms = now};
    }
}

/* ---- FIFO --------------------------------------------------------------------------------- */

/* Waits up to ms for a stop request: true when one came. */
static bool wait_for_stop(struct ctl_server *s, int ms)
{
    struct pollfd p = {s->wake_fd, POLLIN, 0};
    if (poll(&p, 1, ms) > 0)
        return true;
    return atomic_load_explicit(&s->stop, memory_order_acquire);
}

/* Kamailio's rule: a bare file name, without '.', '/' or '\'. */
static bool reply_name_ok(const char *name)
{
    size_t n = strlen(name);
    return n > 0 && n <= CTL_REPLY_NAME_MAX && !strpbrk(name, "./\\");
}

static int write_all_fifo(struct ctl_server *s, int fd, const char *p, size_t n)
{
    int64_t deadline = now_ms() + CTL_FIFO_WRITE_MS;

    while (n) {
        ssize_t w = write(fd, p, n);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            struct pollfd pfd[2] = {{fd, POLLOUT, 0}, {s->wake_fd, POLLIN, 0}};
            int left = ms_left(deadline);
            if (left == 0 || poll(pfd, 2, left) <= 0 || pfd[1].revents)
                return ETIMEDOUT;
            continue;
        }
        return w < 0 ? errno : EIO;
    }
    return 0;
}

/* SIGPIPE is blocked on this thread, so a vanished reader makes write()
 * fail with EPIPE and leaves a SIGPIPE pending; take it off again. */
static void clear_pending_sigpipe(void)
{
    sigset_t set;
    struct timespec zero = {0, 0};
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    while (sigtimedwait(&set, NULL, &zero) == SIGPIPE) {
    }
}

static void fifo_send_reply(struct ctl_server *s, const char *name, json_t *reply)
{
    char path[PATH_MAX];
    int fd = -1, err;
    struct stat st;
    struct buf text = {0};

    if (!reply_name_ok(name)) {
        log_warn("ctl: FIFO reply name must be a bare file name without '.', '/' or '\\'; "
                 "reply dropped");
        return;
    }
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", s->fifo_dir, name) >= sizeof(path)) {
        log_warn("ctl: FIFO reply path too long; reply dropped");
        return;
    }
    for (int tries = 0;; tries++) {
        fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0)
            break;
        err = errno;
        if (err != ENXIO || tries >= CTL_FIFO_OPEN_TRIES) {
            log_warn("ctl: cannot open reply FIFO %s: %s; reply dropped", path,
                     err == ENXIO ? "nobody reads it" : strerror(err));
            return;
        }
        if (wait_for_stop(s, CTL_FIFO_RETRY_MS))
            return;
    }
    /* the name must not lead us to write into something else */
    if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode) || st.st_nlink != 1) {
        log_warn("ctl: reply path %s is not a FIFO of its own; reply dropped", path);
        goto out;
    }
    if (put_reply(&text, reply)) {
        log_err("ctl: out of memory for a FIFO reply");
        goto out;
    }
    err = write_all_fifo(s, fd, text.p, text.len);
    if (err) {
        if (err == EPIPE)
            clear_pending_sigpipe();
        log_warn("ctl: writing reply FIFO %s: %s", path, strerror(err));
    }
out:
    buf_free(&text);
    close(fd);
}

/* A whole document has been framed: run it and send the reply. */
static void fifo_document(struct ctl_server *s)
{
    struct fifo_reader *f = &s->fifo;
    json_t *req = NULL, *reply = NULL;
    json_error_t jerr;
    bool due;

    if (f->oversize) {
        log_warn("ctl: FIFO request over %d bytes dropped", CTL_MAX_REQUEST);
        reply = error_replyf(NULL, JSONRPC_INVALID_REQUEST,
                             "Invalid Request: a request may not exceed %d bytes", CTL_MAX_REQUEST);
        due = true;
    } else if (!(req = json_loadb(f->doc.p, f->doc.len, JSON_DECODE_ANY, &jerr))) {
        reply = error_replyf(NULL, JSONRPC_PARSE_ERROR, "Parse error: %s", jerr.text);
        due = true;
    } else {
        due = dispatch(s, req, &reply);
    }

    const char *name = NULL;
    if (f->have_prefix && f->name_len && !f->name_too_long)
        name = f->name;
    else if (json_is_string(json_object_get(req, "reply_name")))
        name = json_string_value(json_object_get(req, "reply_name"));
    if (due && name)
        fifo_send_reply(s, name, reply);
    else if (due)
        log_warn("ctl: FIFO request without a usable \"reply_name\"; reply dropped");
    json_decref(reply);
    json_decref(req);
}

static void fifo_reset(struct fifo_reader *f)
{
    f->state = FIFO_IDLE;
    f->have_prefix = false;
    f->name_len = 0;
    f->name_too_long = false;
    f->doc.len = 0;
    f->depth = 0;
    f->in_string = false;
    f->escaped = false;
    f->oversize = false;
}

/* One byte of a document: kept (up to the limit) and framed. */
static void fifo_doc_byte(struct ctl_server *s, char c)
{
    struct fifo_reader *f = &s->fifo;

    if (!f->oversize && f->doc.len >= CTL_MAX_REQUEST) {
        f->oversize = true;
        buf_free(&f->doc);
    }
    if (!f->oversize && buf_append(&f->doc, &c, 1)) {
        log_err("ctl: out of memory reading the FIFO");
        f->oversize = true;
    }
    if (f->in_string) {
        if (f->escaped)
            f->escaped = false;
        else if (c == '\\')
            f->escaped = true;
        else if (c == '"')
            f->in_string = false;
    } else if (c == '"') {
        f->in_string = true;
    } else if (c == '{' || c == '[') {
        f->depth++;
    } else if ((c == '}' || c == ']') && --f->depth == 0) {
        fifo_document(s);
        fifo_reset(f);
    }
}

static void fifo_feed(struct ctl_server *s, const char *p, size_t n)
{
    struct fifo_reader *f = &s->fifo;

    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        switch (f->state) {
        case FIFO_IDLE:
            if (c == ':' && !f->have_prefix) {
                f->state = FIFO_NAME;
            } else if (c == '{' || c == '[') {
                f->state = FIFO_DOC;
                f->garbage_logged = false;
                fifo_doc_byte(s, c);
            } else if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
                if (!f->garbage_logged)
                    log_warn("ctl: bytes outside a JSON document on the FIFO ignored");
                f->garbage_logged = true;
            }
            break;
        case FIFO_NAME:
            if (c == ':') {
                f->name[f->name_len] = '\0';
                f->have_prefix = true;
                f->state = FIFO_IDLE;
            } else if (c == '\n') {
                log_warn("ctl: unterminated \":reply_name:\" prefix on the FIFO ignored");
                fifo_reset(f);
            } else if (f->name_len < CTL_REPLY_NAME_MAX) {
                f->name[f->name_len++] = c;
            } else {
                f->name_too_long = true;
            }
            break;
        case FIFO_DOC:
            fifo_doc_byte(s, c);
            break;
        }
    }
}

static void fifo_read(struct ctl_server *s)
{
    char chunk[4096];

    while (!atomic_load_explicit(&s->stop, memory_order_acquire)) {
        ssize_t n = read(s->fifo_fd, chunk, sizeof(chunk));
        if (n > 0)
            fifo_feed(s, chunk, (size_t)n);
        else if (n < 0 && errno == EINTR)
            continue;
        else
            return; /* EAGAIN; never EOF while we hold fifo_keep_fd */
    }
}

/* ---- the control thread ------------------------------------------------------------------- */

static void *ctl_thread(void *arg)
{
    struct ctl_server *s = arg;
    struct pollfd pfd[3 + CTL_MAX_CLIENTS];

    while (!atomic_load_explicit(&s->stop, memory_order_acquire)) {
        int64_t now = now_ms();
        int timeout = -1;
        nfds_t n = 0;
        int listen_at = -1, fifo_at = -1;

        pfd[n++] = (struct pollfd){s->wake_fd, POLLIN, 0};
        if (s->listen_fd >= 0 && s->nconns < CTL_MAX_CLIENTS) {
            if (now >= s->accept_resume_ms) {
                listen_at = (int)n;
                pfd[n++] = (struct pollfd){s->listen_fd, POLLIN, 0};
            } else {
                timeout = (int)(s->accept_resume_ms - now);
            }
        }
        if (s->fifo_fd >= 0) {
            fifo_at = (int)n;
            pfd[n++] = (struct pollfd){s->fifo_fd, POLLIN, 0};
        }
        nfds_t first_conn = n;
        size_t nconns = s->nconns;
        for (size_t i = 0; i < nconns; i++) {
            struct ctl_conn *c = &s->conns[i];
            short events = c->out.len ? POLLOUT : POLLIN;
            int64_t idle_left = c->last_active_ms + CTL_IDLE_MS - now;
            if (idle_left < 0)
                idle_left = 0;
            if (timeout < 0 || idle_left < timeout)
                timeout = (int)idle_left;
            pfd[n++] = (struct pollfd){c->fd, events, 0};
        }

        int ready = poll(pfd, n, timeout);
        if (ready < 0) {
            if (errno != EINTR) {
                log_err("ctl: poll: %s", strerror(errno));
                wait_for_stop(s, 100);
            }
            continue;
        }
        if (pfd[0].revents)
            break;

        now = now_ms();
        for (size_t i = 0; i < nconns; i++) {
            struct ctl_conn *c = &s->conns[i];
            short revents = pfd[first_conn + i].revents;
            if (revents)
                conn_service(s, c, revents, now);
            else if (now - c->last_active_ms >= CTL_IDLE_MS)
                c->dead = true;
        }
        if (fifo_at >= 0 && pfd[fifo_at].revents)
            fifo_read(s);
        for (size_t i = 0; i < s->nconns;) {
            if (s->conns[i].dead) {
                conn_close(&s->conns[i]);
                s->conns[i] = s->conns[--s->nconns];
            } else {
                i++;
            }
        }
        if (listen_at >= 0 && pfd[listen_at].revents)
            accept_clients(s, now);
    }
    return NULL;
}

int ctl_server_start(struct ctl_server *s)
{
    sigset_t all, old;
    int err;

    if (s->started)
        return EALREADY;
    /* The control thread takes no process signals; faults still reach it. */
    sigfillset(&all);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    sigdelset(&all, SIGABRT);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    err = pthread_create(&s->thread, NULL, ctl_thread, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err)
        return err;
    s->started = true;
    return 0;
}

/* ---- creation and destruction ------------------------------------------------------------ */

static int unix_addr(struct sockaddr_un *sa, const char *path, const char **why)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa->sun_path)) {
        *why = "socket path too long";
        return ENAMETOOLONG;
    }
    memcpy(sa->sun_path, path, strlen(path) + 1);
    return 0;
}

/* Removes a socket file nobody accepts on; refuses a live one or another file. */
static int remove_stale_socket(const struct sockaddr_un *sa, const char **why)
{
    struct stat st;
    int fd, err;

    if (lstat(sa->sun_path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        *why = "stat of the socket path";
        return errno;
    }
    if (!S_ISSOCK(st.st_mode)) {
        *why = "the socket path exists and is not a socket";
        return EEXIST;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *why = "socket";
        return errno;
    }
    err = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 ? 0 : errno;
    close(fd);
    if (err == 0 || err == EAGAIN) {
        *why = "another server is listening on the socket";
        return EADDRINUSE;
    }
    if (err != ECONNREFUSED) {
        *why = "probe of the existing socket";
        return err;
    }
    if (unlink(sa->sun_path) < 0 && errno != ENOENT) {
        *why = "unlink of the stale socket";
        return errno;
    }
    return 0;
}

static int open_socket(struct ctl_server *s, const char *path, const char **why)
{
    struct sockaddr_un sa;
    int err = unix_addr(&sa, path, why);

    if (!err)
        err = remove_stale_socket(&sa, why);
    if (err)
        return err;
    s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->listen_fd < 0) {
        *why = "socket";
        return errno;
    }
    if (bind(s->listen_fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
        *why = "bind";
        return errno;
    }
    s->sock_path = strdup(path);
    if (!s->sock_path) {
        unlink(path);
        *why = "out of memory";
        return ENOMEM;
    }
    /* bind() honours the umask; the file's group is the operators' */
    if (chmod(path, 0660) < 0) {
        *why = "chmod of the socket";
        return errno;
    }
    if (listen(s->listen_fd, CTL_BACKLOG) < 0) {
        *why = "listen";
        return errno;
    }
    return 0;
}

static int open_fifo(struct ctl_server *s, const char *path, const char **why)
{
    struct stat st;

    if (lstat(path, &st) == 0) {
        if (!S_ISFIFO(st.st_mode)) {
            *why = "the FIFO path exists and is not a FIFO";
            return EEXIST;
        }
        if (unlink(path) < 0) {
            *why = "unlink of the old FIFO";
            return errno;
        }
    } else if (errno != ENOENT) {
        *why = "stat of the FIFO path";
        return errno;
    }
    if (mkfifo(path, 0660) < 0) {
        *why = "mkfifo";
        return errno;
    }
    s->fifo_path = strdup(path);
    const char *slash = strrchr(path, '/');
    s->fifo_dir = !slash          ? strdup(".")
                  : slash == path ? strdup("/")
                                  : strndup(path, (size_t)(slash - path));
    if (!s->fifo_path || !s->fifo_dir) {
        if (!s->fifo_path)
            unlink(path);
        *why = "out of memory";
        return ENOMEM;
    }
    if (chmod(path, 0660) < 0) {
        *why = "chmod of the FIFO";
        return errno;
    }
    s->fifo_fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (s->fifo_fd < 0) {
        *why = "open of the FIFO for reading";
        return errno;
    }
    s->fifo_keep_fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (s->fifo_keep_fd < 0) {
        *why = "open of the FIFO for writing";
        return errno;
    }
    return 0;
}

int ctl_server_create(struct ctl_server **sp, const char *sock_path, const char *fifo_path,
                      const char **why)
{
    const char *ignored;
    struct ctl_server *s;
    int err;

    if (!why)
        why = &ignored; /* *why is set on failure only */
    s = calloc(1, sizeof(*s));
    if (!s) {
        *why = "out of memory";
        return ENOMEM;
    }
    s->listen_fd = s->fifo_fd = s->fifo_keep_fd = -1;
    atomic_init(&s->stop, false);
    s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->wake_fd < 0) {
        err = errno;
        *why = "eventfd";
        goto out;
    }
    err = ctl_server_register(s, builtin_cmds, sizeof(builtin_cmds) / sizeof(builtin_cmds[0]), s);
    if (err) {
        *why = "out of memory";
        goto out;
    }
    if (sock_path && (err = open_socket(s, sock_path, why)))
        goto out;
    if (fifo_path && (err = open_fifo(s, fifo_path, why)))
        goto out;
    *sp = s;
    return 0;
out:
    ctl_server_destroy(s);
    return err;
}

void ctl_server_destroy(struct ctl_server *s)
{
    if (!s)
        return;
    if (s->started) {
        uint64_t one = 1;
        atomic_store_explicit(&s->stop, true, memory_order_release);
        while (write(s->wake_fd, &one, sizeof(one)) < 0 && errno == EINTR) {
        }
        pthread_join(s->thread, NULL);
    }
    for (size_t i = 0; i < s->nconns; i++)
        conn_close(&s->conns[i]);
    s->nconns = 0;
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->sock_path)
        unlink(s->sock_path);
    if (s->fifo_fd >= 0)
        close(s->fifo_fd);
    if (s->fifo_keep_fd >= 0)
        close(s->fifo_keep_fd);
    if (s->fifo_path)
        unlink(s->fifo_path);
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    buf_free(&s->fifo.doc);
    free(s->sock_path);
    free(s->fifo_path);
    free(s->fifo_dir);
    free(s->cmds);
    free(s);
}

/* ---- client -------------------------------------------------------------------------------- */

static int send_all(int fd, const char *p, size_t n, int64_t deadline, const char **why)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = {fd, POLLOUT, 0};
            int left = ms_left(deadline);
            if (left == 0 || poll(&pfd, 1, left) == 0) {
                *why = "timed out sending the request";
                return ETIMEDOUT;
            }
            continue;
        }
        *why = "send";
        return w < 0 ? errno : EIO;
    }
    return 0;
}

/* Reads up to the first newline (or the end of the stream) into 'in';
 * *len is the length of the line without its newline. */
static int recv_line(int fd, struct buf *in, size_t *len, int64_t deadline, const char **why)
{
    size_t scanned = 0;

    for (;;) {
        char *nl = in->len > scanned ? memchr(in->p + scanned, '\n', in->len - scanned) : NULL;
        if (nl) {
            *len = (size_t)(nl - in->p);
            return 0;
        }
        scanned = in->len;
        if (in->len > CTL_CLIENT_REPLY_MAX) {
            *why = "reply too large";
            return EMSGSIZE;
        }
        struct pollfd pfd = {fd, POLLIN, 0};
        int ready = poll(&pfd, 1, ms_left(deadline));
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0) {
            *why = ready == 0 ? "timed out waiting for the reply" : "poll";
            return ready == 0 ? ETIMEDOUT : errno;
        }
        if (buf_reserve(in, CTL_READ_CHUNK)) {
            *why = "out of memory";
            return ENOMEM;
        }
        ssize_t n = recv(fd, in->p + in->len, CTL_READ_CHUNK, MSG_DONTWAIT);
        if (n > 0) {
            in->len += (size_t)n;
        } else if (n == 0) {
            if (in->len) { /* a last line without its newline */
                *len = in->len;
                return 0;
            }
            *why = "the server closed the connection without a reply";
            return ECONNRESET;
        } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
            *why = "recv";
            return errno;
        }
    }
}

static bool is_response_to(json_t *r, json_int_t id)
{
    json_t *version = json_object_get(r, "jsonrpc");
    json_t *rid = json_object_get(r, "id");
    json_t *result = json_object_get(r, "result");
    json_t *error = json_object_get(r, "error");

    if (!json_is_string(version) || strcmp(json_string_value(version), "2.0") != 0)
        return false;
    if (!result == !error)
        return false;
    if (error && !json_is_integer(json_object_get(error, "code")))
        return false;
    /* an error about a request the server could not read carries id null */
    return (json_is_integer(rid) && json_integer_value(rid) == id) || (error && json_is_null(rid));
}

int ctl_call(const char *sock_path, const char *method, json_t *params, int timeout_ms,
             json_t **reply, const char **why)
{
    const char *ignored;
    const json_int_t id = 1; /* one request per connection: any id is unique */
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    struct sockaddr_un sa;
    struct buf io = {0};
    json_t *req = NULL;
    char *text = NULL;
    size_t len = 0;
    int fd = -1, err;

    if (!why)
        why = &ignored; /* *why is set on failure only */
    *reply = NULL;
    if (!sock_path) {
        *why = "no socket path";
        return EINVAL;
    }
    err = unix_addr(&sa, sock_path, why);
    if (err)
        return err;
    if (!method || (params && !json_is_array(params) && !json_is_object(params))) {
        *why = "a method name and params that are an array or an object";
        return EINVAL;
    }

    req = json_object();
    if (!req || json_object_set_new(req, "jsonrpc", json_string("2.0")) ||
        json_object_set_new(req, "method", json_string(method)) ||
        (params && json_object_set(req, "params", params)) ||
        json_object_set_new(req, "id", json_integer(id)) ||
        !(text = json_dumps(req, JSON_COMPACT)) || buf_append(&io, text, strlen(text)) ||
        buf_append(&io, "\n", 1)) {
        *why = "building the request (is the method name UTF-8?)";
        err = ENOMEM;
        goto out;
    }

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *why = "socket";
        err = errno;
        goto out;
    }
    while (connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN) { /* EAGAIN: the backlog is full; try again */
            *why = "connect";
            err = errno;
            goto out;
        }
        int left = ms_left(deadline);
        if (left == 0) {
            *why = "timed out connecting";
            err = ETIMEDOUT;
            goto out;
        }
        poll(NULL, 0, left < 0 || left > 10 ? 10 : left);
    }
    err = send_all(fd, io.p, io.len, deadline, why);
    if (err)
        goto out;
    io.len = 0;
    err = recv_line(fd, &io, &len, deadline, why);
    if (err)
        goto out;

    json_error_t jerr;
    *reply = json_loadb(io.p, len, 0, &jerr);
    if (!*reply || !is_response_to(*reply, id)) {
        json_decref(*reply);
        *reply = NULL;
        *why = "the reply is not a JSON-RPC response to the request";
        err = EPROTO;
    }
out:
    if (fd >= 0)
        close(fd);
    free(text);
    json_decref(req);
    buf_free(&io);
    return err;
}
