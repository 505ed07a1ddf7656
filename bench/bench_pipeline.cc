// bench_pipeline.cc: ns per message through sipd's compiled route pipeline.
//
// Names, all on the bench REGISTER (bench/messages.h):
//   BM_pipeline/run        route_run alone, on a message parsed once before the loop
//                          (sip_ctx_init + route_run, as a worker does per message);
//   BM_pipeline/parse      sip_msg_parse + sip_sanity alone, as a receiver does;
//   BM_pipeline/parse_run  both: bytes to routing verdict.
// The config (bench/shim_pipeline.c) is the seed's sanity section and its
// method != REGISTER test, ending in "break" before any reply, so nothing
// timed touches a socket. Before anything is timed the message must parse,
// pass the sanity checks and take the expected path through the route
// (no reply, Max-Forwards decremented); otherwise the program exits 1, and
// every timed iteration checks the same.
//
// bench_pipeline --profile=<run|parse|parse_run>[:count] skips the harness and
// repeats that step count times (default 1000000), for perf record or
// valgrind --tool=callgrind: instructions per message = total / count.
// bench_pipeline --print-config prints the config and exits.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "messages.h"
#include "shim_pipeline.h"

namespace
{

enum class step { run, parse, parse_run };

const char *step_name(step s)
{
    switch (s) {
    case step::run:
        return "run";
    case step::parse:
        return "parse";
    case step::parse_run:
        return "parse_run";
    }
    return "?";
}

const bench_message *find_register()
{
    for (const bench_message &m : bench_messages)
        if (std::string(m.name) == "register")
            return &m;
    return nullptr;
}

int do_step(shimp *p, step s, const bench_message &m, const char **why)
{
    switch (s) {
    case step::run:
        return shimp_run(p, why);
    case step::parse:
        return shimp_parse(p, m.data, m.len, why);
    case step::parse_run:
        return shimp_parse_run(p, m.data, m.len, why);
    }
    return -1;
}

void bm_pipeline(benchmark::State &state, shimp *p, step s, const bench_message *m)
{
    const char *why = nullptr;

    // "run" times the route on the message parsed here, once.
    if (shimp_parse(p, m->data, m->len, &why) != 0) {
        state.SkipWithError(why ? why : "parse failed");
        return;
    }
    for (auto _ : state) {
        int ret = do_step(p, s, *m, &why);
        benchmark::DoNotOptimize(ret);
        if (ret != 0) {
            state.SkipWithError(why ? why : "unexpected path");
            break;
        }
    }
    state.SetItemsProcessed(state.iterations());
    state.SetLabel(std::to_string(m->len) + " bytes");
}

int profile(shimp *p, const bench_message &m, const std::string &spec)
{
    const step all[] = {step::run, step::parse, step::parse_run};
    std::string what = spec, count_text;
    size_t colon = spec.find(':');
    if (colon != std::string::npos) {
        what = spec.substr(0, colon);
        count_text = spec.substr(colon + 1);
    }
    long count = count_text.empty() ? 1000000 : std::strtol(count_text.c_str(), nullptr, 10);
    for (step s : all) {
        if (what != step_name(s))
            continue;
        const char *why = nullptr;
        if (shimp_parse(p, m.data, m.len, &why) != 0) {
            std::fprintf(stderr, "bench_pipeline: %s\n", why ? why : "parse failed");
            return 1;
        }
        for (long i = 0; i < count; i++) {
            if (do_step(p, s, m, &why) != 0) {
                std::fprintf(stderr, "bench_pipeline: %s failed: %s\n", what.c_str(),
                             why ? why : "?");
                return 1;
            }
        }
        std::fprintf(stderr, "bench_pipeline: %s done %ld times\n", what.c_str(), count);
        return 0;
    }
    std::fprintf(stderr, "bench_pipeline: --profile wants run|parse|parse_run[:count]\n");
    return 1;
}

} // namespace

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (std::string(argv[i]) == "--print-config") {
            std::fputs(shimp_config_text(), stdout);
            return 0;
        }
    }
    const bench_message *reg = find_register();
    if (!reg) {
        std::fprintf(stderr, "bench_pipeline: no register message in messages.h\n");
        return 1;
    }
    char err[1024];
    shimp *p = nullptr;
    if (shimp_open(&p, err, sizeof(err)) != 0) {
        std::fprintf(stderr, "bench_pipeline: %s\n", err);
        return 1;
    }
    const char *why = nullptr;
    if (shimp_parse_run(p, reg->data, reg->len, &why) != 0) {
        std::fprintf(stderr,
                     "bench_pipeline: the register message does not take the expected "
                     "path: %s; nothing timed\n",
                     why ? why : "?");
        shimp_close(p);
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        std::string arg = argv[i];
        if (arg.rfind("--profile=", 0) == 0) {
            int status = profile(p, *reg, arg.substr(10));
            shimp_close(p);
            return status;
        }
    }
    for (step s : {step::run, step::parse, step::parse_run}) {
        std::string name = std::string("BM_pipeline/") + step_name(s);
        benchmark::RegisterBenchmark(name.c_str(), bm_pipeline, p, s, reg);
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        shimp_close(p);
        return 1;
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    shimp_close(p);
    return 0;
}
