/* Unit tests: our sshd_config / ssh_config reader, with `sshd -T -f` and
 * `ssh -G -F` run on the very same files as the oracle. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc.h"
#include "sshcfg.h"
#include "sshconf_parse.h"

static char dir[64];
static char hostkey[128];
static const char *sshd_bin = "/usr/sbin/sshd";	/* the oracle */
#define SSHD10 "build/openssh-10/root/usr/sbin/sshd"	/* scripts/openssh10.sh */

static void write_file(const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	mkdir(path, 0755);
	*slash = '/';
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *path_of(const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/sshdoctor-test-conf-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(hostkey, sizeof(hostkey), "%s/hostkey", dir);
	char *argv[] = { "ssh-keygen", "-q", "-N", "", "-t", "ed25519", "-f", hostkey, NULL };
	struct strbuf o = { 0 }, e = { 0 };
	int st;
	assert_int_equal(proc_capture(argv, NULL, &o, &e, 20000, &st), 0);
	assert_int_equal(st, 0);
	sb_free(&o);
	sb_free(&e);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char *cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	return 0;
}

/* The value sshd -T would print for key, from our parser's result. */
static char *ours_server(const struct sshconf *c, const char *key)
{
	const struct sshconf_line *l = sshconf_effective(c, key);
	static const struct { const char *k, *d; } defs[] = {
		{ "clientaliveinterval", "0" }, { "clientalivecountmax", "3" },
		{ "tcpkeepalive", "yes" }, { "usedns", "no" }, { "logingracetime", "120" },
		{ "maxauthtries", "6" }, { "maxstartups", "10:30:100" },
	};
	if (!l) {
		for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++)
			if (!strcmp(defs[i].k, key))
				return xstrdup(defs[i].d);
		return NULL;
	}
	char *v = xstrndup(l->val, strcspn(l->val, " "));
	str_lower(v);
	if (!strcmp(key, "clientaliveinterval") || !strcmp(key, "logingracetime")) {
		char *n = xasprintf("%ld", sshconf_time(v));
		free(v);
		return n;
	}
	if (!strcmp(key, "maxstartups") && !strchr(v, ':')) {
		char *n = xasprintf("%s:30:%s", v, v);
		free(v);
		return n;
	}
	return v;
}

static const char *const server_keys[] = { "clientaliveinterval", "clientalivecountmax",
					    "tcpkeepalive", "usedns", "logingracetime",
					    "maxauthtries", "maxstartups" };

/* Runs sshd -T on name (with the throwaway host key prepended by the caller's
 * text) and compares every audited key with our parser on the same file. */
static void oracle_server(const char *name, const char *conn)
{
	char *path = path_of(name);
	struct strvec argv = { 0 };
	strvec_push(&argv, sshd_bin);
	strvec_push(&argv, "-T");
	strvec_push(&argv, "-f");
	strvec_push(&argv, path);
	struct sshconf_ctx x = { 0 };
	char user[64] = "", host[64] = "", addr[64] = "";
	if (conn) {
		strvec_push(&argv, "-C");
		strvec_push(&argv, conn);
		sscanf(conn, "user=%63[^,],host=%63[^,],addr=%63s", user, host, addr);
		x.match = 1;
		x.user = user;
		x.host = host;
		x.addr = addr;
	}
	struct strbuf o = { 0 }, e = { 0 };
	int st;
	assert_int_equal(proc_capture(argv.v, NULL, &o, &e, 20000, &st), 0);
	if (st != 0)
		fail_msg("sshd -T -f %s: %s", name, e.buf);
	struct kvlist kv = { 0 };
	kv_parse(&kv, o.buf);
	struct sshconf c;
	char *err = NULL;
	if (sshconf_parse_file(&c, SSHCONF_SERVER, path, &x, &err) < 0)
		fail_msg("our parser: %s", err);
	for (size_t i = 0; i < sizeof(server_keys) / sizeof(server_keys[0]); i++) {
		char *ours = ours_server(&c, server_keys[i]);
		const char *theirs = kv_get(&kv, server_keys[i]);
		if (!theirs || strcmp(ours, theirs))
			fail_msg("%s %s: sshd -T says %s, we say %s", name, server_keys[i],
				 theirs ? theirs : "(none)", ours);
		free(ours);
	}
	/* The flattened form (what --fix validates) means the same to sshd. */
	char *flat = sshconf_flatten(&c, NULL);
	char *fname = xasprintf("%s.flat", name);
	write_file(fname, flat);
	char *fpath = path_of(fname);
	char *orig = argv.v[3];
	argv.v[3] = fpath;
	struct strbuf o2 = { 0 };
	sb_reset(&e);
	assert_int_equal(proc_capture(argv.v, NULL, &o2, &e, 20000, &st), 0);
	assert_int_equal(st, 0);
	assert_string_equal(o.buf, o2.buf);
	argv.v[3] = orig;
	free(fpath);
	free(fname);
	free(flat);
	sb_free(&o2);
	sshconf_free(&c);
	kv_free(&kv);
	sb_free(&o);
	sb_free(&e);
	strvec_clear(&argv);
	free(path);
}

