/* idle_sched.c - when to open, probe and stop (see idle_sched.h). Pure: no I/O,
 * no clock; every decision is a function of the state and the time passed in. */
#include "idle_sched.h"

#include <string.h>

#define STEP_PERMILLE 80	/* scouting step: 8% of the lower bound (the sweep refines) */
#ifndef STEP_MIN_MS
#define STEP_MIN_MS 3000	/* ... and never less: fewer scout probes, older connections left */
#endif
#ifndef RESERVE_PERCENT
#define RESERVE_PERCENT 33	/* the burst's last third waits for the sweep */
#endif
#ifndef PRIOR_FIRST
#define PRIOR_FIRST 1
#endif
#ifndef PRIOR_RESERVE
#define PRIOR_RESERVE 5		/* the first ones after the first login wait for the defaults */
#endif
#ifndef OPEN_GAP_MS
#define OPEN_GAP_MS 200		/* the burst spread over ~6 s: the reserve's ages cover a step */
#endif
#define WIDTH_PERMILLE 10	/* answer width: 1% of the lower bound */
#define TOL_MS 250		/* timing noise: ACK delay, scheduling */
#define MAX_OPENED_FACTOR 4	/* bound on connections opened over a run */
#define OPEN_SPREAD 24		/* initial burst: one open per resolution/24 at most */
#define SILENT_GRACE 2		/* probe timeouts a silent probe may still be answered late */
#define KERN_FALLBACK_MS 15000	/* kernel-judged probe: no verdict and no echo by then */

const char *idle_result_name(enum isc_result r)
{
	static const char *const n[] = { "alive", "silent", "reset", "closed" };
	return n[r];
}

void isched_init(struct idle_sched *s, const struct isc_params *p, int64_t now)
{
	memset(s, 0, sizeof(*s));
	s->p = *p;
	if (s->p.max_conns > ISC_MAX_CONNS)
		s->p.max_conns = ISC_MAX_CONNS;
	if (s->p.max_conns < 1)
		s->p.max_conns = 1;
	if (s->p.max_handshakes < 1)
		s->p.max_handshakes = 1;
	if (s->p.method == ISC_NAIVE)
		s->p.max_conns = s->p.max_handshakes = 1;
	s->start = now;
	s->upper = -1;
}

int64_t isched_width(const struct idle_sched *s, int64_t lower)
{
	int64_t rel = lower * WIDTH_PERMILLE / 1000;
	return rel > s->p.res_ms ? rel : s->p.res_ms;
}

static int64_t scout_step(const struct idle_sched *s)
{
	int64_t rel = s->lower * STEP_PERMILLE / 1000;
	if (rel < STEP_MIN_MS)
		rel = STEP_MIN_MS;
	return rel > s->p.res_ms ? rel : s->p.res_ms;
}

int isched_count(const struct idle_sched *s, enum isc_state st)
{
	int n = 0;
	for (int i = 0; i < s->nslots; i++)
		n += s->c[i].st == st;
	return n;
}

static int open_count(const struct idle_sched *s)
{
	return isched_count(s, ISC_CONNECTING) + isched_count(s, ISC_IDLE) +
	       isched_count(s, ISC_PROBING) + isched_count(s, ISC_SUSPECT);
}

/* L = longest idle that answered; U = shortest idle that died, unless a longer
 * idle answered (then that death was loss or noise, not the timeout). */
static void recompute(struct idle_sched *s)
{
	int64_t lo = 0, up = -1;
	int ok = 0, bad = 0;
	for (int i = 0; i < s->nprobes; i++)
		if (!s->probes[i].pending && s->probes[i].res == IR_ALIVE && s->probes[i].age_ms > lo)
			lo = s->probes[i].age_ms;
	for (int i = 0; i < s->nprobes; i++) {
		const struct isc_probe *p = &s->probes[i];
		if (p->pending || p->res == IR_ALIVE)
			continue;
		if (p->age_ms + TOL_MS < lo) {
			bad++;
			continue;
		}
		ok++;
		if (up < 0 || p->age_ms < up)
			up = p->age_ms;
	}
	if (up >= 0 && lo > up)
		lo = up;	/* within the tolerance: keep L <= U */
	s->lower = lo;
	s->upper = up;
	s->ndead_ok = ok;
	s->ncontradicted = bad;
}

