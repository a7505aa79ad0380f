/* watch.h - the flight recorder's writing half: what `sshdoctor relay` sets on
 * the socket it hands to ssh (ProxyUseFdpass), and the watcher that keeps a
 * duplicate of it, observes it (TCP_INFO, RDHUP/ERR, ssh's pid, netlink,
 * clocks) without ever reading a byte, and records the session in the history
 * store. The judging is pure (watch_judge.c) and unit-tested; watch.c measures. */
#ifndef SSHDOCTOR_WATCH_H
#define SSHDOCTOR_WATCH_H

#include <stdint.h>
#include <sys/types.h>

#include "history.h"

/* --- keepalive derivation ---------------------------------------------------- */

#define WATCH_DEFAULT_KEEPIDLE_S 60	/* no measurement: below every common NAT/LB default */
#define WATCH_KEEPCNT 3

struct watch_ka {
	int on;			/* SO_KEEPALIVE set */
	int idle_s, intvl_s, cnt;
	int user_timeout_ms;	/* TCP_USER_TIMEOUT, 0: not set */
	char source[24];	/* "measured", "learned", "default", "given", "off" */
};

/* From the path's idle timeout (lower bound of a stored `idle` result, found
 * or not; idle_lower_s <= 0: unknown): keepidle half of it (1..300 s), else
 * WATCH_DEFAULT_KEEPIDLE_S; intvl keepidle/5 (1..10 s); cnt 3;
 * user timeout keepidle + intvl x cnt (a dead path is noticed within it). */
void watch_ka_derive(long idle_lower_s, int found, struct watch_ka *ka);

/* --- observations and the ending --------------------------------------------- */

/* How long after our last data a FIN from the server counts as its answer to
 * ssh's disconnect (clean), not its own close: rtt-scaled, bounded. */
int64_t watch_reply_window_ms(int64_t rtt_us);

struct watch_obs {
	int sock_err;		/* SO_ERROR seen (ECONNRESET, ETIMEDOUT, ...), 0 none */
	int closed;		/* tcpi_state TCP_CLOSE without a FIN exchange */
	int fin;		/* FIN from the server (RDHUP / CLOSE_WAIT) */
	int fin_ssh_alive;	/* ... while ssh was still running */
	int64_t fin_last_sent_ms;	/* tcpi_last_data_sent when the FIN was seen */
	int64_t fin_last_recv_ms;	/* tcpi_last_data_recv then (the server's last data) */
	int ssh_gone;		/* ssh (and every process holding the socket) exited */
	int64_t gone_last_sent_ms;	/* tcpi_last_data_sent when ssh was seen gone */
	int gone_unacked;	/* data in flight, unanswered, when ssh went */
	int retrans;		/* the last look saw retransmissions or keepalive probes unanswered */
	int64_t reply_window_ms;	/* watch_reply_window_ms of the session's rtt */
	int preauth;		/* so few bytes crossed that no login can have completed */
	int64_t server_gap_ms;	/* the idle the server's data ended, when it spoke first */
	int64_t end_after_words_ms;	/* the end came this long after the server broke a
					 * silence (-1: we spoke first, or no silence) */
	int net_changed;	/* source address or default route changed under the session */
	int64_t suspended_ms;	/* how far CLOCK_BOOTTIME ran ahead of CLOCK_MONOTONIC */
};

/* A server that spoke first after this much silence and closed ended the
 * session itself; shorter waits are a busy server answering late. */
#define WATCH_SERVER_GAP_MIN_MS 5000
/* A loaded machine (ours or the server) may take this long between ssh's
 * answer to the server's channel close and the FIN that follows it. */
#define WATCH_CLOSE_SLACK_MS 3000
#define WATCH_SUSPEND_MIN_MS 3000	/* less is timer noise, not a sleep */
/* After a closing exchange (the server spoke, ssh answered at once, ssh
 * exited) the server's FIN is certain to come; a loaded server (sshd-session
 * reaping its child, ASan builds, a busy CI) may take this long to send it. */
#define WATCH_CLOSE_WAIT_MS 15000

/* Pure: how long the watcher waits for the server's FIN once ssh is gone,
 * from tcpi_last_data_sent/recv then. 0: ssh had been silent (killed idle). */
int64_t watch_gone_wait_ms(int64_t last_sent_ms, int64_t last_recv_ms, int64_t reply_window_ms);

/* Pure: how the session ended, with a one-line reason in detail. */
enum hist_end watch_classify(const struct watch_obs *o, char *detail, size_t n);

/* Injectable clocks (unit tests: a machine that slept). */
struct watch_clock {
	int64_t (*mono_ms)(void *arg);
	int64_t (*boot_ms)(void *arg);
	void *arg;
};
extern const struct watch_clock watch_clock_real;
/* Sleep during [start, now] in ms (0 below WATCH_SUSPEND_MIN_MS). */
int64_t watch_suspended_ms(int64_t mono0, int64_t boot0, int64_t mono1, int64_t boot1);

/* Passive idle evidence: the gap ended at cross_ms (first packet across after
 * quiet since quiet_ms). With the relay's keepalive on, its probes crossed
 * every keepidle: the path was proven only that long. Returns the gap in ms. */
int64_t watch_gap_ms(int64_t quiet_ms, int64_t cross_ms, const struct watch_ka *ka);

/* --- the watcher --------------------------------------------------------------- */

struct watch_args {
	int sock;		/* our duplicate of ssh's socket */
	int pidfd;		/* ssh's pidfd, -1: watch ssh_pid by polling */
	pid_t ssh_pid;
	const char *db;		/* store path, NULL: the default */
	const char *target, *port;
	struct watch_ka ka;
	const struct watch_clock *clock;	/* NULL: watch_clock_real */
};

/* Runs in the watcher process until ssh is gone or the socket is dead; the
 * record is written at the start, on each gap and at the end. Never reads the
 * socket. Returns 0, or -1 when the store could not be used (said once on
 * stderr). */
int watch_run(const struct watch_args *a);

#endif
