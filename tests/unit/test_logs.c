/* Unit tests: the logs engine against the false alarms of issue 12 - the idle
 * signature on short sessions and other sshd builds, spoofed peers in user
 * names, session table eviction, unrecognized lines, lines without a stamp. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "logread.h"
#include "logs.h"
#include "logscan.h"

#define REF 1795305600000LL	/* 2026-11-22T00:00:00Z: after every stamp of the tests */

static struct json_object *run_text(const char *text, struct logs_opts *o, struct report *r)
{
	struct logs_state *st = logs_new(o);
	logs_source_begin(st, "t", REF);
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		logs_line(st, p, n);
		p += n + (nl ? 1 : 0);
	}
	logs_source_end(st, NULL);
	report_init(r, "logs");
	logs_report(st, r);
	logs_free(st);
	return json_object_object_get(r->measurements, "logs");
}

static int64_t jint(struct json_object *o, const char *a, const char *b)
{
	struct json_object *x = json_object_object_get(o, a);
	if (b)
		x = json_object_object_get(x, b);
	return json_object_get_int64(x);
}

static struct logs_opts opts(void)
{
	return (struct logs_opts){ .since_ms = -1, .until_ms = -1, .ref_wall_ms = REF };
}

/* n sessions of the same user ended by a close (no goodbye) after dur(i) s. */
static void closes(struct strbuf *sb, int n, int (*dur)(int))
{
	for (int i = 0; i < n; i++) {
		int s = dur(i);
		sb_addf(sb, "Nov 21 %02d:00:00 h sshd[%d]: Accepted publickey for u from 192.0.2.%d port %d ssh2\n",
			i, 100 + i, i + 1, 4000 + i);
		sb_addf(sb, "Nov 21 %02d:%02d:%02d h sshd[%d]: Connection closed by 192.0.2.%d port %d\n",
			i, s / 60, s % 60, 100 + i, i + 1, 4000 + i);
	}
}

static int d_short(int i) { return i % 5; }		/* 0-4 s: logins that ended at once */
static int d_300(int i) { return 300 + i % 4; }		/* an idle timer of 5 minutes */
static int d_spread(int i) { return 60 + i * 400 % 3000; }	/* no common length */

static const struct finding *idle(struct report *r)
{
	return report_find(r, "logs.idle-timeout");
}

static void test_idle_needs_long_clustered_sessions(void **state)
{
	(void)state;
	struct logs_opts o = opts();
	struct report r;
	struct strbuf sb = { 0 };
	/* the false critical: sessions of 0-4 s are no idle timeout */
	closes(&sb, 12, d_short);
	run_text(sb.buf, &o, &r);
	assert_null(idle(&r));
	report_free(&r);
	sb_free(&sb);
	/* long but spread out: no signature */
	closes(&sb, 12, d_spread);
	run_text(sb.buf, &o, &r);
	assert_null(idle(&r));
	report_free(&r);
	sb_free(&sb);
	/* three at 300 s: possible, info only */
	closes(&sb, 3, d_300);
	run_text(sb.buf, &o, &r);
	assert_non_null(idle(&r));
	assert_int_equal(idle(&r)->sev, SEV_INFO);
	assert_non_null(strstr(idle(&r)->title, "confidence low"));
	report_free(&r);
	sb_free(&sb);
	/* five: warning, medium */
	closes(&sb, 5, d_300);
	run_text(sb.buf, &o, &r);
	assert_int_equal(idle(&r)->sev, SEV_WARNING);
	assert_non_null(strstr(idle(&r)->title, "confidence medium"));
	assert_non_null(strstr(idle(&r)->title, "about 30"));
	report_free(&r);
	sb_free(&sb);
	/* ten at 300 s among twelve 0-4 s ones: the cluster is under half of the closes */
	closes(&sb, 10, d_300);
	closes(&sb, 12, d_short);
	run_text(sb.buf, &o, &r);
	assert_int_equal(idle(&r)->sev, SEV_INFO);
	report_free(&r);
	sb_free(&sb);
	/* ten, nothing else: critical, high */
	closes(&sb, 10, d_300);
	run_text(sb.buf, &o, &r);
	assert_int_equal(idle(&r)->sev, SEV_CRITICAL);
	assert_non_null(strstr(idle(&r)->title, "confidence high"));
	report_free(&r);
	sb_free(&sb);
}

