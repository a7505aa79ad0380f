/* keep_judge.c - ssh's last words -> why the tunnel fell and what to do.
 * Matching is by stable substrings of OpenSSH 7.x-10.x messages (the lab's
 * 9.2 and 10.0 fixtures in tests/fixtures/keep/ are the reference). */
#include "keep_judge.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define KEEP_NAME(e, n, a) n,
static const char *const cause_names[] = { KEEP_CAUSES(KEEP_NAME) };
#undef KEEP_NAME
#define KEEP_ACT(e, n, a) a,
static const enum keep_action cause_actions[] = { KEEP_CAUSES(KEEP_ACT) };
#undef KEEP_ACT

const char *keep_cause_name(enum keep_cause c)
{
	return (unsigned)c < KC_N ? cause_names[c] : "unknown";
}

int keep_cause_parse(const char *s)
{
	for (int i = 0; i < KC_N; i++)
		if (strcmp(cause_names[i], s) == 0)
			return i;
	return -1;
}

enum keep_action keep_cause_action(enum keep_cause c)
{
	return (unsigned)c < KC_N ? cause_actions[c] : KA_RETRY;
}

void keep_obs_init(struct keep_obs *o, int64_t t0)
{
	memset(o, 0, sizeof(*o));
	sshvlog_init(&o->vl, t0);
}

static int has(const char *line, size_t len, const char *needle)
{
	return memmem(line, len, needle, strlen(needle)) != NULL;
}

/* Printable copy (the text partly comes from the server). */
static void copy(char *dst, size_t dlen, const char *s, size_t n)
{
	size_t k = n < dlen - 1 ? n : dlen - 1;
	for (size_t i = 0; i < k; i++)
		dst[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	dst[k] = '\0';
}

void keep_obs_line(struct keep_obs *o, int64_t t, const char *line, size_t len)
{
	if (len > KEEP_LINE_MAX)
		len = KEEP_LINE_MAX;
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	sshvlog_line(&o->vl, t, line, len);
	int dbg = len >= 5 && memcmp(line, "debug", 5) == 0;
	const char *p;
	if (has(line, len, "Local forwarding listening on") ||
	    has(line, len, "Local connections to "))
		o->local_listening += has(line, len, "listening on");
	if (has(line, len, "remote forward success"))
		o->remote_ok++;
	if (has(line, len, "Entering interactive session"))
		o->interactive = 1;
	if ((p = memmem(line, len, "forwarding failed for listen port ", 34))) {
		size_t off = (size_t)(p - line) + 34;
		long v = 0;
		for (size_t i = off; i < len && line[i] >= '0' && line[i] <= '9' && v < 100000; i++)
			v = v * 10 + (line[i] - '0');
		o->held_port = (int)v;
		if (!o->held_port)
			o->held_port = -1;
	} else if ((p = memmem(line, len, "forwarding failed for listen path ", 34))) {
		size_t off = (size_t)(p - line) + 34;
		copy(o->held_path, sizeof(o->held_path), line + off, len - off);
		if (!o->held_port)
			o->held_port = -1;
	}
	if (has(line, len, "Address already in use") || has(line, len, "cannot listen to port") ||
	    has(line, len, "Could not request local forwarding"))
		o->local_busy = 1;
	if (has(line, len, "REMOTE HOST IDENTIFICATION HAS CHANGED") ||
	    has(line, len, "POSSIBLE DNS SPOOFING"))
		o->hostkey_changed = 1;
	if (has(line, len, "Host key verification failed"))
		o->hostkey_failed = 1;
	if (!dbg && (has(line, len, "Bad configuration option") ||
		     has(line, len, "forwarding specification") || has(line, len, "usage: ssh") ||
		     has(line, len, "Bad port") || has(line, len, "keyword ") ||
		     has(line, len, "terminating, ") || has(line, len, "Unsupported option")))
		o->config_error = 1;
	if (has(line, len, "kex_exchange_identification") ||
	    has(line, len, "banner exchange: "))
		o->banner_closed = 1;
	if (has(line, len, "not responding."))
		o->not_responding = 1;
	if (!dbg) {
		if (has(line, len, "Connection reset"))
			o->reset = 1;
		if (has(line, len, "Broken pipe"))
			o->broken_pipe = 1;
		if (has(line, len, "closed by remote host") || has(line, len, "Connection closed by "))
			o->closed_by_remote = 1;
		if (has(line, len, "Could not resolve hostname") ||
		    has(line, len, "Name or service not known") ||
		    has(line, len, "Temporary failure in name resolution"))
			o->dns_failed = 1;
		if (has(line, len, "Network is unreachable") || has(line, len, "No route to host"))
			o->no_route = 1;
		if (has(line, len, "Connection refused"))
			o->refused = 1;
		if (has(line, len, " timed out"))
			o->timed_out = 1;
		if (has(line, len, "Killed by signal"))
			o->killed_by_signal = 1;
		/* the last fatal-looking line, for the log; banners and warnings
		 * skipped, and ssh's "proxy dialer did not pass back a connection"
		 * after our relay said why: the relay's line is the one that explains */
		if (len && !has(line, len, "Warning: Permanently added") && line[0] != '@' &&
		    !has(line, len, "Pseudo-terminal") && !has(line, len, "Authenticated to") &&
		    !has(line, len, "proxy dialer did not pass back") && !has(line, len, "mm_receive_fd"))
			copy(o->last_error, sizeof(o->last_error), line, len);
	}
}

void keep_obs_feed(struct keep_obs *o, int64_t t, const char *data, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (data[i] == '\n') {
			if (!o->discarding)
				keep_obs_line(o, t, o->line, o->llen);
			o->llen = 0;
			o->discarding = 0;
		} else if (o->llen < KEEP_LINE_MAX) {
			o->line[o->llen++] = data[i];
		} else if (!o->discarding) {
			keep_obs_line(o, t, o->line, o->llen);
			o->discarding = 1;
		}
	}
}

