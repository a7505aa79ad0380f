/* Unit tests: the password typed once. Which prompts get it (classification),
 * the one-failure rule, and the channel: only the askpass child of an ssh that
 * is our own child gets an answer; a second prompt from the same ssh stops
 * everything. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "askpass.h"
#include "finding.h"

static void test_classify(void **state)
{
	(void)state;
	const char *u = "sdlab", *h = "203.0.113.2";
	assert_int_equal(askpass_classify("sdlab@203.0.113.2's password: ", u, h), AP_PASSWORD);
	assert_int_equal(askpass_classify("root@203.0.113.2's password: ", u, h), AP_OTHER_HOST);
	assert_int_equal(askpass_classify("sdlab@198.51.100.7's password: ", u, h), AP_OTHER_HOST);
	/* keyboard-interactive (OpenSSH 8.6+ prefixes the server's prompt) */
	assert_int_equal(askpass_classify("(sdlab@203.0.113.2) Password: ", u, h), AP_PASSWORD);
	assert_int_equal(askpass_classify("(sdlab@203.0.113.2) Verification code: ", u, h),
			 AP_UNSUPPORTED);
	assert_int_equal(askpass_classify("(sdlab@203.0.113.2) Enter PASSCODE: ", u, h), AP_UNSUPPORTED);
	assert_int_equal(askpass_classify("(sdlab@203.0.113.2) One-time password (OATH): ", u, h),
			 AP_UNSUPPORTED);
	assert_int_equal(askpass_classify("(sdlab@203.0.113.2) New password: ", u, h), AP_UNSUPPORTED);
	assert_int_equal(askpass_classify("(sdlab@203.0.113.2) Your mother's maiden name? ", u, h),
			 AP_UNSUPPORTED);
	assert_int_equal(askpass_classify("(root@jump.example) Password: ", u, h), AP_OTHER_HOST);
	assert_int_equal(askpass_classify("Verification code: ", u, h), AP_UNSUPPORTED);
	assert_int_equal(askpass_classify("Password: ", u, h), AP_PASSWORD);
	/* not password questions: answered "no" */
	assert_int_equal(askpass_classify("Enter passphrase for key '/root/.ssh/id_ed25519': ", u, h),
			 AP_REFUSE);
	assert_int_equal(askpass_classify("Are you sure you want to continue connecting "
					  "(yes/no/[fingerprint])? ", u, h), AP_REFUSE);
	assert_int_equal(askpass_classify("", u, h), AP_REFUSE);
	assert_int_equal(askpass_classify("(unterminated", u, h), AP_REFUSE);
	/* ssh truncates the user to 30 bytes and the host to 128 */
	const char *lu = "abcdefghijklmnopqrstuvwxyz0123456789";
	assert_int_equal(askpass_classify("abcdefghijklmnopqrstuvwxyz0123@203.0.113.2's password: ",
					  lu, h), AP_PASSWORD);
}

static void test_decide(void **state)
{
	(void)state;
	struct ap_state s = { 0 };
	assert_int_equal(askpass_decide(&s, 100, AP_PASSWORD), AP_ANSWER);
	assert_int_equal(askpass_decide(&s, 101, AP_PASSWORD), AP_ANSWER);	/* another ssh */
	assert_int_equal(askpass_decide(&s, 102, AP_REFUSE), AP_NO);
	assert_int_equal(askpass_decide(&s, 102, AP_OTHER_HOST), AP_NO);
	assert_false(s.stopped);
	/* the same ssh asks again: the password was wrong; nothing more for anyone */
	assert_int_equal(askpass_decide(&s, 100, AP_PASSWORD), AP_STOP_WRONG);
	assert_true(s.stopped);
	assert_int_equal(askpass_decide(&s, 103, AP_PASSWORD), AP_NO);
	assert_int_equal(askpass_decide(&s, 101, AP_PASSWORD), AP_NO);

	struct ap_state o = { 0 };
	assert_int_equal(askpass_decide(&o, 7, AP_UNSUPPORTED), AP_STOP_UNSUPPORTED);
	assert_int_equal(askpass_decide(&o, 8, AP_PASSWORD), AP_NO);

	/* many connections: the table forgets the oldest, never overflows */
	struct ap_state m = { 0 };
	for (int i = 0; i < AP_MAX_CONNS + 10; i++)
		assert_int_equal(askpass_decide(&m, 1000 + i, AP_PASSWORD), AP_ANSWER);
	assert_int_equal(m.nconns, AP_MAX_CONNS);
	assert_int_equal(askpass_decide(&m, 1000 + AP_MAX_CONNS + 9, AP_PASSWORD), AP_STOP_WRONG);
}

static void test_method(void **state)
{
	(void)state;
	assert_string_equal(askpass_method("sdlab@203.0.113.2: Permission denied (password)."),
			    "password");
	assert_string_equal(askpass_method("Permission denied (publickey,password,keyboard-interactive)."),
			    "password");
	assert_string_equal(askpass_method("Permission denied (publickey,keyboard-interactive)."),
			    "keyboard-interactive");
	assert_null(askpass_method("root@h: Permission denied (publickey)."));
	assert_null(askpass_method("Connection refused"));
	assert_null(askpass_method(NULL));
	/* the methods list, not the rest of the line */
	assert_null(askpass_method("password@h: Permission denied (publickey)."));
}