/* Lines of older and other sshd builds (tests/fixtures/logs/other-builds.log,
 * written for this test): read, and no idle-timeout above info. */
static void test_other_builds(void **state)
{
	(void)state;
	const char *files[] = { "tests/fixtures/logs/other-builds.log" };
	struct logs_opts o = opts();
	o.files = files;
	o.nfiles = 1;
	o.unrecognized = 1;
	struct report r;
	report_init(&r, "logs");
	assert_int_equal(logs_run(&o, &r), 0);
	const struct finding *f = idle(&r);
	assert_true(f == NULL || f->sev <= SEV_INFO);
	struct json_object *m = json_object_object_get(r.measurements, "logs");
	/* the Solaris sessions and the stamp-less one are paired */
	assert_int_equal(jint(m, "sessions", "count"), 10);
	assert_int_equal(jint(m, "events", "disconnect.user"), 3);
	/* scanners' old "Connection closed by ADDR" are pre-auth, not dropped sessions */
	assert_int_equal(jint(m, "events", "preauth.closed"), 9);
	assert_int_equal(jint(m, "events", "disconnect.closed"), 8);
	assert_int_equal(jint(m, "unrecognized_ssh_lines", NULL), 3);
	struct json_object *u = json_object_object_get(m, "unrecognized");
	assert_int_equal(json_object_array_length(json_object_object_get(u, "lines")), 3);
	assert_int_equal(jint(u, "more", NULL), 0);
	assert_non_null(strstr(json_object_get_string(json_object_array_get_idx(json_object_object_get(u, "lines"), 1)),
			       "input_userauth_request: invalid user admin"));
	/* every year inferred at or before the file's mtime (Mar and Nov: the same year) */
	report_free(&r);
}

static void test_spoofed_peer_in_user_name(void **state)
{
	(void)state;
	struct logline l;
	struct logevent ev;
	static char scratch[256];
	struct logclock c;
	logclock_init(&c, REF);
	const char *spoof = "Nov 21 10:00:05 h sshd[7]: Connection closed by invalid user x 198.51.100.7 port 50000 203.0.113.9 port 4444 [preauth]";
	assert_int_equal(logscan_header(spoof, strlen(spoof), &c, &l, scratch, sizeof(scratch), 0), 0);
	assert_int_equal(logscan_classify(&l, &ev), 1);
	assert_int_equal(ev.ev, LEV_AUTH_FAILURE);
	assert_string_equal(ev.addr, "203.0.113.9");
	assert_int_equal(ev.port, 4444);
	assert_string_equal(ev.user, "x 198.51.100.7 port 50000");
	static const char *const more[] = {
		"Failed password for invalid user a from 198.51.100.7 port 50000 ssh2 from 203.0.113.9 port 4444 ssh2",
		"Invalid user b from 198.51.100.7 port 50000 from 203.0.113.9 port 4444",
		"Disconnected from invalid user c 198.51.100.7 port 50000 203.0.113.9 port 4444 [preauth]",
		"Disconnecting invalid user d 198.51.100.7 port 50000 203.0.113.9 port 4444: Too many authentication failures [preauth]",
		"Bad protocol version identification 'x from 198.51.100.7 port 50000' from 203.0.113.9 port 4444",
	};
	for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++) {
		assert_int_equal(logscan_header(more[i], strlen(more[i]), &c, &l, scratch, sizeof(scratch), 0), 0);
		assert_int_equal(logscan_classify(&l, &ev), 1);
		assert_string_equal(ev.addr, "203.0.113.9");
		assert_int_equal(ev.port, 4444);
	}
	/* the engine: alice's session from 198.51.100.7 survives the spoofed close */
	const char *log =
		"Nov 21 10:00:00 h sshd[5]: Accepted publickey for alice from 198.51.100.7 port 50000 ssh2\n"
		"Nov 21 10:00:05 h sshd[7]: Connection closed by invalid user x 198.51.100.7 port 50000 203.0.113.9 port 4444 [preauth]\n"
		"Nov 21 10:10:00 h sshd[5]: Received disconnect from 198.51.100.7 port 50000:11: disconnected by user\n"
		"Nov 21 10:10:00 h sshd[5]: Disconnected from user alice 198.51.100.7 port 50000\n";
	struct logs_opts o = opts();
	struct report r;
	struct json_object *m = run_text(log, &o, &r);
	assert_int_equal(jint(m, "sessions", "count"), 1);
	struct json_object *s = json_object_object_get(m, "sessions");
	assert_int_equal(jint(s, "by_end", "disconnect.user"), 1);
	assert_true(json_object_get_double(json_object_object_get(json_object_object_get(s, "duration_s"), "max")) >= 600);
	report_free(&r);
}

