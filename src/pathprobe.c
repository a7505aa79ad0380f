/* pathprobe.c - round trips without root: TCP handshakes to the SSH port and
 * ICMP echo through ping sockets (where net.ipv4.ping_group_range allows),
 * sent interleaved at a fixed pace on the evloop. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <netinet/icmp6.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "evloop.h"
#include "log.h"
#include "path.h"

#define PROBE_INTERVAL_MS 50
/* Below the kernel's 1 s initial SYN timeout: a handshake that needed a second
 * SYN counts as a lost packet, not as a 1 s round trip. */
#define TCP_TIMEOUT_MS 950
#define ICMP_TIMEOUT_MS 2000

struct pp;
struct tcp_probe {
	struct pp *pp;
	int fd;
	double t0;
	uint64_t timer;
};

struct pp {
	struct evloop *ev;
	struct path_meas *m;
	struct sockaddr_storage sa;
	socklen_t salen;
	int count, next;
	int tcp_count;		/* handshakes: at most count (the budget may allow fewer) */
	struct tcp_probe *tcp;
	double *tcp_rtt, *icmp_rtt;	/* per index; -1 lost, 0 pending */
	char *tcp_rst;		/* per index: answered by a reset */
	int64_t *icmp_t0;
	int icmp_fd;
	int resolved, expected, refused;
	uint64_t tick_timer;
};

static void resolved(struct pp *p)
{
	if (++p->resolved >= p->expected)
		ev_stop(p->ev);
}

static void tcp_finish(struct tcp_probe *t, double rtt)
{
	struct pp *p = t->pp;
	size_t i = (size_t)(t - p->tcp);
	ev_fd_del(p->ev, t->fd);
	close(t->fd);	/* a plain FIN: it is retransmitted, so sshd never waits on us */
	t->fd = -1;
	ev_timer_cancel(p->ev, t->timer);
	p->tcp_rtt[i] = rtt;
	resolved(p);
}

