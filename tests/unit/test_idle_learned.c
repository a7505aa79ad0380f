/* Unit tests: the bracket the flight recorder learned for one server on the
 * network this machine is on (a real SQLite store in a temp dir). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "history.h"
#include "idle_learned.h"

static char dir[64];
static int64_t t0;	/* an hour ago: sessions are read back 30 days */
static char dbpath[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/sshdoctor-test-learned-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(dbpath, sizeof(dbpath), "%s/history.db", dir);
	t0 = (int64_t)time(NULL) * 1000 - 3600000;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* One ended session to target on net (its gateway from "gw-GATEWAY-...") with one gap. */
static void add(struct history *h, const char *target, const char *net, int64_t idle_ms,
		int answered, int64_t start)
{
	struct hist_session s;
	memset(&s, 0, sizeof(s));
	snprintf(s.target, sizeof(s.target), "%s", target);
	snprintf(s.port, sizeof(s.port), "22");
	snprintf(s.net.id, sizeof(s.net.id), "%s", net);
	if (!strncmp(net, "gw-", 3))
		snprintf(s.net.gateway, sizeof(s.net.gateway), "%.*s", (int)strcspn(net + 3, "-"), net + 3);
	snprintf(s.remote_addr, sizeof(s.remote_addr), "203.0.113.2 22");
	s.start_wall_ms = t0 + start;
	assert_int_equal(history_session_begin(h, &s), 0);
	s.end = answered ? HE_CLEAN : HE_TIMEOUT;
	s.end_wall_ms = t0 + start + idle_ms + 5000;
	s.end_idle_ms = answered ? 0 : idle_ms;
	assert_int_equal(history_session_update(h, &s), 0);
	struct hist_gap g = { s.id, t0 + start + idle_ms, idle_ms, answered };
	assert_int_equal(history_gap_add(h, &g), 0);
}

static struct hist_net net(const char *id, const char *gw, const char *mac)
{
	struct hist_net n;
	memset(&n, 0, sizeof(n));
	snprintf(n.id, sizeof(n.id), "%s", id);
	snprintf(n.gateway, sizeof(n.gateway), "%s", gw);
	snprintf(n.gw_mac, sizeof(n.gw_mac), "%s", mac);
	return n;
}

static void test_learned(void **state)
{
	(void)state;
	struct history *h = NULL;
	char err[256] = "";
	assert_int_equal(history_open(&h, dbpath, err, sizeof(err)), 0);
	add(h, "db1", "gw-192.0.2.1-02:00:00:00:00:01", 299000, 1, 1000);
	add(h, "db1", "gw-192.0.2.1-02:00:00:00:00:01", 305000, 0, 2000);
	add(h, "db1", "gw-198.51.100.1-02:00:00:00:00:02", 40000, 0, 3000);	/* elsewhere */
	history_close(h);

	const char *names[] = { "db1" };
	struct idle_learned l;
	struct hist_net here = net("gw-192.0.2.1-02:00:00:00:00:01", "192.0.2.1", "02:00:00:00:00:01");
	assert_int_equal(idle_learned_read(dbpath, names, 1, "22", &here, &l, err, sizeof(err)), 1);
	assert_int_equal(l.lower_ms, 299000);
	assert_int_equal(l.upper_ms, 305000);
	assert_int_equal(l.sessions, 2);
	assert_false(l.tight);	/* one sample each side */
	/* the other network's 40 s death is not this one's timeout */
	struct hist_net there = net("gw-198.51.100.1-02:00:00:00:00:02", "198.51.100.1", "02:00:00:00:00:02");
	assert_int_equal(idle_learned_read(dbpath, names, 1, "22", &there, &l, err, sizeof(err)), 0);
	assert_int_equal(l.lower_ms, -1);	/* a death only: no safe interval */
	/* no ARP entry now: the same gateway is the same network */
	struct hist_net nomac = net("gw-192.0.2.1", "192.0.2.1", "");
	assert_int_equal(idle_learned_read(dbpath, names, 1, "22", &nomac, &l, err, sizeof(err)), 1);
	/* a network never seen, another server, another port */
	struct hist_net new = net("gw-203.0.113.1-02:00:00:00:00:09", "203.0.113.1", "02:00:00:00:00:09");
	assert_int_equal(idle_learned_read(dbpath, names, 1, "22", &new, &l, err, sizeof(err)), 0);
	const char *other[] = { "db2" };
	assert_int_equal(idle_learned_read(dbpath, other, 1, "22", &here, &l, err, sizeof(err)), 0);
	assert_int_equal(idle_learned_read(dbpath, names, 1, "2222", &here, &l, err, sizeof(err)), 0);
	/* 31 days ago, another path on the same network: not what it is now */
	assert_int_equal(history_open(&h, dbpath, err, sizeof(err)), 0);
	add(h, "db1", "gw-192.0.2.1-02:00:00:00:00:01", 10000, 0, -31LL * 24 * 3600 * 1000);
	history_close(h);
	assert_int_equal(idle_learned_read(dbpath, names, 1, "22", &here, &l, err, sizeof(err)), 1);
	assert_int_equal(l.upper_ms, 305000);
	assert_int_equal(l.sessions, 2);
	/* no network given: the route now toward the newest session's address
	 * (none to 203.0.113.2 here, or one that is not gw-192.0.2.1): nothing */
	assert_true(idle_learned_read(dbpath, names, 1, "22", NULL, &l, err, sizeof(err)) >= 0);
}

/* An unanswered idle shorter than an answered one (loss): no timeout learned. */
static void test_inconsistent(void **state)
{
	(void)state;
	struct history *h = NULL;
	char err[256] = "";
	assert_int_equal(history_open(&h, dbpath, err, sizeof(err)), 0);
	add(h, "db1", "gw-a", 120000, 1, 1000);
	add(h, "db1", "gw-a", 130000, 0, 2000);
	struct hist_session s;
	memset(&s, 0, sizeof(s));
	snprintf(s.target, sizeof(s.target), "db1");
	snprintf(s.port, sizeof(s.port), "22");
	snprintf(s.net.id, sizeof(s.net.id), "gw-a");
	s.start_wall_ms = t0 + 3000;
	assert_int_equal(history_session_begin(h, &s), 0);
	struct hist_gap g = { s.id, t0 + 4000, 30000, 0 };	/* lost after 30 s, kept 120 s before */
	assert_int_equal(history_gap_add(h, &g), 0);
	history_close(h);
	const char *names[] = { "db1" };
	struct idle_learned l;
	struct hist_net here = net("gw-a", "", "");
	assert_int_equal(idle_learned_read(dbpath, names, 1, "22", &here, &l, err, sizeof(err)), 0);
	assert_int_equal(l.lower_ms, -1);
}

/* A store that is not one: -1 and a reason, never a crash or a guess. */
static void test_unreadable(void **state)
{
	(void)state;
	FILE *f = fopen(dbpath, "w");
	assert_non_null(f);
	fputs("this is not an SQLite database, only some text that is long enough\n", f);
	fclose(f);
	const char *names[] = { "db1" };
	struct idle_learned l;
	char err[256] = "";
	struct hist_net here = net("gw-a", "", "");
	assert_int_equal(idle_learned_read(dbpath, names, 1, "22", &here, &l, err, sizeof(err)), -1);
	assert_true(err[0] != '\0');
	/* no store yet: nothing learned, and none created */
	char missing[160];
	snprintf(missing, sizeof(missing), "%s/none.db", dir);
	assert_int_equal(idle_learned_read(missing, names, 1, "22", &here, &l, err, sizeof(err)), 0);
	struct stat st;
	assert_int_equal(stat(missing, &st), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_learned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inconsistent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreadable, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
