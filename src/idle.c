/* idle.c - the idle measurement's probes: many idle connections on the one event
 * loop (the user's ssh running `cat`, raw TCP to an echo server, or unauthenticated
 * connections to the SSH port), driven by the pure scheduler in idle_sched.c.
 * Measures only; idle_judge.c turns the result into findings. */
#include "idle.h"

#include <errno.h>
#include <signal.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "askpass.h"
#include "budget.h"
#include "evloop.h"
#include "idle_kern.h"
#include "log.h"
#include "proc.h"
#include "relay.h"
#include "state.h"

#define LINE_CAP 1024		/* longer lines from ssh or the network are cut */
#define HANDSHAKE_MS 30000	/* a connection not echoing by then failed */
#define PREAUTH_MAX_CONNS 8	/* unauthenticated ones count against MaxStartups (10) */
#define ACK_POLL_MS 20
#define MAX_DRIVE_STEPS 1000	/* scheduler actions per wake-up */
#define TCP_DEFAULT_PORT 7777
#define LAST_WORDS_MS 2000	/* ssh's stderr after its stdout closed */
#define STDIN_GONE_MS 500	/* ssh's stdout EOF after a probe found its stdin closed */
#define KERN_POLL_MS 25		/* TCP_INFO while a probe is in flight */
#define KERN_POLL_MAX_MS 20000	/* then the scheduler's fallback timeout decides */

struct idle_ctx;

struct iconn {
	struct idle_ctx *x;
	int slot, active;
	unsigned gen;		/* changes when the slot is reused */
	struct proc p;		/* via ssh */
	int fd;			/* via tcp / preauth, -1 otherwise */
	int stage;		/* 0: first echo, 1: rtt echo, 2: in use */
	int connected_sock;	/* tcp/preauth: connect() completed */
	unsigned seq;
	char tok[40];
	char out[LINE_CAP + 1];
	size_t olen;
	char err[LINE_CAP + 1];
	size_t elen;
	char lasterr[256];
	int64_t t_tok, last_traffic, connected_at;
	uint64_t hs_timer, ack_timer;
	size_t pa_off;		/* preauth: bytes of the never-finished packet sent */
	int chan_freed, exit_status;	/* ssh -v: the session channel ended, how */
	int transport_lost;		/* ssh said the connection ended... */
	int chan_first;			/* ...after the channel was freed: sshd closed it */
	int out_eof, err_eof;		/* via ssh: which of its pipes are closed */
	/* the kernel's view: via ssh a duplicate of the relay's socket */
	int lsock, tcpfd;		/* listener for the relay's fd; the duplicate */
	uint64_t kern_timer;
	int64_t kern_sent, kern_first;	/* probe written; first seen unacknowledged */
	int kern_rst;			/* the kernel saw the flow reset */
	int relay_said;			/* lasterr is the relay's own error */
};

struct idle_ctx {
	const struct idle_opts *o;
	struct target *t;
	const struct sshopts *so;
	struct evloop *ev;
	struct idle_sched s;
	struct iconn c[ISC_MAX_CONNS];
	struct sockaddr_storage addr;
	socklen_t alen;
	int64_t start, rtt_max, preauth_cap;
	uint64_t wake_timer, progress_timer;
	enum idle_setup_error setup;
	char setup_msg[256];
	int progress_shown;
	/* preauth against a server that may penalise unauthenticated connections */
	char baddr[64];
	int budgeted, budget_stop, grace_charges;
	/* new connections failing after others worked: a rate limit on them */
	int newconn_fail;
	char newconn_err[256];
	int nchanclose, nfin, nunprompted;	/* how stage-2 connections died */
	char *self;		/* our binary, for the relay as ProxyCommand; NULL: none */
	int nkern;		/* connections whose socket the kernel showed us */
};

static void drive(struct idle_ctx *x);

/* --- small helpers ---------------------------------------------------------- */

static void set_lasterr(struct iconn *c, const char *line)
{
	snprintf(c->lasterr, sizeof(c->lasterr), "%s", line);
	size_t n = strcspn(c->lasterr, "\r\n");
	c->lasterr[n] = '\0';
}

static enum idle_setup_error classify_setup(const char *err, int status)
{
	if (status == 127 || strstr(err, "not found") || strstr(err, "No such file"))
		return IDLE_REMOTE_CMD;
	if (strstr(err, "Permission denied") || strstr(err, "Host key verification failed") ||
	    strstr(err, "Too many authentication failures") || strstr(err, "passphrase"))
		return IDLE_AUTH;
	if (strstr(err, "Could not resolve") || strstr(err, "connect to host") ||
	    strstr(err, "No route") || strstr(err, "refused") || strstr(err, "timed out") ||
	    strstr(err, "unreachable") || strstr(err, "Name or service"))
		return IDLE_UNREACHABLE;
	return IDLE_OTHER;
}

static enum isc_result classify_death(const char *err)
{
	if (strstr(err, "reset") || strstr(err, "Broken pipe"))
		return IR_RESET;
	return IR_CLOSED;
}

static void next_token(struct iconn *c)
{
	snprintf(c->tok, sizeof(c->tok), "sdidle-%d-%u", c->slot, ++c->seq);
}

/* Writes the current token; returns -1 when the pipe or socket is gone. */
static int send_token(struct iconn *c)
{
	char line[48];
	int n = snprintf(line, sizeof(line), "%s\n", c->tok);
	ssize_t w = c->fd >= 0 ? send(c->fd, line, (size_t)n, MSG_NOSIGNAL)
			       : write(c->p.in, line, (size_t)n);
	return w == n ? 0 : -1;
}

