/* pathstat.c - path analysers, pure: RTT statistics, loss, the black-hole
 * search, and the judgement that turns a struct path_meas into findings. */
#include <ctype.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "path.h"

/* Thresholds: loss that TCP hides but users feel, and jitter that makes
 * keystrokes stutter. */
#define LOSS_WARN_PCT 2.0
#define LOSS_CRIT_PCT 15.0
#define LOAD_LOSS_WARN_PCT 3.0
#define JITTER_WARN_MS 30.0
#define LATENCY_WARN_MS 300.0

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* No libm: the tool links without it. */
static double absd(double v)
{
	return v < 0 ? -v : v;
}

static double nearest_rank(const double *sorted, size_t n, size_t pct)
{
	size_t k = (pct * n + 99) / 100;
	return sorted[k ? k - 1 : 0];
}

void path_rtt_stats(const double *rtt, size_t n, struct rtt_stats *s)
{
	memset(s, 0, sizeof(*s));
	if (!n)
		return;
	double *v = xmalloc(n * sizeof(*v)), sum = 0, jsum = 0;
	memcpy(v, rtt, n * sizeof(*v));
	qsort(v, n, sizeof(*v), cmp_double);
	for (size_t i = 0; i < n; i++) {
		sum += rtt[i];
		if (i)
			jsum += absd(rtt[i] - rtt[i - 1]);
	}
	s->n = n;
	s->min = v[0];
	s->max = v[n - 1];
	s->avg = sum / (double)n;
	s->p50 = nearest_rank(v, n, 50);
	s->p90 = nearest_rank(v, n, 90);
	s->jitter = n > 1 ? jsum / (double)(n - 1) : 0;
	free(v);
}

double path_loss_pct(size_t sent, size_t lost)
{
	return sent ? 100.0 * (double)lost / (double)sent : 0;
}

long long path_parse_size(const char *s)
{
	if (!s || !isdigit((unsigned char)*s))
		return -1;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	unsigned long long mult = 1;
	if (*end == 'K' || *end == 'k')
		mult = 1ULL << 10;
	else if (*end == 'M' || *end == 'm')
		mult = 1ULL << 20;
	else if (*end == 'G' || *end == 'g')
		mult = 1ULL << 30;
	else if (*end)
		return -1;
	if (mult > 1 && end[1] && strcmp(end + 1, "B") && strcmp(end + 1, "iB"))
		return -1;
	if (v > (1ULL << 40) / mult)
		return -1;
	return (long long)(v * mult);
}

/* --- black-hole search -------------------------------------------------------- */

/* Sizes that straddle every common path MTU; the last ones need full segments. */
static const int bh_ladder[] = { 256, 512, 1024, 1152, 1280, 1344, 1408, 1472, 2048, 4096, 8192 };

void bh_init(struct bh_search *b)
{
	memset(b, 0, sizeof(*b));
}

int bh_next(const struct bh_search *b)
{
	if (b->probes >= BH_MAX_PROBES)
		return 0;
	if (!b->fail) {
		for (size_t i = 0; i < ARRAY_SIZE(bh_ladder); i++)
			if (bh_ladder[i] > b->ok)
				return bh_ladder[i];
		return 0;	/* the whole ladder came back: no black hole */
	}
	if (!b->confirmed)
		return b->fail;	/* one failure might be bad luck: try it again */
	if (b->fail - b->ok <= PATH_BH_RESOLUTION)
		return 0;
	return (b->ok + b->fail) / 2;
}

void bh_result(struct bh_search *b, int size, int passed)
{
	if (b->probes >= 0 && (size_t)b->probes < ARRAY_SIZE(b->steps))
		b->steps[b->probes] = passed ? size : -size;
	b->probes++;
	if (passed) {
		if (size > b->ok)
			b->ok = size;
		if (b->fail && size >= b->fail) {	/* the earlier failure was luck */
			b->fail = 0;
			b->confirmed = 0;
		}
		return;
	}
	if (b->fail && size == b->fail && !b->confirmed) {
		b->confirmed = 1;
		return;
	}
	if (!b->fail || size < b->fail)
		b->fail = size;
	if (b->ok && !b->confirmed && size != b->fail)
		b->confirmed = 1;
}