/* One long session and 4,200 short connections, never more than two open at
 * once: the table is never full, nothing is evicted. */
static void test_eviction_only_when_full(void **state)
{
	(void)state;
	struct strbuf sb = { 0 };
	sb_adds(&sb, "Connection from 192.0.2.1 port 1000 on 203.0.113.2 port 22 rdomain \"\"\n"
		     "Accepted publickey for alice from 192.0.2.1 port 1000 ssh2\n");
	for (int i = 0; i < 4200; i++) {
		int port = 2000 + i % 60000;
		sb_addf(&sb, "Connection from 198.51.100.%d port %d on 203.0.113.2 port 22 rdomain \"\"\n", i % 250 + 1, port);
		if (i % 3 == 0)
			sb_addf(&sb, "Accepted publickey for bob from 198.51.100.%d port %d ssh2\n"
				     "Received disconnect from 198.51.100.%d port %d:11: disconnected by user\n"
				     "Disconnected from user bob 198.51.100.%d port %d\n",
				i % 250 + 1, port, i % 250 + 1, port, i % 250 + 1, port);
		else
			sb_addf(&sb, "Connection closed by 198.51.100.%d port %d [preauth]\n", i % 250 + 1, port);
	}
	sb_adds(&sb, "Received disconnect from 192.0.2.1 port 1000:11: disconnected by user\n"
		     "Disconnected from user alice 192.0.2.1 port 1000\n");
	struct logs_opts o = opts();
	struct report r;
	struct json_object *m = run_text(sb.buf, &o, &r);
	assert_int_equal(jint(m, "sessions", "evicted"), 0);
	assert_int_equal(jint(m, "sessions", "count"), 1400 + 1);
	assert_int_equal(jint(m, "sessions", "open_at_end"), 0);
	assert_null(report_find(&r, "logs.sessions-evicted"));
	report_free(&r);
	/* a really full table evicts the oldest: a table of 4 and 6 open connections */
	sb_free(&sb);
	for (int i = 0; i < 6; i++)
		sb_addf(&sb, "Accepted publickey for u from 192.0.2.%d port 1 ssh2\n", i + 1);
	sb_adds(&sb, "Disconnected from user u 192.0.2.1 port 1\n"	/* evicted: not a session */
		     "Disconnected from user u 192.0.2.6 port 1\n");	/* the newest: kept */
	o.max_open = 4;
	m = run_text(sb.buf, &o, &r);
	assert_int_equal(jint(m, "sessions", "evicted"), 2);
	assert_int_equal(jint(m, "sessions", "count"), 1);
	assert_int_equal(jint(m, "sessions", "open_at_end"), 3);
	assert_non_null(report_find(&r, "logs.sessions-evicted"));
	report_free(&r);
	sb_free(&sb);
}