/* --- connection end ----------------------------------------------------------- */

static void conn_release(struct iconn *c)
{
	struct idle_ctx *x = c->x;
	if (!c->active)
		return;
	ev_timer_cancel(x->ev, c->hs_timer);
	ev_timer_cancel(x->ev, c->ack_timer);
	ev_timer_cancel(x->ev, c->kern_timer);
	c->hs_timer = c->ack_timer = c->kern_timer = 0;
	if (c->lsock >= 0) {
		ev_fd_del(x->ev, c->lsock);
		close(c->lsock);
		c->lsock = -1;
	}
	if (c->tcpfd >= 0) {
		close(c->tcpfd);
		c->tcpfd = -1;
	}
	if (c->fd >= 0) {
		ev_fd_del(x->ev, c->fd);
		close(c->fd);
		c->fd = -1;
	} else {
		ev_fd_del(x->ev, c->p.out);
		ev_fd_del(x->ev, c->p.err);
		proc_stop(&c->p, 300);
	}
	c->active = 0;
}

static void setup_failed(struct iconn *c, int status)
{
	struct idle_ctx *x = c->x;
	if (!x->s.ever_connected && x->setup == IDLE_SETUP_OK) {
		x->setup = classify_setup(c->lasterr, status);
		snprintf(x->setup_msg, sizeof(x->setup_msg), "%s",
			 c->lasterr[0] ? c->lasterr : status == 127 ? "exit status 127" :
			 "the connection ended before its first echo");
	}
	if (x->s.ever_connected && (strstr(c->lasterr, "timed out") || strstr(c->lasterr, "refused") ||
				    strstr(c->lasterr, "kex_exchange_identification") ||
				    strstr(c->lasterr, "reset"))) {
		if (!x->newconn_fail++) {
			snprintf(x->newconn_err, sizeof(x->newconn_err), "%s", c->lasterr);
			/* each SYN into a ban that counts them starts it over: the
			 * ones in flight end by their ConnectTimeout, no new ones */
			isched_no_more_opens(&x->s);
			debug("idle: a new connection failed after others worked: opening no more");
		}
	}
	debug("idle: connection %d failed: %s", c->slot, c->lasterr);
	isched_connect_failed(&x->s, c->slot, now_ms());
}

/* A clean end: an SSH channel close from sshd (channel freed, no exit status:
 * only sshd can send it) or a bare TCP close. Deaths while idle (no probe in
 * flight) cannot be a NAT: a NAT that forgot a flow acts on the next packet. */
static void note_death(struct idle_ctx *x, const struct iconn *c, enum isc_result how)
{
	if (x->s.c[c->slot].st == ISC_IDLE)
		x->nunprompted++;
	if (how != IR_CLOSED)
		return;
	if (c->fd < 0 && c->chan_freed && !c->exit_status)
		x->nchanclose++;
	else
		x->nfin++;
}

/* The connection is over (EOF, error, process exit): tell the scheduler how. */
static void conn_ended(struct iconn *c, enum isc_result how)
{
	struct idle_ctx *x = c->x;
	int64_t now = now_ms();
	int status = -1;
	conn_release(c);
	if (c->fd < 0 && c->p.reaped && WIFEXITED(c->p.status))
		status = WEXITSTATUS(c->p.status);
	if (x->o->via == VIA_PREAUTH && c->stage >= 2)
		x->grace_charges++;	/* sshd ends it at LoginGraceTime: grace-exceeded */
	if (c->stage < 2) {
		setup_failed(c, status);
	} else if (x->o->via == VIA_PREAUTH && how == IR_CLOSED) {
		/* the server's LoginGraceTime, not the path: caps what can be seen */
		int64_t age = now - c->connected_at;
		if (!x->preauth_cap || age < x->preauth_cap)
			x->preauth_cap = age;
		isched_lost(&x->s, c->slot);
		isched_cap(&x->s, age - 2000);
	} else {
		debug("idle: connection %d ended (%s): %s", c->slot, idle_result_name(how), c->lasterr);
		note_death(x, c, how);
		isched_dead(&x->s, c->slot, how, now);
	}
	drive(x);
}

/* --- echo handling -------------------------------------------------------------- */

static void set_probe_timeout(struct idle_ctx *x, int64_t rtt)
{
	if (rtt > x->rtt_max)
		x->rtt_max = rtt;
	int64_t pt = 8 * x->rtt_max;
	x->s.p.probe_timeout_ms = pt < 1000 ? 1000 : pt > 8000 ? 8000 : pt;
}

static void echo_received(struct iconn *c)
{
	struct idle_ctx *x = c->x;
	int64_t now = now_ms();
	c->last_traffic = now;
	if (c->stage == 0) {
		c->stage = 1;
		next_token(c);
		c->t_tok = now;
		if (send_token(c) < 0)
			conn_ended(c, IR_CLOSED);
		return;
	}
	if (c->stage == 1) {
		set_probe_timeout(x, now - c->t_tok);
		c->stage = 2;
		c->connected_at = now;
		ev_timer_cancel(x->ev, c->hs_timer);
		c->hs_timer = 0;
		isched_connected(&x->s, c->slot, now);
		if (c->fd >= 0) {	/* tcp/preauth: our own socket */
			x->nkern++;
			isched_kernel(&x->s, c->slot);
		}
	} else {
		ev_timer_cancel(x->ev, c->ack_timer);
		c->ack_timer = 0;
		isched_answer(&x->s, c->slot, now);
	}
	drive(x);
}

