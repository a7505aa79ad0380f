/* Unit tests: the flight recorder's SQLite store (real SQLite, temp dirs). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include "history.h"

static char dir[64];
static char dbpath[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/sshdoctor-test-hist-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(dbpath, sizeof(dbpath), "%s/history.db", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct history *open_ok(void)
{
	struct history *h = NULL;
	char err[256] = "";
	int rc = history_open(&h, dbpath, err, sizeof(err));
	if (rc)
		fprintf(stderr, "%s\n", err);
	assert_int_equal(rc, 0);
	return h;
}

static void session(struct hist_session *s, const char *target, const char *net, int64_t start)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->target, sizeof(s->target), "%s", target);
	snprintf(s->port, sizeof(s->port), "22");
	snprintf(s->net.id, sizeof(s->net.id), "%s", net);
	snprintf(s->net.gateway, sizeof(s->net.gateway), "192.0.2.1");
	s->start_wall_ms = start;
}

struct collect {
	int n;
	struct hist_session s[8];
	struct hist_gap g[8];
};

static int on_session(const struct hist_session *s, void *arg)
{
	struct collect *c = arg;
	if (c->n < 8)
		c->s[c->n] = *s;
	c->n++;
	return 0;
}

static int on_gap(const struct hist_gap *g, const struct hist_session *s, void *arg)
{
	struct collect *c = arg;
	if (c->n < 8) {
		c->g[c->n] = *g;
		c->s[c->n] = *s;
	}
	c->n++;
	return 0;
}

static void test_round_trip(void **state)
{
	(void)state;
	struct history *h = open_ok();
	struct hist_session s;
	session(&s, "db1", "gw-a", 1000);
	snprintf(s.end_detail, sizeof(s.end_detail), "it's \"quoted\"; DROP TABLE sessions;");
	assert_int_equal(history_session_begin(h, &s), 0);
	assert_true(s.id > 0);
	s.end = HE_TIMEOUT;
	s.end_wall_ms = 400000;
	s.end_idle_ms = 301000;
	s.rtt_us = 1234;
	s.keepidle_s = 60;
	assert_int_equal(history_session_update(h, &s), 0);
	struct hist_gap g = { s.id, 2000, 299000, 1 };
	assert_int_equal(history_gap_add(h, &g), 0);
	g.idle_ms = 302000;
	g.answered = 0;
	assert_int_equal(history_gap_add(h, &g), 0);

	struct collect c = { 0 };
	assert_int_equal(history_sessions(h, NULL, on_session, &c), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.s[0].end, HE_TIMEOUT);
	assert_int_equal(c.s[0].end_idle_ms, 301000);
	assert_int_equal(c.s[0].rtt_us, 1234);
	assert_int_equal(c.s[0].keepidle_s, 60);
	assert_string_equal(c.s[0].net.gateway, "192.0.2.1");
	assert_string_equal(c.s[0].origin, "relay");
	assert_string_equal(c.s[0].end_detail, "it's \"quoted\"; DROP TABLE sessions;");

	memset(&c, 0, sizeof(c));
	assert_int_equal(history_gaps(h, NULL, on_gap, &c), 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.g[0].idle_ms + c.g[1].idle_ms, 299000 + 302000);
	assert_string_equal(c.s[0].target, "db1");

	struct hist_keep k = { 0 };
	snprintf(k.tunnel, sizeof(k.tunnel), "db-tunnel");
	snprintf(k.target, sizeof(k.target), "db1");
	snprintf(k.kind, sizeof(k.kind), "fall");
	snprintf(k.cause, sizeof(k.cause), "path-silent");
	k.at_wall_ms = 5000;
	k.downtime_ms = 0;
	assert_int_equal(history_keep_add(h, &k), 0);
	assert_true(k.id > 0);
	history_close(h);

	/* reopening an up-to-date store changes nothing */
	h = open_ok();
	memset(&c, 0, sizeof(c));
	assert_int_equal(history_sessions(h, NULL, on_session, &c), 0);
	assert_int_equal(c.n, 1);
	history_close(h);
}