static void server_file(const char *name, const char *body)
{
	char *text = xasprintf("HostKey %s\n%s", hostkey, body);
	write_file(name, text);
	free(text);
}

static void test_server_plain(void **state)
{
	(void)state;
	server_file("s1", "ClientAliveInterval 1m\nClientAliveCountMax 5\nUseDNS yes\n"
		    "LoginGraceTime 1m30\nMaxStartups 5\nTCPKeepAlive no\nMaxAuthTries 3\n");
	oracle_server("s1", NULL);
	server_file("s2", "ClientAliveInterval 10\nClientAliveInterval 20\n"
		    "clientaliveCOUNTMAX 0\nclientalivecountmax 4\nMaxStartups 3:50:9\n");
	oracle_server("s2", NULL);
	server_file("s3", "ClientAliveInterval=\"45\"\nUseDNS = no\n"
		    "  LoginGraceTime \"2m\" # a comment\n\n# ClientAliveCountMax 1\n"
		    "\tMaxAuthTries\t4\n");
	oracle_server("s3", NULL);
}

static void test_server_include(void **state)
{
	(void)state;
	write_file("inc/b.conf", "ClientAliveInterval 20\n");
	write_file("inc/a.conf", "ClientAliveCountMax 7\nClientAliveInterval 30\n");
	char *body = xasprintf("Include %s/inc/*.conf\nClientAliveInterval 99\nUseDNS yes\n", dir);
	server_file("s4", body);
	free(body);
	oracle_server("s4", NULL);
	/* missing Include files are ignored, as sshd does */
	body = xasprintf("Include %s/nothing/*.conf %s/none.conf\nMaxAuthTries 2\n", dir, dir);
	server_file("s5", body);
	free(body);
	oracle_server("s5", NULL);
}

static void test_server_match(void **state)
{
	(void)state;
	server_file("m1", "ClientAliveInterval 10\nMatch User bob\n ClientAliveInterval 77\n"
		    "Match Address 10.0.0.0/8,!10.9.0.0/16\n ClientAliveCountMax 9\n"
		    "Match all\n MaxAuthTries 2\n");
	oracle_server("m1", NULL);
	oracle_server("m1", "user=bob,host=h.example,addr=10.1.2.3");
	oracle_server("m1", "user=alice,host=h.example,addr=10.9.2.3");
	oracle_server("m1", "user=alice,host=h.example,addr=192.0.2.1");
	/* an Include inside a Match: the block is restored after the included file */
	write_file("m.conf", "MaxAuthTries 4\nMatch User carol\n ClientAliveCountMax 8\n");
	char *body = xasprintf("Match User bob,carol\nInclude %s/m.conf\nClientAliveInterval 5\n", dir);
	server_file("m2", body);
	free(body);
	oracle_server("m2", "user=bob,host=x,addr=192.0.2.9");
	oracle_server("m2", "user=carol,host=x,addr=192.0.2.9");
	oracle_server("m2", "user=dave,host=x,addr=192.0.2.9");
	server_file("m3", "Match Host *.example User b?b\n ClientAliveInterval 3\n");
	oracle_server("m3", "user=bob,host=a.example,addr=192.0.2.9");
	oracle_server("m3", "user=bob,host=a.example.org,addr=192.0.2.9");
}

/* Match Group (the user's groups from this machine's database, negation wins),
 * Address and Host against sshd -T -C; and the block header named for origins.
 * Run against 9.2 and, when scripts/openssh10.sh has fetched it, 10.0. */
static void match_groups_once(void)
{
	server_file("g1", "ClientAliveInterval 10\nMatch Group root\n ClientAliveInterval 55\n"
		    "Match Group !root,*\n ClientAliveCountMax 6\n"
		    "Match Address 192.0.2.0/24 User root\n ClientAliveCountMax 4\n"
		    "Match Host 198.51.100.7\n ClientAliveInterval 21\n");
	oracle_server("g1", "user=root,host=192.0.2.2,addr=192.0.2.2");
	oracle_server("g1", "user=nobody,host=198.51.100.7,addr=198.51.100.7");
	oracle_server("g1", "user=no-such-user-x,host=203.0.113.5,addr=203.0.113.5");
	oracle_server("g1", "user=nobody,host=192.0.2.2,addr=192.0.2.2");
	server_file("g2", "Match User bob,!alice Address 198.51.100.*\n ClientAliveCountMax 7\n"
		    "Match All\n ClientAliveInterval 99\n");
	oracle_server("g2", "user=bob,host=198.51.100.3,addr=198.51.100.3");
	oracle_server("g2", "user=alice,host=198.51.100.3,addr=198.51.100.3");
	oracle_server("g2", NULL);
}

