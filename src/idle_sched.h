/* idle_sched.h - the pure scheduling logic of `sshdoctor idle`: which connection
 * to open, probe or give up on, and when the answer is known. No I/O: the caller
 * passes the time in (ms, any monotonic origin) and reports what happened, so the
 * whole strategy is unit-tested on a simulated clock.
 *
 * Idea: every connection that is not probed keeps ageing; probing the oldest one
 * tests the largest idle age available, and one that answers is freshly idle again
 * (it becomes a young connection, not a lost one). Connections are opened in a
 * staggered burst, so when the scout dies at age U the others sit at ages just
 * below U: probing all of those in (L, U) at once (a sweep) narrows the bracket
 * without waiting another T. */
#ifndef SSHDOCTOR_IDLE_SCHED_H
#define SSHDOCTOR_IDLE_SCHED_H

#include <stdint.h>

#define ISC_MAX_CONNS 128
#define ISC_MAX_PROBES 1024
/* Where the world puts its idle timeouts (s): cloud NAT/LB and firewall defaults
 * (docs/facts.md). The scout probes just before and just after each. */
#define ISC_PRIORS_S 240, 300, 350, 600, 1200, 1800, 3600
#define ISC_PRIOR_BEFORE_MS 300	/* alive here ... */
#define ISC_PRIOR_AFTER_MS 600	/* ... dead here: a 0.9 s bracket around the default */

enum isc_state { ISC_FREE, ISC_CONNECTING, ISC_IDLE, ISC_PROBING, ISC_SUSPECT, ISC_DEAD };
/* Outcome of one probe; the values are also the JSON names (idle_result_name). */
enum isc_result { IR_ALIVE, IR_SILENT, IR_RESET, IR_CLOSED };
/* ISC_MINUTE: a NAT-TCP-test-style baseline, one connection per minute of idle
 * (the k-th probed after k minutes), 1-minute resolution, first death ends it. */
enum isc_method { ISC_FAST, ISC_NAIVE, ISC_MINUTE };

enum isc_done {
	ISC_RUNNING,
	ISC_FOUND,		/* confirmed bracket, narrow enough */
	ISC_NOT_FOUND,		/* alive at --max */
	ISC_KEEPALIVE,		/* server keepalives hide the path's timeout */
	ISC_INCONSISTENT,	/* longer-idle connections survive shorter dead ones */
	ISC_NO_CONNECTION,	/* no connection could be set up */
	ISC_DEADLINE,		/* wall-clock guard hit */
};

struct isc_params {
	enum isc_method method;
	int max_conns;		/* open at once (connecting, idle, probing, suspect) */
	int max_handshakes;	/* in flight at once */
	int64_t res_ms;		/* bracket width floor */
	int64_t max_ms;		/* largest idle age to test */
	int64_t probe_timeout_ms;	/* no echo after this: silent (suspect) */
};

struct isc_conn {
	enum isc_state st;
	int64_t since;		/* idle since (last echo received) */
	int64_t probe_at;	/* when the current probe was sent */
	int64_t probe_age;	/* idle age at that moment */
	int probe_idx;		/* index into probes[] of the current/last probe */
	int kern;		/* the kernel's TCP_INFO judges its probes (isched_kernel) */
	int reserve;		/* kept from the scout: 1 for the sweep, 2 for the defaults */
};

struct isc_probe {
	int64_t age_ms;
	int64_t at_ms;		/* sent, relative to start */
	enum isc_result res;
	int late;		/* answered after the probe timeout */
	int pending;		/* sent, no outcome yet */
	int kern;		/* silence seen by the kernel (retransmitted, never acked) */
};

enum isc_action_kind { ISC_WAIT, ISC_OPEN, ISC_PROBE, ISC_CLOSE, ISC_STOP };

struct isc_action {
	enum isc_action_kind kind;
	int conn;		/* OPEN/PROBE/CLOSE */
	int64_t until;		/* WAIT: call isched_next again at the latest then */
};

struct idle_sched {
	struct isc_params p;
	int64_t start;
	struct isc_conn c[ISC_MAX_CONNS];
	int nslots;
	struct isc_probe probes[ISC_MAX_PROBES];
	int nprobes;
	int64_t lower, upper;	/* bracket in ms; upper < 0: none yet */
	int ndead_ok;		/* deaths not contradicted by a longer-lived connection */
	int ncontradicted;	/* deaths a longer-idle survivor contradicts */
	int64_t ka_ms;		/* server keepalive interval seen, 0: none */
	int opened, failed, max_open;	/* counters */
	int open_cap;			/* > 0: no more opens past this many (isched_no_more_opens) */
	int64_t last_open;
	int ever_connected;
	int swept;		/* the sweep after the first death is done */
	int64_t sweep_at;	/* when its batch was sent, 0: not yet */
	int any_kern;		/* some connection has the kernel's view */
	int aborted;
	enum isc_done done;
};

void isched_init(struct idle_sched *s, const struct isc_params *p, int64_t now);
/* The next thing to do. Call repeatedly until WAIT or STOP. */
struct isc_action isched_next(struct idle_sched *s, int64_t now);

/* Events from the caller. */
void isched_connected(struct idle_sched *s, int conn, int64_t now);
void isched_connect_failed(struct idle_sched *s, int conn, int64_t now);
void isched_answer(struct idle_sched *s, int conn, int64_t now);	/* echo of a probe */
/* The connection died: RST, FIN/EOF, or the process exited. */
void isched_dead(struct idle_sched *s, int conn, enum isc_result how, int64_t now);
/* The kernel holds conn's socket for us: silence is its verdict (isched_silent),
 * not a timeout; the timeout stays only as a fallback. */
void isched_kernel(struct idle_sched *s, int conn);
/* The kernel retransmitted conn's probe without an ACK for several RTOs. */
void isched_silent(struct idle_sched *s, int conn, int64_t now);
/* The connection is gone without telling anything about the path (preauth
 * connections cut by LoginGraceTime). */
void isched_lost(struct idle_sched *s, int conn);
/* Lowers the largest idle age worth testing (e.g. to the LoginGraceTime seen). */
void isched_cap(struct idle_sched *s, int64_t max_ms);
/* A server keepalive arrived on conn; gap_ms = time since its previous traffic. */
void isched_keepalive(struct idle_sched *s, int conn, int64_t gap_ms);
/* Ends the run now (Ctrl-C): what is known stays known. */
void isched_abort(struct idle_sched *s);
/* A new connection failed after others worked (a limit on new connections, as
 * like as not): the run goes on with the ones open, and opens no more. */
void isched_no_more_opens(struct idle_sched *s);

/* Bracket width allowed for a lower bound: max(res, 1%). */
int64_t isched_width(const struct idle_sched *s, int64_t lower);
int isched_count(const struct idle_sched *s, enum isc_state st);
/* The age the scout tests next while no death is known (geometric step). */
int64_t isched_scout_target(const struct idle_sched *s);
/* The next age just before/after a common default inside the bracket, -1: none. */
int64_t isched_prior_target(const struct idle_sched *s);
/* Latest time (ms since start) the answer can arrive, for the progress line. */
int64_t isched_eta(const struct idle_sched *s, int64_t now);
const char *idle_result_name(enum isc_result r);

#endif
