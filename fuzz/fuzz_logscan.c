/* Fuzz: any bytes as one log line (and as a whole log) never crash the line
 * parser or the engine; parsed fields stay inside the line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logs.h"
#include "logscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = xmalloc(size ? size : 1);
	memcpy(line, data, size);
	char scratch[256];
	struct logclock clk;
	logclock_init(&clk, 1795237818000LL);
	struct logline l;
	if (logscan_header(line, size, &clk, &l, scratch, sizeof(scratch), 0) == 0) {
		int in_line = l.msg >= line && l.msg + l.msglen <= line + size;
		int in_scratch = l.msg >= scratch && l.msg + l.msglen < scratch + sizeof(scratch);
		if (!in_line && !in_scratch)
			abort();
		struct logevent ev;
		if (logscan_classify(&l, &ev) > 0 && (ev.ev <= LEV_NONE || ev.ev >= LEV_NKINDS))
			abort();
		if (strlen(ev.addr) >= sizeof(ev.addr) || strlen(ev.user) >= sizeof(ev.user) ||
		    strnlen(l.host, sizeof(l.host)) >= sizeof(l.host))
			abort();
	}
	/* the same bytes as a multi-line log through the engine, with a tiny table */
	struct logs_opts o = { .since_ms = -1, .until_ms = -1, .max_open = 2, .sessions = 1, .unrecognized = 1,
			       .ref_wall_ms = 1795237818000LL };
	struct logs_state *st = logs_new(&o);
	logs_source_begin(st, "fuzz", 0);
	const char *p = line, *end = line + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		logs_line(st, p, n);
		p += n + 1;
	}
	logs_source_end(st, NULL);
	struct report r;
	report_init(&r, "logs");
	logs_report(st, &r);
	report_free(&r);
	logs_free(st);
	free(line);
	return 0;
}
