/* log_test.c: src/core/log.c: whole, escaped lines; JSON that parses; level filtering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

/* ---- capturing stderr ------------------------------------------------------------------ */

/* stderr goes to a temporary file between capture_begin() and capture_end();
 * assertions run only after capture_end(), so cmocka's messages stay visible. */
struct capture {
    int saved_stderr;
    int fd;
};

static void capture_begin(struct capture *c)
{
    char path[] = "/tmp/sipd-log-test-XXXXXX";
    c->fd = mkstemp(path);
    assert_true(c->fd >= 0);
    unlink(path);
    fflush(stderr);
    c->saved_stderr = dup(STDERR_FILENO);
    assert_true(c->saved_stderr >= 0);
    assert_true(dup2(c->fd, STDERR_FILENO) >= 0);
}

/* The captured bytes, NUL-terminated (log lines never hold a NUL). */
static char *capture_end(struct capture *c, size_t *len)
{
    dup2(c->saved_stderr, STDERR_FILENO);
    close(c->saved_stderr);
    off_t size = lseek(c->fd, 0, SEEK_END);
    assert_true(size >= 0);
    char *buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    assert_int_equal(pread(c->fd, buf, (size_t)size, 0), size);
    buf[size] = '\0';
    close(c->fd);
    if (len)
        *len = (size_t)size;
    return buf;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void setup_text(int level)
{
    log_setup(&(struct log_cfg){
        .level = level, .to_stderr = true, .format = LOG_FORMAT_TEXT, .ident = "sipd-test"});
}

static void setup_json(int level)
{
    log_setup(&(struct log_cfg){
        .level = level, .to_stderr = true, .format = LOG_FORMAT_JSON, .ident = "sipd-test"});
}

static void assert_matches(const char *s, const char *pattern)
{
    regex_t re;
    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    int rc = regexec(&re, s, 0, NULL, 0);
    regfree(&re);
    if (rc != 0) {
        print_error("\"%s\" does not match /%s/\n", s, pattern);
        fail();
    }
}

/* The part of a text line after "LEVEL: ". */
static const char *text_body(const char *line, const char *level)
{
    char key[32];
    snprintf(key, sizeof(key), "]: %s: ", level);
    const char *p = strstr(line, key);
    if (!p) {
        print_error("no \"%s\" in \"%s\"\n", key, line);
        fail();
    }
    return p + strlen(key);
}

/* Parses one JSON log line (with its newline) into an object. */
static json_t *parse_json_line(const char *line, size_t len)
{
    json_error_t jerr;
    assert_true(len > 0);
    assert_int_equal(line[len - 1], '\n');
    json_t *j = json_loadb(line, len - 1, 0, &jerr);
    if (!j) {
        print_error("not JSON (%s at %d): %.*s\n", jerr.text, jerr.position, (int)len, line);
        fail();
    }
    assert_true(json_is_object(j));
    return j;
}

static const char *member(json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);
    if (!json_is_string(v)) {
        print_error("no string member \"%s\"\n", key);
        fail();
    }
    return json_string_value(v);
}

static struct sockaddr_in peer4(const char *ip, unsigned port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    assert_int_equal(inet_pton(AF_INET, ip, &sa.sin_addr), 1);
    return sa;
}

static struct sockaddr_in6 peer6(const char *ip, unsigned port)
{
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
    assert_int_equal(inet_pton(AF_INET6, ip, &sa.sin6_addr), 1);
    return sa;
}

/* ---- tests -------------------------------------------------------------------------------- */

/* Runs first: the settings before any log_setup(). */
static void test_defaults(void **state)
{
    struct capture c;
    (void)state;

    assert_true(log_enabled(LOG_LVL_NOTICE));
    assert_false(log_enabled(LOG_LVL_INFO));
    capture_begin(&c);
    log_info("not shown");
    log_notice("shown");
    char *out = capture_end(&c, NULL);
    assert_int_equal(count_lines(out), 1);
    assert_non_null(strstr(out, " sipd["));
    assert_string_equal(text_body(out, "NOTICE"), "shown\n");
    free(out);
}

