/* Fuzz: ssh's stderr as keep reads it (partly server-controlled text), in
 * arbitrary chunks, then the judge: no crash, bounds kept, a known cause. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keep_judge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keep_obs *o = malloc(sizeof(*o));
	keep_obs_init(o, 0);
	size_t off = 0;
	int64_t t = 0;
	while (off < size) {
		size_t chunk = 1 + data[off] % 200;
		if (chunk > size - off)
			chunk = size - off;
		t += data[off] % 7;
		keep_obs_feed(o, t, (const char *)data + off, chunk);
		if (o->llen > KEEP_LINE_MAX || strlen(o->last_error) >= sizeof(o->last_error))
			abort();
		off += chunk;
	}
	keep_obs_finish(o, t + 1);
	struct keep_verdict v;
	keep_judge(o, size ? data[0] : 255, &v);
	if ((unsigned)v.cause >= KC_N || strlen(v.detail) >= sizeof(v.detail) ||
	    keep_cause_parse(keep_cause_name(v.cause)) != (int)v.cause)
		abort();
	(void)keep_obs_ready(o, (int)(size & 3));
	free(o);
	return 0;
}
