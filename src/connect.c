/* connect.c - the phase probes of `connect` on the one event loop: resolve (a
 * forked getaddrinfo, so a dead resolver never blocks other targets), TCP to
 * every address, banner, KEXINIT, then the user's own `ssh -vvv`. */
#include "connect.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "askpass.h"
#include "budget.h"
#include "evloop.h"
#include "log.h"
#include "proc.h"
#include "version.h"

#define MAX_ADDRS 16
#define MAX_LOGINS 16		/* concurrent ssh -vvv: each one is a full key exchange */
#define MAX_LOGINS_PER_SERVER 4	/* well under MaxStartups' default start (10) */
#define RBUF_MAX (4 + WIRE_PACKET_MAX)
#define MAX_SKIPPED_PACKETS 16

enum tcp_result { TCP_PENDING, TCP_CONNECTED, TCP_REFUSED, TCP_FILTERED, TCP_UNREACHABLE,
		  TCP_ERROR, TCP_ABANDONED };
static const char *const tcp_names[] = { "pending", "connected", "refused", "filtered",
					 "unreachable", "error", "not needed" };

enum stage { ST_DNS, ST_TCP, ST_BANNER, ST_KEX, ST_PROBED, ST_LOGIN, ST_DONE };

struct addr {
	struct sockaddr_storage sa;
	socklen_t len;
	char text[INET6_ADDRSTRLEN];
	int fd;
	int64_t start_us, us, ms;
	enum tcp_result res;
	int err;
};

struct ct {
	struct cx *cx;
	struct target *t;
	char *label;		/* finding prefix when several targets */
	const char *hostname;
	int port, family;
	enum stage st;
	int64_t t0, deadline;
	uint64_t timer;
	/* dns */
	struct proc dns;
	struct strbuf dnsout;
	int64_t dns_ms;
	char dns_result[160];
	int dns_numeric, dns_failed;
	struct addr a[MAX_ADDRS];
	int na, chosen;
	/* banner + kex */
	int fd;
	int64_t t_conn, t_banner, t_kex;	/* monotonic microseconds */
	struct wire_ident wi;
	uint8_t *rbuf;		/* grows with what the server sends, up to RBUF_MAX */
	size_t rlen, rcap;
	int skipped;
	int have_kex, kex_bad;
	struct wire_kexinit sk;
	const char *fail;	/* phase result word, when a phase failed */
	/* login */
	struct proc ssh;
	struct sshvlog *vl;	/* from the login's start: 12 KB, not for every target */
	int64_t t_login;
	int exited, timed_out;
	int established;
	int started;		/* counted in cx->probing */
	const struct target *cfg_of;	/* ssh -G shared with this earlier target */
	char portstr[8];
	/* a login that hung in the key exchange, kept while a small-kex retry runs */
	struct sshvlog *stalled;
	struct strvec retry_opts;
	char *proxy;		/* ProxyJump/ProxyCommand: only the login is measured */
	/* do no harm: the raw probe is an unauthenticated connection */
	int may_penalise;	/* the server may penalise it (or its version is unknown) */
	int raw_skipped;	/* no budget: banner and KEXINIT come from ssh -vvv */
	int vk_state;		/* connect_vkex_line() */
	double ledger_before;	/* our penalty outstanding before this run's probe */
	char *vline;		/* VLOG_LINE_MAX, while the login runs */
	size_t vlen;
};

struct cx {
	struct evloop *ev;
	const struct connect_opts *o;
	const struct sshopts *so;
	struct report *r;
	struct ct *c;
	size_t n, logins, next_login;
	size_t next_probe, probing, parallel;	/* bounded: at most parallel probes at once */
	int filling;
	struct kex_side supported;
};

static void probe_done(struct ct *c);
static void probe_fill(struct cx *cx);
static void start_tcp(struct ct *c);

/* A target that never logged in reads as an empty ssh -vvv log. */
static const struct sshvlog *VL(const struct ct *c)
{
	static struct sshvlog empty;
	static int ready;
	if (c->vl)
		return c->vl;
	if (!ready) {
		sshvlog_init(&empty, 0);
		ready = 1;
	}
	return &empty;
}

/* Socket phases are timed in microseconds: the bench compares them with raw
 * socket operations at sub-millisecond resolution. */
static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- resolve ---- */

struct dns_req {
	const char *host;
	int family;
};

/* Runs in a child: one line per address, or "E message". */
static int dns_child(void *arg, int fd)
{
	const struct dns_req *q = arg;
	struct addrinfo hints = { .ai_family = q->family, .ai_socktype = SOCK_STREAM }, *res, *p;
	int rc = getaddrinfo(q->host, NULL, &hints, &res);
	char line[INET6_ADDRSTRLEN + 8];
	if (rc) {
		dprintf(fd, "E %d %s\n", rc, rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return 0;
	}
	for (p = res; p; p = p->ai_next) {
		const void *a = p->ai_family == AF_INET
			? (const void *)&((struct sockaddr_in *)p->ai_addr)->sin_addr
			: (const void *)&((struct sockaddr_in6 *)p->ai_addr)->sin6_addr;
		if (inet_ntop(p->ai_family, a, line, sizeof(line)))
			dprintf(fd, "A %s\n", line);
	}
	freeaddrinfo(res);
	return 0;
}

static void add_addr(struct ct *c, const char *text)
{
	if (c->na >= MAX_ADDRS)
		return;
	struct addr *a = &c->a[c->na];
	memset(a, 0, sizeof(*a));
	a->fd = -1;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&a->sa;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->sa;
	if (inet_pton(AF_INET, text, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)c->port);
		a->len = sizeof(*s4);
	} else if (inet_pton(AF_INET6, text, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)c->port);
		a->len = sizeof(*s6);
	} else
		return;
	for (int i = 0; i < c->na; i++)	/* getaddrinfo repeats per protocol */
		if (strcmp(c->a[i].text, text) == 0)
			return;
	snprintf(a->text, sizeof(a->text), "%s", text);
	c->na++;
}

static void dns_finished(struct ct *c, int timed_out)
{
	c->dns_ms = now_ms() - c->t0;
	ev_fd_del(c->cx->ev, c->dns.out);
	proc_stop(&c->dns, 0);
	if (timed_out) {
		snprintf(c->dns_result, sizeof(c->dns_result), "no answer within %.1f s",
			 (double)c->dns_ms / 1000);
	} else {
		char *save = NULL;
		for (char *l = strtok_r(c->dnsout.buf ? c->dnsout.buf : (char *)"", "\n", &save); l;
		     l = strtok_r(NULL, "\n", &save)) {
			if (l[0] == 'A' && l[1] == ' ')
				add_addr(c, l + 2);
			else if (l[0] == 'E' && l[1] == ' ') {
				char *msg = strchr(l + 2, ' ');
				snprintf(c->dns_result, sizeof(c->dns_result), "%s",
					 msg ? msg + 1 : l + 2);
			}
		}
		if (!c->na && !c->dns_result[0])
			snprintf(c->dns_result, sizeof(c->dns_result), "no address returned");
	}
	sb_free(&c->dnsout);
	if (!c->na) {
		c->dns_failed = 1;
		c->fail = "dns";
		probe_done(c);
		return;
	}
	snprintf(c->dns_result, sizeof(c->dns_result), "%d address(es)", c->na);
	start_tcp(c);
}

static void on_dns(struct evloop *ev, int fd, uint32_t events, void *arg)
{
	struct ct *c = arg;
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n > 0) {
		if (c->dnsout.len < 65536)
			sb_add(&c->dnsout, buf, (size_t)n);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	dns_finished(c, 0);
}

