/* Unit tests: the unauthenticated-connection budget (sshd's PerSourcePenalties
 * ledger as we model it) and its storage shared between commands. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "budget.h"
#include "util.h"

static void test_versions(void **state)
{
	(void)state;
	assert_int_equal(budget_version_penalises("OpenSSH_9.2p1 Debian-2+deb12u3"), 0);
	assert_int_equal(budget_version_penalises("OpenSSH_9.7"), 0);
	assert_int_equal(budget_version_penalises("OpenSSH_9.8p1"), 1);
	assert_int_equal(budget_version_penalises("OpenSSH_9.10"), 1);
	assert_int_equal(budget_version_penalises("OpenSSH_10.0p2 Debian-7~bpo12+1"), 1);
	assert_int_equal(budget_version_penalises("OpenSSH_8.9p1 Ubuntu-3ubuntu0.10"), 0);
	assert_int_equal(budget_version_penalises("OpenSSH_7"), 0);
	assert_int_equal(budget_version_penalises("dropbear_2022.83"), -1);
	assert_int_equal(budget_version_penalises(""), -1);
	assert_int_equal(budget_version_penalises(NULL), -1);
	assert_int_equal(budget_version_penalises("OpenSSH_x.1"), -1);
	assert_int_equal(budget_version_penalises("OpenSSH_9,8"), -1);
}

/* The ledger accumulates like srclimit_penalise: 20 handshakes 50 ms apart put
 * the expiry 19 s ahead, past min (15 s): the case that got users refused. */
static void test_ledger(void **state)
{
	(void)state;
	double debt = 0, now = 1000;
	for (int i = 0; i < 20; i++, now += 0.05)
		debt = budget_add(debt, now, BUDGET_NOAUTH_S, 1);
	assert_true(budget_outstanding(debt, now) > BUDGET_MIN_S);
	/* our budget grants 8 of them at once, then nothing until it decays */
	debt = 0;
	now = 1000;
	assert_int_equal(budget_fit(debt, now, BUDGET_NOAUTH_S, 20, BUDGET_LIMIT_S), 8);
	debt = budget_add(debt, now, BUDGET_NOAUTH_S, 8);
	assert_true(budget_outstanding(debt, now) <= BUDGET_LIMIT_S);
	assert_int_equal(budget_fit(debt, now, BUDGET_NOAUTH_S, 20, BUDGET_LIMIT_S), 0);
	assert_int_equal(budget_fit(debt, now + 3, BUDGET_NOAUTH_S, 20, BUDGET_LIMIT_S), 3);
	/* decayed completely: a new entry starts from now, not from the old expiry */
	assert_true(budget_outstanding(debt, now + 100) == 0);
	double d2 = budget_add(debt, now + 100, BUDGET_NOAUTH_S, 2);
	assert_true(d2 > now + 101.9 && d2 < now + 102.1);
	/* a grace-exceeded connection does not fit beside a half-spent budget */
	assert_int_equal(budget_fit(now + 2, now, BUDGET_GRACE_S, 1, BUDGET_MIN_S - 1), 1);
	assert_int_equal(budget_fit(now + 6, now, BUDGET_GRACE_S, 1, BUDGET_MIN_S - 1), 0);
	/* no charge, nothing asked */
	assert_true(budget_add(debt, now, BUDGET_NOAUTH_S, 0) == debt);
	assert_int_equal(budget_fit(debt, now, BUDGET_NOAUTH_S, 0, BUDGET_LIMIT_S), 0);
	/* the sum of a run kept under our limit never reaches sshd's threshold */
	assert_true(BUDGET_LIMIT_S + BUDGET_AUTHFAIL_S < BUDGET_MIN_S);
}

/* Two "commands" in a row share the stored ledger and the software seen. */
static void test_stored(void **state)
{
	(void)state;
	char dir[] = "/tmp/sshdoctor-budget-test.XXXXXX";
	assert_non_null(mkdtemp(dir));
	setenv("XDG_STATE_HOME", dir, 1);
	assert_int_equal(budget_risky("203.0.113.9", 22, NULL), 1);	/* unknown */
	budget_note_software("203.0.113.9", 22, "OpenSSH_9.2p1 Debian-2");
	assert_int_equal(budget_risky("203.0.113.9", 22, NULL), 0);
	assert_int_equal(budget_risky("203.0.113.9", 22, "OpenSSH_10.0p2"), 1);
	budget_note_software("203.0.113.9", 22, "OpenSSH_10.0p2 Debian-7");
	assert_int_equal(budget_risky("203.0.113.9", 22, NULL), 1);
	assert_int_equal(budget_take("203.0.113.9", 22, 5, BUDGET_NOAUTH_S), 5);
	assert_int_equal(budget_take("203.0.113.9", 22, 5, BUDGET_NOAUTH_S), 3);
	assert_int_equal(budget_take("203.0.113.9", 22, 5, BUDGET_NOAUTH_S), 0);
	assert_true(budget_wait_s("203.0.113.9", 22) > 7);
	/* another port of the same host is another sshd */
	assert_true(budget_wait_s("203.0.113.9", 2222) == 0);
	budget_charge("203.0.113.9", 2222, 1, BUDGET_GRACE_S);
	assert_true(budget_wait_s("203.0.113.9", 2222) > 9);
	struct budget b;
	budget_load("203.0.113.9", 22, &b);
	assert_string_equal(b.software, "OpenSSH_10.0p2 Debian-7");
	char *cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_ledger),
		cmocka_unit_test(test_stored),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
