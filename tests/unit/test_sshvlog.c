/* Unit tests: ssh -vvv transcripts (OpenSSH 9.2 wording) -> phase times, and the
 * login analyser's verdicts on them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "connect.h"
#include "sshvlog.h"

struct tl {
	int64_t t;
	const char *line;
};

static void play(struct sshvlog *v, const struct tl *s, size_t n)
{
	sshvlog_init(v, 1000);
	for (size_t i = 0; i < n; i++) {
		char buf[1200];
		snprintf(buf, sizeof(buf), "%s\n", s[i].line);
		sshvlog_feed(v, 1000 + s[i].t, buf, strlen(buf));
	}
	sshvlog_finish(v, 1000 + (n ? s[n - 1].t : 0));
}

#define HEAD \
	{ 0, "debug1: Connecting to 203.0.113.2 [203.0.113.2] port 22." }, \
	{ 3, "debug1: Connection established." }, \
	{ 10, "debug1: Remote protocol version 2.0, remote software version OpenSSH_9.2p1 Debian-2" }, \
	{ 12, "debug1: SSH2_MSG_KEXINIT sent" }, \
	{ 40, "debug1: SSH2_MSG_NEWKEYS received" }, \
	{ 41, "debug3: send packet: type 5" }, \
	{ 45, "debug1: SSH2_MSG_SERVICE_ACCEPT received" }, \
	{ 46, "debug3: send packet: type 50" }

static const struct tl ok_login[] = {
	HEAD,
	{ 50, "debug3: receive packet: type 51" },
	{ 51, "debug1: Next authentication method: publickey" },
	{ 52, "debug1: Offering public key: /k/id ED25519 SHA256:abc explicit" },
	{ 53, "debug3: send packet: type 50" },
	{ 57, "debug3: receive packet: type 60" },
	{ 58, "debug3: send packet: type 50" },
	{ 62, "debug3: receive packet: type 52" },
	{ 63, "Authenticated to 203.0.113.2 ([203.0.113.2]:22) using \"publickey\"." },
	{ 64, "debug1: channel 0: new session [client-session] (inactive timeout: 0)" },
	{ 70, "debug1: Entering interactive session." },
	{ 90, "debug1: client_input_channel_req: channel 0 rtype exit-status reply 0" },
};

static void test_phases(void **state)
{
	(void)state;
	struct sshvlog v;
	play(&v, ok_login, ARRAY_SIZE(ok_login));
	assert_int_equal(v.connected - v.connecting, 3);
	assert_int_equal(v.remote_version, 10);
	assert_string_equal(v.remote_software, "OpenSSH_9.2p1 Debian-2");
	assert_int_equal(v.newkeys_in - v.kexinit_sent, 28);
	assert_int_equal(v.authenticated - v.service_accept, 18);
	assert_string_equal(v.auth_method, "publickey");
	assert_int_equal(v.natt, 3);
	assert_string_equal(v.att[0].method, "none");
	assert_int_equal(v.att[0].answered - v.att[0].sent, 4);
	assert_int_equal(v.att[1].answer, 60);
	assert_string_equal(v.att[2].detail, "/k/id");
	assert_int_equal(v.keys_offered, 1);	/* query + signed request: one key */
	assert_int_equal(v.exit_status, 90);

	struct report r;
	report_init(&r, "connect");
	connect_analyse_login(&r, NULL, &v, 1, 10000);
	assert_non_null(report_find(&r, "login.ok"));
	assert_null(report_find(&r, "auth.slow"));
	assert_int_equal(report_status(&r), STATUS_OK);
	report_free(&r);
}

/* UseDNS yes with a dead resolver: the first request ("none") waits 10 s. */
static const struct tl usedns[] = {
	HEAD,
	{ 10046, "debug3: receive packet: type 51" },
	{ 10047, "debug1: Next authentication method: publickey" },
	{ 10048, "debug1: Offering public key: /k/id ED25519 SHA256:abc explicit" },
	{ 10049, "debug3: send packet: type 50" },
	{ 10052, "debug3: receive packet: type 60" },
	{ 10053, "debug3: send packet: type 50" },
	{ 10056, "debug3: receive packet: type 52" },
	{ 10057, "Authenticated to x ([203.0.113.2]:22) using \"publickey\"." },
	{ 10090, "debug1: client_input_channel_req: channel 0 rtype exit-status reply 0" },
};