static void start_dns(struct ct *c)
{
	c->st = ST_DNS;
	struct in6_addr tmp;
	if (inet_pton(AF_INET, c->hostname, &tmp) == 1 || inet_pton(AF_INET6, c->hostname, &tmp) == 1) {
		c->dns_numeric = 1;
		add_addr(c, c->hostname);
		snprintf(c->dns_result, sizeof(c->dns_result), "numeric address");
		start_tcp(c);
		return;
	}
	static struct dns_req q;	/* read by the forked child only, before it exits */
	q.host = c->hostname;
	q.family = c->family == 4 ? AF_INET : c->family == 6 ? AF_INET6 : AF_UNSPEC;
	if (proc_spawn_fn(&c->dns, dns_child, &q) < 0) {
		snprintf(c->dns_result, sizeof(c->dns_result), "could not start the resolver: %s",
			 strerror(errno));
		c->dns_failed = 1;
		c->fail = "dns";
		probe_done(c);
		return;
	}
	ev_fd(c->cx->ev, c->dns.out, EPOLLIN, on_dns, c);
}

/* ---- TCP ---- */

static enum tcp_result classify(int err)
{
	switch (err) {
	case 0:
		return TCP_CONNECTED;
	case ECONNREFUSED:
		return TCP_REFUSED;
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EACCES:
	case EPERM:
	case EHOSTDOWN:
	case ENETDOWN:
	case EPROTO:
		return TCP_UNREACHABLE;
	case ETIMEDOUT:
		return TCP_FILTERED;
	default:
		return TCP_ERROR;
	}
}

static void start_banner(struct ct *c, int i);

static int tcp_all_done(const struct ct *c)
{
	for (int i = 0; i < c->na; i++)
		if (c->a[i].res == TCP_PENDING)
			return 0;
	return 1;
}

static void tcp_result(struct ct *c, int i, int err)
{
	struct addr *a = &c->a[i];
	a->us = mono_us() - a->start_us;
	a->ms = a->us / 1000;
	a->err = err;
	a->res = classify(err);
	ev_fd_del(c->cx->ev, a->fd);
	if (a->res == TCP_CONNECTED && c->st == ST_TCP) {
		start_banner(c, i);
		return;
	}
	close(a->fd);
	a->fd = -1;
	if (c->st == ST_TCP && tcp_all_done(c)) {
		c->fail = "tcp";
		probe_done(c);
	}
}

static struct ct *addr_owner(struct ct *c, int fd, int *idx)
{
	for (int i = 0; i < c->na; i++)
		if (c->a[i].fd == fd) {
			*idx = i;
			return c;
		}
	return NULL;
}

static void on_tcp(struct evloop *ev, int fd, uint32_t events, void *arg)
{
	struct ct *c = arg;
	int i, err = 0;
	socklen_t l = sizeof(err);
	if (!addr_owner(c, fd, &i))
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
		err = errno;
	if (!err && (events & (EPOLLERR | EPOLLHUP)))
		err = ECONNRESET;
	tcp_result(c, i, err);
}

/* Every address that connects is one unauthenticated connection to sshd: a
 * server that may penalise them gets them only within its budget. */
static int raw_allowed(struct ct *c)
{
	c->may_penalise = budget_risky(c->a[0].text, c->port, NULL);
	c->ledger_before = budget_wait_s(c->a[0].text, c->port);
	if (!c->may_penalise)
		return 1;
	return budget_take(c->a[0].text, c->port, c->na, BUDGET_NOAUTH_S) == c->na;
}

static void start_tcp(struct ct *c)
{
	if (!raw_allowed(c)) {
		for (int i = 0; i < c->na; i++)
			c->a[i].res = TCP_ABANDONED;
		c->raw_skipped = 1;
		probe_done(c);
		return;
	}
	c->st = ST_TCP;
	for (int i = 0; i < c->na && c->st == ST_TCP; i++) {
		struct addr *a = &c->a[i];
		a->start_us = mono_us();
		a->fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (a->fd < 0) {
			a->res = TCP_ERROR;
			a->err = errno;
			continue;
		}
		if (connect(a->fd, (struct sockaddr *)&a->sa, a->len) == 0) {
			tcp_result(c, i, 0);
		} else if (errno == EINPROGRESS) {
			ev_fd(c->cx->ev, a->fd, EPOLLOUT, on_tcp, c);
		} else {
			int e = errno;
			ev_fd(c->cx->ev, a->fd, EPOLLOUT, on_tcp, c);	/* so tcp_result can del */
			tcp_result(c, i, e);
		}
	}
	if (c->st == ST_TCP && tcp_all_done(c)) {
		c->fail = "tcp";
		probe_done(c);
	}
}

/* ---- banner and KEXINIT ---- */

static const char *cfg(const struct ct *c, const char *key)
{
	if (c->cfg_of && !strcmp(key, "port"))
		return c->portstr;
	const char *v = kv_get(c->cfg_of ? &c->cfg_of->cfg : &c->t->cfg, key);
	return v ? v : "";
}

static void send_all(int fd, const void *buf, size_t n)
{
	/* Small writes on a fresh socket: the send buffer takes them whole. */
	ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
	if (w != (ssize_t)n)
		debug("short write (%zd of %zu) to the server", w, n);
}

static void kex_packets(struct ct *c)
{
	while (c->st == ST_KEX) {
		const uint8_t *pl;
		size_t plen, used;
		uint32_t declared = 0;
		enum wire_pkt_state s = wire_packet(c->rbuf, c->rlen, &pl, &plen, &used, &declared);
		if (s == WIRE_PKT_NEED_MORE)
			return;
		if (s == WIRE_PKT_TOO_BIG) {
			snprintf(c->wi.what, sizeof(c->wi.what),
				 "the server claims a %u-byte packet (limit %u)", declared,
				 WIRE_PACKET_MAX);
			c->fail = "invalid";
			probe_done(c);
			return;
		}
		if (s == WIRE_PKT_BAD) {
			snprintf(c->wi.what, sizeof(c->wi.what),
				 "malformed packet (length %u, padding %u)", declared, c->rbuf[4]);
			c->fail = "invalid";
			probe_done(c);
			return;
		}
		if (plen && pl[0] == 20) {
			const char *err;
			if (wire_kexinit_parse(&c->sk, pl, plen, &err) < 0) {
				snprintf(c->wi.what, sizeof(c->wi.what), "%s", err);
				c->fail = "invalid";
			} else {
				c->have_kex = 1;
				c->t_kex = mono_us();
			}
			probe_done(c);
			return;
		}
		if (plen && pl[0] == 1) {
			uint32_t code = 0;
			char desc[200] = "";
			wire_disconnect_parse(pl, plen, &code, desc, sizeof(desc));
			snprintf(c->wi.what, sizeof(c->wi.what), "the server disconnected (%u): %s",
				 code, desc);
			c->fail = "disconnected";
			probe_done(c);
			return;
		}
		/* IGNORE, DEBUG and the like may precede KEXINIT; a few only. */
		if (++c->skipped > MAX_SKIPPED_PACKETS) {
			snprintf(c->wi.what, sizeof(c->wi.what),
				 "%d packets without a KEXINIT", c->skipped);
			c->fail = "invalid";
			probe_done(c);
			return;
		}
		memmove(c->rbuf, c->rbuf + used, c->rlen - used);
		c->rlen -= used;
	}
}

static void send_kexinit(struct ct *c)
{
	/* Our offer is the client's own effective lists, so the server sees what ssh would send. */
	const char *lists[KEX_NLISTS] = {
		cfg(c, "kexalgorithms"), cfg(c, "hostkeyalgorithms"), cfg(c, "ciphers"),
		cfg(c, "ciphers"), cfg(c, "macs"), cfg(c, "macs"), "none", "none", "", "",
	};
	struct strbuf pkt = { 0 };
	wire_kexinit_build(&pkt, lists);
	send_all(c->fd, pkt.buf, pkt.len);
	sb_free(&pkt);
}

