/* protect.h - what keeps the user's work alive across a drop that keepalives
 * cannot prevent (path quality, roaming, suspend, server restarts, a server idle
 * policy): a terminal multiplexer on the server, mosh where UDP passes, and a
 * supervisor for unattended sessions. The probe asks the server in one ssh round
 * trip which of tmux, screen and mosh-server its login sees; the advice is pure. */
#ifndef SSHDOCTOR_PROTECT_H
#define SSHDOCTOR_PROTECT_H

#include <stddef.h>

#include "finding.h"
#include "target.h"

#define PROTECT_FINDING "doctor.protect-work"

struct protect_facts {
	int known;		/* the probe ran and answered */
	char tmux[256], screen[256], mosh[256];	/* paths on the server, "" not found */
	char why[256];		/* when !known: why not */
};

/* The command run on the server (POSIX sh: `command -v` prints each found path). */
extern const char protect_remote_cmd[];

/* Pure: the output of protect_remote_cmd -> facts. Lines longer than the fields,
 * unknown names and garbage are ignored. */
void protect_parse(const char *out, struct protect_facts *p);

/* One ssh round trip (the tool's session options, 10 s bound). Returns 0 when
 * the server answered, -1 with p->why otherwise; p is filled either way. */
int protect_probe(const struct target *t, const struct sshopts *so, struct protect_facts *p);

/* Pure: adds the PROTECT_FINDING (info) to r with one fix per remedy: the
 * multiplexer line that reattaches, mosh, and the unattended alternative. host
 * is what the user types after ssh. Returns the finding. */
struct finding *protect_advice(struct report *r, const struct protect_facts *p, const char *host);

#endif
