/* main.c: sipbench's command line: register, options and reflect, their options, dispatch. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/digest.h"
#include "gen.h"
#include "reflect.h"
#include "report.h"
#include "users.h"

#define DEFAULT_DURATION     10.0   /* s, when neither --duration nor --count is given */
#define COUNT_ONLY_CAP       3600.0 /* s, the start window of a run bounded by --count alone */
#define DEFAULT_TIMEOUT      32.0   /* s: 64 * T1, RFC 3261 Timer F */
#define DEFAULT_CONCURRENCY  100
#define DEFAULT_MAX_INFLIGHT 50000
#define DEFAULT_BATCH        32
#define REFLECT_DURATION     3600.0

static const char usage_text[] =
    "usage: sipbench register --target HOST[:PORT] (--users A..B [--password TMPL] | --csv FILE)\n"
    "                         [load options] [--domain D] [--ruri URI] [--expires S]\n"
    "                         [--algorithm MD5|SHA-256] [--qop]\n"
    "       sipbench options  --target HOST[:PORT] [load options] [--domain D] [--ruri URI]\n"
    "       sipbench reflect  --listen ADDR:PORT [--threads N] [--duration S] [--realm R]\n"
    "                         [--algorithm LIST] [--qop] [--trying] [--batch N]\n"
    "\n"
    "register: each operation is REGISTER, 401/407, REGISTER with digest credentials, 2xx.\n"
    "options:  each operation is one OPTIONS answered by a 2xx.\n"
    "reflect:  answers REGISTER with 401 (no Authorization) or 200, OPTIONS with 200;\n"
    "          checks nothing; prints the bound port; stops on SIGINT/SIGTERM or --duration\n"
    "          (default 3600 s). --trying: a 100 Trying before each REGISTER's reply, as a\n"
    "          registrar whose route starts with sl_send_reply(\"100\", \"Trying\") sends.\n"
    "\n"
    "users (register):\n"
    "  --users A..B | TEXT{A..B}TEXT   numbered users: 1000..1999, u{1..200}, {0001..0200}\n"
    "  --password TMPL                  {user} is the name, {n} the number (default {user})\n"
    "  --csv FILE                       user;password lines (sipp -inf files work)\n"
    "  --domain D        From/To host (default: the target host)\n"
    "  --ruri URI        Request-URI and digest uri (default sip:D, with the target port\n"
    "                    when D is the target host)\n"
    "  --expires S       REGISTER Expires (default 3600)\n"
    "  --algorithm A     answer only challenges of algorithm A (default: the first offered\n"
    "                    among MD5 and SHA-256)\n"
    "  --qop             answer with qop=auth (cnonce, nc) when the challenge offers it\n"
    "load:\n"
    "  --rate R          open loop: R operations started per second, evenly spread\n"
    "  --burst B         open loop: each thread starts B operations at once, every B/R\n"
    "                    seconds (R its share of the rate); default 1: evenly spread\n"
    "  --concurrency C   closed loop: C operations in flight (default 100; at most one\n"
    "                    registration per user)\n"
    "  --duration S      start operations for S seconds (default 10 without --count)\n"
    "  --count N         start N operations in all (then stop, or at --duration)\n"
    "  --timeout S       a transaction gives up after S seconds (default 32: Timer F)\n"
    "  --threads N       generator threads (default 1)\n"
    "  --sockets N       UDP sockets per thread (default 1)\n"
    "  --batch N         datagrams per sendmmsg/recvmmsg (default 32, at most 256)\n"
    "  --max-inflight N  open loop: operations in flight at most (default 50000)\n"
    "  --local ADDR[:PORT]  source address (and first port: each socket takes the next)\n"
    "  --json            print the summary as one JSON object\n"
    "  --quiet           no progress line on stderr\n"
    "Requests are retransmitted over UDP as RFC 3261 says (500 ms doubling to 4 s).\n"
    "Every run stops by itself: starts end at --duration (--count alone: at most 3600 s),\n"
    "then what is in flight ends or times out.\n"
    "Exit status: 0 when every operation completed, 1 when any failed, timed out or was\n"
    "skipped, 2 on a usage error.\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("sipbench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n(sipbench --help for the options)\n", stderr);
    return 2;
}

static bool parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static bool parse_u32(const char *text, uint32_t min, uint32_t max, uint32_t *out)
{
    uint64_t v;
    if (!parse_u64(text, min, max, &v))
        return false;
    *out = (uint32_t)v;
    return true;
}

