/* report.c: sipbench's progress line, text summary and JSON object. */
#include "report.h"

#include <inttypes.h>

#include "auth/digest.h"

static const char *mode_name(enum sb_mode m)
{
    return m == SB_MODE_REGISTER ? "register" : "options";
}

static double rate_of(const struct sb_result *r)
{
    return r->elapsed > 0 ? (double)r->completed / r->elapsed : 0.0;
}

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

void sb_report_progress(FILE *f, const struct sb_progress *p)
{
    fprintf(f,
            "sipbench: %6.1f s  started %" PRIu64 "  completed %" PRIu64 "  failed %" PRIu64
            "  timeouts %" PRIu64 "  in flight %" PRIu64 "  %.0f/s\n",
            p->seconds, p->started, p->completed, p->failed, p->timeouts, p->inflight, p->rate);
    fflush(f);
}

static void text_latency(FILE *f, const char *what, const struct hist *h)
{
    if (h->count == 0) {
        fprintf(f, "  %-22s none\n", what);
        return;
    }
    fprintf(f,
            "  %-22s p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  (min %.3f  mean %.3f  max %.3f)"
            " ms\n",
            what, ms(hist_percentile(h, 50)), ms(hist_percentile(h, 90)),
            ms(hist_percentile(h, 99)), ms(hist_percentile(h, 99.9)), ms(h->min),
            hist_mean(h) / 1e6, ms(h->max));
}

void sb_report_text(FILE *f, const struct sb_config *cfg, const struct sb_result *r)
{
    fprintf(f, "sipbench %s -> %s:%u, ", mode_name(cfg->mode), cfg->target.host, cfg->target.port);
    if (cfg->rate > 0)
        fprintf(f, "open loop at %.0f/s", cfg->rate);
    else
        fprintf(f, "closed loop, %" PRIu32 " in flight", cfg->concurrency);
    fprintf(f, ", %" PRIu32 " thread%s x %" PRIu32 " socket%s%s\n", cfg->threads,
            cfg->threads == 1 ? "" : "s", cfg->sockets, cfg->sockets == 1 ? "" : "s",
            r->interrupted ? " (interrupted)"
            : r->capped    ? " (stopped by the time cap)"
                           : "");
    fprintf(f, "  started     %10" PRIu64 "  over %.3f s\n", r->started, r->start_elapsed);
    fprintf(f, "  completed   %10" PRIu64 "  %.1f/s over %.3f s\n", r->completed, rate_of(r),
            r->elapsed);
    fprintf(f, "  failed      %10" PRIu64, r->failed);
    const char *sep = "  by status: ";
    for (unsigned s = 0; s < 700; s++) {
        if (!r->failed_status[s])
            continue;
        if (s == 0)
            fprintf(f, "%slocal %" PRIu64, sep, r->failed_status[s]);
        else
            fprintf(f, "%s%u %" PRIu64, sep, s, r->failed_status[s]);
        sep = ", ";
    }
    fputc('\n', f);
    fprintf(f, "  timeouts    %10" PRIu64 "\n", r->timeouts);
    if (r->skipped || r->unfinished)
        fprintf(f, "  skipped     %10" PRIu64 "  unfinished %" PRIu64 "\n", r->skipped,
                r->unfinished);
    fprintf(f,
            "  requests    %10" PRIu64 "  retransmissions %" PRIu64 "  responses %" PRIu64
            "  stray %" PRIu64 "  unparsable %" PRIu64 "  send errors %" PRIu64 "\n",
            r->requests, r->retransmissions, r->responses, r->stray, r->bad, r->send_errors);
    if (cfg->mode == SB_MODE_REGISTER)
        fprintf(f,
                "  credentials %10" PRIu64 "  MD5 %" PRIu64 "  SHA-256 %" PRIu64
                "  with qop %" PRIu64 "\n",
                r->credentials[AUTH_ALG_MD5] + r->credentials[AUTH_ALG_SHA256],
                r->credentials[AUTH_ALG_MD5], r->credentials[AUTH_ALG_SHA256], r->credentials_qop);
    text_latency(f, cfg->mode == SB_MODE_REGISTER ? "latency (registration)" : "latency",
                 &r->op_latency);
    if (cfg->mode == SB_MODE_REGISTER)
        text_latency(f, "latency (request)", &r->req_latency);
}