/* An echo of N bytes is one SSH channel-data packet: length 4, padding length 1,
 * type + channel + string length 9, padding at least 4, MAC 16; then TCP with
 * timestamps 32 and IP 20 (40 for IPv6). The minimum, so that ok + overhead is
 * a packet size known to pass: a fix built on it cannot be too big. */
int bh_overhead(int ipv6)
{
	return 4 + 1 + 9 + 4 + 16 + 32 + (ipv6 ? 40 : 20);
}

/* --- judgement ---------------------------------------------------------------- */

static struct json_object *jnum(double v)
{
	char buf[48];
	snprintf(buf, sizeof(buf), "%.2f", v);	/* two decimals in JSON, not %.17g */
	return json_object_new_double_s(strtod(buf, NULL), buf);
}

static void direct_series(const struct path_meas *m, double *buf, size_t *n, size_t *sent,
			  size_t *lost, double *jitter)
{
	const struct probe_series *s[] = { &m->tcp, &m->icmp };
	double jw = 0, jn = 0;
	int cut = path_rate_limited(m);
	*n = *sent = *lost = 0;
	for (size_t i = 0; i < ARRAY_SIZE(s); i++) {
		if (!s[i]->available)
			continue;
		if (i == 0 && cut >= 0) {	/* the rate limit's drops are not loss */
			size_t k = 0;
			for (int j = 0; j < cut; j++)
				k += m->tcp_outcome[j] == 1 || m->tcp_outcome[j] == 2;
			k = k < m->tcp.n ? k : m->tcp.n;
			memcpy(buf + *n, m->tcp.rtt, k * sizeof(double));
			*n += k;
			*sent += (size_t)cut;
			for (int j = 0; j < cut; j++)
				*lost += m->tcp_outcome[j] == 0;
			continue;
		}
		memcpy(buf + *n, s[i]->rtt, s[i]->n * sizeof(double));
		*n += s[i]->n;
		*sent += s[i]->sent;
		*lost += s[i]->lost;
		struct rtt_stats st;
		path_rtt_stats(s[i]->rtt, s[i]->n, &st);
		if (st.n > 1) {	/* jitter per series, weighted by its pairs */
			jw += st.jitter * (double)(st.n - 1);
			jn += (double)(st.n - 1);
		}
	}
	*jitter = jn ? jw / jn : 0;
}

/* Go-back-N after a timeout and tail-loss probes resend segments that had
 * arrived; the receiver reports those as DSACKs, so they are not counted. */
double path_load_loss(const struct tcpi_snap *b, const struct tcpi_snap *a)
{
	if (!b->valid || !a->valid)
		return -1;
	uint32_t segs = a->data_segs_out - b->data_segs_out;
	uint32_t re = a->total_retrans - b->total_retrans;
	uint32_t dup = a->dsack_dups - b->dsack_dups;
	re = dup < re ? re - dup : 0;
	return segs >= 20 ? path_loss_pct(segs, re > segs ? segs : re) : -1;
}

double path_echo_loss(const struct path_meas *m, uint32_t *segs, uint32_t *retrans)
{
	const struct tcpi_snap *b = &m->echo_before, *a = &m->echo_after;
	*segs = *retrans = 0;
	if (!b->valid || !a->valid)
		return -1;
	uint32_t sg = a->data_segs_out - b->data_segs_out;
	uint32_t re = a->total_retrans - b->total_retrans;
	uint32_t dup = a->dsack_dups - b->dsack_dups;
	re = dup < re ? re - dup : 0;
	if (sg < 10)
		return -1;
	*segs = sg;
	*retrans = re > sg ? sg : re;
	return path_loss_pct(*segs, *retrans);
}

/* The other channels must vouch for the path: ICMP or the session's own
 * segments measured, and clean. */
static int others_clean(const struct path_meas *m)
{
	int vouched = 0;
	if (m->icmp.available && m->icmp.sent >= 5) {
		if (path_loss_pct(m->icmp.sent, m->icmp.lost) >= LOSS_WARN_PCT)
			return 0;
		vouched = 1;
	}
	uint32_t segs, re;
	double el = path_echo_loss(m, &segs, &re);
	if (el >= 0) {
		if (el >= LOAD_LOSS_WARN_PCT || m->echo.lost)
			return 0;
		vouched = 1;
	}
	return vouched;
}

