// bench_queue.cc: queue hand-off, items per second from R producer threads to W workers.
//
// BM_handoff/workers:W/threads:R: each of R benchmark threads pushes items
// through net_dispatch() to W worker threads (round robin) whose work hook
// hands the item back; items/s is the sum over producers, at wall-clock
// time. On a machine with fewer cores than R + W the figure includes the
// cost of sleeping and waking workers and of yielding on a full queue;
// "retries" counts those refusals and waits per item.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "shim_queue.h"

namespace
{

constexpr unsigned queue_bound = 4096;
std::atomic<shimq *> queue{nullptr};

void bm_handoff(benchmark::State &state)
{
    const auto workers = static_cast<unsigned>(state.range(0));
    if (state.thread_index() == 0) {
        shimq *q = nullptr;
        int err = shimq_start(&q, workers, static_cast<unsigned>(state.threads()), queue_bound);
        if (err != 0) {
            std::fprintf(stderr, "shimq_start: error %d\n", err);
            std::exit(1);
        }
        queue.store(q, std::memory_order_release);
    }
    // The loop starts once every thread is here (benchmark's start barrier).
    uint64_t retries = 0;
    shimq *q = nullptr;
    const auto me = static_cast<unsigned>(state.thread_index());
    for (auto _ : state) {
        if (q == nullptr)
            q = queue.load(std::memory_order_acquire);
        retries += shimq_push(q, me);
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["retries"] =
        benchmark::Counter(static_cast<double>(retries), benchmark::Counter::kAvgIterations);
    // And it ends once every thread is done: thread 0 may tear down.
    if (state.thread_index() == 0) {
        shimq_drain(q);
        shimq_stop(q);
        queue.store(nullptr, std::memory_order_relaxed);
    }
}

} // namespace

BENCHMARK(bm_handoff)
    ->Name("BM_handoff")
    ->ArgName("workers")
    ->Arg(1)
    ->Arg(2)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime()
    ->MinTime(0.5);

BENCHMARK_MAIN();
