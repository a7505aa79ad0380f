/* Unit tests: doctor's ranking of causes from synthetic sub-results. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose.h"

static void idle_measure(struct report *r, int found, int lo, int up, const char *expiry)
{
	struct json_object *m = json_object_new_object();
	json_object_object_add(m, "found", json_object_new_boolean(found));
	json_object_object_add(m, "lower_s", json_object_new_int(lo));
	json_object_object_add(m, "upper_s", found ? json_object_new_int(up) : NULL);
	json_object_object_add(m, "expiry", expiry ? json_object_new_string(expiry) : NULL);
	report_measure(r, "idle", m, NULL);
}

static void test_idle_timeout_unprotected(void **state)
{
	(void)state;
	struct report r;
	struct diagnosis d = { 0 };
	report_init(&r, "doctor");
	idle_measure(&r, 1, 20, 21, "silent-drop");
	struct finding *f = report_add(&r, SEV_CRITICAL, "path.idle-timeout", "idle flows forgotten after 20-21 s");
	fix_line(finding_fix(f, "~/.ssh/config"), "ServerAliveInterval 15");
	report_add(&r, SEV_CRITICAL, "client.keepalive.off", "ServerAliveInterval is 0");
	report_add(&r, SEV_INFO, "tcp.connected", "connected");
	diagnose(&r, &d);
	assert_true(d.ncauses >= 1);
	assert_string_equal(d.causes[0].id, "cause.idle-timeout");
	assert_int_equal(d.causes[0].conf, CONF_HIGH);
	assert_int_equal(d.causes[0].sev, SEV_CRITICAL);
	char *s = diagnosis_summary(&d, &r);
	assert_non_null(strstr(s, "ServerAliveInterval 15"));
	assert_non_null(strstr(s, "~/.ssh/config"));
	free(s);
	diagnosis_free(&d);
	report_free(&r);
}

static void test_protected_is_not_an_alarm(void **state)
{
	(void)state;
	struct report r;
	struct diagnosis d = { 0 };
	report_init(&r, "doctor");
	idle_measure(&r, 1, 20, 21, "reset");
	report_add(&r, SEV_OK, "path.idle-timeout", "keepalives beat it");
	diagnose(&r, &d);
	assert_int_equal(d.ncauses, 1);
	assert_int_equal(d.causes[0].sev, SEV_OK);
	char *s = diagnosis_summary(&d, &r);
	assert_true(str_startswith(s, "No cause"));
	free(s);
	diagnosis_free(&d);
	report_free(&r);
}

static void test_establishment_stops_everything(void **state)
{
	(void)state;
	struct report r;
	struct diagnosis d = { 0 };
	report_init(&r, "doctor");
	report_add(&r, SEV_CRITICAL, "tcp.filtered", "port 22 filtered");
	report_add(&r, SEV_WARNING, "path.loss", "loss 30%%");
	diagnose(&r, &d);
	assert_int_equal(d.ncauses, 1);
	assert_string_equal(d.causes[0].id, "cause.establishment");
	diagnosis_free(&d);
	report_free(&r);
}

static void test_loss_without_timeout(void **state)
{
	(void)state;
	struct report r;
	struct diagnosis d = { 0 };
	report_init(&r, "doctor");
	idle_measure(&r, 0, 120, 0, NULL);
	report_add(&r, SEV_WARNING, "path.loss", "loss 20%%");
	report_add(&r, SEV_OK, "path.idle-timeout", "no idle timeout below 2m");
	diagnose(&r, &d);
	assert_true(d.ncauses >= 1);
	assert_string_equal(d.causes[0].id, "cause.path-quality");
	for (size_t i = 0; i < d.ncauses; i++)
		assert_string_not_equal(d.causes[i].id, "cause.idle-timeout");
	diagnosis_free(&d);
	report_free(&r);
}

static void test_mtu_outranks_loss(void **state)
{
	(void)state;
	struct report r;
	struct diagnosis d = { 0 };
	report_init(&r, "doctor");
	report_add(&r, SEV_WARNING, "path.jitter", "jitter 40 ms");
	report_add(&r, SEV_CRITICAL, "path.mtu-blackhole", "echoes above 1372 bytes vanish");
	diagnosis_skip(&d, "logs", "sshdoctor logs --journal", "server is remote");
	diagnose(&r, &d);
	assert_string_equal(d.causes[0].id, "cause.mtu-blackhole");
	assert_string_equal(d.causes[1].id, "cause.path-quality");
	char *s = diagnosis_summary(&d, &r);
	assert_non_null(strstr(s, "Not checked: 1 item"));
	free(s);
	diagnosis_free(&d);
	report_free(&r);
}

static void test_logs_causes(void **state)
{
	(void)state;
	struct report r;
	struct diagnosis d = { 0 };
	report_init(&r, "doctor");
	report_add(&r, SEV_CRITICAL, "logs.correlated-drops", "12 disconnects within 5 s of a NIC reset");
	report_add(&r, SEV_INFO, "logs.kernel-link", "3 link-down events");
	report_add(&r, SEV_CRITICAL, "logs.idle-timeout", "40 sessions ended after 300-310 s");
	report_add(&r, SEV_WARNING, "logs.maxstartups", "drops past MaxStartups");
	diagnose(&r, &d);
	assert_int_equal(d.ncauses, 3);
	assert_string_equal(d.causes[0].id, "cause.server");
	assert_int_equal(d.causes[0].conf, CONF_HIGH);
	/* the link-down events are cited as supporting evidence */
	int cited = 0;
	for (size_t i = 0; i < d.causes[0].evidence.n; i++)
		cited |= strstr(d.causes[0].evidence.v[i], "logs.kernel-link") != NULL;
	assert_true(cited);
	int idle = 0, limits = 0;
	for (size_t i = 0; i < d.ncauses; i++) {
		idle |= !strcmp(d.causes[i].id, "cause.idle-timeout") && d.causes[i].conf == CONF_MEDIUM;
		limits |= !strcmp(d.causes[i].id, "cause.server-limits");
	}
	assert_true(idle);
	assert_true(limits);
	diagnosis_free(&d);
	report_free(&r);
}