static void out_line(struct iconn *c, const char *line)
{
	if (strcmp(line, c->tok) == 0)
		echo_received(c);
}

static void err_line(struct iconn *c, const char *line)
{
	struct idle_ctx *x = c->x;
	/* "client_input_global_request: rtype keepalive@openssh.com", or, with a
	 * session open, "client_input_channel_req: channel 0 rtype keepalive@..." */
	if (str_startswith(line, "debug") && strstr(line, "rtype keepalive@openssh.com")) {
		int64_t now = now_ms();
		if (c->stage == 2)
			isched_keepalive(&x->s, c->slot, now - c->last_traffic);
		c->last_traffic = now;
		return;
	}
	if (strstr(line, "closed by") || strstr(line, "reset") || strstr(line, "Broken pipe") ||
	    strstr(line, "Read from remote") || strstr(line, "client_loop: send disconnect"))
		c->transport_lost = 1;
	if (str_startswith(line, "debug1: channel ") && strstr(line, ": free: client-session")) {
		c->chan_freed = 1;
		/* freed while the connection still stood: sshd closed the channel
		 * (ssh frees it too when the connection dies, but says that first) */
		c->chan_first = !c->transport_lost;
	}
	else if (str_startswith(line, "debug") && (strstr(line, "rtype exit-status") ||
						   strstr(line, "rtype exit-signal")))
		c->exit_status = 1;
	/* the relay's own error (it could not connect) says more than ssh's
	 * "Connection closed" after it */
	if (str_startswith(line, "sshdoctor relay: ")) {
		set_lasterr(c, line + strlen("sshdoctor relay: "));
		c->relay_said = 1;
	} else if (!c->relay_said && !str_startswith(line, "debug") &&
		   !str_startswith(line, "OpenSSH_") && *line) {
		set_lasterr(c, line);
	}
}

/* Splits what arrived into lines (bounded). Returns 1 after data, 0 on EOF or
 * error (*err = errno or 0), -1 when nothing is there yet. Stops early when a
 * line's handler ended or reused the connection. */
static int read_lines(int fd, char *buf, size_t *len, struct iconn *c,
		      void (*fn)(struct iconn *, const char *), int *err)
{
	char tmp[4096];
	ssize_t n = read(fd, tmp, sizeof(tmp));
	*err = 0;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return -1;
	if (n <= 0) {
		*err = n < 0 ? errno : 0;
		return 0;
	}
	unsigned gen = c->gen;
	for (ssize_t i = 0; i < n && c->active && c->gen == gen; i++) {
		if (tmp[i] == '\n') {
			buf[*len] = '\0';
			if (*len && buf[*len - 1] == '\r')
				buf[*len - 1] = '\0';
			*len = 0;
			fn(c, buf);
		} else if (*len < LINE_CAP) {
			buf[(*len)++] = tmp[i];
		}
	}
	return 1;
}

/* The kernel's state of the socket, read before it is closed. */
static enum ik_verdict kern_state(const struct iconn *c)
{
	int fd = c->tcpfd >= 0 ? c->tcpfd : c->fd;
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return IK_GONE;
	struct ik_snap k = { ti.tcpi_state, ti.tcpi_unacked, ti.tcpi_retransmits, ti.tcpi_backoff,
			     ti.tcpi_rtt / 1000, ti.tcpi_rto / 1000, ti.tcpi_last_ack_recv };
	return ik_judge(&k, -1, 0);
}

static void ssh_finished(struct iconn *c)
{
	/* through the relay ssh only sees its proxy end: the socket says how */
	enum ik_verdict k = c->tcpfd >= 0 ? kern_state(c) : IK_GONE;
	enum isc_result how = c->kern_rst || k == IK_RESET ? IR_RESET : k == IK_FIN ? IR_CLOSED :
			      classify_death(c->lasterr);
	/* sshd closed the session channel first (encrypted: only sshd can): the
	 * RST after it is sshd-session exiting with our probe unread, not the path */
	if (c->chan_first && !c->exit_status)
		how = IR_CLOSED;
	conn_ended(c, how);
}

static void on_last_words_timeout(struct evloop *ev, void *arg)
{
	struct iconn *c = arg;
	(void)ev;
	c->ack_timer = 0;
	if (c->active)
		ssh_finished(c);
}

static void on_ssh_out(struct evloop *ev, int fd, uint32_t events, void *arg)
{
	struct iconn *c = arg;
	int err;
	(void)events;
	if (read_lines(fd, c->out, &c->olen, c, out_line, &err) == 0 && c->active) {
		/* stdout closed: ssh is exiting; its last words (how the channel
		 * ended) are on stderr and may come a moment later: wait for its EOF */
		for (int i = 0; i < 64 && c->active && !c->err_eof; i++) {
			int rc = read_lines(c->p.err, c->err, &c->elen, c, err_line, &err);
			if (rc == 0)
				c->err_eof = 1;
			if (rc != 1)
				break;
		}
		if (!c->active)
			return;
		if (c->err_eof) {
			ssh_finished(c);
			return;
		}
		ev_fd_del(ev, fd);
		c->out_eof = 1;
		ev_timer_cancel(ev, c->ack_timer);	/* a probe's stdin-gone wait */
		c->ack_timer = ev_timer_at(ev, now_ms() + LAST_WORDS_MS, on_last_words_timeout, c);
	}
}

