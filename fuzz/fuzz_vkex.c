/* Fuzz: the server's KEXINIT read from ssh -vvv lines (connect without a raw
 * probe): arbitrary lines, no crash, lists bounded by what wire_split_list keeps. */
#include <stdint.h>
#include <string.h>

#include "connect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_kexinit k;
	memset(&k, 0, sizeof(k));
	int st = 0;
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		connect_vkex_line(&k, &st, p, n > 1024 ? 1024 : n);
		p += n + (nl ? 1 : 0);
	}
	wire_kexinit_free(&k);
	return 0;
}
