/* relay.c - ProxyCommand relay: stdin/stdout <-> one TCP socket, on the evloop,
 * with bounded buffers, half-close passed through, and the socket shared with
 * the parent tool over an abstract unix socket (SCM_RIGHTS). */
#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/tcp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "evloop.h"
#include "log.h"
#include "path.h"
#include "util.h"

#define RELAY_BUF (64 * 1024)
#define RELAY_CONNECT_MS 15000

/* One direction: bytes read from src wait in buf until dst takes them. */
struct pipe_dir {
	int src, dst;
	char buf[RELAY_BUF];
	size_t len;
	int eof, closed;	/* src hit EOF; dst has been shut down */
};

struct relay {
	struct evloop *ev;
	int sock;
	struct pipe_dir up, down;	/* up: in -> sock; down: sock -> out */
};

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

int relay_connect(const char *host, const char *port, int family, int timeout_ms,
		  char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	hints.ai_family = family == 4 ? AF_INET : family == 6 ? AF_INET6 : AF_UNSPEC;
	int rc = getaddrinfo(host, port, &hints, &res);
	if (rc) {
		snprintf(err, errlen, "%s: %s", host, gai_strerror(rc));
		return -1;
	}
	int fd = -1, last = 0;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		/* SO_SNDTIMEO bounds a blocking connect on Linux. */
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
			last = errno == EINPROGRESS ? ETIMEDOUT : errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "connect to %s port %s: %s", host, port, strerror(last));
		return -1;
	}
	struct timeval zero = { 0, 0 };
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &zero, sizeof(zero));
	return fd;
}

static void relay_arm(struct relay *r);

/* Moves what it can from src to buf and from buf to dst; never blocks. */
static void dir_step(struct relay *r, struct pipe_dir *d)
{
	if (!d->eof && d->len < RELAY_BUF) {
		ssize_t n = read(d->src, d->buf + d->len, RELAY_BUF - d->len);
		if (n > 0)
			d->len += (size_t)n;
		else if (n == 0 || (errno != EAGAIN && errno != EINTR))
			d->eof = 1;
	}
	while (d->len && !d->closed) {
		ssize_t n = write(d->dst, d->buf, d->len);
		if (n > 0) {
			memmove(d->buf, d->buf + n, d->len - (size_t)n);
			d->len -= (size_t)n;
		} else {
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				d->closed = 1;	/* peer gone: drop the rest */
			break;
		}
	}
	if (d->eof && (!d->len || d->closed) && !d->closed) {
		if (d->dst == r->sock)
			shutdown(r->sock, SHUT_WR);
		else {
			ev_fd_del(r->ev, d->dst);	/* before close: epoll forgets silently */
			close(d->dst);
		}
		d->closed = 1;
	}
}

static void on_io(struct evloop *ev, int fd, uint32_t events, void *arg)
{
	(void)fd;
	(void)events;
	struct relay *r = arg;
	dir_step(r, &r->up);
	dir_step(r, &r->down);
	if (r->down.closed && !r->up.closed)
		r->up.eof = r->up.closed = 1;	/* nobody left to answer */
	relay_arm(r);
	if (relay_done(r))
		ev_stop(ev);
}

/* Registers interest: read while there is room, write while there is data.
 * The socket carries both directions, so its mask is the union. */
static void relay_arm(struct relay *r)
{
	uint32_t sockev = 0;
	int want_in = !r->up.eof && r->up.len < RELAY_BUF;
	int want_sock_in = !r->down.eof && r->down.len < RELAY_BUF;
	if (want_in)
		ev_fd(r->ev, r->up.src, EPOLLIN, on_io, r);
	else
		ev_fd_del(r->ev, r->up.src);
	if (r->down.len && !r->down.closed)
		ev_fd(r->ev, r->down.dst, EPOLLOUT, on_io, r);
	else if (!r->down.closed)
		ev_fd_del(r->ev, r->down.dst);
	if (want_sock_in)
		sockev |= EPOLLIN | EPOLLRDHUP;
	if (r->up.len && !r->up.closed)
		sockev |= EPOLLOUT;
	if (sockev)
		ev_fd(r->ev, r->sock, sockev, on_io, r);
	else
		ev_fd_del(r->ev, r->sock);
}

