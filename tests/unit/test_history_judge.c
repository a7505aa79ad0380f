/* Unit tests: what recorded sessions prove (history_judge.c): the passive idle
 * bracket per network from answered/unanswered gaps and idle deaths, the relay's
 * keepalive taken into account, contradictions, endings, --since. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "history_judge.h"

#define NET_A "gw-192.0.2.1-02:00:00:00:00:01"
#define NET_B "gw-198.51.100.1-02:00:00:00:00:02"

static struct hist_session S[64];
static struct hist_gap G[128];
static size_t ns, ng;

static void reset(void)
{
	memset(S, 0, sizeof(S));
	memset(G, 0, sizeof(G));
	ns = ng = 0;
}

static struct hist_session *sess(const char *net, enum hist_end end, int64_t end_idle_ms)
{
	struct hist_session *s = &S[ns];
	s->id = (int64_t)(100 - ns);	/* ids not in array order: the lookup must not assume it */
	snprintf(s->target, sizeof(s->target), "db1");
	snprintf(s->net.id, sizeof(s->net.id), "%s", net);
	snprintf(s->net.gateway, sizeof(s->net.gateway), "%s",
		 !strcmp(net, NET_A) ? "192.0.2.1" : "198.51.100.1");
	s->start_wall_ms = 1700000000000LL + (int64_t)ns * 1000;
	s->start_mono_ms = 1000;
	s->end_mono_ms = end == HE_RUNNING ? 0 : 100000;
	s->end = end;
	s->end_idle_ms = end_idle_ms;
	ns++;
	return s;
}

static void gap(const struct hist_session *s, int64_t idle_ms, int answered)
{
	G[ng].session = s->id;
	G[ng].idle_ms = idle_ms;
	G[ng].answered = answered;
	ng++;
}

static struct hist_bracket bracket(const char *net)
{
	struct hist_bracket b;
	hist_bracket_compute(net, S, ns, G, ng, &b);
	return b;
}

static void test_answered_unanswered(void **st)
{
	(void)st;
	reset();
	struct hist_session *a = sess(NET_A, HE_CLEAN, 0);
	gap(a, 10000, 1);
	gap(a, 14600, 1);	/* the longest answered: the lower bound */
	gap(a, 13000, 1);
	struct hist_session *b = sess(NET_A, HE_TIMEOUT, 15400);
	gap(b, 15400, 0);	/* the same event as the death: one sample, not two */
	struct hist_session *c = sess(NET_A, HE_TIMEOUT, 16900);	/* a death without a gap */
	(void)c;
	struct hist_bracket br = bracket(NET_A);
	assert_int_equal(br.lower_ms, 14600);
	assert_int_equal(br.upper_ms, 15400);
	assert_int_equal(br.answered, 3);
	assert_int_equal(br.unanswered, 2);
	assert_false(br.inconsistent);
	assert_false(br.tight);	/* near lower 2 (>= 12.6 s), near upper 2: not yet */
	assert_int_equal(br.near_lower, 2);
	assert_int_equal(br.near_upper, 2);
	/* one more of each close to the bounds makes it tight */
	gap(a, 14000, 1);
	struct hist_session *d = sess(NET_A, HE_RESET, 15800);
	(void)d;
	br = bracket(NET_A);
	assert_int_equal(br.near_lower, 3);
	assert_int_equal(br.near_upper, 3);
	assert_true(br.tight);
}

static void test_tight_width(void **st)
{
	(void)st;
	reset();
	/* T = 300 s: 2% = 6 s allowed; a 7 s wide bracket is not tight */
	for (int i = 0; i < 3; i++) {
		struct hist_session *s = sess(NET_A, HE_TIMEOUT, 307000 + i * 100);
		gap(s, 290000 + i * 1000, 1);
		gap(s, 307000 + i * 100, 0);
	}
	struct hist_bracket br = bracket(NET_A);
	assert_int_equal(br.lower_ms, 292000);
	assert_int_equal(br.upper_ms, 307000);
	assert_false(br.tight);
	reset();
	for (int i = 0; i < 3; i++) {
		struct hist_session *s = sess(NET_A, HE_TIMEOUT, 301000 + i * 1000);
		gap(s, 300000 - i * 100, 1);
		gap(s, 301000 + i * 1000, 0);
	}
	br = bracket(NET_A);
	assert_int_equal(br.lower_ms, 300000);
	assert_int_equal(br.upper_ms, 301000);
	assert_true(br.tight);
}