static void test_query_and_prune(void **state)
{
	(void)state;
	struct history *h = open_ok();
	struct hist_session s;
	for (int i = 0; i < 6; i++) {
		session(&s, i % 2 ? "db1" : "web", i < 3 ? "gw-a" : "gw-b", 1000 * (i + 1));
		assert_int_equal(history_session_begin(h, &s), 0);
		struct hist_gap g = { s.id, s.start_wall_ms, 1000 + i, 1 };
		assert_int_equal(history_gap_add(h, &g), 0);
	}
	struct collect c = { 0 };
	struct hist_query q = { .target = "db1" };
	assert_int_equal(history_sessions(h, &q, on_session, &c), 0);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.s[0].start_wall_ms, 6000);	/* newest first */
	memset(&c, 0, sizeof(c));
	q = (struct hist_query){ .network = "gw-b", .since_wall_ms = 5000 };
	assert_int_equal(history_sessions(h, &q, on_session, &c), 0);
	assert_int_equal(c.n, 2);
	memset(&c, 0, sizeof(c));
	q = (struct hist_query){ .limit = 2 };
	assert_int_equal(history_gaps(h, &q, on_gap, &c), 0);
	assert_int_equal(c.n, 2);	/* the gaps of the 2 newest sessions */

	assert_int_equal(history_prune(h, 4), 2);
	memset(&c, 0, sizeof(c));
	assert_int_equal(history_sessions(h, NULL, on_session, &c), 0);
	assert_int_equal(c.n, 4);
	assert_int_equal(c.s[3].start_wall_ms, 3000);	/* the oldest two went */
	memset(&c, 0, sizeof(c));
	assert_int_equal(history_gaps(h, NULL, on_gap, &c), 0);
	assert_int_equal(c.n, 4);	/* their gaps with them */
	/* the relay's limit: SSHDOCTOR_HISTORY_MAX, then the default */
	setenv("SSHDOCTOR_HISTORY_MAX", "3", 1);
	assert_int_equal(history_prune(h, 0), 1);
	setenv("SSHDOCTOR_HISTORY_MAX", "bogus", 1);
	assert_int_equal(history_prune(h, 0), 0);	/* ignored: the default, 20,000 */
	unsetenv("SSHDOCTOR_HISTORY_MAX");
	history_close(h);
}

