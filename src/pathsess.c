/* pathsess.c - measurements through a live session of the user's ssh: echo
 * round trips of small tokens, the MTU black-hole search (echoes of growing
 * size), and a bulk transfer watched through TCP_INFO of the session's own
 * socket, which `sshdoctor relay` (the ProxyCommand) hands back to us. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "askpass.h"
#include "evloop.h"
#include "log.h"
#include "path.h"
#include "proc.h"
#include "relay.h"

#define LOGIN_MS 20000
#define ECHO_MS 3000
#define BULK_MAX_MS 20000
#define MAX_SESSIONS 10
#define ERR_MAX 4096
#define TOKEN_BYTES 32

/* What every session of one run shares. */
struct sessenv {
	struct evloop *ev;
	const struct target *t;
	const struct sshopts *so;
	const char *self;	/* our binary for the relay, NULL: no relay */
	int small_kex;		/* offer only curve25519-sha256 */
	int64_t deadline;
};

struct sess {
	struct evloop *ev;
	struct proc p;
	int lsock, tcpfd;
	int alive;		/* ssh running and its echo path not stuck */
	const char *wbuf;	/* pending input for ssh's stdin */
	size_t wlen, woff;
	size_t want, got;	/* echo bytes expected and received */
	int waiting, eof;
	/* Login: done when the output ends with the token, so that whatever a
	 * login script prints first is skipped rather than counted. */
	const char *match;
	char tail[TOKEN_BYTES];
	struct strbuf err;	/* ssh's stderr without its -v debug lines */
	char line[512];		/* the stderr line being assembled */
	size_t llen;
	char software[96];	/* "remote software version" from ssh -v */
};

static int sess_complete(const struct sess *s)
{
	if (!s->match)
		return s->got >= s->want;
	return s->got >= TOKEN_BYTES && !memcmp(s->tail, s->match, TOKEN_BYTES);
}

static void sess_wake(struct sess *s)
{
	if (s->waiting && (sess_complete(s) || s->eof))
		ev_stop(s->ev);
}

/* Keeps the last TOKEN_BYTES bytes of output. */
static void keep_tail(struct sess *s, const char *buf, size_t n)
{
	if (n >= TOKEN_BYTES) {
		memcpy(s->tail, buf + n - TOKEN_BYTES, TOKEN_BYTES);
		return;
	}
	memmove(s->tail, s->tail + n, TOKEN_BYTES - n);
	memcpy(s->tail + TOKEN_BYTES - n, buf, n);
}

static void on_out(struct evloop *ev, int fd, uint32_t events, void *arg)
{
	(void)events;
	struct sess *s = arg;
	char buf[65536];
	for (int k = 0; k < 16; k++) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n > 0) {
			s->got += (size_t)n;
			keep_tail(s, buf, (size_t)n);
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			s->eof = 1;
			ev_fd_del(ev, fd);
		}
		break;
	}
	sess_wake(s);
}

/* One stderr line: ssh -v's debug lines give the server's version (so the
 * budget knows whether it penalises) and are dropped; the rest is kept for
 * the report. */
static void err_line(struct sess *s, const char *l, size_t n)
{
	static const char key[] = "remote software version ";
	if (n >= 6 && !strncmp(l, "debug", 5)) {
		const char *v = memmem(l, n, key, sizeof(key) - 1);
		if (v && !s->software[0]) {
			v += sizeof(key) - 1;
			size_t k = (size_t)(l + n - v);
			snprintf(s->software, sizeof(s->software), "%.*s", (int)k, v);
			s->software[strcspn(s->software, "\r\n")] = '\0';
		}
		return;
	}
	if (s->err.len + n + 1 <= ERR_MAX) {
		sb_add(&s->err, l, n);
		sb_add(&s->err, "\n", 1);
	}
}

static void on_err(struct evloop *ev, int fd, uint32_t events, void *arg)
{
	(void)events;
	struct sess *s = arg;
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		if (s->llen)
			err_line(s, s->line, s->llen);
		s->llen = 0;
		ev_fd_del(ev, fd);
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == '\n' || s->llen == sizeof(s->line)) {
			err_line(s, s->line, s->llen);	/* an over-long line is cut */
			s->llen = 0;
			if (buf[i] == '\n')
				continue;
		}
		s->line[s->llen++] = buf[i];
	}
}

