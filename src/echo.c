/* echo.c - a bounded TCP echo server: every byte a client sends comes back.
 * One event loop, non-blocking sockets, a small buffer per client; a client
 * that does not read its echoes is dropped rather than buffered forever.
 * Clients are capped below the fd limit (more are accepted and closed at once),
 * and when accept still runs out of fds the listener rests 100 ms instead of
 * spinning on an always-readable socket. */
#include "echo.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "evloop.h"
#include "log.h"

#define ECHO_MAX_CLIENTS 4096
#define ECHO_BUF 65536
#define ECHO_FD_RESERVE 16	/* stdio, epoll, listener, signals, logs */
#define ECHO_BACKOFF_MS 100

struct echo_client {
	int fd;
	char *buf;		/* echoes not yet written back */
	size_t len;
};

struct echo_srv {
	struct evloop *ev;
	int lfd;
	struct echo_client *cl[ECHO_MAX_CLIENTS];
	int nclients, cap;	/* cap: below RLIMIT_NOFILE */
	int paused;		/* listener out of the loop until the back-off timer */
	long served, dropped, backoffs;
};

/* "ADDR:PORT", "[V6]:PORT", ":PORT" or "PORT". */
static int split_listen(const char *spec, char *host, size_t hl, char *port, size_t pl)
{
	const char *colon = strrchr(spec, ':');
	const char *h = spec;
	size_t n;
	if (!colon) {
		snprintf(host, hl, "0.0.0.0");
		snprintf(port, pl, "%s", spec);
		return *spec ? 0 : -1;
	}
	n = (size_t)(colon - spec);
	if (n >= 2 && spec[0] == '[' && spec[n - 1] == ']') {
		h++;
		n -= 2;
	}
	if (n >= hl || !colon[1] || strlen(colon + 1) >= pl)
		return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	if (!*host)
		snprintf(host, hl, "0.0.0.0");
	snprintf(port, pl, "%s", colon + 1);
	return strspn(port, "0123456789") == strlen(port) ? 0 : -1;
}

static int listen_on(const char *spec, char *err, size_t errlen)
{
	char host[256], port[16];
	struct addrinfo hints = { 0 }, *ai = NULL;
	if (split_listen(spec, host, sizeof(host), port, sizeof(port)) < 0) {
		snprintf(err, errlen, "'%s' is not ADDR:PORT", spec);
		return -1;
	}
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	int rc = getaddrinfo(host, port, &hints, &ai);
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", spec, gai_strerror(rc));
		return -1;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
		snprintf(err, errlen, "%s: %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

static void client_drop(struct echo_srv *e, int i)
{
	struct echo_client *c = e->cl[i];
	ev_fd_del(e->ev, c->fd);
	close(c->fd);
	free(c->buf);
	free(c);
	e->cl[i] = NULL;
	e->nclients--;
}

/* Writes back what is pending; returns -1 when the client is gone. */
static int client_flush(struct echo_srv *e, struct echo_client *c)
{
	while (c->len) {
		ssize_t w = send(c->fd, c->buf, c->len, MSG_NOSIGNAL);
		if (w < 0)
			return errno == EAGAIN ? 0 : -1;
		memmove(c->buf, c->buf + w, c->len - (size_t)w);
		c->len -= (size_t)w;
	}
	return 0;
}

static void on_client(struct evloop *ev, int fd, uint32_t events, void *arg)
{
	struct echo_srv *e = arg;
	int i;
	for (i = 0; i < ECHO_MAX_CLIENTS && !(e->cl[i] && e->cl[i]->fd == fd); i++)
		;
	if (i == ECHO_MAX_CLIENTS)
		return;
	struct echo_client *c = e->cl[i];
	if (events & EPOLLIN) {
		ssize_t n = read(fd, c->buf + c->len, ECHO_BUF - c->len);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			client_drop(e, i);
			return;
		}
		if (n > 0)
			c->len += (size_t)n;
	}
	if (client_flush(e, c) < 0 || c->len == ECHO_BUF) {
		client_drop(e, i);	/* gone, or never reads its echoes */
		return;
	}
	ev_fd(ev, fd, EPOLLIN | (c->len ? EPOLLOUT : 0), on_client, e);
}

static void on_accept(struct evloop *ev, int lfd, uint32_t events, void *arg);

static void on_resume(struct evloop *ev, void *arg)
{
	struct echo_srv *e = arg;
	e->paused = 0;
	ev_fd(ev, e->lfd, EPOLLIN, on_accept, e);
}

static void on_accept(struct evloop *ev, int lfd, uint32_t events, void *arg)
{
	struct echo_srv *e = arg;
	(void)events;
	for (int k = 0; k < 64; k++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* The connection stays queued and the listener readable:
				 * rest instead of spinning. */
				ev_fd_del(ev, lfd);
				e->paused = 1;
				e->backoffs++;
				ev_timer_at(ev, now_ms() + ECHO_BACKOFF_MS, on_resume, e);
			}
			return;
		}
		int i = ECHO_MAX_CLIENTS;
		if (e->nclients < e->cap)
			for (i = 0; i < ECHO_MAX_CLIENTS && e->cl[i]; i++)
				;
		if (i == ECHO_MAX_CLIENTS) {
			close(fd);
			e->dropped++;
			continue;
		}
		e->cl[i] = xcalloc(1, sizeof(*e->cl[i]));
		e->cl[i]->fd = fd;
		e->cl[i]->buf = xmalloc(ECHO_BUF);
		e->nclients++;
		e->served++;
		ev_fd(ev, fd, EPOLLIN, on_client, e);
	}
}

