/* Unit tests: path analysers (RTT statistics, loss, sizes, the black-hole
 * search, loss under load, the judgement) without a network. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "path.h"

static void test_rtt_stats(void **state)
{
	(void)state;
	double v[] = { 10, 30, 20, 40, 50, 60, 70, 80, 90, 100 };
	struct rtt_stats s;
	path_rtt_stats(v, 10, &s);
	assert_int_equal(s.n, 10);
	assert_true(s.min == 10 && s.max == 100);
	assert_true(s.avg == 55);
	assert_true(s.p50 == 50);	/* nearest rank: ceil(0.5 * 10) = 5th */
	assert_true(s.p90 == 90);
	/* |30-10| + |20-30| + 7 x 10 + ... = 20 + 10 + 20 + 6 x 10 = 110 over 9 pairs */
	assert_true(s.jitter > 12.2 && s.jitter < 12.3);
	path_rtt_stats(v, 1, &s);
	assert_true(s.p50 == 10 && s.p90 == 10 && s.jitter == 0);
	path_rtt_stats(v, 0, &s);
	assert_int_equal(s.n, 0);
}

static void test_loss(void **state)
{
	(void)state;
	assert_true(path_loss_pct(0, 0) == 0);
	assert_true(path_loss_pct(200, 10) == 5);
	assert_true(path_loss_pct(3, 3) == 100);
}

static void test_parse_size(void **state)
{
	(void)state;
	assert_int_equal(path_parse_size("0"), 0);
	assert_int_equal(path_parse_size("1000"), 1000);
	assert_int_equal(path_parse_size("256K"), 256 * 1024);
	assert_int_equal(path_parse_size("1M"), 1 << 20);
	assert_int_equal(path_parse_size("1MiB"), 1 << 20);
	assert_int_equal(path_parse_size("2G"), 2LL << 30);
	assert_int_equal(path_parse_size(""), -1);
	assert_int_equal(path_parse_size("-1"), -1);
	assert_int_equal(path_parse_size("1X"), -1);
	assert_int_equal(path_parse_size("1Kx"), -1);
	assert_int_equal(path_parse_size("99999999999999999999"), -1);
}

/* Runs the search against a path that passes echoes up to limit bytes. */
static void search(struct bh_search *b, int limit, int flaky_once)
{
	bh_init(b);
	for (int size, i = 0; (size = bh_next(b)) && i < 100; i++) {
		int pass = size <= limit;
		if (flaky_once && size == 512) {	/* one unlucky timeout */
			pass = 0;
			flaky_once = 0;
		}
		bh_result(b, size, pass);
	}
}

static void test_blackhole_search(void **state)
{
	(void)state;
	struct bh_search b;
	search(&b, 1310, 0);
	assert_true(b.fail && b.confirmed);
	assert_true(b.ok <= 1310 && b.fail > 1310);
	assert_true(b.fail - b.ok <= PATH_BH_RESOLUTION);
	assert_true(b.probes <= BH_MAX_PROBES);

	search(&b, 100000, 0);	/* no black hole: the whole ladder comes back */
	assert_int_equal(b.fail, 0);
	assert_int_equal(b.ok, 8192);

	search(&b, 100000, 1);	/* a single timeout is retried, not believed */
	assert_int_equal(b.fail, 0);
	assert_int_equal(b.ok, 8192);

	search(&b, 1000, 0);
	assert_true(b.ok <= 1000 && b.fail > 1000 && b.fail - b.ok <= PATH_BH_RESOLUTION);
	/* suspected MTU from the 1400 lab: echo + SSH framing + TCP/IP */
	assert_int_equal(bh_overhead(0), 86);
	assert_int_equal(bh_overhead(1), 106);
}

static void test_load_loss(void **state)
{
	(void)state;
	struct tcpi_snap a = { .valid = 1, .data_segs_out = 100, .total_retrans = 2 };
	struct tcpi_snap b = { .valid = 1, .data_segs_out = 300, .total_retrans = 14, .dsack_dups = 2 };
	assert_true(path_load_loss(&a, &b) == 5.0);	/* (12 - 2) / 200 */
	b.data_segs_out = 110;	/* too few segments to say */
	assert_true(path_load_loss(&a, &b) == -1);
	b.valid = 0;
	assert_true(path_load_loss(&a, &b) == -1);
}

static struct path_meas *meas(void)
{
	struct path_meas *m = calloc(1, sizeof(*m));
	strcpy(m->addr, "203.0.113.2");
	m->tcp.available = 1;
	m->mtu_probing = 0;
	for (int i = 0; i < 20; i++) {
		m->tcp.sent++;
		if (i % 4 == 3)
			m->tcp.lost++;
		else
			m->tcp.rtt[m->tcp.n++] = 80 + (i % 2 ? 10 : -10);
	}
	return m;
}

