/* Unit tests: the server's idle policy (parser, ChannelTimeout matching as
 * sshd does it, verdicts server / unknown / path). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "srvpolicy.h"

static void test_convtime(void **st)
{
	(void)st;
	assert_int_equal(srvp_convtime("20"), 20);
	assert_int_equal(srvp_convtime("20s"), 20);
	assert_int_equal(srvp_convtime("1h30m"), 5400);
	assert_int_equal(srvp_convtime("2W"), 1209600);
	assert_int_equal(srvp_convtime("15min"), 900);	/* systemd */
	assert_int_equal(srvp_convtime("0"), 0);
	assert_int_equal(srvp_convtime(""), -1);
	assert_int_equal(srvp_convtime("x"), -1);
	assert_int_equal(srvp_convtime("10q"), -1);
	assert_int_equal(srvp_convtime("-5"), -1);
}

static void test_channel_timeout(void **st)
{
	(void)st;
	char e[128];
	/* sshd relabels session channels session:command / session:shell: the bare
	 * name matches neither (measured on 9.2 and 10.0: no effect on `cat`) */
	assert_int_equal(srvp_channel_timeout("session=20s", "session:command", e, sizeof(e)), 0);
	assert_int_equal(srvp_channel_timeout("session=20s", "session:shell", e, sizeof(e)), 0);
	assert_int_equal(srvp_channel_timeout("session*=20s", "session:command", e, sizeof(e)), 20);
	assert_string_equal(e, "session*=20s");
	assert_int_equal(srvp_channel_timeout("session:*=1m", "session:shell", e, sizeof(e)), 60);
	assert_int_equal(srvp_channel_timeout("session:shell=5m", "session:command", e, sizeof(e)), 0);
	assert_int_equal(srvp_channel_timeout("session:shell=5m", "session:shell", e, sizeof(e)), 300);
	assert_int_equal(srvp_channel_timeout("session:s?ell=5m", "session:shell", e, sizeof(e)), 300);
	/* first match wins, as in channels.c lookup_timeout */
	assert_int_equal(srvp_channel_timeout("session:command=0 session*=20s", "session:command", e,
					      sizeof(e)), 0);
	assert_int_equal(srvp_channel_timeout("direct-tcpip=1h session*=20s", "session:command", e,
					      sizeof(e)), 20);
	/* global is never matched by wildcards, and applies to all channels */
	assert_int_equal(srvp_channel_timeout("*=0 global=30s", "session:command", e, sizeof(e)), 0);
	assert_int_equal(srvp_channel_timeout("global=30s", "session:command", e, sizeof(e)), 30);
	assert_string_equal(e, "global=30s");
	assert_int_equal(srvp_channel_timeout("none", "session:command", e, sizeof(e)), 0);
	assert_int_equal(srvp_channel_timeout("", "session:command", e, sizeof(e)), 0);
	assert_int_equal(srvp_channel_timeout("session*=bad", "session:command", e, sizeof(e)), 0);
}

static const char probe_out[] =
	"@@version OpenSSH_10.0p2 Debian-7~bpo12+1, OpenSSL 3.0.19\n"
	"@@config /tmp/lab/sshd_config\n"
	"@@sshdT\n"
	"clientaliveinterval 0\n"
	"clientalivecountmax 3\n"
	"unusedconnectiontimeout 90\n"
	"channeltimeout session*=20s\n"
	"@@rc 0\n"
	"@@tmout 15 1\n"
	"@@tmoutsrc /etc/profile\n"
	"@@logind /etc/systemd/logind.conf 30min\n"
	"@@logind /etc/systemd/logind.conf.d/x.conf infinity\n"
	"@@log sshd-session[12]: channel 0: closing after 20 seconds of inactivity\n"
	"@@end\n";