static int add_probe(struct idle_sched *s, int64_t age, int64_t at, enum isc_result res)
{
	if (s->nprobes >= ISC_MAX_PROBES)
		return -1;
	s->probes[s->nprobes] = (struct isc_probe){ age, at - s->start, res, 0, 0, 0 };
	return s->nprobes++;
}

static void expire_probes(struct idle_sched *s, int64_t now)
{
	for (int i = 0; i < s->nslots; i++) {
		struct isc_conn *c = &s->c[i];
		int64_t pt = c->kern ? KERN_FALLBACK_MS : s->p.probe_timeout_ms;
		if (c->st != ISC_PROBING || now < c->probe_at + pt)
			continue;
		c->st = ISC_SUSPECT;
		if (c->probe_idx >= 0) {
			s->probes[c->probe_idx].res = IR_SILENT;
			s->probes[c->probe_idx].pending = 0;
		}
	}
	recompute(s);
}

static int oldest_idle(const struct idle_sched *s)
{
	int best = -1;
	for (int i = 0; i < s->nslots; i++)
		if (s->c[i].st == ISC_IDLE && (best < 0 || s->c[i].since < s->c[best].since))
			best = i;
	return best;
}

/* The scout's connection: the oldest not reserved. The burst's last third is
 * kept untouched: the scout, cycling through the first two thirds, lags behind
 * the wall clock by about their logins, so when it first dies the reserve's ages
 * (opened just after) fill the gap below its last step, a login time apart. */
static int scout_conn(const struct idle_sched *s)
{
	int best = -1;
	/* no more opens (isched_no_more_opens): nothing to keep a reserve for */
	for (int i = 0; i < s->nslots; i++)
		if (s->c[i].st == ISC_IDLE && (!s->c[i].reserve || s->open_cap) &&
		    (best < 0 || s->c[i].since < s->c[best].since))
			best = i;
	return best >= 0 ? best : oldest_idle(s);
}

static int free_slot(struct idle_sched *s)
{
	for (int i = 0; i < s->nslots; i++)
		if (s->c[i].st == ISC_FREE || s->c[i].st == ISC_DEAD)
			return i;
	return s->nslots < ISC_MAX_CONNS ? s->nslots++ : -1;
}

/* Deaths (contradicted by a longer-lived connection, or not) that can no longer
 * turn out to be a late answer: resets, closes, and silences old enough. */
static int firm_deaths(const struct idle_sched *s, int64_t now, int contradicted)
{
	int n = 0;
	for (int i = 0; i < s->nprobes; i++) {
		const struct isc_probe *p = &s->probes[i];
		if (p->pending || p->res == IR_ALIVE ||
		    (p->age_ms + TOL_MS < s->lower) != contradicted)
			continue;
		if (p->res != IR_SILENT || p->kern ||
		    now - s->start - p->at_ms >= SILENT_GRACE * s->p.probe_timeout_ms)
			n++;
	}
	return n;
}

/* When the next silent probe becomes firm (INT64_MAX: none pending). */
static int64_t firm_at(const struct idle_sched *s, int64_t now)
{
	int64_t t = INT64_MAX;
	for (int i = 0; i < s->nprobes; i++) {
		int64_t at = s->start + s->probes[i].at_ms + SILENT_GRACE * s->p.probe_timeout_ms;
		if (!s->probes[i].pending && s->probes[i].res == IR_SILENT && !s->probes[i].kern &&
		    at > now && at < t)
			t = at;
	}
	return t;
}