static bool parse_seconds(const char *text, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v) || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* Everything the command line gave, before it is checked against the subcommand. */
struct cli {
    const char *target, *local, *users, *password, *csv, *domain, *ruri, *algorithm;
    const char *listen, *realm;
    const char *rate, *concurrency, *duration, *count, *timeout, *threads, *sockets, *batch;
    const char *max_inflight, *expires, *burst;
    bool qop, json, quiet, trying;
};

/* The long options: a string value, or a flag (no value), and where it goes in struct cli. */
static const struct {
    const char *name;
    bool flag;
    size_t offset;
} cli_options[] = {
#define CLI_STR(name, field)                                                                       \
    {                                                                                              \
        name, false, offsetof(struct cli, field)                                                   \
    }
#define CLI_FLAG(name, field)                                                                      \
    {                                                                                              \
        name, true, offsetof(struct cli, field)                                                    \
    }
    CLI_STR("target", target),
    CLI_STR("local", local),
    CLI_STR("users", users),
    CLI_STR("password", password),
    CLI_STR("csv", csv),
    CLI_STR("domain", domain),
    CLI_STR("ruri", ruri),
    CLI_STR("expires", expires),
    CLI_STR("algorithm", algorithm),
    CLI_FLAG("qop", qop),
    CLI_FLAG("trying", trying),
    CLI_STR("rate", rate),
    CLI_STR("concurrency", concurrency),
    CLI_STR("duration", duration),
    CLI_STR("count", count),
    CLI_STR("timeout", timeout),
    CLI_STR("threads", threads),
    CLI_STR("sockets", sockets),
    CLI_STR("batch", batch),
    CLI_STR("max-inflight", max_inflight),
    CLI_STR("burst", burst),
    CLI_FLAG("json", json),
    CLI_FLAG("quiet", quiet),
    CLI_STR("listen", listen),
    CLI_STR("realm", realm),
#undef CLI_STR
#undef CLI_FLAG
};

#define CLI_OPTION_COUNT (sizeof(cli_options) / sizeof(cli_options[0]))