static const char *jstr(struct json_object *o, const char *k)
{
	return json_object_to_json_string(json_object_object_get(o, k));
}

static void test_judge_loss(void **state)
{
	(void)state;
	struct path_meas *m = meas();
	struct report r;
	report_init(&r, "path");
	path_judge(m, &r);
	struct finding *f = report_find(&r, "path.loss");
	assert_non_null(f);
	assert_int_equal(f->sev, SEV_CRITICAL);	/* 5 of 20 */
	assert_true(f->nfixes > 0);
	struct json_object *p = json_object_object_get(r.measurements, "path");
	assert_string_equal(jstr(p, "loss_pct"), "25.00");
	/* 70,90,70 repeated (lost ones skipped): 10 steps of 20 over 14 pairs */
	assert_string_equal(jstr(p, "jitter_ms"), "14.29");
	assert_string_equal(jstr(p, "blackhole"), "false");
	assert_string_equal(jstr(p, "pmtu"), "null");
	assert_string_equal(jstr(p, "loss_under_load_pct"), "null");
	struct json_object *rtt = json_object_object_get(p, "rtt_ms");
	assert_string_equal(jstr(rtt, "min"), "70.00");
	assert_string_equal(jstr(rtt, "max"), "90.00");
	assert_null(report_find(&r, "path.mtu-blackhole"));
	assert_null(report_find(&r, "kernel.mtu-probing-off"));
	report_free(&r);
	free(m);
}

static void test_judge_blackhole(void **state)
{
	(void)state;
	struct path_meas *m = meas();
	m->tcp.lost = 0;
	m->bh_tested = 1;
	m->bh = (struct bh_search){ .ok = 1312, .fail = 1344, .confirmed = 1, .probes = 9 };
	strcpy(m->ifname, "eth0");
	struct report r;
	report_init(&r, "path");
	path_judge(m, &r);
	struct finding *f = report_find(&r, "path.mtu-blackhole");
	assert_non_null(f);
	assert_int_equal(f->sev, SEV_CRITICAL);
	int sysctl = 0, mss = 0, link = 0;
	for (size_t i = 0; i < f->nfixes; i++)
		for (size_t j = 0; j < f->fixes[i].lines.n; j++) {
			const char *l = f->fixes[i].lines.v[j];
			sysctl |= !strcmp(l, "net.ipv4.tcp_mtu_probing=1");
			mss |= strstr(l, "clamp-mss-to-pmtu") != NULL;
			link |= !strcmp(l, "ip link set dev eth0 mtu 1398");
		}
	assert_true(sysctl && mss && link);
	assert_non_null(report_find(&r, "kernel.mtu-probing-off"));
	struct json_object *p = json_object_object_get(r.measurements, "path");
	assert_string_equal(jstr(p, "blackhole"), "true");
	assert_string_equal(jstr(p, "largest_echo_bytes"), "1312");
	assert_string_equal(jstr(p, "pmtu"), "1398");
	report_free(&r);

	/* probing already on: no kernel finding; unconfirmed failure: no black hole */
	m->mtu_probing = 1;
	report_init(&r, "path");
	path_judge(m, &r);
	assert_null(report_find(&r, "kernel.mtu-probing-off"));
	report_free(&r);
	m->bh.confirmed = 0;
	report_init(&r, "path");
	path_judge(m, &r);
	f = report_find(&r, "path.mtu-blackhole");
	assert_true(!f || f->sev == SEV_OK);
	report_free(&r);

	/* cut short before any failure: no "no black hole" verdict */
	m->bh = (struct bh_search){ .ok = 1280, .probes = 5 };
	m->bh_unfinished = 1;
	report_init(&r, "path");
	path_judge(m, &r);
	f = report_find(&r, "path.mtu-blackhole");
	assert_non_null(f);
	assert_int_equal(f->sev, SEV_INFO);
	assert_string_equal(f->title, "MTU black-hole search not finished");
	report_free(&r);
	free(m);
}

static void test_judge_ipqos(void **state)
{
	(void)state;
	struct path_meas *m = meas();
	m->tcp.lost = 0;
	m->echo.available = 1;
	m->echo.sent = 3;
	m->echo.lost = 1;
	struct report r;
	report_init(&r, "path");
	path_judge(m, &r);
	struct finding *f = report_find(&r, "path.loss");
	assert_non_null(f);
	assert_int_equal(f->sev, SEV_WARNING);
	assert_string_equal(f->fixes[0].lines.v[0], "IPQoS lowdelay throughput");
	report_free(&r);
	free(m);
}

/* Handshakes answered, then cut off, while the session's own segments pass:
 * a rate limit on new connections, not loss. */