/* Bound on connections opened over a whole run (deaths are replaced). */
static int max_opens(const struct idle_sched *s)
{
	int n = s->p.method == ISC_NAIVE ? 64 : s->p.max_conns * MAX_OPENED_FACTOR + 8;
	return s->open_cap > 0 && s->open_cap < n ? s->open_cap : n;
}

static void check_done(struct idle_sched *s, int64_t now)
{
	int probing = isched_count(s, ISC_PROBING);
	int open = open_count(s);
	if (s->done)
		return;
	if (!s->ever_connected && s->failed > 0 && isched_count(s, ISC_CONNECTING) == 0)
		s->done = ISC_NO_CONNECTION;
	else if (s->ever_connected && open == 0 && s->opened >= max_opens(s))
		s->done = ISC_NO_CONNECTION;
	else if (s->ncontradicted >= 2 && firm_deaths(s, now, 1) >= 2)
		s->done = ISC_INCONSISTENT;
	else if (s->upper >= 0 && !probing && s->upper - s->lower <= isched_width(s, s->lower) &&
		 ((s->ndead_ok >= 2 && firm_deaths(s, now, 0) == s->ndead_ok) ||
		  s->p.method == ISC_NAIVE))
		s->done = ISC_FOUND;
	else if (s->p.method == ISC_MINUTE && s->upper >= 0 && !probing && firm_deaths(s, now, 0) >= 1)
		s->done = ISC_FOUND;	/* the baseline stops at its first death */
	else if (s->upper < 0 && s->lower >= s->p.max_ms)
		s->done = ISC_NOT_FOUND;
	else if (s->upper < 0 && s->ka_ms > 0 && !probing &&
		 s->lower >= s->ka_ms + (s->ka_ms / 2 > s->p.res_ms ? s->ka_ms / 2 : s->p.res_ms))
		s->done = ISC_KEEPALIVE;
	else if (now - s->start > s->p.max_ms + s->p.max_ms / 4 + 60000 +
		 (s->p.method == ISC_NAIVE ? 3 * s->p.max_ms : 0))
		/* out of time with a bracket wider than wanted but confirmed (two
		 * firm deaths above it, none contradicted): that bracket is the answer */
		s->done = s->upper >= 0 && !probing && !s->ncontradicted && s->ndead_ok >= 2 &&
				  firm_deaths(s, now, 0) == s->ndead_ok ? ISC_FOUND : ISC_DEADLINE;
}

/* Staggered opening: idle ages spread over the resolution even when connecting
 * is instant (raw TCP), so a sweep after the first death has ages to test. */
static int64_t open_gap(const struct idle_sched *s)
{
	if (s->p.method == ISC_NAIVE)
		return 0;
	return s->p.res_ms / OPEN_SPREAD > OPEN_GAP_MS ? s->p.res_ms / OPEN_SPREAD : OPEN_GAP_MS;
}

static int want_open(const struct idle_sched *s, int64_t now)
{
	if (open_count(s) >= s->p.max_conns ||
	    isched_count(s, ISC_CONNECTING) >= s->p.max_handshakes ||
	    s->opened >= max_opens(s))
		return 0;
	if (!s->ever_connected && s->failed)
		return 0;	/* the first ones failed: finish fast, do not retry */
	/* One login at a time until one works: each failed login costs 5 s of
	 * PerSourcePenalties (9.8+), and four at once activate the penalty. */
	if (!s->ever_connected && isched_count(s, ISC_CONNECTING) >= 1)
		return 0;
	if (s->p.method == ISC_NAIVE || s->upper < 0)
		return 1;
	/* bracket phase: young connections only help when none younger than U is left */
	if (isched_count(s, ISC_CONNECTING))
		return 0;
	for (int i = 0; i < s->nslots; i++)
		if (s->c[i].st == ISC_IDLE && s->c[i].since > now - s->upper)
			return 0;
	return 1;
}

