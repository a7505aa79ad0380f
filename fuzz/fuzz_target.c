/* Fuzz: target specs (user-typed, may be anything) never crash the parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size);
	struct target t;
	char *err = NULL;
	if (target_parse(&t, s, NULL, &err) == 0) {
		struct strvec argv = { 0 };
		target_ssh_args(&t, NULL, &argv);
		if (argv.n == 0 || argv.v[argv.n - 1][0] == '-')
			abort();	/* the host must never read as an ssh option */
		strvec_clear(&argv);
		target_free(&t);
	} else {
		free(err);
	}
	free(s);
	return 0;
}
