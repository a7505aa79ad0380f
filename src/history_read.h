/* history_read.h - the sessions and idle gaps of a selection, read from the
 * store into arrays for history_judge (shared by `history` and doctor). */
#ifndef SSHDOCTOR_HISTORY_READ_H
#define SSHDOCTOR_HISTORY_READ_H

#include <stddef.h>
#include <stdint.h>

#include "history.h"

#define HIST_READ_MAX_SESSIONS 50000	/* newest first; older ones left out (and said) */
#define HIST_READ_MAX_GAPS 500000

struct hist_sel {
	const char *path;		/* the store; NULL: the default */
	const char *const *names;	/* a session's target must be one of these; NULL: any */
	size_t nnames;
	const char *port;		/* NULL or "": any */
	const char *network;		/* hist_net.id, NULL: all */
	int64_t since_wall_ms;		/* 0: all */
};

struct hist_data {
	struct hist_session *s;
	size_t ns;
	struct hist_gap *g;
	size_t ng;
	int truncated;			/* more than the maxima matched */
	int no_store;			/* no store file yet: nothing recorded */
	char path[512];
};

/* Fills d (empty with no_store set when the store file does not exist: a reader
 * never creates it). Returns 0, or -1 with a one-line reason in err. */
int hist_read(const struct hist_sel *sel, struct hist_data *d, char *err, size_t errlen);
void hist_data_free(struct hist_data *d);

/* The sessions' network that is cur: the same id, or, with no ARP entry for
 * the gateway now (an id without its MAC), the same gateway. NULL: none. */
const char *hist_pick_net(const struct hist_data *d, const struct hist_net *cur);

#endif