static void on_in(struct evloop *ev, int fd, uint32_t events, void *arg)
{
	(void)events;
	struct sess *s = arg;
	while (s->woff < s->wlen) {
		ssize_t n = write(fd, s->wbuf + s->woff, s->wlen - s->woff);
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				s->eof = 1;
				s->woff = s->wlen;
				sess_wake(s);
			}
			break;
		}
		s->woff += (size_t)n;
	}
	if (s->woff >= s->wlen)
		ev_fd_del(ev, fd);
}

static void on_relay(struct evloop *ev, int fd, uint32_t events, void *arg)
{
	(void)ev;
	(void)events;
	struct sess *s = arg;
	int got = relay_accept_fd(fd);
	if (got >= 0 && s->tcpfd < 0)
		s->tcpfd = got;
	else if (got >= 0)
		close(got);
}

static void on_timeout(struct evloop *ev, void *arg)
{
	(void)arg;
	ev_stop(ev);
}

/* The ProxyCommand puts our path in single quotes and ssh expands %: a path
 * with either (or a newline) gets no relay rather than a broken command. */
static int shell_safe(const char *s)
{
	return !strpbrk(s, "'%\n");
}

static void build_argv(struct strvec *av, const struct sessenv *e, const char *self,
		       const char *lname)
{
	const struct sshopts *so = e->so;
	strvec_push(av, "ssh");
	strvec_push(av, "-T");
	strvec_push(av, "-v");	/* for the server's version only: see err_line */
	/* First value wins in ssh: ours go before the user's. */
	if (self && shell_safe(self)) {
		strvec_push(av, "-o");
		strvec_pushf(av, "ProxyCommand='%s' relay%s --report %s %%h %%p", self,
			     so->family == 4 ? " -4" : so->family == 6 ? " -6" : "", lname);
	}
	target_ssh_session_opts(av, NULL, 0);
	/* ssh's own KEXINIT with the full default lists is bigger than a black
	 * hole lets through: login would hang before we could measure anything. */
	if (e->small_kex) {
		strvec_push(av, "-o");
		strvec_push(av, "KexAlgorithms=curve25519-sha256");
	}
	target_ssh_args(e->t, so, av);
	strvec_push(av, "cat");
}

static int sess_start(struct sess *s, const struct sessenv *e)
{
	char lname[100] = "";
	struct evloop *ev = e->ev;
	memset(s, 0, sizeof(*s));
	s->ev = ev;
	s->tcpfd = -1;
	s->lsock = e->self ? relay_listen(lname, sizeof(lname)) : -1;
	struct strvec av = { 0 };
	build_argv(&av, e, s->lsock >= 0 ? e->self : NULL, lname);
	int rc = proc_spawn(&s->p, av.v, PROC_STDIN | PROC_STDOUT | PROC_STDERR);
	strvec_clear(&av);
	if (rc < 0) {
		if (s->lsock >= 0)
			close(s->lsock);
		s->lsock = -1;
		return -1;
	}
	if (s->lsock >= 0)
		ev_fd(ev, s->lsock, EPOLLIN, on_relay, s);
	ev_fd(ev, s->p.out, EPOLLIN, on_out, s);
	ev_fd(ev, s->p.err, EPOLLIN, on_err, s);
	s->alive = 1;
	return 0;
}

static void sess_stop(struct sess *s)
{
	if (!s->ev)
		return;
	ev_fd_del(s->ev, s->p.in);
	ev_fd_del(s->ev, s->p.out);
	ev_fd_del(s->ev, s->p.err);
	if (s->lsock >= 0) {
		ev_fd_del(s->ev, s->lsock);
		close(s->lsock);
	}
	if (s->tcpfd >= 0)
		close(s->tcpfd);	/* ours is a second reference: let the socket go */
	proc_stop(&s->p, 1000);
	sb_free(&s->err);
	s->ev = NULL;
	s->alive = 0;
}

/* Sends n bytes through ssh to `cat` and waits for them to come back.
 * Returns 1 (rtt in *ms), 0 on timeout, -1 when there is no answer to be had
 * (the session ended, Ctrl-C, or the run is out of time). */
