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

#include "evloop.h"
#include "log.h"
#include "proc.h"
#include "state.h"

#define LINE_CAP 1024		/* longer lines from ssh or the network are cut */
#define HANDSHAKE_MS 30000	/* a connection not echoing by then failed */
#define PREAUTH_MAX_CONNS 8	/* unauthenticated ones count against MaxStartups (10) */
#define ACK_POLL_MS 20
#define MAX_DRIVE_STEPS 1000	/* scheduler actions per wake-up */
#define TCP_DEFAULT_PORT 7777

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
	c->hs_timer = c->ack_timer = 0;
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
	debug("idle: connection %d failed: %s", c->slot, c->lasterr);
	isched_connect_failed(&x->s, c->slot, now_ms());
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
	if (!str_startswith(line, "debug") && !str_startswith(line, "OpenSSH_") && *line)
		set_lasterr(c, line);
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

static void on_ssh_out(struct evloop *ev, int fd, uint32_t events, void *arg)
{
	struct iconn *c = arg;
	int err;
	(void)ev;
	(void)events;
	if (read_lines(fd, c->out, &c->olen, c, out_line, &err) == 0 && c->active) {
		/* stdout closed: ssh is exiting; its last words are on stderr */
		for (int i = 0; i < 64 && c->active; i++)
			if (read_lines(c->p.err, c->err, &c->elen, c, err_line, &err) != 1)
				break;
		conn_ended(c, classify_death(c->lasterr));
	}
}

static void on_ssh_err(struct evloop *ev, int fd, uint32_t events, void *arg)
{
	struct iconn *c = arg;
	int err;
	(void)events;
	if (read_lines(fd, c->err, &c->elen, c, err_line, &err) == 0)
		ev_fd_del(ev, fd);	/* stdout's EOF ends the connection */
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

/* --- via ssh -------------------------------------------------------------------- */

static int open_ssh(struct iconn *c)
{
	struct idle_ctx *x = c->x;
	static const char *const ours[] = {	/* keepalives off: they would hide T */
		"ServerAliveInterval=0", "TCPKeepAlive=no", "ConnectTimeout=10", "ForwardAgent=no",
		"ForwardX11=no",
	};
	struct strvec argv = { 0 };
	strvec_push(&argv, "ssh");
	strvec_push(&argv, "-v");	/* shows the server's keepalives */
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
	memset(c, 0, sizeof(*c));
	c->x = x;
	c->slot = slot;
	c->seq = seq;
	c->gen = gen + 1;
	c->fd = -1;
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
		return;
	}
	next_token(c);
	if (send_token(c) < 0) {
		if (c->fd >= 0)
			sock_ended(c, errno);
		else
			conn_ended(c, IR_CLOSED);
	}
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
	res->client_interval = x->o->via == VIA_TCP ? -1 :
			       kv_get_long(&x->t->cfg, "serveraliveinterval", -1);
	res->client_countmax = kv_get_long(&x->t->cfg, "serveralivecountmax", 3);
	res->host = x->t->host;
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
	struct isc_params p = { o->naive ? ISC_NAIVE : ISC_FAST, conns, 4, o->res_ms, o->max_ms, 1000 };
	isched_init(&x->s, &p, x->start);
	if (prepare(x, r) < 0) {
		x->s.done = ISC_NO_CONNECTION;
		return x;
	}
	x->ev = ev_new();
	ev_on_interrupt(x->ev, on_interrupt, x);
	if (o->progress)
		x->progress_timer = ev_timer_at(x->ev, now_ms() + 1000, progress, x);
	drive(x);
	if (!x->s.done)
		ev_run(x->ev, 0);
	stop_all(x);
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
	idle_judge(&res, r);
	save_result(x, &res);
	free(x);
	return 0;
}
