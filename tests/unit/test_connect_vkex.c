/* Unit tests: the server's KEXINIT read from ssh -vvv (connect without a raw probe). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "connect.h"

static void feed(struct wire_kexinit *k, int *st, const char *text)
{
	while (*text) {
		size_t n = strcspn(text, "\n");
		connect_vkex_line(k, st, text, n);
		text += n + (text[n] == '\n');
	}
}

static void test_vkex(void **state)
{
	(void)state;
	static const char log[] =
		"debug2: local client KEXINIT proposal\r\n"
		"debug2: KEX algorithms: sntrup761x25519-sha512,curve25519-sha256,ext-info-c\r\n"
		"debug2: host key algorithms: ssh-ed25519,rsa-sha2-512\r\n"
		"debug2: first_kex_follows 0 \r\n"
		"debug2: reserved 0 \r\n"
		"debug2: peer server KEXINIT proposal\r\n"
		"debug2: KEX algorithms: mlkem768x25519-sha256,curve25519-sha256\r\n"
		"debug2: host key algorithms: ssh-ed25519\r\n"
		"debug2: ciphers ctos: chacha20-poly1305@openssh.com,aes128-ctr\r\n"
		"debug2: ciphers stoc: chacha20-poly1305@openssh.com\r\n"
		"debug2: MACs ctos: hmac-sha2-256\r\n"
		"debug2: MACs stoc: hmac-sha2-256\r\n"
		"debug2: compression ctos: none\r\n"
		"debug2: languages ctos: \r\n"
		"debug2: first_kex_follows 0 \r\n"
		"debug2: reserved 0 \r\n"
		"debug2: peer server KEXINIT proposal\r\n"
		"debug2: KEX algorithms: evil-rekey\r\n";
	struct wire_kexinit k;
	memset(&k, 0, sizeof(k));
	int st = 0;
	feed(&k, &st, log);
	assert_int_equal(st, 2);
	assert_int_equal(k.list[KEX_KEX].n, 2);
	assert_string_equal(k.list[KEX_KEX].v[0], "mlkem768x25519-sha256");
	assert_int_equal(k.list[KEX_HOSTKEY].n, 1);
	assert_string_equal(k.list[KEX_HOSTKEY].v[0], "ssh-ed25519");
	assert_int_equal(k.list[KEX_ENC_CS].n, 2);
	assert_string_equal(k.list[KEX_ENC_CS].v[1], "aes128-ctr");
	assert_int_equal(k.list[KEX_MAC_CS].n, 1);
	wire_kexinit_free(&k);
	/* no peer block (the server closed first): nothing, and no crash on junk */
	memset(&k, 0, sizeof(k));
	st = 0;
	feed(&k, &st, "debug1: kex_exchange_identification: Connection closed by remote host\n"
		      "debug2: KEX algorithms: x\ndebug2:\ndebug2: peer server KEXINIT proposal\n"
		      "debug2: reserved 0\n");
	assert_int_equal(st, 0);
	assert_int_equal(k.list[KEX_KEX].n, 0);
	wire_kexinit_free(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_vkex) };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