static int sess_echo(struct sess *s, const char *data, size_t n, int timeout_ms,
		     int64_t deadline, double *ms)
{
	if (!s->alive || s->eof || ev_interrupted(s->ev))
		return -1;
	s->wbuf = data;
	s->wlen = n;
	s->woff = 0;
	s->want = n;
	s->got = 0;
	s->waiting = 1;
	int64_t t0 = now_ms(), until = t0 + timeout_ms;
	if (until > deadline)
		until = deadline;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	ev_fd(s->ev, s->p.in, EPOLLOUT, on_in, s);
	uint64_t tm = ev_timer_at(s->ev, until, on_timeout, s);
	while (!sess_complete(s) && !s->eof && now_ms() < until && !ev_interrupted(s->ev))
		ev_run(s->ev, until);
	ev_timer_cancel(s->ev, tm);
	ev_fd_del(s->ev, s->p.in);
	s->waiting = 0;
	clock_gettime(CLOCK_MONOTONIC, &b);
	*ms = (double)(b.tv_sec - a.tv_sec) * 1000.0 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	if (sess_complete(s))
		return 1;
	s->alive = 0;	/* stuck or gone: never reuse it */
	/* Ctrl-C or the end of the run's budget is no answer about this echo. */
	if (s->eof || ev_interrupted(s->ev) || (until < t0 + timeout_ms && now_ms() >= until))
		return -1;
	return 0;
}

/* Last non-empty line of ssh's stderr, for the report. */
static void last_err_line(const struct strbuf *e, char *out, size_t n)
{
	const char *p = e->buf ? e->buf : "", *best = NULL;
	size_t blen = 0;
	while (*p) {
		size_t l = strcspn(p, "\r\n");
		if (l) {
			best = p;
			blen = l;
		}
		p += l;
		p += strspn(p, "\r\n");
	}
	if (best)
		snprintf(out, n, "%.*s", (int)(blen < 200 ? blen : 200), best);
}

/* Starts a session and waits for the first echo (the login). */
static int sess_login(struct sess *s, struct sessenv *e, struct path_meas *m)
{
	static const char token[TOKEN_BYTES + 1] = "sshdoctor-path-login-token-0001\n";
	double ms;
	if (sess_start(s, e) < 0) {
		snprintf(m->session_err, sizeof(m->session_err), "could not run ssh: %s",
			 strerror(errno));
		return -1;
	}
	s->match = token;
	int rc = sess_echo(s, token, TOKEN_BYTES, LOGIN_MS, e->deadline, &ms);
	s->match = NULL;
	if (s->software[0] && !m->software[0])
		snprintf(m->software, sizeof(m->software), "%s", s->software);
	if (rc == 1)
		return 0;
	if (e->small_kex && s->err.buf && strstr(s->err.buf, "no matching key exchange")) {
		sess_stop(s);	/* a server without curve25519: its own choice then */
		e->small_kex = 0;
		return sess_login(s, e, m);
	}
	char line[208] = "";
	last_err_line(&s->err, line, sizeof(line));
	const char *denied = s->err.buf ? strstr(s->err.buf, "Permission denied (") : NULL;
	int64_t typed = askpass_typing_ms();
	if (rc != 1 && denied && askpass_offer(e->t, e->so, denied) == 1) {
		sess_stop(s);	/* the password typed once: log in as with a key */
		e->deadline += askpass_typing_ms() - typed;	/* typing is not measuring */
		return sess_login(s, e, m);
	}
	snprintf(m->session_err, sizeof(m->session_err), "%s%s%.200s",
		 rc == 0 ? "login did not finish in time" : "ssh ended before the first echo",
		 line[0] ? ": " : "", line);	/* line: at most 200 bytes */
	/* closed before the banner: what sshd does to a penalised (or throttled,
	 * or banned) address */
	m->session_refused = !s->software[0] && s->err.buf &&
			     !strstr(s->err.buf, "sshdoctor relay:") &&	/* TCP never connected */
			     !strstr(s->err.buf, "Connection refused") &&
			     (strstr(s->err.buf, "kex_exchange_identification") ||
			      strstr(s->err.buf, "Connection reset by peer") ||
			      strstr(s->err.buf, "Connection closed by"));
	sess_stop(s);
	return -1;
}

static void echo_series(struct sess *s, int count, int64_t deadline, struct path_meas *m)
{
	char tok[TOKEN_BYTES + 1];
	for (int i = 0; i < count && now_ms() < deadline; i++) {
		snprintf(tok, sizeof(tok), "sshdoctor-path-echo-%011d\n", i);
		double ms;
		int rc = sess_echo(s, tok, TOKEN_BYTES, ECHO_MS, deadline, &ms);
		if (rc < 0)
			break;	/* no answer to be had: not a loss */
		m->echo.sent++;
		if (rc == 0) {
			m->echo.lost++;
			break;	/* the session is no longer usable for timing */
		}
		m->echo.rtt[m->echo.n++] = ms;
	}
}