static void test_text_line_shape(void **state)
{
    struct capture c;
    char pattern[160];
    (void)state;

    setup_text(LOG_LVL_DEBUG);
    capture_begin(&c);
    log_err("hello %d", 42);
    char *out = capture_end(&c, NULL);
    snprintf(pattern, sizeof(pattern),
             "^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 123][0-9] "
             "[0-2][0-9]:[0-5][0-9]:[0-6][0-9] sipd-test\\[%ld\\]: ERROR: hello 42\n$",
             (long)getpid());
    assert_matches(out, pattern);
    free(out);
}

static void test_text_escapes(void **state)
{
    struct capture c;
    (void)state;

    setup_text(LOG_LVL_DEBUG);
    capture_begin(&c);
    log_warn("a\r\nb\tc%c\x7f\\ \"q\" \xff \xc3\xa9 \xc0\x80 end", 1);
    char *out = capture_end(&c, NULL);
    assert_int_equal(count_lines(out), 1);
    assert_string_equal(text_body(out, "WARNING"),
                        "a\\r\\nb\\tc\\x01\\x7f\\\\ \"q\" \\xff \xc3\xa9 \\xc0\\x80 end\n");
    free(out);
}

static void test_text_message_fields(void **state)
{
    struct capture c;
    struct sockaddr_in a4 = peer4("192.0.2.1", 5060);
    struct sockaddr_in6 a6 = peer6("2001:db8::1", 5061);
    (void)state;

    setup_text(LOG_LVL_DEBUG);
    capture_begin(&c);
    log_msg(LOG_LVL_INFO, (struct sockaddr *)&a4, SLICE_LIT("abc\r\n@x y"), "bad %s", "via");
    log_msg(LOG_LVL_INFO, (struct sockaddr *)&a6, SLICE_NULL, "v6");
    log_msg(LOG_LVL_INFO, NULL, SLICE_LIT("only-cid"), "no peer");
    char *out = capture_end(&c, NULL);
    assert_int_equal(count_lines(out), 3);
    char *l2 = strchr(out, '\n') + 1;
    char *l3 = strchr(l2, '\n') + 1;
    l2[-1] = l3[-1] = '\0';
    assert_string_equal(text_body(out, "INFO"),
                        "bad via peer=192.0.2.1:5060 call_id=abc\\r\\n@x y");
    assert_string_equal(text_body(l2, "INFO"), "v6 peer=[2001:db8::1]:5061");
    assert_string_equal(text_body(l3, "INFO"), "no peer call_id=only-cid\n");
    free(out);
}

static void test_text_truncation(void **state)
{
    struct capture c;
    size_t len;
    char *big = malloc(3000);
    (void)state;

    assert_non_null(big);
    memset(big, '\x01', 2999); /* 4 bytes each once escaped: far over a line */
    big[2999] = '\0';
    setup_text(LOG_LVL_DEBUG);
    capture_begin(&c);
    log_msg(LOG_LVL_ERR, NULL, SLICE_LIT("cid-1"), "%s", big);
    log_err("%10000d", 7); /* longer than the formatting buffer */
    char *out = capture_end(&c, &len);
    assert_int_equal(count_lines(out), 2);

    char *second = strchr(out, '\n') + 1;
    size_t first_len = (size_t)(second - out);
    assert_true(first_len <= LOG_LINE_MAX);
    assert_true(strlen(second) <= LOG_LINE_MAX);
    second[-1] = '\0';
    /* the message is cut between escapes, marked, and the field survives */
    const char *body = text_body(out, "ERROR");
    const char *mark = strstr(body, "... call_id=cid-1");
    assert_non_null(mark);
    assert_string_equal(mark, "... call_id=cid-1");
    assert_int_equal((size_t)(mark - body) % 4, 0);
    for (const char *p = body; p < mark; p += 4)
        assert_memory_equal(p, "\\x01", 4);
    assert_string_equal(second + strlen(second) - 4, "...\n");
    free(out);
    free(big);
}

