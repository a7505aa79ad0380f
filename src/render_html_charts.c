/* render_html_charts.c - the report's inline SVG charts, drawn from the same
 * measurement JSON the --json output carries (so a chart shows exactly what
 * was measured): idle probes on idle age, connection phases as a waterfall,
 * round trips and loss, the MTU search. */
#include <math.h>
#include <string.h>

#include "render_html.h"
#include "svg.h"

#define W HTML_CHART_W
#define ML 70.0		/* margins: left (labels), right, top, bottom (axis) */
#define MR 30.0
#define MT 34.0
#define MB 50.0

static struct json_object *jget(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;
	return o && json_object_is_type(o, json_type_object) &&
	       json_object_object_get_ex(o, k, &v) ? v : NULL;
}

/* A number, or NaN when absent/null/not a number. */
static double jnum(struct json_object *o, const char *k)
{
	struct json_object *v = jget(o, k);
	if (!v || !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
		return NAN;
	return json_object_get_double(v);
}

static const char *jstr(struct json_object *o, const char *k)
{
	struct json_object *v = jget(o, k);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static size_t jlen(struct json_object *a)
{
	return a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

static void figure_begin(struct strbuf *sb, const char *id, const char *caption)
{
	sb_addf(sb, "<figure id=\"%s\">\n<figcaption>", id);
	html_esc(sb, caption);
	sb_adds(sb, "</figcaption>\n");
}

static void legend(struct strbuf *sb, double x, double y, const char *cls, const char *label)
{
	svg_circle(sb, x, y - 4, 5, cls);
	svg_text(sb, x + 9, y, "start", "legend", "%s", label);
}

/* --- idle ------------------------------------------------------------------- */

static const char *probe_class(const char *res)
{
	if (res && !strcmp(res, "alive"))
		return "p-alive";
	if (res && !strcmp(res, "silent"))
		return "p-silent";
	if (res && !strcmp(res, "reset"))
		return "p-reset";
	return "p-closed";
}

/* Every probe a point: x its idle age, y its place in the run (first on top),
 * so the search is seen closing in on the bracket (the shaded band). */
void html_idle_chart(struct strbuf *sb, struct json_object *idle)
{
	struct json_object *probes = jget(idle, "probes");
	size_t n = jlen(probes);
	double lo = jnum(idle, "lower_s"), up = jnum(idle, "upper_s");
	if (!n)
		return;	/* nothing measured (idle failed): no picture claims otherwise */
	const char *expiry = jstr(idle, "expiry");
	int found = json_object_get_boolean(jget(idle, "found"));
	char cap[256];
	if (found && !isnan(up))
		snprintf(cap, sizeof(cap), "Idle timeout between %.1f and %.1f s (expiry: %s)", lo, up,
			 expiry ? expiry : "unknown");
	else
		snprintf(cap, sizeof(cap), "No idle timeout found: alive after %.1f s idle", lo);
	figure_begin(sb, "idle-chart", cap);

	double xmax = isnan(up) ? (isnan(lo) ? 0 : lo) : up;
	for (size_t i = 0; i < n; i++) {
		double v = jnum(json_object_array_get_idx(probes, i), "idle_s");
		if (v > xmax)
			xmax = v;
	}
	double rowh = n > 40 ? 6 : 12;
	double ph = (double)(n ? n : 1) * rowh + 10, h = MT + ph + MB + 8;
	struct axis x, y;
	axis_fit(&x, 0, xmax * 1.05, 8, ML, W - MR);
	axis_fit(&y, 0, (double)(n ? n : 1), 1, MT, MT + ph);
	y.lo = 0, y.hi = (double)(n ? n : 1) + 1;	/* rows, not round ticks */

	svg_begin(sb, W, (int)h, cap);
	if (found && !isnan(lo) && !isnan(up)) {
		double x0 = axis_px(&x, lo), x1 = axis_px(&x, up);
		svg_rect(sb, x0, MT, x1 - x0 < 2 ? 2 : x1 - x0, ph, "bracket");
		svg_line(sb, x0, MT - 4, x0, MT + ph, "bracket-edge");
		svg_line(sb, x1, MT - 4, x1, MT + ph, "bracket-edge");
		svg_text(sb, x1 + 4, MT - 8, "start", "bracket-label", "T %.1f-%.1f s", lo, up);
	} else if (!isnan(lo)) {
		double x0 = axis_px(&x, lo);
		svg_line(sb, x0, MT - 4, x0, MT + ph, "limit");
		svg_text(sb, x0 - 4, MT - 8, "end", "bracket-label", "alive at %.1f s", lo);
	}
	svg_xaxis(sb, &x, MT + ph, MT, "idle age (s)");
	svg_text(sb, ML - 8, MT + 10, "end", "tick", "probe 1");
	if (n > 1)
		svg_text(sb, ML - 8, axis_px(&y, (double)n) + 4, "end", "tick", "%zu", n);
	for (size_t i = 0; i < n && i < 10000; i++) {
		struct json_object *p = json_object_array_get_idx(probes, i);
		double v = jnum(p, "idle_s");
		if (isnan(v))
			continue;
		svg_circle(sb, axis_px(&x, v), axis_px(&y, (double)(i + 1)), rowh > 6 ? 4.5 : 3,
			   probe_class(jstr(p, "result")));
	}
	double ly = h - 8;
	legend(sb, ML, ly, "p-alive", "alive (answered)");
	legend(sb, ML + 140, ly, "p-silent", "silent (no answer)");
	legend(sb, ML + 290, ly, "p-reset", "reset (RST)");
	legend(sb, ML + 400, ly, "p-closed", "closed");
	svg_end(sb);
	sb_adds(sb, "</figure>\n");
}

/* --- connect ---------------------------------------------------------------- */

static int result_good(const char *r)
{
	return r && (!strcmp(r, "ok") || !strcmp(r, "connected") || !strcmp(r, "numeric"));
}

void html_waterfall(struct strbuf *sb, const char *title, size_t n, const char *const *names,
		    const double *ms, const char *const *results)
{
	if (!n)
		return;
	double total = 0;
	for (size_t i = 0; i < n; i++)
		total += ms[i] > 0 ? ms[i] : 0;
	double rowh = 22, ph = (double)n * rowh, h = MT + ph + MB;
	struct axis x;
	axis_fit(&x, 0, total > 0 ? total : 1, 8, ML + 30, W - MR - 90);
	svg_begin(sb, W, (int)h, title);
	svg_xaxis(sb, &x, MT + ph, MT, "milliseconds since the start");
	double t = 0;
	for (size_t i = 0; i < n; i++) {
		double y = MT + (double)i * rowh + 4;
		svg_text(sb, ML + 24, y + 12, "end", "label", "%s", names[i] ? names[i] : "?");
		double x0 = axis_px(&x, t);
		const char *cls = result_good(results[i]) ? "bar" : results[i] &&
				  !strcmp(results[i], "slow") ? "bar-slow" : "bar-bad";
		if (ms[i] >= 0) {
			double x1 = axis_px(&x, t + ms[i]);
			svg_rect(sb, x0, y, x1 - x0 < 1.5 ? 1.5 : x1 - x0, rowh - 8, cls);
			svg_text(sb, (x1 > x0 + 1.5 ? x1 : x0 + 1.5) + 5, y + 11, "start", "value",
				 "%.0f ms%s%s", ms[i], result_good(results[i]) ? "" : "  ",
				 result_good(results[i]) ? "" : results[i] ? results[i] : "?");
			t += ms[i];
		} else {
			svg_rect(sb, x0, y, 3, rowh - 8, cls);
			svg_text(sb, x0 + 8, y + 11, "start", "value", "%s (not timed)",
				 results[i] ? results[i] : "?");
		}
	}
	svg_end(sb);
}

/* One target's phases (raw probe and login), then the login's own timeline;
 * k > 0 numbers the figures of the k-th target (ids stay unique). */
static void connect_one(struct strbuf *sb, struct json_object *c, size_t k)
{
	char id[48];
	struct json_object *ph = jget(c, "phases");
	size_t n = jlen(ph);
	if (n > 16)
		n = 16;
	const char *names[16], *res[16];
	double ms[16];
	for (size_t i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(ph, i);
		names[i] = jstr(p, "name");
		res[i] = jstr(p, "result");
		double us = jnum(p, "us"), m = jnum(p, "ms");
		ms[i] = !isnan(us) ? us / 1000 : !isnan(m) ? m : -1;
	}
	const char *tgt = jstr(c, "target");
	char cap[300];
	snprintf(cap, sizeof(cap), "Connection set-up to %s: the probe's phases, then the login's",
		 tgt ? tgt : "the target");
	if (n) {
		snprintf(id, sizeof(id), k ? "connect-chart-%zu" : "connect-chart", k + 1);
		figure_begin(sb, id, cap);
		html_waterfall(sb, cap, n, names, ms, res);
		sb_adds(sb, "</figure>\n");
	}
	/* the login as ssh -vvv timed it, phase after phase */
	struct json_object *lg = jget(c, "login");
	static const char *const keys[] = { "tcp", "banner", "kex", "service", "auth", "session" };
	const char *ln[6], *lr[6];
	double lm[6];
	size_t nl = 0;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		double v = jnum(lg, keys[i]);
		if (isnan(v))
			continue;
		ln[nl] = keys[i], lm[nl] = v, lr[nl] = "ok";
		nl++;
	}
	if (nl) {
		const char *err = jstr(lg, "error");
		if (err)
			lr[nl - 1] = err;
		snprintf(cap, sizeof(cap), "The login, as the user's ssh timed it (%.0f ms in all)",
			 jnum(lg, "total_ms"));
		snprintf(id, sizeof(id), k ? "login-chart-%zu" : "login-chart", k + 1);
		figure_begin(sb, id, cap);
		html_waterfall(sb, cap, nl, ln, lm, lr);
		sb_adds(sb, "</figure>\n");
	}
}

void html_connect_chart(struct strbuf *sb, struct json_object *connect)
{
	if (json_object_is_type(connect, json_type_array)) {
		for (size_t i = 0; i < jlen(connect) && i < 8; i++)
			connect_one(sb, json_object_array_get_idx(connect, i), i);
	} else {
		connect_one(sb, connect, 0);
	}
}

/* --- path ------------------------------------------------------------------- */

static const struct {
	const char *key, *cls, *label;
} series[] = {
	{ "tcp_handshake", "s-tcp", "TCP handshake" },
	{ "icmp_echo", "s-icmp", "ICMP echo" },
	{ "session_echo", "s-echo", "echo inside the SSH session" },
};

static void rtt_chart(struct strbuf *sb, struct json_object *path, struct json_object *det)
{
	size_t maxn = 0;
	double ymax = jnum(jget(path, "rtt_ms"), "max");
	for (size_t s = 0; s < ARRAY_SIZE(series); s++) {
		struct json_object *a = jget(jget(det, series[s].key), "rtt_samples_ms");
		if (jlen(a) > maxn)
			maxn = jlen(a);
		for (size_t i = 0; i < jlen(a); i++) {
			double v = json_object_get_double(json_object_array_get_idx(a, i));
			if (isnan(ymax) || v > ymax)
				ymax = v;
		}
	}
	if (!maxn)
		return;
	double ph = 220, h = MT + ph + MB;
	struct axis x, y;
	axis_fit(&x, 1, (double)(maxn > 1 ? maxn : 2), 10, ML, W - MR);
	axis_fit(&y, 0, ymax * 1.1, 5, MT + ph, MT);
	const char *cap = "Round trips, probe after probe";
	figure_begin(sb, "rtt-chart", cap);
	svg_begin(sb, W, (int)h, cap);
	svg_xaxis(sb, &x, MT + ph, MT, "probe");
	svg_yaxis(sb, &y, ML, W - MR, "ms");
	double p50 = jnum(jget(path, "rtt_ms"), "p50"), p90 = jnum(jget(path, "rtt_ms"), "p90");
	if (!isnan(p50)) {
		svg_line(sb, ML, axis_px(&y, p50), W - MR, axis_px(&y, p50), "median");
		svg_text(sb, W - MR, axis_px(&y, p50) - 3, "end", "tick", "p50 %.1f ms", p50);
	}
	if (!isnan(p90) && p90 > p50 * 1.05) {
		svg_line(sb, ML, axis_px(&y, p90), W - MR, axis_px(&y, p90), "median");
		svg_text(sb, W - MR, axis_px(&y, p90) - 3, "end", "tick", "p90 %.1f ms", p90);
	}
	for (size_t s = 0; s < ARRAY_SIZE(series); s++) {
		struct json_object *a = jget(jget(det, series[s].key), "rtt_samples_ms");
		for (size_t i = 0; i < jlen(a); i++)
			svg_circle(sb, axis_px(&x, (double)(i + 1)),
				   axis_px(&y, json_object_get_double(json_object_array_get_idx(a, i))),
				   2.5, series[s].cls);
	}
	double lx = ML;
	for (size_t s = 0; s < ARRAY_SIZE(series); s++) {
		if (!jlen(jget(jget(det, series[s].key), "rtt_samples_ms")))
			continue;
		legend(sb, lx, h - 8, series[s].cls, series[s].label);
		lx += 200;
	}
	svg_end(sb);
	sb_adds(sb, "</figure>\n");
}

/* Sent and lost per method, as stacked bars (lost in red, share written). */
static void loss_chart(struct strbuf *sb, struct json_object *path, struct json_object *det)
{
	size_t rows = 0;
	double maxsent = 0;
	for (size_t s = 0; s < ARRAY_SIZE(series); s++) {
		double sent = jnum(jget(det, series[s].key), "sent");
		if (sent > 0) {
			rows++;
			if (sent > maxsent)
				maxsent = sent;
		}
	}
	if (!rows)
		return;
	char cap[128];
	double lp = jnum(path, "loss_pct");
	if (isnan(lp))
		snprintf(cap, sizeof(cap), "Probes sent and lost");
	else
		snprintf(cap, sizeof(cap), "Probes sent and lost: %.1f%% loss", lp);
	double rowh = 24, ph = (double)rows * rowh, h = MT + ph + MB;
	struct axis x;
	axis_fit(&x, 0, maxsent, 8, ML + 130, W - MR - 120);
	figure_begin(sb, "loss-chart", cap);
	svg_begin(sb, W, (int)h, cap);
	svg_xaxis(sb, &x, MT + ph, MT, "probes");
	size_t r = 0;
	for (size_t s = 0; s < ARRAY_SIZE(series); s++) {
		struct json_object *o = jget(det, series[s].key);
		double sent = jnum(o, "sent"), lost = jnum(o, "lost");
		if (!(sent > 0))
			continue;
		if (isnan(lost) || lost < 0)
			lost = 0;
		double y = MT + (double)r++ * rowh + 4, x0 = axis_px(&x, 0);
		double xl = axis_px(&x, sent - lost), xs = axis_px(&x, sent);
		svg_text(sb, ML + 124, y + 12, "end", "label", "%s", series[s].label);
		svg_rect(sb, x0, y, xl - x0, rowh - 8, "bar");
		svg_rect(sb, xl, y, xs - xl, rowh - 8, "bar-bad");
		svg_text(sb, xs + 5, y + 12, "start", "value", "%.0f lost of %.0f", lost, sent);
	}
	svg_end(sb);
	sb_adds(sb, "</figure>\n");
}

/* The black-hole search: each echo size tried, in order, came back or not. */
static void mtu_chart(struct strbuf *sb, struct json_object *path, struct json_object *det)
{
	struct json_object *st = jget(det, "mtu_search");
	size_t n = jlen(st);
	if (!n)
		return;
	double big = jnum(path, "largest_echo_bytes"), pmtu = jnum(path, "pmtu"), xmax = 0;
	for (size_t i = 0; i < n; i++) {
		double b = jnum(json_object_array_get_idx(st, i), "bytes");
		if (b > xmax)
			xmax = b;
	}
	char cap[200];
	int bh = json_object_get_boolean(jget(path, "blackhole"));
	if (bh)
		snprintf(cap, sizeof(cap), "MTU search: a black hole, echoes past %.0f bytes never "
			 "come back (path MTU about %.0f)", big, pmtu);
	else if (!isnan(pmtu))
		snprintf(cap, sizeof(cap), "MTU search: no black hole (path MTU %.0f)", pmtu);
	else
		snprintf(cap, sizeof(cap), "MTU search: no black hole");
	double rowh = 18, ph = (double)n * rowh, h = MT + ph + MB;
	struct axis x;
	axis_fit(&x, 0, xmax, 8, ML + 30, W - MR - 110);
	figure_begin(sb, "mtu-chart", cap);
	svg_begin(sb, W, (int)h, cap);
	svg_xaxis(sb, &x, MT + ph, MT, "echo payload (bytes)");
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(st, i);
		double b = jnum(s, "bytes"), y = MT + (double)i * rowh + 3, x0 = axis_px(&x, 0);
		int ok = json_object_get_boolean(jget(s, "passed"));
		svg_text(sb, ML + 24, y + 11, "end", "label", "#%zu", i + 1);
		svg_rect(sb, x0, y, axis_px(&x, b) - x0, rowh - 6, ok ? "bar" : "bar-bad");
		svg_text(sb, axis_px(&x, b) + 5, y + 11, "start", "value", "%.0f B %s", b,
			 ok ? "came back" : "lost");
	}
	if (!isnan(big)) {
		svg_line(sb, axis_px(&x, big), MT - 4, axis_px(&x, big), MT + ph, "limit");
		svg_text(sb, axis_px(&x, big), MT - 8, "middle", "bracket-label", "largest echo %.0f B",
			 big);
	}
	svg_end(sb);
	sb_adds(sb, "</figure>\n");
}

void html_path_charts(struct strbuf *sb, struct json_object *path)
{
	struct json_object *det = jget(path, "detail");
	rtt_chart(sb, path, det);
	loss_chart(sb, path, det);
	mtu_chart(sb, path, det);
}
