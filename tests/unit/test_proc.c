/* Unit tests: children see EOF on their stdin and inherit none of our pipes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "proc.h"
#include "util.h"

/* A plain cat only exits when its stdin reaches EOF: the write end must not
 * have leaked into it. */
static void test_capture_cat_sees_eof(void **state)
{
	(void)state;
	char *argv[] = { (char *)"cat", NULL };
	struct strbuf out = { 0 }, err = { 0 };
	int st = -1;
	int64_t t0 = now_ms();
	assert_int_equal(proc_capture(argv, "hello\n", &out, &err, 3000, &st), 0);
	assert_int_equal(st, 0);
	assert_string_equal(out.buf, "hello\n");
	assert_true(now_ms() - t0 < 2000);
	sb_free(&out);
	sb_free(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_capture_cat_sees_eof),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
