/* idle_learned.h - the path's idle timeout as the flight recorder learned it
 * from the user's own sessions to a server (the last 30 days), on the network this machine
 * reaches that server through now: what keep and the relay set keepalives
 * from when no measurement is stored, or when the sessions prove less. */
#ifndef SSHDOCTOR_IDLE_LEARNED_H
#define SSHDOCTOR_IDLE_LEARNED_H

#include <stddef.h>
#include <stdint.h>

#include "history.h"

struct idle_learned {
	int64_t lower_ms, upper_ms;	/* longest idle answered, shortest that died */
	int tight;			/* history_judge's tight bracket */
	int sessions;			/* of this server on this network */
	char net_id[80];
};

/* db: the store (NULL: the default); names: the server as typed and its
 * HostName; port "" or NULL: any; cur: the network now (netid_of_socket), or
 * NULL: the route now toward the address the newest of those sessions
 * reached (no DNS lookup). Returns 1 with a consistent bracket (both bounds, lower at
 * least 1 s), 0 when nothing usable was learned, -1 when the store could not
 * be read (err says why). */
int idle_learned_read(const char *db, const char *const *names, size_t nnames, const char *port,
		      const struct hist_net *cur, struct idle_learned *out, char *err, size_t errlen);

#endif
