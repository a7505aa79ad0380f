/* Unit tests: the idle scheduler on a simulated clock and a simulated path that
 * forgets flows idle for T ms (silently or with RST), with optional loss, server
 * keepalives and random deaths. Checks the targets: bracket contains T,
 * width <= max(2 s, 5% T), wall <= 1.15 T + 10 s, <= 32 open, <= 4 handshakes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idle_sched.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define HS_MS 300	/* handshake */
#define RTT_MS 20
#define PT_MS 1000	/* probe timeout */

struct sim {
	int64_t T;		/* path idle timeout, 0: none */
	int reset;		/* RST instead of silence */
	int64_t ka;		/* server keepalive interval, 0: none */
	int late_every;		/* every Nth answer arrives after the timeout (loss) */
	int die_every;		/* every Nth probe dies regardless of age (broken path) */
	int fail_connect;
	int kern;		/* the kernel judges silence (TCP_INFO via the relay) */
	int64_t open_at;	/* first open (ms after the origin) */
	int64_t hs_ms;		/* handshake time (0: HS_MS) */
	int64_t late_ms;	/* every wake-up this much after the time asked for */
	/* per connection */
	int64_t ready_at[ISC_MAX_CONNS];	/* handshake completes */
	int64_t answer_at[ISC_MAX_CONNS];	/* pending echo */
	int64_t reset_at[ISC_MAX_CONNS];	/* pending RST */
	int64_t path_since[ISC_MAX_CONNS];	/* last traffic the middlebox saw */
	int64_t ka_at[ISC_MAX_CONNS];		/* next server keepalive */
	int64_t silent_at[ISC_MAX_CONNS];	/* kernel: retransmitted, never acked */
	int nprobe;
	int max_hs;
};

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* Delivers every simulated event due at now; returns the next event time. */
static int64_t sim_events(struct sim *w, struct idle_sched *s, int64_t now)
{
	int64_t next = INT64_MAX;
	for (int i = 0; i < s->nslots; i++) {
		if (w->ready_at[i] && w->ready_at[i] <= now) {
			w->ready_at[i] = 0;
			if (w->fail_connect) {
				isched_connect_failed(s, i, now);
			} else {
				isched_connected(s, i, now);
				if (w->kern)
					isched_kernel(s, i);
				w->path_since[i] = now;
				w->ka_at[i] = w->ka ? now + w->ka : 0;
			}
		}
		if (w->answer_at[i] && w->answer_at[i] <= now) {
			w->answer_at[i] = 0;
			w->path_since[i] = now;
			isched_answer(s, i, now);
			if (w->ka)
				w->ka_at[i] = now + w->ka;
		}
		if (w->reset_at[i] && w->reset_at[i] <= now) {
			w->reset_at[i] = 0;
			isched_dead(s, i, IR_RESET, now);
		}
		if (w->silent_at[i] && w->silent_at[i] <= now) {
			w->silent_at[i] = 0;
			isched_silent(s, i, now);
		}
		/* the server's keepalive refreshes the path while it is still alive */
		if (w->ka_at[i] && w->ka_at[i] <= now) {
			if ((w->T == 0 || now - w->path_since[i] < w->T) &&
			    (s->c[i].st == ISC_IDLE || s->c[i].st == ISC_PROBING)) {
				isched_keepalive(s, i, now - w->path_since[i]);
				w->path_since[i] = now;
				w->ka_at[i] = now + w->ka;
			} else {
				w->ka_at[i] = 0;
			}
		}
		int64_t e[] = { w->ready_at[i], w->answer_at[i], w->reset_at[i], w->ka_at[i],
				w->silent_at[i] };
		for (size_t k = 0; k < 5; k++)
			if (e[k])
				next = min64(next, e[k]);
	}
	return next;
}

static void sim_probe(struct sim *w, int i, int64_t now)
{
	int dead = (w->T && now - w->path_since[i] >= w->T) ||
		   (w->die_every && ++w->nprobe % w->die_every == 0);
	if (!dead && w->late_every && ++w->nprobe % w->late_every == 0) {
		w->answer_at[i] = now + PT_MS + 500;	/* after the probe timeout */
		return;
	}
	if (!dead)
		w->answer_at[i] = now + RTT_MS;
	else if (w->reset)
		w->reset_at[i] = now + RTT_MS / 2;
	else if (w->kern)
		w->silent_at[i] = now + 1400;	/* RTOs 0.2 + 0.4 + 0.8 s: three retransmissions */
	/* silent: nothing ever comes back */
}

