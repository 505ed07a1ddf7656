/* ctl_test.c: src/core/ctl.c: dispatch, every JSON-RPC error, socket and FIFO round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/ctl.h"
#include "core/log.h"

#define WAIT_MS 5000 /* generous: the sanitizer builds are slow */

/* ---- commands under test ------------------------------------------------------------------- */

static atomic_int notified;

static json_t *cmd_echo(void *arg, json_t *params, struct ctl_error *err)
{
    (void)arg;
    (void)err;
    return json_pack("{s:O?}", "params", params);
}

static json_t *cmd_double(void *arg, json_t *params, struct ctl_error *err)
{
    (void)arg;
    json_t *v = json_array_get(params, 0);
    if (json_array_size(params) != 1 || !json_is_integer(v)) {
        err->code = -32602;
        snprintf(err->message, sizeof(err->message), "expected [integer]");
        return NULL;
    }
    return json_integer(2 * json_integer_value(v));
}

static json_t *cmd_fail(void *arg, json_t *params, struct ctl_error *err)
{
    (void)arg;
    (void)params;
    err->code = -32001;
    snprintf(err->message, sizeof(err->message), "no database");
    return NULL;
}

static json_t *cmd_forgetful(void *arg, json_t *params, struct ctl_error *err)
{
    (void)arg;
    (void)params;
    (void)err;
    return NULL; /* no code set: the server says -32603 */
}

static json_t *cmd_notify(void *arg, json_t *params, struct ctl_error *err)
{
    (void)params;
    (void)err;
    atomic_fetch_add((atomic_int *)arg, 1);
    return json_true();
}

static const struct ctl_cmd test_cmds[] = {
    {"test.echo", cmd_echo, "Returns its params"}, {"test.double", cmd_double, "Doubles [n]"},
    {"test.fail", cmd_fail, "Always fails"},       {"test.forgetful", cmd_forgetful, NULL},
    {"test.notify", cmd_notify, "Counts calls"},
};
#define N_TEST_CMDS (sizeof(test_cmds) / sizeof(test_cmds[0]))

static struct ctl_server *new_server(const char *sock, const char *fifo)
{
    struct ctl_server *s = NULL;
    const char *why = NULL;
    int err = ctl_server_create(&s, sock, fifo, &why);
    if (err) {
        print_error("ctl_server_create: %s: %s\n", why, strerror(err));
        fail();
    }
    assert_int_equal(ctl_server_register(s, test_cmds, N_TEST_CMDS, &notified), 0);
    return s;
}

/* ---- helpers ------------------------------------------------------------------------------ */

static json_t *run(struct ctl_server *s, const char *text)
{
    json_error_t jerr;
    json_t *req = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (!req) {
        print_error("bad test JSON %s: %s\n", text, jerr.text);
        fail();
    }
    json_t *reply = ctl_server_dispatch(s, req);
    json_decref(req);
    return reply;
}

/* The reply is an error with 'code' and id equal to 'id' (JSON text). */
static void check_error(json_t *reply, int code, const char *id, const char *file, int line)
{
    json_t *want_id = json_loads(id, JSON_DECODE_ANY, NULL);
    json_t *err = json_object_get(reply, "error");
    char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;

    if (!json_is_object(reply) ||
        strcmp(json_string_value(json_object_get(reply, "jsonrpc")) ?: "", "2.0") != 0 ||
        !json_is_object(err) || json_integer_value(json_object_get(err, "code")) != code ||
        !json_is_string(json_object_get(err, "message")) || json_object_get(reply, "result") ||
        !json_equal(json_object_get(reply, "id"), want_id)) {
        print_error("want error %d with id %s, got %s\n", code, id, text ? text : "(null)");
        _fail(file, line);
    }
    free(text);
    json_decref(want_id);
}
#define assert_error(reply, code, id) check_error((reply), (code), (id), __FILE__, __LINE__)

static const char *error_message(json_t *reply)
{
    return json_string_value(json_object_get(json_object_get(reply, "error"), "message"));
}

static void check_result(json_t *reply, const char *result, const char *id, const char *file,
                         int line)
{
    json_t *want = json_loads(result, JSON_DECODE_ANY, NULL);
    json_t *want_id = json_loads(id, JSON_DECODE_ANY, NULL);
    char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;

    if (!json_is_object(reply) || !json_equal(json_object_get(reply, "result"), want) ||
        json_object_get(reply, "error") || !json_equal(json_object_get(reply, "id"), want_id)) {
        print_error("want result %s with id %s, got %s\n", result, id, text ? text : "(null)");
        _fail(file, line);
    }
    free(text);
    json_decref(want);
    json_decref(want_id);
}
#define assert_result(reply, result, id) check_result((reply), (result), (id), __FILE__, __LINE__)

