/* keep_judge.h - why did the tunnel's ssh exit, and what should keep do about
 * it? Pure: ssh's stderr (-v lines, read by sshvlog plus the forwarding and
 * fatal lines keep needs) and its exit status in, a cause and an action out.
 * The cause names are a public contract (README, sshdoctor(1), the history
 * store's keep events): KEEP_CAUSES lists them once. */
#ifndef SSHDOCTOR_KEEP_JUDGE_H
#define SSHDOCTOR_KEEP_JUDGE_H

#include <stddef.h>
#include <stdint.h>

#include "sshvlog.h"

/* X(enum, name, action): action is what keep does next. */
#define KEEP_CAUSES(X) \
	X(KC_AUTH_REFUSED, "auth-refused", KA_STOP_AUTH) \
	X(KC_HOSTKEY, "hostkey-changed", KA_STOP) \
	X(KC_CONFIG, "config-error", KA_STOP) \
	X(KC_PENALTY, "penalty", KA_WAIT_PENALTY) \
	X(KC_DNS, "dns", KA_WAIT_NET) \
	X(KC_NO_ROUTE, "no-route", KA_WAIT_NET) \
	X(KC_REFUSED, "refused", KA_RETRY) \
	X(KC_CONNECT_TIMEOUT, "connect-timeout", KA_RETRY) \
	X(KC_FORWARD_HELD, "forward-held", KA_WAIT_REAP) \
	X(KC_LOCAL_BUSY, "local-port-busy", KA_WAIT_REAP) \
	X(KC_PATH_SILENT, "path-silent", KA_RETRY) \
	X(KC_PATH_RESET, "path-reset", KA_RETRY) \
	X(KC_SERVER_CLOSED, "server-closed", KA_RETRY) \
	X(KC_CHECK_FAILED, "check-failed", KA_RETRY) \
	X(KC_KILLED, "killed", KA_RETRY) \
	X(KC_EXITED, "exited", KA_RETRY) \
	X(KC_UNKNOWN, "unknown", KA_RETRY)

#define KEEP_ENUM(e, n, a) e,
enum keep_cause { KEEP_CAUSES(KEEP_ENUM) KC_N };
#undef KEEP_ENUM

enum keep_action {
	KA_RETRY,		/* backoff with jitter */
	KA_STOP,		/* never retry: the user must act */
	KA_STOP_AUTH,		/* stop; a tunnel that was up before gets a few slow tries */
	KA_WAIT_PENALTY,	/* sshd refuses us for a while: wait it out */
	KA_WAIT_NET,		/* wait for a route/address change (netlink), slow fallback */
	KA_WAIT_REAP,		/* the listener is held: retry at the rate reaping allows */
};

const char *keep_cause_name(enum keep_cause c);
int keep_cause_parse(const char *s);	/* -1 when unknown */
enum keep_action keep_cause_action(enum keep_cause c);

#define KEEP_LINE_MAX VLOG_LINE_MAX

/* What one ssh run printed, accumulated line by line (bounded). */
struct keep_obs {
	struct sshvlog vl;
	int local_listening;	/* "Local forwarding listening on ..." lines */
	int remote_ok;		/* "remote forward success ..." */
	int interactive;	/* "Entering interactive session" */
	int held_port;		/* "remote port forwarding failed for listen port N" */
	char held_path[108];	/* "... for listen path P" (a unix socket) */
	int local_busy;		/* bind: Address already in use / cannot listen */
	int hostkey_changed, hostkey_failed;
	int config_error;	/* ssh refused its own arguments or config */
	int banner_closed;	/* closed/reset before the server's banner */
	int not_responding;	/* "Timeout, server ... not responding." */
	int reset, broken_pipe, closed_by_remote;
	int dns_failed, no_route, refused, timed_out;
	int killed_by_signal;	/* "Killed by signal N." */
	char last_error[200];	/* the last line that was not debug output */
	char line[KEEP_LINE_MAX + 1];
	size_t llen;
	int discarding;
};

void keep_obs_init(struct keep_obs *o, int64_t t0);
/* Raw stderr bytes received at monotonic time t. */
void keep_obs_feed(struct keep_obs *o, int64_t t, const char *data, size_t n);
void keep_obs_line(struct keep_obs *o, int64_t t, const char *line, size_t len);
void keep_obs_finish(struct keep_obs *o, int64_t t);

/* How many of the forwards asked for are up: nlocal -L/-D listeners seen,
 * nremote -R confirmations. */
int keep_obs_ready(const struct keep_obs *o, int want_remote);

struct keep_verdict {
	enum keep_cause cause;
	enum keep_action action;
	char detail[256];	/* one line for the log: what ssh said, what it means */
	char advice[256];	/* what the user (or the server's admin) should change, or "" */
};

/* exit_status: 0..255 exit code, 128+N when killed by signal N (as a shell says). */
void keep_judge(const struct keep_obs *o, int exit_status, struct keep_verdict *v);

/* Backoff: the delay before retry n (0-based), in ms, with jitter from r in
 * [0,1): first retry within a second, doubling, capped at cap_ms. */
int64_t keep_backoff_ms(int n, int64_t cap_ms, double r);

/* Attempts in a row whose SYNs sshd never answered (dropped, or refused by the
 * kernel) before keep goes quiet: a limit that counts new connections (nftables
 * meters, iptables recent --update, hashlimit) stays shut while we knock. */
#define KEEP_QUIET_AFTER 3
/* The quiet after n such attempts, in ms, jittered up by r in [0,1) (10% at
 * most): 0 below KEEP_QUIET_AFTER, then 30 s doubling to 5 min. */
int64_t keep_quiet_ms(int n, double r);

#endif
