/* doctor_history.h - doctor reads the flight recorder first: what the user's own
 * sessions to this host, on the network this machine is on now, prove about the
 * path's idle timeout. A tight passive bracket lets doctor prescribe at once,
 * measure only to confirm, and skip the measurement with --quick. */
#ifndef SSHDOCTOR_DOCTOR_HISTORY_H
#define SSHDOCTOR_DOCTOR_HISTORY_H

#include <stdint.h>

#include "finding.h"
#include "history.h"
#include "target.h"

struct doctor_hist {
	int sessions;		/* of this host on this network */
	int conclusive;		/* tight bracket: width <= max(2 s, 2%), >= 3 samples each side */
	int64_t lower_ms, upper_ms;	/* -1: none */
	int reset;		/* the idle deaths were mostly resets (else silent) */
	char net_id[80];
	char net_label[96];	/* "gw 192.0.2.1" */
	char *sentence;		/* for the summary, or NULL */
};

/* The network this machine is on now: the IPv4 default route's gateway (from
 * /proc/net/route) and its MAC (from /proc/net/arp), as id
 * "gw-GATEWAY-MAC" ("gw-GATEWAY" without an ARP entry). Returns 0, or -1 when
 * there is no default route. (To be unified with the relay's netid.) */
int doctor_history_current_net(struct hist_net *out);

/* Reads the store for t on the current network; adds the history.* findings and
 * measurements.history to r (nothing but a progress line when the store is empty
 * or unreadable). */
void doctor_history_read(const struct target *t, struct report *r, struct doctor_hist *h,
			 int progress);
/* --quick with a conclusive history: the learned bracket stands in for the active
 * measurement (measurements.idle with "source": "history", path.idle-timeout). */
void doctor_history_as_idle(const struct doctor_hist *h, const struct target *t, struct report *r);
/* After the active measurement: does it agree with the learned bracket? */
void doctor_history_confirm(const struct doctor_hist *h, struct report *r);
/* Puts the history sentence before *summary. */
void doctor_history_summary(const struct doctor_hist *h, char **summary);
/* Largest idle age worth testing to confirm a conclusive bracket. */
int64_t doctor_history_confirm_max_ms(const struct doctor_hist *h, int64_t max_ms);
void doctor_history_free(struct doctor_hist *h);

#endif