/* How long a black-hole probe may take before it counts as lost: on a lossy
 * path a segment lost twice or three times waits out RTO backoff (1+2+4 RTOs),
 * and a late echo there is loss, not a size that never passes. */
static int bh_echo_ms(const struct sess *s)
{
	struct tcpi_snap t = { 0 };
	if (s->tcpfd < 0 || relay_tcp_info(s->tcpfd, &t) < 0 || !t.valid)
		return ECHO_MS;
	int64_t rto = ((int64_t)t.rtt_us + 4 * (int64_t)t.rttvar_us) / 1000;
	if (rto < 200)
		rto = 200;
	int64_t ms = ECHO_MS + 7 * rto;
	return ms > 15000 ? 15000 : (int)ms;
}

/* Black-hole search; may replace *s with fresh sessions after failures. */
static void blackhole_search(struct sess *s, struct sessenv *e, struct path_meas *m)
{
	int64_t deadline = e->deadline;
	static char payload[8192];
	memset(payload, 'x', sizeof(payload));
	int sessions = 1;
	bh_init(&m->bh);
	m->bh_tested = 1;
	for (int size; (size = bh_next(&m->bh)) && now_ms() < deadline;) {
		if (!s->alive) {
			sess_stop(s);
			if (++sessions > MAX_SESSIONS ||
			    sess_login(s, e, m) < 0)
				break;
		}
		if (size > (int)sizeof(payload))
			break;
		payload[size - 1] = '\n';
		double ms;
		int rc = sess_echo(s, payload, (size_t)size, bh_echo_ms(s), deadline, &ms);
		payload[size - 1] = 'x';
		if (rc < 0)
			break;	/* ssh died: not an answer about size */
		debug("black-hole probe %d bytes: %s", size, rc ? "back" : "lost");
		bh_result(&m->bh, size, rc == 1);
	}
	m->bh_unfinished = bh_next(&m->bh) != 0;
}

static void bulk(struct sess *s, const struct path_opts *o, int64_t deadline,
		 struct path_meas *m)
{
	if (o->bulk <= 0 || !s->alive)
		return;
	char *data = xmalloc((size_t)o->bulk);
	for (long i = 0; i < o->bulk; i++)
		data[i] = (char)('a' + i % 26);
	relay_tcp_info(s->tcpfd, &m->before);
	int64_t t0 = now_ms();
	double ms;
	sess_echo(s, data, (size_t)o->bulk, BULK_MAX_MS, deadline, &ms);
	m->bulk_ms = now_ms() - t0;
	m->bulk_sent = (long)s->woff;
	m->bulk_echoed = (long)s->got;
	relay_tcp_info(s->tcpfd, &m->after);
	free(data);
}

void pathsess_run(struct evloop *ev, const struct path_opts *o, const struct target *t,
		  const struct sshopts *so, const char *self_exe, int64_t deadline,
		  struct path_meas *m)
{
	struct sess s = { 0 };
	/* Never replace the user's own proxy: measure through it, without relay. */
	struct sessenv e = { ev, t, so, m->proxied ? NULL : self_exe, 1, deadline };
	m->echo.available = 1;
	if (sess_login(&s, &e, m) < 0)
		return;
	m->session_ok = 1;
	m->relay_fd_ok = s.tcpfd >= 0;
	/* TCP_INFO around the echoes: loss from retransmissions of the session's
	 * own segments, without a single extra connection to the server */
	relay_tcp_info(s.tcpfd, &m->echo_before);
	echo_series(&s, o->count, e.deadline, m);
	relay_tcp_info(s.tcpfd, &m->echo_after);
	if (!s.alive) {	/* a stuck echo: start over for the next tests */
		sess_stop(&s);
		if (sess_login(&s, &e, m) < 0)
			return;
	}
	blackhole_search(&s, &e, m);
	if (m->bh.fail && m->bh.confirmed)
		relay_tcp_info(s.tcpfd, &m->after);	/* pmtu as the kernel saw it */
	else
		bulk(&s, o, e.deadline, m);
	if (!m->after.valid)
		m->before.valid = 0;	/* a difference needs both ends */
	sess_stop(&s);
}
