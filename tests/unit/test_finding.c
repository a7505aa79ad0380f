/* Unit tests: the finding model, status rules and the JSON contract's shape. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finding.h"
#include "version.h"

static void test_status(void **state)
{
	(void)state;
	struct report r;
	report_init(&r, "test");
	assert_int_equal(report_status(&r), STATUS_OK);
	report_add(&r, SEV_INFO, "a.info", "info");
	assert_int_equal(report_status(&r), STATUS_OK);
	report_add(&r, SEV_WARNING, "a.warn", "warn");
	assert_int_equal(report_status(&r), STATUS_WARNING);
	r.unknown = 1;
	assert_int_equal(report_status(&r), STATUS_UNKNOWN);
	report_add(&r, SEV_CRITICAL, "a.crit", "crit");
	assert_int_equal(report_status(&r), STATUS_CRITICAL);
	report_free(&r);
}

static void test_json_shape(void **state)
{
	(void)state;
	struct report r;
	report_init(&r, "idle");
	report_set_target(&r, "203.0.113.2", 22, "root");
	struct finding *f = report_add(&r, SEV_CRITICAL, "path.idle-timeout", "NAT forgets after %ds", 20);
	finding_evidence(f, "probe after %ds: silent", 21);
	struct fix *x = finding_fix(f, "~/.ssh/config");
	fix_line(x, "ServerAliveInterval %d", 15);
	assert_ptr_equal(finding_fix(f, "~/.ssh/config"), x);
	struct json_object *m = json_object_new_object();
	json_object_object_add(m, "found", json_object_new_boolean(1));
	report_measure(&r, "idle", m, NULL);

	struct json_object *o = report_to_json(&r);
	assert_string_equal(json_object_get_string(json_object_object_get(o, "sshdoctor")), SSHDOCTOR_VERSION);
	assert_string_equal(json_object_get_string(json_object_object_get(o, "command")), "idle");
	assert_string_equal(json_object_get_string(json_object_object_get(o, "status")), "critical");
	struct json_object *t = json_object_object_get(o, "target");
	assert_int_equal(json_object_get_int(json_object_object_get(t, "port")), 22);
	struct json_object *fs = json_object_object_get(o, "findings");
	assert_int_equal(json_object_array_length(fs), 1);
	struct json_object *f0 = json_object_array_get_idx(fs, 0);
	assert_string_equal(json_object_get_string(json_object_object_get(f0, "severity")), "critical");
	struct json_object *fix0 = json_object_array_get_idx(json_object_object_get(f0, "fix"), 0);
	assert_string_equal(json_object_get_string(json_object_object_get(fix0, "where")), "~/.ssh/config");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(
				    json_object_object_get(fix0, "lines"), 0)), "ServerAliveInterval 15");
	struct json_object *mi = json_object_object_get(json_object_object_get(o, "measurements"), "idle");
	assert_true(json_object_get_boolean(json_object_object_get(mi, "found")));
	json_object_put(o);
	report_free(&r);
}

static void test_text_verdict_first(void **state)
{
	(void)state;
	struct report r;
	report_init(&r, "audit");
	report_add(&r, SEV_OK, "client.keepalive.ok", "fine");
	report_add(&r, SEV_WARNING, "server.usedns", "UseDNS is on");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	render_text(f, &r, 0);
	fclose(f);
	assert_true(strncmp(buf, "warning: UseDNS is on\n", 22) == 0);
	/* worst first */
	assert_true(strstr(buf, "server.usedns") < strstr(buf, "client.keepalive.ok"));
	assert_null(strchr(buf, '\033'));	/* no colour when not asked */
	free(buf);
	report_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_json_shape),
		cmocka_unit_test(test_text_verdict_first),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
