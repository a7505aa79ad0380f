/* test_keep_judge.c - why a tunnel's ssh exited, from stderr captured in the lab
 * (tests/lab/capture_keep.sh, OpenSSH 9.2 and 10.0 clients and servers), and
 * keep's backoff. Runs from the repository root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keep_judge.h"

/* Feeds a fixture (first line "exit=N") in chunks of 7 bytes, as a pipe might. */
static int judge_file(const char *path, struct keep_obs *o, struct keep_verdict *v)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char first[64];
	assert_non_null(fgets(first, sizeof(first), f));
	int status = -1;
	assert_int_equal(sscanf(first, "exit=%d", &status), 1);
	keep_obs_init(o, 0);
	char buf[7];
	size_t n;
	int64_t t = 0;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		keep_obs_feed(o, t++, buf, n);
	fclose(f);
	keep_obs_finish(o, t);
	keep_judge(o, status, v);
	return status;
}

struct want {
	const char *file;
	enum keep_cause cause;
	int authed;	/* 1: logged in first, 0: never, -1: either */
};

static const struct want wants[] = {
	{ "auth-refused", KC_AUTH_REFUSED, 0 },
	{ "hostkey-changed", KC_HOSTKEY, 0 },
	{ "dns", KC_DNS, 0 },
	{ "no-route", KC_NO_ROUTE, 0 },
	{ "refused", KC_REFUSED, 0 },
	{ "connect-timeout", KC_CONNECT_TIMEOUT, 0 },
	{ "maxstartups", KC_PENALTY, 0 },
	{ "remote-forward-held", KC_FORWARD_HELD, 1 },
	{ "local-forward-busy", KC_LOCAL_BUSY, 1 },
	{ "up-silent", KC_PATH_SILENT, 1 },
	{ "up-reset", KC_PATH_RESET, 1 },
	{ "up-server-killed", KC_SERVER_CLOSED, 1 },
	{ "up-sigterm", KC_EXITED, 1 },
	{ "remote-up", KC_EXITED, 1 },
};

static void check_version(const char *ver)
{
	char path[256];
	for (size_t i = 0; i < sizeof(wants) / sizeof(wants[0]); i++) {
		struct keep_obs o;
		struct keep_verdict v;
		snprintf(path, sizeof(path), "tests/fixtures/keep/%s/%s.txt", ver, wants[i].file);
		judge_file(path, &o, &v);
		if (v.cause != wants[i].cause)
			fail_msg("%s: cause %s, want %s (%s)", path, keep_cause_name(v.cause),
				 keep_cause_name(wants[i].cause), v.detail);
		if (wants[i].authed >= 0)
			assert_int_equal(o.vl.authenticated >= 0, wants[i].authed);
		assert_true(v.detail[0] != '\0');
		assert_int_equal(v.action, keep_cause_action(v.cause));
	}
}

static void test_fixtures_92(void **state)
{
	(void)state;
	check_version("9.2");
}

static void test_fixtures_10(void **state)
{
	(void)state;
	check_version("10");
	struct keep_obs o;
	struct keep_verdict v;
	judge_file("tests/fixtures/keep/10/penalty.txt", &o, &v);
	assert_int_equal(v.cause, KC_PENALTY);
	assert_int_equal(v.action, KA_WAIT_PENALTY);
}

static void test_details(void **state)
{
	(void)state;
	struct keep_obs o;
	struct keep_verdict v;
	judge_file("tests/fixtures/keep/9.2/remote-forward-held.txt", &o, &v);
	assert_int_equal(o.held_port, 9000);
	assert_non_null(strstr(v.detail, "9000"));
	assert_non_null(strstr(v.advice, "ClientAliveInterval"));
	assert_int_equal(v.action, KA_WAIT_REAP);
	assert_false(keep_obs_ready(&o, 1));

	judge_file("tests/fixtures/keep/10/remote-up.txt", &o, &v);
	assert_true(keep_obs_ready(&o, 1));
	assert_false(keep_obs_ready(&o, 2));	/* only one -R confirmed */

	judge_file("tests/fixtures/keep/9.2/up-silent.txt", &o, &v);
	assert_true(o.local_listening >= 1);
	assert_true(keep_obs_ready(&o, 0));

	judge_file("tests/fixtures/keep/9.2/auth-refused.txt", &o, &v);
	assert_int_equal(v.action, KA_STOP_AUTH);
	assert_false(keep_obs_ready(&o, 0));
	judge_file("tests/fixtures/keep/10/hostkey-changed.txt", &o, &v);
	assert_int_equal(v.action, KA_STOP);
	judge_file("tests/fixtures/keep/10/no-route.txt", &o, &v);
	assert_int_equal(v.action, KA_WAIT_NET);
}

/* Look-alikes: a unix-socket forward held; a killed ssh; a path line in a debug
 * message must not count; an over-long line is cut, not overflowed. */
static void feed(struct keep_obs *o, const char *text)
{
	keep_obs_init(o, 0);
	keep_obs_feed(o, 1, text, strlen(text));
	keep_obs_finish(o, 2);
}

