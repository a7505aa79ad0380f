/* logs_report.c - the logs engine's judgement: findings from the counts,
 * sessions and anchors gathered by logs.c, and the measurements (JSON, text). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logs_int.h"


static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int cmp_anchor(const void *a, const void *b)
{
	int64_t x = ((const struct anchor *)a)->t, y = ((const struct anchor *)b)->t;
	return (x > y) - (x < y);
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

static void ev_evidence(struct finding *f, const struct logs_state *st, enum logev e)
{
	const struct evstat *es = &st->ev[e];
	if (!es->n)
		return;
	char a[32], b[32];
	logs_iso(a, sizeof(a), es->first_ms);
	logs_iso(b, sizeof(b), es->last_ms);
	if (es->first_ms >= 0)
		finding_evidence(f, "%s: %llu, from %s to %s", logev_name(e),
				 (unsigned long long)es->n, a, b);
	else
		finding_evidence(f, "%s: %llu (lines without time stamps)", logev_name(e),
				 (unsigned long long)es->n);
	for (size_t i = 0; i < es->nex && i < 2; i++)
		finding_evidence(f, "  e.g. %s", es->ex[i]);
}

static uint64_t evsum(const struct logs_state *st, const enum logev *ids, size_t n)
{
	uint64_t s = 0;
	for (size_t i = 0; i < n; i++)
		s += st->ev[ids[i]].n;
	return s;
}

/* "Top sources" for one event: up to 5 peers, most first. */
static void top_peers(struct finding *f, const struct logs_state *st, enum logev e)
{
	size_t chosen[5];
	for (size_t k = 0; k < 5; k++) {
		size_t best = MAX_PEERS;
		for (size_t i = 0; i < MAX_PEERS; i++) {	/* 5 passes over a fixed table */
			const struct peer *p = &st->peers[i];
			int taken = 0;
			for (size_t c = 0; c < k; c++)
				taken |= chosen[c] == i;
			if (p->addr[0] && p->n[e] && !taken &&
			    (best == MAX_PEERS || p->n[e] > st->peers[best].n[e]))
				best = i;
		}
		if (best == MAX_PEERS)
			break;
		chosen[k] = best;
		finding_evidence(f, "top source %s: %u", st->peers[best].addr, st->peers[best].n[e]);
	}
}

static void keepalive_fixes(struct finding *f)
{
	struct fix *x = finding_fix(f, "/etc/ssh/sshd_config");
	fix_line(x, "ClientAliveInterval 60");
	fix_line(x, "ClientAliveCountMax 3");
	x = finding_fix(f, "~/.ssh/config");
	fix_line(x, "ServerAliveInterval 60");
}

