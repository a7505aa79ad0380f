/* idle_hold.h - one real session, with the user's own settings, held idle for a
 * given time and then probed: the proof that a cure works (doctor --verify). */
#ifndef SSHDOCTOR_IDLE_HOLD_H
#define SSHDOCTOR_IDLE_HOLD_H

#include <stddef.h>
#include <stdint.h>

#include "target.h"

/* Returns 1 when the session still echoed after hold_ms idle, 0 when it died
 * (why says how), -1 when no session could be opened (why says why). */
int idle_hold(struct target *t, const struct sshopts *so, int64_t hold_ms, char *why,
	      size_t whylen);

#endif
