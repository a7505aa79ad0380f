/* Unit tests: the Prometheus text rendering of a report (render_metrics.c):
 * the metric table's conventions, label escaping, one HELP/TYPE per family,
 * no duplicate series, tolerance of unknown or malformed fields, textfiles. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "finding.h"
#include "render_metrics.h"

static char *render(struct report *r)
{
	struct json_object *o = report_to_json(r);
	char *s = metrics_from_json(o, 0);
	json_object_put(o);
	return s;
}

static char *render_json_text(const char *json)
{
	struct json_object *o = json_tokener_parse(json);
	assert_non_null(o);
	char *s = metrics_from_json(o, 0);
	json_object_put(o);
	return s;
}

/* Checks the exposition's structure the way a scraper sees it: every sample
 * follows the TYPE line of its own family, each family's HELP and TYPE appear
 * exactly once, and no series (name + labels) appears twice. Returns samples. */
static size_t check_structure(const char *text)
{
	char *copy = strdup(text), *save = NULL;
	char family[256] = "", *seen_fam[256];
	char *series[4096];
	size_t nfam = 0, nser = 0;
	int help_pending = 0;
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char name[256];
		if (!strncmp(l, "# HELP ", 7)) {
			assert_int_equal(sscanf(l + 7, "%255s", name), 1);
			for (size_t i = 0; i < nfam; i++)
				assert_string_not_equal(seen_fam[i], name);
			assert_true(nfam < 256);
			seen_fam[nfam++] = strdup(name);
			help_pending = 1;
			continue;
		}
		if (!strncmp(l, "# TYPE ", 7)) {
			assert_true(help_pending);	/* HELP, then TYPE, once each */
			help_pending = 0;
			assert_int_equal(sscanf(l + 7, "%255s", name), 1);
			assert_string_equal(name, seen_fam[nfam - 1]);
			snprintf(family, sizeof(family), "%s", name);
			continue;
		}
		assert_true(l[0] != '#');
		size_t fl = strlen(family);
		assert_true(fl > 0);
		assert_memory_equal(l, family, fl);	/* the sample belongs to its family */
		const char *rest = l + fl;
		assert_true(*rest == '{' || !strncmp(rest, "_sum{", 5) || !strncmp(rest, "_count{", 7));
		const char *sp = strrchr(l, ' ');
		assert_non_null(sp);
		char *key = strndup(l, (size_t)(sp - l));
		for (size_t i = 0; i < nser; i++)
			assert_string_not_equal(series[i], key);
		assert_true(nser < 4096);
		series[nser++] = key;
	}
	for (size_t i = 0; i < nfam; i++)
		free(seen_fam[i]);
	for (size_t i = 0; i < nser; i++)
		free(series[i]);
	free(copy);
	return nser;
}

static void test_table_conventions(void **state)
{
	(void)state;
	regex_t re;
	assert_int_equal(regcomp(&re, "^sshdoctor_[a-z][a-z0-9_]*[a-z0-9]$", REG_EXTENDED | REG_NOSUB), 0);
	size_t n = metrics_def_count();
	assert_true(n >= 20);
	for (size_t i = 0; i < n; i++) {
		int type;
		const char *unit, *help;
		const char *name = metrics_def(i, &type, &unit, &help);
		assert_int_equal(regexec(&re, name, 0, NULL, 0), 0);
		size_t l = strlen(name);
		int total = l > 6 && !strcmp(name + l - 6, "_total");
		assert_int_equal(total, type == 1);	/* _total exactly on counters */
		if (*unit) {
			char suffix[64];
			snprintf(suffix, sizeof(suffix), "_%s%s", unit, total ? "_total" : "");
			assert_true(l > strlen(suffix));
			assert_string_equal(name + l - strlen(suffix), suffix);
		}
		/* no non-base units in names */
		assert_null(strstr(name, "_ms"));
		assert_null(strstr(name, "_pct"));
		assert_null(strstr(name, "_percent"));
		assert_true(strlen(help) > 10);
		assert_null(strchr(help, '\n'));
		for (size_t j = 0; j < i; j++) {
			int t2;
			const char *u2, *h2;
			assert_string_not_equal(metrics_def(j, &t2, &u2, &h2), name);
		}
	}
	regfree(&re);
}

