/* Fuzz: any bytes as the server's policy probe output never crash the parser;
 * strings stay terminated and counts bounded; the judge accepts the result. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "srvpolicy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xmalloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	struct srvpolicy p;
	srvpolicy_init(&p);
	srvpolicy_parse(text, &p);
	if (p.nlog < 0 || p.nlog > SRVP_MAX_LOG || strlen(p.channeltimeout) >= sizeof(p.channeltimeout))
		abort();
	char e[128];
	srvp_channel_timeout(p.channeltimeout, "session:command", e, sizeof(e));
	if (strlen(e) >= sizeof(e))
		abort();
	struct report r;
	struct srvp_obs o = { 1000, 2000, 1, 1, 1, 2, "h", 0 };
	report_init(&r, "idle");
	srvpolicy_judge(&p, &o, &r);
	report_free(&r);
	free(text);
	return 0;
}