static void on_ssh_err(struct evloop *ev, int fd, uint32_t events, void *arg)
{
	struct iconn *c = arg;
	int err;
	(void)events;
	if (read_lines(fd, c->err, &c->elen, c, err_line, &err) == 0 && c->active) {
		ev_fd_del(ev, fd);	/* stdout's EOF ends the connection */
		c->err_eof = 1;
		if (c->out_eof)
			ssh_finished(c);
	}
}

static void on_handshake_timeout(struct evloop *ev, void *arg)
{
	struct iconn *c = arg;
	(void)ev;
	c->hs_timer = 0;
	if (c->active && c->stage < 2) {
		if (!c->lasterr[0])
			set_lasterr(c, "no echo within 30 s of connecting (connection timed out)");
		conn_ended(c, IR_CLOSED);
	}
}

/* --- the kernel's view ------------------------------------------------------------ */

static void on_relay_fd(struct evloop *ev, int fd, uint32_t events, void *arg)
{
	struct iconn *c = arg;
	(void)events;
	int got = relay_accept_fd(fd);
	ev_fd_del(ev, fd);
	close(fd);
	c->lsock = -1;
	if (got < 0)
		return;
	if (c->tcpfd >= 0) {
		close(got);
		return;
	}
	c->tcpfd = got;
	c->x->nkern++;
	isched_kernel(&c->x->s, c->slot);
}

/* While a probe is in flight: TCP_INFO until the kernel has a verdict. */
static void on_kern_poll(struct evloop *ev, void *arg)
{
	struct iconn *c = arg;
	struct idle_ctx *x = c->x;
	int fd = c->tcpfd >= 0 ? c->tcpfd : c->fd;
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	int64_t now = now_ms();
	c->kern_timer = 0;
	if (!c->active || x->s.c[c->slot].st != ISC_PROBING)
		return;
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return;
	struct ik_snap k = { ti.tcpi_state, ti.tcpi_unacked, ti.tcpi_retransmits, ti.tcpi_backoff,
			     ti.tcpi_rtt / 1000, ti.tcpi_rto / 1000, ti.tcpi_last_ack_recv };
	if (c->kern_first < 0 && k.unacked > 0)	/* when the probe's bytes left */
		c->kern_first = now - (k.retransmits ? 0 : (int64_t)ti.tcpi_last_data_sent);
	int64_t elapsed = c->kern_first < 0 ? -1 : now - c->kern_first;
	enum ik_verdict v = ik_judge(&k, elapsed, k.rtt_ms);
	switch (v) {
	case IK_PENDING:
		if (now - c->kern_sent < KERN_POLL_MAX_MS)
			c->kern_timer = ev_timer_at(ev, now + KERN_POLL_MS, on_kern_poll, c);
		return;
	case IK_SILENT:
		debug("idle: connection %d: kernel: %u retransmission(s), nothing acknowledged for "
		      "%lld ms: silently dropped", c->slot, k.retransmits, (long long)elapsed);
		isched_silent(&x->s, c->slot, now);
		drive(x);
		return;
	case IK_RESET:
		debug("idle: connection %d: kernel: reset", c->slot);
		/* via ssh, the relay dies of the RST and ssh exits at once: ssh_finished
		 * then decides, after ssh's last words (an SSH channel close from sshd
		 * first makes it sshd's close, not the path's reset) */
		c->kern_rst = 1;
		if (c->fd < 0)
			set_lasterr(c, "Connection reset (seen by the kernel)");
		return;
	default:
		return;	/* acknowledged: the echo follows; FIN: ssh says how */
	}
}

static void kern_watch(struct iconn *c)
{
	if ((c->tcpfd < 0 && c->fd < 0) || !c->x->s.c[c->slot].kern)
		return;
	c->kern_sent = now_ms();
	c->kern_first = -1;
	ev_timer_cancel(c->x->ev, c->kern_timer);
	c->kern_timer = ev_timer_at(c->x->ev, c->kern_sent + 5, on_kern_poll, c);
}

/* --- via ssh -------------------------------------------------------------------- */

static int open_ssh(struct iconn *c)
{
	struct idle_ctx *x = c->x;
	static const char *const ours[] = {	/* keepalives off: they would hide T */
		"ServerAliveInterval=0", "TCPKeepAlive=no", "ConnectTimeout=10", "ForwardAgent=no",
		"ForwardX11=no",
	};
	struct strvec argv = { 0 };
	char lname[100];
	strvec_push(&argv, "ssh");
	strvec_push(&argv, "-v");	/* shows the server's keepalives */
	/* the relay owns the TCP socket and hands us a duplicate: the kernel
	 * then tells a probe's fate in a few RTOs (first value wins: ours first) */
	if (x->self && (c->lsock = relay_listen(lname, sizeof(lname))) >= 0) {
		strvec_push(&argv, "-o");
		strvec_pushf(&argv, "ProxyCommand='%s' relay%s --report %s %%h %%p", x->self,
			     x->so && x->so->family == 4 ? " -4" : x->so && x->so->family == 6 ? " -6" : "",
			     lname);
		ev_fd(x->ev, c->lsock, EPOLLIN, on_relay_fd, c);
	}
	target_ssh_session_opts(&argv, ours, ARRAY_SIZE(ours));
	target_ssh_args(x->t, x->so, &argv);
	strvec_push(&argv, "cat");
	int rc = proc_spawn(&c->p, argv.v, PROC_STDIN | PROC_STDOUT | PROC_STDERR);
	strvec_clear(&argv);
	if (rc < 0) {
		set_lasterr(c, "could not run ssh");
		return -1;
	}
	ev_fd(x->ev, c->p.out, EPOLLIN, on_ssh_out, c);
	ev_fd(x->ev, c->p.err, EPOLLIN, on_ssh_err, c);
	return send_token(c);
}

