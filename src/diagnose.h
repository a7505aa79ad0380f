/* diagnose.h - doctor's analyser: from the findings and measurements of connect,
 * audit, idle, path and logs (one merged report) to ranked causes, a summary
 * paragraph and the list of what could not be checked. Pure: no I/O. */
#ifndef SSHDOCTOR_DIAGNOSE_H
#define SSHDOCTOR_DIAGNOSE_H

#include "finding.h"

enum confidence { CONF_LOW, CONF_MEDIUM, CONF_HIGH };

struct cause {
	const char *id;		/* "cause.idle-timeout", ... */
	enum confidence conf;
	enum severity sev;
	char *title;
	struct strvec evidence;
	long fix_from;	/* index in the report of the finding whose fix lines cure it, or -1
			 * (an index: the findings array moves as findings are added) */
	long protect_from;	/* index of the doctor.protect-work finding whose fix lines
				 * (tmux/screen, mosh, autossh) also go with it, or -1 */
};

struct not_checked {
	const char *what;
	char *why;
	char *command;	/* the command that would check it */
};

struct diagnosis {
	struct cause causes[8];
	size_t ncauses;
	struct not_checked skipped[8];
	size_t nskipped;
};

/* Ranks causes from r (findings + r->measurements); most likely first. */
void diagnose(const struct report *r, struct diagnosis *d);
void diagnosis_skip(struct diagnosis *d, const char *what, const char *command,
		    const char *why_fmt, ...) PRINTF_LIKE(4, 5);
void diagnosis_free(struct diagnosis *d);
const char *confidence_name(enum confidence c);

/* 1 for a cause keepalives cannot cure (path quality, the server side, a server
 * idle policy, roaming, suspend: every cause but the idle timeout, an MTU black
 * hole, the server's connection limits and a failed establishment). */
int cause_needs_protection(const struct cause *k);
/* Links the protect-work finding at index idx to every such cause; returns how many. */
size_t diagnosis_protect(struct diagnosis *d, long idx);

/* The paragraph a tired administrator reads first: verdict, lines to add, where. */
char *diagnosis_summary(const struct diagnosis *d, const struct report *r);

#endif
