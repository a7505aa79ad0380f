/* pmtu.c - the path MTU as the kernel learns it, without root: UDP datagrams
 * with DF set (IP_PMTUDISC_PROBE) toward a closed port; the socket error queue
 * (IP_RECVERR) says "fragmentation needed, MTU m" from a router, or "port
 * unreachable" from the server, which proves a datagram of that size arrived. */
#include <errno.h>
#include <time.h>
#include <linux/errqueue.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "path.h"

#define PMTU_PORT "33434"	/* traceroute's: closed nearly everywhere */
#define PMTU_WAIT_MS 700
#define PMTU_TRIES 5
#define PMTU_MAX_STEPS 12
#define PMTU_SMALL 576

enum answer { A_NONE, A_ARRIVED, A_TOOBIG, A_ERROR };

struct pmtu_sock {
	int fd, v6, hdr;	/* hdr: IP + UDP header bytes */
	int64_t deadline;
};

/* Reads one error-queue entry: what happened to a datagram we sent. */
static enum answer read_errqueue(struct pmtu_sock *s, int *mtu)
{
	char data[2048], ctl[512];
	struct iovec iov = { data, sizeof(data) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			      .msg_controllen = sizeof(ctl) };
	if (recvmsg(s->fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
		return A_NONE;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (!((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
		      (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)))
			continue;
		struct sock_extended_err ee;
		memcpy(&ee, CMSG_DATA(c), sizeof(ee));
		if (ee.ee_errno == EMSGSIZE) {
			*mtu = (int)ee.ee_info;
			return A_TOOBIG;
		}
		if (ee.ee_errno == ECONNREFUSED)
			return A_ARRIVED;
		debug("pmtu: error queue: %s", strerror((int)ee.ee_errno));
		return A_ERROR;
	}
	return A_NONE;
}

/* Sends one datagram of size bytes (IP packet size) and waits for its fate. */
static enum answer probe(struct pmtu_sock *s, int size, int *mtu)
{
	static char payload[65536];
	if (size <= s->hdr || size > (int)sizeof(payload))
		return A_ERROR;
	if (send(s->fd, payload, (size_t)(size - s->hdr), 0) < 0) {
		if (errno == EMSGSIZE) {	/* the kernel already knows better */
			socklen_t l = sizeof(*mtu);
			getsockopt(s->fd, s->v6 ? SOL_IPV6 : SOL_IP, s->v6 ? IPV6_MTU : IP_MTU, mtu, &l);
			return *mtu > 0 && *mtu < size ? A_TOOBIG : A_ERROR;
		}
		enum answer a = read_errqueue(s, mtu);	/* a pending error from before */
		return a != A_NONE ? a : A_ERROR;
	}
	int64_t until = now_ms() + PMTU_WAIT_MS;
	if (until > s->deadline)
		until = s->deadline;
	for (int64_t now = now_ms(); now < until; now = now_ms()) {
		struct pollfd pfd = { s->fd, POLLIN, 0 };
		if (poll(&pfd, 1, (int)(until - now)) <= 0)
			continue;
		if (pfd.revents & POLLERR) {
			enum answer a = read_errqueue(s, mtu);
			if (a != A_NONE)
				return a;
		}
		if (pfd.revents & POLLIN) {
			char b[64];
			if (recv(s->fd, b, sizeof(b), MSG_DONTWAIT) >= 0)
				return A_ARRIVED;	/* something listens and answered */
		}
	}
	return A_NONE;
}

static int open_sock(const char *addr, struct pmtu_sock *s, char *note, size_t nlen)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_DGRAM }, *res;
	if (getaddrinfo(addr, PMTU_PORT, &hints, &res))
		return -1;
	s->v6 = res->ai_family == AF_INET6;
	s->hdr = s->v6 ? 48 : 28;
	s->fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int on = 1, mode = s->v6 ? IPV6_PMTUDISC_PROBE : IP_PMTUDISC_PROBE;
	int ok = s->fd >= 0 &&
		 setsockopt(s->fd, s->v6 ? SOL_IPV6 : SOL_IP, s->v6 ? IPV6_MTU_DISCOVER : IP_MTU_DISCOVER,
			    &mode, sizeof(mode)) == 0 &&
		 setsockopt(s->fd, s->v6 ? SOL_IPV6 : SOL_IP, s->v6 ? IPV6_RECVERR : IP_RECVERR,
			    &on, sizeof(on)) == 0 &&
		 connect(s->fd, res->ai_addr, res->ai_addrlen) == 0;
	freeaddrinfo(res);
	if (!ok) {
		snprintf(note, nlen, "UDP probe socket: %s", strerror(errno));
		if (s->fd >= 0)
			close(s->fd);
		return -1;
	}
	return 0;
}

/* Tries one size up to PMTU_TRIES times (loss must not look like a hole). */
static enum answer probe_size(struct pmtu_sock *s, int size, int *mtu)
{
	enum answer a = A_NONE;
	for (int t = 0; t < PMTU_TRIES && a == A_NONE && now_ms() < s->deadline; t++)
		a = probe(s, size, mtu);
	return a;
}

void pmtu_run(const char *addr, int64_t deadline, struct pmtu_result *p)
{
	struct pmtu_sock s = { .fd = -1, .deadline = deadline };
	memset(p, 0, sizeof(*p));
	if (open_sock(addr, &s, p->note, sizeof(p->note)) < 0)
		return;
	p->tried = 1;
	socklen_t l = sizeof(p->first_mtu);
	getsockopt(s.fd, s.v6 ? SOL_IPV6 : SOL_IP, s.v6 ? IPV6_MTU : IP_MTU, &p->first_mtu, &l);
	int size = p->first_mtu > 0 ? p->first_mtu : 1500;
	for (int step = 0; step < PMTU_MAX_STEPS && !p->pmtu; step++) {
		int mtu = 0;
		enum answer a = probe_size(&s, size, &mtu);
		if (a == A_ARRIVED) {
			p->pmtu = size;
		} else if (a == A_TOOBIG && mtu > s.hdr && mtu < size) {
			p->icmp_mtu = mtu;
			size = mtu;
			continue;
		} else if (a == A_NONE && size > PMTU_SMALL) {
			int m2 = 0;
			p->small_answered = probe_size(&s, PMTU_SMALL, &m2) == A_ARRIVED;
			if (p->small_answered)
				snprintf(p->note, sizeof(p->note),
					 "UDP probes of %d bytes vanished while %d bytes got an answer: "
					 "big packets are dropped without ICMP", size, PMTU_SMALL);
			else
				snprintf(p->note, sizeof(p->note),
					 "UDP probes got no answer at all (filtered?)");
		} else if (a == A_ERROR) {
			snprintf(p->note, sizeof(p->note), "UDP probe of %d bytes failed", size);
		}
		break;
	}
	close(s.fd);
}