static void test_escaping(void **state)
{
	(void)state;
	struct report r;
	report_init(&r, "idle");
	report_set_target(&r, "h\"o\\s\nt", 2222, "us\xff" "er");
	report_add(&r, SEV_WARNING, "odd.\"id\"\\x\ny", "title");
	char *s = render(&r);
	/* quote -> \", backslash -> \\, newline -> \n; invalid UTF-8 -> ? */
	assert_non_null(strstr(s, "target=\"h\\\"o\\\\s\\nt:2222\""));
	assert_non_null(strstr(s, "id=\"odd.\\\"id\\\"\\\\x\\ny\""));
	assert_non_null(strstr(s, "user=\"us?er\""));
	assert_non_null(strstr(s, "port=\"2222\""));
	/* valid multi-byte UTF-8 is kept */
	report_free(&r);
	free(s);
	report_init(&r, "idle");
	report_set_target(&r, "h\xc3\xa9te", 22, "u");
	s = render(&r);
	assert_non_null(strstr(s, "target=\"h\xc3\xa9te:22\""));
	/* no raw newline inside any sample line: every line is a comment or a sample */
	assert_int_equal(check_structure(s), 2);	/* status, target_info */
	free(s);
	report_free(&r);
}

static void test_findings_merged_status(void **state)
{
	(void)state;
	struct report r;
	report_init(&r, "audit");
	report_add(&r, SEV_WARNING, "server.keepalive.off", "a");
	report_add(&r, SEV_WARNING, "server.keepalive.off", "b");
	report_add(&r, SEV_OK, "client.keepalive.ok", "c");
	report_add(&r, SEV_CRITICAL, "brand.new-id", "a finding id this file never heard of");
	char *s = render(&r);
	assert_non_null(strstr(s, "sshdoctor_finding{command=\"audit\",id=\"server.keepalive.off\","
				  "severity=\"warning\"} 2\n"));
	assert_non_null(strstr(s, "sshdoctor_finding{command=\"audit\",id=\"client.keepalive.ok\","
				  "severity=\"ok\"} 1\n"));
	assert_non_null(strstr(s, "id=\"brand.new-id\",severity=\"critical\"} 1\n"));
	assert_non_null(strstr(s, "sshdoctor_status{command=\"audit\"} 2\n"));
	assert_null(strstr(s, "target="));	/* no target: the label is left out */
	assert_null(strstr(s, "sshdoctor_target_info"));
	assert_int_equal(check_structure(s), 4);
	free(s);
	report_free(&r);
}

/* A doctor-like report holding every measurement, connect with three targets. */
static const char *const full_json =
	"{\"command\":\"doctor\",\"status\":\"critical\","
	"\"target\":{\"host\":\"203.0.113.2\",\"port\":22,\"user\":\"root\"},"
	"\"findings\":[{\"id\":\"path.idle-timeout\",\"severity\":\"critical\",\"title\":\"x\"},"
	"{\"id\":\"path.idle-timeout\",\"severity\":\"critical\",\"title\":\"y\"}],"
	"\"measurements\":{"
	"\"idle\":{\"found\":true,\"lower_s\":19.5,\"upper_s\":21,\"expiry\":\"silent-drop\","
	"\"server_keepalive_s\":null,\"elapsed_s\":44.25,\"connections\":8,\"via\":\"ssh\",\"new\":{\"x\":1}},"
	"\"path\":{\"rtt_ms\":{\"min\":1,\"avg\":12.5,\"p50\":12,\"p90\":20,\"max\":30},"
	"\"jitter_ms\":2.5,\"loss_pct\":5,\"loss_under_load_pct\":null,\"pmtu\":1400,"
	"\"largest_echo_bytes\":1200,\"blackhole\":true},"
	"\"audit\":{\"client\":{\"serveraliveinterval\":0,\"serveralivecountmax\":3,\"tcpkeepalive\":true},"
	"\"server\":{\"clientaliveinterval\":15,\"clientalivecountmax\":3,\"tcpkeepalive\":false,"
	"\"maxstartups\":\"10:30:100\",\"logingracetime\":120,\"maxauthtries\":6},"
	"\"kernel\":{\"tcp_keepalive_time\":7200,\"tcp_mtu_probing\":0,\"weird\":\"x\"},"
	"\"idle_timeout_s\":20,\"idle_timeout_source\":\"stored\","
	"\"detection_s\":{\"client\":null,\"server\":60},\"prescribed_interval_s\":12},"
	"\"logs\":{\"lines\":71,\"events\":{\"disconnect.reset\":3,\"limit.penalty\":0},"
	"\"sessions\":{\"count\":6,\"by_end\":{\"disconnect.reset\":3},"
	"\"duration_s\":{\"p50\":6.0,\"p90\":30.0,\"max\":30.0},\"open_at_end\":1}},"
	"\"connect\":[{\"target\":\"a\",\"hostname\":\"192.0.2.1\",\"port\":22,"
	"\"phases\":[{\"name\":\"dns\",\"ms\":3,\"result\":\"ok\"},"
	"{\"name\":\"tcp\",\"ms\":1,\"us\":1500,\"result\":\"connected\"}],"
	"\"login\":{\"tcp\":1,\"auth\":250,\"total_ms\":400,\"keys_offered\":2,\"error\":null},"
	"\"established\":true},"
	"{\"target\":\"b:2222\",\"hostname\":\"2001:db8::1\",\"port\":2222,"
	"\"phases\":[{\"name\":\"tcp\",\"ms\":-1,\"result\":\"filtered\"}],\"established\":false},"
	"{\"target\":\"c\",\"hostname\":\"192.0.2.3\",\"port\":22,\"phases\":\"not an array\"}],"
	"\"doctor\":{\"causes\":[{\"id\":\"cause.idle-timeout\",\"confidence\":\"high\"}],\"verified\":null},"
	"\"unknown-measurement\":{\"a\":1}}}";

