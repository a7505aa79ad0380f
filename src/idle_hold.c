/* idle_hold.c - open `ssh TARGET cat` exactly as the user's config says (no
 * keepalive override: those settings are what is being proved), see one echo,
 * stay silent for hold_ms, then ask again. Runs on the one event loop. */
#include "idle_hold.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "evloop.h"
#include "log.h"
#include "proc.h"

#define OPEN_MS 30000		/* login and the first echo */
#define ANSWER_MS 15000		/* the echo after the idle period */

struct hold {
	struct proc p;
	struct evloop *ev;
	int64_t hold_ms;
	int stage;		/* 0: first echo, 1: idle, 2: second echo, 3: done */
	int result;		/* 1 alive, 0 died, -1 could not open */
	char out[512], err[512];
	size_t olen, elen;
	uint64_t timer;
	char *why;
	size_t whylen;
};

static void finish(struct hold *h, int result, const char *why)
{
	if (h->stage == 3)
		return;
	h->stage = 3;
	h->result = result;
	if (why)
		snprintf(h->why, h->whylen, "%s", why);
	ev_stop(h->ev);
}

static int send_token(struct hold *h, const char *tok)
{
	size_t n = strlen(tok);
	return write(h->p.in, tok, n) == (ssize_t)n ? 0 : -1;
}

static void on_timer(struct evloop *ev, void *arg)
{
	struct hold *h = arg;
	(void)ev;
	if (h->stage == 1) {	/* the idle period is over: probe */
		h->stage = 2;
		h->olen = 0;
		if (send_token(h, "sshdoctor-hold-2\n") < 0) {
			finish(h, 0, "the session was already gone (write failed)");
			return;
		}
		h->timer = ev_timer_at(h->ev, now_ms() + ANSWER_MS, on_timer, h);
		return;
	}
	finish(h, h->stage == 0 ? -1 : 0,
	       h->stage == 0 ? "no echo from the session within 30 s of starting it"
			     : "no answer within 15 s after the idle period (silently dropped)");
}

static void on_out(struct evloop *ev, int fd, uint32_t events, void *arg)
{
	struct hold *h = arg;
	ssize_t n = read(fd, h->out + h->olen, sizeof(h->out) - 1 - h->olen);
	(void)events;
	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return;
		ev_fd_del(ev, fd);
		const char *msg = h->elen ? h->err : "the session ended";
		finish(h, h->stage == 0 ? -1 : 0, msg);
		return;
	}
	h->olen += (size_t)n;
	h->out[h->olen] = '\0';
	if (h->olen >= sizeof(h->out) - 1)
		h->olen = 0;	/* login chatter: keep looking */
	const char *want = h->stage == 0 ? "sshdoctor-hold-1\n" : "sshdoctor-hold-2\n";
	if (!strstr(h->out, want))
		return;
	ev_timer_cancel(h->ev, h->timer);
	if (h->stage == 0) {
		h->stage = 1;
		h->olen = 0;
		h->timer = ev_timer_at(h->ev, now_ms() + h->hold_ms, on_timer, h);
	} else {
		finish(h, 1, NULL);
	}
}

/* Keeps ssh's last error line: it says how the session died. */
static void on_err(struct evloop *ev, int fd, uint32_t events, void *arg)
{
	struct hold *h = arg;
	char buf[512];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	(void)events;
	if (n <= 0) {
		if (n == 0 || errno != EAGAIN)
			ev_fd_del(ev, fd);
		return;
	}
	buf[n] = '\0';
	char *s = buf, *line;
	while ((line = strsep(&s, "\n")))
		if (*str_trim(line)) {
			snprintf(h->err, sizeof(h->err), "%s", str_trim(line));
			h->elen = strlen(h->err);
		}
}

static void on_interrupt(struct evloop *ev, void *arg)
{
	(void)ev;
	finish(arg, -1, "interrupted");
}

int idle_hold(struct target *t, const struct sshopts *so, int64_t hold_ms, char *why,
	      size_t whylen)
{
	struct hold h = { .hold_ms = hold_ms, .result = -1, .why = why, .whylen = whylen };
	struct strvec argv = { 0 };
	char *err = NULL;
	strvec_push(&argv, "ssh");
	/* the user's keepalives stay theirs, not BatchMode's */
	if (target_ssh_user_keepalive_opts(t, so, &argv, &err) < 0) {
		snprintf(why, whylen, "%s", err);
		free(err);
		strvec_clear(&argv);
		return -1;
	}
	target_ssh_session_opts(&argv, NULL, 0);
	target_ssh_args(t, so, &argv);
	strvec_push(&argv, "cat");
	snprintf(why, whylen, "could not run ssh");
	int rc = proc_spawn(&h.p, argv.v, PROC_STDIN | PROC_STDOUT | PROC_STDERR);
	strvec_clear(&argv);
	if (rc < 0)
		return -1;
	h.ev = ev_new();
	ev_on_interrupt(h.ev, on_interrupt, &h);
	ev_fd(h.ev, h.p.out, EPOLLIN, on_out, &h);
	ev_fd(h.ev, h.p.err, EPOLLIN, on_err, &h);
	h.timer = ev_timer_at(h.ev, now_ms() + OPEN_MS, on_timer, &h);
	if (send_token(&h, "sshdoctor-hold-1\n") < 0)
		finish(&h, -1, "could not write to ssh");
	else
		ev_run(h.ev, now_ms() + OPEN_MS + hold_ms + ANSWER_MS + 5000);
	debug("idle_hold: result %d (%s)", h.result, why);
	proc_stop(&h.p, 500);
	ev_free(h.ev);
	return h.result;
}