static void on_data(struct evloop *ev, int fd, uint32_t events, void *arg)
{
	struct ct *c = arg;
	uint8_t tmp[16384];
	size_t room = c->st == ST_BANNER ? sizeof(tmp) : RBUF_MAX - c->rlen;
	if (room > sizeof(tmp))
		room = sizeof(tmp);
	ssize_t n = recv(fd, tmp, room, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		c->fail = n == 0 ? "closed" : "reset";
		probe_done(c);
		return;
	}
	size_t off = 0;
	if (c->st == ST_BANNER) {
		size_t used;
		enum wire_ident_state s = wire_ident_feed(&c->wi, tmp, (size_t)n, &used);
		if (s == WIRE_NEED_MORE)
			return;
		if (s != WIRE_IDENT_OK) {
			c->fail = "not-ssh";
			probe_done(c);
			return;
		}
		c->t_banner = mono_us();
		if (strcmp(c->wi.proto, "2.0") != 0 && strcmp(c->wi.proto, "1.99") != 0) {
			c->fail = "protocol";
			probe_done(c);
			return;
		}
		c->st = ST_KEX;
		send_kexinit(c);
		off = used;
	}
	size_t take = (size_t)n - off;
	if (take > RBUF_MAX - c->rlen)
		take = RBUF_MAX - c->rlen;
	if (c->rlen + take > c->rcap) {
		/* a fleet of targets each holds only what its server really sent */
		size_t cap = c->rcap ? c->rcap : 4096;
		while (cap < c->rlen + take)
			cap *= 2;
		c->rcap = cap < RBUF_MAX ? cap : RBUF_MAX;
		c->rbuf = xrealloc(c->rbuf, c->rcap);
	}
	if (!take)
		return;
	memcpy(c->rbuf + c->rlen, tmp + off, take);
	c->rlen += take;
	kex_packets(c);
}

static void start_banner(struct ct *c, int i)
{
	c->st = ST_BANNER;
	c->chosen = i;
	c->fd = c->a[i].fd;
	c->a[i].fd = -1;
	c->t_conn = mono_us();
	/* Like OpenSSH, speak first: a non-SSH server often answers our line. */
	static const char ident[] = "SSH-2.0-sshdoctor_" SSHDOCTOR_VERSION "\r\n";
	send_all(c->fd, ident, sizeof(ident) - 1);
	ev_fd(c->cx->ev, c->fd, EPOLLIN | EPOLLRDHUP, on_data, c);
}

/* ---- login: the user's own ssh -vvv ---- */

static void login_next(struct cx *cx);
static void start_login(struct ct *c);

/* Hung in the key exchange: once more with a small one, which tells an MTU black
 * hole (the small packets get through) from the rest. One retry, never more. */
static void login_retry(struct ct *c)
{
	if (c->stalled || ev_interrupted(c->cx->ev) || !connect_kex_stalled(VL(c), c->exited) ||
	    !connect_kex_retry_opts(VL(c), c->have_kex ? &c->sk.list[KEX_KEX] : NULL,
				    &c->retry_opts))
		return;
	c->stalled = xmalloc(sizeof(*c->stalled));
	*c->stalled = *c->vl;
	c->exited = c->timed_out = 0;
	debug("connect: %s: kex stalled, retrying with %s", c->t->spec, c->retry_opts.v[0]);
	start_login(c);
}

static void login_end(struct ct *c)
{
	if (c->st != ST_LOGIN)
		return;
	if (c->timer)
		ev_timer_cancel(c->cx->ev, c->timer);
	c->timer = 0;
	if (c->ssh.out >= 0)
		ev_fd_del(c->cx->ev, c->ssh.out);
	if (c->ssh.err >= 0)
		ev_fd_del(c->cx->ev, c->ssh.err);
	c->exited = proc_poll(&c->ssh);
	proc_stop(&c->ssh, 100);
	sshvlog_finish(c->vl, now_ms());
	free(c->vline);
	c->vline = NULL;
	c->st = ST_DONE;
	c->cx->logins--;
	login_retry(c);
	login_next(c->cx);
}

static void login_timeout(struct evloop *ev, void *arg)
{
	struct ct *c = arg;
	c->timer = 0;
	c->timed_out = !proc_poll(&c->ssh);
	login_end(c);
}

static void login_reap(struct evloop *ev, void *arg)
{
	struct ct *c = arg;
	c->timer = 0;
	if (proc_poll(&c->ssh) || now_ms() >= c->deadline) {
		login_end(c);
		return;
	}
	c->timer = ev_timer_at(ev, now_ms() + 5, login_reap, c);
}

static void login_pipe_closed(struct ct *c, int fd)
{
	ev_fd_del(c->cx->ev, fd);
	close(fd);
	if (fd == c->ssh.out)
		c->ssh.out = -1;
	else
		c->ssh.err = -1;
	if (c->ssh.out < 0 && c->ssh.err < 0) {
		if (c->timer)
			ev_timer_cancel(c->cx->ev, c->timer);
		c->timer = 0;
		login_reap(c->cx->ev, c);
	}
}

static void on_ssh_out(struct evloop *ev, int fd, uint32_t events, void *arg)
{
	struct ct *c = arg;
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n > 0) {
		if (c->vl->first_output < 0)
			c->vl->first_output = now_ms() - c->vl->t0;
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	login_pipe_closed(c, fd);
}

static void on_ssh_err(struct evloop *ev, int fd, uint32_t events, void *arg)
{
	struct ct *c = arg;
	char buf[8192];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n > 0) {
		sshvlog_feed(c->vl, now_ms(), buf, (size_t)n);
		/* the server's KEXINIT as ssh logged it, when we had no raw probe */
		for (ssize_t i = 0; c->raw_skipped && c->vk_state != 2 && i < n; i++) {
			if (buf[i] == '\n' || c->vlen == VLOG_LINE_MAX) {
				connect_vkex_line(&c->sk, &c->vk_state, c->vline, c->vlen);
				c->vlen = 0;
				if (buf[i] == '\n')
					continue;
			}
			c->vline[c->vlen++] = buf[i];
		}
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	login_pipe_closed(c, fd);
}

static void start_login(struct ct *c)
{
	struct strvec argv = { 0 };
	strvec_push(&argv, "ssh");
	strvec_push(&argv, "-vvv");
	/* Never prompt (a prompt would hang) unless a password was typed once;
	 * ConnectTimeout bounds TCP. */
	askpass_ssh_opts(&argv);
	strvec_push(&argv, "-o");
	strvec_pushf(&argv, "ConnectTimeout=%lld",
		     (long long)(c->cx->o->timeout_ms + 999) / 1000);
	strvec_push(&argv, "-T");
	for (size_t i = 0; i < c->retry_opts.n; i++) {
		strvec_push(&argv, "-o");
		strvec_push(&argv, c->retry_opts.v[i]);
	}
	target_ssh_args(c->t, c->cx->so, &argv);
	strvec_push(&argv, c->cx->o->command ? c->cx->o->command : "echo sshdoctor-login-ok");
	c->st = ST_LOGIN;
	c->cx->logins++;
	c->t_login = now_ms();
	c->deadline = c->t_login + c->cx->o->timeout_ms;
	if (!c->vl)
		c->vl = xmalloc(sizeof(*c->vl));
	if (!c->vline)
		c->vline = xmalloc(VLOG_LINE_MAX);
	c->vlen = 0;
	sshvlog_init(c->vl, c->t_login);
	if (proc_spawn(&c->ssh, argv.v, PROC_STDOUT | PROC_STDERR) < 0) {
		snprintf(c->vl->error, sizeof(c->vl->error), "could not run ssh: %s", strerror(errno));
		c->ssh.out = c->ssh.err = -1;
		c->exited = 1;
		c->st = ST_DONE;
		c->cx->logins--;
	} else {
		ev_fd(c->cx->ev, c->ssh.out, EPOLLIN, on_ssh_out, c);
		ev_fd(c->cx->ev, c->ssh.err, EPOLLIN, on_ssh_err, c);
		c->timer = ev_timer_at(c->cx->ev, c->deadline, login_timeout, c);
	}
	strvec_clear(&argv);
}