static void test_full_mapping(void **state)
{
	(void)state;
	char *s = render_json_text(full_json);
	const char *want[] = {
		"sshdoctor_status{command=\"doctor\",target=\"203.0.113.2:22\"} 2\n",
		"sshdoctor_target_info{command=\"doctor\",target=\"203.0.113.2:22\",host=\"203.0.113.2\","
		"port=\"22\",user=\"root\"} 1\n",
		"sshdoctor_finding{command=\"doctor\",id=\"path.idle-timeout\",severity=\"critical\","
		"target=\"203.0.113.2:22\"} 2\n",
		"sshdoctor_idle_timeout_seconds{command=\"doctor\",target=\"203.0.113.2:22\",bound=\"lower\"} 19.5\n",
		"sshdoctor_idle_timeout_seconds{command=\"doctor\",target=\"203.0.113.2:22\",bound=\"upper\"} 21\n",
		"sshdoctor_idle_timeout_found{command=\"doctor\",target=\"203.0.113.2:22\",via=\"ssh\"} 1\n",
		"sshdoctor_idle_expiry_info{command=\"doctor\",target=\"203.0.113.2:22\",expiry=\"silent-drop\"} 1\n",
		"sshdoctor_path_rtt_seconds{command=\"doctor\",target=\"203.0.113.2:22\",stat=\"avg\"} 0.0125\n",
		"sshdoctor_path_loss_ratio{command=\"doctor\",target=\"203.0.113.2:22\"} 0.05\n",
		"sshdoctor_path_jitter_seconds{command=\"doctor\",target=\"203.0.113.2:22\"} 0.0025\n",
		"sshdoctor_path_mtu_bytes{command=\"doctor\",target=\"203.0.113.2:22\"} 1400\n",
		"sshdoctor_path_mtu_blackhole{command=\"doctor\",target=\"203.0.113.2:22\"} 1\n",
		"sshdoctor_audit_keepalive_interval_seconds{command=\"doctor\",target=\"203.0.113.2:22\",side=\"client\"} 0\n",
		"sshdoctor_audit_keepalive_interval_seconds{command=\"doctor\",target=\"203.0.113.2:22\",side=\"server\"} 15\n",
		"sshdoctor_audit_tcp_keepalive_enabled{command=\"doctor\",target=\"203.0.113.2:22\",side=\"server\"} 0\n",
		"sshdoctor_audit_dead_peer_detection_seconds{command=\"doctor\",target=\"203.0.113.2:22\",side=\"server\"} 60\n",
		"sshdoctor_audit_idle_timeout_seconds{command=\"doctor\",target=\"203.0.113.2:22\",source=\"stored\"} 20\n",
		"sshdoctor_audit_max_startups{command=\"doctor\",target=\"203.0.113.2:22\",field=\"full\"} 100\n",
		"sshdoctor_audit_kernel_setting{command=\"doctor\",target=\"203.0.113.2:22\",name=\"tcp_keepalive_time\"} 7200\n",
		"sshdoctor_logs_events_total{command=\"doctor\",target=\"203.0.113.2:22\",event=\"disconnect.reset\"} 3\n",
		"sshdoctor_logs_events_total{command=\"doctor\",target=\"203.0.113.2:22\",event=\"limit.penalty\"} 0\n",
		"sshdoctor_logs_session_duration_seconds{command=\"doctor\",target=\"203.0.113.2:22\",quantile=\"0.9\"} 30\n",
		"sshdoctor_logs_session_duration_seconds{command=\"doctor\",target=\"203.0.113.2:22\",quantile=\"1\"} 30\n",
		"sshdoctor_logs_session_duration_seconds_count{command=\"doctor\",target=\"203.0.113.2:22\"} 6\n",
		"sshdoctor_logs_sessions_open{command=\"doctor\",target=\"203.0.113.2:22\"} 1\n",
		"sshdoctor_connect_phase_seconds{command=\"doctor\",target=\"192.0.2.1:22\",phase=\"tcp\"} 0.0015\n",
		"sshdoctor_connect_phase_seconds{command=\"doctor\",target=\"192.0.2.1:22\",phase=\"dns\"} 0.003\n",
		"sshdoctor_connect_phase_result{command=\"doctor\",target=\"[2001:db8::1]:2222\",phase=\"tcp\","
		"result=\"filtered\"} 1\n",
		"sshdoctor_connect_login_phase_seconds{command=\"doctor\",target=\"192.0.2.1:22\",phase=\"auth\"} 0.25\n",
		"sshdoctor_connect_login_phase_seconds{command=\"doctor\",target=\"192.0.2.1:22\",phase=\"total\"} 0.4\n",
		"sshdoctor_connect_established{command=\"doctor\",target=\"[2001:db8::1]:2222\"} 0\n",
		"sshdoctor_doctor_cause{command=\"doctor\",target=\"203.0.113.2:22\",cause=\"cause.idle-timeout\","
		"confidence=\"high\"} 1\n",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(s, want[i]))
			fail_msg("missing: %s\nin:\n%s", want[i], s);
	/* missing or mistyped fields leave their metric out; nothing is invented */
	assert_null(strstr(s, "sshdoctor_idle_server_keepalive_seconds"));
	assert_null(strstr(s, "sshdoctor_path_loss_under_load_ratio"));
	assert_null(strstr(s, "sshdoctor_doctor_verified"));
	assert_null(strstr(s, "name=\"weird\""));
	assert_null(strstr(s, "192.0.2.3"));	/* its phases were not an array */
	assert_null(strstr(s, "phase=\"keys_offered\""));
	assert_null(strstr(s, "_sum{"));	/* no sum in the JSON: none made up */
	assert_null(strstr(s, "phase=\"tcp\"} -"));	/* -1 ms means "not measured" */
	assert_null(strstr(s, "unknown-measurement"));
	assert_true(check_structure(s) > 40);
	free(s);
}