/* The idle connection that tests an age in [min_age, max_age] soonest: the
 * oldest one below max_age. Returns -1 when none is below max_age. */
static int pick(const struct idle_sched *s, int64_t now, int64_t max_age)
{
	int best = -1;
	for (int i = 0; i < s->nslots; i++) {
		if (s->c[i].st != ISC_IDLE || now - s->c[i].since > max_age)
			continue;
		if (best < 0 || s->c[i].since < s->c[best].since)
			best = i;
	}
	return best;
}

/* The scout's next age: a geometric step. */
int64_t isched_scout_target(const struct idle_sched *s)
{
	int64_t t = s->lower + scout_step(s);
	return t < s->p.max_ms ? t : s->p.max_ms;
}

/* The next age to test at a common default inside the bracket (-1: none):
 * just after it first (one connection per default when T is elsewhere), and
 * just before it once a death at or below that age is known, so a death at the
 * default is bracketed to under a second without a sweep. */
int64_t isched_prior_target(const struct idle_sched *s)
{
	static const int64_t priors[] = { ISC_PRIORS_S };
	for (size_t i = 0; i < sizeof(priors) / sizeof(priors[0]); i++) {
		int64_t before = priors[i] * 1000 - ISC_PRIOR_BEFORE_MS;
		int64_t after = priors[i] * 1000 + ISC_PRIOR_AFTER_MS;
		if (before > s->p.max_ms)
			break;
		if (s->upper > before && s->upper <= after && before > s->lower)
			return before;
		if (after > s->lower && (s->upper < 0 || after < s->upper) && after <= s->p.max_ms)
			return after;
	}
	return -1;
}

/* Of two (connection, age) plans, the one that can be probed first. */
static int sooner(const struct idle_sched *s, int a, int64_t ta, int b, int64_t tb, int64_t *target)
{
	if (b >= 0 && (a < 0 || s->c[b].since + tb < s->c[a].since + ta)) {
		*target = tb;
		return b;
	}
	*target = ta;
	return a;
}

/* The connection to probe next and the age it should have; -1 if none. */
static int fast_choice(const struct idle_sched *s, int64_t now, int64_t *target)
{
	/* a common default in the bracket: the oldest connection not yet past it
	 * (the reserve, untouched since the burst) is probed at exactly that age */
	int64_t pt = isched_prior_target(s);
	int pc = pt >= 0 ? pick(s, now, pt) : -1;
	if (s->upper < 0)
		return sooner(s, scout_conn(s), isched_scout_target(s), pc, pt, target);
	if (s->upper - s->lower > isched_width(s, s->lower)) {	/* bisect with a younger one */
		/* one that will be exactly at the midpoint, when there is one: the oldest
		 * below upper is often already past it (slow logins age them together),
		 * and probing those at once only shaves the top off the bracket */
		int64_t mid = (s->lower + s->upper) / 2, q = (s->upper - s->lower) / 4;
		int c = pick(s, now, mid + q);
		if (c < 0)
			return sooner(s, pick(s, now, s->upper - 1), mid, pc, pt, target);
		/* one already in the middle half goes now; a younger one waits for
		 * the midpoint, and waking a little late still finds it in that half
		 * (with the midpoint as the bound, each late wake-up passed it over
		 * for a younger one: a 130 s bracket never narrowed) */
		return sooner(s, c, now - s->c[c].since >= mid - q ? mid - q : mid, pc, pt, target);
	}
	if (s->ndead_ok >= 2)
		return -1;	/* narrow and confirmed: only waiting for it to be firm */
	*target = s->upper + TOL_MS;	/* confirm the death with a second one */
	return oldest_idle(s);
}

static int64_t naive_target(const struct idle_sched *s)
{
	if (s->upper < 0) {
		int64_t t = s->lower ? 2 * s->lower : s->p.res_ms;
		return t < s->p.max_ms ? t : s->p.max_ms;
	}
	return (s->lower + s->upper) / 2;
}