static void test_unrecognized_bounded(void **state)
{
	(void)state;
	struct strbuf sb = { 0 };
	for (int i = 0; i < 25; i++)
		sb_addf(&sb, "Nov 21 10:00:%02d h sshd[9]: something new number %d\n", i, i);
	sb_adds(&sb, "Nov 21 10:01:00 h cron[1]: not ssh at all\n");
	struct logs_opts o = opts();
	o.unrecognized = 1;
	struct report r;
	struct json_object *m = run_text(sb.buf, &o, &r);
	assert_int_equal(jint(m, "unrecognized_ssh_lines", NULL), 25);
	struct json_object *u = json_object_object_get(m, "unrecognized");
	struct json_object *a = json_object_object_get(u, "lines");
	assert_int_equal(json_object_array_length(a), 20);
	assert_int_equal(jint(u, "more", NULL), 5);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(a, 0)),
			    "Nov 21 10:00:00 h sshd[9]: something new number 0");
	report_free(&r);
	/* without the option: counted, not listed */
	o.unrecognized = 0;
	m = run_text(sb.buf, &o, &r);
	assert_int_equal(jint(m, "unrecognized_ssh_lines", NULL), 25);
	assert_null(json_object_object_get(m, "unrecognized"));
	report_free(&r);
	sb_free(&sb);
}

static void test_host_tag_without_stamp(void **state)
{
	(void)state;
	struct logline l;
	struct logevent ev;
	static char scratch[256];
	struct logclock c;
	logclock_init(&c, REF);
	const char *line = "web7 sshd[3001]: Disconnected from user frank 192.0.2.70 port 50700";
	assert_int_equal(logscan_header(line, strlen(line), &c, &l, scratch, sizeof(scratch), 0), 0);
	assert_int_equal(l.prog, PROG_SSHD);
	assert_int_equal(l.pid, 3001);
	assert_string_equal(l.host, "web7");
	assert_true(l.ts_ms < 0);
	assert_false(l.ts_broken);
	assert_int_equal(logscan_classify(&l, &ev), 1);
	assert_string_equal(ev.addr, "192.0.2.70");
	/* a raw sshd -E line stays raw; a host with another program is not ssh's */
	line = "Connection closed by 192.0.2.7 port 5 [preauth]";
	logscan_header(line, strlen(line), &c, &l, scratch, sizeof(scratch), 0);
	assert_int_equal(l.prog, PROG_NONE);
	assert_int_equal(logscan_classify(&l, &ev), 1);
	line = "web7 cron[1]: Connection closed by 192.0.2.7 port 5";
	logscan_header(line, strlen(line), &c, &l, scratch, sizeof(scratch), 0);
	assert_int_equal(logscan_classify(&l, &ev), 0);
	/* Solaris' message id tag */
	line = "Mar  7 18:53:20 bar sshd[1556]: [ID 800047 auth.info] Connection closed by 192.0.2.113";
	logscan_header(line, strlen(line), &c, &l, scratch, sizeof(scratch), 0);
	assert_int_equal(logscan_classify(&l, &ev), 1);
	assert_int_equal(ev.ev, LEV_DISC_CLOSED);
	assert_string_equal(ev.addr, "192.0.2.113");
	assert_true(ev.flags & LF_NOPORT);
}

/* A plain file bigger than a block goes through the two-thread pipeline; the
 * same bytes gzipped through the one-thread reader: the same result. The file
 * has blocks of more lines than the worker records (tiny lines), a line longer
 * than the limit, CRLF, NULs, journal JSON and no final newline. */