static void test_multi_target_findings(void **state)
{
	(void)state;
	char *s = render_json_text(
		"{\"command\":\"connect\",\"status\":\"critical\",\"target\":null,\"findings\":["
		"{\"id\":\"tcp.refused\",\"severity\":\"critical\",\"title\":\"a: TCP refused\"},"
		"{\"id\":\"tcp.refused\",\"severity\":\"critical\",\"title\":\"ab: TCP refused\"},"
		"{\"id\":\"tcp.refused\",\"severity\":\"critical\",\"title\":\"ab: TCP refused again\"},"
		"{\"id\":\"x.y\",\"severity\":\"info\",\"title\":\"no label here\"}],"
		"\"measurements\":{\"connect\":["
		"{\"target\":\"a\",\"hostname\":\"192.0.2.1\",\"port\":22},"
		"{\"target\":\"ab\",\"hostname\":\"192.0.2.2\",\"port\":22}]}}");
	assert_non_null(strstr(s, "id=\"tcp.refused\",severity=\"critical\",target=\"192.0.2.1:22\"} 1\n"));
	assert_non_null(strstr(s, "id=\"tcp.refused\",severity=\"critical\",target=\"192.0.2.2:22\"} 2\n"));
	assert_non_null(strstr(s, "id=\"x.y\",severity=\"info\"} 1\n"));
	assert_non_null(strstr(s, "sshdoctor_status{command=\"connect\"} 2\n"));
	assert_int_equal(check_structure(s), 4);
	free(s);
	/* the same server listed twice (alias and address): one series each, first wins */
	s = render_json_text(
		"{\"command\":\"connect\",\"status\":\"ok\",\"target\":null,\"findings\":["
		"{\"id\":\"tcp.ok\",\"severity\":\"ok\",\"title\":\"a: TCP ok\"},"
		"{\"id\":\"tcp.ok\",\"severity\":\"ok\",\"title\":\"192.0.2.1: TCP ok\"}],"
		"\"measurements\":{\"connect\":["
		"{\"target\":\"a\",\"hostname\":\"192.0.2.1\",\"port\":22,"
		"\"phases\":[{\"name\":\"tcp\",\"us\":100}],\"established\":true},"
		"{\"target\":\"192.0.2.1\",\"hostname\":\"192.0.2.1\",\"port\":22,"
		"\"phases\":[{\"name\":\"tcp\",\"us\":200}],\"established\":false}]}}");
	assert_non_null(strstr(s, "target=\"192.0.2.1:22\",phase=\"tcp\"} 0.0001\n"));
	assert_null(strstr(s, "0.0002"));
	assert_non_null(strstr(s, "sshdoctor_connect_established{command=\"connect\",target=\"192.0.2.1:22\"} 1\n"));
	assert_non_null(strstr(s, "id=\"tcp.ok\",severity=\"ok\",target=\"192.0.2.1:22\"} 2\n"));
	assert_int_equal(check_structure(s), 4);
	free(s);
}

