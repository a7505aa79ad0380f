/* relay_race.c - a fresh SYN at a steady cadence until one handshake completes
 * (see relay_race.h for why). Bounded: RACE_MAX_INFLIGHT sockets, wait_ms. */
#include "relay_race.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

int relay_race_gap_ms(int n)
{
	return n <= 8 ? 500 : 1000;
}

static int sock_error(int fd)
{
	int e = 0;
	socklen_t l = sizeof(e);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) < 0)
		return errno;
	return e;
}

/* A connection the server has seen too: handshake complete by now. */
static int completed(int fd)
{
	struct pollfd p = { fd, POLLOUT, 0 };
	return poll(&p, 1, 0) == 1 && (p.revents & POLLOUT) && !(p.revents & (POLLERR | POLLHUP)) &&
	       sock_error(fd) == 0;
}

static int start_one(const struct addrinfo *a, int *err)
{
	int fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		*err = errno;
		return -1;
	}
	int syncnt = RACE_SYNCNT;
	setsockopt(fd, IPPROTO_TCP, TCP_SYNCNT, &syncnt, sizeof(syncnt));
	if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
		return fd;	/* loopback may complete at once */
	if (errno == EINPROGRESS)
		return fd;
	*err = errno;
	close(fd);
	return -1;
}

int relay_connect_race(const char *host, const char *port, int family, int wait_ms,
		       struct relay_race_stats *st, char *err, size_t errlen)
{
	struct relay_race_stats dummy;
	if (!st)
		st = &dummy;
	memset(st, 0, sizeof(*st));
	int64_t t0 = now_ms(), deadline = t0 + (wait_ms > 0 ? wait_ms : 1);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL, *next = NULL;
	hints.ai_family = family == 4 ? AF_INET : family == 6 ? AF_INET6 : AF_UNSPEC;
	int r[RACE_MAX_INFLIGHT];	/* sockets in SYN_SENT, oldest first */
	int n = 0, winner = -1, last = ETIMEDOUT, final = 0, gai_last = 0;
	int64_t next_resolve = t0, next_syn = t0;

	while (winner < 0 && !final) {
		int64_t t = now_ms();
		if (t >= deadline)
			break;
		if (!res && t >= next_resolve) {
			int rc = getaddrinfo(host, port, &hints, &res);
			if (rc == EAI_AGAIN) {	/* the resolver is not reachable yet */
				gai_last = rc;
				res = NULL;
				next_resolve = now_ms() + relay_race_gap_ms(1);
			} else if (rc) {
				snprintf(err, errlen, "%s: %s", host, gai_strerror(rc));
				return -1;
			} else {
				next = res;
			}
			continue;
		}
		if (res && t >= next_syn) {
			if (n == RACE_MAX_INFLIGHT) {	/* the oldest goes: its SYN had its chance */
				close(r[0]);
				memmove(r, r + 1, sizeof(r[0]) * (size_t)--n);
			}
			int e = 0, fd = start_one(next, &e);
			next = next->ai_next ? next->ai_next : res;	/* round robin */
			st->opened++;
			next_syn = t + relay_race_gap_ms(st->opened);
			if (fd >= 0)
				r[n++] = fd;
			else if (e == ENETUNREACH) {
				/* no route in our own table: whoever runs us waits for
				 * the network (keep: netlink) instead */
				last = e;
				final = 1;
			} else {
				last = e;
			}
			continue;
		}
		int64_t wake = deadline;
		if (!res && next_resolve < wake)
			wake = next_resolve;
		if (res && next_syn < wake)
			wake = next_syn;
		struct pollfd p[RACE_MAX_INFLIGHT];
		for (int i = 0; i < n; i++)
			p[i] = (struct pollfd){ r[i], POLLOUT, 0 };
		int left = (int)(wake - t);
		if (poll(p, (nfds_t)n, left > 0 ? left : 0) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n && winner < 0; i++) {
			if (!p[i].revents)
				continue;
			int e = sock_error(r[i]);
			if (e == 0 && (p[i].revents & POLLOUT)) {
				winner = i;
				break;
			}
			last = e ? e : ECONNRESET;
			close(r[i]);	/* keep the order: r[0] is the one a new SYN evicts */
			n--;
			memmove(r + i, r + i + 1, sizeof(r[0]) * (size_t)(n - i));
			memmove(p + i, p + i + 1, sizeof(p[0]) * (size_t)(n - i));
			i--;
		}
	}
	int fd = -1;
	for (int i = 0; i < n; i++) {
		if (i == winner) {
			fd = r[i];
			continue;
		}
		if (winner >= 0 && completed(r[i]))
			st->extra++;
		close(r[i]);
	}
	if (res)
		freeaddrinfo(res);
	st->ms = now_ms() - t0;
	if (fd < 0) {
		if (gai_last && st->opened == 0)
			snprintf(err, errlen, "%s: %s", host, gai_strerror(gai_last));
		else
			snprintf(err, errlen, "connect to %s port %s: %s", host, port, strerror(last));
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}