/* Runs a whole measurement; returns the wall time in ms. */
static int64_t run_res(struct sim *w, struct idle_sched *s, enum isc_method m, int64_t max_ms,
		       int64_t res)
{
	struct isc_params p = { m, 32, 4, res, max_ms, PT_MS };
	int64_t now = 1000000;	/* any origin */
	isched_init(s, &p, now);
	now += w->open_at;	/* the login's own time (e.g. doctor's steps before idle) */
	for (int guard = 0; guard < 200000; guard++) {
		int64_t next_ev = sim_events(w, s, now);
		struct isc_action a = isched_next(s, now);
		if (a.kind == ISC_STOP)
			return now - s->start;
		if (a.kind == ISC_OPEN) {
			w->ready_at[a.conn] = now + (w->hs_ms ? w->hs_ms : HS_MS);
			w->answer_at[a.conn] = w->reset_at[a.conn] = w->ka_at[a.conn] = 0;
			int hs = isched_count(s, ISC_CONNECTING);
			if (hs > w->max_hs)
				w->max_hs = hs;
			continue;
		}
		if (a.kind == ISC_PROBE) {
			sim_probe(w, a.conn, now);
			continue;
		}
		if (a.kind == ISC_CLOSE) {
			w->answer_at[a.conn] = w->reset_at[a.conn] = w->ka_at[a.conn] = 0;
			continue;
		}
		int64_t until = min64(a.until + w->late_ms, next_ev);
		now = until > now ? until : now + 1;
	}
	fail_msg("scheduler did not stop");
	return -1;
}

static int64_t run(struct sim *w, struct idle_sched *s, enum isc_method m, int64_t max_ms)
{
	return run_res(w, s, m, max_ms, 2000);
}

static void check_found(int64_t T, int reset)
{
	struct sim w = { .T = T, .reset = reset };
	struct idle_sched s;
	int64_t wall = run(&w, &s, ISC_FAST, 1800000);
	int64_t width = s.upper - s.lower;
	int64_t allowed = T / 20 > 2000 ? T / 20 : 2000;
	print_message("T=%lld %s: bracket (%lld, %lld] width %lld wall %lld (%.2f T) open<=%d hs<=%d\n",
		      (long long)T, reset ? "reset" : "drop", (long long)s.lower, (long long)s.upper,
		      (long long)width, (long long)wall, (double)wall / (double)T, s.max_open, w.max_hs);
	if (getenv("TRACE"))
		for (int i = 0; i < s.nprobes; i++)
			print_message("  probe at %.2f age %.2f %s%s\n", s.probes[i].at_ms / 1000.0,
				      s.probes[i].age_ms / 1000.0, idle_result_name(s.probes[i].res),
				      s.probes[i].late ? " late" : "");
	assert_int_equal(s.done, ISC_FOUND);
	assert_true(s.lower < T && T <= s.upper);
	assert_true(width <= allowed);
	assert_true(wall <= T * 115 / 100 + 10000);
	assert_true(s.max_open <= 32);
	assert_true(w.max_hs <= 4);
}

/* Issue 14's targets with the kernel's evidence (TCP_INFO through the relay):
 * wall <= T + 10 s, width <= max(1 s, 1% T), at 1 s resolution. */
