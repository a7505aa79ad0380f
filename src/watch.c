/* watch.c - the relay's watcher: a duplicate of ssh's socket, observed and
 * never read. Wakes on RDHUP/ERR, ssh's exit (pidfd), netlink address/route
 * changes, the first inbound data after a quiet spell (edge-triggered, armed
 * only while quiet), and a timer: 1 s while data is in flight, 30 s when idle. */
#include "watch.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <poll.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "netid.h"
#include "util.h"

#define ACTIVE_TICK_MS 1000
#define IDLE_TICK_MS 30000
#define QUIET_AFTER_MS 2000	/* no data either way this long: a gap begins */
#define GAP_MIN_MS 2000		/* shorter gaps prove nothing about a middlebox */
#define ADOPT_MAX_PROCS 65536
#define ADOPT_MAX_FDS 4096

enum { K_SOCK = 1, K_PID, K_NL };
/* tcpi_state values (the kernel's tcp_states.h; netinet/tcp.h clashes with linux/tcp.h) */
enum { ST_ESTABLISHED = 1, ST_CLOSE = 7 };

struct wst {
	const struct watch_args *a;
	const struct watch_clock *clk;
	struct history *h;
	struct hist_session s;
	struct watch_obs o;
	int ep, nl, pidfd;
	pid_t ssh_pid;
	int64_t mono0, boot0;
	int quiet;			/* a gap is open: EPOLLIN armed */
	int64_t quiet_ms;		/* mono time of the last packet before it */
	uint64_t q_acked, q_recv, q_segs;
	uint32_t base_retrans;		/* tcpi_total_retrans when last seen healthy */
	int64_t server_words_ms;	/* mono time the server broke the last silence, -1 */
	int q_we_asked;			/* our data was the last before the silence: the
					 * server's next words answer it (a command ran) */
	struct tcp_info ti;
	int ti_ok;
	int64_t unans_send_ms;		/* estimated first send of data not yet answered, -1 */
	int64_t gap_end_idle_ms;	/* the idle before the write that went unanswered */
	char netd[160];			/* what changed on the network */
	int done;
};

static int64_t mono(const struct wst *w)
{
	return w->clk->mono_ms(w->clk->arg);
}

static int sample(struct wst *w)
{
	socklen_t len = sizeof(w->ti);
	memset(&w->ti, 0, sizeof(w->ti));
	w->ti_ok = getsockopt(w->a->sock, IPPROTO_TCP, TCP_INFO, &w->ti, &len) == 0;
	return w->ti_ok ? 0 : -1;
}

static void arm(struct wst *w, int quiet)
{
	struct epoll_event ev = { .events = EPOLLRDHUP | EPOLLET | (quiet ? EPOLLIN : 0),
				  .data.u32 = K_SOCK };
	epoll_ctl(w->ep, EPOLL_CTL_MOD, w->a->sock, &ev);
	w->quiet = quiet;
}

static void gap_add(struct wst *w, int64_t idle_ms, int answered)
{
	if (idle_ms < GAP_MIN_MS)
		return;
	struct hist_gap g = { .session = w->s.id, .at_wall_ms = wall_ms(), .idle_ms = idle_ms,
			      .answered = answered };
	if (history_gap_add(w->h, &g) < 0)
		w->done = 1;	/* the store failed: stop, the session goes on */
}

/* First send of the data now in flight: the last (re)transmission, minus the
 * retransmission timeouts that doubled up to the current one. */
static int64_t first_send_est(const struct wst *w, int64_t now)
{
	int64_t rto_ms = w->ti.tcpi_rto / 1000, back = w->ti.tcpi_backoff;
	int64_t rto0 = back < 16 ? rto_ms >> back : 0;
	return now - (int64_t)w->ti.tcpi_last_data_sent - (back ? rto_ms - rto0 : 0);
}