int path_rate_limited(const struct path_meas *m)
{
	int n = (int)m->tcp.sent;
	if (n < 4 || n > PATH_MAX_COUNT || !others_clean(m))
		return -1;
	/* the first handshake that failed, after which nearly all fail */
	for (int i = 1; i + 3 <= n; i++) {
		if (m->tcp_outcome[i] == 1)
			continue;
		int head_ok = 0, tail_bad = 0;
		for (int j = 0; j < i; j++)
			head_ok += m->tcp_outcome[j] == 1;
		for (int j = i; j < n; j++)
			tail_bad += m->tcp_outcome[j] != 1;
		if (head_ok * 10 >= i * 9 && tail_bad >= 3 && tail_bad * 10 >= (n - i) * 8)
			return i;
		if (head_ok * 10 < i * 9)
			return -1;
	}
	return -1;
}

static double load_loss(const struct path_meas *m)
{
	return path_load_loss(&m->before, &m->after);
}

int path_suspected_mtu(const struct path_meas *m)
{
	return m->bh.ok ? m->bh.ok + bh_overhead(m->ipv6) : 0;
}

static int blackhole(const struct path_meas *m)
{
	return m->bh_tested && m->bh.fail && m->bh.confirmed && m->bh.ok;
}

static struct json_object *measurements(const struct path_meas *m, const struct rtt_stats *st,
					double loss, double jitter, double lload)
{
	struct json_object *o = json_object_new_object(), *rtt = NULL;
	if (st->n) {
		rtt = json_object_new_object();
		json_object_object_add(rtt, "min", jnum(st->min));
		json_object_object_add(rtt, "avg", jnum(st->avg));
		json_object_object_add(rtt, "p50", jnum(st->p50));
		json_object_object_add(rtt, "p90", jnum(st->p90));
		json_object_object_add(rtt, "max", jnum(st->max));
	}
	json_object_object_add(o, "rtt_ms", rtt);
	json_object_object_add(o, "jitter_ms", st->n > 1 ? jnum(jitter) : NULL);
	uint32_t es, er;
	json_object_object_add(o, "loss_pct", m->tcp.sent + m->icmp.sent ||
			       path_echo_loss(m, &es, &er) >= 0 ? jnum(loss) : NULL);
	json_object_object_add(o, "loss_under_load_pct", lload >= 0 ? jnum(lload) : NULL);
	int pm = m->pmtu.pmtu ? m->pmtu.pmtu : blackhole(m) ? path_suspected_mtu(m) : 0;
	json_object_object_add(o, "pmtu", pm ? json_object_new_int(pm) : NULL);
	json_object_object_add(o, "largest_echo_bytes",
			       m->bh_tested && m->bh.ok ? json_object_new_int(m->bh.ok) : NULL);
	json_object_object_add(o, "blackhole", json_object_new_boolean(blackhole(m)));
	return o;
}

/* The per-method detail, so a reader can see where each figure came from. */
static struct json_object *series_json(const struct probe_series *s)
{
	struct json_object *o = json_object_new_object();
	struct rtt_stats st;
	path_rtt_stats(s->rtt, s->n, &st);
	json_object_object_add(o, "available", json_object_new_boolean(s->available));
	json_object_object_add(o, "sent", json_object_new_int((int)s->sent));
	json_object_object_add(o, "lost", json_object_new_int((int)s->lost));
	json_object_object_add(o, "rtt_avg_ms", st.n ? jnum(st.avg) : NULL);
	json_object_object_add(o, "jitter_ms", st.n > 1 ? jnum(st.jitter) : NULL);
	if (s->note[0])
		json_object_object_add(o, "note", json_object_new_string(s->note));
	/* every reply, in send order: what the report's chart draws */
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < s->n; i++)
		json_object_array_add(a, jnum(s->rtt[i]));
	json_object_object_add(o, "rtt_samples_ms", a);
	return o;
}