/* Reads argv[2..] into c. -1 to go on; 0 after --help; 2 after a usage error. */
static int read_cli(int argc, char **argv, struct cli *c)
{
    struct option long_options[CLI_OPTION_COUNT + 2];
    for (size_t i = 0; i < CLI_OPTION_COUNT; i++)
        long_options[i] = (struct option){
            cli_options[i].name, cli_options[i].flag ? no_argument : required_argument, NULL, 0};
    long_options[CLI_OPTION_COUNT] = (struct option){"help", no_argument, NULL, 'h'};
    long_options[CLI_OPTION_COUNT + 1] = (struct option){NULL, 0, NULL, 0};

    memset(c, 0, sizeof(*c));
    optind = 2; /* argv[1] is the subcommand */
    int opt, index;
    while ((opt = getopt_long(argc, argv, "h", long_options, &index)) != -1) {
        if (opt == 'h') {
            fputs(usage_text, stdout);
            return 0;
        }
        if (opt != 0 || index < 0 || (size_t)index >= CLI_OPTION_COUNT)
            return usage_error("bad option");
        char *field = (char *)c + cli_options[index].offset;
        if (cli_options[index].flag)
            *(bool *)field = true;
        else
            *(const char **)field = optarg;
    }
    if (optind != argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    return -1;
}

/* The options of register / options into cfg; 0, or 2 after a message. */
static int load_config(const struct cli *c, enum sb_mode mode, struct sb_config *cfg,
                       struct sb_users *users)
{
    char err[512];
    memset(cfg, 0, sizeof(*cfg));
    cfg->mode = mode;
    if (c->listen || c->realm)
        return usage_error("--listen and --realm are options of reflect");
    if (!c->target)
        return usage_error("--target HOST[:PORT] is required");
    if (sb_addr_parse(&cfg->target, c->target, 5060, err, sizeof(err)) != 0)
        return usage_error("--target %s", err);
    if (cfg->target.port == 0)
        return usage_error("--target %s: port 0", c->target);
    if (c->local) {
        if (sb_addr_parse(&cfg->local, c->local, 0, err, sizeof(err)) != 0)
            return usage_error("--local %s", err);
        if (cfg->local.ss.ss_family != cfg->target.ss.ss_family)
            return usage_error("--local and --target are of different address families");
        cfg->has_local = true;
    }
    cfg->domain = c->domain ? c->domain : cfg->target.host;
    cfg->ruri = c->ruri;
    if (c->ruri && strncmp(c->ruri, "sip:", 4) != 0 && strncmp(c->ruri, "sips:", 5) != 0)
        return usage_error("--ruri %s: a sip: or sips: URI expected", c->ruri);
    cfg->expires = 3600;
    if (c->expires && !parse_u32(c->expires, 0, UINT32_MAX, &cfg->expires))
        return usage_error("--expires %s: seconds expected", c->expires);
    cfg->algorithm = -1;
    if (c->algorithm) {
        enum auth_alg alg;
        if (auth_alg_parse(slice_from_str(c->algorithm), &alg) != 0)
            return usage_error("--algorithm %s: MD5 or SHA-256", c->algorithm);
        cfg->algorithm = (int)alg;
    }
    cfg->qop = c->qop;

    if (mode == SB_MODE_REGISTER) {
        if (!!c->users == !!c->csv)
            return usage_error("register needs one of --users or --csv");
        if (c->password && !c->users)
            return usage_error("--password goes with --users");
        int ret = c->users
                      ? sb_users_from_pattern(users, c->users, c->password ? c->password : "{user}",
                                              err, sizeof(err))
                      : sb_users_from_csv(users, c->csv, err, sizeof(err));
        if (ret)
            return usage_error("%s", err);
        cfg->users = users;
    } else if (c->users || c->csv || c->password || c->algorithm || c->qop || c->expires) {
        return usage_error("--users, --csv, --password, --algorithm, --qop and --expires are "
                           "options of register");
    }

    if (c->rate && c->concurrency)
        return usage_error("--rate (open loop) or --concurrency (closed loop), not both");
    if (c->rate && !parse_seconds(c->rate, 0.001, 1e8, &cfg->rate))
        return usage_error("--rate %s: operations per second expected (> 0)", c->rate);
    cfg->concurrency = DEFAULT_CONCURRENCY;
    if (c->concurrency && !parse_u32(c->concurrency, 1, 10000000, &cfg->concurrency))
        return usage_error("--concurrency %s: 1 to 10000000", c->concurrency);
    if (c->count && !parse_u64(c->count, 1, UINT64_MAX / 2, &cfg->count))
        return usage_error("--count %s: a positive number expected", c->count);
    cfg->duration = c->count ? COUNT_ONLY_CAP : DEFAULT_DURATION;
    if (c->duration && !parse_seconds(c->duration, 0.001, 86400, &cfg->duration))
        return usage_error("--duration %s: seconds expected (at most 86400)", c->duration);
    cfg->timeout = DEFAULT_TIMEOUT;
    if (c->timeout && !parse_seconds(c->timeout, 0.001, 3600, &cfg->timeout))
        return usage_error("--timeout %s: seconds expected (at most 3600)", c->timeout);
    cfg->threads = 1;
    if (c->threads && !parse_u32(c->threads, 1, SB_THREADS_MAX, &cfg->threads))
        return usage_error("--threads %s: 1 to %d", c->threads, SB_THREADS_MAX);
    cfg->sockets = 1;
    if (c->sockets && !parse_u32(c->sockets, 1, SB_SOCKETS_MAX, &cfg->sockets))
        return usage_error("--sockets %s: 1 to %d", c->sockets, SB_SOCKETS_MAX);
    cfg->batch = DEFAULT_BATCH;
    if (c->batch && !parse_u32(c->batch, 1, SB_BATCH_MAX, &cfg->batch))
        return usage_error("--batch %s: 1 to %d", c->batch, SB_BATCH_MAX);
    cfg->burst = 1;
    if (c->burst && (!c->rate || !parse_u32(c->burst, 1, 1000000, &cfg->burst)))
        return usage_error("--burst %s: 1 to 1000000, with --rate", c->burst);
    cfg->max_inflight = DEFAULT_MAX_INFLIGHT;
    if (c->max_inflight && !parse_u32(c->max_inflight, 1, 10000000, &cfg->max_inflight))
        return usage_error("--max-inflight %s: 1 to 10000000", c->max_inflight);
    if (cfg->rate > 0 && cfg->max_inflight < cfg->threads)
        return usage_error("--max-inflight %u: at least one per thread", cfg->max_inflight);
    if (cfg->rate == 0 && cfg->concurrency < cfg->threads)
        return usage_error("--concurrency %u with %u threads: at least one per thread",
                           cfg->concurrency, cfg->threads);
    if (mode == SB_MODE_REGISTER && users->n < cfg->threads)
        return usage_error("%zu users for %u threads: at least one per thread", users->n,
                           cfg->threads);
    if (cfg->count && cfg->count < cfg->threads)
        return usage_error("--count %s with %u threads: at least one per thread", c->count,
                           cfg->threads);
    cfg->quiet = c->quiet;
    return 0;
}

static int cmd_load(int argc, char **argv, enum sb_mode mode)
{
    struct cli c;
    struct sb_config cfg;
    struct sb_users users = {0};
    struct sb_result *res = NULL;
    int status = read_cli(argc, argv, &c);
    if (status >= 0)
        return status;
    status = load_config(&c, mode, &cfg, &users);
    if (status)
        goto out;
    res = malloc(sizeof(*res)); /* two histograms: too big for the stack of some tools */
    if (!res) {
        fputs("sipbench: out of memory\n", stderr);
        status = 1;
        goto out;
    }
    if (sb_run(&cfg, res) != 0) {
        status = 1;
        goto out;
    }
    if (c.json)
        sb_report_json(stdout, &cfg, res);
    else
        sb_report_text(stdout, &cfg, res);
    fflush(stdout);
    status = sb_report_status(res);
out:
    free(res);
    sb_users_free(&users);
    return status;
}

static int cmd_reflect(int argc, char **argv)
{
    struct cli c;
    struct sb_reflect_config cfg = {0};
    char err[512];
    int status = read_cli(argc, argv, &c);
    if (status >= 0)
        return status;
    if (c.target || c.local || c.users || c.csv || c.password || c.domain || c.ruri || c.rate ||
        c.concurrency || c.count || c.timeout || c.sockets || c.max_inflight || c.json || c.quiet ||
        c.burst || c.expires)
        return usage_error("reflect takes --listen, --threads, --duration, --realm, "
                           "--algorithm, --qop, --trying and --batch");
    if (!c.listen)
        return usage_error("--listen ADDR:PORT is required (port 0: any free one)");
    if (sb_addr_parse(&cfg.listen, c.listen, 5060, err, sizeof(err)) != 0)
        return usage_error("--listen %s", err);
    cfg.threads = 1;
    if (c.threads && !parse_u32(c.threads, 1, SB_THREADS_MAX, &cfg.threads))
        return usage_error("--threads %s: 1 to %d", c.threads, SB_THREADS_MAX);
    cfg.batch = DEFAULT_BATCH;
    if (c.batch && !parse_u32(c.batch, 1, SB_BATCH_MAX, &cfg.batch))
        return usage_error("--batch %s: 1 to %d", c.batch, SB_BATCH_MAX);
    cfg.duration = REFLECT_DURATION;
    if (c.duration && !parse_seconds(c.duration, 0.001, 86400, &cfg.duration))
        return usage_error("--duration %s: seconds expected (at most 86400)", c.duration);
    cfg.realm = c.realm ? c.realm : "sipbench";
    if (strpbrk(cfg.realm, "\"\\\r\n"))
        return usage_error("--realm: no quotes, backslashes or line breaks");
    cfg.algorithms = c.algorithm ? c.algorithm : "MD5";
    for (const char *p = cfg.algorithms; *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        enum auth_alg alg;
        if (n == 0 || auth_alg_parse(slice_make(p, n), &alg) != 0)
            return usage_error("--algorithm %s: MD5, SHA-256 or a comma-separated list",
                               cfg.algorithms);
        p += n + (comma != NULL);
    }
    cfg.qop = c.qop;
    cfg.trying = c.trying;
    return sb_reflect(&cfg);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage_error("a subcommand is required: register, options or reflect");
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (strcmp(cmd, "register") == 0)
        return cmd_load(argc, argv, SB_MODE_REGISTER);
    if (strcmp(cmd, "options") == 0)
        return cmd_load(argc, argv, SB_MODE_OPTIONS);
    if (strcmp(cmd, "reflect") == 0)
        return cmd_reflect(argc, argv);
    return usage_error("unknown subcommand '%s': register, options or reflect", cmd);
}