/* The login hangs in kex, a small kex logs in: the black hole comes first, even
 * before a critical idle timeout measured through the small-kex session; an
 * unexplained stall is an establishment failure, never an auth one. */
static void test_kex_blackhole_first(void **state)
{
	(void)state;
	struct report r;
	struct diagnosis d = { 0 };
	report_init(&r, "doctor");
	idle_measure(&r, 1, 20, 21, "silent-drop");
	report_add(&r, SEV_CRITICAL, "path.idle-timeout", "idle flows forgotten after 20-21 s");
	report_add(&r, SEV_WARNING, "login.kex-stalled", "the login hung in the key exchange");
	struct finding *f = report_add(&r, SEV_CRITICAL, "login.mtu-blackhole", "MTU black hole");
	struct fix *x = finding_fix(f, "~/.ssh/config (interim, until the path is fixed)");
	fix_line(x, "Host lab");
	fix_line(x, "    KexAlgorithms curve25519-sha256");
	diagnose(&r, &d);
	assert_true(d.ncauses >= 2);
	assert_string_equal(d.causes[0].id, "cause.mtu-blackhole");
	assert_int_equal(d.causes[0].conf, CONF_HIGH);
	char *s = diagnosis_summary(&d, &r);
	assert_non_null(strstr(s, "KexAlgorithms curve25519-sha256"));
	free(s);
	diagnosis_free(&d);
	report_free(&r);

	report_init(&r, "doctor");
	report_add(&r, SEV_CRITICAL, "login.kex-stalled", "the login hung in the key exchange");
	diagnose(&r, &d);
	assert_int_equal(d.ncauses, 1);
	assert_string_equal(d.causes[0].id, "cause.establishment");
	assert_non_null(strstr(d.causes[0].title, "key exchange"));
	diagnosis_free(&d);
	report_free(&r);
}

/* sshd's ChannelTimeout closed them: the server's policy, not a middlebox. */
static void test_server_idle_policy(void **state)
{
	(void)state;
	struct report r;
	struct diagnosis d = { 0 };
	report_init(&r, "doctor");
	idle_measure(&r, 1, 18, 19, "closed");
	json_object_object_add(json_object_object_get(r.measurements, "idle"), "closed_by",
			       json_object_new_string("server"));
	struct finding *f = report_add(&r, SEV_CRITICAL, "server.idle-policy",
				       "sshd closes SSH sessions idle for 20 s itself");
	fix_line(finding_fix(f, "/etc/ssh/sshd_config (server)"), "ChannelTimeout session*=0");
	report_add(&r, SEV_INFO, "path.idle-timeout", "No path idle timeout seen below 18 s");
	struct finding *c = report_add(&r, SEV_WARNING, "client.keepalive.off", "ServerAliveInterval is 0");
	fix_line(finding_fix(c, "~/.ssh/config"), "ServerAliveInterval 9");
	diagnose(&r, &d);
	assert_true(d.ncauses >= 1);
	assert_string_equal(d.causes[0].id, "cause.server-idle-policy");
	assert_int_equal(d.causes[0].conf, CONF_HIGH);
	for (size_t i = 0; i < d.ncauses; i++)
		assert_string_not_equal(d.causes[i].id, "cause.idle-timeout");
	char *s = diagnosis_summary(&d, &r);
	assert_non_null(strstr(s, "ChannelTimeout session*=0"));
	assert_null(strstr(s, "ServerAliveInterval"));
	free(s);
	diagnosis_free(&d);
	report_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_timeout_unprotected),
		cmocka_unit_test(test_protected_is_not_an_alarm),
		cmocka_unit_test(test_establishment_stops_everything),
		cmocka_unit_test(test_loss_without_timeout),
		cmocka_unit_test(test_mtu_outranks_loss),
		cmocka_unit_test(test_kex_blackhole_first),
		cmocka_unit_test(test_server_idle_policy),
		cmocka_unit_test(test_logs_causes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
