/* render.c - the two renderings of a report: JSON (the public contract) and text. */
#include <string.h>

#include "finding.h"
#include "version.h"

static struct json_object *strvec_json(const struct strvec *sv)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < sv->n; i++)
		json_object_array_add(a, json_object_new_string(sv->v[i]));
	return a;
}

static struct json_object *finding_json(const struct finding *f)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(f->id));
	json_object_object_add(o, "severity", json_object_new_string(severity_name(f->sev)));
	json_object_object_add(o, "title", json_object_new_string(f->title));
	json_object_object_add(o, "evidence", strvec_json(&f->evidence));
	struct json_object *fixes = json_object_new_array();
	for (size_t i = 0; i < f->nfixes; i++) {
		struct json_object *x = json_object_new_object();
		json_object_object_add(x, "where", json_object_new_string(f->fixes[i].where));
		json_object_object_add(x, "lines", strvec_json(&f->fixes[i].lines));
		json_object_array_add(fixes, x);
	}
	json_object_object_add(o, "fix", fixes);
	return o;
}

struct json_object *report_to_json(const struct report *r)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "sshdoctor", json_object_new_string(SSHDOCTOR_VERSION));
	json_object_object_add(o, "command", json_object_new_string(r->command));
	if (r->target) {
		struct json_object *t = json_object_new_object();
		json_object_object_add(t, "host", json_object_new_string(r->target->host));
		json_object_object_add(t, "port", json_object_new_int(r->target->port));
		json_object_object_add(t, "user", json_object_new_string(r->target->user));
		json_object_object_add(o, "target", t);
	} else {
		json_object_object_add(o, "target", NULL);
	}
	json_object_object_add(o, "status", json_object_new_string(status_name(report_status(r))));
	struct json_object *fs = json_object_new_array();
	for (size_t i = 0; i < r->n; i++)
		json_object_array_add(fs, finding_json(&r->findings[i]));
	json_object_object_add(o, "findings", fs);
	json_object_object_add(o, "measurements", json_object_get(r->measurements));
	return o;
}

void render_json(FILE *out, const struct report *r)
{
	struct json_object *o = report_to_json(r);
	fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
					     JSON_C_TO_STRING_SPACED |
					     JSON_C_TO_STRING_NOSLASHESCAPE), out);
	fputc('\n', out);
	json_object_put(o);
}

/* --- text ------------------------------------------------------------------ */

#define C_RESET "\033[0m"
#define C_BOLD "\033[1m"
#define C_DIM "\033[2m"

static const char *sev_color(enum severity s)
{
	static const char *const c[] = { "\033[32m", "\033[36m", "\033[33m", "\033[1;31m" };
	return c[s];
}

static const char *sev_tag(enum severity s)
{
	static const char *const t[] = { "  ok  ", " info ", " WARN ", " CRIT " };
	return t[s];
}

static const char *status_color(enum status s)
{
	static const char *const c[] = { "\033[1;32m", "\033[1;33m", "\033[1;31m", "\033[1;35m" };
	return c[s];
}

static void print_finding(FILE *out, const struct finding *f, int color)
{
	fprintf(out, "%s[%s]%s %s%s%s  %s(%s)%s\n",
		color ? sev_color(f->sev) : "", sev_tag(f->sev), color ? C_RESET : "",
		color ? C_BOLD : "", f->title, color ? C_RESET : "",
		color ? C_DIM : "", f->id, color ? C_RESET : "");
	for (size_t i = 0; i < f->evidence.n; i++)
		fprintf(out, "         - %s\n", f->evidence.v[i]);
	for (size_t i = 0; i < f->nfixes; i++) {
		fprintf(out, "         fix, in %s:\n", f->fixes[i].where);
		for (size_t j = 0; j < f->fixes[i].lines.n; j++)
			fprintf(out, "             %s%s%s\n", color ? "\033[32m" : "",
				f->fixes[i].lines.v[j], color ? C_RESET : "");
	}
}

/* Word-wraps a paragraph, followed by a blank line. */
static void print_wrapped(FILE *out, const char *text, size_t width)
{
	size_t col = 0;
	while (*text) {
		size_t w = strcspn(text, " ");
		if (col && col + 1 + w > width) {
			fputc('\n', out);
			col = 0;
		} else if (col) {
			fputc(' ', out);
			col++;
		}
		fwrite(text, 1, w, out);
		col += w;
		text += w;
		while (*text == ' ')
			text++;
	}
	fputs("\n\n", out);
}

/* The verdict first (what matters most), then findings from worst to best. */
void render_text(FILE *out, const struct report *r, int color)
{
	enum status st = report_status(r);
	const struct finding *top = NULL;
	for (size_t i = 0; i < r->n; i++)
		if (!top || r->findings[i].sev > top->sev)
			top = &r->findings[i];

	fprintf(out, "%s%s%s", color ? status_color(st) : "", status_name(st), color ? C_RESET : "");
	if (r->target)
		fprintf(out, "  %s@%s port %d", r->target->user, r->target->host, r->target->port);
	if (top && top->sev >= SEV_WARNING)
		fprintf(out, ": %s", top->title);
	else if (st == STATUS_UNKNOWN)
		fputs(": could not determine the answer", out);
	fputc('\n', out);
	if (r->summary)
		print_wrapped(out, r->summary, 78);

	for (int sev = SEV_CRITICAL; sev >= SEV_OK; sev--)
		for (size_t i = 0; i < r->n; i++)
			if ((int)r->findings[i].sev == sev)
				print_finding(out, &r->findings[i], color);

	for (size_t i = 0; i < r->ntext; i++) {
		struct json_object *m = json_object_object_get(r->measurements, r->text[i].name);
		if (m) {
			fputc('\n', out);
			r->text[i].fn(out, m, color);
		}
	}
}
