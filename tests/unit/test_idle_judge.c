/* Unit tests: the idle analyser (measurement -> findings, JSON contract). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "idle.h"

static struct isc_probe probes[] = {
	{ 2000, 2000, IR_ALIVE, 0, 0, 0 },
	{ 70400, 71000, IR_SILENT, 0, 0, 0 },
	{ 69500, 72000, IR_ALIVE, 0, 0, 0 },
	{ 70100, 72000, IR_SILENT, 0, 0, 0 },
};

static struct idle_result found(long client_interval, int64_t ka)
{
	struct idle_result r = { 0 };
	r.via = VIA_SSH;
	r.done = ISC_FOUND;
	r.lower_ms = 69500;
	r.upper_ms = 70100;
	r.expiry = IR_SILENT;
	r.server_ka_ms = ka;
	r.elapsed_ms = 80000;
	r.max_ms = 1800000;
	r.connections = 32;
	r.ndead = 2;
	r.probes = probes;
	r.nprobes = 4;
	r.client_interval = client_interval;
	r.client_countmax = 3;
	r.host = "db1";
	return r;
}

static struct report judge(const struct idle_result *res)
{
	struct report r;
	report_init(&r, "idle");
	idle_judge(res, &r);
	return r;
}

static int has_line(const struct finding *f, const char *needle)
{
	for (size_t i = 0; i < f->nfixes; i++)
		for (size_t j = 0; j < f->fixes[i].lines.n; j++)
			if (strstr(f->fixes[i].lines.v[j], needle))
				return 1;
	for (size_t i = 0; i < f->evidence.n; i++)
		if (strstr(f->evidence.v[i], needle))
			return 1;
	return 0;
}

static void test_critical_without_keepalive(void **state)
{
	(void)state;
	struct idle_result res = found(0, 0);
	struct report r = judge(&res);
	const struct finding *f = report_find(&r, "path.idle-timeout");
	assert_non_null(f);
	assert_int_equal(f->sev, SEV_CRITICAL);
	assert_int_equal(report_status(&r), STATUS_CRITICAL);
	/* half of 69.5 s is 34 s: two refreshes before the middlebox forgets */
	assert_true(has_line(f, "ServerAliveInterval 34"));
	assert_true(has_line(f, "ClientAliveInterval 34"));
	assert_true(has_line(f, "Host db1"));
	assert_true(has_line(f, "136 s"));	/* 34 x (3 + 1) */
	report_free(&r);
}

static void test_thin_margin_and_ok(void **state)
{
	(void)state;
	struct idle_result res = found(65, 0);	/* beats 69.5 s, but barely */
	struct report r = judge(&res);
	assert_int_equal(report_find(&r, "path.idle-timeout")->sev, SEV_WARNING);
	report_free(&r);
	res = found(0, 30000);			/* the server's keepalive beats it well */
	r = judge(&res);
	assert_int_equal(report_find(&r, "path.idle-timeout")->sev, SEV_OK);
	assert_int_equal(report_status(&r), STATUS_OK);
	report_free(&r);
	res = found(120, 0);			/* a keepalive slower than T does not help */
	r = judge(&res);
	assert_int_equal(report_find(&r, "path.idle-timeout")->sev, SEV_CRITICAL);
	report_free(&r);
}

static void test_json_contract(void **state)
{
	(void)state;
	static const char *const keys[] = { "found", "lower_s", "upper_s", "expiry",
					    "server_keepalive_s", "elapsed_s", "connections",
					    "via", "probes" };
	struct idle_result res = found(0, 0);
	struct json_object *o = idle_json(&res);
	assert_int_equal(json_object_object_length(o), ARRAY_SIZE(keys));
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		assert_true(json_object_object_get_ex(o, keys[i], NULL));
	assert_true(json_object_get_boolean(json_object_object_get(o, "found")));
	assert_string_equal(json_object_get_string(json_object_object_get(o, "lower_s")), "69.5");
	assert_string_equal(json_object_get_string(json_object_object_get(o, "upper_s")), "70.1");
	assert_string_equal(json_object_get_string(json_object_object_get(o, "expiry")), "silent-drop");
	assert_null(json_object_object_get(o, "server_keepalive_s"));
	assert_string_equal(json_object_get_string(json_object_object_get(o, "via")), "ssh");
	struct json_object *p = json_object_array_get_idx(json_object_object_get(o, "probes"), 1);
	assert_string_equal(json_object_get_string(json_object_object_get(p, "result")), "silent");
	assert_string_equal(json_object_get_string(json_object_object_get(p, "idle_s")), "70.4");
	json_object_put(o);
}

static void test_well_known_default(void **state)
{
	(void)state;
	struct idle_result res = found(0, 0);
	res.lower_ms = 349000;
	res.upper_ms = 351000;
	struct report r = judge(&res);
	const struct finding *f = report_find(&r, "path.idle-timeout");
	assert_true(has_line(f, "AWS NAT Gateway"));
	assert_false(has_line(f, "Azure"));
	assert_true(has_line(f, "ServerAliveInterval 60"));	/* capped at a minute */
	report_free(&r);
}