static void json_latency(FILE *f, const char *key, const struct hist *h)
{
    fprintf(f,
            ",\"%s\":{\"count\":%" PRIu64 ",\"min\":%.3f,\"mean\":%.3f,\"p50\":%.3f,\"p90\":%.3f,"
            "\"p99\":%.3f,\"p99.9\":%.3f,\"max\":%.3f}",
            key, h->count, h->count ? ms(h->min) : 0.0, hist_mean(h) / 1e6,
            ms(hist_percentile(h, 50)), ms(hist_percentile(h, 90)), ms(hist_percentile(h, 99)),
            ms(hist_percentile(h, 99.9)), ms(h->max));
}

void sb_report_json(FILE *f, const struct sb_config *cfg, const struct sb_result *r)
{
    /* every string printed is ours or an address: nothing needs escaping */
    fprintf(f,
            "{\"mode\":\"%s\",\"target\":\"%s:%u\",\"loop\":\"%s\",\"rate\":%.3f,"
            "\"concurrency\":%" PRIu32 ",\"threads\":%" PRIu32 ",\"sockets\":%" PRIu32,
            mode_name(cfg->mode), cfg->target.host, cfg->target.port,
            cfg->rate > 0 ? "open" : "closed", cfg->rate, cfg->rate > 0 ? 0 : cfg->concurrency,
            cfg->threads, cfg->sockets);
    fprintf(f,
            ",\"started\":%" PRIu64 ",\"completed\":%" PRIu64 ",\"failed\":%" PRIu64
            ",\"failed_by_status\":{",
            r->started, r->completed, r->failed);
    const char *sep = "";
    for (unsigned s = 0; s < 700; s++) {
        if (!r->failed_status[s])
            continue;
        if (s == 0)
            fprintf(f, "%s\"local\":%" PRIu64, sep, r->failed_status[s]);
        else
            fprintf(f, "%s\"%u\":%" PRIu64, sep, s, r->failed_status[s]);
        sep = ",";
    }
    fprintf(f,
            "},\"timeouts\":%" PRIu64 ",\"skipped\":%" PRIu64 ",\"unfinished\":%" PRIu64
            ",\"elapsed_s\":%.6f,\"start_elapsed_s\":%.6f,\"rate_per_s\":%.3f",
            r->timeouts, r->skipped, r->unfinished, r->elapsed, r->start_elapsed, rate_of(r));
    fprintf(f,
            ",\"requests\":%" PRIu64 ",\"retransmissions\":%" PRIu64 ",\"responses\":%" PRIu64
            ",\"stray\":%" PRIu64 ",\"unparsable\":%" PRIu64 ",\"send_errors\":%" PRIu64,
            r->requests, r->retransmissions, r->responses, r->stray, r->bad, r->send_errors);
    fprintf(f, ",\"credentials\":{\"MD5\":%" PRIu64 ",\"SHA-256\":%" PRIu64 ",\"qop\":%" PRIu64 "}",
            r->credentials[AUTH_ALG_MD5], r->credentials[AUTH_ALG_SHA256], r->credentials_qop);
    fprintf(f, ",\"interrupted\":%s,\"capped\":%s", r->interrupted ? "true" : "false",
            r->capped ? "true" : "false");
    json_latency(f, "latency_ms", &r->op_latency);
    json_latency(f, "request_latency_ms", &r->req_latency);
    fputs("}\n", f);
}

int sb_report_status(const struct sb_result *r)
{
    bool clean = r->started > 0 && r->completed == r->started && r->failed == 0 &&
                 r->timeouts == 0 && r->skipped == 0 && r->unfinished == 0;
    return clean ? 0 : 1;
}
