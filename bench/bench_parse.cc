// bench_parse.cc: times the sipd, sofia-sip and libosip2 parsers on the same messages.
//
// Names: BM_parse/<parser>/<message> (parser sipd, sofia or osip) for the
// full decode a proxy needs, BM_parse_keys/sipd/<message> for sipd's eager
// pass alone. Before anything is timed every parser must accept every
// message and the three must read the same values out of it; otherwise the
// program says which and exits 1. bench/parse-ratios turns the JSON output
// into the ratio table of docs/BENCHMARKS.md.
//
// bench_parse --profile=<parser>/<message>[:count] skips the harness and
// parses that message count times (default 100000), for perf record or
// valgrind --tool=callgrind: instructions per message = total / count.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "messages.h"
#include "shim.h"

namespace {

enum class parser { sipd, sofia, osip, sipd_keys };

const char *parser_name(parser p)
{
    switch (p) {
    case parser::sipd: return "sipd";
    case parser::sofia: return "sofia";
    case parser::osip: return "osip";
    case parser::sipd_keys: return "sipd";
    }
    return "?";
}

// ctx: sipd's parse context, one per thread (the benchmarks run on one thread).
int run(shim_sipd *ctx, parser p, const bench_message &m, shim_result *out, const char **why)
{
    switch (p) {
    case parser::sipd: return shim_sipd_parse_full(ctx, m.data, m.len, out, why);
    case parser::sofia: return shim_sofia_parse(m.data, m.len, out, why);
    case parser::osip: return shim_osip_parse(m.data, m.len, out, why);
    case parser::sipd_keys: return shim_sipd_parse_keys(ctx, m.data, m.len, out, why);
    }
    return -1;
}

void bm_parse(benchmark::State &state, shim_sipd *ctx, parser p, const bench_message *m)
{
    shim_result res;
    const char *why = nullptr;

    for (auto _ : state) {
        int ret = run(ctx, p, *m, &res, &why);
        benchmark::DoNotOptimize(ret);
        benchmark::DoNotOptimize(res);
        if (ret != 0) {
            state.SkipWithError(why ? why : "parse failed");
            break;
        }
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(m->len));
    state.SetLabel(std::to_string(m->len) + " bytes");
}

bool has_header(const bench_message &m, const char *line_start)
{
    return std::string(m.data, m.len).find(line_start) != std::string::npos;
}

// Values every message must yield whatever the parser: guards against three
// parsers agreeing on nothing.
bool plausible(const bench_message &m, const shim_result &r, const char **what)
{
    if (has_header(m, "\r\nAuthorization: Digest ") &&
        (r.auth_username_len == 0 || r.auth_realm_len == 0 || r.auth_nonce_len == 0 ||
         r.auth_uri_len == 0 || r.auth_response_len == 0))
        *what = "digest credentials not decoded";
    else if (has_header(m, "\r\nExpires: ") && r.expires < 0)
        *what = "Expires not decoded";
    else if (r.via_count == 0 || r.via_branch_len_sum == 0)
        *what = "no Via with a branch";
    else if (r.call_id_len == 0 || r.cseq_number == 0)
        *what = "no Call-ID or CSeq";
    else if (r.from_tag_len == 0 || r.from_host_len == 0 || r.to_host_len == 0)
        *what = "no From tag or From/To host";
    else if (r.contact_count == 0 || r.contact_host_len_sum == 0)
        *what = "no Contact";
    else if (m.data[0] != 'S' && (r.ruri_host_len == 0 || r.max_forwards < 0))
        *what = "no Request-URI host or Max-Forwards in a request";
    else if (m.data[0] == 'S' && r.status == 0)
        *what = "no status code in a response";
    else
        return true;
    return false;
}

// Every parser must accept every message and agree with sipd on every field.
bool check_all(shim_sipd *ctx)
{
    const parser full[] = {parser::sipd, parser::sofia, parser::osip};
    bool ok = true;

    for (const bench_message &m : bench_messages) {
        shim_result res[3];
        bool decoded = true;
        for (int i = 0; i < 3; i++) {
            const char *why = nullptr;
            if (run(ctx, full[i], m, &res[i], &why) != 0) {
                std::fprintf(stderr, "bench_parse: %s rejects the %s message: %s\n",
                             parser_name(full[i]), m.name, why ? why : "(no reason)");
                decoded = false;
                continue;
            }
            const char *what = nullptr;
            if (!plausible(m, res[i], &what)) {
                std::fprintf(stderr, "bench_parse: %s on the %s message: %s\n",
                             parser_name(full[i]), m.name, what);
                decoded = false;
            }
        }
        if (!decoded) {
            ok = false;
            continue;
        }
        for (int i = 1; i < 3; i++) {
            const char *what = nullptr;
            if (!shim_result_same(&res[0], &res[i], &what)) {
                std::fprintf(stderr, "bench_parse: sipd and %s disagree on %s of the %s message\n",
                             parser_name(full[i]), what, m.name);
                ok = false;
            }
        }
        // Whatever the keys-only pass gives must match the full pass.
        shim_result keys;
        const char *why = nullptr;
        if (run(ctx, parser::sipd_keys, m, &keys, &why) != 0 ||
            keys.call_id_len != res[0].call_id_len || keys.cseq_number != res[0].cseq_number ||
            keys.from_tag_len != res[0].from_tag_len) {
            std::fprintf(stderr, "bench_parse: sipd keys-only pass differs on the %s message\n",
                         m.name);
            ok = false;
        }
    }
    return ok;
}

// --profile=<parser>/<message>[:count]: the bare parse loop. Returns the
// exit status.
int profile(shim_sipd *ctx, const std::string &spec)
{
    const parser all[] = {parser::sipd, parser::sofia, parser::osip};
    std::string what = spec, count_text;
    size_t colon = spec.find(':');
    if (colon != std::string::npos) {
        what = spec.substr(0, colon);
        count_text = spec.substr(colon + 1);
    }
    long count = count_text.empty() ? 100000 : std::strtol(count_text.c_str(), nullptr, 10);
    for (parser p : all) {
        for (const bench_message &m : bench_messages) {
            if (what != std::string(parser_name(p)) + "/" + m.name)
                continue;
            shim_result res;
            const char *why = nullptr;
            for (long i = 0; i < count; i++) {
                if (run(ctx, p, m, &res, &why) != 0) {
                    std::fprintf(stderr, "bench_parse: %s failed\n", what.c_str());
                    return 1;
                }
                benchmark::DoNotOptimize(res);
            }
            std::fprintf(stderr, "bench_parse: parsed %s %ld times\n", what.c_str(), count);
            return 0;
        }
    }
    std::fprintf(stderr,
                 "bench_parse: --profile wants sipd|sofia|osip/register|invite|ok[:count]\n");
    return 1;
}

void register_all(shim_sipd *ctx)
{
    const parser full[] = {parser::sipd, parser::sofia, parser::osip};

    for (const bench_message &m : bench_messages) {
        for (parser p : full) {
            std::string name = std::string("BM_parse/") + parser_name(p) + "/" + m.name;
            benchmark::RegisterBenchmark(name.c_str(), bm_parse, ctx, p, &m);
        }
    }
    for (const bench_message &m : bench_messages) {
        std::string name = std::string("BM_parse_keys/sipd/") + m.name;
        benchmark::RegisterBenchmark(name.c_str(), bm_parse, ctx, parser::sipd_keys, &m);
    }
}

} // namespace

int main(int argc, char **argv)
{
    if (shim_osip_init() != 0) {
        std::fprintf(stderr, "bench_parse: libosip2 parser_init failed\n");
        return 1;
    }
    shim_sipd *ctx = shim_sipd_new();
    if (!ctx) {
        std::fprintf(stderr, "bench_parse: out of memory\n");
        return 1;
    }
    if (!check_all(ctx)) {
        std::fprintf(stderr, "bench_parse: the parsers do not all decode the messages; "
                             "nothing timed\n");
        shim_sipd_free(ctx);
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        std::string arg = argv[i];
        if (arg.rfind("--profile=", 0) == 0) {
            int status = profile(ctx, arg.substr(10));
            shim_sipd_free(ctx);
            return status;
        }
    }
    register_all(ctx);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        shim_sipd_free(ctx);
        return 1;
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    shim_sipd_free(ctx);
    return 0;
}
