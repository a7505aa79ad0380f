/* watch_judge.c - pure parts of the relay's watcher: keepalive parameters from
 * the path's idle timeout, the ending from what was observed, sleep from clocks. */
#include "watch.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static long clampl(long v, long lo, long hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

void watch_ka_derive(long idle_lower_s, int found, struct watch_ka *ka)
{
	memset(ka, 0, sizeof(*ka));
	ka->on = 1;
	/* A flow that outlived the whole idle test (not found) still proves the
	 * path keeps flows that long: half of it is as safe as a measured timeout. */
	(void)found;
	if (idle_lower_s >= 2) {
		ka->idle_s = (int)clampl(idle_lower_s / 2, 1, 300);
		snprintf(ka->source, sizeof(ka->source), "measured");
	} else {
		ka->idle_s = WATCH_DEFAULT_KEEPIDLE_S;
		snprintf(ka->source, sizeof(ka->source), "default");
	}
	ka->intvl_s = (int)clampl(ka->idle_s / 5, 1, 10);
	ka->cnt = WATCH_KEEPCNT;
	ka->user_timeout_ms = (ka->idle_s + ka->intvl_s * ka->cnt) * 1000;
}

int64_t watch_reply_window_ms(int64_t rtt_us)
{
	int64_t w = 1000 + 4 * (rtt_us / 1000);
	return w > 3000 ? 3000 : w;
}

/* The time a loaded machine gets between ssh's last words and the close that
 * answers them: the rtt-scaled window, at least WATCH_CLOSE_SLACK_MS. */
static int64_t close_slack_ms(int64_t reply_window_ms)
{
	return reply_window_ms > WATCH_CLOSE_SLACK_MS ? reply_window_ms : WATCH_CLOSE_SLACK_MS;
}

int64_t watch_gone_wait_ms(int64_t last_sent_ms, int64_t last_recv_ms, int64_t reply_window_ms)
{
	if (last_sent_ms < 0 || last_sent_ms > reply_window_ms)
		return 0;
	int64_t base = close_slack_ms(reply_window_ms);
	/* the server's data came just before ssh's last words: its channel close
	 * and ssh's answer, the normal end; the FIN follows however loaded it is */
	if (last_recv_ms >= last_sent_ms && last_recv_ms - last_sent_ms <= base)
		return WATCH_CLOSE_WAIT_MS;
	return base;
}

enum hist_end watch_classify(const struct watch_obs *o, char *detail, size_t n)
{
	enum hist_end e;
	char base[160] = "";
	int failing = 0;	/* the path itself failed (not a close by either end) */
	if (o->sock_err == ECONNRESET) {
		e = HE_RESET;
		snprintf(base, sizeof(base), "the connection was reset (%s)", strerror(o->sock_err));
		failing = 1;
	} else if (o->sock_err) {
		e = HE_TIMEOUT;
		snprintf(base, sizeof(base), "the kernel gave up on the path (%s)", strerror(o->sock_err));
		failing = 1;
	} else if (o->closed) {
		/* ssh read the error first: the socket is closed, the kind is in how it got there */
		e = o->retrans ? HE_TIMEOUT : HE_RESET;
		snprintf(base, sizeof(base), "the socket closed under ssh %s",
			 o->retrans ? "after unanswered retransmissions" : "at once (a reset)");
		failing = 1;
	} else if (o->fin && o->preauth) {
		e = HE_SERVER_CLOSED;
		snprintf(base, sizeof(base), "the server closed before a login could complete "
			 "(refused, MaxStartups, penalty)");
	} else if ((o->fin || o->ssh_gone) && o->end_after_words_ms >= 0 &&
		   o->end_after_words_ms <= 2 * o->reply_window_ms &&
		   o->server_gap_ms >= WATCH_SERVER_GAP_MIN_MS) {
		/* ssh's disconnect answered the server's own close after a silence */
		e = HE_SERVER_CLOSED;
		snprintf(base, sizeof(base), "the server ended the session after %lld s idle (its "
			 "data first, then the close)", (long long)(o->server_gap_ms / 1000));
	} else if (o->fin) {
		int64_t slack = close_slack_ms(o->reply_window_ms);
		/* ssh's last data answered the server's (its channel close), then the
		 * FIN: the normal end, even when a busy machine stretched it */
		int answered = o->fin_last_recv_ms >= o->fin_last_sent_ms &&
			       o->fin_last_sent_ms <= slack;
		if (o->fin_last_sent_ms <= o->reply_window_ms || answered) {
			e = HE_CLEAN;
			snprintf(base, sizeof(base), "the server closed %lld ms after ssh's last data "
				 "(its disconnect)", (long long)o->fin_last_sent_ms);
		} else {
			e = o->fin_ssh_alive || !o->ssh_gone ? HE_SERVER_CLOSED : HE_CLEAN;
			snprintf(base, sizeof(base), "FIN from the server %lld ms after ssh last sent",
				 (long long)o->fin_last_sent_ms);
		}
	} else if (o->ssh_gone) {
		if (o->gone_unacked && o->retrans) {
			e = HE_TIMEOUT;
			snprintf(base, sizeof(base), "ssh gave up while its data went unanswered");
			failing = 1;
		} else {
			e = HE_CLIENT_KILLED;
			snprintf(base, sizeof(base), "ssh exited %lld ms after its last data, without a "
				 "disconnect the server answered", (long long)o->gone_last_sent_ms);
			failing = o->gone_unacked;
		}
	} else {
		e = HE_RUNNING;
		snprintf(base, sizeof(base), "still running");
	}
	/* Causes behind a failure: the machine slept, or the network moved. A
	 * clean end, or a close by the server's own choice, stays what it was. */
	if (e != HE_CLEAN && e != HE_RUNNING && e != HE_SERVER_CLOSED && o->suspended_ms > 0 &&
	    (failing || e == HE_CLIENT_KILLED)) {
		snprintf(detail, n, "the machine slept %lld s during the session; %s",
			 (long long)(o->suspended_ms / 1000), base);
		return HE_SUSPENDED;
	}
	if (o->net_changed && failing) {
		snprintf(detail, n, "the source address or default route changed; %s", base);
		return HE_NETWORK_CHANGED;
	}
	snprintf(detail, n, "%s", base);
	return e;
}

int64_t watch_suspended_ms(int64_t mono0, int64_t boot0, int64_t mono1, int64_t boot1)
{
	int64_t d = (boot1 - boot0) - (mono1 - mono0);
	return d >= WATCH_SUSPEND_MIN_MS ? d : 0;
}

int64_t watch_gap_ms(int64_t quiet_ms, int64_t cross_ms, const struct watch_ka *ka)
{
	int64_t g = cross_ms - quiet_ms;
	if (g < 0)
		g = 0;
	if (ka && ka->on && ka->idle_s > 0 && g > (int64_t)ka->idle_s * 1000)
		g = (int64_t)ka->idle_s * 1000;
	return g;
}

static int64_t clock_ms(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t real_mono(void *arg)
{
	(void)arg;
	return clock_ms(CLOCK_MONOTONIC);
}

static int64_t real_boot(void *arg)
{
	(void)arg;
	return clock_ms(CLOCK_BOOTTIME);
}

const struct watch_clock watch_clock_real = { real_mono, real_boot, NULL };