struct tmp_dir {
    char path[64];
};

static void tmp_dir_make(struct tmp_dir *d)
{
    snprintf(d->path, sizeof(d->path), "/tmp/sipd-ctl-XXXXXX");
    assert_non_null(mkdtemp(d->path));
}

static void tmp_path(const struct tmp_dir *d, const char *name, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", d->path, name);
}

/* Removes the directory and whatever the test left in it. */
static void tmp_dir_remove(struct tmp_dir *d)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
    assert_int_equal(system(cmd), 0);
}

static int64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_sun_path(struct sockaddr_un *sa, const char *path)
{
    assert_true(strlen(path) < sizeof(sa->sun_path));
    memcpy(sa->sun_path, path, strlen(path) + 1);
}

static int connect_raw(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    set_sun_path(&sa, path);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static void send_text(int fd, const char *text)
{
    size_t n = strlen(text);
    assert_int_equal(send(fd, text, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Reads one line (without its newline) from fd, waiting up to WAIT_MS;
 * NULL at end of stream. 'pending' keeps bytes read past the line. */
struct reader {
    char buf[1 << 16];
    size_t len;
};

static char *read_line(int fd, struct reader *r)
{
    int64_t deadline = ms_now() + WAIT_MS;
    for (;;) {
        char *nl = memchr(r->buf, '\n', r->len);
        if (nl) {
            size_t n = (size_t)(nl - r->buf);
            char *line = strndup(r->buf, n);
            memmove(r->buf, nl + 1, r->len - n - 1);
            r->len -= n + 1;
            return line;
        }
        struct pollfd p = {fd, POLLIN, 0};
        int left = (int)(deadline - ms_now());
        assert_true(left > 0);
        if (poll(&p, 1, left) <= 0)
            continue;
        assert_true(r->len < sizeof(r->buf));
        ssize_t got = read(fd, r->buf + r->len, sizeof(r->buf) - r->len);
        if (got == 0 || (got < 0 && errno == ECONNRESET))
            return NULL;
        if (got < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        assert_true(got > 0);
        r->len += (size_t)got;
    }
}

static json_t *read_reply(int fd, struct reader *r)
{
    char *line = read_line(fd, r);
    assert_non_null(line);
    json_error_t jerr;
    json_t *j = json_loads(line, 0, &jerr);
    if (!j) {
        print_error("reply is not JSON: %s\n", line);
        fail();
    }
    free(line);
    return j;
}

/* ---- dispatch ---------------------------------------------------------------------------- */

static void test_dispatch_result(void **state)
{
    struct ctl_server *s = new_server(NULL, NULL);
    json_t *r;
    (void)state;

    r = run(s, "{\"jsonrpc\":\"2.0\",\"method\":\"test.echo\",\"params\":[1,\"a\"],\"id\":7}");
    assert_result(r, "{\"params\":[1,\"a\"]}", "7");
    json_decref(r);
    r = run(
        s, "{\"jsonrpc\":\"2.0\",\"method\":\"test.echo\",\"params\":{\"k\":true},\"id\":\"x-1\"}");
    assert_result(r, "{\"params\":{\"k\":true}}", "\"x-1\"");
    json_decref(r);
    r = run(s, "{\"id\":null,\"method\":\"test.echo\",\"jsonrpc\":\"2.0\"}");
    assert_result(r, "{\"params\":null}", "null");
    json_decref(r);
    r = run(s, "{\"jsonrpc\":\"2.0\",\"method\":\"test.echo\",\"params\":null,\"id\":1.5}");
    assert_result(r, "{\"params\":null}", "1.5");
    json_decref(r);
    r = run(s, "{\"jsonrpc\":\"2.0\",\"method\":\"test.double\",\"params\":[21],\"id\":2}");
    assert_result(r, "42", "2");
    /* the reply is {"jsonrpc","result","id"} in that order */
    char *text = json_dumps(r, JSON_COMPACT);
    assert_string_equal(text, "{\"jsonrpc\":\"2.0\",\"result\":42,\"id\":2}");
    free(text);
    json_decref(r);
    ctl_server_destroy(s);
}

static void test_invalid_requests(void **state)
{
    static const struct {
        const char *request, *id;
    } cases[] = {
        {"42", "null"},
        {"\"text\"", "null"},
        {"[]", "null"},
        {"[{\"jsonrpc\":\"2.0\",\"method\":\"test.echo\",\"id\":1}]", "null"},
        {"{}", "null"},
        {"{\"method\":\"test.echo\",\"id\":3}", "3"},
        {"{\"jsonrpc\":\"1.0\",\"method\":\"test.echo\",\"id\":4}", "4"},
        {"{\"jsonrpc\":2.0,\"method\":\"test.echo\",\"id\":5}", "5"},
        {"{\"jsonrpc\":\"2.0\",\"id\":6}", "6"},
        {"{\"jsonrpc\":\"2.0\",\"method\":7,\"id\":7}", "7"},
        {"{\"jsonrpc\":\"2.0\",\"method\":\"test.echo\",\"params\":\"x\",\"id\":8}", "8"},
        {"{\"jsonrpc\":\"2.0\",\"method\":\"test.echo\",\"params\":3,\"id\":9}", "9"},
        {"{\"jsonrpc\":\"2.0\",\"method\":\"test.echo\",\"id\":{\"a\":1}}", "null"},
        {"{\"jsonrpc\":\"2.0\",\"method\":\"test.echo\",\"id\":[1]}", "null"},
        {"{\"jsonrpc\":\"2.0\",\"method\":\"test.echo\",\"id\":true}", "null"},
        /* invalid without an id: still answered, as the spec's examples are */
        {"{\"jsonrpc\":\"2.0\",\"method\":1}", "null"},
    };
    struct ctl_server *s = new_server(NULL, NULL);
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *r = run(s, cases[i].request);
        if (!r) {
            print_error("no reply to %s\n", cases[i].request);
            fail();
        }
        assert_error(r, -32600, cases[i].id);
        json_decref(r);
    }
    json_t *r = run(s, "[1,2]");
    assert_non_null(strstr(error_message(r), "batch"));
    json_decref(r);
    ctl_server_destroy(s);
}

static void test_method_not_found(void **state)
{
    struct ctl_server *s = new_server(NULL, NULL);
    char req[600], name[400];
    (void)state;

    json_t *r = run(s, "{\"jsonrpc\":\"2.0\",\"method\":\"no.such\",\"id\":1}");
    assert_error(r, -32601, "1");
    assert_string_equal(error_message(r), "Method not found: no.such");
    json_decref(r);

    /* a long name is cut, at a character boundary: the message stays UTF-8 */
    memset(name, 'n', sizeof(name));
    memcpy(name + 127, "\xc3\xa9", 2);
    name[sizeof(name) - 1] = '\0';
    snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"method\":\"%s\",\"id\":2}", name);
    r = run(s, req);
    assert_error(r, -32601, "2");
    assert_int_equal(strlen(error_message(r)), strlen("Method not found: ") + 127);
    json_decref(r);

    /* a notification is never answered, not even with an error */
    assert_null(run(s, "{\"jsonrpc\":\"2.0\",\"method\":\"no.such\"}"));
    ctl_server_destroy(s);
}

static void test_invalid_params_and_handler_errors(void **state)
{
    struct ctl_server *s = new_server(NULL, NULL);
    json_t *r;
    (void)state;

    r = run(s, "{\"jsonrpc\":\"2.0\",\"method\":\"test.double\",\"params\":[\"x\"],\"id\":1}");
    assert_error(r, -32602, "1");
    assert_string_equal(error_message(r), "expected [integer]");
    json_decref(r);
    r = run(s, "{\"jsonrpc\":\"2.0\",\"method\":\"system.methodHelp\",\"params\":[],\"id\":2}");
    assert_error(r, -32602, "2");
    json_decref(r);
    r = run(s,
            "{\"jsonrpc\":\"2.0\",\"method\":\"system.methodHelp\",\"params\":[\"zz\"],\"id\":3}");
    assert_error(r, -32602, "3");
    json_decref(r);
    r = run(s, "{\"jsonrpc\":\"2.0\",\"method\":\"system.methodHelp\",\"params\":[\"test.double\"],"
               "\"id\":4}");
    assert_result(r, "\"Doubles [n]\"", "4");
    json_decref(r);
    r = run(s, "{\"jsonrpc\":\"2.0\",\"method\":\"system.methodHelp\","
               "\"params\":{\"name\":\"test.forgetful\"},\"id\":5}");
    assert_result(r, "\"\"", "5");
    json_decref(r);

    r = run(s, "{\"jsonrpc\":\"2.0\",\"method\":\"test.fail\",\"id\":\"f\"}");
    assert_error(r, -32001, "\"f\"");
    assert_string_equal(error_message(r), "no database");
    json_decref(r);
    r = run(s, "{\"jsonrpc\":\"2.0\",\"method\":\"test.forgetful\",\"id\":6}");
    assert_error(r, -32603, "6");
    json_decref(r);
    ctl_server_destroy(s);
}

static void test_notifications(void **state)
{
    struct ctl_server *s = new_server(NULL, NULL);
    (void)state;

    int before = atomic_load(&notified);
    assert_null(run(s, "{\"jsonrpc\":\"2.0\",\"method\":\"test.notify\"}"));
    assert_null(run(s, "{\"jsonrpc\":\"2.0\",\"method\":\"test.notify\",\"params\":[1]}"));
    assert_null(run(s, "{\"jsonrpc\":\"2.0\",\"method\":\"test.fail\"}"));
    assert_int_equal(atomic_load(&notified), before + 2);
    ctl_server_destroy(s);
}

static void test_list_methods(void **state)
{
    struct ctl_server *s = new_server(NULL, NULL);
    (void)state;

    json_t *r = run(s, "{\"jsonrpc\":\"2.0\",\"method\":\"system.listMethods\",\"id\":1}");
    assert_result(r,
                  "[\"system.listMethods\",\"system.methodHelp\",\"test.double\",\"test.echo\","
                  "\"test.fail\",\"test.forgetful\",\"test.notify\"]",
                  "1");
    json_decref(r);
    ctl_server_destroy(s);
}

static void test_register_rules(void **state)
{
    struct ctl_server *s = new_server(NULL, NULL);
    const struct ctl_cmd dup_in_batch[] = {{"x.a", cmd_echo, ""}, {"x.a", cmd_echo, ""}};
    const struct ctl_cmd no_fn[] = {{"x.b", NULL, ""}};
    const struct ctl_cmd no_name[] = {{NULL, cmd_echo, ""}};
    const struct ctl_cmd ok[] = {{"x.c", cmd_echo, ""}};
    (void)state;

    assert_int_equal(ctl_server_register(s, test_cmds, 1, NULL), EEXIST);
    assert_int_equal(ctl_server_register(s, dup_in_batch, 2, NULL), EEXIST);
    assert_int_equal(ctl_server_register(s, no_fn, 1, NULL), EINVAL);
    assert_int_equal(ctl_server_register(s, no_name, 1, NULL), EINVAL);
    assert_int_equal(ctl_server_register(s, ok, 1, NULL), 0);
    /* all or none: the failed batches left nothing behind */
    json_t *r = run(s, "{\"jsonrpc\":\"2.0\",\"method\":\"x.a\",\"id\":1}");
    assert_error(r, -32601, "1");
    json_decref(r);
    assert_int_equal(ctl_server_start(s), 0);
    assert_int_equal(ctl_server_start(s), EALREADY);
    assert_int_equal(ctl_server_register(s, ok, 1, NULL), EBUSY);
    ctl_server_destroy(s);
    ctl_server_destroy(NULL);
}

/* ---- unix socket ------------------------------------------------------------------------- */

static void test_socket_round_trip(void **state)
{
    struct tmp_dir d;
    char sock[128];
    struct stat st;
    json_t *reply = NULL;
    const char *why = NULL;
    (void)state;

    tmp_dir_make(&d);
    tmp_path(&d, "ctl.sock", sock, sizeof(sock));
    struct ctl_server *s = new_server(sock, NULL);
    assert_int_equal(stat(sock, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0660);
    assert_int_equal(ctl_server_start(s), 0);

    json_t *params = json_pack("[i,s]", 5, "five");
    assert_int_equal(ctl_call(sock, "test.echo", params, WAIT_MS, &reply, &why), 0);
    assert_result(reply, "{\"params\":[5,\"five\"]}", "1");
    assert_int_equal(params->refcount, 1); /* borrowed, not stolen */
    json_decref(params);
    json_decref(reply);

    assert_int_equal(ctl_call(sock, "no.such", NULL, WAIT_MS, &reply, &why), 0);
    assert_error(reply, -32601, "1");
    json_decref(reply);

    assert_int_equal(ctl_call(sock, "system.listMethods", NULL, WAIT_MS, &reply, &why), 0);
    assert_true(json_array_size(json_object_get(reply, "result")) == N_TEST_CMDS + 2);
    json_decref(reply);

    ctl_server_destroy(s);
    assert_int_equal(access(sock, F_OK), -1);
    assert_int_equal(errno, ENOENT);
    tmp_dir_remove(&d);
}

/* Several requests on one connection, in one write: answered in order, the
 * notification and the blank line silently, a last line without newline too. */
static void test_socket_pipelined_and_errors(void **state)
{
    struct tmp_dir d;
    char sock[128];
    struct reader *rd = calloc(1, sizeof(*rd));
    json_t *r;
    (void)state;

    tmp_dir_make(&d);
    tmp_path(&d, "ctl.sock", sock, sizeof(sock));
    struct ctl_server *s = new_server(sock, NULL);
    assert_int_equal(ctl_server_start(s), 0);
    int before = atomic_load(&notified);

    int fd = connect_raw(sock);
    send_text(fd, "{not json\n"
                  "{\"jsonrpc\":\"2.0\",\"method\":\"test.notify\"}\n"
                  "\r\n"
                  "{\"jsonrpc\":\"2.0\",\"method\":\"test.double\",\"params\":[4],\"id\":1}\r\n"
                  "[1]\n"
                  "{\"jsonrpc\":\"2.0\",\"method\":\"test.notify\",\"id\":2}\n"
                  "{\"jsonrpc\":\"2.0\",\"method\":\"test.double\",\"params\":[5],\"id\":3}");
    r = read_reply(fd, rd);
    assert_error(r, -32700, "null");
    json_decref(r);
    r = read_reply(fd, rd);
    assert_result(r, "8", "1");
    json_decref(r);
    r = read_reply(fd, rd);
    assert_error(r, -32600, "null");
    json_decref(r);
    r = read_reply(fd, rd);
    assert_result(r, "true", "2");
    json_decref(r);
    assert_int_equal(atomic_load(&notified), before + 2);
    shutdown(fd, SHUT_WR); /* the last request ends with the stream */
    r = read_reply(fd, rd);
    assert_result(r, "10", "3");
    json_decref(r);
    assert_null(read_line(fd, rd)); /* and the server closes */
    close(fd);

    ctl_server_destroy(s);
    tmp_dir_remove(&d);
    free(rd);
}

struct big_sender {
    int fd;
    size_t n;
};

static void *send_big(void *arg)
{
    struct big_sender *b = arg;
    static char chunk[65536];
    memset(chunk, 'x', sizeof(chunk));
    for (size_t sent = 0; sent < b->n;) {
        size_t n = b->n - sent < sizeof(chunk) ? b->n - sent : sizeof(chunk);
        ssize_t w = send(b->fd, chunk, n, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server gave up on us, as it should */
        sent += (size_t)w;
    }
    return NULL;
}

static void test_socket_request_too_large(void **state)
{
    struct tmp_dir d;
    char sock[128];
    struct reader *rd = calloc(1, sizeof(*rd));
    pthread_t sender;
    (void)state;

    tmp_dir_make(&d);
    tmp_path(&d, "ctl.sock", sock, sizeof(sock));
    struct ctl_server *s = new_server(sock, NULL);
    assert_int_equal(ctl_server_start(s), 0);

    int fd = connect_raw(sock);
    struct big_sender b = {fd, CTL_MAX_REQUEST + 100000};
    assert_int_equal(pthread_create(&sender, NULL, send_big, &b), 0);
    json_t *r = read_reply(fd, rd);
    assert_error(r, -32600, "null");
    assert_non_null(strstr(error_message(r), "exceed"));
    json_decref(r);
    assert_null(read_line(fd, rd));
    shutdown(fd, SHUT_RDWR);
    pthread_join(sender, NULL);
    close(fd);

    /* the server is still there for others */
    json_t *reply = NULL, *params = json_pack("[i]", 1);
    const char *why;
    assert_int_equal(ctl_call(sock, "test.double", params, WAIT_MS, &reply, &why), 0);
    assert_result(reply, "2", "1");
    json_decref(reply);
    json_decref(params);

    ctl_server_destroy(s);
    tmp_dir_remove(&d);
    free(rd);
}

#define CLIENT_THREADS 6
#define CALLS_EACH     20

struct client_arg {
    const char *sock;
    int id;
    int ok;
};

static void *client_thread(void *arg)
{
    struct client_arg *c = arg;
    for (int i = 0; i < CALLS_EACH; i++) {
        json_t *params = json_pack("[i]", c->id * 1000 + i);
        json_t *reply = NULL;
        const char *why = NULL;
        if (ctl_call(c->sock, "test.double", params, WAIT_MS, &reply, &why) == 0 &&
            json_integer_value(json_object_get(reply, "result")) == 2 * (c->id * 1000 + i))
            c->ok++;
        json_decref(reply);
        json_decref(params);
    }
    return NULL;
}

static void test_socket_several_clients(void **state)
{
    struct tmp_dir d;
    char sock[128];
    pthread_t threads[CLIENT_THREADS];
    struct client_arg args[CLIENT_THREADS];
    int fds[10];
    struct reader *rd = calloc(1, sizeof(*rd));
    (void)state;

    tmp_dir_make(&d);
    tmp_path(&d, "ctl.sock", sock, sizeof(sock));
    struct ctl_server *s = new_server(sock, NULL);
    assert_int_equal(ctl_server_start(s), 0);

    /* ten connections open at once, each holding half a request */
    for (int i = 0; i < 10; i++) {
        fds[i] = connect_raw(sock);
        send_text(fds[i], "{\"jsonrpc\":\"2.0\",\"method\":\"test.double\",");
    }
    /* while others come and go */
    for (int i = 0; i < CLIENT_THREADS; i++) {
        args[i] = (struct client_arg){sock, i + 1, 0};
        assert_int_equal(pthread_create(&threads[i], NULL, client_thread, &args[i]), 0);
    }
    for (int i = 9; i >= 0; i--) {
        char rest[64];
        snprintf(rest, sizeof(rest), "\"params\":[%d],\"id\":%d}\n", i, 100 + i);
        send_text(fds[i], rest);
    }
    for (int i = 0; i < 10; i++) {
        char want[16], id[16];
        rd->len = 0;
        json_t *r = read_reply(fds[i], rd);
        snprintf(want, sizeof(want), "%d", 2 * i);
        snprintf(id, sizeof(id), "%d", 100 + i);
        assert_result(r, want, id);
        json_decref(r);
        close(fds[i]);
    }
    for (int i = 0; i < CLIENT_THREADS; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(args[i].ok, CALLS_EACH);
    }
    ctl_server_destroy(s);
    tmp_dir_remove(&d);
    free(rd);
}

static void test_socket_stale_live_and_foreign_files(void **state)
{
    struct tmp_dir d;
    char sock[128], plain[128];
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct ctl_server *s2 = NULL;
    const char *why = NULL;
    (void)state;

    tmp_dir_make(&d);
    tmp_path(&d, "ctl.sock", sock, sizeof(sock));
    /* a socket file left behind by a dead server */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    set_sun_path(&sa, sock);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);

    struct ctl_server *s = new_server(sock, NULL);
    assert_int_equal(ctl_server_start(s), 0);
    /* a live one is not taken over */
    assert_int_equal(ctl_server_create(&s2, sock, NULL, &why), EADDRINUSE);
    assert_non_null(why);
    json_t *reply = NULL;
    assert_int_equal(ctl_call(sock, "test.echo", NULL, WAIT_MS, &reply, &why), 0);
    json_decref(reply);
    ctl_server_destroy(s);

    /* nor is a file that is not a socket */
    tmp_path(&d, "plain", plain, sizeof(plain));
    FILE *f = fopen(plain, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(ctl_server_create(&s2, plain, NULL, &why), EEXIST);
    assert_int_equal(ctl_server_create(&s2, NULL, plain, &why), EEXIST);
    assert_int_equal(access(plain, F_OK), 0);
    tmp_dir_remove(&d);
}

/* A stand-in server that accepts once and answers every line with 'answer'. */
struct fake_server {
    int listen_fd;
    const char *answer;
};

static void *fake_server_thread(void *arg)
{
    struct fake_server *f = arg;
    char buf[4096];
    int fd = accept(f->listen_fd, NULL, NULL);
    if (fd < 0)
        return NULL;
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0 && f->answer)
        send(fd, f->answer, strlen(f->answer), MSG_NOSIGNAL);
    close(fd);
    return NULL;
}

static int listen_raw(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    set_sun_path(&sa, path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 4), 0);
    return fd;
}

static void test_ctl_call_failures(void **state)
{
    struct tmp_dir d;
    char path[128];
    json_t *reply = NULL;
    const char *why = NULL;
    pthread_t t;
    (void)state;

    tmp_dir_make(&d);
    tmp_path(&d, "none.sock", path, sizeof(path));
    assert_int_equal(ctl_call(path, "x", NULL, 1000, &reply, &why), ENOENT);
    assert_non_null(why);
    assert_null(reply);

    /* a socket nobody serves: the request is queued, the reply never comes */
    tmp_path(&d, "mute.sock", path, sizeof(path));
    int lfd = listen_raw(path);
    int64_t t0 = ms_now();
    assert_int_equal(ctl_call(path, "x", NULL, 150, &reply, &why), ETIMEDOUT);
    assert_true(ms_now() - t0 >= 140);
    assert_null(reply);
    close(lfd);

    /* answers that are not a response to our request */
    static const char *const bad[] = {"not json\n",
                                      "{\"jsonrpc\":\"2.0\",\"result\":1,\"id\":99}\n",
                                      "{\"jsonrpc\":\"2.0\",\"id\":1}\n", NULL};
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof(name), "fake%d.sock", i);
        tmp_path(&d, name, path, sizeof(path));
        struct fake_server f = {listen_raw(path), bad[i]};
        assert_int_equal(pthread_create(&t, NULL, fake_server_thread, &f), 0);
        int err = ctl_call(path, "x", NULL, WAIT_MS, &reply, &why);
        assert_int_equal(err, bad[i] ? EPROTO : ECONNRESET);
        assert_null(reply);
        pthread_join(t, NULL);
        close(f.listen_fd);
    }

    json_t *scalar = json_integer(1);
    assert_int_equal(ctl_call(path, "x", scalar, 100, &reply, &why), EINVAL);
    json_decref(scalar);
    tmp_dir_remove(&d);
}

/* Destroy returns promptly with clients connected (one mid-request) and
 * closes them; the files are gone afterwards. */
static void test_destroy_with_clients_connected(void **state)
{
    struct tmp_dir d;
    char sock[128], fifo[128];
    struct reader *rd = calloc(1, sizeof(*rd));
    (void)state;

    tmp_dir_make(&d);
    tmp_path(&d, "ctl.sock", sock, sizeof(sock));
    tmp_path(&d, "ctl.fifo", fifo, sizeof(fifo));
    struct ctl_server *s = new_server(sock, fifo);
    assert_int_equal(ctl_server_start(s), 0);

    int idle = connect_raw(sock);
    int busy = connect_raw(sock);
    send_text(busy, "{\"jsonrpc\":\"2.0\",\"method\":\"test.double\",\"params\":[3],\"id\":1}\n"
                    "{\"jsonrpc\":\"2.0\",\"met");
    json_t *r = read_reply(busy, rd);
    assert_result(r, "6", "1");
    json_decref(r);
    int fifo_writer = open(fifo, O_WRONLY | O_NONBLOCK);
    assert_true(fifo_writer >= 0);
    assert_int_equal(write(fifo_writer, "{\"jsonrpc\":", 11), 11); /* half a FIFO request */

    int64_t t0 = ms_now();
    ctl_server_destroy(s);
    assert_true(ms_now() - t0 < 1000);
    assert_null(read_line(busy, rd));
    rd->len = 0;
    assert_null(read_line(idle, rd));
    assert_int_equal(access(sock, F_OK), -1);
    assert_int_equal(access(fifo, F_OK), -1);
    close(idle);
    close(busy);
    close(fifo_writer);
    tmp_dir_remove(&d);
    free(rd);
}

/* ---- FIFO --------------------------------------------------------------------------------- */

/* Reads one line from the reply FIFO (opened O_RDONLY|O_NONBLOCK before the
 * request went out, so the server finds a reader), or NULL after 'ms'. */
static char *fifo_read_line(int fd, struct reader *r, int ms)
{
    int64_t deadline = ms_now() + ms;
    for (;;) {
        char *nl = memchr(r->buf, '\n', r->len);
        if (nl) {
            size_t n = (size_t)(nl - r->buf);
            char *line = strndup(r->buf, n);
            memmove(r->buf, nl + 1, r->len - n - 1);
            r->len -= n + 1;
            return line;
        }
        if (ms_now() >= deadline)
            return NULL;
        ssize_t got = read(fd, r->buf + r->len, sizeof(r->buf) - r->len);
        if (got > 0)
            r->len += (size_t)got;
        else
            poll(NULL, 0, 2); /* no writer yet, or nothing written yet */
    }
}

static json_t *fifo_reply(int fd, struct reader *r)
{
    char *line = fifo_read_line(fd, r, WAIT_MS);
    assert_non_null(line);
    json_t *j = json_loads(line, 0, NULL);
    if (!j) {
        print_error("FIFO reply is not JSON: %s\n", line);
        fail();
    }
    free(line);
    return j;
}

static void fifo_write(int fd, const char *text)
{
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
}

static void test_fifo_round_trip(void **state)
{
    struct tmp_dir d;
    char fifo[128], reply_path[128];
    struct stat st;
    struct reader *rd = calloc(1, sizeof(*rd));
    json_t *r;
    (void)state;

    tmp_dir_make(&d);
    tmp_path(&d, "sipd_rpc.fifo", fifo, sizeof(fifo));
    struct ctl_server *s = new_server(NULL, fifo);
    assert_int_equal(stat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0660);
    assert_int_equal(ctl_server_start(s), 0);

    tmp_path(&d, "sipctl_reply_1", reply_path, sizeof(reply_path));
    assert_int_equal(mkfifo(reply_path, 0600), 0);
    int reply_fd = open(reply_path, O_RDONLY | O_NONBLOCK);
    assert_true(reply_fd >= 0);
    int w = open(fifo, O_WRONLY);
    assert_true(w >= 0);

    /* Kamailio's form: "reply_name" inside the request */
    fifo_write(w, "{\"jsonrpc\": \"2.0\", \"method\": \"test.double\", \"params\": [8],\n"
                  " \"reply_name\": \"sipctl_reply_1\", \"id\": 5}\n");
    r = fifo_reply(reply_fd, rd);
    assert_result(r, "16", "5");
    json_decref(r);

    /* the ":name:" prefix form; a request split over writes; brackets in strings */
    fifo_write(w, ":sipctl_reply_1:\n{\"jsonrpc\":\"2.0\",\"method\":\"test.echo\",");
    poll(NULL, 0, 20);
    fifo_write(w, "\"params\":[\"}{\\\"]\\\\\"],\"id\":6}");
    r = fifo_reply(reply_fd, rd);
    assert_result(r, "{\"params\":[\"}{\\\"]\\\\\"]}", "6");
    json_decref(r);

    /* two requests in one write; a notification gets nothing */
    int before = atomic_load(&notified);
    fifo_write(w,
               "{\"jsonrpc\":\"2.0\",\"method\":\"test.notify\",\"reply_name\":\"sipctl_reply_1\"}"
               "{\"jsonrpc\":\"2.0\",\"method\":\"no.such\",\"reply_name\":\"sipctl_reply_1\","
               "\"id\":7}");
    r = fifo_reply(reply_fd, rd);
    assert_error(r, -32601, "7");
    json_decref(r);
    assert_int_equal(atomic_load(&notified), before + 1);

    /* a parse error still reaches a prefix-named reply FIFO */
    fifo_write(w, ":sipctl_reply_1:{\"jsonrpc\" \"2.0\"}");
    r = fifo_reply(reply_fd, rd);
    assert_error(r, -32700, "null");
    json_decref(r);

    /* a name that is not a bare file name gets no reply; the server carries on */
    fifo_write(w, "{\"jsonrpc\":\"2.0\",\"method\":\"test.echo\","
                  "\"reply_name\":\"../sipctl_reply_1\",\"id\":8}");
    fifo_write(w, "{\"jsonrpc\":\"2.0\",\"method\":\"test.echo\","
                  "\"reply_name\":\"sipctl_reply_1\",\"id\":9}");
    r = fifo_reply(reply_fd, rd);
    assert_result(r, "{\"params\":null}", "9");
    json_decref(r);

    /* nobody reading the reply FIFO: the reply is dropped after a few tries */
    close(reply_fd);
    fifo_write(w, "{\"jsonrpc\":\"2.0\",\"method\":\"test.echo\","
                  "\"reply_name\":\"sipctl_reply_1\",\"id\":10}");
    poll(NULL, 0, 50);
    reply_fd = open(reply_path, O_RDONLY | O_NONBLOCK);
    rd->len = 0;
    fifo_write(w, "{\"jsonrpc\":\"2.0\",\"method\":\"test.echo\","
                  "\"reply_name\":\"sipctl_reply_1\",\"id\":11}");
    r = fifo_reply(reply_fd, rd);
    /* whether id 10 found this reader in its last tries depends on timing */
    if (json_integer_value(json_object_get(r, "id")) == 10) {
        json_decref(r);
        r = fifo_reply(reply_fd, rd);
    }
    assert_result(r, "{\"params\":null}", "11");
    json_decref(r);

    close(w);
    close(reply_fd);
    ctl_server_destroy(s);
    assert_int_equal(access(fifo, F_OK), -1);
    tmp_dir_remove(&d);
    free(rd);
}

static void test_fifo_replaces_stale_fifo(void **state)
{
    struct tmp_dir d;
    char fifo[128];
    (void)state;

    tmp_dir_make(&d);
    tmp_path(&d, "old.fifo", fifo, sizeof(fifo));
    assert_int_equal(mkfifo(fifo, 0644), 0);
    struct ctl_server *s = new_server(NULL, fifo);
    struct stat st;
    assert_int_equal(stat(fifo, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0660);
    ctl_server_destroy(s); /* never started: still cleans up */
    assert_int_equal(access(fifo, F_OK), -1);
    tmp_dir_remove(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dispatch_result),
        cmocka_unit_test(test_invalid_requests),
        cmocka_unit_test(test_method_not_found),
        cmocka_unit_test(test_invalid_params_and_handler_errors),
        cmocka_unit_test(test_notifications),
        cmocka_unit_test(test_list_methods),
        cmocka_unit_test(test_register_rules),
        cmocka_unit_test(test_socket_round_trip),
        cmocka_unit_test(test_socket_pipelined_and_errors),
        cmocka_unit_test(test_socket_request_too_large),
        cmocka_unit_test(test_socket_several_clients),
        cmocka_unit_test(test_socket_stale_live_and_foreign_files),
        cmocka_unit_test(test_ctl_call_failures),
        cmocka_unit_test(test_destroy_with_clients_connected),
        cmocka_unit_test(test_fifo_round_trip),
        cmocka_unit_test(test_fifo_replaces_stale_fifo),
    };
    /* the server's warnings (dropped FIFO replies...) are expected here */
    log_setup(&(struct log_cfg){
        .level = LOG_LVL_ERR, .to_stderr = true, .format = LOG_FORMAT_TEXT, .ident = "ctl_test"});
    return cmocka_run_group_tests(tests, NULL, NULL);
}