/* Runs the askpass program for prompt in a grandchild whose parent is named
 * name (as ssh would run it); its stdout goes to out. Returns the "ssh"'s exit. */
static int ask_as(const char *name, int out, const char *prompt, const char *prompt2)
{
	pid_t c = fork();
	if (c == 0) {
		prctl(PR_SET_NAME, name);
		prctl(PR_SET_DUMPABLE, 1);	/* as after exec: /proc readable by us */
		int rc = 0;
		for (int k = 0; k < 2; k++) {
			const char *p = k ? prompt2 : prompt;
			if (!p)
				break;
			pid_t g = fork();
			if (g == 0) {
				prctl(PR_SET_DUMPABLE, 1);
				dup2(out, 1);
				_exit(askpass_client(p));
			}
			int st = 0;
			waitpid(g, &st, 0);
			rc = rc * 2 + (WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1);
		}
		_exit(rc);
	}
	int st = 0;
	waitpid(c, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static size_t drain(int fd, char *buf, size_t n)
{
	size_t got = 0;
	ssize_t r;
	while (got < n - 1 && (r = read(fd, buf + got, n - 1 - got)) > 0)
		got += (size_t)r;
	buf[got] = 0;
	return got;
}

/* The channel, in a subprocess (the server's stop ends the process it runs in):
 * mode 0 two ssh children each get it once; 1 a second prompt from one ssh.
 * 2 an OTP prompt. Returns the subprocess's exit status; out gets what askpass printed. */
static int channel(int mode, char *out, size_t n)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t s = fork();
	if (s == 0) {
		close(p[0]);
		char *err = NULL;
		if (askpass_serve("s3cret pw", 9, "sdlab", "203.0.113.2", "password", &err) < 0)
			_exit(40);
		const char *pw = "sdlab@203.0.113.2's password: ";
		int rc = 0;
		if (mode == 0) {
			rc |= ask_as("ssh", p[1], pw, NULL);
			rc |= ask_as("ssh", p[1], pw, NULL) << 1;
			/* not via an ssh of ours: no answer */
			rc |= (ask_as("notssh", p[1], pw, NULL) == 1 ? 0 : 1) << 2;
			pid_t d = fork();	/* our direct child, not an ssh's askpass */
			if (d == 0) {
				dup2(p[1], 1);
				_exit(askpass_client(pw));
			}
			int st = 0;
			waitpid(d, &st, 0);
			rc |= (WIFEXITED(st) && WEXITSTATUS(st) == 1 ? 0 : 1) << 3;
			/* our ssh, but not a password question */
			rc |= (ask_as("ssh", p[1], "Are you sure you want to continue connecting "
				      "(yes/no/[fingerprint])? ", NULL) == 1 ? 0 : 1) << 4;
			rc |= (ask_as("ssh", p[1], "root@203.0.113.2's password: ", NULL) == 1 ? 0 : 1) << 5;
		} else if (mode == 1) {
			ask_as("ssh", p[1], pw, pw);
			sleep(5);	/* the server ends this process: 99 if it does not */
			rc = 99;
		} else {
			ask_as("ssh", p[1], "(sdlab@203.0.113.2) Verification code: ", NULL);
			sleep(5);
			rc = 99;
		}
		close(p[1]);
		askpass_wipe();
		_exit(rc);
	}
	close(p[1]);
	drain(p[0], out, n);
	close(p[0]);
	int st = 0;
	waitpid(s, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void test_channel(void **state)
{
	(void)state;
	char out[256];
	assert_int_equal(channel(0, out, sizeof(out)), 0);
	assert_string_equal(out, "s3cret pw\ns3cret pw\n");	/* twice: two ssh, once each */
}

static void test_channel_wrong_stops(void **state)
{
	(void)state;
	char out[256];
	/* the server stopped everything (exit 3, its ssh killed) after one answer */
	assert_int_equal(channel(1, out, sizeof(out)), STATUS_UNKNOWN);
	assert_string_equal(out, "s3cret pw\n");
}

static void test_channel_otp_stops(void **state)
{
	(void)state;
	char out[256];
	assert_int_equal(channel(2, out, sizeof(out)), STATUS_UNKNOWN);
	assert_string_equal(out, "");
}

static void test_client_without_server(void **state)
{
	(void)state;
	unsetenv(ASKPASS_ENV);
	assert_int_equal(askpass_client("x@y's password: "), 1);
	setenv(ASKPASS_ENV, "sshdoctor-askpass-nobody-listens", 1);
	assert_int_equal(askpass_client("x@y's password: "), 1);
	unsetenv(ASKPASS_ENV);
	/* without a password served: BatchMode as always */
	struct strvec v = { 0 };
	askpass_ssh_opts(&v);
	assert_int_equal(v.n, 2);
	assert_string_equal(v.v[1], "BatchMode=yes");
	strvec_clear(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_method),
		cmocka_unit_test(test_client_without_server),
		cmocka_unit_test(test_channel),
		cmocka_unit_test(test_channel_wrong_stops),
		cmocka_unit_test(test_channel_otp_stops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
