/* Fuzz: a server's first bytes (identification, pre-banner lines, binary packets,
 * KEXINIT) fed in arbitrary chunks never crash, overflow or exceed the bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_ident *w = calloc(1, sizeof(*w));
	size_t off = 0, used = 0;
	enum wire_ident_state s = WIRE_NEED_MORE;
	/* chunk sizes derived from the data, so splits are explored too */
	while (off < size && s == WIRE_NEED_MORE) {
		size_t chunk = 1 + data[off] % 97;
		if (chunk > size - off)
			chunk = size - off;
		s = wire_ident_feed(w, data + off, chunk, &used);
		if (used > chunk || w->linelen > WIRE_PRELINE_MAX)
			abort();
		off += used;
	}
	(void)wire_ident_describe(w);
	if (strlen(w->what) >= sizeof(w->what) || strlen(w->ident) > WIRE_IDENT_MAX)
		abort();
	/* the rest as the packet stream */
	const uint8_t *p = data + off;
	size_t n = size - off;
	for (int i = 0; i < 8 && n; i++) {
		const uint8_t *pl;
		size_t plen, pused;
		uint32_t decl;
		if (wire_packet(p, n, &pl, &plen, &pused, &decl) != WIRE_PKT_OK)
			break;
		if (pused > n || pl + plen > p + n)
			abort();
		struct wire_kexinit k;
		const char *err;
		if (wire_kexinit_parse(&k, pl, plen, &err) == 0) {
			for (int j = 0; j < KEX_NLISTS; j++)
				if (k.list[j].n > WIRE_NAMES_MAX)
					abort();
			wire_kexinit_free(&k);
		}
		uint32_t code;
		char desc[64];
		wire_disconnect_parse(pl, plen, &code, desc, sizeof(desc));
		p += pused;
		n -= pused;
	}
	/* the raw input as a KEXINIT payload directly */
	struct wire_kexinit k;
	const char *err;
	if (wire_kexinit_parse(&k, data, size, &err) == 0)
		wire_kexinit_free(&k);
	wire_ident_free(w);
	free(w);
	return 0;
}