void keep_obs_finish(struct keep_obs *o, int64_t t)
{
	if (o->llen && !o->discarding)
		keep_obs_line(o, t, o->line, o->llen);
	o->llen = 0;
	sshvlog_finish(&o->vl, t);
}

int keep_obs_ready(const struct keep_obs *o, int want_remote)
{
	return o->vl.authenticated >= 0 && o->interactive && o->remote_ok >= want_remote &&
	       !o->held_port && !o->local_busy;
}

/* vsnprintf: the detail is cut at its size on purpose (ssh's line is the tail). */
static void set(struct keep_verdict *v, enum keep_cause c, const char *advice, const char *fmt, ...)
	PRINTF_LIKE(4, 5);
static void set(struct keep_verdict *v, enum keep_cause c, const char *advice, const char *fmt, ...)
{
	va_list ap;
	v->cause = c;
	v->action = keep_cause_action(c);
	va_start(ap, fmt);
	vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
	va_end(ap);
	snprintf(v->advice, sizeof(v->advice), "%s", advice ? advice : "");
}

void keep_judge(const struct keep_obs *o, int exit_status, struct keep_verdict *v)
{
	memset(v, 0, sizeof(*v));
	const char *said = o->last_error[0] ? o->last_error : o->vl.error;
	int authed = o->vl.authenticated >= 0;

	/* The user's own choices and the server's identity first: no retry helps. */
	if (o->hostkey_changed || o->hostkey_failed) {
		set(v, KC_HOSTKEY, "check the new key out of band, then update known_hosts (ssh-keygen -R HOST)",
		    "%s", o->hostkey_changed ? "the server's host key changed (REMOTE HOST IDENTIFICATION HAS CHANGED)"
					     : "host key verification failed");
		return;
	}
	if (!authed && (o->vl.permission_denied || o->vl.no_more_methods || o->vl.too_many_failures)) {
		set(v, KC_AUTH_REFUSED, "keep runs with BatchMode yes: the key must be usable without a prompt (agent or unencrypted key, authorized_keys on the server)",
		    "the server refused authentication: %s", said);
		return;
	}
	if (o->held_port) {
		if (o->held_path[0])
			set(v, KC_FORWARD_HELD,
			    "on the server: StreamLocalBindUnlink yes (and ClientAliveInterval 15, ClientAliveCountMax 3 so dead sessions are reaped)",
			    "the server still holds the remote socket %s (a dead session's listener)",
			    o->held_path);
		else
			set(v, KC_FORWARD_HELD,
			    "on the server: ClientAliveInterval 15 and ClientAliveCountMax 3 in sshd_config, so dead sessions (and their ports) are reaped within a minute",
			    "the server still holds remote port %d (a dead session's listener)", o->held_port);
		return;
	}
	if (o->local_busy) {
		set(v, KC_LOCAL_BUSY, "another program (or an old tunnel) holds the local port",
		    "a local forward's port is in use here: %s", said);
		return;
	}
	if (o->config_error && o->vl.connected < 0) {
		set(v, KC_CONFIG, "fix the ssh options given to keep (see ssh's message)",
		    "ssh refused its arguments or configuration: %s", said);
		return;
	}
	if (!authed) {
		/* never logged in: which step of connecting failed */
		if (o->dns_failed) {
			set(v, KC_DNS, NULL,
		    "the name does not resolve: %s", said);
		} else if (o->no_route) {
			set(v, KC_NO_ROUTE, NULL,
		    "no route to the server: %s", said);
		} else if (o->refused) {
			set(v, KC_REFUSED, NULL,
		    "nothing listens on the server's port (sshd down or restarting): %s", said);
		} else if (o->banner_closed || (o->vl.connected >= 0 && o->vl.remote_version < 0 &&
						(o->closed_by_remote || o->reset))) {
			set(v, KC_PENALTY, "on the server: sshd's log says 'penalty' or 'past MaxStartups'; keep waits instead of adding to it",
		    "the server closed the connection before its banner (PerSourcePenalties or MaxStartups): %s",
				 said);
		} else if (o->timed_out || o->not_responding) {
			set(v, KC_CONNECT_TIMEOUT, NULL,
		    "the server did not answer: %s", said);
		} else if (o->closed_by_remote || o->reset) {
			set(v, KC_SERVER_CLOSED, NULL,
		    "the connection ended during login: %s", said);
		} else if (exit_status > 128 && exit_status < 160) {
			set(v, KC_KILLED, NULL,
		    "ssh was killed by signal %d", exit_status - 128);
		} else {
			set(v, KC_UNKNOWN, NULL,
		    "ssh exited %d before logging in: %s", exit_status,
				 said[0] ? said : "(no message)");
		}
		return;
	}
	/* It was logged in: how the session ended. */
	if (o->not_responding) {
		set(v, KC_PATH_SILENT, NULL,
		    "the server stopped answering keepalives (silent path): %s", said);
	} else if (o->reset || o->broken_pipe) {
		set(v, KC_PATH_RESET, NULL,
		    "the connection was reset (server, or a middlebox that forgot the flow): %s",
			 said);
	} else if (o->closed_by_remote || o->vl.disconnected >= 0) {
		set(v, KC_SERVER_CLOSED, NULL,
		    "the server closed the session: %s",
			 o->vl.disconnect[0] ? o->vl.disconnect : said);
	} else if (o->killed_by_signal || (exit_status > 128 && exit_status < 160)) {
		set(v, KC_KILLED, NULL,
		    "ssh was killed by signal %d",
			 exit_status > 128 && exit_status < 160 ? exit_status - 128 : 0);
	} else if (exit_status == 0) {
		set(v, KC_EXITED, NULL, "ssh exited normally (the remote command ended, or it was told to stop)");
	} else {
		set(v, KC_UNKNOWN, NULL,
		    "ssh exited %d: %s", exit_status, said[0] ? said : "(no message)");
	}
}

/* A jitter draw held to [0, 1): out-of-range callers get the ends. */
static double jitter_unit(double r)
{
	return r < 0 ? 0 : r >= 1 ? 0.999 : r;
}

int64_t keep_backoff_ms(int n, int64_t cap_ms, double r)
{
	if (n < 0)
		n = 0;
	int64_t d = 500;	/* full delay of retry 0; jittered into [d/2, d) */
	for (int i = 0; i < n && d < cap_ms; i++)
		d *= 2;
	if (d > cap_ms)
		d = cap_ms;
	return d / 2 + (int64_t)((double)(d / 2) * jitter_unit(r));
}

int64_t keep_quiet_ms(int n, double r)
{
	if (n < KEEP_QUIET_AFTER)
		return 0;
	int64_t d = 30000;	/* past the 20-30 s most such bans last... */
	for (int i = KEEP_QUIET_AFTER; i < n && d < 300000; i++)
		d *= 2;		/* ...and longer ones (recent --seconds 60, 120) */
	if (d > 300000)
		d = 300000;
	return d + (int64_t)((double)(d / 10) * jitter_unit(r));
}
