/* Unit tests: the HTML report (render_html.c, render_html_charts.c, svg.c):
 * escaping of hostile strings and bytes, key paths cut to names, nothing
 * external, axis geometry, and where the charts put their marks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "finding.h"
#include "render_html.h"
#include "svg.h"

static char *esc(const char *s)
{
	struct strbuf sb = { 0 };
	html_esc(&sb, s);
	sb_add(&sb, "", 0);
	return sb.buf;
}

static void test_escape_markup(void **st)
{
	(void)st;
	char *e = esc("<script>alert(\"x\")</script>&'");
	assert_string_equal(e, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;");
	free(e);
	e = esc("plain text\twith tab\nand newline");
	assert_string_equal(e, "plain text\twith tab\nand newline");
	free(e);
	e = esc(NULL);
	assert_string_equal(e, "");
	free(e);
}

#define FFFD "\xef\xbf\xbd"

static void test_escape_bytes(void **st)
{
	(void)st;
	static const struct {
		const char *in, *out;
	} c[] = {
		{ "a\x1b[31mb", "a" FFFD "[31mb" },		/* terminal escapes from a banner */
		{ "\x7f\x01", FFFD FFFD },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
		{ "\xc0\xaf", FFFD FFFD },			/* overlong '/' */
		{ "\xe0\x80\xaf", FFFD FFFD FFFD },		/* overlong, 3 bytes */
		{ "\xed\xa0\x80", FFFD FFFD FFFD },		/* a UTF-16 surrogate */
		{ "\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD },	/* past U+10FFFF */
		{ "x\xe2\x82", "x" FFFD FFFD },			/* cut off at the end */
		{ "\xe2<", FFFD "&lt;" },			/* a lead byte cannot eat a '<' */
		{ "\xff\xfe", FFFD FFFD },
	};
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		char *e = esc(c[i].in);
		assert_string_equal(e, c[i].out);
		free(e);
	}
}

static void test_axis(void **st)
{
	(void)st;
	struct axis a;
	axis_fit(&a, 0, 8.82, 8, 70, 730);
	assert_true(a.step == 2 && a.lo == 0 && a.hi == 10);
	assert_int_equal(axis_nticks(&a), 6);
	assert_true(axis_tick(&a, 5) == 10);
	assert_true(axis_px(&a, 0) == 70 && axis_px(&a, 10) == 730 && axis_px(&a, 5) == 400);
	assert_true(axis_px(&a, -3) == 70 && axis_px(&a, 99) == 730);	/* clamped */
	assert_true(axis_px(&a, 0.0 / 0.0) == 70);			/* NaN stays on the chart */
	axis_fit(&a, 0, 20, 5, 254, 34);	/* a y axis: up is smaller */
	assert_true(axis_px(&a, 0) == 254 && axis_px(&a, 20) == 34 && axis_px(&a, 10) == 144);
	axis_fit(&a, 0, 0.37, 5, 0, 100);
	assert_true(a.step > 0.0999 && a.step < 0.1001 && a.hi > 0.3999 && a.hi < 0.4001);
	axis_fit(&a, 5, 5, 5, 0, 100);		/* no range: still a valid axis around 5 */
	assert_true(a.lo <= 5 && a.hi > 5 && a.step > 0);
	axis_fit(&a, 10, 2, 4, 0, 100);		/* swapped bounds */
	assert_true(a.lo <= 2 && a.hi >= 10);

	/* for any range: the data fit, the step is 1, 2 or 5 times 10^k, the tick
	 * count is near what was asked for */
	for (int k = 1; k < 400; k++) {
		double lo = (k % 7) * 0.3, hi = lo + k * 1.37 * (k % 5 + 1);
		axis_fit(&a, lo, hi, 8, 0, 500);
		assert_true(a.lo <= lo + 1e-9 && a.hi >= hi - 1e-9);
		double m = a.step;
		while (m >= 10)
			m /= 10;
		while (m < 1)
			m *= 10;
		assert_true((m > 0.999 && m < 1.001) || (m > 1.999 && m < 2.001) ||
			    (m > 4.999 && m < 5.001));
		int n = axis_nticks(&a);
		assert_true(n >= 4 && n <= 19);
		for (int i = 1; i < n; i++)
			assert_true(axis_px(&a, axis_tick(&a, i)) > axis_px(&a, axis_tick(&a, i - 1)));
	}
}

/* Attributes of every <tag ... class="cls"/> in s, in document order. */
struct mark {
	double a, b, c, d;
};

