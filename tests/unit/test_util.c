/* Unit tests: durations, integers, edit distance, string vectors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static void test_durations(void **state)
{
	(void)state;
	assert_int_equal(parse_duration_ms("90"), 90000);
	assert_int_equal(parse_duration_ms("90s"), 90000);
	assert_int_equal(parse_duration_ms("5m"), 300000);
	assert_int_equal(parse_duration_ms("2h"), 7200000);
	assert_int_equal(parse_duration_ms("1h30m"), 5400000);
	assert_int_equal(parse_duration_ms("250ms"), 250);
	assert_int_equal(parse_duration_ms(""), -1);
	assert_int_equal(parse_duration_ms("5x"), -1);
	assert_int_equal(parse_duration_ms("-5"), -1);
	assert_int_equal(parse_duration_ms("m"), -1);
	assert_int_equal(parse_duration_ms("1m30"), -1);
	assert_int_equal(parse_duration_ms("99999999999"), -1);
}

static void test_format_duration(void **state)
{
	(void)state;
	char b[32];
	format_duration(b, sizeof(b), 8000);
	assert_string_equal(b, "8s");
	format_duration(b, sizeof(b), 1500);
	assert_string_equal(b, "1.5s");
	format_duration(b, sizeof(b), 300000);
	assert_string_equal(b, "5m");
	format_duration(b, sizeof(b), 330000);
	assert_string_equal(b, "5m30s");
	format_duration(b, sizeof(b), 7200000);
	assert_string_equal(b, "2h");
}

static void test_parse_int(void **state)
{
	(void)state;
	long v;
	assert_int_equal(parse_int("22", 1, 65535, &v), 0);
	assert_int_equal(v, 22);
	assert_int_not_equal(parse_int("0", 1, 65535, &v), 0);
	assert_int_not_equal(parse_int("65536", 1, 65535, &v), 0);
	assert_int_not_equal(parse_int("22a", 1, 65535, &v), 0);
	assert_int_not_equal(parse_int(" 22", 1, 65535, &v), 0);
	assert_int_not_equal(parse_int("", 1, 65535, &v), 0);
}

static void test_edit_distance(void **state)
{
	(void)state;
	assert_int_equal(edit_distance("idle", "idle"), 0);
	assert_int_equal(edit_distance("idel", "idle"), 2);
	assert_int_equal(edit_distance("audt", "audit"), 1);
	assert_int_equal(edit_distance("", "abc"), 3);
}

static void test_strvec_strbuf(void **state)
{
	(void)state;
	struct strvec sv = { 0 };
	strvec_push(&sv, "ssh");
	strvec_pushf(&sv, "-p%d", 22);
	assert_int_equal(sv.n, 2);
	assert_string_equal(sv.v[1], "-p22");
	assert_null(sv.v[2]);
	strvec_clear(&sv);
	struct strbuf sb = { 0 };
	for (int i = 0; i < 1000; i++)
		sb_addf(&sb, "%d,", i);
	assert_true(sb.len > 3000);
	assert_int_equal(sb.buf[sb.len], '\0');
	sb_free(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_format_duration),
		cmocka_unit_test(test_parse_int),
		cmocka_unit_test(test_edit_distance),
		cmocka_unit_test(test_strvec_strbuf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
