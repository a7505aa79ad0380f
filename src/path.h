/* path.h - `sshdoctor path`: loss, jitter, latency and MTU of the path SSH uses,
 * without root on either end. Probes (pathprobe.c, pmtu.c, pathsess.c) fill a
 * struct path_meas; the analyser (pathstat.c, pure) turns it into findings. */
#ifndef SSHDOCTOR_PATH_H
#define SSHDOCTOR_PATH_H

#include <stddef.h>
#include <stdint.h>

#include "finding.h"
#include "target.h"

#define PATH_MAX_COUNT 1000
#define PATH_BH_RESOLUTION 32	/* black-hole bisection stops at this many bytes */

struct path_opts {
	int count;		/* probes per method (TCP, ICMP, session echo) */
	int64_t duration_ms;	/* budget for the whole run */
	long bulk;		/* bytes pushed through the session for loss under load */
};

/* --- analysers (pure, unit-tested) -------------------------------------------- */

struct rtt_stats {
	size_t n;
	double min, avg, p50, p90, max;
	double jitter;		/* mean |rtt[i] - rtt[i-1]| in send order (RFC 3550 style) */
};

/* Percentiles by nearest rank on a sorted copy; jitter in the given order. */
void path_rtt_stats(const double *rtt, size_t n, struct rtt_stats *s);
/* Percentage of lost probes; 0 when nothing was sent. */
double path_loss_pct(size_t sent, size_t lost);
/* "256K", "1M", "1000" -> bytes (K/M/G are powers of 1024); -1 on error. */
long long path_parse_size(const char *s);

/* The black-hole search: climb a ladder of echo sizes until one does not come
 * back, then bisect between the largest that did and the smallest that did not.
 * A failure kills the TCP connection (the big segment is retransmitted forever),
 * so the caller runs each probe after a failure in a fresh session. */
#define BH_MAX_PROBES 24
struct bh_search {
	int ok;		/* largest echo size that came back (0: none yet) */
	int fail;	/* smallest that did not (0: none yet) */
	int confirmed;	/* the first failure was seen twice */
	int probes;	/* probes so far (bounded by BH_MAX_PROBES) */
	int steps[BH_MAX_PROBES];	/* each probe in order: +size came back, -size not */
};
void bh_init(struct bh_search *b);
/* The next payload size to try, or 0 when the search is over. */
int bh_next(const struct bh_search *b);
void bh_result(struct bh_search *b, int size, int passed);
/* Bytes an echo payload gains on the wire (SSH framing + TCP/IP headers). */
int bh_overhead(int ipv6);

/* --- measurements ------------------------------------------------------------ */

struct probe_series {
	int available;		/* 0: method not usable here (why in note) */
	char note[160];
	size_t sent, lost;
	double rtt[PATH_MAX_COUNT];	/* replies in send order (ms) */
	size_t n;
};

struct tcpi_snap {
	int valid;
	uint32_t rtt_us, rttvar_us, pmtu, snd_mss, total_retrans, lost;
	uint32_t data_segs_out, segs_out;
	uint32_t dsack_dups;	/* retransmissions the receiver already had */
};

struct pmtu_result {
	int tried;
	int first_mtu;		/* the MTU the kernel started with */
	int pmtu;		/* confirmed by an answer at this size, 0: none */
	int icmp_mtu;		/* smallest MTU announced by ICMP frag-needed, 0: none */
	int small_answered;	/* a small probe got an answer */
	char note[160];
};

struct path_meas {
	char addr[64];		/* numeric address probed */
	int ipv6;
	int proxied;		/* ProxyCommand/ProxyJump: direct probes skipped */
	struct probe_series tcp, icmp, echo;
	/* session */
	int session_ok;		/* the session echoed a small token */
	char session_err[256];
	int relay_fd_ok;	/* we saw the session's TCP socket */
	struct tcpi_snap before, after;	/* around the bulk transfer */
	struct tcpi_snap echo_before, echo_after;	/* around the echo series */
	char software[96];	/* the server's, from the session's ssh -v ("" unknown) */
	int session_refused;	/* closed before the banner (penalty, throttle, ban) */
	/* do no harm: TCP handshakes to the SSH port are unauthenticated
	 * connections, which sshd 9.8+ penalises (budget.h) */
	int may_penalise;	/* the server may (or its version is unknown) */
	int tcp_wanted;		/* handshakes asked for; tcp.sent is what the budget allowed */
	double penalty_wait_s;	/* our ledger's outstanding penalty after the run */
	double ledger_before;	/* ... and before it: > 0, we probed this server just now */
	/* per handshake, in send order: 1 answered (SYN-ACK), 2 refused (RST),
	 * 0 no answer, -1 not attempted */
	signed char tcp_outcome[PATH_MAX_COUNT];
	long bulk_sent, bulk_echoed;
	int64_t bulk_ms;
	/* MTU */
	struct bh_search bh;
	int bh_tested;
	int bh_unfinished;	/* stopped early (time, ssh died): no verdict */
	struct pmtu_result pmtu;
	int mtu_probing;	/* net.ipv4.tcp_mtu_probing, -1 unknown */
	char ifname[32];	/* outgoing interface, "" unknown */
};

/* Findings and measurements.path from a measurement (pure). */
void path_judge(const struct path_meas *m, struct report *r);
/* Loss under load from two TCP_INFO snapshots: retransmissions the receiver did
 * not already have (DSACK), per data segment sent; -1 when too few segments. */
double path_load_loss(const struct tcpi_snap *before, const struct tcpi_snap *after);
/* New connections cut off by a rate limit (nftables limit/meter, iptables
 * recent/hashlimit, fail2ban): the first handshakes answered, then a run of
 * them dropped or refused while ICMP and the session's own segments pass.
 * Returns the index of the first cut-off handshake, or -1. */
int path_rate_limited(const struct path_meas *m);
/* Loss of the session's own segments during the echo series (TCP_INFO), -1
 * when not measured. */
double path_echo_loss(const struct path_meas *m, uint32_t *segs, uint32_t *retrans);
/* Path MTU implied by the largest echo that came back (0: none). */
int path_suspected_mtu(const struct path_meas *m);

/* --- probes -------------------------------------------------------------------- */

struct evloop;
/* TCP handshakes (tcp_count of them, at most count) to addr:port and count ICMP
 * echoes (ping sockets), interleaved. */
void pathprobe_run(struct evloop *ev, const char *addr, int port, int count, int tcp_count,
		   int64_t deadline, struct path_meas *m);
/* UDP path MTU discovery toward addr (IP_MTU_DISCOVER + IP_RECVERR). */
void pmtu_run(const char *addr, int64_t deadline, struct pmtu_result *p);
/* Echo round trips, the black-hole search and the bulk transfer through live
 * sessions of the user's ssh, relayed by `sshdoctor relay` (self_exe). */
void pathsess_run(struct evloop *ev, const struct path_opts *o, const struct target *t,
		  const struct sshopts *so, const char *self_exe, int64_t deadline,
		  struct path_meas *m);

/* Resolves, probes, analyses; fills r. Never prints to stdout. Returns 0, or -1
 * (r->unknown set, a finding says why) when nothing could be measured. */
int path_run(const struct path_opts *o, struct target *t, const struct sshopts *so,
	     struct report *r);

#endif