static size_t marks(const char *s, const char *tag, const char *cls, struct mark *out, size_t max)
{
	size_t n = 0;
	char open[32], want[64];
	snprintf(open, sizeof(open), "<%s ", tag);
	snprintf(want, sizeof(want), "class=\"%s\"", cls);
	for (const char *p = strstr(s, open); p; p = strstr(p + 1, open)) {
		const char *end = strchr(p, '>');
		const char *c = strstr(p, want);
		if (!end || !c || c > end)
			continue;
		struct mark m = { 0 };
		int got = 0;
		if (!strcmp(tag, "circle"))
			got = sscanf(p, "<circle cx=\"%lf\" cy=\"%lf\" r=\"%lf\"", &m.a, &m.b, &m.c) == 3;
		else if (!strcmp(tag, "rect"))
			got = sscanf(p, "<rect x=\"%lf\" y=\"%lf\" width=\"%lf\" height=\"%lf\"", &m.a, &m.b,
				     &m.c, &m.d) == 4;
		assert_true(got);
		if (n < max)
			out[n] = m;
		n++;
	}
	return n;
}

static char *chart(void (*fn)(struct strbuf *, struct json_object *), const char *json)
{
	struct json_object *o = json_tokener_parse(json);
	assert_non_null(o);
	struct strbuf sb = { 0 };
	fn(&sb, o);
	sb_add(&sb, "", 0);
	json_object_put(o);
	return sb.buf;
}

static const char idle_json[] =
	"{\"found\": true, \"lower_s\": 6.0, \"upper_s\": 6.3, \"expiry\": \"silent-drop\","
	" \"probes\": [{\"idle_s\": 2.0, \"result\": \"alive\"}, {\"idle_s\": 4.0, \"result\": \"alive\"},"
	" {\"idle_s\": 8.0, \"result\": \"silent\"}, {\"idle_s\": 6.0, \"result\": \"alive\"},"
	" {\"idle_s\": 7.0, \"result\": \"silent\"}, {\"idle_s\": 6.3, \"result\": \"silent\"},"
	" {\"idle_s\": 9.5, \"result\": \"reset\"}, {\"idle_s\": 9.9, \"result\": \"closed\"}]}";

static void test_idle_chart(void **st)
{
	(void)st;
	char *s = chart(html_idle_chart, idle_json);
	struct mark alive[8], silent[8], other[8], br[2];
	/* the legend draws one mark of each class too, after the probes */
	assert_int_equal(marks(s, "circle", "p-alive", alive, 8), 3 + 1);
	assert_int_equal(marks(s, "circle", "p-silent", silent, 8), 3 + 1);
	assert_int_equal(marks(s, "circle", "p-reset", other, 8), 1 + 1);
	assert_int_equal(marks(s, "circle", "p-closed", other, 8), 1 + 1);
	assert_int_equal(marks(s, "rect", "bracket", br, 2), 1);
	double bx0 = br[0].a, bx1 = br[0].a + br[0].c;
	/* every alive probe at or left of the bracket, every silent one at or right */
	for (int i = 0; i < 3; i++) {
		assert_true(alive[i].a <= bx0 + 0.11);
		assert_true(silent[i].a >= bx1 - 0.11);
	}
	/* idle age is linear: 2 s and 4 s are as far apart as 4 s and 6 s */
	double d1 = alive[1].a - alive[0].a, d2 = alive[2].a - alive[1].a;
	assert_true(d1 > 10 && d1 - d2 < 0.2 && d2 - d1 < 0.2);
	assert_true(alive[2].a > bx0 - 0.11 && alive[2].a < bx0 + 0.11);	/* 6.0 is the edge */
	/* the bracket is 0.3 s wide on the same scale (2 s = d1 pixels) */
	assert_true(bx1 - bx0 > d1 * 0.15 - 0.2 && bx1 - bx0 < d1 * 0.15 + 0.2);
	/* probes go down in the order they ran */
	assert_true(alive[0].b < alive[1].b && alive[1].b < silent[0].b && silent[0].b < alive[2].b);
	assert_non_null(strstr(s, "T 6.0-6.3 s"));
	assert_non_null(strstr(s, "expiry: silent-drop"));
	assert_non_null(strstr(s, "<svg "));
	free(s);

	/* nothing found: a limit line, no bracket */
	s = chart(html_idle_chart, "{\"found\": false, \"lower_s\": 30.0, \"upper_s\": null,"
		  " \"probes\": [{\"idle_s\": 30.0, \"result\": \"alive\"}]}");
	assert_int_equal(marks(s, "rect", "bracket", br, 2), 0);
	assert_non_null(strstr(s, "alive at 30.0 s"));
	free(s);
	/* an idle run that measured nothing draws nothing (not "alive after 0 s") */
	s = chart(html_idle_chart, "{\"found\": false, \"lower_s\": 0.0, \"probes\": []}");
	assert_string_equal(s, "");
	free(s);
	/* no idle data: nothing drawn */
	s = chart(html_idle_chart, "{\"unrelated\": 1}");
	assert_string_equal(s, "");
	free(s);
}

