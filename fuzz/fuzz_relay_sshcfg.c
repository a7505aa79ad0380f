/* Fuzz: the relay reads `ssh -G` output and /proc/PID/cmdline of its parent;
 * any bytes never crash either reader, and a value is only taken when the
 * bytes name its key. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay_sshcfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *b = (const char *)data;
	struct relay_sshcfg c = { -1, -1 };
	int n = relay_sshcfg_parse_g(b, size, &c);
	char *low = malloc(size + 1);
	for (size_t i = 0; low && i < size; i++)
		low[i] = (char)(b[i] >= 'A' && b[i] <= 'Z' ? b[i] + 32 : b[i]);
	if (!low || n < 0 || n > 2 ||
	    (c.family >= 0 && !memmem(low, size, "addressfamily", 13)) ||
	    (c.connect_timeout_s >= 0 && !memmem(low, size, "connecttimeout", 14)))
		abort();
	free(low);
	if (c.family != -1 && c.family != 0 && c.family != 4 && c.family != 6)
		abort();
	if (c.connect_timeout_s < -1)
		abort();
	char **av = NULL;
	int argc = relay_sshcfg_argv(b, size, &av);
	if (argc > 0) {
		size_t total = 0;
		for (int i = 0; i < argc; i++) {
			if (!av[i])
				abort();
			total += strlen(av[i]) + 1;
		}
		if (av[argc] || total > size + 1)
			abort();
	} else if (av) {
		abort();
	}
	relay_sshcfg_argv_free(av);
	return 0;
}