/* Disconnects within seconds of a kernel link event or an sshd restart. */
static void find_correlated(struct logs_state *st, struct report *r)
{
	if (!st->nanch || !st->ndisc)
		return;
	qsort(st->disc, st->ndisc, sizeof(*st->disc), cmp_i64);
	qsort(st->anch, st->nanch, sizeof(*st->anch), cmp_anchor);
	uint64_t by[LEV_NPUBLIC] = { 0 };
	int64_t first_at[LEV_NPUBLIC];
	for (int i = 0; i < LEV_NPUBLIC; i++)
		first_at[i] = -1;
	uint64_t total = 0;
	for (size_t d = 0; d < st->ndisc; d++) {
		/* first anchor at or after disc - CORR_AFTER_MS, then the few within reach */
		size_t lo = 0, hi = st->nanch;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (st->anch[mid].t < st->disc[d] - CORR_AFTER_MS)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (size_t a = lo; a < st->nanch && st->anch[a].t <= st->disc[d] + CORR_BEFORE_MS; a++) {
			int64_t dt = st->disc[d] - st->anch[a].t;
			/* a restart cannot cause what came before it; kernel lines may lag */
			int64_t before = st->anch[a].ev == LEV_SERVER_RESTART ? 0 : CORR_BEFORE_MS;
			if (dt >= -before && dt <= CORR_AFTER_MS) {
				by[st->anch[a].ev]++;
				if (first_at[st->anch[a].ev] < 0)
					first_at[st->anch[a].ev] = st->anch[a].t;
				total++;
				break;
			}
		}
	}
	if (!total)
		return;
	struct finding *f = report_add(r, SEV_CRITICAL, "logs.correlated-drops",
				       "%llu disconnects happened within seconds of a kernel network event or an sshd restart",
				       (unsigned long long)total);
	for (int e = 1; e < LEV_NPUBLIC; e++) {
		if (!by[e])
			continue;
		char a[32];
		logs_iso(a, sizeof(a), first_at[e]);
		finding_evidence(f, "%llu disconnects within -%ds..+%ds of %s (first at %s)",
				 (unsigned long long)by[e], CORR_BEFORE_MS / 1000, CORR_AFTER_MS / 1000,
				 logev_name(e), a);
		ev_evidence(f, st, (enum logev)e);
	}
	if (by[LEV_KERNEL_LINK_DOWN] || by[LEV_KERNEL_NIC_RESET]) {
		struct fix *x = finding_fix(f, "the server's network interface");
		fix_line(x, "# the link or the NIC failed, not ssh: check cabling, driver and firmware (dmesg)");
	}
	if (by[LEV_SERVER_RESTART]) {
		struct fix *x = finding_fix(f, "systemctl edit ssh");
		fix_line(x, "[Service]");
		fix_line(x, "KillMode=process");
	}
	if (by[LEV_KERNEL_OOM]) {
		struct fix *x = finding_fix(f, "the server");
		fix_line(x, "# sshd was killed by the OOM killer: add memory or protect it (OOMScoreAdjust=-1000)");
	}
}

/* An idle timer in a NAT, firewall or load balancer cuts sessions that went
 * quiet after the same time: many sessions ending the same unexpected way after
 * nearly the same duration, at least a minute (no such timer is shorter; short
 * sessions are logins that failed or scripts that ended). The confidence grows
 * with the count and the share of those endings in the cluster; the severity
 * follows it, low confidence is info only. */
#define IDLE_MIN_S 60.0f
static void find_idle_signature(struct logs_state *st, struct report *r)
{
	size_t n = st->ud_seen < RESERVOIR ? (size_t)st->ud_seen : RESERVOIR;
	float *d = xmalloc((n ? n : 1) * sizeof(float));
	for (int e = 1; e < LEV_NPUBLIC; e++) {
		size_t k = 0, all = 0;
		for (size_t i = 0; i < n; i++)
			if (st->ud[i].end == e) {
				all++;
				if (st->ud[i].s >= IDLE_MIN_S)
					d[k++] = st->ud[i].s;
			}
		if (k < 3)
			continue;
		qsort(d, k, sizeof(float), cmp_float);
		/* the densest window [d[i], d[i] + max(10 s, 5%)]: two pointers */
		size_t best = 0, bi = 0, bj = 0;
		for (size_t i = 0, j = 0; i < k; i++) {
			float w = d[i] * 0.05f > 10.0f ? d[i] * 0.05f : 10.0f;
			if (j < i)
				j = i;
			while (j + 1 < k && d[j + 1] <= d[i] + w)
				j++;
			if (j - i + 1 > best) {
				best = j - i + 1;
				bi = i;
				bj = j;
			}
		}
		float lo = d[bi], hi = d[bj], mid = d[bi + (bj - bi) / 2];
		double share = (double)best / (double)all;
		const char *conf;
		enum severity sev;
		if (best >= 8 && share >= 0.7) {
			conf = "high";
			sev = SEV_CRITICAL;
		} else if (best >= 5 && share >= 0.5) {
			conf = "medium";
			sev = SEV_WARNING;
		} else if (best >= 3 && share >= 0.3) {
			conf = "low";
			sev = SEV_INFO;
		} else {
			continue;
		}
		struct finding *f = report_add(r, sev, "logs.idle-timeout",
					       "%zu sessions ended by %s after about %.0f s (%.0f-%.0f s): the signature of an idle timeout (confidence %s)",
					       best, logev_name((enum logev)e), mid, lo, hi, conf);
		finding_evidence(f, "confidence %s: %zu of %zu sessions ended by %s lasted %.0f-%.0f s (%zu lasted at least %.0f s); high needs 8 and 70%%, medium 5 and 50%%",
				 conf, best, all, logev_name((enum logev)e), lo, hi, k, (double)IDLE_MIN_S);
		finding_evidence(f, "a NAT, firewall or load balancer forgets idle flows; 'sshdoctor idle HOST' measures it");
		ev_evidence(f, st, (enum logev)e);
		keepalive_fixes(f);
	}
	free(d);
	/* ClientAlive timeouts concentrated on one network */
	for (size_t i = 0; i < MAX_PEERS; i++) {
		const struct peer *p = &st->peers[i];
		if (p->addr[0] && p->n[LEV_DISC_CLIENT_TIMEOUT] >= 3) {
			struct finding *f = report_add(r, SEV_WARNING, "logs.client-timeout-source",
						       "%u ClientAlive timeouts from %s: that client's path goes silent",
						       p->n[LEV_DISC_CLIENT_TIMEOUT], p->addr);
			keepalive_fixes(f);
			break;
		}
	}
}