static struct json_object *detail_json(const struct path_meas *m)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "address", json_object_new_string(m->addr));
	json_object_object_add(o, "tcp_handshake", series_json(&m->tcp));
	json_object_object_add(o, "icmp_echo", series_json(&m->icmp));
	json_object_object_add(o, "session_echo", series_json(&m->echo));
	if (m->after.valid && m->before.valid) {
		struct json_object *t = json_object_new_object();
		json_object_object_add(t, "rtt_ms", jnum(m->after.rtt_us / 1000.0));
		json_object_object_add(t, "rttvar_ms", jnum(m->after.rttvar_us / 1000.0));
		json_object_object_add(t, "pmtu", json_object_new_int((int)m->after.pmtu));
		json_object_object_add(t, "snd_mss", json_object_new_int((int)m->after.snd_mss));
		json_object_object_add(t, "retransmits",
				       json_object_new_int((int)(m->after.total_retrans -
								 m->before.total_retrans)));
		json_object_object_add(t, "dsack_dups",
				       json_object_new_int((int)(m->after.dsack_dups - m->before.dsack_dups)));
		json_object_object_add(t, "data_segments",
				       json_object_new_int((int)(m->after.data_segs_out -
								 m->before.data_segs_out)));
		json_object_object_add(t, "bulk_bytes", json_object_new_int64(m->bulk_echoed));
		json_object_object_add(t, "bulk_ms", json_object_new_int64(m->bulk_ms));
		json_object_object_add(o, "tcp_info", t);
	}
	json_object_object_add(o, "server_software", m->software[0] ?
			       json_object_new_string(m->software) : NULL);
	json_object_object_add(o, "may_penalise", json_object_new_boolean(m->may_penalise));
	json_object_object_add(o, "tcp_handshakes_wanted", json_object_new_int(m->tcp_wanted));
	json_object_object_add(o, "rate_limited_after", path_rate_limited(m) >= 0 ?
			       json_object_new_int(path_rate_limited(m)) : NULL);
	uint32_t es, er;
	if (path_echo_loss(m, &es, &er) >= 0) {
		json_object_object_add(o, "echo_segments", json_object_new_int((int)es));
		json_object_object_add(o, "echo_retransmits", json_object_new_int((int)er));
	}
	if (m->bh_tested) {
		/* the black-hole search step by step: echo payload size, came back or not */
		struct json_object *a = json_object_new_array();
		for (int i = 0; i < m->bh.probes && (size_t)i < ARRAY_SIZE(m->bh.steps); i++) {
			struct json_object *st = json_object_new_object();
			int v = m->bh.steps[i];
			json_object_object_add(st, "bytes", json_object_new_int(v < 0 ? -v : v));
			json_object_object_add(st, "passed", json_object_new_boolean(v > 0));
			json_object_array_add(a, st);
		}
		json_object_object_add(o, "mtu_search", a);
	}
	json_object_object_add(o, "pmtu_icmp", m->pmtu.icmp_mtu ?
			       json_object_new_int(m->pmtu.icmp_mtu) : NULL);
	json_object_object_add(o, "tcp_mtu_probing", m->mtu_probing >= 0 ?
			       json_object_new_int(m->mtu_probing) : NULL);
	return o;
}

static void path_text(FILE *out, struct json_object *mm, int color)
{
	(void)color;
	struct json_object *rtt = json_object_object_get(mm, "rtt_ms");
	if (rtt)
		fprintf(out, "rtt      min %.1f / avg %.1f / p50 %.1f / p90 %.1f / max %.1f ms\n",
			json_object_get_double(json_object_object_get(rtt, "min")),
			json_object_get_double(json_object_object_get(rtt, "avg")),
			json_object_get_double(json_object_object_get(rtt, "p50")),
			json_object_get_double(json_object_object_get(rtt, "p90")),
			json_object_get_double(json_object_object_get(rtt, "max")));
	static const char *const keys[] = { "jitter_ms", "loss_pct", "loss_under_load_pct",
					    "pmtu", "largest_echo_bytes", "blackhole" };
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		struct json_object *v = json_object_object_get(mm, keys[i]);
		fprintf(out, "%-20s %s\n", keys[i], v ? json_object_to_json_string(v) : "n/a");
	}
}

static void add_path_fixes(struct finding *f)
{
	struct fix *x = finding_fix(f, "the network (not ssh)");
	fix_line(x, "find the lossy hop: Wi-Fi, VPN, a saturated uplink (compare a wired path)");
	x = finding_fix(f, "~/.ssh/config");
	fix_line(x, "ServerAliveInterval 15");
	fix_line(x, "ServerAliveCountMax 8");
}

