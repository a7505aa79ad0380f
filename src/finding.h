/* finding.h - the one result model every command fills: findings + measurements.
 * Text and JSON are two renderings of a struct report (render.c). */
#ifndef SSHDOCTOR_FINDING_H
#define SSHDOCTOR_FINDING_H

#include <json-c/json.h>
#include <stdio.h>

#include "util.h"

enum severity { SEV_OK, SEV_INFO, SEV_WARNING, SEV_CRITICAL };
enum status { STATUS_OK = 0, STATUS_WARNING = 1, STATUS_CRITICAL = 2, STATUS_UNKNOWN = 3 };

#define EXIT_USAGE 64
#define EXIT_IOERR 74

struct fix {
	char *where;		/* "~/.ssh/config", "/etc/ssh/sshd_config", "PuTTY" ... */
	struct strvec lines;	/* exact lines to add or change */
};

struct finding {
	char *id;		/* "area.name", part of the JSON contract */
	enum severity sev;
	char *title;
	struct strvec evidence;
	struct fix *fixes;
	size_t nfixes;
};

struct report_target {
	char *host;
	char *user;
	int port;
};

/* Renders one measurement object as text (the same data the JSON carries). */
typedef void (*measure_text_fn)(FILE *out, struct json_object *m, int color);

struct report {
	const char *command;
	struct report_target *target;	/* NULL when the command has none */
	struct finding *findings;
	size_t n, cap;
	struct json_object *measurements;	/* {"<name>": {...}} */
	struct {
		char *name;
		measure_text_fn fn;
	} text[8];
	size_t ntext;
	int unknown;	/* could not determine the answer: exit 3 unless critical */
	char *summary;	/* optional paragraph shown right after the verdict (text);
			 * the command also puts it in its measurements (JSON) */
};

void report_init(struct report *r, const char *command);
void report_free(struct report *r);
void report_set_target(struct report *r, const char *host, int port, const char *user);
struct finding *report_add(struct report *r, enum severity sev, const char *id,
			   const char *title_fmt, ...) PRINTF_LIKE(4, 5);
void finding_evidence(struct finding *f, const char *fmt, ...) PRINTF_LIKE(2, 3);
struct fix *finding_fix(struct finding *f, const char *where);
void fix_line(struct fix *x, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* Takes ownership of obj; fn (may be NULL) renders it in text mode. */
void report_measure(struct report *r, const char *name, struct json_object *obj,
		    measure_text_fn fn);
/* Moves all findings of src into dst (used by doctor to merge sub-results). */
void report_absorb(struct report *dst, struct report *src);
/* Moves a sub-command's findings, measurements and text renderers into dst,
 * then frees src (doctor and its history step). */
void report_merge(struct report *dst, struct report *src);
struct finding *report_find(const struct report *r, const char *id);
enum status report_status(const struct report *r);
const char *status_name(enum status s);
const char *severity_name(enum severity s);

/* render.c */
void render_json(FILE *out, const struct report *r);
void render_text(FILE *out, const struct report *r, int color);
struct json_object *report_to_json(const struct report *r);

#endif