/* Logins in progress to the same server: each is unauthenticated until it
 * logs in, and sshd's MaxStartups (10 by default) drops past its start. */
static int server_logins(const struct cx *cx, const struct ct *c)
{
	int n = 0;
	for (size_t i = 0; i < cx->n; i++) {
		const struct ct *o = &cx->c[i];
		n += o->st == ST_LOGIN && o->port == c->port && o->hostname && c->hostname &&
		     !strcmp(o->hostname, c->hostname);
	}
	return n;
}

static void login_next(struct cx *cx)
{
	for (size_t i = cx->next_login; i < cx->n && cx->logins < MAX_LOGINS; i++) {
		struct ct *c = &cx->c[i];
		if (c->st == ST_PROBED && c->established &&
		    server_logins(cx, c) < MAX_LOGINS_PER_SERVER)
			start_login(c);
	}
	while (cx->next_login < cx->n && (cx->c[cx->next_login].st != ST_PROBED ||
					  !cx->c[cx->next_login].established))
		cx->next_login++;
}

/* ---- probe end ---- */

static void probe_timeout(struct evloop *ev, void *arg)
{
	struct ct *c = arg;
	c->timer = 0;
	if (c->st == ST_DNS) {
		dns_finished(c, 1);
		return;
	}
	for (int i = 0; i < c->na; i++)
		if (c->a[i].res == TCP_PENDING && c->st == ST_TCP) {
			c->a[i].res = TCP_FILTERED;
			c->a[i].us = mono_us() - c->a[i].start_us;
			c->a[i].ms = c->a[i].us / 1000;
			c->a[i].err = ETIMEDOUT;
		}
	c->fail = c->st == ST_TCP ? "tcp" : "timeout";
	probe_done(c);
}

static void kex_sides(const struct ct *c, struct kex_side *cl, struct kex_side *sv);
static void kex_side_free(struct kex_side *k);

/* Whether ssh would fail to agree on algorithms: then the login is not tried. */
static int kex_mismatch(const struct ct *c)
{
	struct report tmp;
	struct kex_side cl = { 0 }, sv = { 0 };
	report_init(&tmp, "connect");
	kex_sides(c, &cl, &sv);
	int bad = connect_analyse_kex(&tmp, NULL, &cl, &sv, NULL);
	report_free(&tmp);
	kex_side_free(&cl);
	kex_side_free(&sv);
	return bad;
}

static void probe_done(struct ct *c)
{
	if (c->st >= ST_PROBED)
		return;
	if (c->timer)
		ev_timer_cancel(c->cx->ev, c->timer);
	c->timer = 0;
	if (c->st == ST_DNS && c->dns.pid > 0 && !c->dns.reaped) {
		ev_fd_del(c->cx->ev, c->dns.out);
		proc_stop(&c->dns, 0);
	}
	for (int i = 0; i < c->na; i++)
		if (c->a[i].fd >= 0) {
			ev_fd_del(c->cx->ev, c->a[i].fd);
			close(c->a[i].fd);
			c->a[i].fd = -1;
			if (c->a[i].res == TCP_PENDING)
				c->a[i].res = TCP_ABANDONED;
		}
	if (c->fd >= 0) {
		ev_fd_del(c->cx->ev, c->fd);
		close(c->fd);
		c->fd = -1;
	}
	free(c->rbuf);
	c->rbuf = NULL;
	c->kex_bad = c->have_kex && kex_mismatch(c);
	c->established = c->raw_skipped || (c->have_kex && !c->kex_bad);
	if (c->t_banner && c->na)
		budget_note_software(c->a[c->chosen >= 0 ? c->chosen : 0].text, c->port,
				     c->wi.software);
	c->st = ST_PROBED;
	if (c->started) {
		c->started = 0;
		c->cx->probing--;
		probe_fill(c->cx);
	}
}

/* Starts probes until `parallel` run at once. A probe that ends at once (a
 * failed spawn) lands back here through probe_done: the flag keeps that a
 * loop, not a recursion 10,000 deep. */
static void probe_fill(struct cx *cx)
{
	if (cx->filling)
		return;
	cx->filling = 1;
	while (cx->probing < cx->parallel && cx->next_probe < cx->n && !ev_interrupted(cx->ev)) {
		struct ct *c = &cx->c[cx->next_probe++];
		if (c->st == ST_DONE || c->proxy)
			continue;
		c->started = 1;
		cx->probing++;
		c->t0 = now_ms();
		c->deadline = c->t0 + cx->o->timeout_ms;
		c->timer = ev_timer_at(cx->ev, c->deadline, probe_timeout, c);
		start_dns(c);
	}
	cx->filling = 0;
}

/* ---- reporting ---- */

static void phase_us(struct json_object *arr, const char *name, int64_t ms, int64_t us,
		     const char *result)
{
	struct json_object *p = json_object_new_object();
	json_object_object_add(p, "name", json_object_new_string(name));
	json_object_object_add(p, "ms", ms >= 0 ? json_object_new_int64(ms) : NULL);
	if (us >= 0)
		json_object_object_add(p, "us", json_object_new_int64(us));
	json_object_object_add(p, "result", json_object_new_string(result));
	json_object_array_add(arr, p);
}

static void phase(struct json_object *arr, const char *name, int64_t ms, const char *result)
{
	phase_us(arr, name, ms, -1, result);
}

static struct json_object *strlist(const struct strvec *sv)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < sv->n; i++)
		json_object_array_add(a, json_object_new_string(sv->v[i]));
	return a;
}

static const char *L(const struct ct *c)
{
	return c->label ? c->label : "";
}

static const char *SEP(const struct ct *c)
{
	return c->label ? ": " : "";
}

static void split_cfg(struct strvec *sv, const char *s)
{
	wire_split_list(sv, s, strlen(s));
}

static void kex_sides(const struct ct *c, struct kex_side *cl, struct kex_side *sv)
{
	split_cfg(&cl->kex, cfg(c, "kexalgorithms"));
	split_cfg(&cl->hostkey, cfg(c, "hostkeyalgorithms"));
	split_cfg(&cl->ciphers, cfg(c, "ciphers"));
	split_cfg(&cl->macs, cfg(c, "macs"));
	strvec_pushv(&sv->kex, &c->sk.list[KEX_KEX]);
	strvec_pushv(&sv->hostkey, &c->sk.list[KEX_HOSTKEY]);
	strvec_pushv(&sv->ciphers, &c->sk.list[KEX_ENC_CS]);
	strvec_pushv(&sv->macs, &c->sk.list[KEX_MAC_CS]);
}

static void kex_side_free(struct kex_side *k)
{
	strvec_clear(&k->kex);
	strvec_clear(&k->hostkey);
	strvec_clear(&k->ciphers);
	strvec_clear(&k->macs);
}