struct relay *relay_pump(struct evloop *ev, int in, int out, int sock)
{
	struct relay *r = xcalloc(1, sizeof(*r));
	r->ev = ev;
	r->sock = sock;
	r->up.src = in;
	r->up.dst = sock;
	r->down.src = sock;
	r->down.dst = out;
	set_nonblock(in);
	set_nonblock(out);
	set_nonblock(sock);
	relay_arm(r);
	return r;
}

int relay_done(const struct relay *r)
{
	return r->up.closed && r->down.closed;
}

void relay_free(struct relay *r)
{
	if (!r)
		return;
	ev_fd_del(r->ev, r->up.src);
	if (!r->down.closed)
		ev_fd_del(r->ev, r->down.dst);
	ev_fd_del(r->ev, r->sock);
	free(r);
}

/* One byte with fd attached (SCM_RIGHTS), as ssh's mm_receive_fd expects. */
int relay_send_fd(int us, int fd)
{
	char byte = 'R';
	struct iovec iov = { &byte, 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(us, &msg, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

static socklen_t abstract_addr(struct sockaddr_un *sa, const char *name)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	size_t n = strlen(name);
	if (n > sizeof(sa->sun_path) - 2)
		n = sizeof(sa->sun_path) - 2;
	memcpy(sa->sun_path + 1, name, n);	/* leading NUL: abstract namespace */
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

int relay_share_fd(const char *name, int fd)
{
	struct sockaddr_un sa;
	socklen_t len = abstract_addr(&sa, name);
	int us = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (us < 0)
		return -1;
	if (connect(us, (struct sockaddr *)&sa, len) < 0) {
		close(us);
		return -1;
	}
	int rc = relay_send_fd(us, fd);
	close(us);
	return rc;
}

int relay_listen(char *name, size_t namelen)
{
	static unsigned seq;
	snprintf(name, namelen, "sshdoctor-relay-%d-%u-%lld", (int)getpid(), seq++,
		 (long long)(wall_ms() % 1000000));
	struct sockaddr_un sa;
	socklen_t len = abstract_addr(&sa, name);
	int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (ls < 0)
		return -1;
	if (bind(ls, (struct sockaddr *)&sa, len) < 0 || listen(ls, 4) < 0) {
		close(ls);
		return -1;
	}
	return ls;
}

int relay_accept_fd(int lsock)
{
	int c = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return -1;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	int fd = -1;
	/* Only a relay of ours may hand us a socket to trust. */
	if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0 && cred.uid == getuid()) {
		char byte;
		struct iovec iov = { &byte, 1 };
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} u;
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
				      .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
		struct timeval tv = { 2, 0 };
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (recvmsg(c, &msg, MSG_CMSG_CLOEXEC) == 1) {
			struct cmsghdr *h = CMSG_FIRSTHDR(&msg);
			if (h && h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS &&
			    h->cmsg_len == CMSG_LEN(sizeof(int)))
				memcpy(&fd, CMSG_DATA(h), sizeof(int));
		}
	}
	close(c);
	return fd;
}

int relay_tcp_info(int sock, struct tcpi_snap *s)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	memset(s, 0, sizeof(*s));
	memset(&ti, 0, sizeof(ti));
	if (sock < 0 || getsockopt(sock, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return -1;
	s->valid = 1;
	s->rtt_us = ti.tcpi_rtt;
	s->rttvar_us = ti.tcpi_rttvar;
	s->pmtu = ti.tcpi_pmtu;
	s->snd_mss = ti.tcpi_snd_mss;
	s->total_retrans = ti.tcpi_total_retrans;
	s->lost = ti.tcpi_lost;
	s->segs_out = ti.tcpi_segs_out;
	s->data_segs_out = ti.tcpi_data_segs_out;
	s->dsack_dups = ti.tcpi_dsack_dups;
	return 0;
}

int relay_main(const char *host, const char *port, int family, const char *report)
{
	char err[256];
	/* ssh is our parent: when it goes, so do we. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	int sock = relay_connect(host, port, family, RELAY_CONNECT_MS, err, sizeof(err));
	if (sock < 0) {
		fprintf(stderr, "sshdoctor relay: %s\n", err);
		return 255;
	}
	if (report && relay_share_fd(report, sock) < 0)
		debug("relay: could not hand the socket to %s", report);
	struct evloop *ev = ev_new();
	struct relay *r = relay_pump(ev, 0, 1, sock);
	ev_run(ev, 0);	/* until both directions close, or a signal */
	relay_free(r);
	ev_free(ev);
	close(sock);
	return 0;
}