static void test_usedns(void **state)
{
	(void)state;
	struct sshvlog v;
	struct report r;
	play(&v, usedns, ARRAY_SIZE(usedns));
	report_init(&r, "connect");
	connect_analyse_login(&r, NULL, &v, 1, 30000);
	struct finding *f = report_find(&r, "auth.slow");
	assert_non_null(f);
	assert_non_null(strstr(f->title, "10.0 s"));
	assert_non_null(f->fixes);
	assert_string_equal(f->fixes[0].lines.v[0], "UseDNS no");
	assert_null(report_find(&r, "login.ok"));
	report_free(&r);
}

/* OpenSSH 10's sshd-auth looked the name up for the first request and again for
 * the next, a few ms longer: still reverse DNS, not a slow auth backend. */
static const struct tl usedns10[] = {
	HEAD,
	{ 10046, "debug3: receive packet: type 51" },
	{ 10047, "debug1: Next authentication method: publickey" },
	{ 10048, "debug1: Offering public key: /k/id ED25519 SHA256:abc explicit" },
	{ 10049, "debug3: send packet: type 50" },
	{ 20065, "debug3: receive packet: type 60" },
	{ 20066, "debug3: send packet: type 50" },
	{ 20070, "debug3: receive packet: type 52" },
	{ 20071, "Authenticated to x ([203.0.113.2]:22) using \"publickey\"." },
	{ 20090, "debug1: client_input_channel_req: channel 0 rtype exit-status reply 0" },
};

static void test_usedns_twice(void **state)
{
	(void)state;
	struct sshvlog v;
	struct report r;
	play(&v, usedns10, ARRAY_SIZE(usedns10));
	report_init(&r, "connect");
	connect_analyse_login(&r, NULL, &v, 1, 30000);
	struct finding *f = report_find(&r, "auth.slow");
	assert_non_null(f);
	assert_non_null(f->fixes);
	assert_string_equal(f->fixes[0].lines.v[0], "UseDNS no");
	for (size_t i = 0; i < f->evidence.n; i++)
		assert_null(strstr(f->evidence.v[i], "answered quickly"));
	report_free(&r);
}

static const struct tl many_keys[] = {
	HEAD,
	{ 50, "debug3: receive packet: type 51" },
	{ 51, "debug1: Next authentication method: publickey" },
	{ 52, "debug1: Offering public key: /k/a RSA SHA256:a" },
	{ 53, "debug3: send packet: type 50" },
	{ 55, "debug3: receive packet: type 51" },
	{ 56, "debug1: Offering public key: /k/b RSA SHA256:b" },
	{ 57, "debug3: send packet: type 50" },
	{ 59, "debug3: receive packet: type 51" },
	{ 60, "Received disconnect from 203.0.113.2 port 22:2: Too many authentication failures" },
	{ 61, "Disconnected from 203.0.113.2 port 22" },
};

static void test_too_many_keys(void **state)
{
	(void)state;
	struct sshvlog v;
	struct report r;
	play(&v, many_keys, ARRAY_SIZE(many_keys));
	assert_int_equal(v.keys_offered, 2);
	assert_true(v.too_many_failures);
	report_init(&r, "connect");
	connect_analyse_login(&r, NULL, &v, 1, 10000);
	struct finding *f = report_find(&r, "auth.too-many-keys");
	assert_non_null(f);
	assert_int_equal(f->sev, SEV_CRITICAL);
	assert_string_equal(f->fixes[0].lines.v[0], "IdentitiesOnly yes");
	assert_null(report_find(&r, "auth.failed"));	/* one cause, said once */
	report_free(&r);
}