static void test_parse(void **st)
{
	(void)st;
	struct srvpolicy p;
	srvpolicy_init(&p);
	srvpolicy_parse(probe_out, &p);
	assert_true(p.read);
	assert_true(p.sshd_t);
	assert_int_equal(p.major, 10);
	assert_int_equal(p.minor, 0);
	assert_string_equal(p.config, "/tmp/lab/sshd_config");
	assert_string_equal(p.channeltimeout, "session*=20s");
	assert_int_equal(p.unused_s, 90);
	assert_int_equal(p.cai, 0);
	assert_int_equal(p.cacm, 3);
	assert_int_equal(p.tmout_s, 15);
	assert_true(p.tmout_readonly);
	assert_string_equal(p.tmout_src, "/etc/profile");
	assert_int_equal(p.logind_idle_s, 0);	/* the drop-in read last wins */
	assert_int_equal(p.nlog, 1);

	srvpolicy_init(&p);	/* no root: no sshd -T, nothing invented */
	srvpolicy_parse("@@version OpenSSH_9.2p1\n@@tmout 0 0\n@@end\n", &p);
	assert_true(p.read);
	assert_false(p.sshd_t);
	assert_int_equal(p.unused_s, -1);
	assert_int_equal(p.tmout_s, 0);
	srvpolicy_init(&p);
	srvpolicy_parse("garbage\n@@rc x\n@@tmout\n", &p);
	assert_false(p.read);
}

static int has(const struct report *r, const char *id, enum severity sev)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->findings[i].id, id) && r->findings[i].sev == sev)
			return 1;
	return 0;
}

static int fixes_mention(const struct report *r, const char *what)
{
	for (size_t i = 0; i < r->n; i++)
		for (size_t j = 0; j < r->findings[i].nfixes; j++)
			for (size_t k = 0; k < r->findings[i].fixes[j].lines.n; k++)
				if (strstr(r->findings[i].fixes[j].lines.v[k], what))
					return 1;
	return 0;
}

static void test_judge_ct(void **st)
{
	(void)st;
	struct srvpolicy p;
	struct report r;
	srvpolicy_init(&p);
	srvpolicy_parse(probe_out, &p);
	struct srvp_obs o = { 18900, 19100, 2, 0, 2, 2, "lab", 0 };
	report_init(&r, "idle");
	assert_int_equal(srvpolicy_judge(&p, &o, &r), SRVP_SERVER);
	assert_true(has(&r, "server.idle-policy", SEV_CRITICAL));
	assert_true(fixes_mention(&r, "ChannelTimeout session*=0"));
	assert_true(fixes_mention(&r, "UnusedConnectionTimeout none"));
	assert_true(fixes_mention(&r, "TMOUT=0"));
	assert_false(fixes_mention(&r, "ServerAlive"));
	assert_false(fixes_mention(&r, "ClientAliveInterval"));
	report_free(&r);

	/* resets at the setting's age (probes racing sshd's close, the RST beating
	 * the channel close to ssh): still the setting; silence there is not */
	struct srvp_obs rst = { 18900, 19100, 0, 0, 0, 3, "lab", 0 };
	report_init(&r, "idle");
	assert_int_equal(srvpolicy_judge(&p, &rst, &r), SRVP_SERVER);
	assert_true(has(&r, "server.idle-policy", SEV_CRITICAL));
	report_free(&r);
	struct srvp_obs silent = { 18900, 19100, 0, 0, 0, 3, "lab", 2 };
	report_init(&r, "idle");
	assert_int_equal(srvpolicy_judge(&p, &silent, &r), SRVP_NONE);
	assert_false(has(&r, "server.idle-policy", SEV_CRITICAL));
	report_free(&r);

	/* the same setting, deaths at another age (a NAT at 10 s): not explained */
	struct srvp_obs nat = { 9800, 10100, 0, 0, 0, 2, "lab", 0 };
	report_init(&r, "idle");
	assert_int_equal(srvpolicy_judge(&p, &nat, &r), SRVP_NONE);
	assert_false(has(&r, "server.idle-policy", SEV_CRITICAL));
	assert_true(has(&r, "server.idle-policy", SEV_WARNING));	/* still worth knowing */
	report_free(&r);
}

