/* Unit tests: protect-the-work probe parsing, advice, and which doctor causes get it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose.h"
#include "protect.h"

static int has_line(const struct finding *f, const char *line)
{
	for (size_t i = 0; i < f->nfixes; i++)
		for (size_t j = 0; j < f->fixes[i].lines.n; j++)
			if (!strcmp(f->fixes[i].lines.v[j], line))
				return 1;
	return 0;
}

static int has_evidence(const struct finding *f, const char *part)
{
	for (size_t i = 0; i < f->evidence.n; i++)
		if (strstr(f->evidence.v[i], part))
			return 1;
	return 0;
}

static void test_parse(void **state)
{
	(void)state;
	struct protect_facts p;
	protect_parse("Welcome to srv\n@@have tmux /usr/bin/tmux\n@@have mosh-server /usr/bin/mosh-server\n"
		      "@@have vim /usr/bin/vim\n@@have screen relative/screen\n@@done\n", &p);
	assert_true(p.known);
	assert_string_equal(p.tmux, "/usr/bin/tmux");
	assert_string_equal(p.mosh, "/usr/bin/mosh-server");
	assert_string_equal(p.screen, "");	/* not an absolute path: not believed */
	/* no marker: an incomplete answer is not "nothing installed" */
	protect_parse("@@have tmux /usr/bin/tmux\n", &p);
	assert_false(p.known);
	assert_non_null(strstr(p.why, "incomplete"));
	protect_parse(NULL, &p);
	assert_false(p.known);
	/* a very long line is skipped, not overflowed */
	char *big = malloc(5000);
	memset(big, 'a', 4990);
	strcpy(big + 4990, "\n@@done");
	protect_parse(big, &p);
	assert_true(p.known);
	assert_string_equal(p.tmux, "");
	free(big);
	assert_non_null(strstr(protect_remote_cmd, "command -v"));
}

static void test_advice(void **state)
{
	(void)state;
	struct protect_facts p;
	struct report r;
	protect_parse("@@have tmux /usr/bin/tmux\n@@have screen /usr/bin/screen\n@@done\n", &p);
	report_init(&r, "doctor");
	const struct finding *f = protect_advice(&r, &p, "bob@srv");
	assert_string_equal(f->id, PROTECT_FINDING);
	assert_int_equal(f->sev, SEV_INFO);
	assert_true(has_line(f, "ssh -t bob@srv tmux new -A -s main"));
	assert_false(has_line(f, "ssh -t bob@srv screen -dR"));	/* tmux first */
	assert_true(has_line(f, "sudo apt install mosh    # on the server and here"));
	assert_true(has_evidence(f, "mosh-server is not installed"));
	assert_true(has_line(f, "autossh -M 0 -o ServerAliveInterval=15 -o ServerAliveCountMax=3 -N bob@srv"));
	report_free(&r);

	protect_parse("@@have screen /usr/bin/screen\n@@have mosh-server /usr/bin/mosh-server\n@@done\n", &p);
	report_init(&r, "doctor");
	f = protect_advice(&r, &p, "srv");
	assert_true(has_line(f, "ssh -t srv screen -dR"));
	assert_true(has_line(f, "mosh srv"));
	assert_false(has_line(f, "sudo apt install mosh    # on the server and here"));
	report_free(&r);

	protect_parse("@@done\n", &p);
	report_init(&r, "doctor");
	f = protect_advice(&r, &p, "srv");
	assert_true(has_evidence(f, "neither tmux nor screen"));
	assert_true(has_line(f, "sudo apt install tmux    # on the server"));
	report_free(&r);

	/* unknown: generic advice, and the reason */
	memset(&p, 0, sizeof(p));
	strcpy(p.why, "ssh did not answer: timeout");
	report_init(&r, "doctor");
	f = protect_advice(&r, &p, "srv");
	assert_true(has_evidence(f, "unknown (ssh did not answer: timeout)"));
	assert_false(has_evidence(f, "neither"));
	assert_true(has_line(f, "ssh -t srv tmux new -A -s main"));
	report_free(&r);
}

static void test_which_causes(void **state)
{
	(void)state;
	struct diagnosis d = { 0 };
	const char *ids[] = { "cause.idle-timeout", "cause.path-quality", "cause.server",
			      "cause.mtu-blackhole", "cause.server-limits", "cause.server-idle-policy" };
	for (size_t i = 0; i < 6; i++) {
		d.causes[i].id = ids[i];
		d.causes[i].sev = SEV_WARNING;
		d.causes[i].fix_from = d.causes[i].protect_from = -1;
	}
	d.ncauses = 6;
	assert_int_equal(diagnosis_protect(&d, 7), 3);
	assert_int_equal(d.causes[0].protect_from, -1);	/* keepalives cure it */
	assert_int_equal(d.causes[1].protect_from, 7);
	assert_int_equal(d.causes[2].protect_from, 7);
	assert_int_equal(d.causes[3].protect_from, -1);
	assert_int_equal(d.causes[4].protect_from, -1);
	assert_int_equal(d.causes[5].protect_from, 7);	/* a policy the user cannot change */
	d.causes[1].sev = SEV_OK;	/* not a problem: nothing to protect against */
	assert_false(cause_needs_protection(&d.causes[1]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_advice),
		cmocka_unit_test(test_which_causes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
