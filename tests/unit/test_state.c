/* Unit tests: as root, state another user could write is not trusted. Runs as
 * root (it chowns to nobody); fails loudly otherwise. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state.h"
#include "util.h"

static void test_state_trusted(void **state)
{
	(void)state;
	assert_int_equal(geteuid(), 0);	/* the refusals are root's: run as root */
	char dir[] = "/tmp/sshdoctor-test-state-XXXXXX";	/* /tmp: sticky, allowed above */
	assert_non_null(mkdtemp(dir));
	char *err = NULL;
	char *sub = xasprintf("%s/a/b", dir), *a = xasprintf("%s/a", dir);
	assert_int_equal(mkdir(a, 0700), 0);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(state_trusted(sub, &err), 0);

	assert_int_equal(chown(a, 65534, 65534), 0);	/* an ancestor of another user */
	assert_int_equal(state_trusted(sub, &err), -1);
	assert_non_null(strstr(err, "owned by uid 65534"));
	assert_non_null(strstr(err, a));
	free(err);
	err = NULL;
	assert_int_equal(chown(a, 0, 0), 0);

	assert_int_equal(chmod(sub, 0770), 0);	/* group-writable */
	assert_int_equal(state_trusted(sub, &err), -1);
	assert_non_null(strstr(err, "writable by its group"));
	free(err);
	err = NULL;
	assert_int_equal(chmod(sub, 01777), 0);	/* sticky is fine above, not for the dir itself */
	assert_int_equal(state_trusted(sub, &err), -1);
	free(err);
	err = NULL;
	assert_int_equal(chmod(sub, 0700), 0);
	assert_int_equal(chmod(a, 01777), 0);
	assert_int_equal(state_trusted(sub, &err), 0);

	char *cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(sub);
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_trusted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
