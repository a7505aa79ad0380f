/* Fuzz: ssh -vvv output (partly server-controlled text) in arbitrary chunks,
 * then the login analyser on the result: no crash, bounds kept. */
#include <stdint.h>
#include <stdlib.h>

#include "connect.h"
#include "sshvlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sshvlog *v = malloc(sizeof(*v));
	sshvlog_init(v, 0);
	size_t off = 0;
	int64_t t = 0;
	while (off < size) {
		size_t chunk = 1 + data[off] % 200;
		if (chunk > size - off)
			chunk = size - off;
		t += data[off] % 7;
		sshvlog_feed(v, t, (const char *)data + off, chunk);
		if (v->blen > VLOG_LINE_MAX || v->natt > VLOG_ATTEMPTS_MAX || v->nmeth > VLOG_METHODS_MAX)
			abort();
		off += chunk;
	}
	sshvlog_finish(v, t + 1);
	struct report r;
	report_init(&r, "connect");
	connect_analyse_login(&r, size & 1 ? "label" : NULL, v, (int)(size & 2), 10000);
	/* the kex-stall retry path: the same transcript as first try and retry */
	struct strvec kex = { 0 }, opts = { 0 };
	strvec_push(&kex, "curve25519-sha256");
	if (connect_kex_stalled(v, (int)(size & 2)) && connect_kex_retry_opts(v, &kex, &opts))
		connect_analyse_kex_retry(&r, NULL, "h", v, v, (int)(size & 4), 10000, &opts);
	connect_analyse_kex_retry(&r, "l", NULL, v, v, 1, 10000, &opts);
	strvec_clear(&kex);
	strvec_clear(&opts);
	report_free(&r);
	free(v);
	return 0;
}