static void test_contradiction(void **st)
{
	(void)st;
	reset();
	struct hist_session *a = sess(NET_A, HE_CLEAN, 0);
	gap(a, 20000, 1);
	struct hist_session *b = sess(NET_A, HE_TIMEOUT, 30000);
	gap(b, 9000, 0);	/* unanswered after less idle than an answered one */
	struct hist_bracket br = bracket(NET_A);
	assert_true(br.inconsistent);
	assert_int_equal(br.ncontra, 1);
	assert_int_equal(br.contra_min_ms, 9000);
	assert_false(br.tight);
	/* findings say so, and the JSON carries no bracket */
	struct hist_summary sum;
	struct report r;
	hist_analyse(S, ns, G, ng, &sum);
	report_init(&r, "history");
	hist_judge(&sum, NULL, 0, "db1", &r);
	assert_non_null(report_find(&r, "history.idle-inconsistent"));
	assert_null(report_find(&r, "history.idle-timeout"));
	struct json_object *it = json_object_object_get(
		json_object_array_get_idx(json_object_object_get(
			json_object_object_get(r.measurements, "history"), "networks"), 0), "idle_timeout");
	assert_null(json_object_object_get(it, "lower_s"));
	assert_null(json_object_object_get(it, "upper_s"));
	assert_false(json_object_get_boolean(json_object_object_get(it, "consistent")));
	report_free(&r);
	hist_summary_free(&sum);
}

static void test_short_death_not_contradiction(void **st)
{
	(void)st;
	reset();
	struct hist_session *a = sess(NET_A, HE_CLEAN, 0);
	gap(a, 20000, 1);
	sess(NET_A, HE_RESET, 5000);	/* died after less idle than the path keeps: not the timeout */
	sess(NET_A, HE_TIMEOUT, 300);	/* died while busy */
	sess(NET_A, HE_TIMEOUT, 25000);	/* this one is evidence */
	struct hist_summary sum;
	hist_analyse(S, ns, G, ng, &sum);
	assert_int_equal(sum.nnets, 1);
	assert_false(sum.nets[0].b.inconsistent);
	assert_int_equal(sum.nets[0].b.lower_ms, 20000);
	assert_int_equal(sum.nets[0].b.upper_ms, 25000);
	assert_int_equal(sum.nets[0].b.unanswered, 1);
	assert_int_equal(sum.nets[0].short_deaths, 2);
	assert_int_equal(sum.nets[0].idle_deaths, 1);
	hist_summary_free(&sum);
}

static void test_per_network(void **st)
{
	(void)st;
	reset();
	struct hist_session *a = sess(NET_A, HE_TIMEOUT, 15500);
	gap(a, 14500, 1);
	struct hist_session *b = sess(NET_B, HE_TIMEOUT, 350500);
	gap(b, 349000, 1);
	gap(b, 350500, 0);
	/* network B's answered 349 s gap proves nothing for A: no contradiction there */
	struct hist_bracket ba = bracket(NET_A), bb = bracket(NET_B);
	assert_int_equal(ba.lower_ms, 14500);
	assert_int_equal(ba.upper_ms, 15500);
	assert_int_equal(bb.lower_ms, 349000);
	assert_int_equal(bb.upper_ms, 350500);
	assert_false(ba.inconsistent);
	struct hist_summary sum;
	hist_analyse(S, ns, G, ng, &sum);
	assert_int_equal(sum.nnets, 2);
	assert_string_equal(sum.nets[0].id, NET_B);	/* newest first */
	assert_string_equal(sum.nets[0].gateway, "198.51.100.1");
	hist_summary_free(&sum);
}