static void test_garbage_tolerated(void **state)
{
	(void)state;
	const char *docs[] = {
		"{}", "[]", "{\"command\":3,\"findings\":{},\"measurements\":[]}",
		"{\"command\":\"idle\",\"status\":\"bogus\",\"target\":{\"host\":5},"
		"\"findings\":[1,{\"id\":null},{\"severity\":\"ok\"}],"
		"\"measurements\":{\"idle\":[],\"audit\":{\"client\":5,\"kernel\":[]},\"logs\":{\"events\":[1],"
		"\"sessions\":{\"duration_s\":{\"p50\":\"x\"}}},\"path\":{\"rtt_ms\":[1]},\"connect\":5}}",
	};
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		char *s = render_json_text(docs[i]);
		check_structure(s);
		free(s);
	}
	char *s = render_json_text(docs[3]);
	assert_string_equal(s, "");	/* nothing valid in it, nothing printed */
	free(s);
}

static void test_textfile(void **state)
{
	(void)state;
	char tmpl[] = "/tmp/test_metrics.XXXXXX";
	char *dir = mkdtemp(tmpl);
	assert_non_null(dir);
	struct report r;
	report_init(&r, "idle");
	report_set_target(&r, "::1/../x", 2222, "root");
	char *name = metrics_textfile_name(&r);
	assert_string_equal(name, "sshdoctor_idle___1_.._x_2222.prom");
	char *err = NULL;
	assert_int_equal(metrics_textfile_write(dir, &r, &err), 0);
	char *path;
	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	FILE *f = fopen(path, "r");
	char buf[4096];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	assert_non_null(strstr(buf, "sshdoctor_status{command=\"idle\",target=\"[::1/../x]:2222\"} 0\n"));
	assert_non_null(strstr(buf, "sshdoctor_last_run_timestamp_seconds{"));
	/* second write replaces it; no temp file is left behind */
	assert_int_equal(metrics_textfile_write(dir, &r, &err), 0);
	DIR *d = opendir(dir);
	int files = 0;
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")))
			files++;
	closedir(d);
	assert_int_equal(files, 1);

	/* a symlink instead of the directory is refused */
	char *link;
	assert_true(asprintf(&link, "%s/link", dir) > 0);
	assert_int_equal(symlink(dir, link), 0);
	assert_int_equal(metrics_textfile_write(link, &r, &err), -1);
	assert_non_null(strstr(err, "symbolic link"));
	free(err);
	err = NULL;
	/* a missing directory is an error, not created */
	char *missing;
	assert_true(asprintf(&missing, "%s/missing", dir) > 0);
	assert_int_equal(metrics_textfile_write(missing, &r, &err), -1);
	free(err);
	err = NULL;
	assert_int_not_equal(access(missing, F_OK), 0);
	assert_int_equal(metrics_textfile_check(missing, &err), -1);
	free(err);
	err = NULL;
	assert_int_equal(metrics_textfile_check(dir, &err), 0);
	/* as root, a world-writable directory without the sticky bit is refused;
	 * with it (like /tmp) it is used */
	assert_int_equal(chmod(dir, 0777), 0);
	int rc = metrics_textfile_write(dir, &r, &err);
	if (geteuid() == 0) {
		assert_int_equal(rc, -1);
		free(err);
		err = NULL;
		assert_int_equal(metrics_textfile_check(dir, &err), -1);
		assert_non_null(strstr(err, "sticky"));
		free(err);
		err = NULL;
	} else {
		assert_int_equal(rc, 0);	/* the check guards root only */
	}
	assert_int_equal(chmod(dir, 01777), 0);
	assert_int_equal(metrics_textfile_write(dir, &r, &err), 0);

	unlink(link);
	unlink(path);
	rmdir(dir);
	free(link);
	free(missing);
	free(path);
	free(name);
	report_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_conventions),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_findings_merged_status),
		cmocka_unit_test(test_full_mapping),
		cmocka_unit_test(test_multi_target_findings),
		cmocka_unit_test(test_garbage_tolerated),
		cmocka_unit_test(test_textfile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