/* --- via tcp / preauth ------------------------------------------------------------ */

static void sock_ended(struct iconn *c, int err)
{
	if (err)
		set_lasterr(c, strerror(err));
	conn_ended(c, err == ECONNRESET || err == EPIPE ? IR_RESET : IR_CLOSED);
}

/* Preauth: the server's banner, then our banner, then its KEXINIT (any bytes). */
static void preauth_line(struct iconn *c, const char *line)
{
	if (c->stage == 0 && str_startswith(line, "SSH-")) {
		static const char ours[] = "SSH-2.0-sshdoctor_idle\r\n";
		c->stage = 1;
		c->t_tok = now_ms();
		if (send(c->fd, ours, sizeof(ours) - 1, MSG_NOSIGNAL) < 0)
			sock_ended(c, errno);
	}
}

static void preauth_data(struct iconn *c, const char *buf, size_t n)
{
	if (c->stage == 1) {
		echo_received(c);	/* its KEXINIT: ready, idle from now */
		return;
	}
	for (size_t i = 0; i < n && c->active && c->stage == 0; i++) {
		if (buf[i] != '\n') {
			if (c->olen < LINE_CAP)
				c->out[c->olen++] = buf[i];
			continue;
		}
		c->out[c->olen] = '\0';
		c->olen = 0;
		preauth_line(c, c->out);
		if (c->active && c->stage == 1 && i + 1 < n) {
			echo_received(c);
			return;
		}
	}
}

static void on_sock(struct evloop *ev, int fd, uint32_t events, void *arg)
{
	struct iconn *c = arg;
	struct idle_ctx *x = c->x;
	int err = 0;
	socklen_t el = sizeof(err);
	if (!c->connected_sock && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err) {
			set_lasterr(c, strerror(err));
			conn_ended(c, IR_CLOSED);
			return;
		}
		c->connected_sock = 1;
		ev_fd(ev, fd, EPOLLIN | EPOLLRDHUP, on_sock, c);
		if (x->o->via == VIA_TCP && send_token(c) < 0)
			sock_ended(c, errno);
		return;
	}
	if (x->o->via == VIA_TCP) {
		if (read_lines(fd, c->out, &c->olen, c, out_line, &err) == 0 && c->active)
			sock_ended(c, err);
		return;
	}
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		sock_ended(c, n < 0 ? errno : 0);
	else if (n > 0)
		preauth_data(c, buf, (size_t)n);
}

static int open_sock(struct iconn *c)
{
	struct idle_ctx *x = c->x;
	c->fd = socket(x->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		set_lasterr(c, strerror(errno));
		return -1;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&x->addr, x->alen) < 0 && errno != EINPROGRESS) {
		set_lasterr(c, strerror(errno));
		return -1;
	}
	ev_fd(x->ev, c->fd, EPOLLOUT | EPOLLIN | EPOLLRDHUP, on_sock, c);
	return 0;
}

/* Preauth probe answer: the server's TCP stack acknowledged our byte. */
static void on_ack_poll(struct evloop *ev, void *arg)
{
	struct iconn *c = arg;
	int outq = 0;
	c->ack_timer = 0;
	if (!c->active)
		return;
	if (ioctl(c->fd, SIOCOUTQ, &outq) == 0 && outq == 0) {
		echo_received(c);
		return;
	}
	int64_t next = now_ms() + (c->x->s.c[c->slot].st == ISC_SUSPECT ? 10 * ACK_POLL_MS : ACK_POLL_MS);
	c->ack_timer = ev_timer_at(ev, next, on_ack_poll, c);
}

/* A never-finished SSH_MSG_IGNORE packet, one byte per probe: the server waits
 * for the rest and says nothing, but its TCP acknowledges each byte. */
static unsigned char preauth_byte(size_t off)
{
	static const unsigned char hdr[] = { 0, 0, 0xff, 0xfc, 4, 2, 0, 0, 0xff, 0xf2 };
	return off < sizeof(hdr) ? hdr[off] : 'i';
}

/* --- scheduler actions -------------------------------------------------------------- */

static void conn_open(struct idle_ctx *x, int slot)
{
	struct iconn *c = &x->c[slot];
	unsigned seq = c->seq, gen = c->gen;
	if (x->budgeted && budget_take(x->baddr, x->t->eport, 1, BUDGET_NOAUTH_S) < 1) {
		x->budget_stop = 1;	/* one more would risk a penalty: stop here */
		isched_abort(&x->s);
		ev_stop(x->ev);
		return;
	}
	memset(c, 0, sizeof(*c));
	c->x = x;
	c->slot = slot;
	c->seq = seq;
	c->gen = gen + 1;
	c->fd = -1;
	c->lsock = c->tcpfd = -1;
	c->p.in = c->p.out = c->p.err = -1;
	c->active = 1;
	next_token(c);
	int rc = x->o->via == VIA_SSH ? open_ssh(c) : open_sock(c);
	if (rc < 0) {
		conn_ended(c, IR_CLOSED);
		return;
	}
	c->hs_timer = ev_timer_at(x->ev, now_ms() + HANDSHAKE_MS, on_handshake_timeout, c);
}