static void test_bad_stores(void **state)
{
	(void)state;
	struct history *h = NULL;
	char err[256];
	FILE *f = fopen(dbpath, "w");
	assert_non_null(f);
	fputs("this is not a database, just text that is long enough to fool nobody\n", f);
	fclose(f);
	assert_int_equal(history_open(&h, dbpath, err, sizeof(err)), -1);
	assert_null(h);
	assert_non_null(strstr(err, dbpath));
	unlink(dbpath);

	/* a store from a newer sshdoctor is left alone */
	sqlite3 *db;
	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(history_open(&h, dbpath, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "newer"));
	unlink(dbpath);

	/* a directory or symlink where the file should be */
	char link[160];
	snprintf(link, sizeof(link), "%s/link.db", dir);
	assert_int_equal(symlink("/etc/passwd", link), 0);
	assert_int_equal(history_open(&h, link, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file"));
	unlink(link);
}

/* A database that is not ours at schema version 0 (someone's file with a
 * sessions table of its own): the upgrade fails with a clear error and the
 * file's own data is left exactly as it was. */
static void test_foreign_v0(void **state)
{
	(void)state;
	sqlite3 *db;
	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE sessions (who TEXT);"
				      "INSERT INTO sessions VALUES ('alice'), ('bob');",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	struct history *h = NULL;
	char err[256] = "";
	assert_int_equal(history_open(&h, dbpath, err, sizeof(err)), -1);
	assert_null(h);
	assert_non_null(strstr(err, "upgrading the schema"));
	assert_null(strchr(err, '\n'));
	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT group_concat(who), "
					    "(SELECT user_version FROM pragma_user_version), "
					    "(SELECT count(*) FROM sqlite_master WHERE name='gaps') "
					    "FROM sessions", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "alice,bob");
	assert_int_equal(sqlite3_column_int(st, 1), 0);	/* rolled back: still version 0 */
	assert_int_equal(sqlite3_column_int(st, 2), 0);	/* no half-made schema */
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* The disk fills under the recorder (a real tmpfs of 512 KiB in a private
 * mount namespace, so the machine's mounts are untouched): writes fail with
 * a clear error, never a crash, and every session written before is still
 * there when the store is opened again. Needs root (CI runs unit tests so). */
static int disk_full_child(const char *mnt)
{
	if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", mnt, "tmpfs", 0, "size=512k,mode=0700") < 0) {
		perror("unshare/mount tmpfs");
		return 10;
	}
	char path[256];
	snprintf(path, sizeof(path), "%s/history.db", mnt);
	struct history *h = NULL;
	char err[256] = "";
	if (history_open(&h, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "open: %s\n", err);
		return 11;
	}
	int written = 0, failed = 0;
	struct hist_session s;
	for (int i = 0; i < 20000 && !failed; i++) {	/* bounded: 512 KiB holds far fewer */
		session(&s, "full.example", "gw-192.0.2.1-00:00:5e:00:53:01", 1000 + i);
		memset(s.end_detail, 'x', sizeof(s.end_detail) - 1);
		if (history_session_begin(h, &s) < 0)
			failed = 1;
		else
			written++;
	}
	if (!failed || !strstr(history_error(h), "full")) {
		fprintf(stderr, "written %d, failed %d: %s\n", written, failed, history_error(h));
		return 12;
	}
	char why[256];
	snprintf(why, sizeof(why), "%s", history_error(h));
	history_close(h);
	sqlite3 *db;
	sqlite3_stmt *st;
	int n = -1;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT count(*) FROM sessions", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	fprintf(stderr, "# disk full after %d sessions: %s\n", written, why);
	if (n != written || written < 5) {
		fprintf(stderr, "%d sessions written, %d read back\n", written, n);
		return 13;
	}
	return 0;
}

static void test_disk_full(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		fprintf(stderr, "test_disk_full needs root (a tmpfs in a mount namespace)\n");
		fail();
	}
	char mnt[160];
	snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
	assert_int_equal(mkdir(mnt, 0700), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(disk_full_child(mnt));
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* Many relays at once: every write lands, the file stays intact. */
static void test_concurrent_writers(void **state)
{
	(void)state;
	enum { KIDS = 16, EACH = 25 };
	pid_t pids[KIDS];
	for (int k = 0; k < KIDS; k++) {
		pids[k] = fork();
		assert_true(pids[k] >= 0);
		if (pids[k] == 0) {
			struct history *h = NULL;
			char err[256];
			if (history_open(&h, dbpath, err, sizeof(err)) < 0) {
				fprintf(stderr, "child %d: %s\n", k, err);
				_exit(1);
			}
			int bad = 0;
			for (int i = 0; i < EACH; i++) {
				struct hist_session s;
				session(&s, "db1", "gw-a", k * 1000 + i);
				bad |= history_session_begin(h, &s) < 0;
				struct hist_gap g = { s.id, 1, 2, 0 };
				bad |= history_gap_add(h, &g) < 0;
				s.end = HE_CLEAN;
				bad |= history_session_update(h, &s) < 0;
				if (bad) {
					fprintf(stderr, "child %d: %s\n", k, history_error(h));
					break;
				}
			}
			history_close(h);
			_exit(bad);
		}
	}
	for (int k = 0; k < KIDS; k++) {
		int st;
		assert_int_equal(waitpid(pids[k], &st, 0), pids[k]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	sqlite3 *db;
	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT (SELECT COUNT(*) FROM sessions WHERE "
					    "end_kind = 'clean'), (SELECT COUNT(*) FROM gaps), "
					    "(SELECT integrity_check FROM pragma_integrity_check)",
					    -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), KIDS * EACH);
	assert_int_equal(sqlite3_column_int(st, 1), KIDS * EACH);
	assert_string_equal((const char *)sqlite3_column_text(st, 2), "ok");
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void test_end_names(void **state)
{
	(void)state;
	for (int i = 0; i < HE_NEND; i++)
		assert_int_equal(hist_end_parse(hist_end_name((enum hist_end)i)), i);
	assert_int_equal(hist_end_parse("exploded"), -1);
	assert_int_equal(hist_end_parse(NULL), -1);
	assert_string_equal(hist_end_name(HE_SERVER_CLOSED), "server-closed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_and_prune, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_stores, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_v0, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
		cmocka_unit_test(test_end_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