static struct path_meas *ratelimited(int cut, int n, signed char bad)
{
	struct path_meas *m = calloc(1, sizeof(*m));
	strcpy(m->addr, "203.0.113.2");
	m->tcp.available = 1;
	for (int i = 0; i < n; i++) {
		m->tcp.sent++;
		m->tcp_outcome[i] = i < cut ? 1 : bad;
		if (i < cut || bad == 2)
			m->tcp.rtt[m->tcp.n++] = 0.2;
		else
			m->tcp.lost++;
	}
	m->echo.available = 1;
	m->echo.sent = m->echo.n = 20;
	for (int i = 0; i < 20; i++)
		m->echo.rtt[i] = 0.5;
	m->echo_before.valid = m->echo_after.valid = 1;
	m->echo_before.data_segs_out = 100;
	m->echo_after.data_segs_out = 120;
	return m;
}

static void test_rate_limit(void **state)
{
	(void)state;
	struct path_meas *m = ratelimited(2, 8, 0);
	assert_int_equal(path_rate_limited(m), 2);
	uint32_t segs, re;
	assert_true(path_echo_loss(m, &segs, &re) == 0);
	assert_int_equal(segs, 20);
	struct report r;
	report_init(&r, "path");
	path_judge(m, &r);
	struct finding *f = report_find(&r, "server.rate-limit");
	assert_non_null(f);
	assert_int_equal(f->sev, SEV_WARNING);
	assert_non_null(strstr(f->title, "dropped"));
	f = report_find(&r, "path.loss");	/* the limit's drops are not loss */
	assert_non_null(f);
	assert_int_equal(f->sev, SEV_OK);
	report_free(&r);
	/* refused (reject with tcp reset) */
	free(m);
	m = ratelimited(3, 20, 2);
	assert_int_equal(path_rate_limited(m), 3);
	report_init(&r, "path");
	path_judge(m, &r);
	assert_non_null(strstr(report_find(&r, "server.rate-limit")->title, "refused"));
	report_free(&r);
	/* the same handshakes, but the session lost segments too: real loss */
	free(m);
	m = ratelimited(2, 8, 0);
	m->echo_after.total_retrans = 4;
	assert_int_equal(path_rate_limited(m), -1);
	report_init(&r, "path");
	path_judge(m, &r);
	assert_null(report_find(&r, "server.rate-limit"));
	assert_true(report_find(&r, "path.loss")->sev >= SEV_WARNING);
	report_free(&r);
	/* scattered loss is not a cut */
	free(m);
	m = ratelimited(20, 20, 0);
	m->tcp_outcome[5] = m->tcp_outcome[11] = m->tcp_outcome[17] = 0;
	assert_int_equal(path_rate_limited(m), -1);
	/* nothing to vouch for the path (no ICMP, no session): no claim */
	free(m);
	m = ratelimited(2, 8, 0);
	m->echo_before.valid = 0;
	assert_int_equal(path_rate_limited(m), -1);
	free(m);
}

static void test_penalty(void **state)
{
	(void)state;
	struct path_meas *m = calloc(1, sizeof(*m));
	strcpy(m->addr, "203.0.113.2");
	m->may_penalise = 1;
	m->session_refused = 1;
	m->ledger_before = 6;
	m->penalty_wait_s = 7;
	snprintf(m->session_err, sizeof(m->session_err), "ssh ended before the first echo: "
		 "kex_exchange_identification: Connection closed by remote host");
	struct report r;
	report_init(&r, "path");
	path_judge(m, &r);
	struct finding *f = report_find(&r, "server.penalty");
	assert_non_null(f);
	assert_string_equal(f->title, "sshd is penalising this address, probably for our probes; "
				      "ssh will work again in about 16 s");
	assert_int_equal(report_find(&r, "path.session")->sev, SEV_INFO);
	report_free(&r);
	/* not right after our probes (MaxStartups, a ban): no penalty claimed */
	m->ledger_before = 0;
	report_init(&r, "path");
	path_judge(m, &r);
	assert_null(report_find(&r, "server.penalty"));
	assert_int_equal(report_find(&r, "path.session")->sev, SEV_WARNING);
	report_free(&r);
	/* a server that does not penalise (9.2): never */
	m->ledger_before = 6;
	m->may_penalise = 0;
	report_init(&r, "path");
	path_judge(m, &r);
	assert_null(report_find(&r, "server.penalty"));
	report_free(&r);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rtt_stats),
		cmocka_unit_test(test_loss),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_blackhole_search),
		cmocka_unit_test(test_load_loss),
		cmocka_unit_test(test_judge_loss),
		cmocka_unit_test(test_judge_blackhole),
		cmocka_unit_test(test_judge_ipqos),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_penalty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