static void judge_loss(const struct path_meas *m, struct report *r, double loss,
		       size_t sent, size_t lost, double lload)
{
	const char *id = "path.loss";
	enum severity sev = SEV_OK;
	uint32_t esegs, eret;
	int echo_tcp = path_echo_loss(m, &esegs, &eret) >= 0;
	size_t dsent = sent - (echo_tcp ? esegs : 0), dlost = lost - (echo_tcp ? eret : 0);
	double dloss = path_loss_pct(dsent, dlost);
	if (sent && lost >= 2 && loss >= LOSS_WARN_PCT)
		sev = loss >= LOSS_CRIT_PCT ? SEV_CRITICAL : SEV_WARNING;
	if (lload >= LOAD_LOSS_WARN_PCT && sev < SEV_WARNING)
		sev = SEV_WARNING;
	/* Session traffic lost while plain handshakes pass: the IPQoS/NAT bug. */
	int qos = dsent >= 5 && dloss < LOSS_WARN_PCT && m->echo.sent && m->echo.lost;
	if (qos)
		sev = SEV_WARNING;
	if (!sent && lload < 0)
		return;
	struct finding *f = sev == SEV_OK ?
		report_add(r, sev, id, "No packet loss to speak of (%.1f%%)", loss) :
		qos ? report_add(r, sev, id, "Session packets vanish while handshakes pass") :
		report_add(r, sev, id, "Packet loss on the path: %.1f%%", loss);
	if (dsent)
		finding_evidence(f, "%zu of %zu direct probes lost (TCP handshakes %zu/%zu, ICMP echo %zu/%zu)",
				 dlost, dsent, m->tcp.lost, m->tcp.sent, m->icmp.lost, m->icmp.sent);
	if (echo_tcp)
		finding_evidence(f, "session echo: %u of %u data segments retransmitted (TCP_INFO of "
				 "the session's socket)", eret, esegs);
	if (m->echo.sent)
		finding_evidence(f, "session echo: %zu of %zu round trips timed out", m->echo.lost,
				 m->echo.sent);
	if (lload >= 0)
		finding_evidence(f, "under load: %.1f%% of %u data segments lost (TCP_INFO: %u retransmitted, "
				 "%u of them needlessly)", lload,
				 m->after.data_segs_out - m->before.data_segs_out,
				 m->after.total_retrans - m->before.total_retrans,
				 m->after.dsack_dups - m->before.dsack_dups);
	if (qos) {
		struct fix *x = finding_fix(f, "~/.ssh/config");
		fix_line(x, "IPQoS lowdelay throughput");
		finding_evidence(f, "some NATs drop SSH's default DSCP marks (af21/cs1); "
				    "IPQoS changes the marks only");
	} else if (sev >= SEV_WARNING) {
		add_path_fixes(f);
	}
}

/* Do no harm: what the budget allowed, and sshd refusing us anyway. */
static void judge_budget(const struct path_meas *m, struct report *r)
{
	if (m->may_penalise && m->tcp_wanted && (int)m->tcp.sent < m->tcp_wanted) {
		struct finding *f = report_add(r, SEV_INFO, "path.probe-budget",
			"%zu of %d TCP handshakes sent: the server may penalise unauthenticated "
			"connections", m->tcp.sent, m->tcp_wanted);
		finding_evidence(f, "server: %s; OpenSSH 9.8+ PerSourcePenalties refuse an address "
				 "whose connections without authentication accumulate more than "
				 "15 s of penalty (1 s each by default)",
				 m->software[0] ? m->software : "version unknown");
		finding_evidence(f, "loss and round trips come from ICMP and the session's own "
				    "segments instead (TCP_INFO)");
	}
	/* closed before the banner is also MaxStartups (or a ban): a penalty
	 * only when we had just connected unauthenticated ourselves */
	if (!m->session_refused || !m->may_penalise || m->ledger_before <= 0)
		return;
	double wait = m->penalty_wait_s > BUDGET_MIN_S ? m->penalty_wait_s : BUDGET_MIN_S + 1;
	struct finding *f = report_add(r, SEV_WARNING, "server.penalty",
		"sshd is penalising this address, probably for our probes; ssh will work again "
		"in about %.0f s", wait);
	finding_evidence(f, "%s", m->session_err);
	finding_evidence(f, "sshd closed the connection before its banner: what OpenSSH 9.8+ does "
			    "to a source under PerSourcePenalties (noauth 1 s, authfail 5 s, "
			    "grace-exceeded 10 s, enforced past min 15 s); not a fault of the path");
	struct fix *x = finding_fix(f, "wait, or on the server (sshd_config)");
	fix_line(x, "PerSourcePenaltyExemptList %s", m->addr[0] ? "YOUR.CLIENT.ADDRESS" : "ADDRESS");
}