static void test_lines(void **state)
{
	(void)state;
	struct keep_obs o;
	struct keep_verdict v;
	feed(&o, "debug1: Authenticated to h ([h]:22) using \"publickey\".\n"
		 "Error: remote port forwarding failed for listen path /run/x.sock\n");
	keep_judge(&o, 255, &v);
	assert_int_equal(v.cause, KC_FORWARD_HELD);
	assert_string_equal(o.held_path, "/run/x.sock");
	assert_non_null(strstr(v.advice, "StreamLocalBindUnlink yes"));

	feed(&o, "debug1: Authenticated to h ([h]:22) using \"publickey\".\n");
	keep_judge(&o, 128 + 9, &v);
	assert_int_equal(v.cause, KC_KILLED);

	feed(&o, "debug1: connect to address 1.2.3.4 port 22: Connection refused\n"
		 "ssh: connect to host h port 22: Connection refused\n");
	keep_judge(&o, 255, &v);
	assert_int_equal(v.cause, KC_REFUSED);

	/* through keep's relay: the relay's line explains, ssh's follow-up does not */
	feed(&o, "sshdoctor relay: connect to 203.0.113.2 port 22: Connection timed out\n"
		 "mm_receive_fd: recvmsg: expected received 1 got 0\n"
		 "proxy dialer did not pass back a connection\n");
	keep_judge(&o, 255, &v);
	assert_int_equal(v.cause, KC_CONNECT_TIMEOUT);
	assert_non_null(strstr(o.last_error, "sshdoctor relay: connect to"));
	feed(&o, "sshdoctor relay: connect to 203.0.113.2 port 22: Connection refused\n"
		 "proxy dialer did not pass back a connection\n");
	keep_judge(&o, 255, &v);
	assert_int_equal(v.cause, KC_REFUSED);
	feed(&o, "sshdoctor relay: connect to 203.0.113.2 port 22: No route to host\n"
		 "proxy dialer did not pass back a connection\n");
	keep_judge(&o, 255, &v);
	assert_int_equal(v.cause, KC_NO_ROUTE);

	feed(&o, "command-line line 0: Bad configuration option: nosuch\n");
	keep_judge(&o, 255, &v);
	assert_int_equal(v.cause, KC_CONFIG);
	assert_int_equal(v.action, KA_STOP);

	feed(&o, "");
	keep_judge(&o, 255, &v);
	assert_int_equal(v.cause, KC_UNKNOWN);

	char *big = malloc(10000);
	memset(big, 'A', 9999);
	big[9999] = '\0';
	memcpy(big + 9000, "Host key verification failed", 28);	/* past the cut: ignored */
	feed(&o, big);
	keep_judge(&o, 255, &v);
	assert_int_not_equal(v.cause, KC_HOSTKEY);
	assert_true(strlen(o.last_error) < sizeof(o.last_error));
	free(big);
}

static void test_names(void **state)
{
	(void)state;
	for (int c = 0; c < KC_N; c++)
		assert_int_equal(keep_cause_parse(keep_cause_name((enum keep_cause)c)), c);
	assert_int_equal(keep_cause_parse("nosuch"), -1);
	assert_string_equal(keep_cause_name(KC_FORWARD_HELD), "forward-held");
}

static void test_backoff(void **state)
{
	(void)state;
	/* first retry within a second, whatever the jitter */
	assert_true(keep_backoff_ms(0, 60000, 0.0) >= 250);
	assert_true(keep_backoff_ms(0, 60000, 0.9999) < 1000);
	/* doubling */
	assert_true(keep_backoff_ms(3, 60000, 0.0) == 2000);
	assert_true(keep_backoff_ms(3, 60000, 0.5) == 3000);
	/* capped, even for absurd n and r out of range */
	assert_true(keep_backoff_ms(100, 60000, 0.99) < 60000);
	assert_true(keep_backoff_ms(100, 60000, 0.0) == 30000);
	assert_true(keep_backoff_ms(100000, 60000, 7.0) < 60000);
	assert_true(keep_backoff_ms(-5, 60000, -1.0) == 250);
	/* jitter spreads: different r, different delays */
	assert_true(keep_backoff_ms(5, 60000, 0.1) != keep_backoff_ms(5, 60000, 0.8));
}

/* Quiet after attempts nobody answered: none before the threshold, then past
 * a 30 s ban, doubling, capped at 5 min, jitter only upward. */
static void test_quiet(void **state)
{
	(void)state;
	assert_int_equal(keep_quiet_ms(0, 0.5), 0);
	assert_int_equal(keep_quiet_ms(KEEP_QUIET_AFTER - 1, 0.9), 0);
	assert_int_equal(keep_quiet_ms(KEEP_QUIET_AFTER, 0.0), 30000);
	assert_true(keep_quiet_ms(KEEP_QUIET_AFTER, 0.99) < 33000);
	assert_int_equal(keep_quiet_ms(KEEP_QUIET_AFTER + 1, 0.0), 60000);
	assert_int_equal(keep_quiet_ms(KEEP_QUIET_AFTER + 3, 0.0), 240000);
	assert_int_equal(keep_quiet_ms(KEEP_QUIET_AFTER + 4, 0.0), 300000);
	assert_int_equal(keep_quiet_ms(1000000, -3.0), 300000);
	assert_true(keep_quiet_ms(1000000, 9.0) < 330000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixtures_92), cmocka_unit_test(test_fixtures_10),
		cmocka_unit_test(test_details), cmocka_unit_test(test_lines),
		cmocka_unit_test(test_names), cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_quiet),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
