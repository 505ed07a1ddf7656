/* db_test.c: src/db/ against a real, private MariaDB: URLs, types, streaming, outages, the job queue. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "db/db.h"

/*
 * The server. The group setup starts a MariaDB of its own in a fresh
 * directory under /tmp with scripts/db (socket and a free loopback port);
 * the group teardown stops it and removes the directory. Should the test
 * die first: an atexit handler does the same, a handler of the terminating
 * signals kills the server (kill(2) is async-signal-safe), and scripts/db's
 * watchdog (SIPD_DB_OWNER_PID) stops it and removes the directory within a
 * second of this process ending in any way, SIGKILL included.
 */
static struct {
    char dir[64];
    unsigned port;
    char url_sock[256];
    char url_tcp[256];
    char url_root[256];
    volatile sig_atomic_t server_pid; /* read by the signal handler */
    bool up;
} srv;

extern char **environ;

/* stderr capture (see capture_begin): the saved descriptor, for children. */
static int capture_saved_fd = -1;

static int spawn_wait(char *const argv[], const char *owner_env)
{
    posix_spawn_file_actions_t fa;
    char *env[512];
    size_t n = 0;
    pid_t pid;
    int status, ret;

    for (char **e = environ; *e && n < 508; e++)
        env[n++] = *e;
    if (owner_env) {
        static char owner[64];
        snprintf(owner, sizeof(owner), "SIPD_DB_OWNER_PID=%d", (int)getpid());
        env[n++] = owner;
        env[n++] = (char *)owner_env;
    }
    env[n] = NULL;
    posix_spawn_file_actions_init(&fa);
    if (capture_saved_fd >= 0) /* scripts talk to the real stderr, not the capture */
        posix_spawn_file_actions_adddup2(&fa, capture_saved_fd, STDERR_FILENO);
    ret = posix_spawn(&pid, argv[0], &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    if (ret)
        return -1;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* scripts/db COMMAND DIR [ARG] */
static int db_script(const char *command, const char *arg)
{
    char *argv[] = {"/bin/bash", SIPD_SOURCE_DIR "/scripts/db", (char *)command, srv.dir,
                    (char *)arg, NULL};
    return spawn_wait(argv, strcmp(command, "start") == 0 ? "SIPD_DB_REMOVE_DIR=1" : NULL);
}

static void read_server_pid(void)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/mariadb.pid", srv.dir);
    FILE *f = fopen(path, "r");
    int pid = 0;
    if (f) {
        if (fscanf(f, "%d", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    srv.server_pid = pid;
}

static int server_start(void)
{
    char port[16];
    snprintf(port, sizeof(port), "%u", srv.port);
    int ret = db_script("start", port);
    if (ret == 0)
        read_server_pid();
    return ret;
}

static int server_stop(void)
{
    int ret = db_script("stop", NULL);
    srv.server_pid = 0;
    return ret;
}

static void server_cleanup(void)
{
    if (!srv.up)
        return;
    srv.up = false;
    server_stop();
    char *argv[] = {"/bin/rm", "-rf", srv.dir, NULL};
    spawn_wait(argv, NULL);
}

static void on_fatal_signal(int sig)
{
    if (srv.server_pid > 0)
        kill((pid_t)srv.server_pid, SIGKILL);
    signal(sig, SIG_DFL);
    raise(sig);
}

static unsigned free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    unsigned port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static int group_setup(void **state)
{
    (void)state;
    log_setup(&(struct log_cfg){.level = LOG_LVL_NOTICE, .to_stderr = true, .ident = "db-test"});
    /* DATETIMEs must not depend on the local zone: pick one far from UTC. */
    setenv("TZ", "Asia/Tokyo", 1);
    tzset();

    snprintf(srv.dir, sizeof(srv.dir), "/tmp/sipd-dbtest-XXXXXX");
    if (!mkdtemp(srv.dir))
        return -1;
    srv.port = free_port();
    if (!srv.port)
        return -1;
    snprintf(srv.url_sock, sizeof(srv.url_sock), "mysql://ser:heslo@unix(%s/mysql.sock)/ser",
             srv.dir);
    snprintf(srv.url_tcp, sizeof(srv.url_tcp), "mysql://ser:heslo@127.0.0.1:%u/ser", srv.port);
    snprintf(srv.url_root, sizeof(srv.url_root), "mysql://root:@unix(%s/mysql.sock)/mysql",
             srv.dir);

    srv.up = true;
    atexit(server_cleanup);
    signal(SIGINT, on_fatal_signal);
    signal(SIGTERM, on_fatal_signal);
    signal(SIGHUP, on_fatal_signal);
    signal(SIGQUIT, on_fatal_signal);
    signal(SIGPIPE, SIG_IGN); /* as sipd does; a write to a dead socket is an error, not death */

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (server_start() != 0) {
        fprintf(stderr, "db_test: scripts/db start %s failed\n", srv.dir);
        return -1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "db_test: MariaDB in %s, port %u, up in %.2f s\n", srv.dir, srv.port,
            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    server_cleanup();
    return 0;
}

/* ---- helpers --------------------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void sleep_ms(unsigned ms)
{
    struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) < 0 && errno == EINTR)
        ;
}

struct capture {
    int fd;
};

/* stderr (the logger's) goes to a temporary file until capture_end(). */
static void capture_begin(struct capture *c)
{
    char path[] = "/tmp/sipd-db-test-log-XXXXXX";
    c->fd = mkstemp(path);
    assert_true(c->fd >= 0);
    unlink(path);
    fflush(stderr);
    capture_saved_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 10);
    assert_true(capture_saved_fd >= 0);
    assert_true(dup2(c->fd, STDERR_FILENO) >= 0);
}

static char *capture_end(struct capture *c)
{
    dup2(capture_saved_fd, STDERR_FILENO);
    close(capture_saved_fd);
    capture_saved_fd = -1;
    off_t size = lseek(c->fd, 0, SEEK_END);
    assert_true(size >= 0);
    char *buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    assert_int_equal(pread(c->fd, buf, (size_t)size, 0), size);
    buf[size] = '\0';
    close(c->fd);
    fputs(buf, stderr); /* keep it visible in the test's output */
    return buf;
}

static unsigned count_substr(const char *s, const char *sub)
{
    unsigned n = 0;
    for (const char *p = strstr(s, sub); p; p = strstr(p + 1, sub))
        n++;
    return n;
}

static struct db *open_db(const char *url, const struct db_opts *opts)
{
    struct db *db = NULL;
    char err[256];
    int ret = db_open(&db, url, opts, err, sizeof(err));
    if (ret)
        fail_msg("db_open(%s): %s", url, err);
    return db;
}

/* Runs SQL without parameters or rows on c. */
static void exec_sql(struct db_conn *c, const char *sql)
{
    struct db_stmt *s;
    assert_int_equal(db_prepare(c, sql, &s), 0);
    int ret = db_exec(s, NULL, 0, NULL);
    if (ret)
        fail_msg("%s: %s", sql, strerror(ret));
}

static int one_int_row(void *arg, const struct db_val *cols, unsigned n)
{
    assert_int_equal(n, 1);
    assert_int_equal(cols[0].type, DB_INT);
    *(long long *)arg = cols[0].i;
    return 0;
}

/* The single integer a query returns; LLONG_MIN if it fails. */
static long long query_int(struct db_conn *c, const char *sql, const struct db_val *params,
                           unsigned n)
{
    struct db_stmt *s;
    long long v = LLONG_MIN;
    assert_int_equal(db_prepare(c, sql, &s), 0);
    int ret = db_query(s, params, n, one_int_row, &v);
    return ret ? LLONG_MIN : v;
}

/* ---- URLs ------------------------------------------------------------------------------ */

static void check_url(const char *text, const char *user, const char *password, const char *host,
                      const char *socket, unsigned port, const char *database)
{
    struct db_url u;
    char err[128];
    int ret = db_url_parse(text, &u, err, sizeof(err));
    if (ret)
        fail_msg("%s: %s", text, err);
    assert_string_equal(u.user, user);
    assert_string_equal(u.password, password);
    if (host)
        assert_string_equal(u.host, host);
    else
        assert_null(u.host);
    if (socket)
        assert_string_equal(u.socket, socket);
    else
        assert_null(u.socket);
    assert_int_equal(u.port, port);
    assert_string_equal(u.database, database);
    db_url_free(&u);
    assert_null(u.user);
}

static void test_url_good(void **state)
{
    (void)state;
    check_url("mysql://ser:heslo@localhost/ser", "ser", "heslo", "localhost", NULL, 0, "ser");
    check_url("mysql://ser:heslo@127.0.0.1:3307/ser", "ser", "heslo", "127.0.0.1", NULL, 3307,
              "ser");
    check_url("mysql://ser:heslo@unix(/tmp/a b/mysql.sock)/ser", "ser", "heslo", NULL,
              "/tmp/a b/mysql.sock", 0, "ser");
    check_url("mysql://ser@db.example.com/ser", "ser", "", "db.example.com", NULL, 0, "ser");
    check_url("mysql://u:p@ss:w/rd@[::1]:3306/sipdb", "u", "p@ss:w/rd", "::1", NULL, 3306,
              "sipdb");
    check_url("mysql://u:p@ss@unix(relative.sock)/d", "u", "p@ss", NULL, "relative.sock", 0, "d");
    check_url("MySQL://u:@h:65535/d", "u", "", "h", NULL, 65535, "d");
}

static void test_url_bad(void **state)
{
    (void)state;
    static const struct {
        const char *text, *why;
    } cases[] = {
        {"", "not a mysql:// URL"},
        {"postgres://u:p@h/d", "not a mysql:// URL"},
        {"mysql:/u:p@h/d", "not a mysql:// URL"},
        {"mysql://h/d", "missing user"},
        {"mysql://@h/d", "missing user"},
        {"mysql://:p@h/d", "missing user"},
        {"mysql://u:p@h", "missing database name"},
        {"mysql://u:p@h/", "missing database name"},
        {"mysql://u:p@unix(/s)", "missing database name"},
        {"mysql://u:p@unix(/s)x/d", "missing database name"},
        {"mysql://u:p@h/a/b", "'/' in database name"},
        {"mysql://u:p@/d", "missing host"},
        {"mysql://u:p@:3306/d", "missing host"},
        {"mysql://u:p@[]/d", "missing host"},
        {"mysql://u:p@[::1/d", "[ without ]"},
        {"mysql://u:p@[::1]x/d", "junk after ]"},
        {"mysql://u:p@h:/d", "bad port"},
        {"mysql://u:p@h:12a/d", "bad port"},
        {"mysql://u:p@h:123456/d", "bad port"},
        {"mysql://u:p@h:0/d", "port out of range"},
        {"mysql://u:p@h:65536/d", "port out of range"},
        {"mysql://u:p@unix(/d", "unix( without )"},
        {"mysql://u:p@unix()/d", "empty unix socket path"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct db_url u;
        char err[128];
        int ret = db_url_parse(cases[i].text, &u, err, sizeof(err));
        if (ret != EINVAL || !strstr(err, cases[i].why) || strncmp(err, "db_url: ", 8) != 0)
            fail_msg("\"%s\": got %d \"%s\", want EINVAL \"%s\"", cases[i].text, ret, err,
                     cases[i].why);
        assert_null(u.user);
        assert_null(u.database);
    }
    struct db_url u;
    char small[8];
    assert_int_equal(db_url_parse(NULL, &u, small, sizeof(small)), EINVAL);
    assert_int_equal(strlen(small), sizeof(small) - 1); /* cut, terminated */
    assert_int_equal(db_url_parse("mysql://h/d", &u, NULL, 0), EINVAL);

    struct db *db = NULL;
    char err[128];
    assert_int_equal(db_open(&db, "mysql://u:p@h", NULL, err, sizeof(err)), EINVAL);
    assert_null(db);
    assert_string_equal(err, "db_url: missing database name");
}

static void test_url_redact(void **state)
{
    (void)state;
    char buf[128];
    assert_string_equal(db_url_redact("mysql://ser:heslo@localhost/ser", buf, sizeof(buf)),
                        "mysql://ser:***@localhost/ser");
    assert_string_equal(db_url_redact("mysql://u:p@ss@unix(/tmp/s@x)/d", buf, sizeof(buf)),
                        "mysql://u:***@unix(/tmp/s@x)/d");
    assert_string_equal(db_url_redact("mysql://u:p:q/r@[::1]:3306/d", buf, sizeof(buf)),
                        "mysql://u:***@[::1]:3306/d");
    assert_string_equal(db_url_redact("mysql://ser@localhost/ser", buf, sizeof(buf)),
                        "mysql://ser@localhost/ser");
    assert_string_equal(db_url_redact("no url at all", buf, sizeof(buf)), "no url at all");
    assert_string_equal(db_url_redact("mysql://u:secret", buf, sizeof(buf)), "mysql://u:secret");
    char small[12];
    assert_string_equal(db_url_redact("mysql://ser:heslo@localhost/ser", small, sizeof(small)),
                        "mysql://ser");

    struct db *db = open_db("mysql://ser:heslo@unix(/nowhere.sock)/ser", NULL);
    assert_string_equal(db_name(db), "mysql://ser:***@unix(/nowhere.sock)/ser");
    assert_true(db_is_up(db));
    db_close(db);
}

/* ---- statements and types -------------------------------------------------------------- */

struct rows {
    unsigned n;
    struct db_val vals[8][10];
    char strings[8][10][256]; /* copies of short strings */
    size_t long_len[8];       /* a long string column's length */
    char long_head[8], long_tail[8];
};

static int collect_rows(void *arg, const struct db_val *cols, unsigned n)
{
    struct rows *r = arg;
    assert_true(r->n < 8 && n <= 10);
    for (unsigned i = 0; i < n; i++) {
        r->vals[r->n][i] = cols[i];
        if (cols[i].type == DB_STRING && cols[i].s.len < 256) {
            memcpy(r->strings[r->n][i], cols[i].s.p, cols[i].s.len);
            r->vals[r->n][i].s.p = r->strings[r->n][i];
        } else if (cols[i].type == DB_STRING) {
            r->long_len[r->n] = cols[i].s.len;
            r->long_head[r->n] = cols[i].s.p[0];
            r->long_tail[r->n] = cols[i].s.p[cols[i].s.len - 1];
            r->vals[r->n][i].s.p = NULL;
        }
    }
    r->n++;
    return 0;
}

static void assert_str_val(struct db_val v, const char *p, size_t len)
{
    assert_int_equal(v.type, DB_STRING);
    assert_int_equal(v.s.len, len);
    assert_memory_equal(v.s.p, p, len);
}

static void test_types(void **state)
{
    (void)state;
    struct db *db = open_db(srv.url_sock, NULL);
    struct db_conn *c;
    struct db_stmt *ins, *sel, *again;
    assert_int_equal(db_conn_new(db, &c), 0);

    exec_sql(c, "DROP TABLE IF EXISTS t_types");
    exec_sql(c, "CREATE TABLE t_types (id INT AUTO_INCREMENT PRIMARY KEY, i BIGINT, d DOUBLE, "
                "q FLOAT(10,2), s VARCHAR(512), t DATETIME, n VARCHAR(10), b BLOB, "
                "m DECIMAL(10,3), dt DATE)");

    const char *ins_sql = "INSERT INTO t_types (i, d, q, s, t, n, b, m, dt) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
    assert_int_equal(db_prepare(c, ins_sql, &ins), 0);
    assert_int_equal(db_prepare(c, ins_sql, &again), 0);
    assert_ptr_equal(ins, again); /* the same SQL, the same statement */

    /* A 512-byte contact, the column's full width. */
    char contact[512];
    memset(contact, 'a', sizeof(contact));
    memcpy(contact, "sip:", 4);
    memcpy(contact + sizeof(contact) - 12, "@example.com", 12);
    /* SQL metacharacters are data; the BLOB gets a NUL too. */
    static const char evil[] = "x'); DROP TABLE t_types; -- \\' \" %_ `";
    static const char evil_bin[] = "a\0b'\\\"\x01\xff";
    const time_t when = 1700000000; /* 2023-11-14 22:13:20 UTC */

    struct db_val row1[] = {
        DB_VAL_INT(LLONG_MAX),
        DB_VAL_DOUBLE(-1.5e300),
        DB_VAL_DOUBLE(0.5),
        DB_VAL_STR(slice_make(contact, sizeof(contact))),
        DB_VAL_TIME(when),
        DB_VAL_NULL,
        DB_VAL_STR(slice_make(evil_bin, sizeof(evil_bin) - 1)),
        DB_VAL_DOUBLE(12.125),
        DB_VAL_TIME(when),
    };
    uint64_t affected = 99;
    assert_int_equal(db_exec(ins, row1, 9, &affected), 0);
    assert_int_equal(affected, 1);
    struct db_val row2[] = {
        DB_VAL_INT(LLONG_MIN),
        DB_VAL_DOUBLE(0),
        DB_VAL_DOUBLE(1),
        DB_VAL_STR(slice_make(evil, sizeof(evil) - 1)),
        DB_VAL_TIME(0),
        DB_VAL_STR(slice_make("", 0)), /* present and empty: '' */
        DB_VAL_STR(SLICE_NULL),        /* absent: NULL */
        DB_VAL_NULL,
        DB_VAL_NULL,
    };
    assert_int_equal(db_exec(ins, row2, 9, NULL), 0);

    /* The table survived the metacharacters, and they compare as data. */
    struct db_val key = DB_VAL_STR(slice_make(evil, sizeof(evil) - 1));
    assert_int_equal(query_int(c, "SELECT COUNT(*) FROM t_types WHERE s = ?", &key, 1), 1);

    assert_int_equal(db_prepare(c, "SELECT i, d, q, s, t, n, b, m, dt FROM t_types ORDER BY id",
                                &sel),
                     0);
    struct rows r = {0};
    assert_int_equal(db_query(sel, NULL, 0, collect_rows, &r), 0);
    assert_int_equal(r.n, 2);

    struct db_val *v = r.vals[0];
    assert_int_equal(v[0].type, DB_INT);
    assert_true(v[0].i == LLONG_MAX);
    assert_int_equal(v[1].type, DB_DOUBLE);
    assert_true(v[1].d == -1.5e300);
    assert_int_equal(v[2].type, DB_DOUBLE);
    assert_true(v[2].d == 0.5);
    assert_int_equal(v[3].type, DB_STRING);
    assert_int_equal(r.long_len[0], 512);
    assert_int_equal(r.long_head[0], 's');
    assert_int_equal(r.long_tail[0], 'm');
    assert_int_equal(v[4].type, DB_DATETIME);
    assert_int_equal(v[4].t, when);
    assert_int_equal(v[5].type, DB_NULL);
    assert_str_val(v[6], evil_bin, sizeof(evil_bin) - 1);
    assert_int_equal(v[7].type, DB_DOUBLE);
    assert_true(v[7].d == 12.125);
    assert_int_equal(v[8].type, DB_DATETIME);
    assert_int_equal(v[8].t, when - when % 86400); /* a DATE is midnight UTC */

    v = r.vals[1];
    assert_true(v[0].i == LLONG_MIN);
    assert_str_val(v[3], evil, strlen(evil));
    assert_int_equal(v[4].type, DB_DATETIME);
    assert_int_equal(v[4].t, 0);
    assert_str_val(v[5], "", 0);
    assert_int_equal(v[6].type, DB_NULL);
    assert_int_equal(v[7].type, DB_NULL);

    /* The DATETIME is stored as UTC wall time, whatever TZ says here. */
    struct db_stmt *fmt;
    assert_int_equal(db_prepare(c,
                                "SELECT DATE_FORMAT(t, '%Y-%m-%d %H:%i:%s'), UNIX_TIMESTAMP(t) "
                                "FROM t_types WHERE i = ?",
                                &fmt),
                     0);
    struct db_val imax = DB_VAL_INT(LLONG_MAX);
    memset(&r, 0, sizeof(r));
    assert_int_equal(db_query(fmt, &imax, 1, collect_rows, &r), 0);
    assert_int_equal(r.n, 1);
    assert_str_val(r.vals[0][0], "2023-11-14 22:13:20", 19);
    assert_int_equal(r.vals[0][1].type, DB_INT);
    assert_int_equal(r.vals[0][1].i, when);

    /* Rows matched, not changed (CLIENT_FOUND_ROWS). */
    struct db_stmt *upd;
    assert_int_equal(db_prepare(c, "UPDATE t_types SET q = q WHERE i = ?", &upd), 0);
    assert_int_equal(db_exec(upd, &imax, 1, &affected), 0);
    assert_int_equal(affected, 1);

    /* Literals of every kind, NULL included. */
    struct db_stmt *lit;
    assert_int_equal(db_prepare(c,
                                "SELECT NULL, 42, 'x', 2.5, CAST('2020-02-29 12:00:00' AS "
                                "DATETIME), CAST(? AS SIGNED), CAST(? AS DOUBLE)",
                                &lit),
                     0);
    struct db_val p2[] = {DB_VAL_STR(SLICE_LIT("-7")), DB_VAL_DOUBLE(0.25)};
    memset(&r, 0, sizeof(r));
    assert_int_equal(db_query(lit, p2, 2, collect_rows, &r), 0);
    assert_int_equal(r.vals[0][0].type, DB_NULL);
    assert_int_equal(r.vals[0][1].i, 42);
    assert_str_val(r.vals[0][2], "x", 1);
    assert_true(r.vals[0][3].type == DB_DOUBLE && r.vals[0][3].d == 2.5);
    assert_int_equal(r.vals[0][4].t, 1582977600);
    assert_int_equal(r.vals[0][5].i, -7);
    assert_true(r.vals[0][6].type == DB_DOUBLE && r.vals[0][6].d == 0.25);

    /* Mistakes are EINVAL, logged; never an outage. */
    assert_int_equal(db_exec(ins, row1, 3, NULL), EINVAL); /* parameter count */
    struct db_stmt *bad;
    assert_int_equal(db_prepare(c, "SELEKT 1", &bad), EINVAL); /* connected: checked now */
    struct db_conn *c2;
    assert_int_equal(db_conn_new(db, &c2), 0);
    assert_int_equal(db_prepare(c2, "SELECT nosuchcolumn FROM t_types", &bad), 0); /* lazily */
    assert_int_equal(db_exec(bad, NULL, 0, NULL), EINVAL);
    struct db_stmt *dup;
    assert_int_equal(db_prepare(c2, "INSERT INTO t_types (id) VALUES (1)", &dup), 0);
    assert_int_equal(db_exec(dup, NULL, 0, NULL), EINVAL); /* duplicate key */
    assert_true(db_is_up(db));

    /* Transactions. */
    assert_int_equal(db_begin(c), 0);
    assert_int_equal(db_exec(ins, row1, 9, NULL), 0);
    assert_int_equal(db_rollback(c), 0);
    assert_int_equal(query_int(c, "SELECT COUNT(*) FROM t_types", NULL, 0), 2);
    assert_int_equal(db_begin(c), 0);
    assert_int_equal(db_begin(c), EINVAL); /* no nesting */
    assert_int_equal(db_exec(ins, row1, 9, NULL), 0);
    assert_int_equal(db_commit(c), 0);
    assert_int_equal(query_int(c2, "SELECT COUNT(*) FROM t_types", NULL, 0), 3);
    assert_int_equal(db_commit(c), EINVAL); /* not in one */

    db_conn_free(c2);
    db_conn_free(c);
    db_close(db);
}

/* Long values: bigger than the initial column buffer, varying per row. */
struct long_rows {
    unsigned n;
    size_t want[5];
};

static int check_long_row(void *arg, const struct db_val *cols, unsigned n)
{
    struct long_rows *r = arg;
    assert_int_equal(n, 2);
    assert_int_equal(cols[0].type, DB_INT);
    assert_int_equal(cols[1].type, DB_STRING);
    assert_int_equal(cols[1].s.len, r->want[r->n]);
    for (size_t i = 0; i < cols[1].s.len; i++)
        if (cols[1].s.p[i] != (char)('a' + (i * 7 + (size_t)cols[0].i) % 26))
            fail_msg("row %u byte %zu", r->n, i);
    r->n++;
    return 0;
}

static void test_long_values(void **state)
{
    (void)state;
    struct db *db = open_db(srv.url_sock, NULL);
    struct db_conn *c;
    struct db_stmt *ins, *sel;
    assert_int_equal(db_conn_new(db, &c), 0);
    exec_sql(c, "DROP TABLE IF EXISTS t_long");
    exec_sql(c, "CREATE TABLE t_long (id INT PRIMARY KEY, v MEDIUMTEXT)");
    assert_int_equal(db_prepare(c, "INSERT INTO t_long VALUES (?, ?)", &ins), 0);

    struct long_rows r = {.want = {10, 100000, 50, 300000, 4096}};
    char *buf = malloc(300000);
    assert_non_null(buf);
    for (unsigned row = 0; row < 5; row++) {
        for (size_t i = 0; i < r.want[row]; i++)
            buf[i] = (char)('a' + (i * 7 + row) % 26);
        struct db_val p[] = {DB_VAL_INT(row), DB_VAL_STR(slice_make(buf, r.want[row]))};
        assert_int_equal(db_exec(ins, p, 2, NULL), 0);
    }
    free(buf);
    assert_int_equal(db_prepare(c, "SELECT id, v FROM t_long ORDER BY id", &sel), 0);
    assert_int_equal(db_query(sel, NULL, 0, check_long_row, &r), 0);
    assert_int_equal(r.n, 5);
    r.n = 0; /* again, with the grown buffer bound from the start */
    assert_int_equal(db_query(sel, NULL, 0, check_long_row, &r), 0);
    assert_int_equal(r.n, 5);
    db_conn_free(c);
    db_close(db);
}

static int count_cols(void *arg, const struct db_val *cols, unsigned n)
{
    (void)cols;
    *(unsigned *)arg = n;
    return 0;
}

/* The table under a prepared SELECT * changes; a lock wait times out. */
static void test_schema_change_and_lock_wait(void **state)
{
    (void)state;
    struct db *db = open_db(srv.url_sock, NULL);
    struct db_conn *c, *c2;
    struct db_stmt *all, *ins, *upd, *upd2;
    unsigned ncols = 0;
    assert_int_equal(db_conn_new(db, &c), 0);
    assert_int_equal(db_conn_new(db, &c2), 0);
    exec_sql(c, "DROP TABLE IF EXISTS t_alter");
    exec_sql(c, "CREATE TABLE t_alter (a INT PRIMARY KEY, b INT)");
    assert_int_equal(db_prepare(c, "INSERT INTO t_alter (a, b) VALUES (1, 2)", &ins), 0);
    uint64_t affected = 0;
    assert_int_equal(db_exec(ins, NULL, 0, &affected), 0);
    assert_int_equal(affected, 1);
    assert_int_equal(db_prepare(c, "SELECT * FROM t_alter", &all), 0);
    assert_int_equal(db_query(all, NULL, 0, count_cols, &ncols), 0);
    assert_int_equal(ncols, 2);
    exec_sql(c, "ALTER TABLE t_alter ADD COLUMN c VARCHAR(20) DEFAULT 'x'");
    assert_int_equal(db_query(all, NULL, 0, count_cols, &ncols), 0);
    assert_int_equal(ncols, 3);
    /* db_query on a statement without rows: no rows, no error */
    assert_int_equal(db_prepare(c, "UPDATE t_alter SET b = b + 1", &upd), 0);
    assert_int_equal(db_query(upd, NULL, 0, count_cols, &ncols), 0);

    /* c holds the row's lock; c2 waits a second for it: EAGAIN, no outage. */
    exec_sql(c2, "SET SESSION innodb_lock_wait_timeout = 1");
    assert_int_equal(db_prepare(c2, "UPDATE t_alter SET b = 0 WHERE a = 1", &upd2), 0);
    struct capture cap;
    capture_begin(&cap);
    assert_int_equal(db_begin(c), 0);
    assert_int_equal(db_exec(upd, NULL, 0, NULL), 0);
    int waited = db_exec(upd2, NULL, 0, NULL);
    assert_int_equal(db_rollback(c), 0);
    int free_now = db_exec(upd2, NULL, 0, NULL);
    char *log = capture_end(&cap);
    assert_int_equal(waited, EAGAIN);
    assert_int_equal(free_now, 0);
    assert_true(db_is_up(db));
    assert_int_equal(count_substr(log, "unreachable"), 0);
    assert_int_equal(count_substr(log, "will be retried"), 1);
    free(log);
    exec_sql(c, "DROP TABLE t_alter");
    db_conn_free(c2);
    db_conn_free(c);
    db_close(db);
}

/* ---- streaming ------------------------------------------------------------------------- */

#define STREAM_ROWS 100000

struct stream {
    long long next;
    unsigned stop_after;
};

static int stream_row(void *arg, const struct db_val *cols, unsigned n)
{
    struct stream *st = arg;
    char want[64];
    assert_int_equal(n, 2);
    if (cols[0].i != st->next)
        fail_msg("row %lld arrived as number %lld", cols[0].i, st->next);
    int len = snprintf(want, sizeof(want), "sip:user%lld@example.com", cols[0].i);
    if (cols[1].s.len != (size_t)len || memcmp(cols[1].s.p, want, (size_t)len) != 0)
        fail_msg("row %lld: %.*s", cols[0].i, (int)cols[1].s.len, cols[1].s.p);
    st->next++;
    return st->stop_after && st->next > st->stop_after ? 42 : 0;
}

static void test_streaming(void **state)
{
    (void)state;
    struct db *db = open_db(srv.url_sock, NULL);
    struct db_conn *c;
    struct db_stmt *sel;
    assert_int_equal(db_conn_new(db, &c), 0);
    exec_sql(c, "DROP TABLE IF EXISTS t_stream");
    exec_sql(c, "CREATE TABLE t_stream (n INT PRIMARY KEY, s VARCHAR(64))");
    exec_sql(c, "INSERT INTO t_stream SELECT seq, CONCAT('sip:user', seq, '@example.com') "
                "FROM seq_1_to_100000");

    double t0 = now_s();
    assert_int_equal(db_prepare(c, "SELECT n, s FROM t_stream WHERE n >= ? ORDER BY n", &sel), 0);
    struct db_val from = DB_VAL_INT(1);
    struct stream st = {.next = 1};
    assert_int_equal(db_query(sel, &from, 1, stream_row, &st), 0);
    assert_int_equal(st.next, STREAM_ROWS + 1);
    fprintf(stderr, "db_test: streamed %d rows in %.3f s\n", STREAM_ROWS, now_s() - t0);

    /* Stopping early returns the callback's value; the connection stays usable. */
    st = (struct stream){.next = 1, .stop_after = 10};
    assert_int_equal(db_query(sel, &from, 1, stream_row, &st), 42);
    assert_int_equal(st.next, 11);
    assert_int_equal(query_int(c, "SELECT COUNT(*) FROM t_stream", NULL, 0), STREAM_ROWS);
    exec_sql(c, "DROP TABLE t_stream");
    db_conn_free(c);
    db_close(db);
}

/* ---- connections: TCP, backoff without a server, a killed connection ------------------- */

static void test_tcp(void **state)
{
    (void)state;
    struct db *db = open_db(srv.url_tcp, NULL);
    struct db_conn *c;
    assert_int_equal(db_conn_new(db, &c), 0);
    assert_int_equal(query_int(c, "SELECT 7", NULL, 0), 7);
    db_conn_free(c);
    db_close(db);
}

static void test_backoff_no_server(void **state)
{
    (void)state;
    char url[128];
    unsigned port = free_port(); /* nobody listens there */
    snprintf(url, sizeof(url), "mysql://ser:heslo@127.0.0.1:%u/ser", port);
    struct db *db = open_db(url, &(struct db_opts){.retry_min_ms = 200, .retry_max_ms = 200});
    struct db_conn *c;
    struct db_stmt *s;
    struct db_stats st;
    assert_int_equal(db_conn_new(db, &c), 0);
    assert_int_equal(db_prepare(c, "SELECT 1", &s), 0); /* not connected: no error yet */

    struct capture cap;
    capture_begin(&cap);
    int first = db_exec(s, NULL, 0, NULL);
    db_get_stats(db, &st);
    uint64_t connects = st.connects;
    int later = 0;
    for (int i = 0; i < 1000; i++)
        later |= db_exec(s, NULL, 0, NULL) != EAGAIN;
    db_get_stats(db, &st);
    char *log = capture_end(&cap);

    assert_int_equal(first, EAGAIN);
    assert_int_equal(later, 0);
    assert_int_equal(connects, 1);
    assert_int_equal(st.connects, 1); /* 1000 calls inside the backoff: no attempt */
    assert_int_equal(st.connect_failures, 1);
    assert_false(db_is_up(db));
    assert_int_equal(count_substr(log, "unreachable"), 1);
    assert_non_null(strstr(log, "mysql://ser:***@127.0.0.1"));
    assert_null(strstr(log, "heslo"));
    free(log);

    /* After the period, one more attempt. */
    sleep_ms(250);
    assert_int_equal(db_exec(s, NULL, 0, NULL), EAGAIN);
    db_get_stats(db, &st);
    assert_int_equal(st.connects, 2);
    db_conn_free(c);
    db_close(db);
}

static void kill_connection(long long id)
{
    char sql[64];
    snprintf(sql, sizeof(sql), "KILL %lld", id);
    assert_int_equal(db_script("sql", sql), 0);
}

/* The server closes a connection (wait_timeout, KILL, restart): the next
 * statement reconnects and runs, and nobody hears of it. In a transaction
 * it is EAGAIN until the caller rolls back. */
static void test_killed_connection(void **state)
{
    (void)state;
    struct db *db = open_db(srv.url_sock, NULL);
    struct db_conn *c;
    assert_int_equal(db_conn_new(db, &c), 0);
    exec_sql(c, "DROP TABLE IF EXISTS t_kill");
    exec_sql(c, "CREATE TABLE t_kill (n INT PRIMARY KEY)");
    struct db_stmt *ins;
    assert_int_equal(db_prepare(c, "INSERT INTO t_kill VALUES (?)", &ins), 0);

    struct capture cap;
    capture_begin(&cap);
    long long id = query_int(c, "SELECT CONNECTION_ID()", NULL, 0);
    kill_connection(id);
    struct db_val one = DB_VAL_INT(1);
    int blip = db_exec(ins, &one, 1, NULL);
    long long id2 = query_int(c, "SELECT CONNECTION_ID()", NULL, 0);

    assert_int_equal(db_begin(c), 0);
    struct db_val two = DB_VAL_INT(2), three = DB_VAL_INT(3);
    int in_txn1 = db_exec(ins, &two, 1, NULL);
    kill_connection(id2);
    int in_txn2 = db_exec(ins, &three, 1, NULL);
    int in_txn3 = db_exec(ins, &three, 1, NULL);
    int commit = db_commit(c);
    int after = db_exec(ins, &three, 1, NULL);
    char *log = capture_end(&cap);

    assert_int_equal(blip, 0);
    assert_true(id2 != id && id2 > 0);
    assert_int_equal(in_txn1, 0);
    assert_int_equal(in_txn2, EAGAIN);
    assert_int_equal(in_txn3, EAGAIN); /* until the transaction ends */
    assert_int_equal(commit, EAGAIN);
    assert_int_equal(after, 0);
    assert_int_equal(query_int(c, "SELECT COUNT(*) FROM t_kill", NULL, 0), 2); /* 1 and 3 */
    assert_int_equal(count_substr(log, "unreachable"), 0);
    assert_true(db_is_up(db));
    free(log);

    /* db_rollback after a loss is 0 and ends the transaction. */
    assert_int_equal(db_begin(c), 0);
    kill_connection(query_int(c, "SELECT CONNECTION_ID()", NULL, 0));
    assert_int_equal(db_exec(ins, &two, 1, NULL), EAGAIN);
    assert_int_equal(db_rollback(c), 0);
    assert_int_equal(db_exec(ins, &two, 1, NULL), 0);
    exec_sql(c, "DROP TABLE t_kill");
    db_conn_free(c);
    db_close(db);
}

/* ---- the schema ------------------------------------------------------------------------ */

struct text {
    char *p;
    size_t len, cap;
};

static void text_add(struct text *t, const char *p, size_t len)
{
    if (t->len + len + 1 > t->cap) {
        t->cap = (t->len + len + 1) * 2;
        t->p = realloc(t->p, t->cap);
        assert_non_null(t->p);
    }
    memcpy(t->p + t->len, p, len);
    t->len += len;
    t->p[t->len] = '\0';
}

static int row_to_text(void *arg, const struct db_val *cols, unsigned n)
{
    struct text *t = arg;
    char buf[64];
    for (unsigned i = 0; i < n; i++) {
        if (i)
            text_add(t, "|", 1);
        switch (cols[i].type) {
        case DB_NULL:
            text_add(t, "NULL", 4);
            break;
        case DB_INT:
            text_add(t, buf, (size_t)snprintf(buf, sizeof(buf), "%lld", cols[i].i));
            break;
        case DB_STRING:
            text_add(t, cols[i].s.p, cols[i].s.len);
            break;
        default:
            text_add(t, "?", 1);
            break;
        }
    }
    text_add(t, "\n", 1);
    return 0;
}

static char *schema_of(struct db_conn *c, const char *schema)
{
    static const char *const queries[] = {
        "SELECT table_name, ordinal_position, column_name, column_type, is_nullable, "
        "column_default, extra, character_set_name FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name IN ('version', 'subscriber', 'location', "
        "'aliases') ORDER BY table_name, ordinal_position",
        "SELECT table_name, index_name, non_unique, seq_in_index, column_name, sub_part "
        "FROM information_schema.statistics WHERE table_schema = ? AND table_name IN "
        "('version', 'subscriber', 'location', 'aliases') "
        "ORDER BY table_name, index_name, seq_in_index",
        "SELECT table_name, engine FROM information_schema.tables WHERE table_schema = ? "
        "AND table_name IN ('version', 'subscriber', 'location', 'aliases') ORDER BY table_name",
    };
    struct text t = {0};
    struct db_val key = DB_VAL_STR(slice_from_str(schema));
    for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
        struct db_stmt *s;
        assert_int_equal(db_prepare(c, queries[i], &s), 0);
        assert_int_equal(db_query(s, &key, 1, row_to_text, &t), 0);
    }
    /* The layout versions Kamailio checks at startup. */
    char sql[256];
    struct db_stmt *s;
    snprintf(sql, sizeof(sql),
             "SELECT table_name, table_version FROM %s.version WHERE table_name IN "
             "('version', 'subscriber', 'location', 'aliases') ORDER BY table_name",
             schema);
    assert_int_equal(db_prepare(c, sql, &s), 0);
    assert_int_equal(db_query(s, NULL, 0, row_to_text, &t), 0);
    return t.p;
}

static void test_schema_matches_kamailio(void **state)
{
    (void)state;
    if (access("/usr/share/kamailio/mysql/usrloc-create.sql", R_OK) != 0) {
        fprintf(stderr, "db_test: Kamailio's SQL files are not installed "
                        "(apt-get install kamailio-mysql-modules)\n");
        fail();
    }
    assert_int_equal(db_script("load-kamailio", NULL), 0);
    struct db *db = open_db(srv.url_root, NULL);
    struct db_conn *c;
    assert_int_equal(db_conn_new(db, &c), 0);
    char *ours = schema_of(c, "ser");
    char *theirs = schema_of(c, "kamailio");
    assert_true(strlen(ours) > 1000);
    if (strcmp(ours, theirs) != 0)
        fail_msg("sql/kamailio-compat.sql differs from Kamailio's schema:\n--- ser\n%s\n"
                 "--- kamailio\n%s",
                 ours, theirs);
    free(ours);
    free(theirs);
    db_conn_free(c);
    db_close(db);
}

/* The version rows, as Kamailio checks them at start. */
static void test_table_versions(void **state)
{
    (void)state;
    struct db *db = open_db(srv.url_sock, NULL);
    struct db_conn *c;
    char why[256];
    unsigned v = 0;
    assert_int_equal(db_conn_new(db, &c), 0);
    assert_int_equal(db_table_version(c, "location", &v), 0);
    assert_int_equal(v, 9);
    assert_int_equal(db_table_version(c, "subscriber", &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(db_table_version(c, "no_such_table", &v), ENOENT);
    static const unsigned nine[] = {9}, eight_or_nine[] = {8, 9}, seven[] = {7};
    assert_int_equal(db_check_version(c, "location", nine, 1, why, sizeof(why)), 0);
    assert_int_equal(db_check_version(c, "aliases", eight_or_nine, 2, why, sizeof(why)), 0);
    assert_int_equal(db_check_version(c, "location", seven, 1, why, sizeof(why)), EINVAL);
    assert_string_equal(why, "table location has layout version 9 in the version table; sipd "
                             "reads version 7 (Kamailio 5.x's layout, sql/kamailio-compat.sql)");
    assert_int_equal(db_check_version(c, "nothing", seven, 1, why, sizeof(why)), EINVAL);
    assert_non_null(strstr(why, "table nothing has no row in the version table"));
    db_conn_free(c);
    db_close(db);
}

/* ---- an outage ------------------------------------------------------------------------- */

static void test_outage(void **state)
{
    (void)state;
    struct db *db = open_db(srv.url_sock, &(struct db_opts){.retry_min_ms = 100,
                                                             .retry_max_ms = 400});
    struct db_conn *c1, *c2;
    struct db_stmt *s1, *s2;
    struct db_stats before, during;
    struct db_val p = DB_VAL_INT(5);
    assert_int_equal(db_conn_new(db, &c1), 0);
    assert_int_equal(db_conn_new(db, &c2), 0);
    assert_int_equal(db_prepare(c1, "SELECT CAST(? AS SIGNED) + 1", &s1), 0);
    assert_int_equal(db_prepare(c2, "SELECT CAST(? AS SIGNED) + 2", &s2), 0);
    long long v = 0;
    assert_int_equal(db_query(s1, &p, 1, one_int_row, &v), 0);
    assert_int_equal(v, 6);
    assert_int_equal(db_query(s2, &p, 1, one_int_row, &v), 0);
    assert_int_equal(v, 7);
    db_get_stats(db, &before);

    struct capture cap;
    capture_begin(&cap);
    int stop = server_stop();

    /* Both connections notice; each call returns at once. */
    double t0 = now_s(), worst = 0;
    int r1 = db_query(s1, &p, 1, one_int_row, &v);
    int r2 = db_query(s2, &p, 1, one_int_row, &v);
    double first_calls = now_s() - t0;
    unsigned calls = 0, not_eagain = 0;
    while (now_s() - t0 < 1.0) {
        double c0 = now_s();
        not_eagain += db_query(calls % 2 ? s1 : s2, &p, 1, one_int_row, &v) != EAGAIN;
        double d = now_s() - c0;
        if (d > worst)
            worst = d;
        calls++;
    }
    db_get_stats(db, &during);
    bool up_during = db_is_up(db);

    int start = server_start();
    /* Back: the same connections and statements work again. */
    double t1 = now_s();
    int r = EAGAIN;
    while (r == EAGAIN && now_s() - t1 < 15) {
        r = db_query(s1, &p, 1, one_int_row, &v);
        if (r == EAGAIN)
            sleep_ms(20);
    }
    double recovery = now_s() - t1;
    long long v1 = v;
    int r_c2 = db_query(s2, &p, 1, one_int_row, &v);
    long long v2 = v;
    bool up_after = db_is_up(db);
    char *log = capture_end(&cap);

    fprintf(stderr,
            "db_test: outage: first calls %.3f s, %u calls in 1 s (slowest %.4f s), "
            "%llu connection attempts, back %.2f s after the restart\n",
            first_calls, calls, worst,
            (unsigned long long)(during.connects - before.connects), recovery);
    assert_int_equal(stop, 0);
    assert_int_equal(start, 0);
    assert_int_equal(r1, EAGAIN);
    assert_int_equal(r2, EAGAIN);
    assert_true(first_calls < 0.5);
    assert_int_equal(not_eagain, 0);
    assert_true(calls > 1000);
    assert_true(worst < 0.25);
    /* 100, 200, 400, 400 ms: a handful of attempts in a second, not thousands. */
    assert_true(during.connects - before.connects <= 8);
    assert_false(up_during);
    assert_int_equal(r, 0);
    assert_int_equal(v1, 6);
    assert_int_equal(r_c2, 0);
    assert_int_equal(v2, 7);
    assert_true(up_after);
    assert_int_equal(count_substr(log, "unreachable"), 1);
    assert_int_equal(count_substr(log, "reachable again"), 1);
    assert_null(strstr(log, "heslo"));
    struct db_stats after;
    db_get_stats(db, &after);
    assert_int_equal(after.outages - before.outages, 1);
    free(log);
    db_conn_free(c1);
    db_conn_free(c2);
    db_close(db);
}

/* ---- the job queue --------------------------------------------------------------------- */

#define PRODUCERS 4
#define JOBS_PER_PRODUCER 2500

struct test_job {
    struct db_job job;
    unsigned producer;
    unsigned seq;
    atomic_uint runs;
    atomic_uint done;
    atomic_int result;
    struct jobs *owner;
};

struct jobs {
    struct test_job *all;
    unsigned n;
    struct db_jobq *q;
    const char *table;
    /* per producer: the sequence numbers in the order they ran successfully;
     * each producer's jobs run on one thread, so each list has one writer */
    unsigned *ran[PRODUCERS];
    unsigned ran_n[PRODUCERS];
    /* per producer: attempts in order; a retry repeats, nothing overtakes */
    unsigned *tried[PRODUCERS];
    unsigned tried_n[PRODUCERS];
    unsigned sleep_us; /* per job, to make a backlog */
    atomic_uint done_n;
};

static int job_run(struct db_conn *c, struct db_job *job)
{
    struct test_job *j = caa_container_of(job, struct test_job, job);
    struct jobs *js = j->owner;
    struct db_stmt *s;
    char sql[128];

    atomic_fetch_add(&j->runs, 1);
    if (js->tried_n[j->producer] < 4 * JOBS_PER_PRODUCER)
        js->tried[j->producer][js->tried_n[j->producer]++] = j->seq;
    if (js->sleep_us)
        usleep(js->sleep_us);
    snprintf(sql, sizeof(sql), "INSERT INTO %s (producer, seq) VALUES (?, ?)", js->table);
    int ret = db_prepare(c, sql, &s);
    if (ret)
        return ret;
    struct db_val p[] = {DB_VAL_INT(j->producer), DB_VAL_INT(j->seq)};
    ret = db_exec(s, p, 2, NULL);
    if (ret == 0)
        js->ran[j->producer][js->ran_n[j->producer]++] = j->seq;
    return ret;
}

static void job_done(struct db_job *job, int result)
{
    struct test_job *j = caa_container_of(job, struct test_job, job);
    atomic_store(&j->result, result);
    atomic_fetch_add(&j->done, 1);
    atomic_fetch_add(&j->owner->done_n, 1);
}

static void jobs_init(struct jobs *js, unsigned per_producer, const char *table)
{
    memset(js, 0, sizeof(*js));
    js->n = PRODUCERS * per_producer;
    js->table = table;
    js->all = calloc(js->n, sizeof(*js->all));
    assert_non_null(js->all);
    for (unsigned p = 0; p < PRODUCERS; p++) {
        js->ran[p] = calloc(per_producer, sizeof(unsigned));
        js->tried[p] = calloc(4 * JOBS_PER_PRODUCER, sizeof(unsigned));
        assert_non_null(js->ran[p]);
        assert_non_null(js->tried[p]);
    }
    for (unsigned i = 0; i < js->n; i++) {
        struct test_job *j = &js->all[i];
        j->producer = i / per_producer;
        j->seq = i % per_producer;
        j->owner = js;
        j->job.run = job_run;
        j->job.done = job_done;
        j->job.key = j->producer;
        atomic_init(&j->runs, 0);
        atomic_init(&j->done, 0);
        atomic_init(&j->result, -1);
    }
    atomic_init(&js->done_n, 0);
}

static void jobs_free(struct jobs *js)
{
    for (unsigned p = 0; p < PRODUCERS; p++) {
        free(js->ran[p]);
        free(js->tried[p]);
    }
    free(js->all);
}

struct producer {
    struct jobs *js;
    unsigned index;
    unsigned per_producer;
    unsigned pushed;
    int refused; /* the first non-zero push result */
    bool until_refused;
};

static void *producer_main(void *arg)
{
    struct producer *pr = arg;
    for (unsigned i = 0; i < pr->per_producer; i++) {
        struct test_job *j = &pr->js->all[pr->index * pr->per_producer + i];
        int ret = db_jobq_push(pr->js->q, &j->job);
        if (ret) {
            pr->refused = ret;
            break;
        }
        pr->pushed++;
    }
    return NULL;
}

static void run_producers(struct jobs *js, unsigned per_producer, struct producer pr[PRODUCERS])
{
    pthread_t t[PRODUCERS];
    for (unsigned p = 0; p < PRODUCERS; p++) {
        pr[p] = (struct producer){.js = js, .index = p, .per_producer = per_producer};
        assert_int_equal(pthread_create(&t[p], NULL, producer_main, &pr[p]), 0);
    }
    for (unsigned p = 0; p < PRODUCERS; p++)
        pthread_join(t[p], NULL);
}

static void make_job_table(struct db *db, const char *table)
{
    struct db_conn *c;
    char sql[160];
    assert_int_equal(db_conn_new(db, &c), 0);
    snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s", table);
    exec_sql(c, sql);
    snprintf(sql, sizeof(sql),
             "CREATE TABLE %s (id INT AUTO_INCREMENT PRIMARY KEY, producer INT, seq INT, "
             "UNIQUE KEY (producer, seq))",
             table);
    exec_sql(c, sql);
    db_conn_free(c);
}

static long long count_rows(struct db *db, const char *sql)
{
    struct db_conn *c;
    assert_int_equal(db_conn_new(db, &c), 0);
    long long n = query_int(c, sql, NULL, 0);
    db_conn_free(c);
    return n;
}

static bool wait_pending_zero(struct db_jobq *q, double seconds)
{
    double t0 = now_s();
    while (db_jobq_pending(q) != 0) {
        if (now_s() - t0 > seconds)
            return false;
        sleep_ms(5);
    }
    return true;
}

static void test_jobq_order(void **state)
{
    (void)state;
    struct db *db = open_db(srv.url_sock, NULL);
    struct jobs js;
    struct producer pr[PRODUCERS];
    make_job_table(db, "t_jobs");
    jobs_init(&js, JOBS_PER_PRODUCER, "t_jobs");
    assert_int_equal(db_jobq_start(&js.q, db, 3), 0);

    double t0 = now_s();
    run_producers(&js, JOBS_PER_PRODUCER, pr);
    assert_true(wait_pending_zero(js.q, 60));
    double took = now_s() - t0;
    db_jobq_stop(js.q, 1000);
    db_jobq_free(js.q);
    fprintf(stderr, "db_test: %u jobs from %d producers on 3 threads in %.2f s\n", js.n,
            PRODUCERS, took);

    for (unsigned p = 0; p < PRODUCERS; p++) {
        assert_int_equal(pr[p].pushed, JOBS_PER_PRODUCER);
        assert_int_equal(js.ran_n[p], JOBS_PER_PRODUCER);
        for (unsigned i = 0; i < JOBS_PER_PRODUCER; i++)
            if (js.ran[p][i] != i)
                fail_msg("producer %u: job %u ran as number %u", p, js.ran[p][i], i);
    }
    for (unsigned i = 0; i < js.n; i++) {
        assert_int_equal(atomic_load(&js.all[i].runs), 1);
        assert_int_equal(atomic_load(&js.all[i].done), 1);
        assert_int_equal(atomic_load(&js.all[i].result), 0);
    }
    assert_int_equal(count_rows(db, "SELECT COUNT(*) FROM t_jobs"), js.n);
    jobs_free(&js);
    db_close(db);
}

/* Jobs pushed while the database is down wait, in order, and land once it is back. */
static void test_jobq_outage(void **state)
{
    (void)state;
    enum { PER = 50 };
    struct db *db = open_db(srv.url_sock, &(struct db_opts){.retry_min_ms = 50,
                                                             .retry_max_ms = 200});
    struct jobs js;
    struct producer pr[PRODUCERS];
    make_job_table(db, "t_jobs_outage");
    jobs_init(&js, PER, "t_jobs_outage");
    assert_int_equal(db_jobq_start(&js.q, db, 2), 0);

    struct capture cap;
    capture_begin(&cap);
    int stop = server_stop();
    run_producers(&js, PER, pr);
    sleep_ms(600);
    uint64_t pending_down = db_jobq_pending(js.q);
    unsigned done_down = atomic_load(&js.done_n);
    int start = server_start();
    bool drained = wait_pending_zero(js.q, 20);
    db_jobq_stop(js.q, 1000);
    db_jobq_free(js.q);
    char *log = capture_end(&cap);

    assert_int_equal(stop, 0);
    assert_int_equal(start, 0);
    assert_int_equal(pending_down, js.n);
    assert_int_equal(done_down, 0);
    assert_true(drained);
    unsigned tried = 0;
    for (unsigned p = 0; p < PRODUCERS; p++) {
        assert_int_equal(js.ran_n[p], PER);
        for (unsigned i = 0; i < PER; i++)
            assert_int_equal(js.ran[p][i], i);
        /* Attempts: the head job repeats, later ones wait for it. */
        for (unsigned i = 1; i < js.tried_n[p]; i++)
            if (js.tried[p][i] < js.tried[p][i - 1])
                fail_msg("producer %u: job %u tried after job %u", p, js.tried[p][i],
                         js.tried[p][i - 1]);
        tried += js.tried_n[p];
    }
    assert_true(tried > js.n); /* there were retries */
    for (unsigned i = 0; i < js.n; i++) {
        assert_int_equal(atomic_load(&js.all[i].done), 1);
        assert_int_equal(atomic_load(&js.all[i].result), 0);
    }
    assert_int_equal(count_rows(db, "SELECT COUNT(*) FROM t_jobs_outage"), js.n);
    assert_int_equal(count_substr(log, "unreachable"), 1);
    assert_int_equal(count_substr(log, "reachable again"), 1);
    free(log);
    jobs_free(&js);
    db_close(db);
}

struct stopper {
    struct db_jobq *q;
    unsigned grace_ms;
    double took;
};

static void *stopper_main(void *arg)
{
    struct stopper *st = arg;
    double t0 = now_s();
    db_jobq_stop(st->q, st->grace_ms);
    st->took = now_s() - t0;
    return NULL;
}

/* Stopping: pushes racing the stop either fail or run; nothing is lost. */
static void test_jobq_stop_up(void **state)
{
    (void)state;
    enum { PER = 2000 };
    struct db *db = open_db(srv.url_sock, NULL);
    struct jobs js;
    make_job_table(db, "t_jobs_stop");
    jobs_init(&js, PER, "t_jobs_stop");
    js.sleep_us = 200; /* one thread, a backlog of ~0.2 s per 1000 jobs */
    assert_int_equal(db_jobq_start(&js.q, db, 1), 0);

    /* Producer 0 pushes half its jobs, then the stop and the rest race. */
    struct producer head = {.js = &js, .index = 0, .per_producer = PER / 2};
    producer_main(&head);
    assert_int_equal(head.pushed, PER / 2);
    struct stopper st = {.q = js.q, .grace_ms = 2000};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, stopper_main, &st), 0);
    unsigned accepted = PER / 2;
    int refused = 0;
    for (unsigned i = PER / 2; i < PER; i++) {
        refused = db_jobq_push(js.q, &js.all[i].job);
        if (refused)
            break;
        accepted++;
        usleep(100); /* slower than the stop, which comes within microseconds */
    }
    pthread_join(t, NULL);
    /* Stopped, not freed: pushing is still safe, and refused. */
    assert_int_equal(db_jobq_push(js.q, &js.all[PER - 1].job), ESHUTDOWN);
    db_jobq_stop(js.q, 0); /* a second stop does nothing */
    db_jobq_free(js.q);

    assert_int_equal(refused, ESHUTDOWN);
    for (unsigned i = 0; i < PER; i++) {
        struct test_job *j = &js.all[i];
        if (i < accepted) {
            assert_int_equal(atomic_load(&j->done), 1);
            assert_int_equal(atomic_load(&j->result), 0);
            assert_int_equal(atomic_load(&j->runs), 1);
        } else {
            assert_int_equal(atomic_load(&j->done), 0);
            assert_int_equal(atomic_load(&j->runs), 0);
        }
    }
    assert_int_equal(count_rows(db, "SELECT COUNT(*) FROM t_jobs_stop"), accepted);
    fprintf(stderr, "db_test: stop with %u jobs accepted took %.2f s\n", accepted, st.took);
    jobs_free(&js);
    db_close(db);
}

/* Stopping while the database is away: the grace period bounds the wait;
 * every job is done with EAGAIN; only the head job of each thread ran. */
static void test_jobq_stop_down(void **state)
{
    (void)state;
    enum { PER = 25 };
    struct db *db = open_db(srv.url_sock, &(struct db_opts){.retry_min_ms = 50,
                                                             .retry_max_ms = 100});
    struct jobs js;
    struct producer pr[PRODUCERS];
    make_job_table(db, "t_jobs_down");
    jobs_init(&js, PER, "t_jobs_down");
    assert_int_equal(db_jobq_start(&js.q, db, 2), 0);

    struct capture cap;
    capture_begin(&cap);
    int stop = server_stop();
    run_producers(&js, PER, pr);
    sleep_ms(200);
    double t0 = now_s();
    db_jobq_stop(js.q, 300);
    double took = now_s() - t0;
    db_jobq_free(js.q);
    int start = server_start(); /* for whatever runs after */
    char *log = capture_end(&cap);
    free(log);

    assert_int_equal(stop, 0);
    assert_int_equal(start, 0);
    fprintf(stderr, "db_test: stop with the database away took %.2f s (grace 0.30)\n", took);
    assert_true(took >= 0.25 && took < 1.5);
    unsigned heads = 0;
    for (unsigned i = 0; i < js.n; i++) {
        struct test_job *j = &js.all[i];
        assert_int_equal(atomic_load(&j->done), 1);
        assert_int_equal(atomic_load(&j->result), EAGAIN);
        if (atomic_load(&j->runs) > 0)
            heads++;
    }
    assert_int_equal(heads, 2); /* one per thread: nothing overtook it */
    assert_int_equal(count_rows(db, "SELECT COUNT(*) FROM t_jobs_down"), 0);
    jobs_free(&js);
    db_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_good),
        cmocka_unit_test(test_url_bad),
        cmocka_unit_test(test_url_redact),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_long_values),
        cmocka_unit_test(test_schema_change_and_lock_wait),
        cmocka_unit_test(test_streaming),
        cmocka_unit_test(test_tcp),
        cmocka_unit_test(test_backoff_no_server),
        cmocka_unit_test(test_killed_connection),
        cmocka_unit_test(test_schema_matches_kamailio),
        cmocka_unit_test(test_table_versions),
        cmocka_unit_test(test_jobq_order),
        cmocka_unit_test(test_jobq_stop_up),
        cmocka_unit_test(test_outage),
        cmocka_unit_test(test_jobq_outage),
        cmocka_unit_test(test_jobq_stop_down),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
