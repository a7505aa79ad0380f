/* Unit tests: logscan (formats, every event id, old OpenSSH wordings from
 * docs/facts.md) and the logs engine (sessions, correlation, bad input, gzip). */
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

static int classify(const char *line, struct logline *l, struct logevent *ev)
{
	static char scratch[4096];
	struct logclock c;
	logclock_init(&c, REF);
	assert_int_equal(logscan_header(line, strlen(line), &c, l, scratch, sizeof(scratch), 0), 0);
	return logscan_classify(l, ev);
}

static void test_syslog_header(void **state)
{
	(void)state;
	struct logline l;
	struct logevent ev;
	setenv("TZ", "UTC", 1);
	assert_int_equal(classify("Nov 21 10:00:00 web1 sshd[4242]: Connection closed by 192.0.2.7 port 50000 [preauth]", &l, &ev), 1);
	assert_int_equal(l.prog, PROG_SSHD);
	assert_int_equal(l.pid, 4242);
	assert_string_equal(l.host, "web1");
	assert_true(l.ts_ms == 1795255200000LL);	/* 2026-11-21T10:00:00Z */
	assert_int_equal(ev.ev, LEV_PREAUTH_CLOSED);
	assert_string_equal(ev.addr, "192.0.2.7");
	assert_int_equal(ev.port, 50000);
	/* single-digit day, sshd-session (9.8+) */
	assert_int_equal(classify("Nov  2 01:02:03 h sshd-session[7]: Timeout, client not responding from user bob 198.51.100.9 port 4040", &l, &ev), 1);
	assert_int_equal(l.prog, PROG_SSHD);
	assert_int_equal(ev.ev, LEV_DISC_CLIENT_TIMEOUT);
	assert_string_equal(ev.user, "bob");
	/* a broken stamp is counted, not trusted */
	classify("Nov 99 10:00:00 h sshd[1]: Connection closed by 1.2.3.4 port 5", &l, &ev);
	assert_true(l.ts_broken);
	assert_true(l.ts_ms < 0);
}

static int64_t stamp(struct logclock *c, const char *line)
{
	struct logline l;
	char s[16];
	logscan_header(line, strlen(line), c, &l, s, sizeof(s), 0);
	return l.ts_ms;
}

/* Backwards from the reference (the file's mtime): no stamp after it, however
 * many month wraps the file has. */
static void test_year_inference(void **state)
{
	(void)state;
	struct logclock c;
	setenv("TZ", "UTC", 1);
	logclock_init(&c, REF);	/* 2026-11-22T00:00:00Z */
	int64_t dec = stamp(&c, "Dec 31 23:59:59 h sshd[1]: Server listening on 0.0.0.0 port 22.");
	int64_t jan = stamp(&c, "Jan  1 00:00:01 h sshd[1]: Server listening on 0.0.0.0 port 22.");
	assert_true(dec == logscan_parse_time("2025-12-31T23:59:59Z", 0));	/* after Nov 22: last year */
	assert_true(jan == logscan_parse_time("2026-01-01T00:00:01Z", 0));
	assert_true(stamp(&c, "Nov 21 23:59:59 h sshd[1]: x") == logscan_parse_time("2026-11-21T23:59:59Z", 0));
	assert_true(stamp(&c, "Nov 22 00:01:00 h sshd[1]: x") == logscan_parse_time("2025-11-22T00:01:00Z", 0));
	/* a file of four month wraps, written up to 2027-03-01: Oct 2026 .. Mar 2027 */
	logclock_init(&c, logscan_parse_time("2027-03-01T12:00:00Z", 0));
	static const char *const seq[] = { "Oct 30 10:00:00", "Nov  3 10:00:00", "Dec 31 23:59:50",
					   "Jan  1 00:00:10", "Feb 28 08:00:00", "Mar  1 11:59:00" };
	static const char *const want[] = { "2026-10-30T10:00:00Z", "2026-11-03T10:00:00Z",
					    "2026-12-31T23:59:50Z", "2027-01-01T00:00:10Z",
					    "2027-02-28T08:00:00Z", "2027-03-01T11:59:00Z" };
	int64_t prev = -1;
	for (size_t i = 0; i < 6; i++) {
		char line[128];
		snprintf(line, sizeof(line), "%s h sshd[1]: Server listening on 0.0.0.0 port 22.", seq[i]);
		int64_t t = stamp(&c, line);
		assert_true(t == logscan_parse_time(want[i], 0));
		assert_true(t > prev);
		assert_true(t <= logscan_parse_time("2027-03-01T12:00:00Z", 0));
		prev = t;
	}
}

