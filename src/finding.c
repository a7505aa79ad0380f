/* finding.c - building a report; status is the highest severity found. */
#include "finding.h"

#include <stdlib.h>
#include <string.h>

void report_init(struct report *r, const char *command)
{
	memset(r, 0, sizeof(*r));
	r->command = command;
	r->measurements = json_object_new_object();
}

static void finding_free(struct finding *f)
{
	free(f->id);
	free(f->title);
	strvec_clear(&f->evidence);
	for (size_t i = 0; i < f->nfixes; i++) {
		free(f->fixes[i].where);
		strvec_clear(&f->fixes[i].lines);
	}
	free(f->fixes);
}

void report_free(struct report *r)
{
	for (size_t i = 0; i < r->n; i++)
		finding_free(&r->findings[i]);
	free(r->findings);
	if (r->target) {
		free(r->target->host);
		free(r->target->user);
		free(r->target);
	}
	for (size_t i = 0; i < r->ntext; i++)
		free(r->text[i].name);
	json_object_put(r->measurements);
	free(r->summary);
	memset(r, 0, sizeof(*r));
}

void report_set_target(struct report *r, const char *host, int port, const char *user)
{
	if (!r->target)
		r->target = xcalloc(1, sizeof(*r->target));
	free(r->target->host);
	free(r->target->user);
	r->target->host = xstrdup(host ? host : "");
	r->target->user = xstrdup(user ? user : "");
	r->target->port = port;
}

struct finding *report_add(struct report *r, enum severity sev, const char *id,
			   const char *title_fmt, ...)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 8;
		r->findings = xrealloc(r->findings, r->cap * sizeof(*r->findings));
	}
	struct finding *f = &r->findings[r->n++];
	memset(f, 0, sizeof(*f));
	f->id = xstrdup(id);
	f->sev = sev;
	va_list ap;
	va_start(ap, title_fmt);
	f->title = xvasprintf(title_fmt, ap);
	va_end(ap);
	return f;
}

void finding_evidence(struct finding *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = xvasprintf(fmt, ap);
	va_end(ap);
	strvec_push(&f->evidence, s);
	free(s);
}

struct fix *finding_fix(struct finding *f, const char *where)
{
	for (size_t i = 0; i < f->nfixes; i++)
		if (strcmp(f->fixes[i].where, where) == 0)
			return &f->fixes[i];
	f->fixes = xrealloc(f->fixes, (f->nfixes + 1) * sizeof(*f->fixes));
	struct fix *x = &f->fixes[f->nfixes++];
	memset(x, 0, sizeof(*x));
	x->where = xstrdup(where);
	return x;
}

void fix_line(struct fix *x, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = xvasprintf(fmt, ap);
	va_end(ap);
	strvec_push(&x->lines, s);
	free(s);
}

void report_measure(struct report *r, const char *name, struct json_object *obj,
		    measure_text_fn fn)
{
	json_object_object_add(r->measurements, name, obj);
	if (fn && r->ntext < ARRAY_SIZE(r->text)) {
		r->text[r->ntext].name = xstrdup(name);
		r->text[r->ntext].fn = fn;
		r->ntext++;
	}
}

void report_absorb(struct report *dst, struct report *src)
{
	for (size_t i = 0; i < src->n; i++) {
		if (dst->n == dst->cap) {
			dst->cap = dst->cap ? dst->cap * 2 : 8;
			dst->findings = xrealloc(dst->findings, dst->cap * sizeof(*dst->findings));
		}
		dst->findings[dst->n++] = src->findings[i];
	}
	src->n = 0;
	if (src->unknown)
		dst->unknown = 1;
}

void report_merge(struct report *r, struct report *sub)
{
	report_absorb(r, sub);
	json_object_object_foreach(sub->measurements, key, val)
		report_measure(r, key, json_object_get(val), NULL);
	for (size_t i = 0; i < sub->ntext && r->ntext < ARRAY_SIZE(r->text); i++) {
		r->text[r->ntext].name = xstrdup(sub->text[i].name);
		r->text[r->ntext].fn = sub->text[i].fn;
		r->ntext++;
	}
	report_free(sub);
}

struct finding *report_find(const struct report *r, const char *id)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->findings[i].id, id) == 0)
			return &r->findings[i];
	return NULL;
}

/* critical > unknown > warning > ok: an undetermined answer must not read as "fine". */
enum status report_status(const struct report *r)
{
	enum severity top = SEV_OK;
	for (size_t i = 0; i < r->n; i++)
		if (r->findings[i].sev > top)
			top = r->findings[i].sev;
	if (top == SEV_CRITICAL)
		return STATUS_CRITICAL;
	if (r->unknown)
		return STATUS_UNKNOWN;
	return top == SEV_WARNING ? STATUS_WARNING : STATUS_OK;
}

const char *status_name(enum status s)
{
	static const char *const n[] = { "ok", "warning", "critical", "unknown" };
	return n[s];
}

const char *severity_name(enum severity s)
{
	static const char *const n[] = { "ok", "info", "warning", "critical" };
	return n[s];
}