/* The regular look: gaps open and close here. */
static void tick(struct wst *w)
{
	int64_t now = mono(w);
	if (sample(w) < 0)
		return;
	const struct tcp_info *t = &w->ti;
	int healthy = t->tcpi_state == ST_ESTABLISHED && t->tcpi_unacked == 0 && !t->tcpi_probes;
	/* A dead socket's queue is purged (unacked, backoff 0): its total_retrans is what is left */
	w->o.retrans = (t->tcpi_unacked > 0 && (t->tcpi_retransmits > 0 || t->tcpi_backoff > 0)) ||
		       t->tcpi_probes > 0 || t->tcpi_total_retrans > w->base_retrans;
	if (healthy)
		w->base_retrans = t->tcpi_total_retrans;
	int64_t last_sent = now - t->tcpi_last_data_sent, last_recv = now - t->tcpi_last_data_recv;
	if (t->tcpi_unacked > 0 && w->unans_send_ms < 0 && t->tcpi_retransmits > 0)
		w->unans_send_ms = first_send_est(w, now);
	if (healthy)
		w->unans_send_ms = -1;
	if (w->quiet) {
		int sent = t->tcpi_data_segs_out > w->q_segs, recv = t->tcpi_bytes_received > w->q_recv;
		int answered = recv || t->tcpi_bytes_acked > w->q_acked;
		if (answered && (sent || recv)) {
			int64_t cross = INT64_MAX;
			if (sent && last_sent > w->quiet_ms)
				cross = last_sent;
			if (recv && last_recv < cross)
				cross = last_recv;
			if (cross == INT64_MAX)
				cross = now;
			/* the server broke the silence (ChannelTimeout, a remote command ending) */
			w->server_words_ms = recv && (!sent || last_recv <= last_sent) && !w->q_we_asked
					     ? last_recv : -1;
			w->o.server_gap_ms = cross - w->quiet_ms;
			int64_t idle = cross - w->quiet_ms;
			if (idle > w->s.longest_idle_ms)
				w->s.longest_idle_ms = idle;
			gap_add(w, watch_gap_ms(w->quiet_ms, cross, &w->a->ka), 1);
			arm(w, 0);
		} else if (sent) {
			w->gap_end_idle_ms = last_sent - w->quiet_ms;
			w->server_words_ms = -1;
			arm(w, 0);	/* in flight, unanswered: look every second */
		}
	} else if (t->tcpi_unacked == 0 && t->tcpi_last_data_sent >= QUIET_AFTER_MS &&
		   t->tcpi_last_data_recv >= QUIET_AFTER_MS) {
		uint32_t since = t->tcpi_last_ack_recv < t->tcpi_last_data_sent ? t->tcpi_last_ack_recv
										 : t->tcpi_last_data_sent;
		w->quiet_ms = now - since;
		w->q_acked = t->tcpi_bytes_acked;
		w->q_recv = t->tcpi_bytes_received;
		w->q_segs = t->tcpi_data_segs_out;
		w->q_we_asked = t->tcpi_last_data_sent < t->tcpi_last_data_recv;
		w->gap_end_idle_ms = -1;
		arm(w, 1);
	}
}

static int ssh_alive(struct wst *w)
{
	if (w->pidfd >= 0) {
		struct pollfd p = { .fd = w->pidfd, .events = POLLIN };
		return poll(&p, 1, 0) <= 0;	/* readable: ssh has exited */
	}
	return kill(w->ssh_pid, 0) == 0 || errno == EPERM;
}

/* Another process of ours holding the same socket (ssh -f, ControlPersist:
 * the ssh we started forked and exited): watch that one instead. */
static pid_t find_holder(int sock)
{
	struct stat st;
	if (fstat(sock, &st) < 0)
		return -1;
	char want[64];
	snprintf(want, sizeof(want), "socket:[%lu]", (unsigned long)st.st_ino);
	DIR *d = opendir("/proc");
	pid_t found = -1, self = getpid();
	int nproc = 0;
	for (struct dirent *e; d && found < 0 && nproc < ADOPT_MAX_PROCS && (e = readdir(d));) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0 || pid == self)
			continue;
		nproc++;
		char path[64];
		snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
		struct stat ps;
		if (stat(path, &ps) < 0 || ps.st_uid != getuid())
			continue;
		DIR *fd = opendir(path);
		int nfd = 0;
		for (struct dirent *f; fd && found < 0 && nfd++ < ADOPT_MAX_FDS && (f = readdir(fd));) {
			char lp[400], link[64];
			if (f->d_name[0] == '.')
				continue;
			snprintf(lp, sizeof(lp), "%s/%s", path, f->d_name);
			ssize_t n = readlink(lp, link, sizeof(link) - 1);
			if (n > 0) {
				link[n] = '\0';
				if (!strcmp(link, want))
					found = (pid_t)pid;
			}
		}
		if (fd)
			closedir(fd);
	}
	if (d)
		closedir(d);
	return found;
}

static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	return -1;
#endif
}

/* Looks at the socket after a wake on it: an error, a reset, or the server's FIN. */
static void note_end(struct wst *w)
{
	w->o.end_after_words_ms = w->server_words_ms >= 0 ? mono(w) - w->server_words_ms : -1;
}