static void test_iso_json_dmesg(void **state)
{
	(void)state;
	struct logline l;
	struct logevent ev;
	assert_int_equal(classify("2026-11-21T10:00:00.500+01:00 h sshd[9]: Connection reset by 192.0.2.1 port 22", &l, &ev), 1);
	assert_true(l.ts_ms == 1795255200000LL - 3600000 + 500);
	assert_int_equal(ev.ev, LEV_DISC_RESET);
	assert_int_equal(classify("{\"__REALTIME_TIMESTAMP\":\"1795255200000000\",\"_HOSTNAME\":\"j\",\"SYSLOG_IDENTIFIER\":\"sshd\",\"_PID\":\"77\",\"MESSAGE\":\"Received disconnect from 192.0.2.1 port 5:11: disconnected by user\"}", &l, &ev), 1);
	assert_true(l.ts_ms == 1795255200000LL);
	assert_int_equal(l.pid, 77);
	assert_int_equal(ev.ev, LEV_DISC_USER);
	assert_int_equal(ev.num, 11);
	assert_int_equal(classify("[Sat Nov 21 10:00:00 2026] e1000e 0000:00:19.0 eth0: NIC Link is Down", &l, &ev), 1);
	assert_int_equal(l.prog, PROG_KERNEL);
	assert_true(l.ts_ms == 1795255200000LL);
	assert_int_equal(ev.ev, LEV_KERNEL_LINK_DOWN);
	assert_int_equal(classify("[ 1234.5] Out of memory: Killed process 812 (sshd) total-vm:1234kB", &l, &ev), 1);
	assert_int_equal(ev.ev, LEV_KERNEL_OOM);
	assert_string_equal(ev.user, "sshd");
	/* a raw sshd -E line and an unrelated program */
	assert_int_equal(classify("Timeout, client not responding.", &l, &ev), 1);
	assert_int_equal(l.prog, PROG_NONE);
	assert_int_equal(classify("Nov 21 10:00:00 h cron[5]: Connection closed by 1.2.3.4 port 5", &l, &ev), 0);
	/* sshd line we do not know */
	assert_int_equal(classify("Nov 21 10:00:00 h sshd[5]: Frobnicated the widget", &l, &ev), -1);
}

struct ev_case {
	const char *line, *id, *addr;
	int port;
};