static void on_stop(struct evloop *ev, void *arg)
{
	(void)arg;
	ev_stop(ev);
}

int echo_serve(const char *listen, int64_t run_ms, struct report *r, char *err, size_t errlen)
{
	struct echo_srv *e = xcalloc(1, sizeof(*e));
	e->lfd = listen_on(listen, err, errlen);
	if (e->lfd < 0) {
		free(e);
		return -1;
	}
	struct rlimit rl;
	long lim = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
		   ? (long)rl.rlim_cur : ECHO_MAX_CLIENTS + ECHO_FD_RESERVE;
	long cap = lim > 2 * ECHO_FD_RESERVE ? lim - ECHO_FD_RESERVE : lim / 2;
	e->cap = (int)(cap < 1 ? 1 : cap > ECHO_MAX_CLIENTS ? ECHO_MAX_CLIENTS : cap);
	e->ev = ev_new();
	ev_on_interrupt(e->ev, on_stop, e);
	ev_fd(e->ev, e->lfd, EPOLLIN, on_accept, e);
	if (run_ms > 0)
		ev_timer_at(e->ev, now_ms() + run_ms, on_stop, e);
	info("echo-server: listening on %s (Ctrl-C to stop)", listen);
	ev_run(e->ev, 0);
	for (int i = 0; i < ECHO_MAX_CLIENTS; i++)
		if (e->cl[i])
			client_drop(e, i);
	if (!e->paused)
		ev_fd_del(e->ev, e->lfd);
	close(e->lfd);
	ev_free(e->ev);
	struct json_object *m = json_object_new_object();
	json_object_object_add(m, "listen", json_object_new_string(listen));
	json_object_object_add(m, "connections", json_object_new_int64(e->served));
	json_object_object_add(m, "refused", json_object_new_int64(e->dropped));
	json_object_object_add(m, "max_clients", json_object_new_int64(e->cap));
	json_object_object_add(m, "accept_backoffs", json_object_new_int64(e->backoffs));
	report_measure(r, "echo_server", m, NULL);
	struct finding *f = report_add(r, SEV_OK, "echo.served", "Echoed %ld connection(s) on %s",
				       e->served, listen);
	if (e->dropped)
		finding_evidence(f, "%ld refused: more than %d at once (%d: kept below the open-files "
				 "limit)", e->dropped, e->cap, e->cap);
	free(e);
	return 0;
}
