/* Unit tests: the audit analyser (facts -> findings), pure, no processes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"

static void base(struct audit_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->client_known = 1;
	strcpy(f->client_config, "/home/u/.ssh/config");
	strcpy(f->client_host, "h");
	f->sai.v = 0;
	f->sacm.v = 3;
	f->c_tcpka.v = 1;
	f->identities_only.v = 0;
	f->nkeys = 1;
	f->server_known = 1;
	strcpy(f->server_source, "sshd -T");
	strcpy(f->server_config, "/etc/ssh/sshd_config");
	f->smajor = 9;
	f->sminor = 2;
	f->cmajor = 9;
	f->cminor = 2;
	f->cai.v = 0;
	f->cacm.v = 3;
	f->s_tcpka.v = 1;
	f->usedns.v = 0;
	f->logingrace.v = 120;
	f->maxauthtries.v = 6;
	f->ms_start.v = 10;
	f->ms_rate.v = 30;
	f->ms_full.v = 100;
	f->exposed = 0;
	f->kernel_known = 1;
	f->ka_time = 7200;
	f->ka_intvl = 75;
	f->ka_probes = 9;
	f->retries2 = 15;
	f->idle_s = 240;
	f->idle_source = "assumed";
}

static const struct finding *get(const struct report *r, const char *id)
{
	const struct finding *f = report_find(r, id);
	if (!f)
		fail_msg("no finding %s", id);
	return f;
}

static int has_fix_line(const struct finding *f, const char *line)
{
	for (size_t i = 0; i < f->nfixes; i++)
		for (size_t j = 0; j < f->fixes[i].lines.n; j++)
			if (!strcmp(f->fixes[i].lines.v[j], line))
				return 1;
	return 0;
}

static struct json_object *meas(const struct report *r, const char *path)
{
	struct json_object *o = json_object_object_get(r->measurements, "audit");
	char *copy = xstrdup(path);
	for (char *save = NULL, *k = strtok_r(copy, ".", &save); k && o; k = strtok_r(NULL, ".", &save))
		o = json_object_object_get(o, k);
	free(copy);
	return o;
}

static void test_defaults(void **state)
{
	(void)state;
	struct audit_facts f;
	struct report r;
	base(&f);
	report_init(&r, "audit");
	audit_analyse(&f, &r);
	const struct finding *c = get(&r, "client.keepalive.off");
	assert_int_equal(c->sev, SEV_WARNING);
	assert_true(has_fix_line(c, "ServerAliveInterval 60"));
	/* instructions for clients we cannot edit */
	int putty = 0, nic = 0;
	for (size_t i = 0; i < c->nfixes; i++) {
		putty |= !strcmp(c->fixes[i].where, "PuTTY");
		nic |= !strcmp(c->fixes[i].where, "Windows NIC power saving");
	}
	assert_true(putty && nic);
	assert_true(has_fix_line(get(&r, "server.keepalive.off"), "ClientAliveInterval 60"));
	assert_int_equal(get(&r, "kernel.tcp-keepalive.too-long")->sev, SEV_WARNING);
	assert_int_equal(get(&r, "audit.idle-timeout.assumed")->sev, SEV_INFO);
	assert_non_null(report_find(&r, "server.usedns.ok"));
	assert_non_null(report_find(&r, "server.maxstartups.ok"));	/* not exposed */
	assert_null(meas(&r, "detection_s.client"));
	assert_null(meas(&r, "detection_s.server"));
	assert_int_equal(json_object_get_int(meas(&r, "idle_timeout_s")), 240);
	assert_string_equal(json_object_get_string(meas(&r, "idle_timeout_source")), "assumed");
	assert_int_equal(report_status(&r), STATUS_WARNING);
	report_free(&r);
}

