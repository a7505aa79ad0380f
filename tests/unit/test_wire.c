/* Unit tests: identification lines and KEXINIT packets, well-formed and hostile. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

static enum wire_ident_state feed_str(struct wire_ident *w, const char *s, size_t *used)
{
	return wire_ident_feed(w, (const uint8_t *)s, strlen(s), used);
}

static void test_ident_ok(void **state)
{
	(void)state;
	struct wire_ident w __attribute__((cleanup(wire_ident_free))) = { 0 };
	size_t used;
	const char *s = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n\x00\x00\x01\x00";
	assert_int_equal(wire_ident_feed(&w, (const uint8_t *)s, 44, &used), WIRE_IDENT_OK);
	assert_int_equal(used, 40);	/* the packet bytes after CR LF are not consumed */
	assert_string_equal(w.proto, "2.0");
	assert_string_equal(w.software, "OpenSSH_9.2p1");
	assert_string_equal(w.comments, "Debian-2+deb12u3");
	assert_string_equal(w.ident, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3");
}

static void test_ident_split_and_prelines(void **state)
{
	(void)state;
	struct wire_ident w __attribute__((cleanup(wire_ident_free))) = { 0 };
	size_t used;
	assert_int_equal(feed_str(&w, "Welcome\r\nplease beha", &used), WIRE_NEED_MORE);
	assert_int_equal(feed_str(&w, "ve\nSSH-1.99-Cisco", &used), WIRE_NEED_MORE);
	assert_int_equal(feed_str(&w, "-1.25\n", &used), WIRE_IDENT_OK);
	assert_string_equal(w.proto, "1.99");
	assert_string_equal(w.software, "Cisco-1.25");
	assert_int_equal(w.nprelines, 2);
	assert_string_equal(w.first, "Welcome");
}

static void test_not_ssh(void **state)
{
	(void)state;
	struct wire_ident w __attribute__((cleanup(wire_ident_free))) = { 0 };
	size_t used;
	assert_int_equal(feed_str(&w, "HTTP/1.1 400 Bad Request\r\n", &used), WIRE_NOT_SSH);
	assert_non_null(strstr(w.what, "HTTP"));
	memset(&w, 0, sizeof(w));
	assert_int_equal(feed_str(&w, "220 mail.example ESMTP\r\n", &used), WIRE_NOT_SSH);
	assert_non_null(strstr(w.what, "SMTP"));
	memset(&w, 0, sizeof(w));
	const uint8_t tls[] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46 };
	assert_int_equal(wire_ident_feed(&w, tls, sizeof(tls), &used), WIRE_NOT_SSH);
	assert_non_null(strstr(w.what, "TLS"));
	assert_non_null(strstr(w.what, "\\x15"));	/* shown escaped, never raw */
	memset(&w, 0, sizeof(w));
	assert_int_equal(feed_str(&w, "SSH-2.0\r\n", &used), WIRE_NOT_SSH);	/* no software */
}

static void test_hostile_ident(void **state)
{
	(void)state;
	struct wire_ident w __attribute__((cleanup(wire_ident_free))) = { 0 };
	size_t used;
	/* 1 MB identification line: stops at the RFC's 255 bytes */
	char *big = malloc(1 << 20);
	memset(big, 'A', 1 << 20);
	memcpy(big, "SSH-2.0-", 8);
	assert_int_equal(wire_ident_feed(&w, (uint8_t *)big, 1 << 20, &used), WIRE_TOO_LONG);
	assert_true(used <= 256);
	/* a 1 MB line that is not an identification: stops at 8192 */
	memset(&w, 0, sizeof(w));
	memset(big, 'x', 1 << 20);
	assert_int_equal(wire_ident_feed(&w, (uint8_t *)big, 1 << 20, &used), WIRE_TOO_LONG);
	assert_true(used <= 8192);
	/* endless short lines: stops after 1024 */
	memset(&w, 0, sizeof(w));
	enum wire_ident_state s = WIRE_NEED_MORE;
	for (int i = 0; i < 5000 && s == WIRE_NEED_MORE; i++)
		s = feed_str(&w, "hello\r\n", &used);
	assert_int_equal(s, WIRE_TOO_MANY_LINES);
	assert_int_equal(w.nprelines, WIRE_PRELINES_MAX + 1);
	/* NUL inside a line */
	memset(&w, 0, sizeof(w));
	assert_int_equal(wire_ident_feed(&w, (const uint8_t *)"SSH-2.0-a\0b\r\n", 13, &used),
			 WIRE_NOT_SSH);
	free(big);
}

static void test_describe_partial(void **state)
{
	(void)state;
	struct wire_ident w __attribute__((cleanup(wire_ident_free))) = { 0 };
	size_t used;
	assert_int_equal(feed_str(&w, "SSH-2.0-Op", &used), WIRE_NEED_MORE);
	assert_non_null(strstr(wire_ident_describe(&w), "SSH-2.0-Op"));
	assert_non_null(strstr(wire_ident_describe(&w), "10 bytes"));
}