static void test_waterfall(void **st)
{
	(void)st;
	const char *names[] = { "tcp", "banner", "kex", "auth" };
	const char *res[] = { "connected", "ok", "<b>bad</b>", "timeout" };
	double ms[] = { 10, 30, 60, -1 };
	struct strbuf sb = { 0 };
	html_waterfall(&sb, "t", 4, names, ms, res);
	sb_add(&sb, "", 0);
	struct mark good[4], bad[4];
	assert_int_equal(marks(sb.buf, "rect", "bar", good, 4), 2);
	assert_int_equal(marks(sb.buf, "rect", "bar-bad", bad, 4), 2);
	/* widths in proportion, each bar starting where the one before ended */
	assert_true(good[1].c / good[0].c > 2.95 && good[1].c / good[0].c < 3.05);
	assert_true(bad[0].c / good[0].c > 5.95 && bad[0].c / good[0].c < 6.05);
	assert_true(good[1].a - (good[0].a + good[0].c) < 0.11);
	assert_true(bad[0].a - (good[1].a + good[1].c) < 0.11);
	assert_true(good[0].b < good[1].b && good[1].b < bad[0].b && bad[0].b < bad[1].b);
	assert_non_null(strstr(sb.buf, "timeout (not timed)"));
	assert_non_null(strstr(sb.buf, "&lt;b&gt;bad&lt;/b&gt;"));	/* a result is escaped too */
	assert_null(strstr(sb.buf, "<b>"));
	sb_free(&sb);
}

static void test_path_charts(void **st)
{
	(void)st;
	char *s = chart(html_path_charts,
			"{\"rtt_ms\": {\"min\": 5, \"p50\": 6, \"p90\": 9, \"max\": 20}, \"loss_pct\": 10.0,"
			" \"pmtu\": 1400, \"largest_echo_bytes\": 1280, \"blackhole\": true,"
			" \"detail\": {\"tcp_handshake\": {\"sent\": 10, \"lost\": 1,"
			"   \"rtt_samples_ms\": [5, 6, 6, 7, 6, 9, 20, 6, 5]},"
			" \"icmp_echo\": {\"sent\": 0, \"lost\": 0, \"rtt_samples_ms\": []},"
			" \"session_echo\": {\"sent\": 4, \"lost\": 0, \"rtt_samples_ms\": [8, 9, 8, 8]},"
			" \"mtu_search\": [{\"bytes\": 256, \"passed\": true}, {\"bytes\": 1280, \"passed\": true},"
			"   {\"bytes\": 1408, \"passed\": false}, {\"bytes\": 1408, \"passed\": false}]}}");
	struct mark m[16];
	assert_int_equal(marks(s, "circle", "s-tcp", m, 16), 9 + 1);	/* + legend */
	/* the 20 ms sample is the highest point (smallest y) */
	for (int i = 0; i < 9; i++)
		assert_true(m[6].b <= m[i].b);
	assert_int_equal(marks(s, "circle", "s-echo", m, 16), 4 + 1);
	assert_int_equal(marks(s, "circle", "s-icmp", m, 16), 0);	/* no samples, no legend */
	assert_non_null(strstr(s, "1 lost of 10"));
	assert_non_null(strstr(s, "10.0% loss"));
	assert_non_null(strstr(s, "id=\"mtu-chart\""));
	assert_non_null(strstr(s, "a black hole"));
	assert_non_null(strstr(s, "1408 B lost"));
	assert_non_null(strstr(s, "1280 B came back"));
	free(s);
	s = chart(html_path_charts, "{\"rtt_ms\": null, \"detail\": {}}");
	assert_string_equal(s, "");
	free(s);
}

static struct report *hostile_report(void)
{
	static struct report r;
	report_init(&r, "doctor");
	report_set_target(&r, "<img src=x onerror=alert(1)>", 22, "u\"ser");
	struct finding *f = report_add(&r, SEV_CRITICAL, "path.idle-timeout", "</pre><script>x()</script>");
	finding_evidence(f, "offered /home/u/.ssh/id_secret and failed");
	finding_evidence(f, "also tried ~/.ssh/id_ed25519, /etc/keys/host.pem: and /srv/x.key.");
	finding_evidence(f, "config /tmp/lab/ssh_config kept");
	struct fix *x = finding_fix(f, "~/.ssh/config");
	fix_line(x, "Host <lab>");
	fix_line(x, "    ServerAliveInterval 3");
	report_add(&r, SEV_OK, "client.ok", "fine");
	struct json_object *c = json_tokener_parse(
		"{\"target\": \"lab\", \"banner\": \"SSH-2.0-<script>evil()</script>\","
		" \"phases\": [{\"name\": \"tcp\", \"ms\": 5, \"result\": \"connected\"}],"
		" \"login\": {\"tcp\": 5, \"auth_requests\": [{\"method\": \"publickey\","
		"   \"key\": \"/home/u/.ssh/id_secret\"}]}}");
	report_measure(&r, "connect", c, NULL);
	return &r;
}

