/* Fuzz: any bytes as hosts.allow/hosts.deny, nftables JSON, iptables-save,
 * /proc/net/tcp, fail2ban status or a log line never crash doctor --server's
 * parsers; verdicts stay in range and strings terminated. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logscan.h"
#include "srvside.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xmalloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	struct wrap_hit w;
	wrap_judge(text, text, "sshd", "192.0.2.2", &w);
	if (w.denied < 0 || w.denied > 1 || strlen(w.text) >= sizeof(w.text))
		abort();
	wrap_judge(NULL, text, "sshd", "2001:db8::1", &w);
	struct fw_hit h;
	int r = fw_nft_judge(text, "192.0.2.2", 22, &h);
	if (r < -1 || r > 1 || strlen(h.rule) >= sizeof(h.rule) || strlen(h.undo) >= sizeof(h.undo))
		abort();
	fw_nft_judge(text, NULL, 22, &h);
	r = fw_ipt_judge(text, "192.0.2.2", 22, &h);
	if (r < -1 || r > 1)
		abort();
	struct srv_sock s[4];
	if (srv_parse_proc_tcp(text, size & 1, s, 4) > 4)
		abort();
	f2b_banned(text, "192.0.2.2");
	struct srv_logs lg;
	struct logclock clk;
	memset(&lg, 0, sizeof(lg));
	logclock_init(&clk, 1764650000000LL);
	srv_log_line(&lg, "192.0.2.2", &clk, 0, text, size);
	srv_penalise_covers(text, size, "192.0.2.2");
	free(text);
	return 0;
}