/* One line per event id, in current and older wordings (docs/facts.md). */
static const struct ev_case cases[] = {
	{ "Received disconnect from 198.51.100.1 port 41314:11: disconnected by user", "disconnect.user", "198.51.100.1", 41314 },
	{ "Received disconnect from 198.51.100.1: 11: disconnected by user", "disconnect.user", "198.51.100.1", 0 },
	{ "Timeout, client not responding from user root 198.51.100.1 port 41314", "disconnect.client-timeout", "198.51.100.1", 41314 },
	{ "Timeout, client not responding.", "disconnect.client-timeout", "", 0 },
	{ "Timeout, server 203.0.113.2 not responding.", "disconnect.server-timeout", "203.0.113.2", 0 },
	{ "Connection reset by 192.0.2.3 port 5555", "disconnect.reset", "192.0.2.3", 5555 },
	{ "Read error from remote host 192.0.2.3 port 5555: Connection reset by peer", "disconnect.reset", "192.0.2.3", 5555 },
	{ "Read from remote host example.org: Connection reset by peer", "disconnect.reset", "", 0 },
	{ "Connection closed by 192.0.2.3 port 5555", "disconnect.closed", "192.0.2.3", 5555 },
	{ "Connection to 203.0.113.2 closed by remote host.", "disconnect.closed", "203.0.113.2", 0 },
	{ "client_loop: send disconnect: Broken pipe", "disconnect.broken-pipe", "", 0 },
	{ "packet_write_wait: Connection to 203.0.113.2 port 22: Broken pipe", "disconnect.broken-pipe", "203.0.113.2", 22 },
	{ "Write failed: Broken pipe", "disconnect.broken-pipe", "", 0 },
	{ "Read error from remote host 192.0.2.3 port 5555: Connection timed out", "disconnect.broken-pipe", "192.0.2.3", 5555 },
	{ "Connection closed by 192.0.2.3 port 5555 [preauth]", "preauth.closed", "192.0.2.3", 5555 },
	{ "Did not receive identification string from 192.0.2.3", "preauth.closed", "192.0.2.3", 0 },
	{ "Did not receive identification string from 192.0.2.3 port 5555", "preauth.closed", "192.0.2.3", 5555 },
	{ "Connection timed out during banner exchange", "preauth.closed", "", 0 },
	{ "Timeout before authentication for 192.0.2.3 port 5555", "preauth.grace-timeout", "192.0.2.3", 5555 },
	{ "fatal: Timeout before authentication for 192.0.2.3 port 5555", "preauth.grace-timeout", "192.0.2.3", 5555 },
	{ "Timeout before authentication for connection from 192.0.2.3 to 203.0.113.2, pid = 4711", "preauth.grace-timeout", "192.0.2.3", 0 },
	{ "Failed publickey for root from 203.0.113.1 port 54938 ssh2: ED25519 SHA256:x", "auth.failure", "203.0.113.1", 54938 },
	{ "Failed password for invalid user admin from 192.0.2.9 port 1 ssh2", "auth.failure", "192.0.2.9", 1 },
	{ "Invalid user admin from 192.0.2.9 port 1", "auth.failure", "192.0.2.9", 1 },
	{ "Connection closed by authenticating user root 203.0.113.1 port 54938 [preauth]", "auth.failure", "203.0.113.1", 54938 },
	{ "Disconnecting authenticating user root 192.0.2.9 port 1: Too many authentication failures [preauth]", "auth.failure", "192.0.2.9", 1 },
	{ "drop connection #2 from [203.0.113.1]:37686 on [203.0.113.2]:22 past MaxStartups", "limit.maxstartups", "203.0.113.1", 37686 },
	{ "drop connection #0 from [2001:db8::1]:37686 on [2001:db8::2]:22 penalty: failed authentication", "limit.penalty", "2001:db8::1", 37686 },
	{ "Unable to negotiate with 203.0.113.1 port 55160: no matching cipher found. Their offer: aes128-ctr [preauth]", "kex.no-match", "203.0.113.1", 55160 },
	{ "Unable to negotiate with 203.0.113.1 port 1: no matching key exchange method found. Their offer: diffie-hellman-group1-sha1", "kex.no-match", "203.0.113.1", 1 },
	{ "banner exchange: Connection from 203.0.113.1 port 54956: invalid format", "banner.invalid", "203.0.113.1", 54956 },
	{ "Bad protocol version identification 'GET / HTTP/1.1' from 192.0.2.4 port 80", "banner.invalid", "192.0.2.4", 80 },
	{ "terminating inactive connection from user root 192.0.2.5 port 7", "idle.unused-connection", "192.0.2.5", 7 },
	{ "channel 0: closing after 300 seconds of inactivity", "idle.channel-timeout", "", 0 },
	{ "Received signal 15; terminating.", "server.restart", "", 0 },
	{ "error: kex_exchange_identification: Connection closed by remote host", NULL, "", 0 },
};