static void test_pipeline_same_as_single_thread(void **state)
{
	(void)state;
	char plain[] = "/tmp/sshdoctor-test-mt.XXXXXX", gzp[] = "/tmp/sshdoctor-test-mtgz.XXXXXX";
	int fd = mkstemp(plain), gfd = mkstemp(gzp);
	assert_true(fd >= 0 && gfd >= 0);
	FILE *f = fdopen(fd, "w");
	for (int i = 0; i < 60000; i++) {
		fprintf(f, "Nov 21 %02d:%02d:%02d h sshd[%d]: Accepted publickey for u from 192.0.2.%d port %d ssh2\n",
			i / 3600 % 24, i / 60 % 60, i % 60, 1000 + i, i % 200 + 1, 1024 + i);
		fprintf(f, "Nov 21 %02d:%02d:%02d h sshd[%d]: Connection closed by 192.0.2.%d port %d%s\n",
			i / 3600 % 24, i / 60 % 60, i % 60, 1000 + i, i % 200 + 1, 1024 + i, i % 7 ? "" : "\r");
		if (i == 20000)
			for (int k = 0; k < 40000; k++)	/* more lines than a block's records */
				fputs("\n", f);
		if (i == 30000) {
			for (int k = 0; k < 3 * LOGREAD_MAX_LINE; k++)
				fputc('x', f);
			fputc('\n', f);
			fwrite("bin\0ary sshd[1]: x\n", 1, 19, f);
			fputs("{\"MESSAGE\":\"Connection closed by 192.0.2.9 port 9 [preauth]\",\"SYSLOG_IDENTIFIER\":\"sshd\",\"_PID\":\"9\"}\n", f);
			fputs("Nov 21 10:00:00 h sshd[5]: something never seen\n", f);
		}
	}
	fputs("Nov 21 23:59:59 h sshd[5]: Connection closed by 192.0.2.250 port 1 [preauth]", f);
	long size = ftell(f);
	fclose(f);
	assert_true(size > 4 * 1024 * 1024);
	gzFile gz = gzdopen(gfd, "wb1");
	FILE *in = fopen(plain, "rb");
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		gzwrite(gz, buf, (unsigned)n);
	fclose(in);
	gzclose(gz);
	const char *a[] = { plain }, *b[] = { gzp };
	struct logs_opts o = opts();
	o.files = a;
	o.nfiles = 1;
	o.unrecognized = 1;
	struct report r1, r2;
	report_init(&r1, "logs");
	report_init(&r2, "logs");
	assert_int_equal(logs_run(&o, &r1), 0);
	o.files = b;
	assert_int_equal(logs_run(&o, &r2), 0);
	struct json_object *m1 = json_object_object_get(r1.measurements, "logs");
	struct json_object *m2 = json_object_object_get(r2.measurements, "logs");
	static const char *const keys[] = { "lines", "ssh_lines", "unrecognized_ssh_lines", "unrecognized", "events", "sessions" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_string_equal(json_object_to_json_string(json_object_object_get(m1, keys[i])),
				    json_object_to_json_string(json_object_object_get(m2, keys[i])));
	struct json_object *s1 = json_object_array_get_idx(json_object_object_get(m1, "sources"), 0);
	struct json_object *s2 = json_object_array_get_idx(json_object_object_get(m2, "sources"), 0);
	static const char *const sk[] = { "lines", "binary_lines", "long_lines", "broken_timestamps" };
	for (size_t i = 0; i < sizeof(sk) / sizeof(sk[0]); i++)
		assert_int_equal(jint(s1, sk[i], NULL), jint(s2, sk[i], NULL));
	assert_int_equal(jint(s1, "long_lines", NULL), 1);
	assert_int_equal(jint(s1, "binary_lines", NULL), 1);
	assert_int_equal(jint(m1, "sessions", "count"), 60000);
	assert_int_equal(jint(m1, "events", "preauth.closed"), 2);
	assert_int_equal(jint(m1, "unrecognized_ssh_lines", NULL), 1);
	assert_int_equal(jint(m1, "lines", NULL), 120000 + 40000 + 3 + 1);	/* the long one skipped */
	report_free(&r1);
	report_free(&r2);
	unlink(plain);
	unlink(gzp);
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_needs_long_clustered_sessions),
		cmocka_unit_test(test_other_builds),
		cmocka_unit_test(test_spoofed_peer_in_user_name),
		cmocka_unit_test(test_eviction_only_when_full),
		cmocka_unit_test(test_unrecognized_bounded),
		cmocka_unit_test(test_host_tag_without_stamp),
		cmocka_unit_test(test_pipeline_same_as_single_thread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