static const struct tl gssapi_slow_session[] = {
	HEAD,
	{ 50, "debug3: receive packet: type 51" },
	{ 51, "debug1: Next authentication method: gssapi-with-mic" },
	{ 2551, "debug1: Next authentication method: publickey" },
	{ 2552, "debug1: Offering public key: /k/id ED25519 SHA256:abc explicit" },
	{ 2553, "debug3: send packet: type 50" },
	{ 2555, "debug3: receive packet: type 60" },
	{ 2556, "debug3: send packet: type 50" },
	{ 2558, "debug3: receive packet: type 52" },
	{ 2559, "Authenticated to x ([203.0.113.2]:22) using \"publickey\"." },
	{ 6000, "debug1: client_input_channel_req: channel 0 rtype exit-status reply 0" },
};

static void test_gssapi_and_session(void **state)
{
	(void)state;
	struct sshvlog v;
	struct report r;
	play(&v, gssapi_slow_session, ARRAY_SIZE(gssapi_slow_session));
	report_init(&r, "connect");
	connect_analyse_login(&r, NULL, &v, 1, 10000);
	struct finding *f = report_find(&r, "auth.slow");
	assert_non_null(f);
	assert_non_null(strstr(f->title, "GSSAPI"));
	assert_string_equal(f->fixes[0].lines.v[0], "GSSAPIAuthentication no");
	f = report_find(&r, "login.slow");
	assert_non_null(f);
	assert_non_null(strstr(f->title, "3.4 s"));
	report_free(&r);
}

static void test_denied_and_hostile_lines(void **state)
{
	(void)state;
	struct sshvlog v;
	struct report r;
	sshvlog_init(&v, 0);
	/* an endless line without newline is cut, not stored whole */
	char *big = malloc(1 << 20);
	memset(big, 'A', 1 << 20);
	sshvlog_feed(&v, 1, big, 1 << 20);
	assert_true(v.blen <= VLOG_LINE_MAX);
	free(big);
	sshvlog_feed(&v, 2, "\n", 1);
	/* more auth requests than we keep: counted, never overflowing */
	for (int i = 0; i < 500; i++)
		sshvlog_feed(&v, 3, "debug3: send packet: type 50\ndebug3: receive packet: type 51\n", 61);
	assert_int_equal(v.natt, VLOG_ATTEMPTS_MAX);
	assert_int_equal(v.natt_total, 500);
	sshvlog_feed(&v, 4, "root@x: Permission denied (publickey).\r\n", 40);
	sshvlog_finish(&v, 5);
	report_init(&r, "connect");
	connect_analyse_login(&r, "t1", &v, 1, 10000);
	struct finding *f = report_find(&r, "auth.failed");
	assert_non_null(f);
	assert_non_null(strstr(f->title, "t1: "));
	assert_string_equal(f->evidence.v[0], "root@x: Permission denied (publickey).");
	report_free(&r);
}

static void test_kex_analyser(void **state)
{
	(void)state;
	struct kex_side c = { 0 }, s = { 0 }, q = { 0 };
	wire_split_list(&c.kex, "curve25519-sha256,ext-info-c", 28);
	wire_split_list(&s.kex, "diffie-hellman-group1-sha1,ext-info-c", 38);
	wire_split_list(&q.kex, "curve25519-sha256,diffie-hellman-group1-sha1", 44);
	strvec_push(&c.hostkey, "ssh-ed25519");
	strvec_push(&s.hostkey, "ssh-ed25519");
	strvec_push(&c.ciphers, "chacha20-poly1305@openssh.com");
	strvec_push(&s.ciphers, "chacha20-poly1305@openssh.com");
	strvec_push(&c.macs, "hmac-sha2-256");
	strvec_push(&s.macs, "hmac-md5");	/* AEAD cipher: MACs are not negotiated */
	struct report r;
	report_init(&r, "connect");
	assert_int_equal(connect_analyse_kex(&r, NULL, &c, &s, &q), 1);
	struct finding *f = report_find(&r, "kex.no-match");
	assert_non_null(f);
	assert_non_null(strstr(f->title, "key exchange method"));
	assert_string_equal(f->fixes[0].lines.v[0], "KexAlgorithms +diffie-hellman-group1-sha1");
	report_free(&r);
	/* a non-AEAD cipher: now the MAC lists must meet */
	strvec_clear(&c.ciphers);
	strvec_clear(&s.ciphers);
	strvec_push(&c.ciphers, "aes128-ctr");
	strvec_push(&s.ciphers, "aes128-ctr");
	strvec_clear(&s.kex);
	strvec_push(&s.kex, "curve25519-sha256");
	report_init(&r, "connect");
	assert_int_equal(connect_analyse_kex(&r, NULL, &c, &s, NULL), 1);
	f = report_find(&r, "kex.no-match");
	assert_non_null(f);
	assert_non_null(strstr(f->title, "MAC"));
	report_free(&r);
	strvec_push(&s.macs, "hmac-sha2-256");
	report_init(&r, "connect");
	assert_int_equal(connect_analyse_kex(&r, NULL, &c, &s, NULL), 0);
	assert_non_null(report_find(&r, "kex.ok"));
	report_free(&r);
	struct kex_side *all[] = { &c, &s, &q };
	for (int i = 0; i < 3; i++) {
		strvec_clear(&all[i]->kex);
		strvec_clear(&all[i]->hostkey);
		strvec_clear(&all[i]->ciphers);
		strvec_clear(&all[i]->macs);
	}
}