static void test_event_ids(void **state)
{
	(void)state;
	int seen[LEV_NPUBLIC] = { 0 };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char line[512];
		struct logline l;
		struct logevent ev;
		snprintf(line, sizeof(line), "Nov 21 10:00:00 h sshd[1]: %s", cases[i].line);
		if (strstr(cases[i].line, "Broken pipe") || strstr(cases[i].line, "server ") ||
		    strstr(cases[i].line, "Connection to ") || strstr(cases[i].line, "Read from") ||
		    strstr(cases[i].line, "during banner"))
			snprintf(line, sizeof(line), "%s", cases[i].line);	/* client stderr */
		int r = classify(line, &l, &ev);
		if (r != 1)
			fail_msg("not recognised: %s", line);
		if (!cases[i].id) {
			assert_int_equal(ev.ev, LEV_KEX_IDENT);
			continue;
		}
		const char *got = logev_name(ev.ev);
		if (!got || strcmp(got, cases[i].id) != 0)
			fail_msg("%s: got %s, want %s", cases[i].line, got ? got : "(internal)", cases[i].id);
		assert_string_equal(ev.addr, cases[i].addr);
		assert_int_equal(ev.port, cases[i].port);
		seen[ev.ev] = 1;
	}
	/* kernel ids */
	struct logline l;
	struct logevent ev;
	classify("Nov 21 10:00:00 h kernel: [ 5.1] e1000e: eth0 NIC Link is Down", &l, &ev);
	seen[ev.ev] = ev.ev == LEV_KERNEL_LINK_DOWN;
	classify("Nov 21 10:00:00 h kernel: e1000e 0000:00:19.0 eth0: Reset adapter unexpectedly", &l, &ev);
	seen[ev.ev] = ev.ev == LEV_KERNEL_NIC_RESET;
	classify("Nov 21 10:00:00 h kernel: Out of memory: Killed process 9 (java)", &l, &ev);
	seen[ev.ev] = ev.ev == LEV_KERNEL_OOM;
	for (int e = 1; e < LEV_NPUBLIC; e++)
		if (!seen[e])
			fail_msg("no test line for %s", logev_name((enum logev)e));
	assert_int_equal(logev_from_name("kernel.oom-kill"), LEV_KERNEL_OOM);
	assert_int_equal(logev_from_name("nope"), -1);
}

static void test_parse_time(void **state)
{
	(void)state;
	assert_true(logscan_parse_time("2026-11-21T10:00:00Z", 0) == 1795255200000LL);
	assert_true(logscan_parse_time("2026-11-21", 0) == 1795219200000LL);
	assert_true(logscan_parse_time("2026-11-21 10:00", 0) == 1795255200000LL);
	assert_true(logscan_parse_time("2h", 10000000) == 10000000 - 7200000);
	assert_true(logscan_parse_time("yesterday", 0) < 0);
	assert_true(logscan_parse_time("2026-13-01", 0) < 0);
}

/* ---- engine ---- */

static struct json_object *run_lines(const char *text, struct logs_opts *o, struct report *r)
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

static void test_sessions_and_signature(void **state)
{
	(void)state;
	struct strbuf sb = { 0 };
	/* eight sessions each reset after ~300 s: the idle-timeout signature */
	for (int i = 0; i < 8; i++) {
		sb_addf(&sb, "Nov 21 10:%02d:00 h sshd[%d]: Accepted publickey for u from 192.0.2.%d port %d ssh2\n", i, 100 + i, i + 1, 4000 + i);
		sb_addf(&sb, "Nov 21 10:%02d:%02d h sshd[%d]: Connection reset by 192.0.2.%d port %d\n", i + 5, i, 100 + i, i + 1, 4000 + i);
	}
	/* one user disconnect: reason line then the "Disconnected" line, counted once */
	sb_adds(&sb, "Nov 21 11:00:00 h sshd[200]: Accepted publickey for u from 198.51.100.1 port 1 ssh2\n"
		     "Nov 21 11:00:09 h sshd[200]: Received disconnect from 198.51.100.1 port 1:11: disconnected by user\n"
		     "Nov 21 11:00:09 h sshd[200]: Disconnected from user u 198.51.100.1 port 1\n");
	struct logs_opts o = { .since_ms = -1, .until_ms = -1, .ref_wall_ms = REF, .sessions = 1 };
	struct report r;
	struct json_object *m = run_lines(sb.buf, &o, &r);
	assert_int_equal(jint(m, "sessions", "count"), 9);
	struct json_object *s = json_object_object_get(m, "sessions");
	assert_int_equal(jint(s, "by_end", "disconnect.reset"), 8);
	assert_int_equal(jint(s, "by_end", "disconnect.user"), 1);
	assert_int_equal(jint(m, "events", "disconnect.user"), 1);
	assert_true(json_object_get_double(json_object_object_get(json_object_object_get(s, "duration_s"), "max")) >= 300);
	assert_int_equal(json_object_array_length(json_object_object_get(s, "list")), 9);
	assert_non_null(report_find(&r, "logs.idle-timeout"));
	assert_non_null(strstr(report_find(&r, "logs.idle-timeout")->title, "confidence high"));
	assert_int_equal(report_status(&r), STATUS_CRITICAL);
	report_free(&r);
	sb_free(&sb);
}

