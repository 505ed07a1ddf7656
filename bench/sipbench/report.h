/* report.h: sipbench's output: the progress line, the summary, the JSON object. */
#ifndef SIPBENCH_REPORT_H
#define SIPBENCH_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "gen.h"

/* Counters summed over the threads at one instant, for the progress line. */
struct sb_progress {
    double seconds; /* since the first start */
    uint64_t started, completed, failed, timeouts, inflight;
    double rate; /* completions per second over the last interval */
};

/* One progress line ("sipbench: 3.0 s started ... rate .../s"). Main thread. */
void sb_report_progress(FILE *f, const struct sb_progress *p);

/* The summary for people. */
void sb_report_text(FILE *f, const struct sb_config *cfg, const struct sb_result *r);

/* The same figures as one JSON object on one line. */
void sb_report_json(FILE *f, const struct sb_config *cfg, const struct sb_result *r);

/* Exit status of a run: 0 when every operation started completed and none
 * was skipped or left unfinished; 1 otherwise (also when none ran). */
int sb_report_status(const struct sb_result *r);

#endif