static void find_disconnects(struct logs_state *st, struct report *r)
{
	if (st->ev[LEV_DISC_CLIENT_TIMEOUT].n) {
		struct finding *f = report_add(r, SEV_WARNING, "logs.client-timeout",
					       "%llu sessions cut by sshd's ClientAlive check: the client stopped answering",
					       (unsigned long long)st->ev[LEV_DISC_CLIENT_TIMEOUT].n);
		ev_evidence(f, st, LEV_DISC_CLIENT_TIMEOUT);
		finding_evidence(f, "the client sleeps or is frozen, or the path silently drops the flow");
		struct fix *x = finding_fix(f, "~/.ssh/config");
		fix_line(x, "ServerAliveInterval 30");
	}
	if (st->ev[LEV_DISC_SERVER_TIMEOUT].n) {
		struct finding *f = report_add(r, SEV_WARNING, "logs.server-timeout",
					       "%llu sessions cut by the client's ServerAlive check: the server stopped answering",
					       (unsigned long long)st->ev[LEV_DISC_SERVER_TIMEOUT].n);
		ev_evidence(f, st, LEV_DISC_SERVER_TIMEOUT);
		finding_evidence(f, "the path dropped the flow (idle timeout, link loss) or the server hung");
	}
	static const enum logev net[] = { LEV_DISC_RESET, LEV_DISC_BROKEN_PIPE, LEV_DISC_CLOSED };
	uint64_t n = evsum(st, net, ARRAY_SIZE(net));
	if (n) {
		struct finding *f = report_add(r, SEV_WARNING, "logs.network-drops",
					       "%llu sessions ended by a reset, a broken pipe or a close without a goodbye",
					       (unsigned long long)n);
		for (size_t i = 0; i < ARRAY_SIZE(net); i++)
			ev_evidence(f, st, net[i]);
		keepalive_fixes(f);
	}
}