static void test_server_match_groups(void **state)
{
	(void)state;
	sshd_bin = "/usr/sbin/sshd";
	match_groups_once();
	if (access(SSHD10, X_OK) == 0) {
		sshd_bin = SSHD10;
		match_groups_once();
		sshd_bin = "/usr/sbin/sshd";
	} else {
		print_message("# %s not fetched (scripts/openssh10.sh): oracle 9.2 only\n", SSHD10);
	}
	/* the Match line a value sits under, with its file:line */
	struct sshconf c;
	char *err = NULL;
	struct sshconf_ctx x = { .match = 1, .user = "root", .host = "192.0.2.2",
				 .addr = "192.0.2.2" };
	char *path = path_of("g1");
	assert_int_equal(sshconf_parse_file(&c, SSHCONF_SERVER, path, &x, &err), 0);
	const struct sshconf_line *l = sshconf_effective(&c, "clientaliveinterval");
	const struct sshconf_line *h = sshconf_block_header(&c, l);
	assert_non_null(h);
	assert_int_equal(h->line, 3);	/* HostKey line first, then the global line */
	assert_non_null(strstr(h->raw, "Match Group root"));
	assert_null(sshconf_block_header(&c, NULL));
	sshconf_free(&c);
	free(path);
}

/* --- client ------------------------------------------------------------------ */

static void oracle_client(const char *name, const char *host)
{
	char *path = path_of(name);
	char *argv[] = { "ssh", "-G", "-F", path, (char *)host, NULL };
	struct strbuf o = { 0 }, e = { 0 };
	int st;
	assert_int_equal(proc_capture(argv, NULL, &o, &e, 20000, &st), 0);
	if (st != 0)
		fail_msg("ssh -G -F %s: %s", name, e.buf);
	struct kvlist kv = { 0 };
	kv_parse(&kv, o.buf);
	struct sshconf c;
	char *err = NULL;
	struct sshconf_ctx x = { .home = dir, .host = host, .localuser = "root" };
	if (sshconf_parse_file(&c, SSHCONF_CLIENT, path, &x, &err) < 0)
		fail_msg("our parser: %s", err);
	static const struct { const char *k, *d; } keys[] = {
		{ "serveraliveinterval", "0" }, { "serveralivecountmax", "3" },
		{ "tcpkeepalive", "yes" }, { "identitiesonly", "no" },
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const struct sshconf_line *l = sshconf_effective(&c, keys[i].k);
		char *ours = xstrdup(l ? l->val : keys[i].d);
		str_lower(ours);
		const char *theirs = kv_get(&kv, keys[i].k);
		if (!theirs || strcmp(ours, theirs))
			fail_msg("%s host %s %s: ssh -G says %s, we say %s", name, host, keys[i].k,
				 theirs ? theirs : "(none)", ours);
		free(ours);
	}
	sshconf_free(&c);
	kv_free(&kv);
	sb_free(&o);
	sb_free(&e);
	free(path);
}

static void test_client(void **state)
{
	(void)state;
	write_file("c1", "Host foo\n  ServerAliveInterval 5\nHost *\n  ServerAliveInterval 30\n"
		   "  ServerAliveCountMax 2\n  TCPKeepAlive no\n");
	oracle_client("c1", "foo");
	oracle_client("c1", "bar");
	write_file("c2", "Host * !foo\n ServerAliveInterval 7\nHost f?o\n IdentitiesOnly yes\n"
		   "ServerAliveInterval=11\n");
	oracle_client("c2", "foo");
	oracle_client("c2", "fxo");
	write_file("c3", "Host alias\n HostName real.example\nMatch host real.*\n"
		   " ServerAliveInterval 9\nMatch originalhost alias\n ServerAliveCountMax 6\n"
		   "Match all\n ServerAliveInterval 1\n");
	oracle_client("c3", "alias");
	oracle_client("c3", "other");
	write_file("inc2/x.conf", "ServerAliveCountMax 4\nHost never\n");
	char *body = xasprintf("Host a*\n Include %s/inc2/*.conf\n ServerAliveInterval 44\n", dir);
	write_file("c4", body);
	free(body);
	oracle_client("c4", "abc");
	oracle_client("c4", "zzz");
	/* Match final/canonical blocks apply in ssh's second pass: after everything */
	write_file("c6", "Match final\n ServerAliveInterval 8\nHost *\n ServerAliveInterval 5\n"
		   "Match canonical\n ServerAliveCountMax 7\n");
	oracle_client("c6", "foo");
	/* first value wins: a Host * block appended at the end never takes effect */
	write_file("c5", "ServerAliveInterval 0\nHost *\n ServerAliveInterval 60\n");
	oracle_client("c5", "anything");
}