static void check_kern(int64_t T, int reset)
{
	struct sim w = { .T = T, .reset = reset, .kern = 1 };
	struct idle_sched s;
	int64_t wall = run_res(&w, &s, ISC_FAST, 1800000, 1000);
	int64_t width = s.upper - s.lower;
	int64_t allowed = T / 100 > 1000 ? T / 100 : 1000;
	print_message("kern T=%lld %s: bracket (%lld, %lld] width %lld wall %lld (T + %.1f s) open<=%d hs<=%d\n",
		      (long long)T, reset ? "reset" : "drop", (long long)s.lower, (long long)s.upper,
		      (long long)width, (long long)wall, (double)(wall - T) / 1000, s.max_open, w.max_hs);
	if (getenv("TRACE"))
		for (int i = 0; i < s.nprobes; i++)
			print_message("  probe at %.2f age %.2f %s%s\n", s.probes[i].at_ms / 1000.0,
				      s.probes[i].age_ms / 1000.0, idle_result_name(s.probes[i].res),
				      s.probes[i].late ? " late" : "");
	assert_int_equal(s.done, ISC_FOUND);
	assert_true(s.lower < T && T <= s.upper);
	assert_true(width <= allowed);
	assert_true(wall <= T + 10000);
	assert_true(s.max_open <= 32);
	assert_true(w.max_hs <= 4);
}

static void test_kern_targets(void **state)
{
	(void)state;
	static const int64_t Ts[] = { 45000, 240000, 350000, 600000, 300000, 1200000 };
	for (size_t i = 0; i < ARRAY_SIZE(Ts); i++) {
		check_kern(Ts[i], 0);
		check_kern(Ts[i], 1);
	}
}

/* The scout steps geometrically, but never past a common default without a
 * probe just before and just after it. */
static void test_priors(void **state)
{
	(void)state;
	struct idle_sched s;
	struct isc_params p = { ISC_FAST, 32, 4, 1000, 3600000, 1000 };
	isched_init(&s, &p, 0);
	s.lower = 230000;	/* Azure's 240 s: just after it first */
	assert_int_equal(isched_prior_target(&s), 240000 + ISC_PRIOR_AFTER_MS);
	assert_int_equal(isched_scout_target(&s), 230000 + 230000 * 8 / 100);
	s.upper = 240000 + ISC_PRIOR_AFTER_MS;	/* died there: just before it */
	assert_int_equal(isched_prior_target(&s), 240000 - ISC_PRIOR_BEFORE_MS);
	s.lower = 240000 - ISC_PRIOR_BEFORE_MS;	/* bracketed: nothing left to do */
	assert_int_equal(isched_prior_target(&s), -1);
	s.upper = -1;
	s.lower = 240000 + ISC_PRIOR_AFTER_MS;	/* survived: the next default */
	assert_int_equal(isched_prior_target(&s), 300000 + ISC_PRIOR_AFTER_MS);
	s.upper = 299000;	/* only inside the bracket */
	assert_int_equal(isched_prior_target(&s), -1);
	s.upper = 400000;	/* a scout died far above AWS's 350 s */
	s.lower = 340000;
	assert_int_equal(isched_prior_target(&s), 350000 + ISC_PRIOR_AFTER_MS);
	s.upper = -1;
	s.lower = 3000;		/* small: the step floor */
	assert_true(isched_scout_target(&s) > 3000 && isched_scout_target(&s) <= 6000);
	assert_int_equal(isched_prior_target(&s), 240000 + ISC_PRIOR_AFTER_MS);
	s.lower = 1790000;	/* capped by --max */
	s.p.max_ms = 1795000;
	assert_int_equal(isched_scout_target(&s), 1795000);
	assert_int_equal(isched_prior_target(&s), -1);
}

/* Kernel-judged silence is firm at once, and an echo after it is a late answer
 * (loss), not a death. */
static void test_kern_late_answer(void **state)
{
	(void)state;
	struct idle_sched s;
	struct isc_params p = { ISC_FAST, 1, 1, 1000, 60000, 1000 };
	isched_init(&s, &p, 0);
	struct isc_action a = isched_next(&s, 0);
	assert_int_equal(a.kind, ISC_OPEN);
	isched_connected(&s, a.conn, 100);
	isched_kernel(&s, a.conn);
	a = isched_next(&s, 100);
	assert_int_equal(a.kind, ISC_WAIT);
	a = isched_next(&s, a.until);
	assert_int_equal(a.kind, ISC_PROBE);
	int64_t t = s.c[a.conn].probe_at;
	/* no timeout-based suspicion while the kernel watches */
	assert_int_equal(isched_next(&s, t + 5000).kind, ISC_WAIT);
	assert_int_equal(s.c[a.conn].st, ISC_PROBING);
	isched_silent(&s, a.conn, t + 5000);
	assert_int_equal(s.c[a.conn].st, ISC_SUSPECT);
	assert_true(s.upper >= 0);
	isched_answer(&s, a.conn, t + 6000);
	assert_true(s.upper < 0);
	assert_int_equal(s.probes[0].res, IR_ALIVE);
	assert_int_equal(s.probes[0].late, 1);
}