static void report_dns_tcp(struct ct *c, struct report *r)
{
	int64_t timeout = c->cx->o->timeout_ms;
	if (c->dns_failed) {
		struct finding *f = report_add(r, SEV_CRITICAL, "dns.fail",
					       "%s%s'%s' does not resolve", L(c), SEP(c), c->hostname);
		finding_evidence(f, "resolver: %s after %.2f s", c->dns_result,
				 (double)c->dns_ms / 1000);
		if (c->dns_ms >= timeout - 50 || strstr(c->dns_result, "Temporary"))
			finding_evidence(f, "the DNS server did not answer (dead or unreachable "
					    "resolver; see /etc/resolv.conf)");
		if (strcmp(c->hostname, c->t->host) != 0)
			finding_evidence(f, "ssh config maps '%s' to HostName %s", c->t->host,
					 c->hostname);
	} else if (!c->dns_numeric && c->dns_ms > CONNECT_DNS_SLOW_MS) {
		struct finding *f = report_add(r, SEV_WARNING, "dns.slow",
			"%s%sresolving '%s' took %.1f s", L(c), SEP(c), c->hostname,
			(double)c->dns_ms / 1000);
		finding_evidence(f, "ssh waits this long before every connection");
		finding_evidence(f, "a slow or dead first nameserver in /etc/resolv.conf, "
				    "or a slow search domain");
		struct fix *x = finding_fix(f, "~/.ssh/config");
		fix_line(x, "Host %s", c->t->host);
		fix_line(x, "    HostName %s", c->a[0].text);
	} else if (!c->dns_numeric) {
		struct finding *f = report_add(r, SEV_OK, "dns.ok", "%s%s'%s' resolves in %lld ms",
					       L(c), SEP(c), c->hostname, (long long)c->dns_ms);
		for (int i = 0; i < c->na; i++)
			finding_evidence(f, "%s", c->a[i].text);
	}
	if (c->dns_failed)
		return;
	/* ssh tries addresses in order: note when the first is another family than asked. */
	const char *af = cfg(c, "addressfamily");
	if (c->na > 1 && c->chosen >= 0 && strcmp(af, "any") == 0 &&
	    c->a[0].sa.ss_family == AF_INET6 &&
	    c->a[c->chosen].sa.ss_family == AF_INET && c->a[0].res != TCP_CONNECTED)
		finding_evidence(report_add(r, SEV_INFO, "tcp.family",
					    "%s%sssh tries IPv6 %s first, which does not connect",
					    L(c), SEP(c), c->a[0].text),
				 "use -4 or AddressFamily inet to skip it");
	int counts[7] = { 0 };
	for (int i = 0; i < c->na; i++)
		counts[c->a[i].res]++;
	if (counts[TCP_CONNECTED]) {
		struct addr *a = &c->a[c->chosen];
		struct finding *f = report_add(r, SEV_OK, "tcp.ok", "%s%sTCP connect to %s port %d in %lld ms",
					       L(c), SEP(c), a->text, c->port, (long long)a->ms);
		(void)f;
	}
	for (int i = 0; i < c->na; i++) {
		struct addr *a = &c->a[i];
		const char *id = NULL;
		const char *why = NULL;
		/* Another address worked: a refusal costs ssh nothing, silence costs it
		 * ConnectTimeout on every connection. */
		enum severity sev = !counts[TCP_CONNECTED] ? SEV_CRITICAL
				    : a->res == TCP_FILTERED ? SEV_WARNING : SEV_INFO;
		switch (a->res) {
		case TCP_REFUSED:
			id = "tcp.refused";
			why = "RST: nothing listens on the port, or a firewall rejects it";
			break;
		case TCP_FILTERED:
			id = "tcp.filtered";
			why = "no answer at all: a firewall or security group drops the packets "
			      "silently (or the host is down)";
			break;
		case TCP_UNREACHABLE:
			id = "tcp.unreachable";
			why = "ICMP unreachable: no route, host down, or administratively prohibited";
			break;
		case TCP_ERROR:
			id = "tcp.unreachable";
			why = "the connection could not be attempted";
			break;
		default:
			break;
		}
		if (!id)
			continue;
		struct finding *f = report_add(r, sev, id, "%s%sTCP to %s port %d: %s after %lld ms",
					       L(c), SEP(c), a->text, c->port, tcp_names[a->res],
					       (long long)a->ms);
		finding_evidence(f, "%s (%s)", why, a->err ? strerror(a->err) : "no error");
		if (a->res == TCP_FILTERED)
			finding_evidence(f, "ssh shows this as a hang at \"Connecting to\" until "
					    "ConnectTimeout (none by default: the kernel gives up "
					    "after about 2 minutes)");
	}
}

/* Both offers (ours from ssh -G/-Q, the server's KEXINIT) judged side by side. */
static void analyse_kex_offers(struct ct *c, struct report *r)
{
	struct kex_side cl = { 0 }, sv = { 0 };
	kex_sides(c, &cl, &sv);
	if (connect_analyse_kex(r, c->label, &cl, &sv, &c->cx->supported))
		c->established = 0;
	kex_side_free(&cl);
	kex_side_free(&sv);
}

static void report_banner_kex(struct ct *c, struct report *r)
{
	int64_t timeout = c->cx->o->timeout_ms;
	if (c->st < ST_PROBED || c->chosen < 0)
		return;
	const char *fail = c->fail ? c->fail : "";
	int in_banner = !c->t_banner;
	if (in_banner) {
		if (!strcmp(fail, "closed") || !strcmp(fail, "reset")) {
			struct finding *f = report_add(r, SEV_CRITICAL, "banner.closed",
				"%s%sthe server %s the connection before sending its banner",
				L(c), SEP(c), !strcmp(fail, "closed") ? "closed" : "reset");
			finding_evidence(f, "after %lld ms; %s", (long long)(mono_us() - c->t_conn) / 1000,
					 c->wi.total ? wire_ident_describe(&c->wi) : "no byte received");
			finding_evidence(f, "sshd does this past MaxStartups (too many "
					    "unauthenticated connections), under PerSourcePenalties, "
					    "for TCP wrappers (hosts.deny) denials, and bans "
					    "(fail2ban, DenyHosts)");
			finding_evidence(f, "ssh shows: kex_exchange_identification: Connection "
					    "closed by remote host");
		} else if (!strcmp(fail, "not-ssh")) {
			struct finding *f = report_add(r, SEV_CRITICAL, "banner.not-ssh",
				"%s%sport %d does not speak SSH: it looks like %s", L(c), SEP(c),
				c->port, c->wi.what);
			finding_evidence(f, "%llu byte(s) received", (unsigned long long)c->wi.total);
			finding_evidence(f, "another service on the SSH port, or a wrong Port in "
					    "the ssh config");
		} else {
			struct finding *f = report_add(r, SEV_CRITICAL, "banner.timeout",
				"%s%sno SSH banner within %.1f s", L(c), SEP(c),
				(double)timeout / 1000);
			if (c->wi.total)
				finding_evidence(f, "received only %llu byte(s): %s (a server or "
						    "middlebox trickling data)",
						 (unsigned long long)c->wi.total,
						 wire_ident_describe(&c->wi));
			else
				finding_evidence(f, "TCP connected, then silence: an overloaded "
						    "sshd, a stalled accept queue, or a middlebox "
						    "holding the connection");
			finding_evidence(f, "ssh shows: Connection timed out during banner exchange");
		}
		return;
	}
	struct finding *f = report_add(r, SEV_OK, "banner.ok", "%s%s%s in %lld ms", L(c), SEP(c),
				       c->wi.software, (long long)(c->t_banner - c->t_conn) / 1000);
	finding_evidence(f, "%s", c->wi.ident);
	if (!strcmp(fail, "protocol")) {
		f = report_add(r, SEV_CRITICAL, "kex.no-match",
			       "%s%sthe server speaks only SSH protocol %s", L(c), SEP(c), c->wi.proto);
		finding_evidence(f, "%s", c->wi.ident);
		return;
	}
	if (!c->have_kex) {
		const char *what = !strcmp(fail, "timeout")
			? "no KEXINIT from the server before the timeout"
			: !strcmp(fail, "invalid") || !strcmp(fail, "disconnected") ? c->wi.what
			: "the server closed the connection before its KEXINIT";
		f = report_add(r, SEV_CRITICAL, "kex.invalid", "%s%skey exchange offer failed: %s",
			       L(c), SEP(c), what);
		finding_evidence(f, "%zu byte(s) of binary packets received", c->rlen);
		return;
	}
	analyse_kex_offers(c, r);
}