static void find_limits(struct logs_state *st, struct report *r)
{
	if (st->ev[LEV_LIMIT_MAXSTARTUPS].n) {
		struct finding *f = report_add(r, SEV_WARNING, "logs.maxstartups",
					       "%llu connections dropped past MaxStartups (too many unauthenticated connections)",
					       (unsigned long long)st->ev[LEV_LIMIT_MAXSTARTUPS].n);
		ev_evidence(f, st, LEV_LIMIT_MAXSTARTUPS);
		top_peers(f, st, LEV_LIMIT_MAXSTARTUPS);
		struct fix *x = finding_fix(f, "/etc/ssh/sshd_config");
		fix_line(x, "MaxStartups 30:30:100");
		x = finding_fix(f, "firewall");
		fix_line(x, "# or block the scanning sources listed above");
	}
	if (st->ev[LEV_LIMIT_PENALTY].n) {
		struct finding *f = report_add(r, SEV_WARNING, "logs.penalty",
					       "%llu connections refused by PerSourcePenalties",
					       (unsigned long long)st->ev[LEV_LIMIT_PENALTY].n);
		ev_evidence(f, st, LEV_LIMIT_PENALTY);
		top_peers(f, st, LEV_LIMIT_PENALTY);
		struct fix *x = finding_fix(f, "/etc/ssh/sshd_config");
		fix_line(x, "PerSourcePenaltyExemptList ADDR/MASK   # your own networks only");
	}
	if (st->ev[LEV_KEX_NO_MATCH].n) {
		struct finding *f = report_add(r, SEV_WARNING, "logs.kex-no-match",
					       "%llu connections failed: client and server share no algorithm",
					       (unsigned long long)st->ev[LEV_KEX_NO_MATCH].n);
		ev_evidence(f, st, LEV_KEX_NO_MATCH);
		struct fix *x = finding_fix(f, "the client");
		fix_line(x, "# upgrade the client (preferred), or allow its offer with a '+' line in sshd_config, e.g.");
		fix_line(x, "Ciphers +aes128-ctr");
	}
}

static void find_info(struct logs_state *st, struct report *r)
{
	static const enum logev pre[] = { LEV_PREAUTH_CLOSED, LEV_BANNER_INVALID, LEV_PREAUTH_GRACE };
	uint64_t n = evsum(st, pre, ARRAY_SIZE(pre));
	if (n) {
		struct finding *f = report_add(r, SEV_INFO, "logs.preauth",
					       "%llu connections ended before authentication (scanners, probes, slow logins)",
					       (unsigned long long)n);
		for (size_t i = 0; i < ARRAY_SIZE(pre); i++)
			ev_evidence(f, st, pre[i]);
		top_peers(f, st, LEV_PREAUTH_CLOSED);
	}
	if (st->ev[LEV_AUTH_FAILURE].n) {
		struct finding *f = report_add(r, SEV_INFO, "logs.auth-failure",
					       "%llu failed authentications", (unsigned long long)st->ev[LEV_AUTH_FAILURE].n);
		ev_evidence(f, st, LEV_AUTH_FAILURE);
		top_peers(f, st, LEV_AUTH_FAILURE);
	}
	static const enum logev idle[] = { LEV_IDLE_UNUSED, LEV_IDLE_CHANNEL };
	n = evsum(st, idle, ARRAY_SIZE(idle));
	if (n) {
		struct finding *f = report_add(r, SEV_INFO, "logs.idle-policy",
					       "%llu connections or channels closed by sshd's own idle policy",
					       (unsigned long long)n);
		for (size_t i = 0; i < ARRAY_SIZE(idle); i++)
			ev_evidence(f, st, idle[i]);
		struct fix *x = finding_fix(f, "/etc/ssh/sshd_config");
		fix_line(x, "# intended? otherwise raise or remove UnusedConnectionTimeout / ChannelTimeout");
	}
	if (st->ev[LEV_SERVER_RESTART].n) {
		struct finding *f = report_add(r, SEV_INFO, "logs.server-restart",
					       "sshd stopped or restarted %llu times",
					       (unsigned long long)st->ev[LEV_SERVER_RESTART].n);
		ev_evidence(f, st, LEV_SERVER_RESTART);
	}
	if (st->ev[LEV_KERNEL_OOM].n) {
		struct finding *f = report_add(r, SEV_WARNING, "logs.oom-kill",
					       "the kernel's OOM killer killed %llu processes",
					       (unsigned long long)st->ev[LEV_KERNEL_OOM].n);
		ev_evidence(f, st, LEV_KERNEL_OOM);
	}
	static const enum logev kern[] = { LEV_KERNEL_LINK_DOWN, LEV_KERNEL_NIC_RESET };
	n = evsum(st, kern, ARRAY_SIZE(kern));
	if (n) {
		struct finding *f = report_add(r, SEV_INFO, "logs.kernel-link",
					       "%llu network link-down or NIC reset events in the kernel log",
					       (unsigned long long)n);
		for (size_t i = 0; i < ARRAY_SIZE(kern); i++)
			ev_evidence(f, st, kern[i]);
	}
}

