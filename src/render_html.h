/* render_html.h - a report as one self-contained HTML page (`--report FILE`):
 * inline CSS and inline SVG charts, no script, no external resource, so the
 * network team can open it offline. The verdict, causes, findings, evidence and
 * fix lines of the text rendering, plus charts of the idle, connect and path
 * measurements. Every string is HTML-escaped (servers' bytes are untrusted) and
 * key file paths are cut to their names. */
#ifndef SSHDOCTOR_RENDER_HTML_H
#define SSHDOCTOR_RENDER_HTML_H

#include <json-c/json.h>
#include <stdint.h>

#include "finding.h"
#include "util.h"

struct html_meta {
	int argc;
	char **argv;		/* the command line, shown with key paths cut */
	int64_t time_ms;	/* wall clock of the run (0: now) */
};

/* The whole page. Caller frees. */
char *render_html(const struct report *r, const struct html_meta *m);
/* Writes it to path atomically (temp file beside it, fsync, rename). Returns 0,
 * or -1 with *err. */
int render_html_write(const char *path, const struct report *r, const struct html_meta *m,
		      char **err);
/* Checks before a long run that path can be written (its directory exists, it
 * is not a directory). Returns 0, or -1 with *err. */
int render_html_check(const char *path, char **err);

/* Charts (render_html_charts.c), each one <figure> with an inline <svg>; a
 * measurement without the needed fields adds nothing. Exposed for tests. */
#define HTML_CHART_W 760
void html_idle_chart(struct strbuf *sb, struct json_object *idle);
void html_connect_chart(struct strbuf *sb, struct json_object *connect);
void html_path_charts(struct strbuf *sb, struct json_object *path);
/* A waterfall: phase i starts where i-1 ended and lasts ms[i] (< 0: not
 * measured, drawn as a mark); a result other than ok/connected/numeric is bad. */
void html_waterfall(struct strbuf *sb, const char *title, size_t n, const char *const *names,
		    const double *ms, const char *const *results);

#endif