static void conn_probe(struct idle_ctx *x, int slot)
{
	struct iconn *c = &x->c[slot];
	if (x->o->via == VIA_PREAUTH) {
		unsigned char b = preauth_byte(c->pa_off++);
		if (send(c->fd, &b, 1, MSG_NOSIGNAL) != 1) {
			sock_ended(c, errno);
			return;
		}
		c->ack_timer = ev_timer_at(x->ev, now_ms() + ACK_POLL_MS, on_ack_poll, c);
		kern_watch(c);
		return;
	}
	next_token(c);
	if (send_token(c) < 0) {
		if (c->fd >= 0) {
			sock_ended(c, errno);
		} else {
			/* ssh's stdin is gone: ssh is exiting (sshd may just have closed
			 * the channel). Its last words on stderr say how; stdout's EOF
			 * reads them, or this bounded wait ends it (shorter than any
			 * probe timeout: the scheduler must not call it silent). */
			ev_timer_cancel(x->ev, c->ack_timer);
			c->ack_timer = ev_timer_at(x->ev, now_ms() + STDIN_GONE_MS,
						   on_last_words_timeout, c);
		}
		return;
	}
	kern_watch(c);
}

static void on_wake(struct evloop *ev, void *arg)
{
	struct idle_ctx *x = arg;
	(void)ev;
	x->wake_timer = 0;
	drive(x);
}

/* Runs the scheduler's actions until it waits. Re-entrant calls (an action that
 * ends a connection calls drive again) simply run the loop a little deeper. */
static void drive(struct idle_ctx *x)
{
	for (int step = 0; step < MAX_DRIVE_STEPS; step++) {
		struct isc_action a = isched_next(&x->s, now_ms());
		switch (a.kind) {
		case ISC_OPEN:
			conn_open(x, a.conn);
			break;
		case ISC_PROBE:
			debug("idle: +%.1fs probe connection %d idle %.1fs [%.1f, %.1f]",
			      (double)(now_ms() - x->start) / 1000, a.conn,
			      (double)x->s.c[a.conn].probe_age / 1000, (double)x->s.lower / 1000,
			      (double)x->s.upper / 1000);
			conn_probe(x, a.conn);
			break;
		case ISC_CLOSE:
			conn_release(&x->c[a.conn]);
			break;
		case ISC_STOP:
			ev_stop(x->ev);
			return;
		case ISC_WAIT:
			ev_timer_cancel(x->ev, x->wake_timer);
			x->wake_timer = ev_timer_at(x->ev, a.until, on_wake, x);
			return;
		}
	}
	ev_timer_cancel(x->ev, x->wake_timer);
	x->wake_timer = ev_timer_at(x->ev, now_ms() + 10, on_wake, x);
}

/* --- progress, interrupt ---------------------------------------------------------- */

static void progress(struct evloop *ev, void *arg)
{
	struct idle_ctx *x = arg;
	int64_t now = now_ms();
	char el[32], lo[32], up[32] = "?", eta[32];
	format_duration(el, sizeof(el), now - x->start);
	format_duration(lo, sizeof(lo), x->s.lower);
	if (x->s.upper >= 0)
		format_duration(up, sizeof(up), x->s.upper);
	int64_t left = isched_eta(&x->s, now) - (now - x->s.start);
	format_duration(eta, sizeof(eta), left > 0 ? left : 0);
	int alive = isched_count(&x->s, ISC_IDLE) + isched_count(&x->s, ISC_PROBING);
	int dead = isched_count(&x->s, ISC_DEAD) + isched_count(&x->s, ISC_SUSPECT);
	fprintf(stderr, "\r\033[Kidle: %s elapsed, T in (%s, %s], %d alive, %d dead, answer within %s",
		el, lo, up, alive, dead, eta);
	fflush(stderr);
	x->progress_shown = 1;
	x->progress_timer = ev_timer_at(ev, now + 1000, progress, x);
}

static void on_interrupt(struct evloop *ev, void *arg)
{
	struct idle_ctx *x = arg;
	isched_abort(&x->s);
	ev_stop(ev);
}

/* --- setup and result ------------------------------------------------------------ */