static struct isc_action act(enum isc_action_kind k, int conn, int64_t until)
{
	return (struct isc_action){ k, conn, until };
}

static struct isc_action probe(struct idle_sched *s, int i, int64_t now)
{
	struct isc_conn *c = &s->c[i];
	c->st = ISC_PROBING;
	c->probe_at = now;
	c->probe_age = now - c->since;
	/* counted as alive until it answers otherwise; a full table keeps it anonymous */
	c->probe_idx = add_probe(s, c->probe_age, now, IR_ALIVE);
	if (c->probe_idx >= 0)
		s->probes[c->probe_idx].pending = 1;	/* no outcome yet */
	return act(ISC_PROBE, i, 0);
}

/* After a death, test at once every connection whose age lies inside the
 * bracket, and one older than U to confirm the death. */
static int sweep_candidate(const struct idle_sched *s, int64_t now)
{
	if (s->swept || s->upper < 0)
		return -1;
	/* one batch: the connections in the bracket when the death is known, not
	 * each one that ages into it while their verdicts are awaited */
	if (s->sweep_at && now != s->sweep_at)
		return -1;
	/* a common default just below the death: the ones younger than it are
	 * kept for the probe just before it */
	int64_t lo = s->lower, pt = isched_prior_target(s);
	if (pt > lo && pt < s->upper)
		lo = pt;
	int confirm = -1;
	for (int i = 0; i < s->nslots; i++) {
		int64_t age = now - s->c[i].since;
		if (s->c[i].st != ISC_IDLE)
			continue;
		if (age > lo && age < s->upper)
			return i;
		if (age >= s->upper + TOL_MS && (confirm < 0 || s->c[i].since > s->c[confirm].since))
			confirm = i;
	}
	for (int i = 0; i < s->nslots; i++)
		if (s->c[i].st == ISC_PROBING && s->c[i].probe_age >= s->upper)
			return -1;	/* one confirmation at a time */
	return s->ndead_ok < 2 ? confirm : -1;
}

static int64_t earliest_timeout(const struct idle_sched *s, int64_t until)
{
	for (int i = 0; i < s->nslots; i++)
		if (s->c[i].st == ISC_PROBING && s->c[i].probe_at + s->p.probe_timeout_ms < until)
			until = s->c[i].probe_at + s->p.probe_timeout_ms;
	return until;
}

/* Every slot held, none young enough to test an age inside a bracket still
 * too wide, the death confirmed: connections past U can only die, so one of
 * them (the oldest; else a silent one past its grace) makes room for a new
 * one. Without this the run sat out its deadline (slow ASan logins aged the
 * whole burst past U while the sweep's verdicts were awaited: 256 s for T=6). */
static int make_room(const struct idle_sched *s, int64_t now)
{
	if (s->p.method == ISC_NAIVE || s->upper < 0 || s->ndead_ok < 2 ||
	    s->upper - s->lower <= isched_width(s, s->lower) || open_count(s) < s->p.max_conns ||
	    s->opened >= max_opens(s) || isched_count(s, ISC_CONNECTING) ||
	    isched_count(s, ISC_PROBING))
		return -1;
	int idle = -1, suspect = -1;
	for (int i = 0; i < s->nslots; i++) {
		const struct isc_conn *c = &s->c[i];
		if (c->st == ISC_IDLE && now - c->since < s->upper)
			return -1;	/* it will test the bracket */
		if (c->st == ISC_IDLE && (idle < 0 || c->since < s->c[idle].since))
			idle = i;
		if (c->st == ISC_SUSPECT && now - c->probe_at >= SILENT_GRACE * s->p.probe_timeout_ms &&
		    (suspect < 0 || c->probe_at < s->c[suspect].probe_at))
			suspect = i;
	}
	return idle >= 0 ? idle : suspect;
}