static void test_correlation_and_limits(void **state)
{
	(void)state;
	const char *log =
		"Nov 21 10:00:00 h sshd[1]: Accepted publickey for u from 192.0.2.1 port 1 ssh2\n"
		"Nov 21 10:00:00 h sshd[2]: Accepted publickey for u from 192.0.2.2 port 2 ssh2\n"
		"Nov 21 10:05:00 h kernel: [ 9.0] igb 0000:01:00.0 eno1: igb: eno1 NIC Link is Down\n"
		"Nov 21 10:05:10 h sshd[1]: Timeout, client not responding from user u 192.0.2.1 port 1\n"
		"Nov 21 10:05:12 h sshd[2]: Connection closed by 192.0.2.2 port 2\n"
		"Nov 21 10:06:00 h sshd[3]: drop connection #10 from [198.51.100.7]:1 on [203.0.113.2]:22 past MaxStartups\n"
		"Nov 21 10:06:00 h sshd[3]: drop connection #10 from [198.51.100.7]:2 on [203.0.113.2]:22 past MaxStartups\n"
		"Nov 21 10:06:00 h sshd[3]: drop connection #10 from [198.51.100.8]:3 on [203.0.113.2]:22 past MaxStartups\n";
	struct logs_opts o = { .since_ms = -1, .until_ms = -1, .ref_wall_ms = REF };
	struct report r;
	struct json_object *m = run_lines(log, &o, &r);
	struct finding *f = report_find(&r, "logs.correlated-drops");
	assert_non_null(f);
	assert_non_null(strstr(f->title, "2 disconnects"));
	f = report_find(&r, "logs.maxstartups");
	assert_non_null(f);
	int top = 0;
	for (size_t i = 0; i < f->evidence.n; i++)
		top += strstr(f->evidence.v[i], "top source 198.51.100.7: 2") != NULL;
	assert_int_equal(top, 1);
	assert_int_equal(jint(m, "events", "limit.maxstartups"), 3);
	assert_int_equal(jint(m, "events", "kernel.link-down"), 1);
	report_free(&r);
	/* --host and --since filter */
	o.host = "192.0.2.1";
	o.since_ms = logscan_parse_time("2026-11-21T10:05:11Z", 0);
	m = run_lines(log, &o, &r);
	assert_int_equal(jint(m, "events", "disconnect.client-timeout"), 0);
	assert_int_equal(jint(m, "events", "disconnect.closed"), 0);
	assert_int_equal(jint(m, "events", "limit.maxstartups"), 0);
	report_free(&r);
}

static void test_bounded_table(void **state)
{
	(void)state;
	struct strbuf sb = { 0 };
	for (int i = 0; i < 50; i++)
		sb_addf(&sb, "Connection from 192.0.2.1 port %d on 203.0.113.2 port 22 rdomain \"\"\n", 1000 + i);
	sb_adds(&sb, "Accepted publickey for u from 192.0.2.1 port 1049 ssh2\nConnection closed by 192.0.2.1 port 1049\n");
	struct logs_opts o = { .since_ms = -1, .until_ms = -1, .max_open = 8, .ref_wall_ms = REF };
	struct report r;
	struct json_object *m = run_lines(sb.buf, &o, &r);
	assert_int_equal(jint(m, "sessions", "evicted"), 42);
	assert_int_equal(jint(m, "sessions", "count"), 1);
	assert_non_null(report_find(&r, "logs.sessions-evicted"));
	report_free(&r);
	sb_free(&sb);
}