/* Slow logins (ssh, 3 s each) and wake-ups a few ms late, T=130 s within
 * --max 170s: the bisect still narrows the bracket (it used to wait for a
 * connection to reach the exact midpoint, find it a few ms past it, pass to a
 * younger one, and so on until the deadline: askpass_idle in CI). */
static void test_bisect_late_wakeups(void **state)
{
	(void)state;
	for (int late = 0; late <= 40; late += 10) {
		struct sim w = { .T = 130000, .kern = 1, .hs_ms = 3000, .late_ms = late };
		struct idle_sched s;
		int64_t wall = run_res(&w, &s, ISC_FAST, 170000, 1000);
		print_message("late %d ms: bracket (%lld, %lld] wall %lld\n", late, (long long)s.lower,
			      (long long)s.upper, (long long)wall);
		assert_int_equal(s.done, ISC_FOUND);
		assert_true(s.lower < 130000 && 130000 <= s.upper);
		assert_true(s.upper - s.lower <= 1300);
	}
}

/* Out of time with a confirmed bracket wider than wanted: that bracket is the
 * answer, not "incomplete" (one connection, so no bisect can narrow it). */
static void test_deadline_keeps_bracket(void **state)
{
	(void)state;
	struct idle_sched s;
	struct isc_params p = { ISC_FAST, 2, 1, 1000, 60000, PT_MS };
	int64_t now = 1000000;
	isched_init(&s, &p, now);
	/* a hand-made run: alive at 10 s, dead at 30 s and 31 s, then nothing more to try */
	s.probes[0] = (struct isc_probe){ 10000, 10000, IR_ALIVE, 0, 0, 0 };
	s.probes[1] = (struct isc_probe){ 30000, 40000, IR_RESET, 0, 0, 0 };
	s.probes[2] = (struct isc_probe){ 31000, 41000, IR_RESET, 0, 0, 0 };
	s.nprobes = 3;
	s.ever_connected = 1;
	struct isc_action a = isched_next(&s, now + 200000);
	assert_int_equal(a.kind, ISC_STOP);
	assert_int_equal(s.done, ISC_FOUND);
	assert_int_equal(s.lower, 10000);
	assert_int_equal(s.upper, 30000);
}

static void test_found_small(void **state)
{
	(void)state;
	check_found(8000, 0);
	check_found(8000, 1);
	check_found(25000, 0);
	check_found(25000, 1);
}

static void test_found_70(void **state)
{
	(void)state;
	check_found(70000, 0);
	check_found(70000, 1);
	check_found(3000, 0);
	check_found(41000, 1);
}

static void test_found_large(void **state)
{
	(void)state;
	/* the well-known defaults */
	check_found(240000, 0);
	check_found(350000, 1);
	check_found(1200000, 0);
}

static void test_not_found(void **state)
{
	(void)state;
	struct sim w = { 0 };
	struct idle_sched s;
	int64_t wall = run(&w, &s, ISC_FAST, 30000);
	assert_int_equal(s.done, ISC_NOT_FOUND);
	assert_true(s.lower >= 30000);
	assert_true(s.upper < 0);
	assert_true(wall < 30000 + 10000);
}

static void test_keepalive(void **state)
{
	(void)state;
	struct sim w = { .T = 20000, .ka = 3000 };
	struct idle_sched s;
	int64_t wall = run(&w, &s, ISC_FAST, 1800000);
	assert_int_equal(s.done, ISC_KEEPALIVE);
	assert_int_equal(s.ka_ms, 3000);
	assert_true(s.upper < 0);
	assert_true(wall < 20000);
}

