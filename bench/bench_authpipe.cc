// bench_authpipe.cc: subscriber cache hits, and a REGISTER with credentials through the pipeline.
//
// Names:
//   BM_subcache_hit/users:N[/threads:2]
//       sub_cache_get() of a cached user drawn at random (a precomputed
//       sequence of 65,536 draws) from N cached users: the lookup
//       www_authorize does on every authenticated request. Wall-clock time
//       per lookup per thread; with 2 threads both read the same cache.
//   BM_authpipe/<step>/<alg>/<qop>/users:N
//       a REGISTER with correct digest credentials (alg MD5 or SHA-256,
//       qop auth or none) for one of N users in turn, through sipd's
//       modules and examples/registrar.json's routes (bench/shim_authpipe.h
//       says how the config differs: memory-only usrloc, no database). Steps:
//         parse      sip_msg_parse + sip_sanity, as a receiver does;
//         run        sip_ctx_init + route_run on a message parsed before
//                    the timing, as a worker does: 100 Trying, www_authorize
//                    (nonce check, cache hit, digest), check_to,
//                    consume_credentials, save (location table, 200 OK);
//         parse_run  both;
//         noop       nothing: what the batching below costs per message.
//   BM_authpipe/send2
//       two net_send() of the 200 OK's bytes through the same sockets: the
//       kernel's part of the pipeline's two replies.
// The pipeline's "Time" is wall-clock; its "CPU" is the whole process's CPU
// time (MeasureProcessCPUTime), so it includes the liburcu call_rcu thread
// that frees each replaced contact set, and excludes other processes that
// share the core.
//
// Every message must be fresh (a CSeq above the last, and for qop the next
// nc), so messages are prepared in batches of SHIMAP_BATCH with the timer
// paused. Every timed run checks that the route authenticated, consumed the
// credentials and sent a 200; after each benchmark the auth, auth_db and
// usrloc counters must have moved by exactly the iterations (no failure, no
// stale nonce, no challenge, no cache miss, no send error), and usrloc must
// hold the last REGISTER's CSeq; otherwise the benchmark reports an error
// and the program exits 1.
//
// bench_authpipe --profile=<step>/<alg>/<qop>/users:<n> [--profile-count=N]
// skips the harness and runs that step N times (default 1000000), with the
// same batches and checks, for perf record and callgrind.
// bench_authpipe --print-config prints the config the pipeline loads.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "shim_authpipe.h"