static const char *const lists[KEX_NLISTS] = {
	"curve25519-sha256,ext-info-c", "ssh-ed25519", "aes128-ctr", "aes128-ctr",
	"hmac-sha2-256", "hmac-sha2-256", "none", "none", "", "",
};

static void test_kexinit_roundtrip(void **state)
{
	(void)state;
	struct strbuf pkt = { 0 };
	wire_kexinit_build(&pkt, lists);
	assert_int_equal(pkt.len % 8, 0);
	const uint8_t *pl;
	size_t plen, used;
	uint32_t decl;
	assert_int_equal(wire_packet((uint8_t *)pkt.buf, pkt.len - 1, &pl, &plen, &used, &decl),
			 WIRE_PKT_NEED_MORE);
	assert_int_equal(wire_packet((uint8_t *)pkt.buf, pkt.len, &pl, &plen, &used, &decl),
			 WIRE_PKT_OK);
	assert_int_equal(used, pkt.len);
	struct wire_kexinit k;
	const char *err = NULL;
	assert_int_equal(wire_kexinit_parse(&k, pl, plen, &err), 0);
	assert_int_equal(k.list[KEX_KEX].n, 2);
	assert_string_equal(k.list[KEX_KEX].v[1], "ext-info-c");
	assert_string_equal(k.list[KEX_HOSTKEY].v[0], "ssh-ed25519");
	assert_int_equal(k.list[KEX_LANG_SC].n, 0);
	wire_kexinit_free(&k);
	/* truncated payloads are errors, never reads past the end */
	for (size_t cut = 0; cut < plen; cut++) {
		uint8_t *copy = malloc(cut ? cut : 1);
		memcpy(copy, pl, cut);
		assert_int_equal(wire_kexinit_parse(&k, copy, cut, &err), -1);
		free(copy);
	}
	sb_free(&pkt);
}

static void test_packet_hostile(void **state)
{
	(void)state;
	const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xff, 4, 20 };	/* claims 4 GB */
	const uint8_t *pl;
	size_t plen, used;
	uint32_t decl = 0;
	assert_int_equal(wire_packet(huge, sizeof(huge), &pl, &plen, &used, &decl), WIRE_PKT_TOO_BIG);
	assert_int_equal(decl, 0xffffffffu);
	const uint8_t badpad[] = { 0, 0, 0, 12, 200, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	assert_int_equal(wire_packet(badpad, sizeof(badpad), &pl, &plen, &used, &decl), WIRE_PKT_BAD);
	/* a name-list claiming more than the packet holds */
	uint8_t kx[40] = { 20 };
	kx[17] = 0x7f;
	const char *err;
	struct wire_kexinit k;
	assert_int_equal(wire_kexinit_parse(&k, kx, sizeof(kx), &err), -1);
	assert_non_null(strstr(err, "longer"));
}

static void test_negotiate(void **state)
{
	(void)state;
	struct strvec c = { 0 }, s = { 0 };
	wire_split_list(&c, "ext-info-c,a,b,c", 16);
	wire_split_list(&s, "x,ext-info-c,c,b", 16);
	assert_string_equal(wire_negotiate(&c, &s), "b");	/* the client's preference wins */
	strvec_clear(&s);
	wire_split_list(&s, "ext-info-c,z", 12);
	assert_null(wire_negotiate(&c, &s));	/* pseudo-algorithms never match */
	assert_true(wire_cipher_is_aead("chacha20-poly1305@openssh.com"));
	assert_true(wire_cipher_is_aead("aes256-gcm@openssh.com"));
	assert_false(wire_cipher_is_aead("aes128-ctr"));
	strvec_clear(&c);
	strvec_clear(&s);
	/* bounded: at most WIRE_NAMES_MAX names, each at most WIRE_NAME_MAX long */
	struct strbuf sb = { 0 };
	for (int i = 0; i < 1000; i++)
		sb_addf(&sb, "%s%0100d", i ? "," : "", i);
	wire_split_list(&c, sb.buf, sb.len);
	assert_int_equal(c.n, WIRE_NAMES_MAX);
	assert_int_equal(strlen(c.v[0]), WIRE_NAME_MAX);
	strvec_clear(&c);
	sb_free(&sb);
}

static void test_disconnect(void **state)
{
	(void)state;
	const uint8_t d[] = { 1, 0, 0, 0, 2, 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o', 0, 0, 0, 0 };
	uint32_t code;
	char desc[64];
	assert_int_equal(wire_disconnect_parse(d, sizeof(d), &code, desc, sizeof(desc)), 0);
	assert_int_equal(code, 2);
	assert_string_equal(desc, "hello");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ident_ok),
		cmocka_unit_test(test_ident_split_and_prelines),
		cmocka_unit_test(test_not_ssh),
		cmocka_unit_test(test_hostile_ident),
		cmocka_unit_test(test_describe_partial),
		cmocka_unit_test(test_kexinit_roundtrip),
		cmocka_unit_test(test_packet_hostile),
		cmocka_unit_test(test_negotiate),
		cmocka_unit_test(test_disconnect),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