/* Opens a connection in a free slot; -1 when none is free. */
static int open_slot(struct idle_sched *s, int64_t now)
{
	int i = free_slot(s);
	if (i < 0)
		return -1;
	s->last_open = now;
	int first = s->p.max_conns - s->p.max_conns * RESERVE_PERCENT / 100;
	/* only with the kernel's view: the sweep's verdicts come in a second or
	 * two, not after probe timeouts that outlast the reserve's head start */
	int rsv = s->p.method != ISC_FAST || s->p.max_conns < 16 || !s->any_kern ? 0 :
		  s->opened >= PRIOR_FIRST && s->opened < PRIOR_FIRST + PRIOR_RESERVE ? 2 :
		  s->opened >= first && s->opened < s->p.max_conns ? 1 : 0;
	s->c[i] = (struct isc_conn){ ISC_CONNECTING, now, 0, 0, -1, 0, rsv };
	s->opened++;
	if (open_count(s) > s->max_open)
		s->max_open = open_count(s);
	return i;
}

/* Probes the chosen connection once it is old enough; else lowers *until to
 * the moment it will be. */
static int due_probe(struct idle_sched *s, int64_t now, int64_t *until)
{
	if (isched_count(s, ISC_PROBING))
		return -1;	/* outcomes first: they move the bracket */
	if (s->upper >= 0)
		s->swept = 1;	/* the sweep is over; from here on, single probes */
	int64_t target = 0;
	int o = s->p.method != ISC_FAST ? oldest_idle(s) : fast_choice(s, now, &target);
	if (s->p.method == ISC_NAIVE)
		target = naive_target(s);
	else if (s->p.method == ISC_MINUTE)
		target = s->upper >= 0 ? INT64_MAX / 2 : (s->lower / 60000 + 1) * 60000;
	if (s->p.method == ISC_MINUTE && target > s->p.max_ms && s->upper < 0)
		target = s->p.max_ms;
	if (o < 0)
		return -1;
	if (now - s->c[o].since >= target)
		return o;
	if (s->c[o].since + target < *until)
		*until = s->c[o].since + target;
	return -1;
}

struct isc_action isched_next(struct idle_sched *s, int64_t now)
{
	expire_probes(s, now);
	check_done(s, now);
	if (s->done)
		return act(ISC_STOP, -1, 0);
	if (s->p.method == ISC_NAIVE)
		for (int i = 0; i < s->nslots; i++)
			if (s->c[i].st == ISC_SUSPECT) {
				s->c[i].st = ISC_DEAD;
				return act(ISC_CLOSE, i, 0);
			}
	if (s->upper < 0)
		s->swept = 0;
	if (s->upper < 0)
		s->sweep_at = 0;
	int i = s->p.method == ISC_FAST ? sweep_candidate(s, now) : -1;
	if (i >= 0) {
		s->sweep_at = now;
		return probe(s, i, now);
	}
	if ((i = make_room(s, now)) >= 0) {
		s->c[i].st = ISC_DEAD;
		return act(ISC_CLOSE, i, 0);
	}
	int64_t open_at = s->last_open + open_gap(s), until = now + 60000;
	int opening = want_open(s, now);
	if (opening && (s->opened == 0 || now >= open_at) && (i = open_slot(s, now)) >= 0)
		return act(ISC_OPEN, i, 0);
	if (opening && open_at > now)
		until = open_at;
	if ((i = due_probe(s, now, &until)) >= 0)
		return probe(s, i, now);
	int64_t firm = firm_at(s, now);
	if (firm > now && firm < until)
		until = firm;
	return act(ISC_WAIT, -1, earliest_timeout(s, until));
}

static void record(struct idle_sched *s, struct isc_conn *c, enum isc_result res, int late)
{
	if (c->probe_idx < 0 || c->probe_idx >= s->nprobes)
		return;
	s->probes[c->probe_idx].res = res;
	s->probes[c->probe_idx].late = late;
	s->probes[c->probe_idx].pending = 0;
	recompute(s);
}