/* OpenSSH 9.2 at an MTU black hole: KEXINITs pass, the sntrup761 reply never comes. */
#define KEXHEAD \
	{ 0, "debug1: Connecting to 203.0.113.2 [203.0.113.2] port 22." }, \
	{ 3, "debug1: Connection established." }, \
	{ 10, "debug1: Remote protocol version 2.0, remote software version OpenSSH_9.2p1 Debian-2" }, \
	{ 11, "debug3: send packet: type 20" }, \
	{ 12, "debug1: SSH2_MSG_KEXINIT sent" }, \
	{ 14, "debug3: receive packet: type 20" }, \
	{ 15, "debug1: SSH2_MSG_KEXINIT received" }, \
	{ 16, "debug1: kex: algorithm: sntrup761x25519-sha512" }, \
	{ 16, "debug1: kex: host key algorithm: ssh-ed25519" }, \
	{ 17, "debug3: send packet: type 30" }, \
	{ 17, "debug1: expecting SSH2_MSG_KEX_ECDH_REPLY" }

static const struct tl kex_stall[] = { KEXHEAD };

/* The same with curve25519 (the retry): the key exchange completes, login works. */
static const struct tl kex_small[] = {
	{ 0, "debug1: Connecting to 203.0.113.2 [203.0.113.2] port 22." },
	{ 3, "debug1: Connection established." },
	{ 10, "debug1: Remote protocol version 2.0, remote software version OpenSSH_9.2p1 Debian-2" },
	{ 11, "debug3: send packet: type 20" },
	{ 12, "debug1: SSH2_MSG_KEXINIT sent" },
	{ 14, "debug3: receive packet: type 20" },
	{ 16, "debug1: kex: algorithm: curve25519-sha256" },
	{ 16, "debug1: kex: host key algorithm: ssh-ed25519" },
	{ 17, "debug3: send packet: type 30" },
	{ 17, "debug1: expecting SSH2_MSG_KEX_ECDH_REPLY" },
	{ 20, "debug3: receive packet: type 31" },
	{ 21, "debug3: send packet: type 21" },
	{ 22, "debug1: expecting SSH2_MSG_NEWKEYS" },
	{ 23, "debug3: receive packet: type 21" },
	{ 24, "debug1: SSH2_MSG_NEWKEYS received" },
	{ 25, "debug3: send packet: type 5" },
	{ 26, "debug1: SSH2_MSG_SERVICE_ACCEPT received" },
	{ 27, "debug3: send packet: type 50" },
	{ 28, "debug3: receive packet: type 52" },
	{ 29, "Authenticated to 203.0.113.2 ([203.0.113.2]:22) using \"publickey\"." },
	{ 40, "debug1: client_input_channel_req: channel 0 rtype exit-status reply 0" },
};

static struct strvec server_kex(const char *const *names, size_t n)
{
	struct strvec sv = { 0 };
	for (size_t i = 0; i < n; i++)
		strvec_push(&sv, names[i]);
	return sv;
}