static void sock_event(struct wst *w)
{
	int err = 0;
	socklen_t el = sizeof(err);
	getsockopt(w->a->sock, SOL_SOCKET, SO_ERROR, &err, &el);
	tick(w);	/* first: the data that came with the close ends the gap */
	note_end(w);
	if (err == EPIPE) {
		/* a reset after the server's FIN (CLOSE_WAIT): the server closed first */
		w->o.fin = 1;
		w->o.fin_ssh_alive = ssh_alive(w);
		w->o.fin_last_sent_ms = w->ti_ok ? w->ti.tcpi_last_data_sent : 0;
		w->o.fin_last_recv_ms = w->ti_ok ? (int64_t)w->ti.tcpi_last_data_recv : -1;
		w->done = 1;
	} else if (err) {
		w->o.sock_err = err;
		w->done = 1;
	} else if (w->ti_ok && w->ti.tcpi_state == ST_CLOSE) {
		w->o.closed = 1;
		w->done = 1;
	} else if (w->ti_ok && w->ti.tcpi_state != ST_ESTABLISHED) {
		w->o.fin = 1;
		w->o.fin_ssh_alive = ssh_alive(w);
		w->o.fin_last_sent_ms = w->ti.tcpi_last_data_sent;
		w->o.fin_last_recv_ms = w->ti.tcpi_last_data_recv;
		w->done = 1;
	}
}

/* ssh is gone: adopt another holder, or wait briefly for the server's answer
 * to ssh's last words (its disconnect) before calling it killed. */
static void ssh_gone(struct wst *w)
{
	pid_t other = find_holder(w->a->sock);
	if (other > 0) {
		int pfd = open_pidfd(other);
		if (w->pidfd >= 0) {
			epoll_ctl(w->ep, EPOLL_CTL_DEL, w->pidfd, NULL);
			close(w->pidfd);
		}
		w->pidfd = pfd;
		w->ssh_pid = other;
		if (pfd >= 0) {
			struct epoll_event ev = { .events = EPOLLIN, .data.u32 = K_PID };
			epoll_ctl(w->ep, EPOLL_CTL_ADD, pfd, &ev);
		}
		return;
	}
	sock_event(w);
	if (w->done)
		return;
	note_end(w);
	w->o.ssh_gone = 1;
	w->o.gone_last_sent_ms = w->ti_ok ? w->ti.tcpi_last_data_sent : INT32_MAX;
	w->o.gone_unacked = w->ti_ok && w->ti.tcpi_unacked > 0;
	w->done = 1;
	int64_t wait = watch_gone_wait_ms(w->o.gone_last_sent_ms,
					  w->ti_ok ? w->ti.tcpi_last_data_recv : INT32_MAX,
					  w->o.reply_window_ms);
	if (wait <= 0)
		return;
	/* only a killed ssh that had just sent data waits this long for nothing */
	int64_t until = mono(w) + wait;
	/* poll the socket alone: the epoll set also holds ssh's pidfd, readable
	 * for good once ssh exited, which would end this wait at once */
	struct pollfd pf = { .fd = w->a->sock, .events = POLLRDHUP };
	for (int i = 0; i < 40; i++) {
		int64_t left = until - mono(w);
		if (left <= 0)
			break;
		int n = poll(&pf, 1, (int)left);
		if (n < 0 && errno != EINTR)
			break;
		if (n <= 0)
			continue;
		sample(w);
		if (w->ti_ok && w->ti.tcpi_state != ST_ESTABLISHED) {
			w->o.fin = w->ti.tcpi_state != ST_CLOSE;
			w->o.closed = w->ti.tcpi_state == ST_CLOSE;
			w->o.fin_last_sent_ms = w->o.gone_last_sent_ms;
			w->o.fin_last_recv_ms = w->ti.tcpi_last_data_recv;
			break;
		}
	}
}

