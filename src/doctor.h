/* doctor.h - the main job: connect, audit, idle, path and logs in order, causes
 * ranked (diagnose.c), the cure applied through audit's fix, and proof that it
 * works. Reuses every other command's core; prints only progress (stderr). */
#ifndef SSHDOCTOR_DOCTOR_H
#define SSHDOCTOR_DOCTOR_H

#include <stdint.h>

#include "finding.h"
#include "target.h"

struct doctor_opts {
	int64_t idle_max_ms;	/* --idle-max (default 10m; --quick: 2m) */
	int quick;
	int fix, yes, verify, remote;
	int no_path;		/* skip the path probes */
	const char *const *logs;	/* --server-log FILE... (server logs readable here) */
	size_t nlogs;
	int progress;		/* step lines on stderr */
};

/* Fills r with every sub-result (findings; measurements connect, audit, idle,
 * path, logs) and the ranked causes (measurements.doctor). Returns 0. */
int doctor_run(const struct doctor_opts *o, struct target *t, const struct sshopts *so,
	       struct report *r);

#endif