namespace
{

std::atomic<int> failures{0};

// ---------------------------------------------------------------- the cache

void bm_subcache_hit(benchmark::State &state, shimap_cache *c)
{
    shimap_thread_enter();
    size_t i = (size_t)state.thread_index() * (SHIMAP_SEQ_LEN / 2);
    for (auto _ : state) {
        int ret = shimap_cache_get(c, i++);
        benchmark::DoNotOptimize(ret);
        if (ret != 0) {
            state.SkipWithError("a cached user was not found");
            failures++;
            break;
        }
    }
    shimap_thread_leave();
    state.SetItemsProcessed(state.iterations());
}

// ---------------------------------------------------------------- the pipeline

enum class step { parse, run, parse_run, noop };

const char *step_name(step s)
{
    switch (s) {
    case step::parse:
        return "parse";
    case step::run:
        return "run";
    case step::parse_run:
        return "parse_run";
    case step::noop:
        return "noop";
    }
    return "?";
}

struct pipe_case {
    step s;
    shimap_alg alg;
    bool qop;
    unsigned users;
};

std::string case_name(const pipe_case &c)
{
    return std::string(step_name(c.s)) + "/" + (c.alg == SHIMAP_MD5 ? "MD5" : "SHA-256") + "/" +
           (c.qop ? "auth" : "none") + "/users:" + std::to_string(c.users);
}

int do_step(shimap_pipe *p, step s, unsigned i, const char **why)
{
    switch (s) {
    case step::parse:
        return shimap_pipe_parse(p, i, why);
    case step::run:
        return shimap_pipe_run(p, i, why);
    case step::parse_run:
        return shimap_pipe_parse_run(p, i, why);
    case step::noop:
        return 0;
    }
    return -1;
}

// What the counters must show after n messages of a step: every message
// authorized, one 100 and one 200 each, nothing else. Empty when they do.
std::string check_counts(const shimap_counts &a, const shimap_counts &b, uint64_t n, bool routed)
{
    uint64_t want = routed ? n : 0;
    char buf[512];
    if (b.authorized - a.authorized != want || b.routed - a.routed != want ||
        b.replies_100 - a.replies_100 != want || b.replies_200 - a.replies_200 != want ||
        b.cache_hits - a.cache_hits != want || b.failed != a.failed || b.stale != a.stale ||
        b.challenges != a.challenges || b.cache_misses != a.cache_misses ||
        b.replies_other != a.replies_other || b.send_errors != a.send_errors) {
        std::snprintf(buf, sizeof(buf),
                      "after %" PRIu64 " messages: authorized %" PRIu64 ", routed %" PRIu64
                      ", 100s %" PRIu64 ", 200s %" PRIu64 ", cache hits %" PRIu64
                      ", failed %" PRIu64 ", stale %" PRIu64 ", challenges %" PRIu64
                      ", cache misses %" PRIu64 ", other replies %" PRIu64 ", send errors %" PRIu64,
                      n, b.authorized - a.authorized, b.routed - a.routed,
                      b.replies_100 - a.replies_100, b.replies_200 - a.replies_200,
                      b.cache_hits - a.cache_hits, b.failed - a.failed, b.stale - a.stale,
                      b.challenges - a.challenges, b.cache_misses - a.cache_misses,
                      b.replies_other - a.replies_other, b.send_errors - a.send_errors);
        return buf;
    }
    return "";
}

void bm_authpipe(benchmark::State &state, shimap_pipe *p, pipe_case c)
{
    const char *why = nullptr;
    shimap_counts before, after;
    if (shimap_pipe_counts(p, &before, &why) != 0) {
        state.SkipWithError(why);
        failures++;
        return;
    }
    unsigned i = SHIMAP_BATCH;
    size_t bytes = 0;
    bool ok = true;
    for (auto _ : state) {
        if (i == SHIMAP_BATCH) {
            state.PauseTiming();
            int r = shimap_pipe_prepare(p, c.alg, c.qop, c.users, c.s == step::run, &why);
            bytes = shimap_pipe_msg_len(p, 0);
            state.ResumeTiming();
            if (r != 0) {
                ok = false;
                break;
            }
            i = 0;
        }
        int ret = do_step(p, c.s, i++, &why);
        benchmark::DoNotOptimize(ret);
        if (ret != 0) {
            ok = false;
            break;
        }
    }
    if (!ok) {
        state.SkipWithError(why ? why : "unexpected path");
        failures++;
        return;
    }
    bool routed = c.s == step::run || c.s == step::parse_run;
    std::string bad;
    if (shimap_pipe_counts(p, &after, &why) != 0)
        bad = why;
    else
        bad = check_counts(before, after, (uint64_t)state.iterations(), routed);
    if (bad.empty() && routed && shimap_pipe_check_saved(p, &why) != 0)
        bad = why;
    if (!bad.empty()) {
        state.SkipWithError(bad.c_str());
        failures++;
        return;
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["arena_spills"] = (double)(after.arena_spill - before.arena_spill);
    state.SetLabel(std::to_string(bytes) + " bytes");
}

void bm_send2(benchmark::State &state, shimap_pipe *p)
{
    for (auto _ : state) {
        int ret = shimap_pipe_send2(p);
        benchmark::DoNotOptimize(ret);
        if (ret != 0) {
            state.SkipWithError("net_send failed");
            failures++;
            break;
        }
    }
    state.SetItemsProcessed(state.iterations());
}

// Before anything is timed, every user of each case registers once (so that
// every timed save refreshes a binding rather than creating one), and each
// message must take the expected path; otherwise nothing is timed.
int warm_up(shimap_pipe *p, const pipe_case &c)
{
    const char *why = nullptr;
    for (unsigned n = 0; n < c.users;) {
        if (shimap_pipe_prepare(p, c.alg, c.qop, c.users, false, &why) != 0)
            goto fail;
        for (unsigned i = 0; i < SHIMAP_BATCH && n < c.users; i++, n++)
            if (shimap_pipe_parse_run(p, i, &why) != 0)
                goto fail;
    }
    if (shimap_pipe_check_saved(p, &why) == 0)
        return 0;
fail:
    std::fprintf(stderr, "bench_authpipe: %s: %s; nothing timed\n", case_name(c).c_str(),
                 why ? why : "?");
    return -1;
}

int profile(shimap_pipe *p, const std::vector<pipe_case> &cases, const std::string &what,
            long count)
{
    for (const pipe_case &c : cases) {
        std::string name = case_name(c);
        if (what != name)
            continue;
        if (warm_up(p, c) != 0)
            return 1;
        const char *why = nullptr;
        shimap_counts before, after;
        if (shimap_pipe_counts(p, &before, &why) != 0) {
            std::fprintf(stderr, "bench_authpipe: %s\n", why);
            return 1;
        }
        for (long n = 0; n < count;) {
            if (shimap_pipe_prepare(p, c.alg, c.qop, c.users, c.s == step::run, &why) != 0) {
                std::fprintf(stderr, "bench_authpipe: %s: %s\n", name.c_str(), why);
                return 1;
            }
            for (unsigned i = 0; i < SHIMAP_BATCH && n < count; i++, n++) {
                if (do_step(p, c.s, i, &why) != 0) {
                    std::fprintf(stderr, "bench_authpipe: %s failed: %s\n", name.c_str(),
                                 why ? why : "?");
                    return 1;
                }
            }
        }
        std::string bad;
        if (shimap_pipe_counts(p, &after, &why) != 0)
            bad = why;
        else
            bad = check_counts(before, after, (uint64_t)count,
                               c.s == step::run || c.s == step::parse_run);
        if (!bad.empty()) {
            std::fprintf(stderr, "bench_authpipe: %s: %s\n", name.c_str(), bad.c_str());
            return 1;
        }
        std::fprintf(stderr, "bench_authpipe: %s done %ld times\n", name.c_str(), count);
        return 0;
    }
    std::fprintf(stderr, "bench_authpipe: --profile wants <step>/<alg>/<qop>/users:<n>, "
                         "for example parse_run/MD5/none/users:1000\n");
    return 1;
}

} // namespace

int main(int argc, char **argv)
{
    char err[1024];
    shimap_thread_enter();
    shimap_pipe *p = nullptr;
    const unsigned pipe_users = 1000;
    if (shimap_pipe_new(&p, pipe_users, err, sizeof(err)) != 0) {
        std::fprintf(stderr, "bench_authpipe: %s\n", err);
        shimap_thread_leave();
        return 1;
    }
    int status = 0;
    std::vector<pipe_case> cases;
    for (unsigned users : {1u, pipe_users})
        for (shimap_alg alg : {SHIMAP_MD5, SHIMAP_SHA256})
            for (bool qop : {false, true})
                for (step s : {step::parse, step::run, step::parse_run, step::noop}) {
                    if (users == 1 && s != step::parse_run)
                        continue; // one user: only the whole path, for the contrast
                    if (s == step::noop && (alg != SHIMAP_MD5 || qop))
                        continue; // the batching costs the same whatever the message
                    cases.push_back({s, alg, qop, users});
                }
    std::vector<shimap_cache *> caches;
    for (int i = 1; i < argc; i++) {
        std::string arg = argv[i];
        if (arg == "--print-config") {
            std::fputs(shimap_pipe_config(p), stdout);
            goto out;
        }
    }
    for (int i = 1; i < argc; i++) {
        std::string arg = argv[i];
        if (arg.rfind("--profile=", 0) == 0) {
            long count = 1000000;
            for (int j = 1; j < argc; j++)
                if (std::string(argv[j]).rfind("--profile-count=", 0) == 0)
                    count = std::strtol(argv[j] + 16, nullptr, 10);
            status = profile(p, cases, arg.substr(10), count);
            goto out;
        }
    }
    for (const pipe_case &c : cases) {
        if (warm_up(p, c) != 0) {
            status = 1;
            goto out;
        }
    }
    for (unsigned users : {1000u, 100000u}) {
        shimap_cache *c = nullptr;
        if (shimap_cache_new(&c, users, err, sizeof(err)) != 0) {
            std::fprintf(stderr, "bench_authpipe: cache of %u users: %s\n", users, err);
            status = 1;
            goto out;
        }
        caches.push_back(c);
        std::string name = "BM_subcache_hit/users:" + std::to_string(users);
        benchmark::RegisterBenchmark(name.c_str(), bm_subcache_hit, c)
            ->Threads(1)
            ->Threads(2)
            ->UseRealTime();
    }
    for (const pipe_case &c : cases) {
        std::string name = "BM_authpipe/" + case_name(c);
        benchmark::RegisterBenchmark(name.c_str(), bm_authpipe, p, c)
            ->UseRealTime()
            ->MeasureProcessCPUTime();
    }
    benchmark::RegisterBenchmark("BM_authpipe/send2", bm_send2, p)
        ->UseRealTime()
        ->MeasureProcessCPUTime();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        status = 1;
        goto out;
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    if (failures.load() != 0) {
        std::fprintf(stderr, "bench_authpipe: %d benchmark(s) failed their checks\n",
                     failures.load());
        status = 1;
    }
out:
    for (shimap_cache *c : caches)
        shimap_cache_free(c);
    shimap_thread_leave();
    shimap_pipe_free(p);
    return status;
}