static void judge_ratelimit(const struct path_meas *m, struct report *r)
{
	int cut = path_rate_limited(m);
	if (cut < 0)
		return;
	int dropped = 0, refused = 0;
	for (size_t i = (size_t)cut; i < m->tcp.sent; i++) {
		dropped += m->tcp_outcome[i] == 0;
		refused += m->tcp_outcome[i] == 2;
	}
	struct finding *f = report_add(r, SEV_WARNING, "server.rate-limit",
		"New connections to the SSH port are rate-limited: after %d, the next ones were %s",
		cut, refused > dropped ? "refused" : "dropped");
	finding_evidence(f, "TCP handshakes: the first %d answered, then %d of %zu %s (%d dropped, "
			 "%d refused)", cut, dropped + refused, m->tcp.sent - (size_t)cut,
			 refused > dropped ? "refused" : "unanswered", dropped, refused);
	finding_evidence(f, "not packet loss: ICMP and the established session's segments pass "
			    "(nftables limit/meter, iptables recent/hashlimit or fail2ban on the way "
			    "to the server)");
	struct fix *x = finding_fix(f, "~/.ssh/config (one connection for many sessions)");
	fix_line(x, "ControlMaster auto");
	fix_line(x, "ControlPath ~/.ssh/cm-%%C");
	fix_line(x, "ControlPersist 10m");
}

static void judge_rtt(const struct path_meas *m, struct report *r, const struct rtt_stats *st,
		      double jitter)
{
	if (!st->n)
		return;
	struct finding *f;
	if (st->p90 >= LATENCY_WARN_MS)
		f = report_add(r, SEV_WARNING, "path.latency", "High latency: p90 %.0f ms", st->p90);
	else
		f = report_add(r, SEV_OK, "path.latency", "Latency %.1f ms (p90 %.1f ms)", st->avg,
			       st->p90);
	finding_evidence(f, "%zu round trips %s %s: min %.1f, avg %.1f, p50 %.1f, p90 %.1f, max %.1f ms",
			 st->n, m->addr[0] ? "to" : "through", m->addr[0] ? m->addr : "the session",
			 st->min, st->avg, st->p50, st->p90, st->max);
	if (st->n < 2)
		return;
	if (jitter >= JITTER_WARN_MS) {
		f = report_add(r, SEV_WARNING, "path.jitter", "Jitter %.1f ms", jitter);
		add_path_fixes(f);
	} else {
		f = report_add(r, SEV_OK, "path.jitter", "Jitter %.1f ms", jitter);
	}
	finding_evidence(f, "mean difference between consecutive round trips");
}