static void test_keepalive_clamps(void **st)
{
	(void)st;
	reset();
	/* the relay's TCP keepalive every 10 s: an answered 60 s gap proves only 10 s */
	struct hist_session *a = sess(NET_A, HE_CLEAN, 0);
	a->keepidle_s = 10;
	a->keepintvl_s = 5;
	gap(a, 60000, 1);
	struct hist_session *b = sess(NET_A, HE_TIMEOUT, 90000);
	b->keepidle_s = 12;
	b->keepintvl_s = 5;	/* keepalives ran: the path saw at most 12 s idle */
	struct hist_bracket br = bracket(NET_A);
	assert_int_equal(br.lower_ms, 10000);
	assert_int_equal(br.upper_ms, 12000);
}

static void test_suspend_netchange_prove_no_upper(void **st)
{
	(void)st;
	reset();
	struct hist_session *a = sess(NET_A, HE_SUSPENDED, 0);
	a->suspended_ms = 3600000;
	gap(a, 8000, 1);	/* answered: still a lower bound */
	gap(a, 9000, 0);	/* the machine slept: not the path */
	struct hist_session *b = sess(NET_A, HE_NETWORK_CHANGED, 4000);
	gap(b, 4000, 0);
	struct hist_bracket br = bracket(NET_A);
	assert_int_equal(br.lower_ms, 8000);
	assert_int_equal(br.upper_ms, -1);
	assert_false(br.inconsistent);
	struct hist_summary sum;
	struct report r;
	hist_analyse(S, ns, G, ng, &sum);
	assert_int_equal(sum.deaths, 2);
	assert_int_equal(sum.suspended_ms, 3600000);
	report_init(&r, "history");
	hist_judge(&sum, NULL, 0, "db1", &r);
	assert_non_null(report_find(&r, "history.suspend"));
	assert_non_null(report_find(&r, "history.network-changed"));
	assert_int_equal(report_find(&r, "history.idle-timeout")->sev, SEV_INFO);	/* lower only */
	assert_int_equal(report_find(&r, "history.idle-timeout")->nfixes, 0);
	report_free(&r);
	hist_summary_free(&sum);
}

static void test_endings_and_findings(void **st)
{
	(void)st;
	reset();
	for (int i = 0; i < 3; i++) {
		struct hist_session *s = sess(NET_A, HE_TIMEOUT, 301000 + i * 2000);
		gap(s, 299000 + i * 500, 1);
		gap(s, 301000 + i * 2000, 0);
	}
	sess(NET_A, HE_CLEAN, 0);
	sess(NET_A, HE_CLIENT_KILLED, 0);
	sess(NET_A, HE_SERVER_CLOSED, 20000);
	sess(NET_A, HE_SERVER_CLOSED, 21000);
	sess(NET_A, HE_RUNNING, 0);
	struct hist_summary sum;
	struct report r;
	hist_analyse(S, ns, G, ng, &sum);
	assert_int_equal(sum.sessions, 8);
	assert_int_equal(sum.deaths, 5);	/* 3 timeout + 2 server-closed */
	assert_int_equal(sum.by_end[HE_TIMEOUT], 3);
	assert_int_equal(sum.by_end[HE_CLIENT_KILLED], 1);
	assert_int_equal(sum.by_end[HE_RUNNING], 1);
	assert_int_equal(sum.sc_idle_min_ms, 20000);
	assert_int_equal(sum.sc_idle_max_ms, 21000);
	assert_true(sum.nets[0].b.tight);
	report_init(&r, "history");
	hist_judge(&sum, S, ns, "db1", &r);
	const struct finding *it = report_find(&r, "history.idle-timeout");
	assert_non_null(it);
	assert_int_equal(it->sev, SEV_WARNING);
	assert_non_null(strstr(it->title, "300.0-301.0 s"));
	/* the keepalive prescription: below the lower bound (half of it, at most 60 s) */
	assert_true(it->nfixes >= 1);
	assert_string_equal(it->fixes[0].lines.v[0], "Host db1");
	assert_string_equal(it->fixes[0].lines.v[1], "    ServerAliveInterval 60");
	const struct finding *d = report_find(&r, "history.deaths");
	assert_int_equal(d->sev, SEV_WARNING);
	assert_non_null(strstr(d->title, "3 timeout"));
	assert_non_null(strstr(d->title, "2 server-closed"));
	assert_non_null(report_find(&r, "history.server-closed"));
	assert_null(report_find(&r, "history.suspend"));
	assert_null(report_find(&r, "history.empty"));
	struct json_object *h = json_object_object_get(r.measurements, "history");
	assert_int_equal(json_object_get_int(json_object_object_get(h, "sessions")), 8);
	assert_int_equal(json_object_get_int(json_object_object_get(
		json_object_object_get(h, "by_end"), "timeout")), 3);
	struct json_object *n0 = json_object_array_get_idx(json_object_object_get(h, "networks"), 0);
	assert_string_equal(json_object_get_string(json_object_object_get(n0, "gateway")), "192.0.2.1");
	struct json_object *itj = json_object_object_get(n0, "idle_timeout");
	assert_string_equal(json_object_get_string(json_object_object_get(itj, "lower_s")), "300.0");
	assert_string_equal(json_object_get_string(json_object_object_get(itj, "upper_s")), "301.0");
	assert_int_equal(json_object_get_int(json_object_object_get(itj, "samples")), 6);
	assert_int_equal(json_object_array_length(json_object_object_get(h, "list")), 8);
	report_free(&r);
	hist_summary_free(&sum);
}

