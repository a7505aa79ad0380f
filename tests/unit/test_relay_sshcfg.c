/* Unit tests: the relay learns AddressFamily and ConnectTimeout from the ssh
 * that runs it: the ssh -G reader, the cmdline splitter, and the whole path
 * against a real ssh (its ProxyCommand is `sleep`: nothing leaves the host). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "relay_sshcfg.h"

static void test_parse_g(void **state)
{
	(void)state;
	struct relay_sshcfg c = { -1, -1 };
	const char *g = "user root\nhostname 192.0.2.9\naddressfamily inet6\nport 22\n"
			"connecttimeout 7\nproxycommand sleep 5\n";
	assert_int_equal(relay_sshcfg_parse_g(g, strlen(g), &c), 2);
	assert_int_equal(c.family, 6);
	assert_int_equal(c.connect_timeout_s, 7);

	struct relay_sshcfg d = { -1, -1 };
	const char *n = "addressfamily any\r\nconnecttimeout none";	/* no final newline */
	assert_int_equal(relay_sshcfg_parse_g(n, strlen(n), &d), 2);
	assert_int_equal(d.family, 0);
	assert_int_equal(d.connect_timeout_s, 0);

	/* hostile or odd output: nothing invented, the first value wins */
	struct relay_sshcfg e = { -1, -1 };
	const char *h = "addressfamily bogus\nconnecttimeout -3\nconnecttimeout 99999999999\n"
			"addressfamily\naddressfamilyinet\nconnecttimeout 5x\naddressfamily inet\n"
			"addressfamily inet6\n";
	assert_int_equal(relay_sshcfg_parse_g(h, strlen(h), &e), 1);
	assert_int_equal(e.family, 4);
	assert_int_equal(e.connect_timeout_s, -1);
	const char nul[] = "connecttimeout 4\0 2\n";
	struct relay_sshcfg f = { -1, -1 };
	assert_int_equal(relay_sshcfg_parse_g(nul, sizeof(nul) - 1, &f), 0);
	assert_int_equal(relay_sshcfg_parse_g("", 0, &f), 0);
}

static void test_argv(void **state)
{
	(void)state;
	char **av;
	const char cl[] = "ssh\0-6\0-o\0ConnectTimeout=3\0lab\0";
	assert_int_equal(relay_sshcfg_argv(cl, sizeof(cl) - 1, &av), 5);
	assert_string_equal(av[0], "ssh");
	assert_string_equal(av[3], "ConnectTimeout=3");
	assert_string_equal(av[4], "lab");
	assert_null(av[5]);
	relay_sshcfg_argv_free(av);
	const char noend[] = "ssh\0\0host";	/* an empty argument stays one */
	assert_int_equal(relay_sshcfg_argv(noend, sizeof(noend) - 1, &av), 3);
	assert_string_equal(av[1], "");
	assert_string_equal(av[2], "host");
	relay_sshcfg_argv_free(av);
	assert_int_equal(relay_sshcfg_argv("", 0, &av), -1);
	assert_null(av);
	assert_int_equal(relay_sshcfg_argv("\0", 1, &av), -1);
	static char many[2 * 5000];
	memset(many, 0, sizeof(many));
	for (size_t i = 0; i < sizeof(many); i += 2)
		many[i] = 'x';
	assert_int_equal(relay_sshcfg_argv(many, sizeof(many), &av), -1);
}

/* Starts argv, waits until it has exec'd (its /proc exe is no longer ours). */
static pid_t start(char *const argv[])
{
	pid_t p = fork();
	assert_true(p >= 0);
	if (p == 0) {
		int dn = open("/dev/null", O_RDWR);
		dup2(dn, 0);
		dup2(dn, 2);	/* ssh's "Pseudo-terminal will not be allocated" */
		execvp(argv[0], argv);
		_exit(127);
	}
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	char exe[64], t[256];
	snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)p);
	for (int i = 0; i < 250; i++) {	/* at most 5 s */
		ssize_t n = readlink(exe, t, sizeof(t) - 1);
		if (n > 0) {
			t[n] = 0;
			const char *b = strrchr(t, '/');
			if (b && !strcmp(b + 1, argv[0]))
				break;
		}
		nanosleep(&ts, NULL);
	}
	return p;
}

static void stop(pid_t p)
{
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
}

static void test_read_real_ssh(void **state)
{
	(void)state;
	char *ssh6[] = { "ssh", "-F", "/dev/null", "-6", "-o", "ConnectTimeout=7", "-o",
			 "ProxyCommand=sleep 20", "-o", "BatchMode=yes", "192.0.2.9", "true", NULL };
	pid_t p = start(ssh6);
	struct relay_sshcfg c;
	char err[256] = "";
	int rc = relay_sshcfg_read(p, 3000, &c, err, sizeof(err));
	stop(p);
	if (rc != 0)
		print_error("relay_sshcfg_read: %s\n", err);
	assert_int_equal(rc, 0);
	assert_int_equal(c.family, 6);
	assert_int_equal(c.connect_timeout_s, 7);

	char *plain[] = { "ssh", "-F", "/dev/null", "-o", "ProxyCommand=sleep 20", "-o",
			  "BatchMode=yes", "192.0.2.9", NULL };
	p = start(plain);
	rc = relay_sshcfg_read(p, 3000, &c, err, sizeof(err));
	stop(p);
	assert_int_equal(rc, 0);
	assert_int_equal(c.family, 0);
	assert_int_equal(c.connect_timeout_s, 0);
}

static void test_read_not_ssh(void **state)
{
	(void)state;
	char *sl[] = { "sleep", "20", NULL };
	pid_t p = start(sl);
	struct relay_sshcfg c;
	char err[256] = "";
	assert_int_equal(relay_sshcfg_read(p, 3000, &c, err, sizeof(err)), -1);
	stop(p);
	assert_non_null(strstr(err, "is not ssh"));
	assert_int_equal(c.family, -1);
	assert_int_equal(c.connect_timeout_s, -1);
	assert_int_equal(relay_sshcfg_read(1, 3000, &c, err, sizeof(err)), -1);
	assert_int_equal(relay_sshcfg_read(999999999, 3000, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no process"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_g),
		cmocka_unit_test(test_argv),
		cmocka_unit_test(test_read_real_ssh),
		cmocka_unit_test(test_read_not_ssh),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
