/* history_judge.c - from the recorded sessions to what they prove.
 *
 * What each observation proves about a network's idle timeout T:
 * - a write after an idle gap G that was answered: the path kept the flow, T >= G;
 * - one never answered: the flow was gone, T <= G;
 * - a session that died (timeout, reset) after idle I: T <= I (the unanswered
 *   write came at or before its end), counted only when the session has no
 *   unanswered gap of its own (the same event, not a second sample).
 * The relay's TCP keepalive (keepidle K, interval V) refreshes the path while
 * ssh is quiet, so the path itself saw at most min(G, K) idle before an answer
 * and at most min(G, max(K, V)) before a loss: each bound is taken on the safe
 * side. Sessions that ended by a sleep or a network change prove nothing about
 * an upper bound (the clock or the address, not the path). Deaths after less
 * idle than the path is known to keep are not the timeout (loss, outage); an
 * unanswered gap shorter than an answered one is a contradiction: no bracket. */
#include "history_judge.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "idle.h"
#include "logscan.h"

int hist_end_is_death(enum hist_end e)
{
	return e == HE_SERVER_CLOSED || e == HE_RESET || e == HE_TIMEOUT || e == HE_SUSPENDED ||
	       e == HE_NETWORK_CHANGED;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

static const char *net_of(const struct hist_session *s)
{
	return s->net.id[0] ? s->net.id : "unknown";
}

/* Sessions by id, for the gaps (each names its session by id). */
struct sidx {
	const struct hist_session *s;
	size_t n;
	size_t *ord;
};

static const struct hist_session *sidx_base;
static int cmp_sid(const void *a, const void *b)
{
	int64_t x = sidx_base[*(const size_t *)a].id, y = sidx_base[*(const size_t *)b].id;
	return x < y ? -1 : x > y;
}

static void sidx_init(struct sidx *x, const struct hist_session *s, size_t n)
{
	x->s = s;
	x->n = n;
	x->ord = xcalloc(n ? n : 1, sizeof(*x->ord));
	for (size_t i = 0; i < n; i++)
		x->ord[i] = i;
	sidx_base = s;
	qsort(x->ord, n, sizeof(*x->ord), cmp_sid);
}

static const struct hist_session *sidx_find(const struct sidx *x, int64_t id)
{
	size_t lo = 0, hi = x->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int64_t v = x->s[x->ord[mid]].id;
		if (v == id)
			return &x->s[x->ord[mid]];
		if (v < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* What the path itself saw, on the safe side for each bound. */
static int64_t eff_answered(const struct hist_session *s, int64_t g)
{
	return s->keepidle_s > 0 ? min64(g, (int64_t)s->keepidle_s * 1000) : g;
}

static int64_t eff_lost(const struct hist_session *s, int64_t g)
{
	if (s->keepidle_s <= 0)
		return g;
	return min64(g, max64((int64_t)s->keepidle_s, (int64_t)s->keepintvl_s) * 1000);
}

static int upper_proves_nothing(const struct hist_session *s)
{
	return s->end == HE_SUSPENDED || s->end == HE_NETWORK_CHANGED;
}

static int is_idle_death(const struct hist_session *s)
{
	return (s->end == HE_TIMEOUT || s->end == HE_RESET) && s->end_idle_ms >= HIST_MIN_DEATH_IDLE_MS;
}

/* The upper-bound samples of a network: unanswered gaps, then deaths of sessions
 * without one. Calls fn with each effective idle. */
typedef void (*upper_fn)(int64_t e, void *arg);
static void walk_upper(const char *net_id, const struct sidx *x, const struct hist_gap *g, size_t ng,
		       char *has_lost, upper_fn fn, void *arg)
{
	for (size_t i = 0; i < ng; i++) {
		const struct hist_session *s = sidx_find(x, g[i].session);
		if (!s || g[i].answered || strcmp(net_of(s), net_id) || upper_proves_nothing(s) ||
		    g[i].idle_ms < 0)
			continue;
		has_lost[s - x->s] = 1;
		fn(eff_lost(s, g[i].idle_ms), arg);
	}
	for (size_t i = 0; i < x->n; i++) {
		const struct hist_session *s = &x->s[i];
		if (has_lost[i] || strcmp(net_of(s), net_id) || !is_idle_death(s))
			continue;
		fn(eff_lost(s, s->end_idle_ms), arg);
	}
}

struct upper_acc {
	struct hist_bracket *b;
	int pass;		/* 0: bounds and the count of samples used, 1: near counts */
	int64_t tol;
};

static void upper_cb(int64_t e, void *arg)
{
	struct upper_acc *a = arg;
	struct hist_bracket *b = a->b;
	if (a->pass == 0) {
		if (b->lower_ms >= 0 && e < b->lower_ms)
			return;	/* counted as a contradiction or a short death below */
		b->unanswered++;
		if (b->upper_ms < 0 || e < b->upper_ms)
			b->upper_ms = e;
	} else if (b->upper_ms >= 0 && e >= b->upper_ms && e <= b->upper_ms + a->tol) {
		b->near_upper++;
	}
}

void hist_bracket_compute(const char *net_id, const struct hist_session *s, size_t ns,
			  const struct hist_gap *g, size_t ng, struct hist_bracket *b)
{
	struct sidx x;
	memset(b, 0, sizeof(*b));
	b->lower_ms = b->upper_ms = b->contra_min_ms = -1;
	sidx_init(&x, s, ns);
	for (size_t i = 0; i < ng; i++) {
		const struct hist_session *ss = sidx_find(&x, g[i].session);
		if (!ss || !g[i].answered || strcmp(net_of(ss), net_id) || g[i].idle_ms < 0)
			continue;
		int64_t e = eff_answered(ss, g[i].idle_ms);
		b->answered++;
		if (e > b->lower_ms)
			b->lower_ms = e;
	}
	/* contradictions: unanswered gaps (not deaths) below the lower bound */
	for (size_t i = 0; i < ng && b->lower_ms >= 0; i++) {
		const struct hist_session *ss = sidx_find(&x, g[i].session);
		if (!ss || g[i].answered || strcmp(net_of(ss), net_id) || upper_proves_nothing(ss) ||
		    g[i].idle_ms < 0)
			continue;
		int64_t e = eff_lost(ss, g[i].idle_ms);
		if (e < b->lower_ms) {
			b->ncontra++;
			if (b->contra_min_ms < 0 || e < b->contra_min_ms)
				b->contra_min_ms = e;
		}
	}
	b->inconsistent = b->ncontra > 0;
	char *has_lost = xcalloc(ns ? ns : 1, 1);
	struct upper_acc a = { .b = b };
	walk_upper(net_id, &x, g, ng, has_lost, upper_cb, &a);
	if (b->upper_ms >= 0) {
		a.tol = max64(2000, b->upper_ms * 2 / 100);
		a.pass = 1;
		memset(has_lost, 0, ns ? ns : 1);
		walk_upper(net_id, &x, g, ng, has_lost, upper_cb, &a);
		for (size_t i = 0; i < ng && b->lower_ms >= 0; i++) {
			const struct hist_session *ss = sidx_find(&x, g[i].session);
			if (!ss || !g[i].answered || strcmp(net_of(ss), net_id) || g[i].idle_ms < 0)
				continue;
			if (eff_answered(ss, g[i].idle_ms) >= b->lower_ms - a.tol)
				b->near_lower++;
		}
		b->tight = !b->inconsistent && b->lower_ms >= 0 &&
			   b->upper_ms - b->lower_ms <= a.tol && b->near_lower >= 3 && b->near_upper >= 3;
	}
	if (b->inconsistent)
		b->tight = 0;
	free(has_lost);
	free(x.ord);
}

static struct hist_netsum *net_get(struct hist_summary *sum, const struct hist_session *s)
{
	const char *id = net_of(s);
	for (size_t i = 0; i < sum->nnets; i++)
		if (!strcmp(sum->nets[i].id, id))
			return &sum->nets[i];
	sum->nets = xrealloc(sum->nets, (sum->nnets + 1) * sizeof(*sum->nets));
	struct hist_netsum *n = &sum->nets[sum->nnets++];
	memset(n, 0, sizeof(*n));
	snprintf(n->id, sizeof(n->id), "%s", id);
	snprintf(n->gateway, sizeof(n->gateway), "%s", s->net.gateway);
	n->idle_death_min_ms = n->idle_death_max_ms = -1;
	n->last_wall_ms = s->start_wall_ms;
	return n;
}

static int cmp_net_newest(const void *a, const void *b)
{
	int64_t x = ((const struct hist_netsum *)a)->last_wall_ms;
	int64_t y = ((const struct hist_netsum *)b)->last_wall_ms;
	return x > y ? -1 : x < y;
}

void hist_analyse(const struct hist_session *s, size_t ns, const struct hist_gap *g, size_t ng,
		  struct hist_summary *out)
{
	memset(out, 0, sizeof(*out));
	out->sc_idle_min_ms = out->sc_idle_max_ms = -1;
	for (size_t i = 0; i < ns; i++) {
		const struct hist_session *x = &s[i];
		int e = x->end >= 0 && x->end < HE_NEND ? (int)x->end : HE_RUNNING;
		struct hist_netsum *n = net_get(out, x);
		out->sessions++;
		out->by_end[e]++;
		n->sessions++;
		n->by_end[e]++;
		if (x->start_wall_ms > n->last_wall_ms) {
			n->last_wall_ms = x->start_wall_ms;
			snprintf(n->gateway, sizeof(n->gateway), "%s", x->net.gateway);
		}
		if (hist_end_is_death((enum hist_end)e)) {
			out->deaths++;
			n->deaths++;
		}
		if (e == HE_SERVER_CLOSED) {
			if (out->sc_idle_min_ms < 0 || x->end_idle_ms < out->sc_idle_min_ms)
				out->sc_idle_min_ms = x->end_idle_ms;
			if (x->end_idle_ms > out->sc_idle_max_ms)
				out->sc_idle_max_ms = x->end_idle_ms;
		}
		if (e == HE_SUSPENDED && x->suspended_ms > 0)
			out->suspended_ms += x->suspended_ms;
	}
	for (size_t i = 0; i < out->nnets; i++) {
		struct hist_netsum *n = &out->nets[i];
		hist_bracket_compute(n->id, s, ns, g, ng, &n->b);
		for (size_t j = 0; j < ns; j++) {
			const struct hist_session *x = &s[j];
			if ((x->end != HE_TIMEOUT && x->end != HE_RESET) || strcmp(net_of(x), n->id))
				continue;
			if (!is_idle_death(x) || (n->b.lower_ms >= 0 && eff_lost(x, x->end_idle_ms) < n->b.lower_ms)) {
				n->short_deaths++;
				continue;
			}
			n->idle_deaths++;
			if (n->idle_death_min_ms < 0 || x->end_idle_ms < n->idle_death_min_ms)
				n->idle_death_min_ms = x->end_idle_ms;
			if (x->end_idle_ms > n->idle_death_max_ms)
				n->idle_death_max_ms = x->end_idle_ms;
		}
	}
	if (out->nnets > 1)
		qsort(out->nets, out->nnets, sizeof(*out->nets), cmp_net_newest);
}

void hist_summary_free(struct hist_summary *sum)
{
	free(sum->nets);
	memset(sum, 0, sizeof(*sum));
}

int64_t hist_parse_since(const char *s, int64_t now_wall_ms)
{
	if (!s || !*s)
		return -1;
	int64_t t = logscan_parse_time(s, now_wall_ms);
	if (t < 0 || t > now_wall_ms + 60000)	/* a minute of clock skew, no more */
		return -1;
	return t;
}

void hist_idle_range(char *buf, size_t n, int64_t min_ms, int64_t max_ms)
{
	if ((min_ms + 500) / 1000 == (max_ms + 500) / 1000)
		snprintf(buf, n, "%.0f s", (double)min_ms / 1000);
	else
		snprintf(buf, n, "%.0f-%.0f s", (double)min_ms / 1000, (double)max_ms / 1000);
}

void hist_net_label(char *buf, size_t n, const char *id, const char *gateway)
{
	if (gateway && *gateway)
		snprintf(buf, n, "gw %s", gateway);
	else
		snprintf(buf, n, "%s", id);
}

/* ---- JSON ---------------------------------------------------------------- */

static struct json_object *secs(int64_t ms)
{
	if (ms < 0)
		return NULL;
	char b[32];
	int64_t tenths = (ms + 50) / 100;
	snprintf(b, sizeof(b), "%lld.%lld", (long long)(tenths / 10), (long long)(tenths % 10));
	return json_object_new_double_s((double)tenths / 10, b);
}

static struct json_object *by_end_json(const int *by_end)
{
	struct json_object *o = json_object_new_object();
	for (int e = 0; e < HE_NEND; e++)
		json_object_object_add(o, hist_end_name((enum hist_end)e), json_object_new_int(by_end[e]));
	return o;
}

static void iso_time(char *b, size_t n, int64_t wall_ms)
{
	time_t t = (time_t)(wall_ms / 1000);
	struct tm tm;
	if (wall_ms <= 0 || !gmtime_r(&t, &tm) || !strftime(b, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(b, n, "-");
}

static struct json_object *session_json(const struct hist_session *s)
{
	struct json_object *o = json_object_new_object();
	char b[32];
	json_object_object_add(o, "id", json_object_new_int64(s->id));
	json_object_object_add(o, "origin", json_object_new_string(s->origin));
	json_object_object_add(o, "target", json_object_new_string(s->target));
	json_object_object_add(o, "port", json_object_new_string(s->port));
	json_object_object_add(o, "remote", json_object_new_string(s->remote_addr));
	json_object_object_add(o, "network", json_object_new_string(net_of(s)));
	iso_time(b, sizeof(b), s->start_wall_ms);
	json_object_object_add(o, "start", json_object_new_string(b));
	json_object_object_add(o, "duration_s",
			       s->end_mono_ms > 0 ? secs(s->end_mono_ms - s->start_mono_ms) : NULL);
	int e = s->end >= 0 && s->end < HE_NEND ? (int)s->end : HE_RUNNING;
	json_object_object_add(o, "end", json_object_new_string(hist_end_name((enum hist_end)e)));
	json_object_object_add(o, "end_idle_s", s->end_idle_ms > 0 ? secs(s->end_idle_ms) : NULL);
	json_object_object_add(o, "longest_idle_s", secs(s->longest_idle_ms));
	json_object_object_add(o, "suspended_s", s->suspended_ms > 0 ? secs(s->suspended_ms) : NULL);
	json_object_object_add(o, "bytes_out", json_object_new_int64(s->bytes_out));
	json_object_object_add(o, "bytes_in", json_object_new_int64(s->bytes_in));
	json_object_object_add(o, "retrans_total", json_object_new_int64(s->retrans_total));
	/* what the relay set on the socket: the keepalive the session lived with */
	json_object_object_add(o, "keepidle_s", s->keepidle_s > 0 ? json_object_new_int(s->keepidle_s) : NULL);
	json_object_object_add(o, "user_timeout_ms",
			       s->user_timeout_ms > 0 ? json_object_new_int(s->user_timeout_ms) : NULL);
	json_object_object_add(o, "detail", s->end_detail[0] ? json_object_new_string(s->end_detail) : NULL);
	return o;
}

struct json_object *hist_json(const struct hist_summary *sum, const struct hist_session *list,
			      size_t nlist)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "sessions", json_object_new_int(sum->sessions));
	json_object_object_add(o, "deaths", json_object_new_int(sum->deaths));
	json_object_object_add(o, "by_end", by_end_json(sum->by_end));
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < sum->nnets; i++) {
		const struct hist_netsum *n = &sum->nets[i];
		struct json_object *j = json_object_new_object(), *it = json_object_new_object();
		json_object_object_add(j, "id", json_object_new_string(n->id));
		json_object_object_add(j, "gateway", n->gateway[0] ? json_object_new_string(n->gateway) : NULL);
		json_object_object_add(j, "sessions", json_object_new_int(n->sessions));
		json_object_object_add(j, "deaths", json_object_new_int(n->deaths));
		json_object_object_add(j, "by_end", by_end_json(n->by_end));
		struct json_object *dc = json_object_new_object();
		for (int e = 0; e < HE_NEND; e++)
			if (hist_end_is_death((enum hist_end)e))
				json_object_object_add(dc, hist_end_name((enum hist_end)e),
						       json_object_new_int(n->by_end[e]));
		json_object_object_add(j, "death_causes", dc);
		json_object_object_add(it, "lower_s", n->b.inconsistent ? NULL : secs(n->b.lower_ms));
		json_object_object_add(it, "upper_s", n->b.inconsistent ? NULL : secs(n->b.upper_ms));
		json_object_object_add(it, "samples", json_object_new_int(n->b.answered + n->b.unanswered));
		json_object_object_add(it, "answered", json_object_new_int(n->b.answered));
		json_object_object_add(it, "unanswered", json_object_new_int(n->b.unanswered));
		json_object_object_add(it, "consistent", json_object_new_boolean(!n->b.inconsistent));
		json_object_object_add(it, "tight", json_object_new_boolean(n->b.tight));
		json_object_object_add(j, "idle_timeout", it);
		json_object_array_add(a, j);
	}
	json_object_object_add(o, "networks", a);
	if (list) {
		struct json_object *l = json_object_new_array();
		for (size_t i = 0; i < nlist; i++)
			json_object_array_add(l, session_json(&list[i]));
		json_object_object_add(o, "list", l);
	}
	return o;
}

/* ---- text ---------------------------------------------------------------- */

static const char *js(struct json_object *o, const char *k)
{
	const char *s = json_object_get_string(json_object_object_get(o, k));
	return s ? s : "-";
}

static void hist_text(FILE *out, struct json_object *m, int color)
{
	(void)color;
	struct json_object *be = json_object_object_get(m, "by_end");
	fprintf(out, "sessions: %d, died: %d", json_object_get_int(json_object_object_get(m, "sessions")),
		json_object_get_int(json_object_object_get(m, "deaths")));
	const char *sep = " (";
	json_object_object_foreach(be, name, v) {
		if (json_object_get_int(v) > 0) {
			fprintf(out, "%s%s %d", sep, name, json_object_get_int(v));
			sep = ", ";
		}
	}
	fprintf(out, "%s\n", *sep == ',' ? ")" : "");
	struct json_object *nets = json_object_object_get(m, "networks");
	if (json_object_array_length(nets)) {
		fprintf(out, "  %-44s %-16s %8s %6s  %-22s %s\n", "network", "gateway", "sessions",
			"deaths", "idle timeout", "samples");
		for (size_t i = 0; i < json_object_array_length(nets); i++) {
			struct json_object *n = json_object_array_get_idx(nets, i);
			struct json_object *it = json_object_object_get(n, "idle_timeout");
			struct json_object *lo = json_object_object_get(it, "lower_s");
			struct json_object *up = json_object_object_get(it, "upper_s");
			char b[64];
			if (!json_object_get_boolean(json_object_object_get(it, "consistent")))
				snprintf(b, sizeof(b), "inconsistent");
			else if (lo && up)
				snprintf(b, sizeof(b), "%s-%s s%s", js(it, "lower_s"), js(it, "upper_s"),
					 json_object_get_boolean(json_object_object_get(it, "tight")) ?
					 " (tight)" : "");
			else if (lo)
				snprintf(b, sizeof(b), "above %s s", js(it, "lower_s"));
			else if (up)
				snprintf(b, sizeof(b), "at most %s s", js(it, "upper_s"));
			else
				snprintf(b, sizeof(b), "-");
			fprintf(out, "  %-44s %-16s %8d %6d  %-22s %d+%d\n", js(n, "id"), js(n, "gateway"),
				json_object_get_int(json_object_object_get(n, "sessions")),
				json_object_get_int(json_object_object_get(n, "deaths")), b,
				json_object_get_int(json_object_object_get(it, "answered")),
				json_object_get_int(json_object_object_get(it, "unanswered")));
		}
		fprintf(out, "  (samples: answered+unanswered idle writes; an idle death counts as unanswered)\n");
	}
	struct json_object *l = json_object_object_get(m, "list");
	if (l && json_object_array_length(l)) {
		fprintf(out, "  %-20s %-24s %-20s %10s  %-15s %s\n", "start", "target", "network",
			"duration s", "ending", "idle before end s");
		for (size_t i = 0; i < json_object_array_length(l); i++) {
			struct json_object *s = json_object_array_get_idx(l, i);
			fprintf(out, "  %-20s %-24.24s %-20.20s %10s  %-15s %s\n", js(s, "start"),
				js(s, "target"), js(s, "network"), js(s, "duration_s"), js(s, "end"),
				js(s, "end_idle_s"));
		}
	}
}

/* ---- findings ------------------------------------------------------------ */

static void keepalive_fix(struct finding *f, const char *host, int64_t lower_ms)
{
	long iv = idle_safe_interval((double)lower_ms / 1000);
	finding_evidence(f, "with ServerAliveInterval %ld and ServerAliveCountMax 3, a dead peer is "
			 "noticed within %ld s (Interval x (CountMax+1))", iv, iv * 4);
	struct fix *x = finding_fix(f, "~/.ssh/config (client)");
	fix_line(x, "Host %s", host ? host : "*");
	fix_line(x, "    ServerAliveInterval %ld", iv);
	fix_line(x, "    ServerAliveCountMax 3");
	x = finding_fix(f, "/etc/ssh/sshd_config (server, then reload sshd)");
	fix_line(x, "ClientAliveInterval %ld", iv);
	fix_line(x, "ClientAliveCountMax 3");
}

static void judge_net(const struct hist_netsum *n, const char *what, const char *host,
		      struct report *r)
{
	const struct hist_bracket *b = &n->b;
	char lbl[128];
	hist_net_label(lbl, sizeof(lbl), n->id, n->gateway);
	double lo = (double)b->lower_ms / 1000, up = (double)b->upper_ms / 1000;
	struct finding *f;
	if (b->inconsistent) {
		f = report_add(r, SEV_WARNING, "history.idle-inconsistent",
			       "On network %s, idle sessions%s died at random idle ages: loss or an "
			       "unstable path, not (only) an idle timeout", lbl, what);
		finding_evidence(f, "%d write(s) went unanswered after as little as %.1f s idle, while one "
				 "after %.1f s idle was answered: no idle-timeout bracket", b->ncontra,
				 (double)b->contra_min_ms / 1000, lo);
		finding_evidence(f, "network id %s; %d answered and %d unanswered idle writes", n->id,
				 b->answered, b->unanswered);
		finding_evidence(f, "'sshdoctor path TARGET' measures loss and jitter; "
				    "'--since' limits the history to after a change");
		return;
	}
	if (b->lower_ms < 0 && b->upper_ms < 0)
		return;
	enum severity sev = n->idle_deaths > 0 && b->upper_ms >= 0 ? SEV_WARNING : SEV_INFO;
	if (b->lower_ms >= 0 && b->upper_ms >= 0)
		f = report_add(r, sev, "history.idle-timeout",
			       "On network %s the path forgets idle flows after %.1f-%.1f s "
			       "(learned from %d session(s)%s)", lbl, lo, up, n->sessions, what);
	else if (b->upper_ms >= 0)
		f = report_add(r, sev, "history.idle-timeout",
			       "On network %s the path forgets idle flows by %.1f s at the latest "
			       "(learned from %d session(s)%s)", lbl, up, n->sessions, what);
	else
		f = report_add(r, SEV_INFO, "history.idle-timeout",
			       "On network %s the path keeps idle flows at least %.1f s "
			       "(learned from %d session(s)%s)", lbl, lo, n->sessions, what);
	if (b->lower_ms >= 0)
		finding_evidence(f, "%d idle write(s) answered, the longest after %.1f s idle", b->answered, lo);
	if (b->upper_ms >= 0)
		finding_evidence(f, "%d idle write(s) or death(s) unanswered, the shortest after %.1f s idle",
				 b->unanswered, up);
	if (n->idle_deaths) {
		char range[64];
		hist_idle_range(range, sizeof(range), n->idle_death_min_ms, n->idle_death_max_ms);
		finding_evidence(f, "%d session(s) died after %s idle (%d silently, %d by a reset)",
				 n->idle_deaths, range, n->by_end[HE_TIMEOUT], n->by_end[HE_RESET]);
	}
	if (b->tight)
		finding_evidence(f, "a tight bracket (%d samples near the lower bound, %d near the upper): "
				 "enough to prescribe without measuring", b->near_lower, b->near_upper);
	else if (b->lower_ms >= 0 && b->upper_ms >= 0)
		finding_evidence(f, "not yet tight (%d near the lower bound, %d near the upper; tight needs "
				 "3 each and a width of at most 2 s or 2%%): 'sshdoctor idle' measures it",
				 b->near_lower, b->near_upper);
	finding_evidence(f, "network id %s", n->id);
	if (b->lower_ms >= 1000 && b->upper_ms >= 0)
		keepalive_fix(f, host, b->lower_ms);
	else if (b->upper_ms >= 0)
		finding_evidence(f, "no answered idle write yet, so no safe keepalive interval: "
				    "'sshdoctor idle TARGET' measures the lower bound");
}

static void judge_deaths(const struct hist_summary *sum, const char *what, struct report *r)
{
	struct finding *f;
	if (!sum->deaths) {
		f = report_add(r, SEV_OK, "history.deaths", "None of %d recorded session(s)%s died",
			       sum->sessions, what);
	} else {
		struct strbuf sb = { 0 };
		for (int e = 0; e < HE_NEND; e++)
			if (hist_end_is_death((enum hist_end)e) && sum->by_end[e])
				sb_addf(&sb, "%s%d %s", sb.len ? ", " : "", sum->by_end[e],
					hist_end_name((enum hist_end)e));
		f = report_add(r, SEV_WARNING, "history.deaths", "%d of %d recorded session(s)%s died: %s",
			       sum->deaths, sum->sessions, what, sb.buf);
		sb_free(&sb);
	}
	for (size_t i = 0; i < sum->nnets; i++) {
		const struct hist_netsum *n = &sum->nets[i];
		char lbl[128];
		hist_net_label(lbl, sizeof(lbl), n->id, n->gateway);
		finding_evidence(f, "network %s: %d session(s), %d died (%d timeout, %d reset, %d server-closed)",
				 lbl, n->sessions, n->deaths, n->by_end[HE_TIMEOUT], n->by_end[HE_RESET],
				 n->by_end[HE_SERVER_CLOSED]);
		if (n->short_deaths)
			finding_evidence(f, "network %s: %d death(s) after less idle than the path is known to "
					 "keep (or while busy): loss, an outage or the server, not the idle timeout",
					 lbl, n->short_deaths);
	}
	if (sum->by_end[HE_CLIENT_KILLED])
		finding_evidence(f, "%d session(s) ended because ssh itself was killed (not counted as deaths)",
				 sum->by_end[HE_CLIENT_KILLED]);
}

void hist_judge(const struct hist_summary *sum, const struct hist_session *list, size_t nlist,
		const char *host, struct report *r)
{
	char *what = host ? xasprintf(" to %s", host) : xstrdup("");
	if (!sum->sessions) {
		struct finding *f = report_add(r, SEV_INFO, "history.empty",
					       "No sessions%s%s are recorded: the flight recorder is not "
					       "installed (or nothing matched)", host ? " to " : "",
					       host ? host : "");
		finding_evidence(f, "sessions are recorded by the relay in ssh's ProxyCommand; it also "
				    "keeps them alive with per-socket keepalives");
		finding_evidence(f, "to add it (undoable): sshdoctor audit --fix --relay%s%s",
				 host ? " " : "", host ? host : "");
		struct fix *x = finding_fix(f, "~/.ssh/config (client)");
		fix_line(x, "Host %s", host ? host : "*");
		fix_line(x, "    ProxyCommand sshdoctor relay %%h %%p");
		fix_line(x, "    ProxyUseFdpass yes");
	} else {
		judge_deaths(sum, what, r);
		for (size_t i = 0; i < sum->nnets; i++)
			judge_net(&sum->nets[i], what, host, r);
		if (sum->by_end[HE_SERVER_CLOSED]) {
			char range[64];
			hist_idle_range(range, sizeof(range), sum->sc_idle_min_ms, sum->sc_idle_max_ms);
			struct finding *f = report_add(
				r, SEV_WARNING, "history.server-closed",
				"The server closed %d session(s)%s itself, after %s idle: its own policy, which "
				"keepalives cannot prevent", sum->by_end[HE_SERVER_CLOSED], what, range);
			finding_evidence(f, "a FIN from the server while ssh still ran: the path was working");
			finding_evidence(f, "on the server: sshd -T | grep -Ei 'channeltimeout|unusedconnectiontimeout'; "
					    "a shell TMOUT/autologout ends idle shells the same way");
			finding_evidence(f, "'sshdoctor idle TARGET' tells the server's policy from a middlebox");
		}
		if (sum->by_end[HE_SUSPENDED]) {
			char d[32];
			format_duration(d, sizeof(d), sum->suspended_ms);
			struct finding *f = report_add(r, SEV_INFO, "history.suspend",
						       "%d session(s)%s ended because this machine slept "
						       "(%s asleep in all)", sum->by_end[HE_SUSPENDED], what, d);
			finding_evidence(f, "no keepalive runs while the machine sleeps: the path and the "
					    "server forget the session");
			finding_evidence(f, "tmux or screen on the server keep the work; mosh reconnects after a sleep");
		}
		if (sum->by_end[HE_NETWORK_CHANGED]) {
			struct finding *f = report_add(r, SEV_INFO, "history.network-changed",
						       "%d session(s)%s ended because the network changed "
						       "under them (new address or route)",
						       sum->by_end[HE_NETWORK_CHANGED], what);
			finding_evidence(f, "a TCP connection cannot move to a new address: no keepalive helps");
			finding_evidence(f, "tmux or screen on the server keep the work; mosh roams between networks");
		}
	}
	report_measure(r, "history", hist_json(sum, list, nlist), hist_text);
	free(what);
}