static void judge_blackhole(const struct path_meas *m, struct report *r)
{
	if (!m->bh_tested)
		return;
	if (!blackhole(m)) {
		if (m->bh_unfinished) {
			struct finding *f = report_add(r, SEV_INFO, "path.mtu-blackhole",
						       "MTU black-hole search not finished");
			finding_evidence(f, "echoes up to %d bytes came back before the search had "
					    "to stop (time budget or ssh gone)", m->bh.ok);
		} else if (m->bh.ok) {
			report_add(r, SEV_OK, "path.mtu-blackhole",
				   "No MTU black hole: echoes up to %d bytes came back", m->bh.ok);
		}
		return;
	}
	int mtu = path_suspected_mtu(m);
	struct finding *f = report_add(r, SEV_CRITICAL, "path.mtu-blackhole",
				       "MTU black hole: packets above about %d bytes vanish", mtu);
	finding_evidence(f, "session echoes of %d bytes come back, %d bytes never do (seen twice)",
			 m->bh.ok, m->bh.fail);
	finding_evidence(f, "no ICMP fragmentation-needed reached us, so TCP keeps resending the "
			    "big segment: large output and scp hang, small typing works");
	if (m->after.valid || m->before.valid)
		finding_evidence(f, "kernel path MTU for the session stayed at %u",
				 m->after.valid ? m->after.pmtu : m->before.pmtu);
	struct fix *x = finding_fix(f, "/etc/sysctl.d/90-sshdoctor.conf (client; also on the server)");
	fix_line(x, "net.ipv4.tcp_mtu_probing=1");
	x = finding_fix(f, "client interface or route MTU (as root)");
	if (m->ifname[0])
		fix_line(x, "ip link set dev %s mtu %d", m->ifname, mtu);
	if (m->addr[0])
		fix_line(x, "ip route add %s/%d via GATEWAY mtu lock %d", m->addr, m->ipv6 ? 128 : 32,
			 mtu);
	x = finding_fix(f, "the router or firewall on the path (MSS clamping)");
	fix_line(x, "nft add rule inet filter forward tcp flags syn tcp option maxseg size set rt mtu");
	fix_line(x, "iptables -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu");
	if (m->mtu_probing == 0) {
		struct finding *k = report_add(r, SEV_WARNING, "kernel.mtu-probing-off",
					       "TCP MTU probing is off, so TCP cannot climb out of the black hole");
		finding_evidence(k, "net.ipv4.tcp_mtu_probing = 0");
		x = finding_fix(k, "/etc/sysctl.d/90-sshdoctor.conf");
		fix_line(x, "net.ipv4.tcp_mtu_probing=1");
	}
}

static void judge_pmtu(const struct path_meas *m, struct report *r)
{
	const struct pmtu_result *p = &m->pmtu;
	if (!p->tried)
		return;
	struct finding *f;
	if (p->pmtu)
		f = report_add(r, SEV_INFO, "path.pmtu", "Path MTU %d", p->pmtu);
	else
		f = report_add(r, SEV_INFO, "path.pmtu", "Path MTU not confirmed by UDP probes");
	if (p->icmp_mtu)
		finding_evidence(f, "a router announced MTU %d (ICMP fragmentation needed)", p->icmp_mtu);
	if (p->first_mtu)
		finding_evidence(f, "the local route starts at MTU %d", p->first_mtu);
	if (p->note[0])
		finding_evidence(f, "%s", p->note);
}

void path_judge(const struct path_meas *m, struct report *r)
{
	double *buf = xmalloc((sizeof(m->tcp.rtt) + sizeof(m->icmp.rtt)));
	size_t n, sent, lost;
	double jitter;
	direct_series(m, buf, &n, &sent, &lost, &jitter);
	uint32_t esegs, eret;
	if (path_echo_loss(m, &esegs, &eret) >= 0) {	/* the session's own segments */
		sent += esegs;
		lost += eret;
	}
	/* proxied, or few direct probes (budget): the session is the better sample */
	if (m->echo.n && (!n || (n < 10 && m->echo.n > n))) {
		memcpy(buf, m->echo.rtt, m->echo.n * sizeof(double));
		n = m->echo.n;
		struct rtt_stats es;
		path_rtt_stats(m->echo.rtt, m->echo.n, &es);
		jitter = es.jitter;
	}
	struct rtt_stats st;
	path_rtt_stats(buf, n, &st);
	free(buf);
	double loss = path_loss_pct(sent, lost), lload = load_loss(m);

	judge_budget(m, r);
	judge_ratelimit(m, r);
	judge_blackhole(m, r);
	judge_loss(m, r, loss, sent, lost, lload);
	judge_rtt(m, r, &st, jitter);
	judge_pmtu(m, r);
	if (m->proxied) {
		struct finding *f = report_add(r, SEV_INFO, "path.proxied",
					       "The session goes through a ProxyCommand/ProxyJump");
		finding_evidence(f, "direct probes and TCP_INFO skipped: they would measure another path");
	}
	if (!m->session_ok && m->session_err[0]) {
		/* a known penalty already says why */
		struct finding *f = report_add(r, m->session_refused && m->may_penalise &&
					       m->ledger_before > 0 ? SEV_INFO
					       : SEV_WARNING, "path.session",
					       "No SSH session for the in-session tests");
		finding_evidence(f, "%s", m->session_err);
	}
	struct json_object *mm = measurements(m, &st, loss, jitter, lload);
	json_object_object_add(mm, "detail", detail_json(m));
	report_measure(r, "path", mm, path_text);
}
