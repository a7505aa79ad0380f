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
	int parallel;		/* probes at once; 0: CONNECT_PARALLEL_DEFAULT */
};

/* Bounded concurrency: fds, memory and what the local resolver and NAT see
 * stay flat whatever the size of the list. */
#define CONNECT_PARALLEL_DEFAULT 1024
#define CONNECT_PARALLEL_MAX 4096

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

/* ssh sent its key-exchange packet(s) and nothing arrived until it was stopped
 * (exited: 0) or gave up with a timeout: the login hung inside the key exchange.
 * connect_analyse_login then reports login.kex-stalled, never auth.failed. */
int connect_kex_stalled(const struct sshvlog *v, int exited);

/* The retry that tells an MTU black hole apart: "-o" values (KexAlgorithms=
 * curve25519-sha256, the server permitting, and HostKeyAlgorithms= the one ssh
 * negotiated, which keeps ssh's own offer small too) into opts. 0 when no retry
 * can tell (the server offers no curve25519, the first kex was small already);
 * server_kex NULL: the server's offer is unknown. */
int connect_kex_retry_opts(const struct sshvlog *v, const struct strvec *server_kex,
			   struct strvec *opts);

/* The stalled first login and the retry with opts: login.kex-stalled, and
 * login.mtu-blackhole (with the cures) when the small key exchange completed;
 * then the retry's own login findings. host: the ssh config Host for the fix. */
void connect_analyse_kex_retry(struct report *r, const char *label, const char *host,
			       const struct sshvlog *first, const struct sshvlog *retry,
			       int retry_exited, int64_t timeout_ms, const struct strvec *opts);

/* One line of ssh -vvv: fills k from the "peer server KEXINIT proposal" block.
 * *state starts at 0 and is 2 once the block was read. Returns 1 on a list line. */
int connect_vkex_line(struct wire_kexinit *k, int *state, const char *line, size_t len);

#endif
