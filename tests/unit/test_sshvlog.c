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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_phases),
		cmocka_unit_test(test_usedns),
		cmocka_unit_test(test_too_many_keys),
		cmocka_unit_test(test_gssapi_and_session),
		cmocka_unit_test(test_denied_and_hostile_lines),
		cmocka_unit_test(test_kex_analyser),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