/* No raw probe (budget): what the login's own -vvv showed of banner and kex. */
static void report_from_login(struct ct *c, struct report *r)
{
	struct finding *f = report_add(r, SEV_INFO, "connect.probe-budget",
		"%s%sno raw banner/KEXINIT probe: the server may penalise unauthenticated "
		"connections", L(c), SEP(c));
	finding_evidence(f, "this address's budget of unauthenticated connections is spent "
			    "(%.0f s of penalty outstanding by our count; sshd 9.8+ refuses past 15 s)",
			 budget_wait_s(c->a[0].text, c->port));
	finding_evidence(f, "banner and the server's key exchange offer come from ssh -vvv of the login");
	if (VL(c)->remote_software[0])
		report_add(r, SEV_OK, "banner.ok", "%s%s%s (seen by the login)", L(c), SEP(c),
			   VL(c)->remote_software);
	if (!c->sk.list[KEX_KEX].n)
		return;
	c->have_kex = 1;
	analyse_kex_offers(c, r);
}

/* sshd closing before its banner, on a server that penalises: say it is a
 * penalty (most likely earned by probes), not a fault of path or server. */
static void report_penalty(struct ct *c, struct report *r)
{
	if (!c->na || c->proxy)
		return;
	const char *addr = c->a[c->chosen >= 0 ? c->chosen : 0].text;
	const char *sw = VL(c)->remote_software[0] ? VL(c)->remote_software : NULL;
	if (!budget_risky(addr, c->port, sw))
		return;
	const char *fail = c->fail ? c->fail : "";
	int raw = c->chosen >= 0 && !c->t_banner && (!strcmp(fail, "closed") || !strcmp(fail, "reset"));
	int login = c->t_login && VL(c)->remote_version < 0 &&
		    strstr(VL(c)->error, "kex_exchange_identification");
	/* sshd also closes before its banner past MaxStartups: a penalty is
	 * claimed only when we ourselves connected unauthenticated just before */
	if ((!raw && !login) || c->ledger_before <= 0)
		return;
	double wait = budget_wait_s(addr, c->port);
	struct finding *f = report_add(r, SEV_WARNING, "server.penalty",
		"%s%ssshd is penalising this address, probably for our probes; ssh will work again "
		"in about %.0f s", L(c), SEP(c), wait > BUDGET_MIN_S ? wait : BUDGET_MIN_S + 1);
	finding_evidence(f, "the server closed the connection before its banner%s%s", login ? ": " : "",
			 login ? VL(c)->error : "");
	finding_evidence(f, "OpenSSH 9.8+ PerSourcePenalties: connections without authentication "
			    "(1 s each), failed logins (5 s), LoginGraceTime (10 s) accumulate; past "
			    "15 s the address is refused until the penalty expires");
	struct fix *x = finding_fix(f, "wait, or on the server (sshd_config)");
	fix_line(x, "PerSourcePenaltyExemptList %s", "YOUR.CLIENT.ADDRESS");
}

static struct json_object *target_json(struct ct *c)
{
	struct json_object *m = json_object_new_object(), *ph = json_object_new_array();
	struct json_object *addrs = json_object_new_array();
	json_object_object_add(m, "target", json_object_new_string(c->t->spec));
	json_object_object_add(m, "hostname", json_object_new_string(c->hostname));
	json_object_object_add(m, "port", json_object_new_int(c->port));
	for (int i = 0; i < c->na; i++) {
		struct json_object *a = json_object_new_object();
		json_object_object_add(a, "address", json_object_new_string(c->a[i].text));
		json_object_object_add(a, "tcp", json_object_new_string(tcp_names[c->a[i].res]));
		json_object_object_add(a, "ms", json_object_new_int64(c->a[i].ms));
		json_object_array_add(addrs, a);
	}
	json_object_object_add(m, "addresses", addrs);
	if (c->proxy)
		json_object_object_add(m, "proxy", json_object_new_string(c->proxy));
	else
		phase(ph, "dns", c->dns_numeric ? 0 : c->dns_ms,
		      c->dns_failed ? "fail" : c->dns_numeric ? "numeric"
		      : c->dns_ms > CONNECT_DNS_SLOW_MS ? "slow" : "ok");
	if (c->na && !c->dns_failed) {
		struct addr *a = c->chosen >= 0 ? &c->a[c->chosen] : &c->a[0];
		phase_us(ph, "tcp", a->ms, a->us, tcp_names[a->res]);
	}
	if (c->chosen >= 0) {
		const char *fail = c->fail ? c->fail : "";
		if (c->t_banner)
			phase_us(ph, "banner", (c->t_banner - c->t_conn) / 1000,
				 c->t_banner - c->t_conn, "ok");
		else
			phase(ph, "banner", -1, !strcmp(fail, "not-ssh") ? "not-ssh"
			      : !strcmp(fail, "closed") || !strcmp(fail, "reset") ? "closed"
			      : "timeout");
		if (c->have_kex)
			phase_us(ph, "kex", (c->t_kex - c->t_banner) / 1000, c->t_kex - c->t_banner,
				 c->kex_bad ? "no-match" : "ok");
		else if (c->t_banner)
			phase(ph, "kex", -1, !strcmp(fail, "protocol") ? "no-match" : "invalid");
	}
	const struct sshvlog *v = VL(c);
	if (c->t_login) {
		phase(ph, "auth", v->authenticated >= 0 && v->service_accept >= 0
		      ? v->authenticated - v->service_accept : -1,
		      v->authenticated >= 0 ? "ok" : connect_kex_stalled(v, c->exited) ? "kex-stalled"
		      : v->too_many_failures ? "too-many-failures"
		      : v->permission_denied ? "denied" : c->timed_out ? "timeout" : "failed");
		int64_t end = v->first_output >= 0 ? v->first_output : v->exit_status;
		if (v->authenticated >= 0)
			phase(ph, "session", end >= 0 ? end - v->authenticated : -1,
			      end >= 0 ? "ok" : c->timed_out ? "timeout" : "failed");
	}
	json_object_object_add(m, "phases", ph);
	json_object_object_add(m, "banner", c->t_banner ? json_object_new_string(c->wi.ident) : NULL);
	json_object_object_add(m, "software", c->t_banner
			       ? json_object_new_string(c->wi.software) : VL(c)->remote_software[0]
			       ? json_object_new_string(VL(c)->remote_software) : NULL);
	json_object_object_add(m, "raw_probe", json_object_new_string(c->proxy ? "proxied"
			       : c->raw_skipped ? "skipped-budget" : "done"));
	if (c->have_kex) {
		struct json_object *k = json_object_new_object();
		json_object_object_add(k, "kex", strlist(&c->sk.list[KEX_KEX]));
		json_object_object_add(k, "hostkey", strlist(&c->sk.list[KEX_HOSTKEY]));
		json_object_object_add(k, "ciphers", strlist(&c->sk.list[KEX_ENC_CS]));
		json_object_object_add(k, "macs", strlist(&c->sk.list[KEX_MAC_CS]));
		json_object_object_add(m, "server_kex", k);
	} else
		json_object_object_add(m, "server_kex", NULL);
	if (c->t_login) {
		struct json_object *lg = json_object_new_object();
		struct { const char *name; int64_t from, to; } spans[] = {
			{ "tcp", v->connecting, v->connected },
			{ "banner", v->connected, v->remote_version },
			{ "kex", v->kexinit_sent, v->newkeys_in },
			{ "service", v->newkeys_in, v->service_accept },
			{ "auth", v->service_accept, v->authenticated },
			{ "session", v->authenticated, v->first_output >= 0 ? v->first_output
							     : v->exit_status },
		};
		for (size_t i = 0; i < ARRAY_SIZE(spans); i++)
			json_object_object_add(lg, spans[i].name,
					       spans[i].from >= 0 && spans[i].to >= 0
					       ? json_object_new_int64(spans[i].to - spans[i].from)
					       : NULL);
		json_object_object_add(lg, "total_ms", json_object_new_int64(
			(v->exit_status >= 0 ? v->exit_status : now_ms() - v->t0)));
		struct json_object *at = json_object_new_array();
		for (size_t i = 0; i < v->natt; i++) {
			struct json_object *a = json_object_new_object();
			json_object_object_add(a, "method", json_object_new_string(v->att[i].method));
			if (v->att[i].detail[0])
				json_object_object_add(a, "key", json_object_new_string(v->att[i].detail));
			json_object_object_add(a, "answer_ms", v->att[i].answered >= 0
				? json_object_new_int64(v->att[i].answered - v->att[i].sent) : NULL);
			json_object_object_add(a, "answer", json_object_new_string(
				v->att[i].answer == 52 ? "success" : v->att[i].answer == 51 ? "failure"
				: v->att[i].answer ? "continue" : "none"));
			json_object_array_add(at, a);
		}
		json_object_object_add(lg, "auth_requests", at);
		json_object_object_add(lg, "keys_offered", json_object_new_int(v->keys_offered));
		json_object_object_add(lg, "method", v->auth_method[0]
				       ? json_object_new_string(v->auth_method) : NULL);
		json_object_object_add(lg, "error", v->error[0] ? json_object_new_string(v->error)
				       : NULL);
		json_object_object_add(lg, "kex_algorithm", v->kex_alg[0]
				       ? json_object_new_string(v->kex_alg) : NULL);
		json_object_object_add(m, "login", lg);
	}
	if (c->stalled) {	/* the first login hung in kex; "login" above is the retry */
		struct json_object *k = json_object_new_object(), *op = json_object_new_array();
		for (size_t i = 0; i < c->retry_opts.n; i++)
			json_object_array_add(op, json_object_new_string(c->retry_opts.v[i]));
		json_object_object_add(k, "options", op);
		json_object_object_add(k, "stalled_kex", c->stalled->kex_alg[0]
				       ? json_object_new_string(c->stalled->kex_alg) : NULL);
		json_object_object_add(k, "stalled_expecting", c->stalled->expecting[0]
				       ? json_object_new_string(c->stalled->expecting) : NULL);
		json_object_object_add(k, "kex_done", json_object_new_boolean(v->newkeys_in >= 0));
		json_object_object_add(k, "logged_in", json_object_new_boolean(v->authenticated >= 0));
		json_object_object_add(m, "kex_retry", k);
	}
	json_object_object_add(m, "established", json_object_new_boolean(c->established));
	return m;
}