static void test_kex_stall(void **state)
{
	(void)state;
	struct sshvlog v;
	struct report r;
	play(&v, kex_stall, ARRAY_SIZE(kex_stall));
	assert_int_equal(v.kexinit_in, 14);
	assert_int_equal(v.kex_sent, 17);
	assert_int_equal(v.kex_sent_type, 30);
	assert_string_equal(v.kex_alg, "sntrup761x25519-sha512");
	assert_string_equal(v.hostkey_alg, "ssh-ed25519");
	assert_string_equal(v.expecting, "KEX_ECDH_REPLY");
	assert_true(connect_kex_stalled(&v, 0));	/* stopped by our timeout */
	assert_false(connect_kex_stalled(&v, 1));	/* ended by itself, no timeout */
	report_init(&r, "connect");
	connect_analyse_login(&r, NULL, &v, 0, 10000);
	const struct finding *f = report_find(&r, "login.kex-stalled");
	assert_non_null(f);
	assert_int_equal(f->sev, SEV_CRITICAL);
	assert_null(report_find(&r, "auth.failed"));	/* the bug of issue 11 */
	assert_null(report_find(&r, "auth.slow"));
	int named = 0;
	for (size_t i = 0; i < f->evidence.n; i++)
		named += strstr(f->evidence.v[i], "SSH2_MSG_KEX_ECDH_REPLY") != NULL ||
			 strstr(f->evidence.v[i], "1190 bytes") != NULL;
	assert_int_equal(named, 2);
	report_free(&r);

	/* ssh's own ServerAliveInterval timeout during kex counts as a stall too */
	play(&v, kex_stall, ARRAY_SIZE(kex_stall));
	sshvlog_line(&v, 1000 + 5000, "Connection to 203.0.113.2 port 22 timed out", 44);
	assert_true(connect_kex_stalled(&v, 1));
	/* the server closing during kex is not a stall */
	play(&v, kex_stall, ARRAY_SIZE(kex_stall));
	sshvlog_line(&v, 1000 + 50, "Connection closed by 203.0.113.2 port 22", 40);
	assert_false(connect_kex_stalled(&v, 1));
	/* an answered key exchange, then auth that never answers: auth, not kex */
	play(&v, usedns, 5);
	assert_false(connect_kex_stalled(&v, 0));
	/* a completed login */
	play(&v, kex_small, ARRAY_SIZE(kex_small));
	assert_false(connect_kex_stalled(&v, 1));
	assert_false(connect_kex_stalled(&v, 0));
}

static void test_kex_retry_opts(void **state)
{
	(void)state;
	struct sshvlog v;
	struct strvec o = { 0 };
	static const char *const both[] = { "sntrup761x25519-sha512@openssh.com",
					    "curve25519-sha256", "curve25519-sha256@libssh.org" };
	static const char *const libssh[] = { "sntrup761x25519-sha512@openssh.com",
					      "curve25519-sha256@libssh.org" };
	static const char *const none[] = { "mlkem768x25519-sha256", "diffie-hellman-group16-sha512" };
	struct strvec s1 = server_kex(both, 3), s2 = server_kex(libssh, 2), s3 = server_kex(none, 2);
	play(&v, kex_stall, ARRAY_SIZE(kex_stall));
	assert_int_equal(connect_kex_retry_opts(&v, &s1, &o), 1);
	assert_int_equal(o.n, 2);
	assert_string_equal(o.v[0], "KexAlgorithms=curve25519-sha256");
	assert_string_equal(o.v[1], "HostKeyAlgorithms=ssh-ed25519");
	strvec_clear(&o);
	assert_int_equal(connect_kex_retry_opts(&v, &s2, &o), 1);
	assert_string_equal(o.v[0], "KexAlgorithms=curve25519-sha256@libssh.org");
	strvec_clear(&o);
	assert_int_equal(connect_kex_retry_opts(&v, &s3, &o), 0);	/* not offered */
	assert_int_equal(connect_kex_retry_opts(&v, NULL, &o), 0);	/* offer unknown */
	assert_int_equal(o.n, 0);
	/* already small: a retry would prove nothing */
	snprintf(v.kex_alg, sizeof(v.kex_alg), "curve25519-sha256");
	assert_int_equal(connect_kex_retry_opts(&v, &s1, &o), 0);
	/* 10.0's default: ML-KEM, retried too */
	snprintf(v.kex_alg, sizeof(v.kex_alg), "mlkem768x25519-sha256");
	assert_int_equal(connect_kex_retry_opts(&v, &s1, &o), 1);
	strvec_clear(&o);
	strvec_clear(&s1);
	strvec_clear(&s2);
	strvec_clear(&s3);
}