static void test_document(void **st)
{
	(void)st;
	struct report *r = hostile_report();
	char *argv[] = { "sshdoctor", "doctor", "-i", "/home/u/.ssh/id_other", "-o",
			 "IdentityFile=/srv/keys/deploy", "lab", NULL };
	struct html_meta m = { 7, argv, 1764633600000LL };
	char *h = render_html(r, &m);
	assert_non_null(strstr(h, "<!DOCTYPE html>"));
	/* markup from servers and findings is text, never tags */
	assert_null(strstr(h, "<script"));
	assert_null(strstr(h, "<img"));
	assert_non_null(strstr(h, "&lt;/pre&gt;&lt;script&gt;x()&lt;/script&gt;"));
	assert_non_null(strstr(h, "SSH-2.0-&lt;script&gt;evil()&lt;/script&gt;"));
	assert_non_null(strstr(h, "u&quot;ser@&lt;img src=x"));
	/* key files named, never located */
	assert_null(strstr(h, "/home/u/.ssh/id_secret"));
	assert_null(strstr(h, "/home/u/.ssh/id_other"));
	assert_null(strstr(h, "/srv/keys/deploy"));
	assert_non_null(strstr(h, "offered id_secret and failed"));
	assert_non_null(strstr(h, "also tried id_ed25519, host.pem: and x.key."));
	assert_non_null(strstr(h, "config /tmp/lab/ssh_config kept"));	/* not a key: kept */
	assert_null(strstr(h, "/etc/keys"));
	assert_non_null(strstr(h, "-i id_other"));
	assert_non_null(strstr(h, "IdentityFile=deploy"));
	/* self-contained: nothing to fetch (the SVG namespace is a name, not a fetch) */
	assert_null(strstr(h, "src=\""));
	assert_null(strstr(h, "href=\""));
	assert_null(strstr(h, "url("));
	assert_null(strstr(h, "https:"));
	for (const char *p = strstr(h, "http:"); p; p = strstr(p + 1, "http:"))
		assert_true(!strncmp(p, "http://www.w3.org/2000/svg\"", 27));
	/* the verdict, the fix lines, the time and version */
	assert_non_null(strstr(h, "id=\"verdict\""));
	assert_non_null(strstr(h, "<strong>critical</strong>"));
	assert_non_null(strstr(h, "Host &lt;lab&gt;\n    ServerAliveInterval 3\n"));
	assert_non_null(strstr(h, "2025-12-02 00:00:00 UTC"));
	assert_non_null(strstr(h, "id=\"connect-chart\""));
	/* the critical finding before the ok one, as in the text output */
	assert_non_null(strstr(h, "class=\"sev sev-ok\""));
	assert_true(strstr(h, "class=\"sev sev-critical\"") < strstr(h, "class=\"sev sev-ok\""));
	free(h);
	report_free(r);
}

static void test_write(void **st)
{
	(void)st;
	char dir[] = "/tmp/test_render_html.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *path = xasprintf("%s/r.html", dir), *missing = xasprintf("%s/no/r.html", dir);
	char *err = NULL;
	struct report *r = hostile_report();
	struct html_meta m = { 0 };
	assert_int_equal(render_html_check(path, &err), 0);
	assert_int_equal(render_html_write(path, r, &m, &err), 0);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0644);
	assert_true(sb.st_size > 1000);
	assert_int_equal(render_html_write(path, r, &m, &err), 0);	/* replaces it */
	assert_int_equal(render_html_check(missing, &err), -1);
	assert_non_null(strstr(err, "does not exist"));
	free(err);
	err = NULL;
	assert_int_equal(render_html_write(dir, r, &m, &err), -1);
	assert_non_null(strstr(err, "is a directory"));
	free(err);
	/* no temp file left beside it */
	char *cmd = xasprintf("test $(ls -A %s | wc -l) -eq 1", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	unlink(path);
	rmdir(dir);
	free(path);
	free(missing);
	report_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_markup),
		cmocka_unit_test(test_escape_bytes),
		cmocka_unit_test(test_axis),
		cmocka_unit_test(test_idle_chart),
		cmocka_unit_test(test_waterfall),
		cmocka_unit_test(test_path_charts),
		cmocka_unit_test(test_document),
		cmocka_unit_test(test_write),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