static void test_empty(void **st)
{
	(void)st;
	reset();
	struct hist_summary sum;
	struct report r;
	hist_analyse(S, 0, G, 0, &sum);
	report_init(&r, "history");
	hist_judge(&sum, NULL, 0, "db1", &r);
	const struct finding *e = report_find(&r, "history.empty");
	assert_non_null(e);
	assert_int_equal(e->sev, SEV_INFO);
	int relay = 0;
	for (size_t i = 0; i < e->evidence.n; i++)
		relay |= strstr(e->evidence.v[i], "audit --fix --relay db1") != NULL;
	assert_true(relay);
	assert_null(json_object_object_get(json_object_object_get(r.measurements, "history"), "list"));
	report_free(&r);
	hist_summary_free(&sum);
}

static void test_since(void **st)
{
	(void)st;
	int64_t now = 1764650000000LL;	/* 2025-12-02T04:33:20Z */
	assert_int_equal(hist_parse_since("2h", now), now - 7200000);
	assert_int_equal(hist_parse_since("3d", now), now - 3 * 86400000LL);
	assert_int_equal(hist_parse_since("30m", now), now - 1800000);
	assert_int_equal(hist_parse_since("2025-12-01", now), 1764547200000LL);
	assert_int_equal(hist_parse_since("2025-12-01T10:00:00Z", now), 1764583200000LL);
	assert_int_equal(hist_parse_since("2025-12-01 10:00", now), 1764583200000LL);
	assert_int_equal(hist_parse_since("", now), -1);
	assert_int_equal(hist_parse_since("yesterday", now), -1);
	assert_int_equal(hist_parse_since("2x", now), -1);
	assert_int_equal(hist_parse_since("-2h", now), -1);
	assert_int_equal(hist_parse_since("2030-01-01", now), -1);	/* the future */
	assert_int_equal(hist_parse_since("2025-13-45", now), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answered_unanswered),
		cmocka_unit_test(test_tight_width),
		cmocka_unit_test(test_contradiction),
		cmocka_unit_test(test_short_death_not_contradiction),
		cmocka_unit_test(test_per_network),
		cmocka_unit_test(test_keepalive_clamps),
		cmocka_unit_test(test_suspend_netchange_prove_no_upper),
		cmocka_unit_test(test_endings_and_findings),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_since),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
