/* pipeline_test.c: tests src/route/pipeline.c: each construct, run on real messages with real UDP replies. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "route/route_int.h"

/* Two loopback UDP sockets: "proxy" sends the replies, "phone" gets them. */
struct fixture {
    int proxy_fd, phone_fd;
    struct net_sock sock;
    struct net_listen listen;
    struct net_addr phone;
    struct sip_stats stats;
    struct sip_worker *worker;
    char path[64];
};

static int bind_loopback(struct net_addr *out)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    out->len = sizeof(out->ss);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&out->ss, &out->len), 0);
    return fd;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct net_addr proxy;
    f->proxy_fd = bind_loopback(&proxy);
    f->phone_fd = bind_loopback(&f->phone);
    f->listen.addr = proxy;
    f->sock.fd = f->proxy_fd;
    f->sock.listen = &f->listen;
    f->worker = calloc(1, sizeof(*f->worker));
    snprintf(f->path, sizeof(f->path), "/tmp/sipd-pipeline-test-%d.json", (int)getpid());
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    close(f->proxy_fd);
    close(f->phone_fd);
    unlink(f->path);
    free(f->worker);
    free(f);
    return 0;
}

static struct route_cfg *load(struct fixture *f, const char *json)
{
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    fputs(json, fp);
    fclose(fp);
    struct route_cfg *cfg = NULL;
    char err[1024];
    if (route_cfg_load(&cfg, f->path, NULL, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    return cfg;
}

/* Runs msg through cfg; returns the reply's status code (0: none) and
 * copies the reply into reply (if not NULL). */
static int run(struct fixture *f, struct route_cfg *cfg, const char *msg, int *ret,
               struct sip_ctx *out_ctx, char *reply, size_t cap)
{
    struct sip_pkt *pkt = calloc(1, sizeof(*pkt) + strlen(msg) + 1);
    char *data = (char *)(pkt + 1);
    struct sip_error err;
    memcpy(data, msg, strlen(msg));
    pkt->data = data;
    pkt->len = strlen(msg);
    pkt->sock = &f->sock;
    pkt->src = f->phone;
    arena_init(&pkt->arena, NULL, 0, 1 << 20);
    assert_int_equal(sip_msg_parse(&pkt->msg, &pkt->arena, pkt->data, pkt->len, NULL, 0, &err), 0);
    struct sip_ctx ctx;
    sip_ctx_init(&ctx, pkt, route_cfg_sip(cfg), f->worker, &f->stats);
    int r = route_run(cfg, &ctx);
    if (ret)
        *ret = r;
    if (out_ctx)
        *out_ctx = ctx;
    sip_pkt_free(pkt);

    char buf[8192];
    struct pollfd p = {.fd = f->phone_fd, .events = POLLIN};
    if (poll(&p, 1, 200) != 1)
        return 0;
    ssize_t n = recv(f->phone_fd, buf, sizeof(buf) - 1, 0);
    assert_true(n > 12);
    buf[n] = '\0';
    if (reply)
        snprintf(reply, cap, "%s", buf);
    return atoi(buf + 8);
}

#define REQ(method, ruri, extra)                                                                   \
    method " " ruri " SIP/2.0\r\n"                                                                 \
           "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-test-1;rport\r\n"                       \
           "From: <sip:alice@example.com>;tag=a1\r\n"                                              \
           "To: <sip:bob@example.com>\r\n"                                                         \
           "Call-ID: pipeline-test@127.0.0.1\r\n"                                                  \
           "CSeq: 1 " method "\r\n" extra "Content-Length: 0\r\n\r\n"

static const char *sanity_cfg =
    "{\"listen\": \"udp:127.0.0.1:5060\", \"aliases\": [\"example.com\"], \"max_len\": 600,"
    " \"routes\": {\"main\": ["
    "  {\"if\": {\"not\": {\"mf_process_maxfwd_header\": \"10\"}},"
    "   \"then\": [{\"sl_send_reply\": [\"483\", \"Too Many Hops\"]}, \"break\"]},"
    "  {\"if\": {\"msg:len\": {\">\": \"max_len\"}},"
    "   \"then\": [{\"sl_send_reply\": [\"513\", \"Message Overflow\"]}, \"break\"]},"
    "  {\"if\": {\"method\": \"OPTIONS\"}, \"then\": [{\"sl_send_reply\": [200, \"OK\"]}, \"break\"]},"
    "  {\"if\": {\"method!=\": \"REGISTER\"}, \"then\": [{\"route\": \"other\"}, \"break\"]},"
    "  {\"if\": {\"uri!=\": \"myself\"}, \"then\": [{\"sl_send_reply\": [403, \"Not Here\"]}, \"break\"]},"
    "  {\"sl_send_reply\": [202, \"Register Seen\"]}"
    " ],"
    " \"other\": ["
    "  {\"if\": {\"or\": [{\"method\": \"BYE\"}, {\"and\": [{\"method\": [\"INFO\", \"MESSAGE\"]},"
    "                                              {\"uri\": \"myself\"}]}]},"
    "   \"then\": [{\"sl_send_reply\": [488, \"Or And Matched\"]}, \"return\"],"
    "   \"else\": {\"if\": {\"method\": \"NEWMETHOD\"},"
    "              \"then\": [{\"sl_send_reply\": [501, \"Extension\"]}, \"exit\"]}},"
    "  {\"log\": [\"debug\", \"falls through\"]},"
    "  {\"sl_send_reply\": [404, \"Not Found\"]}"
    " ]}}";

static void test_maxfwd(void **state)
{
    struct fixture *f = *state;
    struct route_cfg *cfg = load(f, sanity_cfg);
    struct sip_ctx ctx;
    assert_int_equal(run(f, cfg, REQ("OPTIONS", "sip:127.0.0.1", "Max-Forwards: 0\r\n"), NULL,
                         NULL, NULL, 0), 483);
    assert_int_equal(run(f, cfg, REQ("OPTIONS", "sip:127.0.0.1", "Max-Forwards: 70\r\n"), NULL,
                         &ctx, NULL, 0), 200);
    assert_int_equal(ctx.mf_value, 69);
    /* no Max-Forwards: one with the limit is added on relay */
    assert_int_equal(run(f, cfg, REQ("OPTIONS", "sip:127.0.0.1", ""), NULL, &ctx, NULL, 0), 200);
    assert_int_equal(ctx.mf_value, 10);
    route_cfg_free(cfg);
}

static void test_msg_len(void **state)
{
    struct fixture *f = *state;
    struct route_cfg *cfg = load(f, sanity_cfg);
    char pad[700];
    char big[1400];
    memset(pad, 'x', 400);
    pad[400] = '\0';
    snprintf(big, sizeof(big), REQ("OPTIONS", "sip:127.0.0.1", "Subject: %s\r\n"), pad);
    assert_int_equal(run(f, cfg, big, NULL, NULL, NULL, 0), 513);
    route_cfg_free(cfg);
}

static void test_method_route_and_or(void **state)
{
    struct fixture *f = *state;
    struct route_cfg *cfg = load(f, sanity_cfg);
    int r;
    assert_int_equal(run(f, cfg, REQ("BYE", "sip:bob@127.0.0.1", ""), &r, NULL, NULL, 0), 488);
    assert_int_equal(r, MOD_TRUE); /* "return" leaves the route only */
    assert_int_equal(run(f, cfg, REQ("INFO", "sip:bob@example.com", ""), NULL, NULL, NULL, 0), 488);
    /* INFO to a foreign domain: the and fails, the or fails, falls through */
    assert_int_equal(run(f, cfg, REQ("INFO", "sip:bob@elsewhere.org", ""), NULL, NULL, NULL, 0), 404);
    /* else-if chain and exit */
    assert_int_equal(run(f, cfg, REQ("NEWMETHOD", "sip:bob@127.0.0.1", ""), &r, NULL, NULL, 0), 501);
    assert_int_equal(r, MOD_EXIT);
    route_cfg_free(cfg);
}

static void test_myself(void **state)
{
    struct fixture *f = *state;
    struct route_cfg *cfg = load(f, sanity_cfg);
    assert_int_equal(run(f, cfg, REQ("REGISTER", "sip:127.0.0.1", ""), NULL, NULL, NULL, 0), 202);
    assert_int_equal(run(f, cfg, REQ("REGISTER", "sip:127.0.0.1:5060", ""), NULL, NULL, NULL, 0), 202);
    assert_int_equal(run(f, cfg, REQ("REGISTER", "sip:example.com", ""), NULL, NULL, NULL, 0), 202);
    assert_int_equal(run(f, cfg, REQ("REGISTER", "sip:EXAMPLE.com", ""), NULL, NULL, NULL, 0), 202);
    /* another port, another host, another scheme's default port */
    assert_int_equal(run(f, cfg, REQ("REGISTER", "sip:127.0.0.1:5070", ""), NULL, NULL, NULL, 0), 403);
    assert_int_equal(run(f, cfg, REQ("REGISTER", "sip:example.org", ""), NULL, NULL, NULL, 0), 403);
    assert_int_equal(run(f, cfg, REQ("REGISTER", "sips:example.com", ""), NULL, NULL, NULL, 0), 403);
    route_cfg_free(cfg);
}

static void test_reply_via_and_tag(void **state)
{
    struct fixture *f = *state;
    struct route_cfg *cfg = load(f, sanity_cfg);
    char reply[8192];
    char port[16];
    assert_int_equal(run(f, cfg, REQ("OPTIONS", "sip:127.0.0.1", ""), NULL, NULL, reply,
                         sizeof(reply)), 200);
    snprintf(port, sizeof(port), ";rport=%u", net_addr_port((struct sockaddr *)&f->phone.ss));
    assert_non_null(strstr(reply, port));
    assert_non_null(strstr(reply, ";received=127.0.0.1"));
    assert_non_null(strstr(reply, "To: <sip:bob@example.com>;tag="));
    route_cfg_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_maxfwd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_msg_len, setup, teardown),
        cmocka_unit_test_setup_teardown(test_method_route_and_or, setup, teardown),
        cmocka_unit_test_setup_teardown(test_myself, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_via_and_tag, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
