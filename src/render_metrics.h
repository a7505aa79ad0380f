/* render_metrics.h - a report as Prometheus text exposition format (0.0.4), for
 * node_exporter's textfile collector and promtool. Every metric is declared once
 * in render_metrics.c's table, so HELP/TYPE lines are identical wherever it appears. */
#ifndef SSHDOCTOR_RENDER_METRICS_H
#define SSHDOCTOR_RENDER_METRICS_H

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>

#include "finding.h"

/* Metrics of a report in its JSON form (report_to_json()); run_time_s > 0 adds
 * sshdoctor_last_run_timestamp_seconds. Unknown fields are ignored, missing ones
 * leave their metric out. Caller frees. */
char *metrics_from_json(struct json_object *report, int64_t run_time_s);

void render_metrics(FILE *out, const struct report *r);

/* "sshdoctor_<command>[_<host>_<port>].prom", every byte outside [A-Za-z0-9_.-] as '_'.
 * Caller frees. */
char *metrics_textfile_name(const struct report *r);

/* Writes the report's metrics to DIR/metrics_textfile_name() atomically (temp
 * file in DIR, fsync, rename, fsync DIR): a reader sees the old file or the new
 * one, never half of one. Refuses a DIR that is a symlink or not a directory,
 * and, as root, one owned by another user or writable by group/others without
 * the sticky bit. Returns 0, or -1 with *err. */
int metrics_textfile_write(const char *dir, const struct report *r, char **err);
/* The same checks, writing nothing: lets a long run fail at once, not at its end. */
int metrics_textfile_check(const char *dir, char **err);

/* The metric table, for tests: name; type 0 gauge, 1 counter, 2 summary. */
size_t metrics_def_count(void);
const char *metrics_def(size_t i, int *type, const char **unit, const char **help);

#endif