static int resolve_addr(struct idle_ctx *x, const char *host, int port, int family)
{
	struct addrinfo hints = { 0 }, *ai = NULL;
	char ps[16];
	snprintf(ps, sizeof(ps), "%d", port);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_family = family == 4 ? AF_INET : family == 6 ? AF_INET6 : AF_UNSPEC;
	int rc = getaddrinfo(host, ps, &hints, &ai);
	if (rc != 0 || !ai) {
		snprintf(x->setup_msg, sizeof(x->setup_msg), "%s: %s", host, gai_strerror(rc));
		x->setup = IDLE_UNREACHABLE;
		return -1;
	}
	memcpy(&x->addr, ai->ai_addr, ai->ai_addrlen);
	x->alen = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

static int majority_expiry(const struct idle_sched *s)
{
	int n[4] = { 0 };
	for (int i = 0; i < s->nprobes; i++)
		if (!s->probes[i].pending && s->probes[i].res != IR_ALIVE &&
		    s->probes[i].age_ms + 250 >= s->lower)
			n[s->probes[i].res]++;
	int best = -1;
	for (int k = IR_SILENT; k <= IR_CLOSED; k++)
		if (n[k] && (best < 0 || n[k] > n[best]))
			best = k;
	return best;
}

static void fill_result(struct idle_ctx *x, struct idle_result *res)
{
	const struct idle_sched *s = &x->s;
	memset(res, 0, sizeof(*res));
	res->via = x->o->via;
	res->done = s->done;
	res->interrupted = s->aborted;
	res->lower_ms = s->lower;
	res->upper_ms = s->upper;
	/* with server keepalives the path never saw more idle than their interval */
	if (s->done == ISC_KEEPALIVE && s->ka_ms < s->lower)
		res->lower_ms = s->ka_ms;
	res->expiry = majority_expiry(s);
	res->server_ka_ms = s->ka_ms;
	res->elapsed_ms = now_ms() - x->start;
	res->max_ms = s->p.max_ms;	/* lowered by a preauth LoginGraceTime */
	res->connections = s->opened;
	res->max_open = s->max_open;
	res->ndead = s->ndead_ok;
	res->ncontradicted = s->ncontradicted;
	for (int i = 0; i < s->nprobes; i++)
		res->nlate += s->probes[i].late;
	res->probes = s->probes;
	res->nprobes = s->nprobes;
	res->setup = s->ever_connected ? IDLE_SETUP_OK : x->setup;
	if (s->done == ISC_NO_CONNECTION && res->setup == IDLE_SETUP_OK)
		res->setup = IDLE_OTHER;
	memcpy(res->setup_msg, x->setup_msg, sizeof(res->setup_msg));
	res->preauth_cap_ms = x->preauth_cap;
	/* one connection at a time (budget) may see a probe answered just before
	 * LoginGraceTime closes it: claim no more than the scheduler's cap would */
	if (x->budgeted && x->preauth_cap && res->upper_ms < 0 && res->lower_ms > x->preauth_cap - 2000)
		res->lower_ms = x->preauth_cap > 2000 ? x->preauth_cap - 2000 : 0;
	res->client_interval = x->o->via == VIA_TCP ? -1 :
			       kv_get_long(&x->t->cfg, "serveraliveinterval", -1);
	res->client_countmax = kv_get_long(&x->t->cfg, "serveralivecountmax", 3);
	res->host = x->t->host;
	res->nchanclose = x->nchanclose;
	res->nfin = x->nfin;
	res->nunprompted = x->nunprompted;
}

static void save_result(const struct idle_ctx *x, const struct idle_result *res)
{
	if (!x->o->save || res->setup != IDLE_SETUP_OK || res->interrupted ||
	    (res->done != ISC_FOUND && res->done != ISC_NOT_FOUND && res->done != ISC_KEEPALIVE))
		return;
	const struct target *t = x->t;
	char *key = x->o->via == VIA_TCP ? state_key(t->host, t->port, "tcp")
					 : state_key(t->hostname, t->eport, t->euser);
	char *name = xasprintf("%s.json", key);
	struct json_object *obj = idle_json(res);
	json_object_object_add(obj, "time", json_object_new_int64(wall_ms() / 1000));
	if (state_save_json("idle", name, obj) < 0)
		verbose("idle: could not store the result in the state directory");
	json_object_put(obj);
	free(key);
	free(name);
}

static void stop_all(struct idle_ctx *x)
{
	for (int i = 0; i < x->s.nslots; i++)
		if (x->c[i].active && x->c[i].fd < 0)
			proc_signal(&x->c[i].p, SIGTERM);	/* all at once, then reap */
	for (int i = 0; i < x->s.nslots; i++)
		conn_release(&x->c[i]);
}

/* The relay as ProxyCommand needs our own path, quotable, and a target without
 * a proxy of the user's (never replaced: then no kernel view, the timeouts). */
static char *relay_self(const struct target *t)
{
	static const char *const keys[] = { "proxycommand", "proxyjump" };
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const char *v = kv_get(&t->cfg, keys[i]);
		if (v && *v && strcmp(v, "none") != 0)
			return NULL;
	}
	char buf[4096];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	return strpbrk(buf, "'%\n") ? NULL : xstrdup(buf);
}

static int prepare(struct idle_ctx *x, struct report *r)
{
	struct target *t = x->t;
	char *err = NULL;
	if (x->o->via == VIA_TCP) {
		int port = t->port ? t->port : TCP_DEFAULT_PORT;
		report_set_target(r, t->host, port, "");
		t->port = port;
		return resolve_addr(x, t->host, port, x->so ? x->so->family : 0);
	}
	if (target_resolve(t, x->so, &err) < 0) {
		snprintf(x->setup_msg, sizeof(x->setup_msg), "%s", err);
		x->setup = IDLE_OTHER;
		free(err);
		return -1;
	}
	report_set_target(r, t->hostname, t->eport, t->euser);
	if (x->o->via == VIA_PREAUTH)
		return resolve_addr(x, t->hostname, t->eport, x->so ? x->so->family : 0);
	return 0;
}