static void find_input(struct logs_state *st, struct report *r)
{
	uint64_t bin = 0, lng = 0, bts = 0;
	size_t bad = 0;
	for (size_t i = 0; i < st->nsrc; i++) {
		bin += st->srcs[i].binary;
		lng += st->srcs[i].long_lines;
		bts += st->srcs[i].broken_ts;
		bad += st->srcs[i].error != NULL;
	}
	if (bad) {
		struct finding *f = report_add(r, SEV_WARNING, "logs.unreadable",
					       "%zu of %zu log sources could not be read completely", bad, st->nsrc);
		for (size_t i = 0; i < st->nsrc; i++)
			if (st->srcs[i].error)
				finding_evidence(f, "%s: %s", st->srcs[i].name, st->srcs[i].error);
	}
	if (bin || lng || bts) {
		struct finding *f = report_add(r, SEV_INFO, "logs.bad-input",
					       "skipped or partly read lines: %llu binary, %llu longer than %d KiB, %llu with a broken time stamp",
					       (unsigned long long)bin, (unsigned long long)lng,
					       LOGREAD_MAX_LINE / 1024, (unsigned long long)bts);
		(void)f;
	}
	if (st->evicted) {
		struct finding *f = report_add(r, SEV_INFO, "logs.sessions-evicted",
					       "%llu connections never ended in the log and were evicted from the %zu-entry table",
					       (unsigned long long)st->evicted, st->cap);
		finding_evidence(f, "their endings were still counted as events, not as sessions");
	}
	if (!st->ssh_lines && !bad)
		report_add(r, SEV_INFO, "logs.no-ssh-lines", "no sshd or ssh lines in %llu lines read",
			   (unsigned long long)st->lines);
}

/* ---- measurements ---- */

static struct json_object *sources_json(const struct logs_state *st)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < st->nsrc; i++) {
		const struct src *s = &st->srcs[i];
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(s->name));
		json_object_object_add(o, "lines", json_object_new_int64((int64_t)s->lines));
		json_object_object_add(o, "binary_lines", json_object_new_int64((int64_t)s->binary));
		json_object_object_add(o, "long_lines", json_object_new_int64((int64_t)s->long_lines));
		json_object_object_add(o, "broken_timestamps", json_object_new_int64((int64_t)s->broken_ts));
		json_object_object_add(o, "error", s->error ? json_object_new_string(s->error) : NULL);
		json_object_array_add(a, o);
	}
	return a;
}

static struct json_object *sessions_json(struct logs_state *st)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "count", json_object_new_int64((int64_t)st->nsess));
	struct json_object *be = json_object_new_object();
	for (int e = 1; e < LEV_NPUBLIC; e++)
		if (st->by_end[e])
			json_object_object_add(be, logev_name((enum logev)e),
					       json_object_new_int64((int64_t)st->by_end[e]));
	json_object_object_add(o, "by_end", be);
	size_t n = st->dur_seen < RESERVOIR ? (size_t)st->dur_seen : RESERVOIR;
	struct json_object *d = json_object_new_object();
	if (n) {
		qsort(st->dur, n, sizeof(float), cmp_float);
		json_object_object_add(d, "p50", logs_json_secs(st->dur[n / 2]));
		json_object_object_add(d, "p90", logs_json_secs(st->dur[(n * 9) / 10 < n ? (n * 9) / 10 : n - 1]));
		json_object_object_add(d, "max", logs_json_secs(st->dur_max));
	} else {
		json_object_object_add(d, "p50", NULL);
		json_object_object_add(d, "p90", NULL);
		json_object_object_add(d, "max", NULL);
	}
	json_object_object_add(o, "duration_s", d);
	size_t open = 0;
	for (size_t i = 0; i < st->cap; i++)
		open += st->sess[i].used && st->sess[i].authed;
	json_object_object_add(o, "open_at_end", json_object_new_int64((int64_t)open));
	json_object_object_add(o, "evicted", json_object_new_int64((int64_t)st->evicted));
	json_object_object_add(o, "stale_preauth", json_object_new_int64((int64_t)st->stale));
	if (st->list) {
		json_object_object_add(o, "list", json_object_get(st->list));
		json_object_object_add(o, "list_dropped", json_object_new_int64((int64_t)st->list_dropped));
	}
	return o;
}

