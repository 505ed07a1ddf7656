// bench_loc.cc: the location table (src/loc): lookups, saves and memory per contact.
//
// Names (bench/shim_loc.h describes the table, the contacts and the orders):
//   BM_memory/aors:N        fills a fresh table with N AORs of one contact
//                           each (timed: the fill, inserts/s) and reports the
//                           memory it took per contact: rss_B (resident set,
//                           /proc/self/statm) and heap_B (malloc's bytes in
//                           use, mallinfo2), next to str_B, the contact's
//                           strings alone. Run it in a process of its own:
//                           memory freed by earlier benchmarks would be
//                           reused and hide the RSS growth.
//   BM_lookup/aors:N        loc_get of a random existing AOR inside
//                           urcu_memb_read_lock/unlock, reading the first
//                           contact's URI; the AOR comes from a precomputed
//                           random order of the same length at every N.
//   BM_lookup_hot/aors:N    the same on the N-AOR table, but only among a
//                           fixed random 1,024 of its AORs: their records
//                           and sets stay in cache, so what is left is the
//                           hash-chain walk (the table's size without the
//                           cache misses). Near BM_lookup/aors:1000 when the
//                           hash table has grown with its AORs; microseconds
//                           when it has not (docs/BENCHMARKS.md, "Location
//                           service": liburcu 0.13.2 can leave it unresized).
//   BM_lookup_mt/aors:N     BM_lookup from 1 and 2 threads on one shared
//                           table, each thread starting at its own place in
//                           the order.
//   BM_save/aors:N          loc_edit replacing one random AOR's set by a new
//                           one-contact set from loc_set_build: a re-REGISTER's
//                           work on the table. With 2 threads each thread
//                           writes its own half of the AORs.
//   For these two, Time is wall-clock per item over all threads (items/s is
//   the sum), and CPU is the whole process's CPU time per item: with saves
//   it includes liburcu's call_rcu thread, which frees the replaced sets.
//   Equal CPU per item at 1 and 2 threads means the threads do not slow
//   each other down; items/s doubles only if both threads get a core.
//   BM_chase/MiB:M          the comparison point: one dependent load through
//                           a random cycle over M MiB (shim_loc.h): what
//                           following one pointer costs when the data is
//                           that large. The 1M-AOR table takes about 530 MiB.
// Each table is built once per name and size, before the timed loop, and
// kept until the end. A lookup that misses, or a save that fails, stops
// the benchmark with an error.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "shim_loc.h"