static struct idle_ctx *measure(const struct idle_opts *o, struct target *t,
				const struct sshopts *so, struct report *r)
{
	struct idle_ctx *x = xcalloc(1, sizeof(*x));
	x->o = o;
	x->t = t;
	x->so = so;
	x->start = now_ms();
	int conns = o->connections;
	if (o->via == VIA_PREAUTH && conns > PREAUTH_MAX_CONNS)
		conns = PREAUTH_MAX_CONNS;
	struct isc_params p = { o->naive ? ISC_NAIVE : o->minute ? ISC_MINUTE : ISC_FAST, conns, 4,
				o->res_ms, o->max_ms, 1000 };
	isched_init(&x->s, &p, x->start);
	if (prepare(x, r) < 0) {
		x->s.done = ISC_NO_CONNECTION;
		return x;
	}
	if (o->via == VIA_PREAUTH &&
	    !getnameinfo((struct sockaddr *)&x->addr, x->alen, x->baddr, sizeof(x->baddr), NULL, 0,
			 NI_NUMERICHOST) &&
	    budget_risky(x->baddr, t->eport, NULL)) {
		/* one connection at a time: those the path kills end at the server's
		 * LoginGraceTime, 10 s of penalty each, spaced as we opened them */
		x->budgeted = 1;
		p.max_conns = 1;
		p.max_handshakes = 1;
		isched_init(&x->s, &p, x->start);
	}
	if (o->via == VIA_SSH)
		x->self = relay_self(t);
	x->ev = ev_new();
	ev_on_interrupt(x->ev, on_interrupt, x);
	if (o->progress)
		x->progress_timer = ev_timer_at(x->ev, now_ms() + 1000, progress, x);
	drive(x);
	if (!x->s.done)
		ev_run(x->ev, 0);
	stop_all(x);
	free(x->self);
	x->self = NULL;
	debug("idle: the kernel's view on %d of %d connection(s)", x->nkern, x->s.opened);
	/* a probe that got no answer killed its connection: sshd still holds
	 * it until LoginGraceTime */
	int dead = 0;
	for (int i = 0; i < x->s.nprobes; i++)
		dead += !x->s.probes[i].pending && x->s.probes[i].res != IR_ALIVE;
	if (dead > x->grace_charges)
		x->grace_charges = dead;
	if (x->budgeted && x->grace_charges)	/* the rest of what sshd will charge */
		budget_charge(x->baddr, x->t->eport, 1, x->grace_charges * (BUDGET_GRACE_S - BUDGET_NOAUTH_S));
	if (x->progress_shown)
		fputs("\r\033[K", stderr);
	ev_free(x->ev);
	x->ev = NULL;
	return x;
}

/* Batch-mode login is impossible when the server would take a password but no
 * key works: then unauthenticated connections are the way that is left. */
static int wants_fallback(const struct idle_opts *o, const struct idle_ctx *x)
{
	return o->via == VIA_SSH && !o->via_explicit && !x->s.ever_connected &&
	       x->setup == IDLE_AUTH && !x->s.aborted &&
	       (strstr(x->setup_msg, "password") || strstr(x->setup_msg, "keyboard-interactive"));
}

int idle_run(const struct idle_opts *o, struct target *t, const struct sshopts *so,
	     struct report *r)
{
	struct idle_result res;
	struct idle_opts pre = *o;	/* outlives x, which points to it */
	struct idle_ctx *x = measure(o, t, so, r);
	if (wants_fallback(o, x) && askpass_offer(t, so, x->setup_msg) == 1) {
		free(x);	/* the password typed once: measured as with a key */
		x = measure(o, t, so, r);
	}
	if (wants_fallback(o, x)) {
		struct finding *f = report_add(r, SEV_INFO, "idle.fallback-preauth",
					       "Batch-mode login is impossible here (the server wants a "
					       "password): measured without logging in instead");
		finding_evidence(f, "%s", x->setup_msg);
		pre.via = VIA_PREAUTH;
		free(x);
		x = measure(&pre, t, so, r);
		fill_result(x, &res);
	} else {
		fill_result(x, &res);
	}
	struct srvpolicy pol;
	if (x->o->via == VIA_SSH && x->s.ever_connected && !x->s.aborted) {
		char *err = NULL;
		if (srvpolicy_read(t, so, &pol, &err) == 0)
			res.policy = &pol;
		else
			verbose("idle: %s", err);
		free(err);
	}
	idle_judge(&res, r);
	if (x->newconn_fail >= 2) {
		struct finding *f = report_add(r, SEV_WARNING, "server.rate-limit",
			"New connections were refused or vanished mid-run while open ones kept working: "
			"a rate limit on new connections");
		finding_evidence(f, "%d of %d connection attempts failed after the first ones worked; "
				 "first error: %s", x->newconn_fail, x->s.opened, x->newconn_err);
		finding_evidence(f, "no new connection was opened after the first failure (a ban that "
				    "counts them would last as long as we knocked); the ones open were measured");
		finding_evidence(f, "nftables limit/meter, iptables recent/hashlimit, fail2ban or "
				    "sshd's own MaxStartups/PerSourcePenalties; not loss and not an idle "
				    "timeout: the idle verdict comes only from connections that opened");
		struct fix *x2 = finding_fix(f, "~/.ssh/config (one connection for many sessions)");
		fix_line(x2, "ControlMaster auto");
		fix_line(x2, "ControlPath ~/.ssh/cm-%%C");
		fix_line(x2, "ControlPersist 10m");
	}
	if (x->budgeted) {
		struct finding *f = report_add(r, x->budget_stop ? SEV_WARNING : SEV_INFO,
			"idle.preauth-budget", x->budget_stop ?
			"Stopped early: more unauthenticated connections could get this address "
			"penalised by sshd" : "Measured with one unauthenticated connection at a time: "
			"the server may penalise them");
		finding_evidence(f, "OpenSSH 9.8+ PerSourcePenalties: 1 s per connection closed without "
				    "authentication, 10 s per connection that reaches LoginGraceTime; "
				    "refused past 15 s");
		finding_evidence(f, "%d connection(s) opened, %d will end at the server's LoginGraceTime; "
				 "%.0f s of penalty outstanding by our count", x->s.opened, x->grace_charges,
				 budget_wait_s(x->baddr, t->eport));
		finding_evidence(f, "a key login ('--via ssh') measures without this limit");
	}
	/* a server's close is not the path's timeout: audit must not beat it with keepalives */
	const char *by = json_object_get_string(json_object_object_get(
		json_object_object_get(r->measurements, "idle"), "closed_by"));
	if (!by || !strcmp(by, "path"))
		save_result(x, &res);
	free(x);
	return 0;
}