/* A log line to a terminal: control bytes (escape sequences) as '?'. */
static void put_line(FILE *out, const char *s)
{
	fputs("    ", out);
	for (; *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, out);
	fputc('\n', out);
}

static void logs_text(FILE *out, struct json_object *m, int color)
{
	(void)color;
	struct json_object *v, *s, *u;
	int64_t unrec = json_object_get_int64(json_object_object_get(m, "unrecognized_ssh_lines"));
	int listed = json_object_object_get_ex(m, "unrecognized", &u);
	fprintf(out, "read %s lines, %s from ssh (%lld unrecognized%s)\n",
		json_object_get_string(json_object_object_get(m, "lines")),
		json_object_get_string(json_object_object_get(m, "ssh_lines")), (long long)unrec,
		unrec && !listed ? ": --unrecognized lists them" : "");
	if (listed && unrec) {
		struct json_object *a = json_object_object_get(u, "lines");
		fprintf(out, "unrecognized ssh lines (first %zu):\n", json_object_array_length(a));
		for (size_t i = 0; i < json_object_array_length(a); i++)
			put_line(out, json_object_get_string(json_object_array_get_idx(a, i)));
		int64_t more = json_object_get_int64(json_object_object_get(u, "more"));
		if (more)
			fprintf(out, "    ... and %lld more\n", (long long)more);
	}
	if (json_object_object_get_ex(m, "events", &v)) {
		json_object_object_foreach(v, k, n) {
			if (json_object_get_int64(n))
				fprintf(out, "  %-28s %lld\n", k, (long long)json_object_get_int64(n));
		}
	}
	if (json_object_object_get_ex(m, "sessions", &s)) {
		struct json_object *d = json_object_object_get(s, "duration_s");
		fprintf(out, "sessions: %s", json_object_get_string(json_object_object_get(s, "count")));
		if (json_object_object_get(d, "p50"))
			fprintf(out, " (duration p50 %.0fs, p90 %.0fs, max %.0fs)",
				json_object_get_double(json_object_object_get(d, "p50")),
				json_object_get_double(json_object_object_get(d, "p90")),
				json_object_get_double(json_object_object_get(d, "max")));
		fputc('\n', out);
	}
}

void logs_report(struct logs_state *st, struct report *r)
{
	logs_flush(st);
	find_correlated(st, r);
	find_idle_signature(st, r);
	find_disconnects(st, r);
	find_limits(st, r);
	find_info(st, r);
	find_input(st, r);
	struct json_object *m = json_object_new_object();
	json_object_object_add(m, "lines", json_object_new_int64((int64_t)st->lines));
	json_object_object_add(m, "ssh_lines", json_object_new_int64((int64_t)st->ssh_lines));
	json_object_object_add(m, "unrecognized_ssh_lines", json_object_new_int64((int64_t)st->unrec));
	if (st->o.unrecognized) {
		struct json_object *u = json_object_new_object(), *a = json_object_new_array();
		for (size_t i = 0; i < st->nunrec_ex; i++)
			json_object_array_add(a, json_object_new_string(st->unrec_ex[i]));
		json_object_object_add(u, "lines", a);
		json_object_object_add(u, "more", json_object_new_int64((int64_t)(st->unrec - st->nunrec_ex)));
		json_object_object_add(m, "unrecognized", u);
	}
	json_object_object_add(m, "sources", sources_json(st));
	struct json_object *ev = json_object_new_object();
	for (int e = 1; e < LEV_NPUBLIC; e++)
		json_object_object_add(ev, logev_name((enum logev)e),
				       json_object_new_int64((int64_t)st->ev[e].n));
	json_object_object_add(m, "events", ev);
	json_object_object_add(m, "sessions", sessions_json(st));
	report_measure(r, "logs", m, logs_text);
}