static int fix_has(const struct finding *f, const char *line)
{
	for (size_t i = 0; i < f->nfixes; i++)
		for (size_t j = 0; j < f->fixes[i].lines.n; j++)
			if (!strcmp(f->fixes[i].lines.v[j], line))
				return 1;
	return 0;
}

static void test_kex_retry_verdicts(void **state)
{
	(void)state;
	struct sshvlog first, retry;
	struct report r;
	struct strvec o = { 0 };
	strvec_push(&o, "KexAlgorithms=curve25519-sha256");
	strvec_push(&o, "HostKeyAlgorithms=ssh-ed25519");
	play(&first, kex_stall, ARRAY_SIZE(kex_stall));

	/* the small one logs in: a black hole, with the interim line and the cures */
	play(&retry, kex_small, ARRAY_SIZE(kex_small));
	report_init(&r, "connect");
	connect_analyse_kex_retry(&r, NULL, "lab", &first, &retry, 1, 10000, &o);
	const struct finding *b = report_find(&r, "login.mtu-blackhole");
	assert_non_null(b);
	assert_int_equal(b->sev, SEV_CRITICAL);
	assert_int_equal(report_find(&r, "login.kex-stalled")->sev, SEV_WARNING);
	assert_true(fix_has(b, "Host lab"));
	assert_true(fix_has(b, "    KexAlgorithms curve25519-sha256"));
	assert_true(fix_has(b, "    HostKeyAlgorithms ssh-ed25519"));
	assert_true(fix_has(b, "net.ipv4.tcp_mtu_probing=1"));
	assert_true(fix_has(b, "nft add rule inet filter forward tcp flags syn tcp option maxseg size set rt mtu"));
	assert_non_null(report_find(&r, "login.ok"));
	assert_null(report_find(&r, "auth.failed"));
	report_free(&r);

	/* the small kex completes but the key is refused: still a black hole, and auth.failed */
	play(&retry, kex_small, 18);
	sshvlog_line(&retry, 1000 + 30, "debug3: receive packet: type 51", 31);
	sshvlog_line(&retry, 1000 + 31, "root@203.0.113.2: Permission denied (publickey).", 48);
	sshvlog_finish(&retry, 1000 + 32);
	report_init(&r, "connect");
	connect_analyse_kex_retry(&r, NULL, "lab", &first, &retry, 1, 10000, &o);
	assert_non_null(report_find(&r, "login.mtu-blackhole"));
	assert_non_null(report_find(&r, "auth.failed"));
	report_free(&r);

	/* the small one hangs too: unknown, critical, and what would tell them apart */
	play(&retry, kex_stall, ARRAY_SIZE(kex_stall));
	report_init(&r, "connect");
	connect_analyse_kex_retry(&r, NULL, "lab", &first, &retry, 0, 10000, &o);
	const struct finding *f = report_find(&r, "login.kex-stalled");
	assert_non_null(f);
	assert_int_equal(f->sev, SEV_CRITICAL);
	assert_null(report_find(&r, "login.mtu-blackhole"));
	assert_null(report_find(&r, "auth.failed"));
	int unknown = 0;
	for (size_t i = 0; i < f->evidence.n; i++)
		unknown += strstr(f->evidence.v[i], "cause unknown") != NULL ||
			   strstr(f->evidence.v[i], "what tells them apart") != NULL;
	assert_int_equal(unknown, 2);
	report_free(&r);
	strvec_clear(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_phases),
		cmocka_unit_test(test_usedns),
		cmocka_unit_test(test_usedns_twice),
		cmocka_unit_test(test_too_many_keys),
		cmocka_unit_test(test_gssapi_and_session),
		cmocka_unit_test(test_denied_and_hostile_lines),
		cmocka_unit_test(test_kex_analyser),
		cmocka_unit_test(test_kex_stall),
		cmocka_unit_test(test_kex_retry_opts),
		cmocka_unit_test(test_kex_retry_verdicts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
