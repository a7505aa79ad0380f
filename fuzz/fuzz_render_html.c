/* Fuzz target: the HTML report over hostile measurements and strings. The
 * input is a measurement (JSON, any shape) rendered as idle, connect and path
 * at once, and its raw bytes as a finding's title and evidence: the page must
 * never contain markup the input brought (no tag opened by input bytes), and
 * the chart code must survive any field being missing, null or of another type. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "finding.h"
#include "render_html.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	struct report r;
	report_init(&r, "doctor");
	report_set_target(&r, s, 22, s);
	struct finding *f = report_add(&r, SEV_CRITICAL, "fuzz.input", "%s", s);
	finding_evidence(f, "%s", s);
	fix_line(finding_fix(f, s), "%s", s);
	struct json_object *o = json_tokener_parse(s);
	if (o) {
		report_measure(&r, "idle", json_object_get(o), NULL);
		report_measure(&r, "connect", json_object_get(o), NULL);
		report_measure(&r, "path", json_object_get(o), NULL);
		report_measure(&r, "doctor", o, NULL);
	}
	char *argv[] = { "sshdoctor", s, NULL };
	struct html_meta m = { 2, argv, 1 };
	char *h = render_html(&r, &m);
	/* "<" followed by a letter the input chose would be a tag we did not write */
	if (strstr(h, "<fuzz") || strstr(h, "<scr") || strstr(h, "<img"))
		abort();
	free(h);
	report_free(&r);
	free(s);
	return 0;
}
