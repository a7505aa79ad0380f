/* connect.h - why an SSH connection is slow or never established, phase by phase:
 * resolve, TCP connect per address, banner, KEXINIT offer, login (ssh -vvv).
 * Many targets run concurrently on one event loop. Fills a report, never prints. */
#ifndef SSHDOCTOR_CONNECT_H
#define SSHDOCTOR_CONNECT_H

#include <stddef.h>
#include <stdint.h>

#include "finding.h"
#include "sshvlog.h"
#include "target.h"
#include "wire.h"

struct connect_opts {
	int64_t timeout_ms;	/* per target: dns..kex, and again for the login */
	int no_login;
	const char *command;	/* run by the login phase; NULL: a trivial echo */
};

#define CONNECT_DNS_SLOW_MS 1000
#define CONNECT_AUTH_SLOW_MS 1000
#define CONNECT_SESSION_SLOW_MS 2000

/* Runs every phase for every target and adds findings and
 * measurements.connect (one object, or an array of them when n > 1).
 * Returns the number of targets whose connection was established (TCP, banner
 * and key exchange offer passed, and the login when it ran). */
size_t connect_run(const struct connect_opts *o, struct target *targets, size_t n,
		   const struct sshopts *so, struct report *r);

/* Analysers (pure, unit-tested). */

/* The client's and the server's algorithm lists compared: adds kex.no-match
 * (one finding per category) or kex.ok. supported[] (from `ssh -Q`, may be
 * NULL) lets the fix say whether enabling the algorithm is possible at all. */
struct kex_side {
	struct strvec kex, hostkey, ciphers, macs;
};
int connect_analyse_kex(struct report *r, const char *label, const struct kex_side *client,
			const struct kex_side *server, const struct kex_side *supported);

/* Findings from one ssh -vvv run: auth.failed, auth.slow, auth.too-many-keys,
 * login.slow (and auth.ok/login.ok). exited: the child ended on its own. */
void connect_analyse_login(struct report *r, const char *label, const struct sshvlog *v,
			   int exited, int64_t timeout_ms);

#endif
