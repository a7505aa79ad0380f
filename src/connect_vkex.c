/* connect_vkex.c - the server's KEXINIT as ssh -vvv prints it ("peer server
 * KEXINIT proposal", then one "debug2: <label>: <list>" line per list), so that
 * `connect` need not open a raw unauthenticated connection of its own to a
 * server that may penalise it. Pure; the lines partly come from the server. */
#include <string.h>

#include "connect.h"

static const struct {
	const char *label;
	int list;
} labels[] = {
	{ "KEX algorithms: ", KEX_KEX },
	{ "host key algorithms: ", KEX_HOSTKEY },
	{ "ciphers ctos: ", KEX_ENC_CS },
	{ "ciphers stoc: ", KEX_ENC_SC },
	{ "MACs ctos: ", KEX_MAC_CS },
	{ "MACs stoc: ", KEX_MAC_SC },
	{ "compression ctos: ", KEX_COMP_CS },
	{ "compression stoc: ", KEX_COMP_SC },
};

int connect_vkex_line(struct wire_kexinit *k, int *state, const char *line, size_t len)
{
	static const char dbg[] = "debug2: ";
	while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;	/* ssh -vvv ends its lines with CR LF */
	if (*state == 2 || len < sizeof(dbg) - 1 || strncmp(line, dbg, sizeof(dbg) - 1) != 0)
		return 0;
	const char *p = line + sizeof(dbg) - 1;
	size_t n = len - (sizeof(dbg) - 1);
	if (n >= 27 && !strncmp(p, "peer server KEXINIT proposal", 27)) {
		*state = 1;
		return 0;
	}
	if (*state != 1)
		return 0;
	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
		size_t l = strlen(labels[i].label);
		if (n >= l && !strncmp(p, labels[i].label, l)) {
			struct strvec *sv = &k->list[labels[i].list];
			if (!sv->n)	/* once: a second proposal (rekey) changes nothing */
				wire_split_list(sv, p + l, n - l);
			return 1;
		}
	}
	/* "first_kex_follows", "reserved" or anything else ends the block */
	if (n >= 8 && (!strncmp(p, "reserved", 8) || !strncmp(p, "first_kex_follows", 17)))
		*state = k->list[KEX_KEX].n ? 2 : 0;
	return 0;
}