static void text_one(FILE *out, struct json_object *m)
{
	fprintf(out, "%s (%s port %d)\n", json_object_get_string(json_object_object_get(m, "target")),
		json_object_get_string(json_object_object_get(m, "hostname")),
		json_object_get_int(json_object_object_get(m, "port")));
	struct json_object *ph = json_object_object_get(m, "phases");
	for (size_t i = 0; ph && i < json_object_array_length(ph); i++) {
		struct json_object *p = json_object_array_get_idx(ph, i);
		struct json_object *ms = json_object_object_get(p, "ms");
		char d[32] = "-";
		if (ms)
			snprintf(d, sizeof(d), "%lld ms", (long long)json_object_get_int64(ms));
		fprintf(out, "  %-8s %10s  %s\n", json_object_get_string(json_object_object_get(p, "name")),
			d, json_object_get_string(json_object_object_get(p, "result")));
	}
	struct json_object *b = json_object_object_get(m, "banner");
	if (b)
		fprintf(out, "  banner   %s\n", json_object_get_string(b));
	struct json_object *kr = json_object_object_get(m, "kex_retry");
	if (kr) {
		struct json_object *op = json_object_object_get(kr, "options");
		struct json_object *sk = json_object_object_get(kr, "stalled_kex");
		struct json_object *se = json_object_object_get(kr, "stalled_expecting");
		fprintf(out, "  first ssh hung in kex (%s, expecting %s%s); below: the retry with",
			sk ? json_object_get_string(sk) : "?", se ? "SSH2_MSG_" : "",
			se ? json_object_get_string(se) : "?");
		for (size_t i = 0; op && i < json_object_array_length(op); i++)
			fprintf(out, " -o %s", json_object_get_string(json_object_array_get_idx(op, i)));
		fputc('\n', out);
	}
	struct json_object *lg = json_object_object_get(m, "login");
	if (!lg)
		return;
	/* ssh's own view of the same phases, from its -vvv lines */
	static const char *const names[] = { "tcp", "banner", "kex", "service", "auth", "session" };
	fputs("  ssh -vvv", out);
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		struct json_object *v = json_object_object_get(lg, names[i]);
		if (v)
			fprintf(out, " %s %lld ms,", names[i], (long long)json_object_get_int64(v));
	}
	fputc('\n', out);
	struct json_object *at = json_object_object_get(lg, "auth_requests");
	for (size_t i = 0; at && i < json_object_array_length(at) && i < 8; i++) {
		struct json_object *a = json_object_array_get_idx(at, i);
		struct json_object *k = json_object_object_get(a, "key");
		struct json_object *ms = json_object_object_get(a, "answer_ms");
		char d[32] = "no answer";
		if (ms)
			snprintf(d, sizeof(d), "%lld ms", (long long)json_object_get_int64(ms));
		fprintf(out, "  auth #%zu  %s%s%s: %s, %s\n", i + 1,
			json_object_get_string(json_object_object_get(a, "method")), k ? " " : "",
			k ? json_object_get_string(k) : "", json_object_get_string(
			json_object_object_get(a, "answer")), d);
	}
}

static void connect_text(FILE *out, struct json_object *m, int color)
{
	(void)color;
	if (!json_object_is_type(m, json_type_array)) {
		text_one(out, m);
		return;
	}
	size_t n = json_object_array_length(m);
	fprintf(out, "%-28s %-8s %-12s %-10s %-9s %-10s %s\n", "target", "dns", "tcp", "banner",
		"kex", "login", "result");
	for (size_t i = 0; i < n; i++) {
		struct json_object *t = json_object_array_get_idx(m, i);
		const char *col[5] = { "-", "-", "-", "-", "-" };
		static const char *const names[] = { "dns", "tcp", "banner", "kex", "auth" };
		struct json_object *ph = json_object_object_get(t, "phases");
		for (size_t j = 0; ph && j < json_object_array_length(ph); j++) {
			struct json_object *p = json_object_array_get_idx(ph, j);
			const char *nm = json_object_get_string(json_object_object_get(p, "name"));
			for (int k = 0; k < 5; k++)
				if (!strcmp(nm, names[k]))
					col[k] = json_object_get_string(json_object_object_get(p, "result"));
		}
		fprintf(out, "%-28.28s %-8s %-12s %-10s %-9s %-10s %s\n",
			json_object_get_string(json_object_object_get(t, "target")), col[0], col[1],
			col[2], col[3], col[4],
			json_object_get_boolean(json_object_object_get(t, "established"))
			? "established" : "FAILED");
	}
}

/* ---- driver ---- */

