// bench_auth.cc: digest verification and nonces (src/auth), each next to its raw OpenSSL bound.
//
// Names (bench/shim_auth.h says exactly what each call does):
//   BM_verify/md5, BM_verify/sha256  sipd: the expected response from a cached HA1
//                                    (HA2 digest, response digest, hex) and the
//                                    constant-time compare with the client's;
//   BM_raw/md5, BM_raw/sha256        the bound: two EVP digests of the same bytes
//                                    with one reused context, nothing else;
//   BM_nonce/make, BM_nonce/check    sipd: auth_nonce_make, auth_nonce_check (OK);
//   BM_hmac/reused                   the check's bound: HMAC-SHA-256 of the same
//                                    bytes, keyed context reused;
//   BM_hmac/oneshot                  the same through OpenSSL's one-shot HMAC();
//   BM_nonce/nc                      sipd: auth_nonce_nc with increasing nc.
// Before anything is timed the shim checks that verify accepts the right
// response and refuses a wrong one, and that the bounds hash the same bytes
// (they end in the client's response and in the nonce's MAC); otherwise the
// program exits 1. Every timed iteration checks its result too.
//
// bench_auth --profile=<name>[:count] skips the harness and repeats one step
// count times (default 1000000), for perf record or valgrind
// --tool=callgrind: instructions per call = (total - a :0 run) / count.
// <name> is the benchmark's name without "BM_", e.g. verify/md5.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "shim_auth.h"

namespace
{

struct step {
    const char *name;
    bool (*run)(shim_auth *s);
};

bool verify_md5(shim_auth *s)
{
    return shim_auth_verify(s, SHIM_AUTH_MD5);
}
bool verify_sha256(shim_auth *s)
{
    return shim_auth_verify(s, SHIM_AUTH_SHA256);
}
bool raw_md5(shim_auth *s)
{
    unsigned r = shim_auth_raw(s, SHIM_AUTH_MD5);
    benchmark::DoNotOptimize(r);
    return r < 256;
}
bool raw_sha256(shim_auth *s)
{
    unsigned r = shim_auth_raw(s, SHIM_AUTH_SHA256);
    benchmark::DoNotOptimize(r);
    return r < 256;
}
bool nonce_make(shim_auth *s)
{
    return shim_auth_nonce_make(s) == 43;
}
bool nonce_check(shim_auth *s)
{
    return shim_auth_nonce_check(s);
}
bool hmac_reused(shim_auth *s)
{
    unsigned r = shim_auth_hmac_reused(s);
    benchmark::DoNotOptimize(r);
    return r < 256;
}
bool hmac_oneshot(shim_auth *s)
{
    unsigned r = shim_auth_hmac_oneshot(s);
    benchmark::DoNotOptimize(r);
    return r < 256;
}
bool nonce_nc(shim_auth *s)
{
    return shim_auth_nonce_nc(s);
}

const step steps[] = {
    {"verify/md5", verify_md5},   {"raw/md5", raw_md5},           {"verify/sha256", verify_sha256},
    {"raw/sha256", raw_sha256},   {"nonce/make", nonce_make},     {"nonce/check", nonce_check},
    {"hmac/reused", hmac_reused}, {"hmac/oneshot", hmac_oneshot}, {"nonce/nc", nonce_nc},
};

void bm_step(benchmark::State &state, shim_auth *s, const step *st)
{
    for (auto _ : state) {
        bool ok = st->run(s);
        benchmark::DoNotOptimize(ok);
        if (!ok) {
            state.SkipWithError((std::string(st->name) + " returned a wrong result").c_str());
            break;
        }
    }
    state.SetItemsProcessed(state.iterations());
}

int profile(shim_auth *s, const std::string &spec)
{
    std::string what = spec, count_text;
    size_t colon = spec.find(':');
    if (colon != std::string::npos) {
        what = spec.substr(0, colon);
        count_text = spec.substr(colon + 1);
    }
    long count = count_text.empty() ? 1000000 : std::strtol(count_text.c_str(), nullptr, 10);
    for (const step &st : steps) {
        if (what != st.name)
            continue;
        for (long i = 0; i < count; i++) {
            if (!st.run(s)) {
                std::fprintf(stderr, "bench_auth: %s returned a wrong result\n", st.name);
                return 1;
            }
        }
        std::fprintf(stderr, "bench_auth: %s done %ld times\n", st.name, count);
        return 0;
    }
    std::fprintf(stderr, "bench_auth: --profile wants one of");
    for (const step &st : steps)
        std::fprintf(stderr, " %s", st.name);
    std::fprintf(stderr, " [:count]\n");
    return 1;
}

} // namespace

int main(int argc, char **argv)
{
    shim_auth *s = nullptr;
    const char *why = nullptr;
    if (shim_auth_new(&s, &why) != 0) {
        std::fprintf(stderr, "bench_auth: %s; nothing timed\n", why ? why : "setup failed");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        std::string arg = argv[i];
        if (arg.rfind("--profile=", 0) == 0) {
            int status = profile(s, arg.substr(10));
            shim_auth_free(s);
            return status;
        }
    }
    for (const step &st : steps) {
        std::string name = std::string("BM_") + st.name;
        benchmark::RegisterBenchmark(name.c_str(), bm_step, s, &st);
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        shim_auth_free(s);
        return 1;
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    shim_auth_free(s);
    return 0;
}