static void test_intervals(void **state)
{
	(void)state;
	struct audit_facts f;
	struct report r;
	base(&f);
	f.sai.v = 300;
	f.cai.v = 240;	/* equal to the timeout: too late as well */
	f.idle_source = "measured";
	report_init(&r, "audit");
	audit_analyse(&f, &r);
	assert_non_null(report_find(&r, "client.keepalive.too-long"));
	assert_non_null(report_find(&r, "server.keepalive.too-long"));
	assert_null(report_find(&r, "audit.idle-timeout.assumed"));
	assert_int_equal(json_object_get_int(meas(&r, "detection_s.client")), 1200);
	assert_int_equal(json_object_get_int(meas(&r, "detection_s.server")), 960);
	report_free(&r);

	base(&f);
	f.sai.v = 60;
	f.cai.v = 30;
	f.cacm.v = 2;
	report_init(&r, "audit");
	audit_analyse(&f, &r);
	assert_int_equal(get(&r, "client.keepalive.ok")->sev, SEV_OK);
	assert_int_equal(get(&r, "server.keepalive.ok")->sev, SEV_OK);
	/* SSH keepalives cover it: the kernel's 2 h no longer matters */
	assert_int_equal(get(&r, "kernel.tcp-keepalive.ok")->sev, SEV_OK);
	assert_int_equal(json_object_get_int(meas(&r, "detection_s.client")), 240);
	assert_int_equal(json_object_get_int(meas(&r, "detection_s.server")), 90);
	report_free(&r);
}

static void test_countmax_zero(void **state)
{
	(void)state;
	struct audit_facts f;
	struct report r;
	base(&f);
	f.cai.v = 60;
	f.cacm.v = 0;
	report_init(&r, "audit");
	audit_analyse(&f, &r);
	const struct finding *z = get(&r, "server.clientalive-countmax-zero");
	assert_non_null(strstr(z->title, "never disconnected"));
	assert_true(has_fix_line(z, "ClientAliveCountMax 3"));
	assert_null(meas(&r, "detection_s.server"));
	report_free(&r);

	f.smajor = 7;
	f.sminor = 4;
	report_init(&r, "audit");
	audit_analyse(&f, &r);
	z = get(&r, "server.clientalive-countmax-zero");
	assert_non_null(strstr(z->title, "< 8.2"));
	assert_int_equal(json_object_get_int(meas(&r, "detection_s.server")), 60);
	report_free(&r);
}

static void test_limits(void **state)
{
	(void)state;
	struct audit_facts f;
	struct report r;
	base(&f);
	f.usedns.v = 1;
	f.ms_start.v = 3;
	f.ms_full.v = 3;
	f.logingrace.v = 0;
	f.nkeys = 8;
	report_init(&r, "audit");
	audit_analyse(&f, &r);
	assert_true(has_fix_line(get(&r, "server.usedns"), "UseDNS no"));
	assert_int_equal(get(&r, "server.maxstartups")->sev, SEV_WARNING);
	assert_true(has_fix_line(get(&r, "server.logingracetime"), "LoginGraceTime 120"));
	assert_true(has_fix_line(get(&r, "client.identities"), "    IdentitiesOnly yes"));
	report_free(&r);

	base(&f);
	f.exposed = 1;
	f.logingrace.v = 10;
	f.nkeys = 8;
	f.identities_only.v = 1;
	report_init(&r, "audit");
	audit_analyse(&f, &r);
	assert_int_equal(get(&r, "server.maxstartups")->sev, SEV_INFO);
	assert_true(has_fix_line(get(&r, "server.logingracetime"), "LoginGraceTime 60"));
	assert_non_null(report_find(&r, "client.identities.ok"));
	report_free(&r);
}

static void test_no_server(void **state)
{
	(void)state;
	struct audit_facts f;
	struct report r;
	base(&f);
	f.server_known = 0;
	f.sai.v = 100;
	report_init(&r, "audit");
	audit_analyse(&f, &r);
	assert_null(meas(&r, "server"));
	assert_null(report_find(&r, "server.keepalive.off"));
	assert_non_null(report_find(&r, "client.keepalive.ok"));
	report_free(&r);
}

static void test_helpers(void **state)
{
	(void)state;
	assert_int_equal(audit_detection(60, 3, 0, 9, 2), 240);
	assert_int_equal(audit_detection(0, 3, 0, 9, 2), -1);
	assert_int_equal(audit_detection(15, 0, 0, 9, 2), 15);	/* the client has no special case */
	assert_int_equal(audit_detection(15, 0, 1, 8, 2), -1);
	assert_int_equal(audit_detection(15, 0, 1, 8, 1), 15);
	assert_int_equal(audit_detection(15, 0, 1, -1, -1), -1);
	assert_int_equal(audit_prescribed_interval(240), 60);
	assert_int_equal(audit_prescribed_interval(350), 60);
	assert_int_equal(audit_prescribed_interval(100), 50);
	assert_int_equal(audit_prescribed_interval(4), 2);
	assert_int_equal(audit_prescribed_interval(1), 1);
}

