/* idle.h - how long the real path lets an SSH connection sit idle, and how it
 * dies. idle_run measures (idle.c, on the event loop, strategy in idle_sched.c);
 * idle_judge turns the measurement into findings (idle_judge.c, pure). Neither
 * prints to stdout, so doctor can call them. */
#ifndef SSHDOCTOR_IDLE_H
#define SSHDOCTOR_IDLE_H

#include <stdint.h>

#include "finding.h"
#include "idle_sched.h"
#include "srvpolicy.h"
#include "target.h"

enum idle_via { VIA_SSH, VIA_TCP, VIA_PREAUTH };

struct idle_opts {
	enum idle_via via;
	int via_explicit;	/* --via given: no fallback to preauth */
	int64_t max_ms;		/* largest idle age tested (default 30 min) */
	int64_t res_ms;		/* bracket width floor (default 2 s) */
	int connections;	/* open at once (default 32) */
	int naive;		/* baseline for benchmarks: double, then bisect */
	int minute;		/* baseline: one connection per minute of idle */
	int progress;		/* live progress line on stderr */
	int save;		/* remember the result in the state directory */
};

enum idle_setup_error { IDLE_SETUP_OK, IDLE_AUTH, IDLE_UNREACHABLE, IDLE_REMOTE_CMD, IDLE_OTHER };

/* Everything measured, in plain values (ms); the analyser's only input. */
struct idle_result {
	enum idle_via via;
	enum isc_done done;
	int interrupted;
	int64_t lower_ms, upper_ms;	/* upper < 0: none */
	int expiry;			/* enum isc_result of the deaths, -1 none */
	int64_t server_ka_ms;		/* 0: none seen */
	int64_t elapsed_ms, max_ms;
	int connections, max_open;
	int ndead, ncontradicted, nlate;
	const struct isc_probe *probes;
	int nprobes;
	enum idle_setup_error setup;
	char setup_msg[256];		/* the line ssh (or connect) printed */
	int64_t preauth_cap_ms;		/* preauth: the server cut connections at this age */
	/* the user's real keepalive settings (ssh -G), -1 unknown */
	long client_interval, client_countmax;
	const char *host;		/* for the fix ("Host ...") */
	/* how the deaths looked (via ssh: ssh -v's last words) */
	int nchanclose;			/* sshd closed the channel, no exit status */
	int nfin;			/* a TCP close without an SSH close */
	int nunprompted;		/* died while idle, no probe in flight */
	const struct srvpolicy *policy;	/* read through the login, or NULL */
};

int idle_run(const struct idle_opts *o, struct target *t, const struct sshopts *so,
	     struct report *r);

/* Analyser: findings + measurements.idle from a result. Pure. */
void idle_judge(const struct idle_result *res, struct report *r);
/* measurements.idle as the JSON contract says (caller owns it). */
struct json_object *idle_json(const struct idle_result *res);
/* Keepalive interval to recommend below a lower bound (s). */
long idle_safe_interval(double lower_s);

const char *idle_via_name(enum idle_via v);
int idle_via_parse(const char *s, enum idle_via *v);

#endif