/* --- errors, helpers ------------------------------------------------------------ */

static void expect_error(enum sshconf_kind k, const char *text, const char *want)
{
	struct sshconf c;
	char *err = NULL;
	assert_int_equal(sshconf_parse_text(&c, k, "f.conf", text, NULL, &err), -1);
	assert_non_null(err);
	if (strncmp(err, want, strlen(want)))
		fail_msg("error '%s', want prefix '%s'", err, want);
	free(err);
	sshconf_free(&c);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error(SSHCONF_SERVER, "UseDNS no\nBanner \"/etc/x\n", "f.conf:2: unterminated quote");
	expect_error(SSHCONF_SERVER, "\n\nClientAliveInterval\n", "f.conf:3: ClientAliveInterval: missing");
	expect_error(SSHCONF_SERVER, "Match Color red\n", "f.conf:1: Match: unsupported");
	expect_error(SSHCONF_SERVER, "Match User\n", "f.conf:1: Match: missing");
	expect_error(SSHCONF_CLIENT, "Host\n", "f.conf:1: Host: missing");
	expect_error(SSHCONF_SERVER, "=x\n", "f.conf:1: missing keyword");
	/* the oracle rejects the same unterminated quote */
	server_file("bad", "Banner \"/etc/issue\n");
	char *path = path_of("bad");
	char *argv[] = { "/usr/sbin/sshd", "-T", "-f", path, NULL };
	struct strbuf o = { 0 }, e = { 0 };
	int st;
	assert_int_equal(proc_capture(argv, NULL, &o, &e, 20000, &st), 0);
	assert_int_not_equal(st, 0);
	sb_free(&o);
	sb_free(&e);
	free(path);
	/* Include loops end at the depth limit with an error, not a crash */
	char *self = xasprintf("Include %s/loop.conf\n", dir);
	write_file("loop.conf", self);
	struct sshconf c;
	char *err = NULL;
	char *lp = path_of("loop.conf");
	assert_int_equal(sshconf_parse_file(&c, SSHCONF_SERVER, lp, NULL, &err), -1);
	assert_non_null(strstr(err, "nested too deeply"));
	free(err);
	sshconf_free(&c);
	free(lp);
	free(self);
}

static void test_helpers(void **state)
{
	(void)state;
	assert_int_equal(sshconf_time("90"), 90);
	assert_int_equal(sshconf_time("1m30"), 90);
	assert_int_equal(sshconf_time("2h"), 7200);
	assert_int_equal(sshconf_time("1w"), 604800);
	assert_int_equal(sshconf_time("x"), -1);
	assert_int_equal(sshconf_time(""), -1);
	assert_int_equal(sshconf_time("99999999999999999999"), -1);
	assert_true(sshconf_match_pattern("host.example", "*.example", 1));
	assert_true(sshconf_match_pattern("HOST", "h?st", 1));
	assert_false(sshconf_match_pattern("HOST", "h?st", 0));
	assert_true(sshconf_match_list("bob", "alice,b*", 0));
	assert_false(sshconf_match_list("bob", "b*,!bob", 0));
	char *a[8];
	const char *why;
	int n = sshconf_split("  Key=\"a b\" 'c' d\\\"e # rest", a, 8, &why);
	assert_int_equal(n, 4);
	assert_string_equal(a[0], "Key");
	assert_string_equal(a[1], "a b");
	assert_string_equal(a[2], "c");
	assert_string_equal(a[3], "d\"e");
	for (int i = 0; i < n; i++)
		free(a[i]);
	assert_int_equal(sshconf_split("# only", a, 8, &why), 0);
	assert_int_equal(sshconf_split("k a b c", a, 2, &why), -1);
}

/* Origins: the line that wins, with its file and line number. */
static void test_origin(void **state)
{
	(void)state;
	struct sshconf c;
	char *err = NULL;
	assert_int_equal(sshconf_parse_text(&c, SSHCONF_CLIENT, "cfg",
					    "Host foo\n ServerAliveInterval 5\nHost *\n"
					    " ServerAliveInterval 30\n",
					    &(struct sshconf_ctx){ .host = "bar" }, &err), 0);
	const struct sshconf_line *l = sshconf_effective(&c, "serveraliveinterval");
	assert_non_null(l);
	assert_string_equal(l->val, "30");
	assert_string_equal(l->file, "cfg");
	assert_int_equal(l->line, 4);
	sshconf_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_origin),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_server_plain),
		cmocka_unit_test(test_server_include),
		cmocka_unit_test(test_server_match),
		cmocka_unit_test(test_server_match_groups),
		cmocka_unit_test(test_client),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