static void test_json_line(void **state)
{
    struct capture c;
    size_t len;
    struct sockaddr_in6 a6 = peer6("2001:db8::1", 5061);
    (void)state;

    setup_json(LOG_LVL_DEBUG);
    capture_begin(&c);
    log_msg(LOG_LVL_ERR, (struct sockaddr *)&a6, SLICE_LIT("c\"1\n\\@\xff"),
            "say \"hi\" \\ %c\n\xff\xfe \xc3\xa9 \xc0\x80 \xed\xa0\x80 \xf0\x9f\x98\x80", 1);
    char *out = capture_end(&c, &len);
    assert_int_equal(count_lines(out), 1);

    json_t *j = parse_json_line(out, len);
    assert_matches(member(j, "ts"),
                   "^[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\\.[0-9]{3}Z$");
    assert_string_equal(member(j, "level"), "ERROR");
    assert_int_equal(json_integer_value(json_object_get(j, "pid")), getpid());
    /* each byte outside well-formed UTF-8 became U+FFFD (EF BF BD) */
    assert_string_equal(member(j, "msg"), "say \"hi\" \\ \x01\n"
                                          "\xef\xbf\xbd\xef\xbf\xbd \xc3\xa9 "
                                          "\xef\xbf\xbd\xef\xbf\xbd "
                                          "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd "
                                          "\xf0\x9f\x98\x80");
    assert_string_equal(member(j, "peer"), "[2001:db8::1]:5061");
    assert_string_equal(member(j, "call_id"), "c\"1\n\\@\xef\xbf\xbd");
    json_decref(j);
    free(out);

    capture_begin(&c);
    log_info("plain");
    out = capture_end(&c, &len);
    j = parse_json_line(out, len);
    assert_string_equal(member(j, "level"), "INFO");
    assert_string_equal(member(j, "msg"), "plain");
    assert_null(json_object_get(j, "peer"));
    assert_null(json_object_get(j, "call_id"));
    json_decref(j);
    free(out);
}

static void test_json_truncation(void **state)
{
    struct capture c;
    size_t len;
    struct sockaddr_in a4 = peer4("198.51.100.7", 5080);
    char *msg = malloc(4000), *cid = malloc(1000);
    (void)state;

    assert_non_null(msg);
    assert_non_null(cid);
    for (size_t i = 0; i < 3999; i++)
        msg[i] = "\"\xff\x02x"[i % 4]; /* 2, 6, 6 and 1 bytes once escaped */
    msg[3999] = '\0';
    for (size_t i = 0; i < 1000; i++)
        cid[i] = i % 3 ? 'k' : '\n';
    setup_json(LOG_LVL_DEBUG);
    capture_begin(&c);
    log_msg(LOG_LVL_WARN, (struct sockaddr *)&a4, slice_make(cid, 1000), "%s", msg);
    char *out = capture_end(&c, &len);
    assert_int_equal(count_lines(out), 1);
    assert_true(len <= LOG_LINE_MAX);

    json_t *j = parse_json_line(out, len);
    const char *m = member(j, "msg");
    assert_string_equal(m + strlen(m) - 3, "...");
    const char *k = member(j, "call_id");
    assert_string_equal(k + strlen(k) - 3, "...");
    assert_memory_equal(k, "\nkk\nkk", 6);
    assert_string_equal(member(j, "peer"), "198.51.100.7:5080");
    json_decref(j);
    free(out);
    free(msg);
    free(cid);
}

static void test_level_filtering(void **state)
{
    struct capture c;
    (void)state;

    setup_text(LOG_LVL_WARN);
    assert_true(log_enabled(LOG_LVL_ALERT));
    assert_true(log_enabled(LOG_LVL_WARN));
    assert_false(log_enabled(LOG_LVL_NOTICE));
    assert_false(log_enabled(LOG_LVL_DEBUG));
    capture_begin(&c);
    log_debug("d");
    log_info("i");
    log_notice("n");
    log_msg(LOG_LVL_INFO, NULL, SLICE_LIT("x"), "i2");
    log_warn("w");
    log_err("e");
    log_write(LOG_LVL_ALERT, "a");
    char *out = capture_end(&c, NULL);
    assert_int_equal(count_lines(out), 3);
    assert_non_null(strstr(out, ": WARNING: w\n"));
    assert_non_null(strstr(out, ": ERROR: e\n"));
    assert_non_null(strstr(out, ": ALERT: a\n"));
    free(out);

    setup_text(LOG_LVL_ALERT); /* SER's debug=-3: alerts only */
    capture_begin(&c);
    log_err("e");
    log_write(LOG_LVL_CRIT, "c");
    log_write(LOG_LVL_ALERT, "a");
    out = capture_end(&c, NULL);
    assert_int_equal(count_lines(out), 1);
    assert_non_null(strstr(out, ": ALERT: a\n"));
    free(out);
}

