/* Unit tests: target specs parsed the way ssh takes them, and ssh argv built from them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "target.h"

static void expect(const char *spec, const char *user, const char *host, int port)
{
	struct target t;
	char *err = NULL;
	int rc = target_parse(&t, spec, NULL, &err);
	if (rc)
		fail_msg("%s: %s", spec, err);
	if (user)
		assert_string_equal(t.user, user);
	else
		assert_null(t.user);
	assert_string_equal(t.host, host);
	assert_int_equal(t.port, port);
	target_free(&t);
}

static void reject(const char *spec)
{
	struct target t;
	char *err = NULL;
	assert_int_equal(target_parse(&t, spec, NULL, &err), -1);
	assert_non_null(err);
	assert_non_null(strstr(err, "target"));
	free(err);
}

static void test_forms(void **state)
{
	(void)state;
	expect("host", NULL, "host", 0);
	expect("alice@host", "alice", "host", 0);
	expect("alice@host:2222", "alice", "host", 2222);
	expect("ssh://host", NULL, "host", 0);
	expect("ssh://bob@host:22/", "bob", "host", 22);
	expect("[2001:db8::1]:2200", NULL, "2001:db8::1", 2200);
	expect("carol@[2001:db8::1]", "carol", "2001:db8::1", 0);
	expect("2001:db8::1", NULL, "2001:db8::1", 0);
	expect("ssh://[2001:db8::2]:23", NULL, "2001:db8::2", 23);
	expect("u@x@host", "u@x", "host", 0);	/* ssh splits at the last @ */
}

static void test_bad(void **state)
{
	(void)state;
	reject("");
	reject("host:0");
	reject("host:99999");
	reject("host:abc");
	reject("-oProxyCommand=evil");	/* never an option smuggled into ssh */
	reject("@host");
	reject("[::1");
	reject("[::1]x");
	reject("user@");
	reject("a b");
}

static void test_ssh_args(void **state)
{
	(void)state;
	struct sshopts so = { 0 };
	struct target t;
	char *err;
	assert_int_equal(sshopts_add(&so, 'F', "/tmp/cfg"), 0);
	assert_int_equal(sshopts_add(&so, 'o', "ServerAliveInterval=5"), 0);
	assert_int_equal(sshopts_add(&so, 'l', "dave"), 0);
	assert_int_equal(sshopts_add(&so, 'p', "2022"), 0);
	assert_int_not_equal(sshopts_add(&so, 'p', "x"), 0);
	assert_int_equal(target_parse(&t, "lab", &so, &err), 0);
	struct strvec argv = { 0 };
	strvec_push(&argv, "ssh");
	target_ssh_args(&t, &so, &argv);
	const char *want[] = { "ssh", "-F", "/tmp/cfg", "-o", "ServerAliveInterval=5",
			       "-p", "2022", "-l", "dave", "lab" };
	assert_int_equal(argv.n, 10);
	for (size_t i = 0; i < 10; i++)
		assert_string_equal(argv.v[i], want[i]);
	strvec_clear(&argv);
	target_free(&t);
	sshopts_free(&so);
}

static void test_session_opts(void **state)
{
	(void)state;
	static const char *const extra[] = { "ServerAliveInterval=0" };
	struct strvec argv = { 0 };
	target_ssh_session_opts(&argv, extra, 1);
	assert_int_equal(argv.n % 2, 0);
	int batch = 0, nomux = 0;
	for (size_t i = 0; i + 1 < argv.n; i += 2) {
		assert_string_equal(argv.v[i], "-o");
		batch |= !strcmp(argv.v[i + 1], "BatchMode=yes");
		nomux |= !strcmp(argv.v[i + 1], "ControlPath=none");
	}
	assert_true(batch);	/* never a password prompt that hangs */
	assert_true(nomux);	/* never someone else's multiplexed socket */
	assert_string_equal(argv.v[argv.n - 1], "ServerAliveInterval=0");
	strvec_clear(&argv);
}

static void test_resolve_with_ssh_G(void **state)
{
	(void)state;
	/* ssh -G is the authority: a Host alias in a private config must resolve. */
	char path[] = "/tmp/sshdoctor-test-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *cfg = "Host myalias\n  HostName 192.0.2.77\n  User eve\n  Port 2200\n";
	assert_int_equal(write(fd, cfg, strlen(cfg)), (ssize_t)strlen(cfg));
	close(fd);
	struct sshopts so = { 0 };
	sshopts_add(&so, 'F', path);
	struct target t;
	char *err = NULL;
	assert_int_equal(target_parse(&t, "myalias", &so, &err), 0);
	if (target_resolve(&t, &so, &err))
		fail_msg("%s", err);
	assert_string_equal(t.hostname, "192.0.2.77");
	assert_string_equal(t.euser, "eve");
	assert_int_equal(t.eport, 2200);
	target_free(&t);
	sshopts_free(&so);
	unlink(path);
}

/* The user's own keepalive, read now with ssh -G: BatchMode off means 0 even
 * though the tool's sessions force BatchMode yes (Debian would make that 300). */
static void user_ka(const char *cfg, const char *want_i, const char *want_c)
{
	char path[] = "/tmp/sshdoctor-test-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, cfg, strlen(cfg)), (ssize_t)strlen(cfg));
	close(fd);
	struct sshopts so = { 0 };
	sshopts_add(&so, 'F', path);
	struct target t;
	char *err = NULL;
	assert_int_equal(target_parse(&t, "h", &so, &err), 0);
	struct strvec argv = { 0 };
	if (target_ssh_user_keepalive_opts(&t, &so, &argv, &err))
		fail_msg("%s", err);
	assert_int_equal(argv.n, 4);
	assert_string_equal(argv.v[0], "-o");
	assert_string_equal(argv.v[1], want_i);
	assert_string_equal(argv.v[3], want_c);
	/* and with the tool's BatchMode=yes in front, ssh still uses these */
	struct strvec g = { 0 };
	strvec_push(&g, "ssh");
	strvec_push(&g, "-G");
	strvec_pushv(&g, &argv);
	target_ssh_session_opts(&g, NULL, 0);
	target_ssh_args(&t, &so, &g);
	struct strbuf out = { 0 }, e = { 0 };
	int st;
	assert_int_equal(proc_capture(g.v, NULL, &out, &e, 10000, &st), 0);
	assert_int_equal(st, 0);
	struct kvlist kv = { 0 };
	kv_parse(&kv, out.buf);
	char buf[64];
	snprintf(buf, sizeof(buf), "ServerAliveInterval=%s", kv_get(&kv, "serveraliveinterval"));
	assert_string_equal(buf, want_i);
	assert_string_equal(kv_get(&kv, "batchmode"), "yes");
	kv_free(&kv);
	sb_free(&out);
	sb_free(&e);
	strvec_clear(&g);
	strvec_clear(&argv);
	target_free(&t);
	sshopts_free(&so);
	unlink(path);
}

static void test_user_keepalive_opts(void **state)
{
	(void)state;
	user_ka("Host h\n  BatchMode no\n", "ServerAliveInterval=0", "ServerAliveCountMax=3");
	user_ka("Host h\n  ServerAliveInterval 7\n  ServerAliveCountMax 0\n",
		"ServerAliveInterval=7", "ServerAliveCountMax=0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_ssh_args),
		cmocka_unit_test(test_session_opts),
		cmocka_unit_test(test_resolve_with_ssh_G),
		cmocka_unit_test(test_user_keepalive_opts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