static void test_not_found_keepalive_inconsistent(void **state)
{
	(void)state;
	struct idle_result res = found(0, 0);
	res.done = ISC_NOT_FOUND;
	res.upper_ms = -1;
	res.lower_ms = res.max_ms;
	struct report r = judge(&res);
	assert_int_equal(report_status(&r), STATUS_OK);
	assert_non_null(strstr(report_find(&r, "path.idle-timeout")->title, "No idle timeout below 30m"));
	struct json_object *m = json_object_object_get(r.measurements, "idle");
	assert_false(json_object_get_boolean(json_object_object_get(m, "found")));
	assert_null(json_object_object_get(m, "upper_s"));
	report_free(&r);

	res.done = ISC_KEEPALIVE;
	res.server_ka_ms = 3000;
	r = judge(&res);
	assert_non_null(strstr(report_find(&r, "path.idle-timeout")->title, "keepalive"));
	m = json_object_object_get(r.measurements, "idle");
	assert_string_equal(json_object_get_string(json_object_object_get(m, "server_keepalive_s")), "3.0");
	assert_null(json_object_object_get(m, "upper_s"));
	report_free(&r);

	res.done = ISC_INCONSISTENT;
	res.ncontradicted = 2;
	r = judge(&res);
	assert_null(report_find(&r, "path.idle-timeout"));
	assert_int_equal(report_find(&r, "path.inconsistent")->sev, SEV_WARNING);
	assert_int_equal(report_status(&r), STATUS_UNKNOWN);
	report_free(&r);
}

static void test_setup_failure(void **state)
{
	(void)state;
	struct idle_result res = { 0 };
	res.done = ISC_NO_CONNECTION;
	res.setup = IDLE_AUTH;
	res.upper_ms = -1;
	res.expiry = -1;
	strcpy(res.setup_msg, "root@lab: Permission denied (publickey).");
	struct report r = judge(&res);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.findings[0].id, "idle.auth-failed");
	assert_true(has_line(&r.findings[0], "Permission denied"));
	assert_int_equal(report_status(&r), STATUS_UNKNOWN);
	report_free(&r);
}

static void test_safe_interval(void **state)
{
	(void)state;
	assert_int_equal(idle_safe_interval(8.0), 4);
	assert_int_equal(idle_safe_interval(1.0), 1);
	assert_int_equal(idle_safe_interval(3600), 60);
	enum idle_via v;
	assert_int_equal(idle_via_parse("preauth", &v), 0);
	assert_int_equal(v, VIA_PREAUTH);
	assert_int_equal(idle_via_parse("udp", &v), -1);
}

/* Deaths by sshd's channel close: the server, not the path; no keepalive fix. */
static void test_server_closed(void **state)
{
	(void)state;
	struct idle_result res = found(0, 0);
	res.expiry = IR_CLOSED;
	res.nchanclose = 2;
	res.nunprompted = 2;
	struct report r = judge(&res);
	const struct finding *s = report_find(&r, "server.idle-policy");
	assert_non_null(s);
	assert_int_equal(s->sev, SEV_CRITICAL);
	assert_false(has_line(s, "ServerAliveInterval 34"));
	const struct finding *p = report_find(&r, "path.idle-timeout");
	assert_non_null(p);
	assert_int_equal(p->sev, SEV_INFO);
	assert_int_equal(p->nfixes, 0);
	struct json_object *m = json_object_object_get(r.measurements, "idle");
	assert_string_equal(json_object_get_string(json_object_object_get(m, "closed_by")), "server");
	report_free(&r);

	/* the same bracket, silent drops at the probes: the path */
	res = found(0, 0);
	r = judge(&res);
	assert_null(report_find(&r, "server.idle-policy"));
	assert_int_equal(report_find(&r, "path.idle-timeout")->sev, SEV_CRITICAL);
	m = json_object_object_get(r.measurements, "idle");
	assert_string_equal(json_object_get_string(json_object_object_get(m, "closed_by")), "path");
	report_free(&r);

	/* bare FINs while idle, nothing readable: unknown, and no path verdict */
	res = found(0, 0);
	res.expiry = IR_CLOSED;
	res.nfin = 2;
	res.nunprompted = 2;
	r = judge(&res);
	assert_non_null(report_find(&r, "idle.close-unattributed"));
	assert_int_equal(report_find(&r, "path.idle-timeout")->sev, SEV_INFO);
	report_free(&r);

	/* sshd's channel closes are decisive even when the bracket did not settle
	 * (a loaded client answered a probe past the death age: inconsistent) */
	res = found(0, 0);
	res.done = ISC_INCONSISTENT;
	res.expiry = IR_CLOSED;
	res.ndead = 3;
	res.nchanclose = 3;
	res.nunprompted = 3;
	r = judge(&res);
	assert_int_equal(report_find(&r, "server.idle-policy")->sev, SEV_CRITICAL);
	assert_null(report_find(&r, "path.inconsistent"));
	assert_false(r.unknown);
	m = json_object_object_get(r.measurements, "idle");
	assert_string_equal(json_object_get_string(json_object_object_get(m, "closed_by")), "server");
	report_free(&r);

	/* one channel close among silent deaths is not decisive */
	res.nchanclose = 1;
	r = judge(&res);
	assert_null(json_object_object_get(json_object_object_get(r.measurements, "idle"), "closed_by"));
	report_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_critical_without_keepalive),
		cmocka_unit_test(test_thin_margin_and_ok),
		cmocka_unit_test(test_json_contract),
		cmocka_unit_test(test_well_known_default),
		cmocka_unit_test(test_not_found_keepalive_inconsistent),
		cmocka_unit_test(test_setup_failure),
		cmocka_unit_test(test_safe_interval),
		cmocka_unit_test(test_server_closed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