static void test_judge_bare_session(void **st)
{
	(void)st;
	struct srvpolicy p;
	struct report r;
	srvpolicy_init(&p);
	srvpolicy_parse("@@version OpenSSH_10.0p2\n@@sshdT\nunusedconnectiontimeout none\n"
			"channeltimeout session=20s\n@@rc 0\n", &p);
	report_init(&r, "idle");
	assert_int_equal(srvpolicy_judge(&p, NULL, &r), SRVP_NONE);
	assert_true(has(&r, "server.idle-policy", SEV_INFO));
	assert_int_equal(r.n, 1);
	report_free(&r);
}

static void test_judge_unreadable(void **st)
{
	(void)st;
	struct report r;
	/* sshd's channel close, nothing readable: still the server, never the path */
	struct srvp_obs o = { 18000, 19500, 3, 0, 3, 3, "lab", 0 };
	report_init(&r, "idle");
	assert_int_equal(srvpolicy_judge(NULL, &o, &r), SRVP_SERVER);
	assert_true(has(&r, "server.idle-policy", SEV_CRITICAL));
	assert_false(fixes_mention(&r, "Alive"));
	report_free(&r);
	/* a bare FIN while idle, nothing readable: unknown, not a middlebox */
	struct srvp_obs fin = { 18000, 19500, 0, 3, 3, 3, "lab", 0 };
	report_init(&r, "idle");
	assert_int_equal(srvpolicy_judge(NULL, &fin, &r), SRVP_UNKNOWN);
	assert_true(has(&r, "idle.close-unattributed", SEV_WARNING));
	assert_true(r.unknown);
	report_free(&r);
	/* RST / silence at the probe: the path */
	struct srvp_obs rst = { 18000, 19500, 0, 0, 0, 3, "lab", 0 };
	report_init(&r, "idle");
	assert_int_equal(srvpolicy_judge(NULL, &rst, &r), SRVP_NONE);
	assert_int_equal(r.n, 0);
	report_free(&r);
	/* FIN but only at probes (a NAT answering... with FIN is not usual): not unprompted */
	struct srvp_obs fin2 = { 18000, 19500, 0, 3, 0, 3, "lab", 0 };
	report_init(&r, "idle");
	assert_int_equal(srvpolicy_judge(NULL, &fin2, &r), SRVP_NONE);
	report_free(&r);
}

static void test_judge_old_countmax(void **st)
{
	(void)st;
	struct srvpolicy p;
	struct report r;
	srvpolicy_init(&p);
	srvpolicy_parse("@@version OpenSSH_7.4p1\n@@sshdT\nclientaliveinterval 30\n"
			"clientalivecountmax 0\nunusedconnectiontimeout none\n@@rc 0\n", &p);
	struct srvp_obs o = { 29500, 30400, 0, 2, 2, 2, "lab", 0 };
	report_init(&r, "idle");
	assert_int_equal(srvpolicy_judge(&p, &o, &r), SRVP_SERVER);
	assert_true(fixes_mention(&r, "ClientAliveCountMax 3"));
	report_free(&r);
	/* 8.2+: CountMax 0 means never kill */
	srvpolicy_init(&p);
	srvpolicy_parse("@@version OpenSSH_9.2p1\n@@sshdT\nclientaliveinterval 30\n"
			"clientalivecountmax 0\n@@rc 0\n", &p);
	report_init(&r, "idle");
	assert_int_equal(srvpolicy_judge(&p, &o, &r), SRVP_UNKNOWN);
	assert_false(has(&r, "server.idle-policy", SEV_CRITICAL));
	report_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_convtime),
		cmocka_unit_test(test_channel_timeout),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_judge_ct),
		cmocka_unit_test(test_judge_bare_session),
		cmocka_unit_test(test_judge_unreadable),
		cmocka_unit_test(test_judge_old_countmax),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