/* Late answers (loss, retransmissions) must never turn into a timeout. */
static void test_loss_no_false_timeout(void **state)
{
	(void)state;
	struct sim w = { .late_every = 3 };
	struct idle_sched s;
	run(&w, &s, ISC_FAST, 30000);
	assert_int_equal(s.done, ISC_NOT_FOUND);
	int late = 0;
	for (int i = 0; i < s.nprobes; i++)
		late += s.probes[i].late;
	assert_true(late > 0);
}

/* Loss with a real timeout: still found, still right. */
static void test_loss_with_timeout(void **state)
{
	(void)state;
	struct sim w = { .T = 25000, .late_every = 4 };
	struct idle_sched s;
	run(&w, &s, ISC_FAST, 1800000);
	assert_int_equal(s.done, ISC_FOUND);
	assert_true(s.lower < 25000 && 25000 <= s.upper);
}

/* Deaths unrelated to idle age: longer-idle survivors contradict them. */
static void test_inconsistent(void **state)
{
	(void)state;
	struct sim w = { .die_every = 3, .reset = 1 };
	struct idle_sched s;
	run(&w, &s, ISC_FAST, 60000);
	if (getenv("TRACE"))
		for (int i = 0; i < s.nprobes; i++)
			print_message("  probe at %.2f age %.2f %s\n", s.probes[i].at_ms / 1000.0,
				      s.probes[i].age_ms / 1000.0, idle_result_name(s.probes[i].res));
	assert_int_equal(s.done, ISC_INCONSISTENT);
	assert_true(s.ncontradicted >= 2);
}

static void test_no_connection(void **state)
{
	(void)state;
	struct sim w = { .fail_connect = 1 };
	struct idle_sched s;
	int64_t wall = run(&w, &s, ISC_FAST, 1800000);
	assert_int_equal(s.done, ISC_NO_CONNECTION);
	assert_true(wall < 2000);
}

static void test_naive(void **state)
{
	(void)state;
	struct sim w = { .T = 25000 };
	struct idle_sched s;
	int64_t wall = run(&w, &s, ISC_NAIVE, 1800000);
	assert_int_equal(s.done, ISC_FOUND);
	assert_true(s.lower < 25000 && 25000 <= s.upper);
	assert_true(s.max_open == 1);
	/* 2+4+8+16+32 s of doubling alone exceed the fast method's whole run */
	assert_true(wall > 60000);

	/* every death costs a new connection: bisecting 64-128 s takes several */
	struct sim w2 = { .T = 70000, .reset = 1 };
	wall = run(&w2, &s, ISC_NAIVE, 1800000);
	assert_int_equal(s.done, ISC_FOUND);
	assert_true(s.lower < 70000 && 70000 <= s.upper);
	assert_true(s.opened >= 4);
	print_message("naive T=70000 reset: bracket (%lld, %lld] wall %lld with %d connections\n",
		      (long long)s.lower, (long long)s.upper, (long long)wall, s.opened);
}

/* The NAT-TCP-test-style baseline: a probe per minute of idle, the first death
 * ends it with a 1-minute bracket, after the next whole minute past T. */
static void test_minute(void **state)
{
	(void)state;
	struct sim w = { .T = 130000, .kern = 1 };
	struct idle_sched s;
	int64_t wall = run_res(&w, &s, ISC_MINUTE, 1800000, 1000);
	assert_int_equal(s.done, ISC_FOUND);
	assert_int_equal(s.lower, 120000);
	assert_int_equal(s.upper, 180000);
	assert_true(wall >= 180000 && wall < 200000);
	print_message("minute T=130000: bracket (%lld, %lld] wall %lld\n", (long long)s.lower,
		      (long long)s.upper, (long long)wall);
}

