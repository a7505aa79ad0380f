/* Fuzz: sshd_config / ssh_config text (a copy from anywhere) never crashes the
 * parser; errors are always "name:line: message" and every line kept is sane. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sshconf_parse.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(enum sshconf_kind kind, const char *text, int match)
{
	/* Includes resolve under a root that does not exist, plus one in-memory
	 * file, so the Include logic runs without reading this machine's files. */
	static const char *const op[] = { "/nonexistent-fuzz-root/etc/ssh/x.conf" };
	static const char *const ot[] = { "ClientAliveInterval 5\nMatch all\nHost a\n" };
	struct sshconf_ctx x = { .root = "/nonexistent-fuzz-root", .home = "/nonexistent-fuzz-home",
				 .match = match, .user = "bob", .host = "h.example",
				 .addr = "10.1.2.3", .laddr = "192.0.2.1", .lport = 22,
				 .localuser = "me", .over_path = op, .over_text = ot, .nover = 1 };
	struct sshconf c;
	char *err = NULL;
	if (sshconf_parse_text(&c, kind, "fuzz", text, &x, &err) == 0) {
		for (size_t i = 0; i < c.n; i++)
			if (!c.v[i].key || !c.v[i].val || !c.v[i].raw || c.v[i].line < 0)
				abort();
		(void)sshconf_effective(&c, "clientaliveinterval");
		(void)sshconf_effective(&c, "serveraliveinterval");
		free(sshconf_flatten(&c, "/nonexistent-fuzz-root"));
	} else if (!err || (strncmp(err, "fuzz:", 5) && strncmp(err, "/nonexistent-fuzz-root", 22))) {
		abort();	/* every error names the file */
	}
	free(err);
	sshconf_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size);
	check(SSHCONF_SERVER, s, 0);
	check(SSHCONF_SERVER, s, 1);
	check(SSHCONF_CLIENT, s, 0);
	(void)sshconf_time(s);
	(void)sshconf_match_list("h.example", s, 1);
	free(s);
	return 0;
}