namespace
{

// liburcu: each thread that touches a table registers once and
// unregisters before it exits; benchmark's worker threads are new for
// every run, so a thread_local does both at the right times.
struct rcu_thread {
    rcu_thread()
    {
        shim_loc_thread_enter();
    }
    ~rcu_thread()
    {
        shim_loc_thread_leave();
    }
    rcu_thread(const rcu_thread &) = delete;
    rcu_thread &operator=(const rcu_thread &) = delete;
};

void rcu_register_this_thread()
{
    thread_local rcu_thread registration;
    (void)registration;
}

std::mutex tables_lock;
std::map<std::pair<std::string, uint32_t>, shim_loc *> tables;

// The table for (purpose, n), built on first use. Any thread; the others
// wait for the first (before the timed loop: benchmark's start barrier
// is at the loop).
shim_loc *table_for(const std::string &purpose, uint32_t n)
{
    std::lock_guard<std::mutex> hold(tables_lock);
    auto it = tables.find({purpose, n});
    if (it != tables.end())
        return it->second;
    shim_loc *s = nullptr;
    int err = shim_loc_new(&s, n);
    if (!err)
        err = shim_loc_fill(s);
    if (err) {
        std::fprintf(stderr, "bench_loc: building a table of %u AORs: error %d\n", n, err);
        std::exit(1);
    }
    tables[{purpose, n}] = s;
    return s;
}

void free_tables()
{
    for (auto &entry : tables)
        shim_loc_free(entry.second);
    tables.clear();
}

void bm_memory(benchmark::State &state)
{
    rcu_register_this_thread();
    const auto n = static_cast<uint32_t>(state.range(0));
    shim_loc *s = nullptr;
    shim_loc_mem before{}, after{};
    for (auto _ : state) {
        state.PauseTiming();
        if (shim_loc_new(&s, n) != 0 || shim_loc_mem_now(&before) != 0) {
            state.SkipWithError("shim_loc_new or /proc/self/statm failed");
            break;
        }
        state.ResumeTiming();
        int err = shim_loc_fill(s);
        state.PauseTiming();
        if (err || shim_loc_mem_now(&after) != 0) {
            state.SkipWithError("shim_loc_fill failed");
            break;
        }
        state.ResumeTiming();
    }
    if (!s)
        return;
    uint64_t aors = 0, contacts = 0;
    shim_loc_counts(s, &aors, &contacts);
    if (contacts != n) {
        state.SkipWithError("the table does not hold one contact per AOR");
    } else {
        const double per = static_cast<double>(contacts);
        state.counters["rss_B"] = static_cast<double>(after.rss - before.rss) / per;
        state.counters["heap_B"] = static_cast<double>(after.heap - before.heap) / per;
        state.counters["str_B"] = static_cast<double>(shim_loc_string_bytes(s)) / per;
        state.counters["rss_MiB"] = static_cast<double>(after.rss - before.rss) / 1048576.0;
    }
    // Time includes the 0.3 s the fill waits for the hash table's resize
    // thread; CPU time, and items/s which comes from it, do not
    state.SetItemsProcessed(static_cast<int64_t>(n) * state.iterations());
    shim_loc_free(s);
}

void lookups(benchmark::State &state, shim_loc *s, bool hot)
{
    auto i = static_cast<uint32_t>(state.thread_index()) * (SHIM_LOC_ORDER / 2);
    for (auto _ : state) {
        size_t got = shim_loc_lookup(s, i++, hot);
        benchmark::DoNotOptimize(got);
        if (got == 0) {
            state.SkipWithError("an AOR of the table was not found");
            break;
        }
    }
    state.SetItemsProcessed(state.iterations());
}

void bm_lookup(benchmark::State &state)
{
    rcu_register_this_thread();
    lookups(state, table_for("lookup", static_cast<uint32_t>(state.range(0))), false);
}

void bm_lookup_hot(benchmark::State &state)
{
    rcu_register_this_thread();
    lookups(state, table_for("lookup", static_cast<uint32_t>(state.range(0))), true);
}

void bm_save(benchmark::State &state)
{
    rcu_register_this_thread();
    shim_loc *s = table_for("save", static_cast<uint32_t>(state.range(0)));
    const auto lane = static_cast<unsigned>(state.thread_index());
    const auto lanes = static_cast<unsigned>(state.threads());
    auto i = static_cast<uint32_t>(lane) * (SHIM_LOC_ORDER / 2);
    uint32_t seq = 1;
    for (auto _ : state) {
        int err = shim_loc_save(s, i++, lane, lanes, seq++);
        if (err) {
            state.SkipWithError("loc_edit failed");
            break;
        }
    }
    state.SetItemsProcessed(state.iterations());
}

void bm_chase(benchmark::State &state)
{
    shim_chase *c = nullptr;
    if (shim_chase_new(&c, static_cast<size_t>(state.range(0)) << 20) != 0) {
        state.SkipWithError("shim_chase_new failed");
        return;
    }
    shim_chase_run(c, 1u << 22); // warm: pages touched, caches filled
    for (auto _ : state)
        benchmark::DoNotOptimize(shim_chase_run(c, 1));
    state.SetItemsProcessed(state.iterations());
    shim_chase_free(c);
}

} // namespace

BENCHMARK(bm_memory)
    ->Name("BM_memory")
    ->ArgName("aors")
    ->Arg(1000000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(bm_lookup)->Name("BM_lookup")->ArgName("aors")->Arg(1000)->Arg(100000)->Arg(1000000);
BENCHMARK(bm_chase)->Name("BM_chase")->ArgName("MiB")->Arg(1)->Arg(64)->Arg(512);
BENCHMARK(bm_lookup_hot)->Name("BM_lookup_hot")->ArgName("aors")->Arg(100000)->Arg(1000000);
BENCHMARK(bm_lookup)
    ->Name("BM_lookup_mt")
    ->ArgName("aors")
    ->Arg(1000000)
    ->Threads(1)
    ->Threads(2)
    ->MeasureProcessCPUTime()
    ->UseRealTime();
BENCHMARK(bm_save)
    ->Name("BM_save")
    ->ArgName("aors")
    ->Arg(100000)
    ->Threads(1)
    ->Threads(2)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

int main(int argc, char **argv)
{
    rcu_register_this_thread();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    free_tables();
    return 0;
}