static void test_width_and_names(void **state)
{
	(void)state;
	struct idle_sched s;
	struct isc_params p = { ISC_FAST, 32, 4, 2000, 60000, 3000 };
	isched_init(&s, &p, 0);
	assert_int_equal(isched_width(&s, 10000), 2000);
	assert_int_equal(isched_width(&s, 100000), 2000);
	assert_int_equal(isched_width(&s, 600000), 6000);
	assert_string_equal(idle_result_name(IR_SILENT), "silent");
	assert_string_equal(idle_result_name(IR_RESET), "reset");
	/* one login at a time until one works (each failed login costs a
	 * PerSourcePenalties charge), then staggered handshakes, never more than
	 * four in flight */
	int64_t t = 0;
	assert_int_equal(isched_next(&s, t).kind, ISC_OPEN);
	assert_int_not_equal(isched_next(&s, t + 100).kind, ISC_OPEN);
	isched_connected(&s, 0, t + 300);
	t = 300;
	for (int i = 0; i < 3; i++) {
		struct isc_action a = isched_next(&s, t);
		assert_int_equal(a.kind, ISC_OPEN);
		a = isched_next(&s, t);
		assert_int_equal(a.kind, ISC_WAIT);
		assert_true(a.until > t && a.until <= t + 200);	/* the burst spread over seconds */
		t = a.until;
	}
	assert_int_equal(isched_next(&s, t).kind, ISC_OPEN);
	assert_int_equal(isched_next(&s, t + 500).kind, ISC_WAIT);	/* four in flight */
	isched_connected(&s, 1, t + 500);
	assert_int_equal(isched_next(&s, t + 500).kind, ISC_OPEN);
	isched_abort(&s);
	assert_int_equal(isched_next(&s, 1).kind, ISC_STOP);
}


/* Every slot held, all of them idle past U or silent, the bracket still too
 * wide (idle_expiry under ASan in CI: the run sat out its 210 s deadline): an
 * old one is closed, a new one opened and probed inside the bracket. */
static void test_full_slots_make_room(void **state)
{
	(void)state;
	struct idle_sched s;
	struct isc_params p = { ISC_FAST, 4, 4, 1000, 120000, PT_MS };
	int64_t now = 1000000;
	isched_init(&s, &p, now);
	/* alive at 6.0 s, dead at 7.5 s and 8.0 s */
	s.probes[0] = (struct isc_probe){ 6000, 7500, IR_ALIVE, 0, 0, 0 };
	s.probes[1] = (struct isc_probe){ 7500, 13800, IR_SILENT, 0, 0, 1 };
	s.probes[2] = (struct isc_probe){ 8000, 12300, IR_SILENT, 0, 0, 1 };
	s.nprobes = 3;
	s.ever_connected = 1;
	s.opened = 4;
	s.nslots = 4;
	int64_t t = now + 15300;
	for (int i = 0; i < 4; i++)	/* two idle since the burst, two silent */
		s.c[i] = (struct isc_conn){ i < 2 ? ISC_IDLE : ISC_SUSPECT, now + 100 * i,
					    now + 12300, 8000, i, 1, 0 };
	s.c[0].since = now + 7000;	/* 8.3 s idle at t: past U */
	struct isc_action a = isched_next(&s, t);
	assert_int_equal(a.kind, ISC_CLOSE);
	assert_int_equal(a.conn, 1);	/* the oldest idle one */
	a = isched_next(&s, t);
	assert_int_equal(a.kind, ISC_OPEN);
	isched_connected(&s, a.conn, t + 2000);
	int64_t probe_t = -1;
	for (int guard = 0; guard < 100 && probe_t < 0; guard++) {
		a = isched_next(&s, t);
		if (a.kind == ISC_PROBE)
			probe_t = t;
		else if (a.kind == ISC_WAIT)
			t = a.until > t ? a.until : t + 1;
		else
			t++;
	}
	assert_true(probe_t > 0);
	int64_t age = probe_t - (now + 17300);
	assert_true(age > 6000 && age < 7500);	/* inside the bracket */
	assert_true(probe_t - now < 2 * 6000 + 20000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_slots_make_room),
		cmocka_unit_test(test_bisect_late_wakeups),
		cmocka_unit_test(test_deadline_keeps_bracket),
		cmocka_unit_test(test_found_small),
		cmocka_unit_test(test_found_70),
		cmocka_unit_test(test_found_large),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_loss_no_false_timeout),
		cmocka_unit_test(test_loss_with_timeout),
		cmocka_unit_test(test_inconsistent),
		cmocka_unit_test(test_no_connection),
		cmocka_unit_test(test_naive),
		cmocka_unit_test(test_width_and_names),
		cmocka_unit_test(test_minute),
		cmocka_unit_test(test_kern_targets),
		cmocka_unit_test(test_priors),
		cmocka_unit_test(test_kern_late_answer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