void isched_connected(struct idle_sched *s, int conn, int64_t now)
{
	struct isc_conn *c = &s->c[conn];
	if (c->st != ISC_CONNECTING)
		return;
	c->st = ISC_IDLE;
	c->since = now;
	c->probe_idx = -1;
	s->ever_connected = 1;
}

void isched_connect_failed(struct idle_sched *s, int conn, int64_t now)
{
	(void)now;
	if (s->c[conn].st == ISC_CONNECTING) {
		s->c[conn].st = ISC_DEAD;
		s->failed++;
	}
}

void isched_answer(struct idle_sched *s, int conn, int64_t now)
{
	struct isc_conn *c = &s->c[conn];
	if (c->st != ISC_PROBING && c->st != ISC_SUSPECT)
		return;
	record(s, c, IR_ALIVE, c->st == ISC_SUSPECT);
	c->st = ISC_IDLE;
	c->since = now;
}

void isched_dead(struct idle_sched *s, int conn, enum isc_result how, int64_t now)
{
	struct isc_conn *c = &s->c[conn];
	switch (c->st) {
	case ISC_CONNECTING:
		isched_connect_failed(s, conn, now);
		return;
	case ISC_PROBING:
	case ISC_SUSPECT:
		record(s, c, how == IR_ALIVE ? IR_CLOSED : how, 0);
		break;
	case ISC_IDLE:
		/* died on its own while idle: the path or the server ended it at this age */
		c->probe_at = now;
		c->probe_age = now - c->since;
		c->probe_idx = add_probe(s, c->probe_age, now, how == IR_ALIVE ? IR_CLOSED : how);
		recompute(s);
		break;
	default:
		return;
	}
	c->st = ISC_DEAD;
}

void isched_kernel(struct idle_sched *s, int conn)
{
	if (conn >= 0 && conn < s->nslots)
		s->c[conn].kern = s->any_kern = 1;
}

void isched_silent(struct idle_sched *s, int conn, int64_t now)
{
	struct isc_conn *c = &s->c[conn];
	(void)now;
	if (c->st != ISC_PROBING)
		return;
	c->st = ISC_SUSPECT;	/* an echo may still come: then it was loss (late) */
	if (c->probe_idx >= 0 && c->probe_idx < s->nprobes) {
		s->probes[c->probe_idx].res = IR_SILENT;
		s->probes[c->probe_idx].kern = 1;
		s->probes[c->probe_idx].pending = 0;
	}
	recompute(s);
}

void isched_lost(struct idle_sched *s, int conn)
{
	if (s->c[conn].st != ISC_FREE && s->c[conn].st != ISC_DEAD)
		s->c[conn].st = ISC_DEAD;
}

void isched_cap(struct idle_sched *s, int64_t max_ms)
{
	if (max_ms > 0 && max_ms < s->p.max_ms)
		s->p.max_ms = max_ms;
}

void isched_keepalive(struct idle_sched *s, int conn, int64_t gap_ms)
{
	(void)conn;
	if (gap_ms > 0 && (s->ka_ms == 0 || gap_ms < s->ka_ms))
		s->ka_ms = gap_ms;
}

void isched_no_more_opens(struct idle_sched *s)
{
	if (!s->open_cap)
		s->open_cap = s->opened > 0 ? s->opened : 1;
}

void isched_abort(struct idle_sched *s)
{
	if (!s->done)
		s->done = ISC_DEADLINE;
	s->aborted = 1;
}

int64_t isched_eta(const struct idle_sched *s, int64_t now)
{
	int o = oldest_idle(s);
	int64_t since = o >= 0 ? s->c[o].since : now;
	int64_t pt = s->p.probe_timeout_ms;
	if (s->upper >= 0)
		return since + s->upper + 2 * pt - s->start;
	return since + s->p.max_ms + 2 * pt - s->start;
}
