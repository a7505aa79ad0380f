/* Fuzz: what a server prints back (the audit --remote script's output and the
 * protect-the-work probe's) never crashes its readers nor overflows a field. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "protect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size);
	struct protect_facts p;
	protect_parse(s, &p);
	if (strlen(p.tmux) >= sizeof(p.tmux) || (p.tmux[0] && p.tmux[0] != '/'))
		abort();
	struct audit_facts f;
	memset(&f, 0, sizeof(f));
	f.smajor = f.sminor = -1;
	f.ka_time = f.ka_intvl = f.ka_probes = f.retries2 = f.mtu_probing = -1;
	strcpy(f.server_config, "srv:/etc/ssh/sshd_config");
	char *err = NULL;
	audit_parse_remote(s, &f, &err);
	free(err);
	free(s);
	return 0;
}