static void test_parse_remote(void **state)
{
	(void)state;
	struct audit_facts f;
	char *err = NULL;
	base(&f);
	strcpy(f.server_config, "srv:/etc/ssh/sshd_config");
	assert_int_equal(audit_parse_remote("@@who bob 192.0.2.2\n@@version OpenSSH_8.1p1 Ubuntu\n"
					    "@@sysctl tcp_keepalive_time 600\n@@sshdT \n"
					    "clientaliveinterval 30\nclientalivecountmax 0\nusedns yes\n"
					    "@@rc 0\n@@file\n\nUseDNS yes\nClientAliveInterval 10\n"
					    "Match User bob\n  ClientAliveInterval 30\n",
					    &f, &err), 0);
	assert_string_equal(f.server_user, "user=bob,host=192.0.2.2,addr=192.0.2.2");
	assert_string_equal(f.cai.block, "Match User bob (srv:/etc/ssh/sshd_config:4)");
	assert_string_equal(f.server_source, "remote sshd -T -C");
	assert_int_equal(f.cai.v, 30);
	assert_int_equal(f.cacm.v, 0);
	assert_int_equal(f.usedns.v, 1);
	assert_int_equal(f.ka_time, 600);
	assert_int_equal(f.smajor, 8);
	assert_int_equal(f.sminor, 1);
	assert_string_equal(f.cai.origin, "srv:/etc/ssh/sshd_config:5");	/* empty lines count */
	/* < 8.2: ClientAliveCountMax 0 kills idle sessions at the first probe */
	struct report r;
	report_init(&r, "audit");
	audit_analyse(&f, &r);
	assert_non_null(strstr(get(&r, "server.clientalive-countmax-zero")->title, "< 8.2"));
	report_free(&r);

	/* no sudo: the file alone, Include not followed, and said so */
	base(&f);
	strcpy(f.server_config, "srv:/etc/ssh/sshd_config");
	assert_int_equal(audit_parse_remote("@@version OpenSSH_9.6p1\n@@file\n"
					    "Include /etc/ssh/sshd_config.d/*.conf\n"
					    "ClientAliveInterval 1m\n@@rc 0\n", &f, &err), 0);
	assert_non_null(strstr(f.server_source, "remote file"));
	assert_int_equal(f.cai.v, 60);
	assert_string_equal(f.cai.origin, "srv:/etc/ssh/sshd_config:2");

	/* neither: an error, not silent defaults */
	base(&f);
	strcpy(f.server_config, "srv:/etc/ssh/sshd_config");
	assert_int_equal(audit_parse_remote("@@version OpenSSH_9.6p1\n@@nofile /etc/ssh/sshd_config\n",
					    &f, &err), -1);
	assert_non_null(strstr(err, "neither"));
	free(err);
}

/* Client ServerAliveCountMax: clientloop.c server_alive_check() exits when the
 * counter, raised before each keepalive, exceeds CountMax: 0 ends every idle
 * session after one interval (no 8.2 "never" rule on the client). */
