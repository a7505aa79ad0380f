/* Fuzz: ssh's prompts (a keyboard-interactive prompt is the server's text) and
 * its "Permission denied (...)" line never crash the classifier, and a prompt
 * never names the wrong user@host as ours. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "askpass.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size);
	enum ap_kind k = askpass_classify(s, "sdlab", "203.0.113.2");
	if (k < AP_PASSWORD || k > AP_REFUSE)
		abort();
	/* a password prompt for another host is never ours */
	char *other = xasprintf("%s x@198.51.100.1's password: ", s);
	if (!strchr(s, '(') && askpass_classify(other, "sdlab", "203.0.113.2") == AP_PASSWORD)
		abort();
	const char *m = askpass_method(s);
	if (m && strcmp(m, "password") && strcmp(m, "keyboard-interactive"))
		abort();
	free(other);
	free(s);
	return 0;
}