static void load_supported(struct kex_side *k)
{
	static const char *const q[] = { "kex", "key", "cipher", "mac" };
	struct strvec *dst[] = { &k->kex, &k->hostkey, &k->ciphers, &k->macs };
	for (size_t i = 0; i < ARRAY_SIZE(q); i++) {
		char *argv[] = { (char *)"ssh", (char *)"-Q", (char *)q[i], NULL };
		struct strbuf out = { 0 };
		int st;
		if (proc_capture(argv, NULL, &out, NULL, 5000, &st) == 0 && st == 0 && out.buf) {
			for (char *l = out.buf; *l;) {
				size_t len = strcspn(l, "\n");
				char end = l[len];
				l[len] = '\0';
				if (len && dst[i]->n < 1024)
					strvec_push(dst[i], l);
				l += len + (end ? 1 : 0);
			}
		}
		sb_free(&out);
	}
}

static void on_interrupt(struct evloop *ev, void *arg)
{
	ev_stop(ev);
}

/* ssh -G once per (host, user, explicit port or not): Match has no port criterion,
 * so targets that differ only by an explicit port share the effective config. */
static int resolve_config(struct ct *c, size_t i, struct cx *cx, char **err)
{
	struct target *t = c->t;
	for (size_t j = 0; j < i; j++) {
		struct ct *oc = &cx->c[j];
		const struct target *o = oc->cfg_of ? oc->cfg_of : oc->t;
		if (!oc->t->hostname || strcmp(o->host, t->host) != 0 || !o->user != !t->user ||
		    (t->user && strcmp(o->user, t->user) != 0) || !o->port != !t->port)
			continue;
		/* shared, not copied: 10,000 targets on one config stay one copy */
		t->eport = t->port ? t->port : o->eport;
		snprintf(c->portstr, sizeof(c->portstr), "%d", t->eport);
		c->cfg_of = o;
		t->hostname = xstrdup(o->hostname);
		t->euser = xstrdup(o->euser);
		return 0;
	}
	return target_resolve(t, cx->so, err);
}

/* Room for n probes at once (a socket or two, a resolver pipe each); returns
 * how many fit under the hard limit. */
static size_t raise_fd_limit(size_t n)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return n;
	if (rl.rlim_cur < n * 4 + 64) {
		rl.rlim_cur = rl.rlim_max < n * 4 + 64 ? rl.rlim_max : n * 4 + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	size_t fit = rl.rlim_cur > 128 ? (rl.rlim_cur - 64) / 4 : 16;
	return fit < n ? fit : n;
}

size_t connect_run(const struct connect_opts *o, struct target *targets, size_t n,
		   const struct sshopts *so, struct report *r)
{
	struct cx cx = { .o = o, .so = so, .r = r, .n = n };
	size_t established = 0;
	cx.c = xcalloc(n ? n : 1, sizeof(*cx.c));
	cx.ev = ev_new();
	ev_on_interrupt(cx.ev, on_interrupt, &cx);
	load_supported(&cx.supported);
	for (size_t i = 0; i < n; i++) {
		struct ct *c = &cx.c[i];
		char *err = NULL;
		c->cx = &cx;
		c->t = &targets[i];
		c->fd = -1;
		c->chosen = -1;
		c->dns.out = c->ssh.out = c->ssh.err = -1;
		if (n > 1)
			c->label = xstrdup(targets[i].spec);
		if (resolve_config(c, i, &cx, &err) < 0) {
			struct finding *f = report_add(r, SEV_WARNING, "connect.config",
						       "%s%scannot read the ssh configuration", L(c), SEP(c));
			finding_evidence(f, "%s", err);
			free(err);
			r->unknown = 1;
			c->st = ST_DONE;
			continue;
		}
		c->hostname = c->t->hostname;
		c->port = c->t->eport;
		const char *af = cfg(c, "addressfamily");
		c->family = so && so->family ? so->family : !strcmp(af, "inet") ? 4
			    : !strcmp(af, "inet6") ? 6 : 0;
		/* Through a proxy, the direct path is not ssh's path: probing it would
		 * judge the wrong network. */
		const char *pj = cfg(c, "proxyjump"), *pc = cfg(c, "proxycommand");
		if (*pj && strcmp(pj, "none") != 0)
			c->proxy = xasprintf("ProxyJump %s", pj);
		else if (*pc && strcmp(pc, "none") != 0)
			c->proxy = xasprintf("ProxyCommand %s", pc);
		if (c->proxy) {
			c->st = ST_PROBED;
			c->established = 1;
		}
	}
	int64_t start = now_ms();
	cx.parallel = raise_fd_limit(o->parallel > 0 ? (size_t)o->parallel : CONNECT_PARALLEL_DEFAULT);
	probe_fill(&cx);
	ev_run(cx.ev, 0);
	cx.next_probe = n;	/* interrupted: start nothing more */
	if (!o->no_login && !ev_interrupted(cx.ev)) {
		login_next(&cx);
		ev_run(cx.ev, 0);
	}
	debug("connect: %zu target(s) in %lld ms", n, (long long)(now_ms() - start));
	cx.next_login = n;	/* interrupted: start nothing more */
	struct json_object *all = n > 1 ? json_object_new_array() : NULL, *one = NULL;
	for (size_t i = 0; i < n; i++) {
		struct ct *c = &cx.c[i];
		if (c->st != ST_DONE && c->st != ST_PROBED && c->st != ST_LOGIN)
			probe_done(c);	/* interrupted */
		if (c->st == ST_LOGIN)
			login_end(c);
		if (!c->hostname)
			continue;
		if (c->proxy) {
			struct finding *f = report_add(r, SEV_INFO, "connect.proxy",
				"%s%sconnects through %s: only the login is measured", L(c), SEP(c),
				c->proxy);
			finding_evidence(f, "dns, tcp, banner and kex are ssh's own phases "
					    "through the proxy (see measurements.connect.login)");
		} else {
			report_dns_tcp(c, r);
			report_banner_kex(c, r);
		}
		if (c->stalled)
			connect_analyse_kex_retry(r, c->label, c->t->host, c->stalled, VL(c),
						  c->exited, o->timeout_ms, &c->retry_opts);
		else if (c->t_login)
			connect_analyse_login(r, c->label, VL(c), c->exited, o->timeout_ms);
		if (c->t_login && VL(c)->authenticated < 0)
			c->established = 0;
		if (c->t_login && c->na && VL(c)->remote_software[0]) {
			const char *ad = c->a[c->chosen >= 0 ? c->chosen : 0].text;
			budget_note_software(ad, c->port, VL(c)->remote_software);
			/* a login that did not log in is on sshd's ledger too */
			if (VL(c)->authenticated < 0 && budget_risky(ad, c->port, NULL))
				budget_charge(ad, c->port, 1, VL(c)->permission_denied ||
					      VL(c)->too_many_failures ? BUDGET_AUTHFAIL_S
					      : BUDGET_NOAUTH_S);
		}
		if (c->raw_skipped)
			report_from_login(c, r);
		report_penalty(c, r);
		established += c->established;
		struct json_object *m = target_json(c);
		if (all)
			json_object_array_add(all, m);
		else
			one = m;
	}
	if (ev_interrupted(cx.ev))
		r->unknown = 1;
	if (n == 1 && cx.c[0].hostname)
		report_set_target(r, cx.c[0].hostname, cx.c[0].port, cx.c[0].t->euser);
	if (all || one)
		report_measure(r, "connect", all ? all : one, connect_text);
	for (size_t i = 0; i < n; i++) {
		struct ct *c = &cx.c[i];
		wire_kexinit_free(&c->sk);
		wire_ident_free(&c->wi);
		free(c->label);
		free(c->proxy);
		free(c->rbuf);
		free(c->stalled);
		free(c->vl);
		free(c->vline);
		strvec_clear(&c->retry_opts);
		sb_free(&c->dnsout);
	}
	kex_side_free(&cx.supported);
	ev_free(cx.ev);
	free(cx.c);
	return established;
}
