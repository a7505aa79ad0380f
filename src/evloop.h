/* evloop.h - one epoll loop for the whole tool: fds, timers, Ctrl-C.
 * idle, connect and path all run on it; nothing else blocks. */
#ifndef SSHDOCTOR_EVLOOP_H
#define SSHDOCTOR_EVLOOP_H

#include <stdint.h>

struct evloop;
typedef void (*ev_fd_fn)(struct evloop *ev, int fd, uint32_t events, void *arg);
typedef void (*ev_timer_fn)(struct evloop *ev, void *arg);

struct evloop *ev_new(void);
void ev_free(struct evloop *ev);

/* events: EPOLLIN/EPOLLOUT/...; a second add for the same fd modifies it. */
int ev_fd(struct evloop *ev, int fd, uint32_t events, ev_fd_fn fn, void *arg);
void ev_fd_del(struct evloop *ev, int fd);

/* Calls fn once at monotonic time at_ms; returns an id for ev_timer_cancel. */
uint64_t ev_timer_at(struct evloop *ev, int64_t at_ms, ev_timer_fn fn, void *arg);
void ev_timer_cancel(struct evloop *ev, uint64_t id);

/* SIGINT/SIGTERM/SIGHUP are delivered here while the loop runs (blocked otherwise
 * not: the default action kills us and PR_SET_PDEATHSIG takes the children). */
void ev_on_interrupt(struct evloop *ev, ev_timer_fn fn, void *arg);
int ev_interrupted(const struct evloop *ev);

/* Runs until ev_stop(), or nothing is left to wait for, or the deadline (0: none). */
void ev_run(struct evloop *ev, int64_t deadline_ms);
void ev_stop(struct evloop *ev);

#endif