static void test_bad_input(void **state)
{
	(void)state;
	char path[] = "/tmp/sshdoctor-test-logs.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fputs("Nov 21 10:00:00 h sshd[1]: Connection closed by 192.0.2.1 port 1 [preauth]\n", f);
	fwrite("bin\0ary\xff\xfe\n", 1, 11, f);
	for (int i = 0; i < 1024 * 1024; i++)	/* one 1 MiB line */
		fputc('x', f);
	fputs("\nNov 77 10:00:00 h sshd[1]: Connection closed by 192.0.2.1 port 2 [preauth]\n", f);
	fclose(f);
	struct logs_opts o = { .since_ms = -1, .until_ms = -1, .ref_wall_ms = REF };
	const char *files[] = { path, "/nonexistent/auth.log" };
	o.files = files;
	o.nfiles = 2;
	struct report r;
	report_init(&r, "logs");
	assert_int_equal(logs_run(&o, &r), 0);
	assert_false(r.unknown);
	struct json_object *m = json_object_object_get(r.measurements, "logs");
	struct json_object *s0 = json_object_array_get_idx(json_object_object_get(m, "sources"), 0);
	assert_int_equal(jint(s0, "binary_lines", NULL), 1);
	assert_int_equal(jint(s0, "long_lines", NULL), 1);
	assert_int_equal(jint(s0, "broken_timestamps", NULL), 1);
	assert_int_equal(jint(m, "events", "preauth.closed"), 2);
	assert_non_null(report_find(&r, "logs.unreadable"));
	report_free(&r);
	/* nothing readable: unknown */
	o.files = files + 1;
	o.nfiles = 1;
	report_init(&r, "logs");
	assert_int_equal(logs_run(&o, &r), -1);
	assert_true(r.unknown);
	report_free(&r);
	unlink(path);
}

/* The same log plain and gzipped (and truncated gzip) gives the same result. */
static void test_gzip_same(void **state)
{
	(void)state;
	const char *plain = "tests/fixtures/logs/lab-syslog.log";
	FILE *in = fopen(plain, "rb");
	assert_non_null(in);
	char gzpath[] = "/tmp/sshdoctor-test-gz.XXXXXX";
	int fd = mkstemp(gzpath);
	gzFile gz = gzdopen(fd, "wb");
	char buf[4096];
	size_t n, total = 0;
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
		gzwrite(gz, buf, (unsigned)n);
		total += n;
	}
	fclose(in);
	gzclose(gz);
	assert_true(total > 1000);
	const char *a[] = { plain }, *b[] = { gzpath };
	struct logs_opts o = { .since_ms = -1, .until_ms = -1, .ref_wall_ms = REF, .files = a, .nfiles = 1 };
	struct report r1, r2;
	report_init(&r1, "logs");
	report_init(&r2, "logs");
	logs_run(&o, &r1);
	o.files = b;
	logs_run(&o, &r2);
	struct json_object *m1 = json_object_object_get(r1.measurements, "logs");
	struct json_object *m2 = json_object_object_get(r2.measurements, "logs");
	assert_string_equal(json_object_to_json_string(json_object_object_get(m1, "events")),
			    json_object_to_json_string(json_object_object_get(m2, "events")));
	assert_string_equal(json_object_to_json_string(json_object_object_get(m1, "sessions")),
			    json_object_to_json_string(json_object_object_get(m2, "sessions")));
	assert_true(jint(m1, "events", "limit.maxstartups") > 0);
	report_free(&r2);
	/* truncated: cut the gzip in half; what was read counts, the error is reported */
	struct stat_like { long size; } sz = { 0 };
	FILE *g = fopen(gzpath, "rb");
	fseek(g, 0, SEEK_END);
	sz.size = ftell(g);
	fclose(g);
	assert_int_equal(truncate(gzpath, sz.size / 2), 0);
	report_init(&r2, "logs");
	assert_int_equal(logs_run(&o, &r2), 0);
	m2 = json_object_object_get(r2.measurements, "logs");
	assert_true(jint(m2, "lines", NULL) > 0);
	assert_true(jint(m2, "lines", NULL) < jint(m1, "lines", NULL));
	assert_non_null(report_find(&r2, "logs.unreadable"));
	report_free(&r1);
	report_free(&r2);
	unlink(gzpath);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_syslog_header),
		cmocka_unit_test(test_year_inference),
		cmocka_unit_test(test_iso_json_dmesg),
		cmocka_unit_test(test_event_ids),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_sessions_and_signature),
		cmocka_unit_test(test_correlation_and_limits),
		cmocka_unit_test(test_bounded_table),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_gzip_same),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