static void test_level_names(void **state)
{
    (void)state;
    assert_string_equal(log_level_name(LOG_LVL_ALERT), "ALERT");
    assert_string_equal(log_level_name(-7), "ALERT");
    assert_string_equal(log_level_name(LOG_LVL_CRIT), "CRITICAL");
    assert_string_equal(log_level_name(LOG_LVL_ERR), "ERROR");
    assert_string_equal(log_level_name(0), "WARNING");
    assert_string_equal(log_level_name(LOG_LVL_WARN), "WARNING");
    assert_string_equal(log_level_name(LOG_LVL_NOTICE), "NOTICE");
    assert_string_equal(log_level_name(LOG_LVL_INFO), "INFO");
    assert_string_equal(log_level_name(LOG_LVL_DEBUG), "DEBUG");
    assert_string_equal(log_level_name(9), "DEBUG");
}

static void test_errno_preserved(void **state)
{
    struct capture c;
    (void)state;

    setup_text(LOG_LVL_DEBUG);
    capture_begin(&c);
    errno = EBADMSG;
    log_err("failed: %s", strerror(errno));
    int saved = errno;
    free(capture_end(&c, NULL));
    assert_int_equal(saved, EBADMSG);
}

static void test_syslog_writes_nothing_to_stderr(void **state)
{
    struct capture c;
    (void)state;

    capture_begin(&c);
    log_setup(&(struct log_cfg){.level = LOG_LVL_DEBUG,
                                .to_stderr = false,
                                .format = LOG_FORMAT_TEXT,
                                .ident = "sipd-test"});
    log_err("to syslog, from the unit test");
    setup_text(LOG_LVL_DEBUG);
    char *out = capture_end(&c, NULL);
    assert_string_equal(out, "");
    free(out);
}

/* Threads log while the main thread changes format and ident: every line
 * stays whole and is one of the two formats. */
#define LOG_THREADS    4
#define LOG_LINES_EACH 500

static void *logger_thread(void *arg)
{
    long id = (long)(intptr_t)arg;
    struct sockaddr_in a4 = peer4("203.0.113.9", 5060);

    for (int i = 0; i < LOG_LINES_EACH; i++)
        log_msg(LOG_LVL_INFO, (struct sockaddr *)&a4, SLICE_LIT("cid\n"), "thread %ld line %d\n",
                id, i);
    return NULL;
}

static void test_concurrent_setup(void **state)
{
    struct capture c;
    pthread_t threads[LOG_THREADS];
    size_t len;
    (void)state;

    setup_text(LOG_LVL_DEBUG);
    capture_begin(&c);
    for (long i = 0; i < LOG_THREADS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, logger_thread, (void *)(intptr_t)i), 0);
    for (int round = 0; round < 200; round++) {
        log_setup(&(struct log_cfg){.level = LOG_LVL_DEBUG,
                                    .to_stderr = true,
                                    .format = round % 2 ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT,
                                    .ident = round % 3 ? "sipd-a" : "sipd-b"});
        sched_yield();
    }
    for (int i = 0; i < LOG_THREADS; i++)
        pthread_join(threads[i], NULL);
    setup_text(LOG_LVL_DEBUG);
    char *out = capture_end(&c, &len);

    assert_int_equal(count_lines(out), LOG_THREADS * LOG_LINES_EACH);
    for (char *line = out; *line;) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        if (line[0] == '{') {
            json_t *j = parse_json_line(line, (size_t)(nl - line) + 1);
            assert_non_null(strstr(member(j, "msg"), " line "));
            assert_string_equal(member(j, "call_id"), "cid\n");
            json_decref(j);
        } else {
            *nl = '\0';
            assert_matches(line,
                           "^... [ 0-9][0-9] [0-9:]{8} sipd-(a|b|test)\\[[0-9]+\\]: INFO: thread "
                           "[0-9] line [0-9]+\\\\n peer=203\\.0\\.113\\.9:5060 "
                           "call_id=cid\\\\n$");
        }
        line = nl + 1;
    }
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_text_line_shape),
        cmocka_unit_test(test_text_escapes),
        cmocka_unit_test(test_text_message_fields),
        cmocka_unit_test(test_text_truncation),
        cmocka_unit_test(test_json_line),
        cmocka_unit_test(test_json_truncation),
        cmocka_unit_test(test_level_filtering),
        cmocka_unit_test(test_level_names),
        cmocka_unit_test(test_errno_preserved),
        cmocka_unit_test(test_syslog_writes_nothing_to_stderr),
        cmocka_unit_test(test_concurrent_setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