static void test_client_countmax(void **state)
{
	(void)state;
	struct audit_facts f;
	struct report r;
	base(&f);
	f.sai.v = 30;
	f.sacm.v = 0;
	report_init(&r, "audit");
	audit_analyse(&f, &r);
	assert_null(report_find(&r, "client.keepalive.ok"));
	const struct finding *c = get(&r, "client.keepalive.countmax-too-low");
	assert_int_equal(c->sev, SEV_WARNING);
	assert_non_null(strstr(c->title, "every session idle for 30s"));
	assert_true(has_fix_line(c, "ServerAliveInterval 30"));	/* the good interval stays */
	assert_true(has_fix_line(c, "ServerAliveCountMax 3"));
	assert_int_equal(json_object_get_int(meas(&r, "detection_s.client")), 30);
	report_free(&r);

	/* 4 x 2 = 8 s to answer: one lost reply (TCP backs off 1+2+4+8 s) kills it */
	base(&f);
	f.sai.v = 4;
	f.sacm.v = 2;
	report_init(&r, "audit");
	audit_analyse(&f, &r);
	c = get(&r, "client.keepalive.countmax-too-low");
	assert_true(has_fix_line(c, "ServerAliveCountMax 4"));
	report_free(&r);

	/* 5 x 3 = 15 s: enough */
	f.sai.v = 5;
	f.sacm.v = 3;
	report_init(&r, "audit");
	audit_analyse(&f, &r);
	assert_int_equal(get(&r, "client.keepalive.ok")->sev, SEV_OK);
	report_free(&r);

	/* the prescription for a short interval must itself pass the rule */
	for (long iv = 1; iv <= 60; iv++) {
		assert_false(audit_client_countmax_low(iv, audit_prescribed_countmax(iv)));
		assert_true(audit_prescribed_countmax(iv) >= 3);
	}
	assert_true(audit_client_countmax_low(60, 0));
	assert_false(audit_client_countmax_low(0, 0));	/* off is client.keepalive.off */
	assert_int_equal(audit_prescribed_countmax(2), 8);
	/* sshd's rule differs: 0 = never since 8.2, the client has no such case */
	assert_int_equal(audit_detection(30, 0, 0, 9, 2), 30);
	assert_int_equal(audit_detection(30, 0, 1, 9, 2), -1);
}

/* A value nobody wrote: Debian's BatchMode default is named, not "default". */
static void test_batchmode_origin(void **state)
{
	(void)state;
	struct audit_facts f;
	struct report r;
	base(&f);
	f.sai.v = 300;
	strcpy(f.sai.origin, AUDIT_ORIGIN_BATCHMODE);
	report_init(&r, "audit");
	audit_analyse(&f, &r);
	const struct finding *c = get(&r, "client.keepalive.too-long");
	int named = 0;
	for (size_t i = 0; i < c->evidence.n; i++)
		named |= strstr(c->evidence.v[i], "ServerAliveInterval 300 (Debian's default when "
				"BatchMode yes)") != NULL;
	assert_true(named);
	assert_string_equal(json_object_get_string(meas(&r, "client.origin.serveraliveinterval")),
			    AUDIT_ORIGIN_BATCHMODE);
	report_free(&r);
}

/* The Match block a server value comes from is named in the finding and JSON. */
static void test_match_block(void **state)
{
	(void)state;
	struct audit_facts f;
	struct report r;
	base(&f);
	f.cai.v = 600;
	strcpy(f.cai.origin, "/etc/ssh/sshd_config:12");
	strcpy(f.cai.block, "Match User bob (/etc/ssh/sshd_config:11)");
	strcpy(f.server_source, "sshd -T -C");
	strcpy(f.server_user, "user=bob,host=192.0.2.2,addr=192.0.2.2");
	report_init(&r, "audit");
	audit_analyse(&f, &r);
	const struct finding *s = get(&r, "server.keepalive.too-long");
	int named = 0, spec = 0;
	for (size_t i = 0; i < s->evidence.n; i++) {
		named |= strstr(s->evidence.v[i], "set for this user by Match User bob "
				"(/etc/ssh/sshd_config:11): change it inside that block") != NULL;
		spec |= strstr(s->evidence.v[i], "sshd -T -C user=bob,host=192.0.2.2") != NULL;
	}
	assert_true(named && spec);
	assert_string_equal(json_object_get_string(meas(&r, "server.match.clientaliveinterval")),
			    "Match User bob (/etc/ssh/sshd_config:11)");
	assert_null(meas(&r, "server.match.clientalivecountmax"));
	assert_string_equal(json_object_get_string(meas(&r, "server.connection")),
			    "user=bob,host=192.0.2.2,addr=192.0.2.2");
	/* the fix goes to the file holding the winning line */
	assert_string_equal(s->fixes[0].where, "/etc/ssh/sshd_config");
	report_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_intervals),
		cmocka_unit_test(test_countmax_zero),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_no_server),
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_parse_remote),
		cmocka_unit_test(test_client_countmax),
		cmocka_unit_test(test_batchmode_origin),
		cmocka_unit_test(test_match_block),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