/* Sub-millisecond clock for round trips on fast paths. */
static double now_precise(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void tcp_ready(struct evloop *ev, int fd, uint32_t events, void *arg)
{
	(void)ev;
	struct tcp_probe *t = arg;
	int err = 0;
	socklen_t len = sizeof(err);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	double rtt = now_precise() - t->t0;
	if (err == ECONNREFUSED) {
		/* A RST is a round trip too: the path answered, the port did not. */
		t->pp->refused++;
		t->pp->tcp_rst[t - t->pp->tcp] = 1;
	} else if (err || (events & (EPOLLERR | EPOLLHUP))) {
		debug("tcp probe: %s", strerror(err ? err : EIO));	/* unreachable, ... */
		tcp_finish(t, -2);
		return;
	}
	tcp_finish(t, rtt > 0 ? rtt : 0.01);
}

static void tcp_timeout(struct evloop *ev, void *arg)
{
	(void)ev;
	struct tcp_probe *t = arg;
	t->timer = 0;
	tcp_finish(t, -1);
}

static void tcp_start(struct pp *p, int i)
{
	struct tcp_probe *t = &p->tcp[i];
	t->pp = p;
	t->fd = socket(p->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	p->m->tcp.sent++;
	if (t->fd < 0) {
		p->tcp_rtt[i] = -2;
		resolved(p);
		return;
	}
	t->t0 = now_precise();
	int rc = connect(t->fd, (struct sockaddr *)&p->sa, p->salen);
	if (rc < 0 && errno != EINPROGRESS) {
		close(t->fd);
		t->fd = -1;
		p->tcp_rtt[i] = -2;
		resolved(p);
		return;
	}
	ev_fd(p->ev, t->fd, EPOLLOUT, tcp_ready, t);
	t->timer = ev_timer_at(p->ev, now_ms() + TCP_TIMEOUT_MS, tcp_timeout, t);
}

static int icmp_open(struct pp *p)
{
	int v6 = p->sa.ss_family == AF_INET6;
	int fd = socket(p->sa.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
	if (fd < 0) {
		snprintf(p->m->icmp.note, sizeof(p->m->icmp.note),
			 "ping socket not permitted (%s): see net.ipv4.ping_group_range", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&p->sa, p->salen) < 0) {
		snprintf(p->m->icmp.note, sizeof(p->m->icmp.note), "ICMP: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void icmp_read(struct evloop *ev, int fd, uint32_t events, void *arg)
{
	(void)ev;
	(void)events;
	struct pp *p = arg;
	unsigned char buf[256];
	int v6 = p->sa.ss_family == AF_INET6;
	for (int k = 0; k < 64; k++) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 8)
			return;
		int reply = v6 ? buf[0] == ICMP6_ECHO_REPLY : buf[0] == ICMP_ECHOREPLY;
		int seq = (buf[6] << 8) | buf[7];
		if (!reply || seq >= p->count || p->icmp_rtt[seq] != 0)
			continue;
		double rtt = now_precise() - (double)p->icmp_t0[seq] / 1000.0;
		p->icmp_rtt[seq] = rtt > 0 ? rtt : 0.01;
		resolved(p);
	}
}

static void icmp_send(struct pp *p, int i)
{
	unsigned char pkt[24] = { 0 };
	int v6 = p->sa.ss_family == AF_INET6;
	pkt[0] = v6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO;
	pkt[6] = (unsigned char)(i >> 8);	/* id and checksum: the kernel's job */
	pkt[7] = (unsigned char)i;
	memcpy(pkt + 8, "sshdoctor-path!!", 16);
	p->icmp_t0[i] = (int64_t)(now_precise() * 1000.0);
	p->m->icmp.sent++;
	if (send(p->icmp_fd, pkt, sizeof(pkt), 0) < 0)
		debug("icmp send: %s", strerror(errno));
}

static void tick(struct evloop *ev, void *arg)
{
	struct pp *p = arg;
	int i = p->next++;
	if (i < p->tcp_count)
		tcp_start(p, i);
	if (p->icmp_fd >= 0)
		icmp_send(p, i);
	p->tick_timer = p->next < p->count ?
		ev_timer_at(ev, now_ms() + PROBE_INTERVAL_MS, tick, p) : 0;
}

/* ICMP probes are judged lost only after the last one had its full time. */
static void icmp_expire(struct pp *p)
{
	for (int i = 0; i < p->next; i++)
		if (p->icmp_rtt[i] == 0)
			p->icmp_rtt[i] = -1;
}

static void collect(const double *v, int n, struct probe_series *s)
{
	s->n = 0;
	for (int i = 0; i < n; i++) {
		if (v[i] > 0)
			s->rtt[s->n++] = v[i];
		else if (v[i] == -1 || v[i] == 0)
			s->lost++;
	}
}

static int resolve_addr(const char *addr, int port, struct pp *p)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_STREAM }, *res;
	char ps[8];
	snprintf(ps, sizeof(ps), "%d", port);
	if (getaddrinfo(addr, ps, &hints, &res))
		return -1;
	memcpy(&p->sa, res->ai_addr, res->ai_addrlen);
	p->salen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

void pathprobe_run(struct evloop *ev, const char *addr, int port, int count, int tcp_count,
		   int64_t deadline, struct path_meas *m)
{
	struct pp p = { .ev = ev, .m = m, .count = count, .icmp_fd = -1 };
	p.tcp_count = tcp_count < 0 ? 0 : tcp_count > count ? count : tcp_count;
	if (count <= 0 || count > PATH_MAX_COUNT || resolve_addr(addr, port, &p) < 0)
		return;
	p.tcp = xcalloc((size_t)count, sizeof(*p.tcp));
	p.tcp_rtt = xcalloc((size_t)count, sizeof(double));
	p.tcp_rst = xcalloc((size_t)count, 1);
	p.icmp_rtt = xcalloc((size_t)count, sizeof(double));
	p.icmp_t0 = xcalloc((size_t)count, sizeof(int64_t));
	m->tcp.available = p.tcp_count > 0;
	p.icmp_fd = icmp_open(&p);
	m->icmp.available = p.icmp_fd >= 0;
	p.expected = p.tcp_count + (p.icmp_fd >= 0 ? count : 0);
	if (!p.expected) {
		free(p.tcp);
		free(p.tcp_rtt);
		free(p.tcp_rst);
		free(p.icmp_rtt);
		free(p.icmp_t0);
		return;
	}
	if (p.icmp_fd >= 0)
		ev_fd(ev, p.icmp_fd, EPOLLIN, icmp_read, &p);
	p.tick_timer = ev_timer_at(ev, now_ms(), tick, &p);
	int64_t until = now_ms() + (int64_t)count * PROBE_INTERVAL_MS + ICMP_TIMEOUT_MS + 500;
	ev_run(ev, until < deadline ? until : deadline);
	ev_timer_cancel(ev, p.tick_timer);	/* the deadline may cut the run short */
	int tsent = p.next < p.tcp_count ? p.next : p.tcp_count;
	for (int i = 0; i < tsent; i++)	/* whatever is still open: lost */
		if (p.tcp_rtt[i] == 0) {
			if (p.tcp[i].fd >= 0) {
				ev_fd_del(ev, p.tcp[i].fd);
				close(p.tcp[i].fd);
			}
			ev_timer_cancel(ev, p.tcp[i].timer);
			p.tcp_rtt[i] = -1;
		}
	icmp_expire(&p);
	collect(p.tcp_rtt, tsent, &m->tcp);
	m->tcp.sent = (size_t)tsent;
	for (int i = 0; i < PATH_MAX_COUNT; i++)
		m->tcp_outcome[i] = i >= tsent ? -1 : p.tcp_rtt[i] == -2 ? -1 :
				    p.tcp_rst[i] ? 2 : p.tcp_rtt[i] > 0 ? 1 : 0;
	size_t failed = 0;
	for (int i = 0; i < tsent; i++)
		failed += p.tcp_rtt[i] == -2;
	if (p.refused || failed)
		snprintf(m->tcp.note, sizeof(m->tcp.note), "%d answered by a reset (port closed?), "
			 "%zu failed otherwise", p.refused, failed);
	if (p.icmp_fd >= 0) {
		ev_fd_del(ev, p.icmp_fd);
		close(p.icmp_fd);
		collect(p.icmp_rtt, p.next, &m->icmp);
		m->icmp.sent = (size_t)p.next;
	}
	free(p.tcp);
	free(p.tcp_rtt);
	free(p.tcp_rst);
	free(p.icmp_rtt);
	free(p.icmp_t0);
}