static void net_check(struct wst *w)
{
	char buf[8192];
	while (recv(w->nl, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;	/* drain: the tables are read below, not the messages */
	if (w->o.net_changed)
		return;
	char gw[64];
	char peer[64];
	snprintf(peer, sizeof(peer), "%s", w->s.remote_addr);
	peer[strcspn(peer, " ")] = '\0';
	netid_gateway(w->s.net.src, *peer ? peer : NULL, gw, sizeof(gw));
	if (!netid_addr_present(w->s.net.src)) {
		w->o.net_changed = 1;
		snprintf(w->netd, sizeof(w->netd), "source address %s removed",
			 w->s.net.src);
	} else if (strcmp(gw, w->s.net.gateway)) {
		w->o.net_changed = 1;
		snprintf(w->netd, sizeof(w->netd), "gateway toward the server %s -> %s",
			 *w->s.net.gateway ? w->s.net.gateway : "none", *gw ? gw : "none");
	}
}

static int open_netlink(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
	if (fd < 0)
		return -1;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK,
				  .nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE |
					       RTMGRP_IPV6_IFADDR | RTMGRP_IPV6_ROUTE };
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void addr_of(int fd, int peer, char *buf, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char a[64] = "";
	int port = 0;
	buf[0] = '\0';
	if ((peer ? getpeername(fd, (struct sockaddr *)&ss, &sl) : getsockname(fd, (struct sockaddr *)&ss, &sl)) < 0)
		return;
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		port = ntohs(s6->sin6_port);
	} else if (ss.ss_family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		port = ntohs(s4->sin_port);
	}
	snprintf(buf, n, "%s %d", a, port);
}

static void finish(struct wst *w)
{
	int64_t now = mono(w);
	if (!w->ti_ok)
		sample(w);
	const struct tcp_info *t = &w->ti;
	w->o.suspended_ms = watch_suspended_ms(w->mono0, w->boot0, now, w->clk->boot_ms(w->clk->arg));
	/* key exchange alone moves more than this each way */
	w->o.preauth = w->ti_ok && t->tcpi_bytes_received < 1500;
	char why[256];
	w->s.end = watch_classify(&w->o, why, sizeof(why));
	if (w->s.end == HE_NETWORK_CHANGED && *w->netd)
		snprintf(w->s.end_detail, sizeof(w->s.end_detail), "%.100s; %.150s", w->netd, why);
	else
		snprintf(w->s.end_detail, sizeof(w->s.end_detail), "%s", why);
	w->s.suspended_ms = w->o.suspended_ms;
	w->s.end_wall_ms = wall_ms();
	w->s.end_mono_ms = now;
	if (w->ti_ok) {
		w->s.bytes_out = (int64_t)t->tcpi_bytes_acked;
		w->s.bytes_in = (int64_t)t->tcpi_bytes_received;
		w->s.rtt_us = t->tcpi_rtt;
		w->s.rttvar_us = t->tcpi_rttvar;
		w->s.retrans_total = t->tcpi_total_retrans;
		w->s.lost = t->tcpi_lost;
		w->s.pmtu = t->tcpi_pmtu;
		w->s.snd_mss = t->tcpi_snd_mss;
		uint32_t ld = t->tcpi_last_data_sent < t->tcpi_last_data_recv ? t->tcpi_last_data_sent
									 : t->tcpi_last_data_recv;
		int64_t idle = w->o.fin ? (int64_t)ld : (int64_t)t->tcpi_last_data_recv;
		if (w->s.end == HE_SERVER_CLOSED && w->o.server_gap_ms > 0 && w->o.end_after_words_ms >= 0)
			idle = w->o.server_gap_ms;
		/* a failed write after a gap: the gap is what the path did not survive */
		if ((w->s.end == HE_TIMEOUT || w->s.end == HE_RESET || w->s.end == HE_NETWORK_CHANGED ||
		     w->s.end == HE_SUSPENDED) && (w->unans_send_ms >= 0 || w->gap_end_idle_ms >= 0)) {
			int64_t send = w->unans_send_ms;
			if (send < 0 && w->s.end != HE_RESET && w->a->ka.user_timeout_ms > 0)
				send = now - w->a->ka.user_timeout_ms;	/* it gave up that long after */
			else if (send < 0)
				send = now - (int64_t)t->tcpi_last_data_sent;
			int64_t base = w->quiet_ms > 0 ? w->quiet_ms : now - t->tcpi_last_ack_recv;
			idle = send - base;
			if (w->quiet_ms > 0 && idle >= GAP_MIN_MS)
				gap_add(w, idle, 0);
		}
		w->s.end_idle_ms = idle > 0 ? idle : 0;
		if (ld > w->s.longest_idle_ms && w->s.end != HE_TIMEOUT)
			w->s.longest_idle_ms = ld;
		if (w->s.end_idle_ms > w->s.longest_idle_ms)
			w->s.longest_idle_ms = w->s.end_idle_ms;
	}
	history_session_update(w->h, &w->s);
}

int watch_run(const struct watch_args *a)
{
	struct wst w;
	memset(&w, 0, sizeof(w));
	w.a = a;
	w.clk = a->clock ? a->clock : &watch_clock_real;
	w.pidfd = a->pidfd;
	w.ssh_pid = a->ssh_pid;
	w.unans_send_ms = -1;
	w.gap_end_idle_ms = -1;
	w.server_words_ms = -1;
	w.o.end_after_words_ms = -1;
	w.o.fin_last_recv_ms = -1;
	w.mono0 = mono(&w);
	w.boot0 = w.clk->boot_ms(w.clk->arg);
	char err[256];
	if (history_open(&w.h, a->db, err, sizeof(err)) < 0) {
		fprintf(stderr, "sshdoctor relay: not recording this session: %s\n", err);
		return -1;
	}
	struct hist_session *s = &w.s;
	snprintf(s->origin, sizeof(s->origin), "relay");
	snprintf(s->target, sizeof(s->target), "%s", a->target);
	snprintf(s->port, sizeof(s->port), "%s", a->port);
	addr_of(a->sock, 0, s->local_addr, sizeof(s->local_addr));
	addr_of(a->sock, 1, s->remote_addr, sizeof(s->remote_addr));
	netid_of_socket(a->sock, &s->net);
	s->start_wall_ms = wall_ms();
	s->start_mono_ms = w.mono0;
	s->end = HE_RUNNING;
	if (a->ka.on) {
		s->keepidle_s = a->ka.idle_s;
		s->keepintvl_s = a->ka.intvl_s;
		s->keepcnt = a->ka.cnt;
	}
	s->user_timeout_ms = a->ka.user_timeout_ms;
	if (history_session_begin(w.h, s) < 0) {
		fprintf(stderr, "sshdoctor relay: not recording this session: %s\n", history_error(w.h));
		history_close(w.h);
		return -1;
	}
	/* The store stays bounded: one session in 64 prunes the oldest past the
	 * limit (SSHDOCTOR_HISTORY_MAX, default 20,000); a failure costs nothing */
	if (s->id % 64 == 0 && history_prune(w.h, 0) < 0)
		fprintf(stderr, "sshdoctor relay: %s\n", history_error(w.h));
	/* From here on nothing of ssh's terminal: it may be gone before we are. */
	int dn = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (dn >= 0) {
		dup2(dn, 2);
		close(dn);
	}
	sample(&w);
	w.o.reply_window_ms = watch_reply_window_ms(w.ti_ok ? w.ti.tcpi_rtt : 0);
	w.ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLRDHUP | EPOLLET, .data.u32 = K_SOCK };
	epoll_ctl(w.ep, EPOLL_CTL_ADD, a->sock, &ev);
	if (w.pidfd >= 0) {
		ev.events = EPOLLIN;
		ev.data.u32 = K_PID;
		epoll_ctl(w.ep, EPOLL_CTL_ADD, w.pidfd, &ev);
	}
	w.nl = open_netlink();
	if (w.nl >= 0) {
		ev.events = EPOLLIN;
		ev.data.u32 = K_NL;
		epoll_ctl(w.ep, EPOLL_CTL_ADD, w.nl, &ev);
	}
	tick(&w);
	while (!w.done) {
		int tmo = w.quiet ? IDLE_TICK_MS : ACTIVE_TICK_MS;
		if (w.pidfd < 0 && tmo > 2000)
			tmo = 2000;	/* no pidfd: look for ssh by its pid */
		struct epoll_event evs[4];
		int n = epoll_wait(w.ep, evs, 4, tmo);
		if (n < 0 && errno != EINTR)
			break;
		int gone = 0, net = 0;
		uint32_t smask = 0;
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u32 == K_SOCK)
				smask = evs[i].events;
			else if (evs[i].data.u32 == K_PID)
				gone = 1;
			else
				net = 1;
		}
		if (net)
			net_check(&w);
		if (smask & (EPOLLRDHUP | EPOLLERR | EPOLLHUP))
			sock_event(&w);
		else
			tick(&w);
		if (!w.done && w.ti_ok && w.ti.tcpi_state != ST_ESTABLISHED)
			sock_event(&w);
		if (!w.done && (gone || (w.pidfd < 0 && !ssh_alive(&w))))
			ssh_gone(&w);
	}
	finish(&w);
	close(w.ep);
	if (w.nl >= 0)
		close(w.nl);
	if (w.pidfd >= 0)
		close(w.pidfd);
	history_close(w.h);
	return 0;
}
