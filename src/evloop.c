/* evloop.c - epoll + a small timer list + signalfd. Timer counts are small
 * (a few per connection), so a linear scan beats a heap in clarity. */
#include "evloop.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "util.h"

struct fdh {
	ev_fd_fn fn;
	void *arg;
	int active;
};

struct timer {
	uint64_t id;
	int64_t at;
	ev_timer_fn fn;
	void *arg;
};

struct evloop {
	int ep, sfd;
	struct fdh *fds;
	int nfds;		/* size of fds[] (indexed by fd) */
	int nactive;
	struct timer *timers;
	size_t ntimers, captimers;
	uint64_t next_id;
	int stop, interrupted;
	ev_timer_fn on_int;
	void *on_int_arg;
	sigset_t oldmask;
};

struct evloop *ev_new(void)
{
	struct evloop *ev = xcalloc(1, sizeof(*ev));
	sigset_t set;
	ev->ep = epoll_create1(EPOLL_CLOEXEC);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, &ev->oldmask);
	ev->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	struct epoll_event e = { .events = EPOLLIN, .data.fd = ev->sfd };
	epoll_ctl(ev->ep, EPOLL_CTL_ADD, ev->sfd, &e);
	ev->next_id = 1;
	return ev;
}

void ev_free(struct evloop *ev)
{
	if (!ev)
		return;
	close(ev->sfd);
	close(ev->ep);
	sigprocmask(SIG_SETMASK, &ev->oldmask, NULL);
	free(ev->fds);
	free(ev->timers);
	free(ev);
}

int ev_fd(struct evloop *ev, int fd, uint32_t events, ev_fd_fn fn, void *arg)
{
	if (fd < 0)
		return -1;
	if (fd >= ev->nfds) {
		int n = fd + 64;
		ev->fds = xrealloc(ev->fds, (size_t)n * sizeof(*ev->fds));
		memset(ev->fds + ev->nfds, 0, (size_t)(n - ev->nfds) * sizeof(*ev->fds));
		ev->nfds = n;
	}
	struct epoll_event e = { .events = events, .data.fd = fd };
	int op = ev->fds[fd].active ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(ev->ep, op, fd, &e) < 0)
		return -1;
	if (!ev->fds[fd].active)
		ev->nactive++;
	ev->fds[fd] = (struct fdh){ fn, arg, 1 };
	return 0;
}

void ev_fd_del(struct evloop *ev, int fd)
{
	if (fd < 0 || fd >= ev->nfds || !ev->fds[fd].active)
		return;
	epoll_ctl(ev->ep, EPOLL_CTL_DEL, fd, NULL);
	ev->fds[fd].active = 0;
	ev->nactive--;
}

uint64_t ev_timer_at(struct evloop *ev, int64_t at_ms, ev_timer_fn fn, void *arg)
{
	if (ev->ntimers == ev->captimers) {
		ev->captimers = ev->captimers ? ev->captimers * 2 : 16;
		ev->timers = xrealloc(ev->timers, ev->captimers * sizeof(*ev->timers));
	}
	uint64_t id = ev->next_id++;
	ev->timers[ev->ntimers++] = (struct timer){ id, at_ms, fn, arg };
	return id;
}

void ev_timer_cancel(struct evloop *ev, uint64_t id)
{
	for (size_t i = 0; i < ev->ntimers; i++)
		if (ev->timers[i].id == id) {
			ev->timers[i] = ev->timers[--ev->ntimers];
			return;
		}
}

void ev_on_interrupt(struct evloop *ev, ev_timer_fn fn, void *arg)
{
	ev->on_int = fn;
	ev->on_int_arg = arg;
}

int ev_interrupted(const struct evloop *ev)
{
	return ev->interrupted;
}

void ev_stop(struct evloop *ev)
{
	ev->stop = 1;
}

static void handle_signal(struct evloop *ev)
{
	struct signalfd_siginfo si;
	while (read(ev->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		ev->interrupted = (int)si.ssi_signo;
		if (ev->on_int)
			ev->on_int(ev, ev->on_int_arg);
		else
			ev->stop = 1;
	}
}

/* Fires every due timer once; a timer added while firing waits for the next pass. */
static void run_timers(struct evloop *ev)
{
	int64_t now = now_ms();
	size_t n = ev->ntimers;
	uint64_t limit = ev->next_id;
	for (size_t pass = 0; pass < n && !ev->stop; pass++) {
		size_t best = SIZE_MAX;
		for (size_t i = 0; i < ev->ntimers; i++)
			if (ev->timers[i].at <= now && ev->timers[i].id < limit &&
			    (best == SIZE_MAX || ev->timers[i].at < ev->timers[best].at))
				best = i;
		if (best == SIZE_MAX)
			return;
		struct timer t = ev->timers[best];
		ev->timers[best] = ev->timers[--ev->ntimers];
		t.fn(ev, t.arg);
	}
}

static int next_timeout(const struct evloop *ev, int64_t deadline)
{
	int64_t now = now_ms(), next = deadline ? deadline : INT64_MAX;
	for (size_t i = 0; i < ev->ntimers; i++)
		if (ev->timers[i].at < next)
			next = ev->timers[i].at;
	if (next == INT64_MAX)
		return -1;
	int64_t d = next - now;
	return d < 0 ? 0 : d > 60000 ? 60000 : (int)d;
}

void ev_run(struct evloop *ev, int64_t deadline_ms)
{
	struct epoll_event evs[64];
	ev->stop = 0;
	while (!ev->stop && (ev->nactive > 0 || ev->ntimers > 0)) {
		if (deadline_ms && now_ms() >= deadline_ms)
			break;
		int n = epoll_wait(ev->ep, evs, 64, next_timeout(ev, deadline_ms));
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n && !ev->stop; i++) {
			int fd = evs[i].data.fd;
			if (fd == ev->sfd) {
				handle_signal(ev);
				continue;
			}
			if (fd < ev->nfds && ev->fds[fd].active)
				ev->fds[fd].fn(ev, fd, evs[i].events, ev->fds[fd].arg);
		}
		if (!ev->stop)
			run_timers(ev);
	}
}
