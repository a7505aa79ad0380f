/* logscan.c - log line -> (time, program, pid, message) -> event.
 * Formats: syslog "Nov 21 10:00:00 host prog[pid]: msg" (year inferred), RFC 3339
 * / journalctl short-iso, journalctl JSON, dmesg "[  12.3]" / "[Sat Nov 21 ...]",
 * and raw `sshd -E` or ssh stderr lines (the message alone). Messages are matched
 * by fixed prefixes after a switch on the first byte: no regex, no allocation. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logscan.h"

static const char *const ev_names[LEV_NPUBLIC] = {
	[LEV_NONE] = NULL,
	[LEV_DISC_USER] = "disconnect.user",
	[LEV_DISC_CLIENT_TIMEOUT] = "disconnect.client-timeout",
	[LEV_DISC_SERVER_TIMEOUT] = "disconnect.server-timeout",
	[LEV_DISC_RESET] = "disconnect.reset",
	[LEV_DISC_CLOSED] = "disconnect.closed",
	[LEV_DISC_BROKEN_PIPE] = "disconnect.broken-pipe",
	[LEV_PREAUTH_CLOSED] = "preauth.closed",
	[LEV_PREAUTH_GRACE] = "preauth.grace-timeout",
	[LEV_AUTH_FAILURE] = "auth.failure",
	[LEV_LIMIT_MAXSTARTUPS] = "limit.maxstartups",
	[LEV_LIMIT_PENALTY] = "limit.penalty",
	[LEV_KEX_NO_MATCH] = "kex.no-match",
	[LEV_BANNER_INVALID] = "banner.invalid",
	[LEV_IDLE_UNUSED] = "idle.unused-connection",
	[LEV_IDLE_CHANNEL] = "idle.channel-timeout",
	[LEV_SERVER_RESTART] = "server.restart",
	[LEV_KERNEL_LINK_DOWN] = "kernel.link-down",
	[LEV_KERNEL_NIC_RESET] = "kernel.nic-reset",
	[LEV_KERNEL_OOM] = "kernel.oom-kill",
};

const char *logev_name(enum logev e)
{
	return (e > LEV_NONE && e < LEV_NPUBLIC) ? ev_names[e] : NULL;
}

int logev_from_name(const char *s)
{
	for (int i = 1; i < LEV_NPUBLIC; i++)
		if (strcmp(ev_names[i], s) == 0)
			return i;
	return -1;
}

/* ---- time ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int64_t utc_ms(int y, int mon, int d, int h, int mi, int s)
{
	return ((days_from_civil(y, mon, d) * 24 + h) * 60 + mi) * 60000LL + s * 1000LL;
}

/* Syslog stamps are local time: one offset for the run (DST shifts are ignored). */
static long local_offset_s(void)
{
	static int done;
	static long off;
	if (!done) {
		time_t t = time(NULL);
		struct tm tm;
		localtime_r(&t, &tm);
		off = tm.tm_gmtoff;
		done = 1;
	}
	return off;
}

void logclock_init(struct logclock *c, int64_t ref_wall_ms)
{
	time_t t = (time_t)(ref_wall_ms / 1000 + local_offset_s());
	struct tm tm;
	gmtime_r(&t, &tm);	/* the reference's year in local time, as the stamps are */
	c->ref_ms = ref_wall_ms;
	c->ref_year = tm.tm_year + 1900;
	c->last[0] = '\0';
}

static int month_of(const char *p)
{
	static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	/* a switch on the first letter: one or three compares instead of up to twelve */
	int first;
	switch (p[0]) {
	case 'J': first = 0; break;	/* Jan Jun Jul */
	case 'F': first = 1; break;
	case 'M': first = 2; break;	/* Mar May */
	case 'A': first = 3; break;	/* Apr Aug */
	case 'S': first = 8; break;
	case 'O': first = 9; break;
	case 'N': first = 10; break;
	case 'D': first = 11; break;
	default: return -1;
	}
	for (int i = first; i < 12; i++)
		if (names[3 * i] == p[0] && names[3 * i + 1] == p[1] && names[3 * i + 2] == p[2])
			return i;
	return -1;
}

static int digits(const char *p, const char *end, int n, int *out)
{
	int v = 0;
	if (end - p < n)
		return -1;
	for (int i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return 0;
}

/* "HH:MM:SS[.frac]" at p; returns the end or NULL. */
static const char *parse_hms(const char *p, const char *end, int *h, int *mi, int *s, int *ms)
{
	if (digits(p, end, 2, h) || end - p < 8 || p[2] != ':' || digits(p + 3, end, 2, mi) ||
	    p[5] != ':' || digits(p + 6, end, 2, s) || *h > 23 || *mi > 59 || *s > 60)
		return NULL;
	p += 8;
	*ms = 0;
	if (p < end && (*p == '.' || *p == ',')) {
		int scale = 100;
		for (p++; p < end && *p >= '0' && *p <= '9'; p++) {
			*ms += (*p - '0') * scale;
			scale /= 10;
		}
	}
	return p;
}

/* "Nov 21 10:00:00[.123]" -> fields; returns the end or NULL. */
static const char *parse_mdhms(const char *p, const char *end, int t[6])
{
	int mon = end - p >= 15 ? month_of(p) : -1;
	if (mon < 0 || p[3] != ' ')
		return NULL;
	p += 4;
	if (*p == ' ')
		p++;
	int d;
	if (digits(p, end, 2, &d) == 0)
		p += 2;
	else if (digits(p, end, 1, &d) == 0)
		p += 1;
	else
		return NULL;
	if (p >= end || *p != ' ' || d < 1 || d > 31)
		return NULL;
	t[0] = mon;
	t[1] = d;
	return parse_hms(p + 1, end, &t[2], &t[3], &t[4], &t[5]);
}

static const char *parse_syslog_ts(const char *p, const char *end, struct logclock *c, int64_t *ts)
{
	int t[6];
	const char *start = p;
	if (end - p >= 15 && c->last[0] && memcmp(p, c->last, 12) == 0 && p[12] == ':') {
		int s, ms = 0;	/* same minute as the line before: only the seconds */
		if (digits(p + 13, end, 2, &s) || s > 60)
			return NULL;
		p += 15;
		if (p < end && (*p == '.' || *p == ',')) {
			int scale = 100;
			for (p++; p < end && *p >= '0' && *p <= '9'; p++) {
				ms += (*p - '0') * scale;
				scale /= 10;
			}
		}
		*ts = c->last_base + s * 1000LL + ms;
		return p;
	}
	p = parse_mdhms(p, end, t);
	if (!p)
		return NULL;
	/* the latest year that keeps the minute at or before the reference: a stamp
	 * cannot be later than the file it is in */
	int64_t off = local_offset_s() * 1000LL;
	c->last_base = utc_ms(c->ref_year, t[0] + 1, t[1], t[2], t[3], 0) - off;
	if (c->last_base > c->ref_ms)
		c->last_base = utc_ms(c->ref_year - 1, t[0] + 1, t[1], t[2], t[3], 0) - off;
	*ts = c->last_base + t[4] * 1000LL + t[5];
	if (start[3] == ' ' && start[6] == ' ' && start[9] == ':')
		memcpy(c->last, start, 12);
	else
		c->last[0] = '\0';
	return p;
}

/* "2026-11-21T10:00:00[.frac][Z|+hh:mm|+hhmm]" -> ms; returns the end or NULL. */
static const char *parse_iso_ts(const char *p, const char *end, int64_t *ts, int local)
{
	int y, mon, d, h, mi, s, ms;
	if (digits(p, end, 4, &y) || end - p < 19 || p[4] != '-' || digits(p + 5, end, 2, &mon) ||
	    p[7] != '-' || digits(p + 8, end, 2, &d) || (p[10] != 'T' && p[10] != ' ') ||
	    mon < 1 || mon > 12 || d < 1 || d > 31)
		return NULL;
	p = parse_hms(p + 11, end, &h, &mi, &s, &ms);
	if (!p)
		return NULL;
	int64_t off = local ? local_offset_s() : 0;
	if (p < end && *p == 'Z') {
		off = 0;
		p++;
	} else if (p < end && (*p == '+' || *p == '-')) {
		int oh, om;
		int sign = *p == '-' ? -1 : 1;
		const char *q = p + 1;
		if (digits(q, end, 2, &oh))
			return NULL;
		q += 2;
		if (q < end && *q == ':')
			q++;
		if (digits(q, end, 2, &om))
			return NULL;
		off = sign * (oh * 3600 + om * 60);
		p = q + 2;
	}
	*ts = utc_ms(y, mon, d, h, mi, s) + ms - off * 1000;
	return p;
}

int64_t logscan_parse_time(const char *s, int64_t now_wall_ms)
{
	size_t n = strlen(s);
	int64_t ts;
	const char *e = parse_iso_ts(s, s + n, &ts, 0);
	if (e && e == s + n)
		return ts;
	if (n == 10) {	/* a date alone */
		char buf[32];
		snprintf(buf, sizeof(buf), "%sT00:00:00Z", s);
		e = parse_iso_ts(buf, buf + strlen(buf), &ts, 0);
		return e && *e == '\0' ? ts : -1;
	}
	if (n == 16 && (s[10] == ' ' || s[10] == 'T')) {	/* no seconds */
		char buf[32];
		snprintf(buf, sizeof(buf), "%.10sT%.5s:00Z", s, s + 11);
		e = parse_iso_ts(buf, buf + strlen(buf), &ts, 0);
		return e && *e == '\0' ? ts : -1;
	}
	/* a duration ago: "2h", "30m" */
	char *endp;
	long v = strtol(s, &endp, 10);
	if (endp == s || v < 0 || v > 100000)
		return -1;
	int64_t unit = 0;
	if (strcmp(endp, "s") == 0 || *endp == '\0')
		unit = 1000;
	else if (strcmp(endp, "m") == 0 || strcmp(endp, "min") == 0)
		unit = 60000;
	else if (strcmp(endp, "h") == 0)
		unit = 3600000;
	else if (strcmp(endp, "d") == 0)
		unit = 86400000;
	return unit ? now_wall_ms - v * unit : -1;
}

/* ---- header ---- */

static enum logprog prog_kind(const char *p, size_t n)
{
	if (n >= 4 && memcmp(p, "sshd", 4) == 0)	/* sshd, sshd-session, sshd-auth */
		return PROG_SSHD;
	if (n == 3 && memcmp(p, "ssh", 3) == 0)
		return PROG_SSH;
	if (n == 6 && memcmp(p, "kernel", 6) == 0)
		return PROG_KERNEL;
	return PROG_OTHER;
}

/* "host prog[pid]: msg" after a stamp. Returns 0 or -1 when not that shape. */
static int parse_tag(const char *p, const char *end, struct logline *o)
{
	const char *sp = memchr(p, ' ', (size_t)(end - p));
	if (!sp)
		return -1;
	size_t hl = (size_t)(sp - p) < sizeof(o->host) ? (size_t)(sp - p) : sizeof(o->host) - 1;
	memcpy(o->host, p, hl);
	o->host[hl] = '\0';
	p = sp + 1;
	const char *t = p;
	while (p < end && *p != '[' && *p != ':' && *p != ' ' && p - t < 64)
		p++;
	if (p >= end || *p == ' ')
		return -1;
	o->prog = prog_kind(t, (size_t)(p - t));
	if (*p == '[') {
		long pid = 0;
		for (p++; p < end && *p >= '0' && *p <= '9' && pid < 100000000; p++)
			pid = pid * 10 + (*p - '0');
		if (p >= end || *p != ']')
			return -1;
		o->pid = pid;
		p++;
	}
	if (p >= end || *p != ':')
		return -1;
	p++;
	if (p < end && *p == ' ')
		p++;
	o->msg = p;
	o->msglen = (size_t)(end - p);
	return 0;
}

static void set_json_str(struct json_object *j, const char *k, char *dst, size_t cap,
			 const char **out, size_t *outlen)
{
	struct json_object *v;
	if (!json_object_object_get_ex(j, k, &v) || !json_object_is_type(v, json_type_string))
		return;
	const char *s = json_object_get_string(v);
	size_t n = (size_t)json_object_get_string_len(v);
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
	if (out) {
		*out = dst;
		*outlen = n;
	}
}

/* journalctl -o json: one object a line. */
static int parse_json(const char *line, size_t len, struct logline *o, char *scratch, size_t cap)
{
	struct json_tokener *tok = json_tokener_new_ex(8);
	if (!tok)
		return -1;
	struct json_object *j = json_tokener_parse_ex(tok, line, (int)(len > 0x7fffffff ? 0x7fffffff : len));
	json_tokener_free(tok);
	if (!j || !json_object_is_type(j, json_type_object)) {
		json_object_put(j);
		return -1;
	}
	char buf[32] = "";
	scratch[0] = '\0';
	o->msg = scratch;
	o->msglen = 0;
	set_json_str(j, "MESSAGE", scratch, cap, &o->msg, &o->msglen);
	set_json_str(j, "_HOSTNAME", o->host, sizeof(o->host), NULL, NULL);
	set_json_str(j, "__REALTIME_TIMESTAMP", buf, sizeof(buf), NULL, NULL);
	if (buf[0])
		o->ts_ms = strtoll(buf, NULL, 10) / 1000;
	buf[0] = '\0';
	set_json_str(j, "_PID", buf, sizeof(buf), NULL, NULL);
	if (buf[0])
		o->pid = strtol(buf, NULL, 10);
	buf[0] = '\0';
	set_json_str(j, "SYSLOG_IDENTIFIER", buf, sizeof(buf), NULL, NULL);
	if (!buf[0])
		set_json_str(j, "_COMM", buf, sizeof(buf), NULL, NULL);
	o->prog = buf[0] ? prog_kind(buf, strlen(buf)) : PROG_NONE;
	buf[0] = '\0';
	set_json_str(j, "_TRANSPORT", buf, sizeof(buf), NULL, NULL);
	if (strcmp(buf, "kernel") == 0)
		o->prog = PROG_KERNEL;
	json_object_put(j);
	return 0;
}

/* "[  123.456789] msg" or "[Sat Nov 21 10:00:00 2026] msg" (dmesg, dmesg -T). */
static int parse_dmesg(const char *p, const char *end, struct logline *o)
{
	const char *close = memchr(p, ']', (size_t)(end - p) < 40 ? (size_t)(end - p) : 40);
	if (!close)
		return -1;
	if (close - p > 20 && p[3] == ' ') {	/* -T: "[Www Mmm dd HH:MM:SS YYYY]" */
		int t[6], y;
		const char *q = parse_mdhms(p + 4, close, t);
		if (q && q + 5 <= close && *q == ' ' && digits(q + 1, close, 4, &y) == 0)
			o->ts_ms = utc_ms(y, t[0] + 1, t[1], t[2], t[3], t[4]) + t[5] -
				   local_offset_s() * 1000LL;
		else
			o->ts_broken = 1;
	}
	o->prog = PROG_KERNEL;
	p = close + 1;
	if (p < end && *p == ' ')
		p++;
	o->msg = p;
	o->msglen = (size_t)(end - p);
	return 0;
}

/* A stamp that did not parse: find "host prog[pid]: " by its colon, so the
 * message still counts (without a time). */
static int recover_tag(const char *line, const char *end, struct logline *o)
{
	size_t lim = (size_t)(end - line) < 160 ? (size_t)(end - line) : 160;
	const char *colon = memchr(line, ':', lim);
	/* skip colons of a broken "HH:MM:SS" */
	for (int i = 0; i < 4 && colon && colon + 1 < end && colon[1] != ' '; i++)
		colon = memchr(colon + 1, ':', lim - (size_t)(colon + 1 - line));
	if (!colon)
		return 0;
	const char *t = colon;
	int spaces = 0;
	while (t > line && spaces < 2)
		if (*--t == ' ')
			spaces++;
	if (spaces < 2 || parse_tag(t + 1, end, o) != 0) {
		o->msg = line;
		o->msglen = (size_t)(end - line);
		o->prog = PROG_NONE;
		o->pid = -1;
	}
	return 0;
}

int logscan_header(const char *line, size_t len, struct logclock *clk, struct logline *o,
		   char *scratch, size_t cap, int nul_checked)
{
	const char *end = line + len;
	o->ts_ms = -1;
	o->ts_broken = 0;
	o->prog = PROG_NONE;
	o->pid = -1;
	o->host[0] = '\0';
	o->msg = line;
	o->msglen = len;
	if (!nul_checked && len && memchr(line, '\0', len))
		return -1;
	if (len == 0)
		return 0;
	if (line[0] == '{')
		return parse_json(line, len, o, scratch, cap) == 0 ? 0 : (o->ts_broken = 1, 0);
	if (line[0] == '[')
		{
		if (parse_dmesg(line + 1, end, o) != 0)
			o->ts_broken = 0;	/* not dmesg: raw text */
		return 0;
	}
	const char *p = NULL;
	int64_t ts = -1;
	if (line[0] >= 'A' && line[0] <= 'S' && len >= 16 && line[3] == ' ' && line[6] == ' ') {
		p = parse_syslog_ts(line, end, clk, &ts);
		if (p && (p >= end || *p != ' '))
			p = NULL;
	} else if (line[0] >= '0' && line[0] <= '9' && len >= 5 && line[4] == '-') {
		p = parse_iso_ts(line, end, &ts, 1);
		if (p && (p >= end || *p != ' '))
			p = NULL;
	} else {
		/* "HOST sshd[PID]: msg" with the stamp stripped (some collectors), else
		 * raw: sshd -E or ssh's stderr */
		size_t lim = len < 80 ? len : 80;
		const char *sp = memchr(line, ' ', lim);
		if (sp && sp > line && end - sp > 8 &&
		    (memcmp(sp + 1, "sshd", 4) == 0 || memcmp(sp + 1, "ssh[", 4) == 0 ||
		     memcmp(sp + 1, "ssh:", 4) == 0 || memcmp(sp + 1, "kernel:", 7) == 0) &&
		    parse_tag(line, end, o) != 0) {
			o->msg = line;	/* not that shape after all */
			o->msglen = len;
			o->prog = PROG_NONE;
			o->pid = -1;
			o->host[0] = '\0';
		}
		return 0;
	}
	if (!p) {
		o->ts_broken = 1;
		return recover_tag(line, end, o);
	}
	if (parse_tag(p + 1, end, o) != 0) {
		o->msg = line;
		o->msglen = len;
		o->prog = PROG_NONE;
		o->ts_broken = 1;
		return 0;
	}
	o->ts_ms = ts;
	return 0;
}

/* ---- messages ---- */

static int eat(const char **p, const char *end, const char *lit, size_t n)
{
	if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
		return 0;
	*p += n;
	return 1;
}
#define EAT(p, end, lit) eat(&(p), (end), (lit), sizeof(lit) - 1)

/* memmem's setup costs more than these short needles in short lines save. */
static const char *find(const char *p, const char *end, const char *lit, size_t n)
{
	/* anchor on the second byte when the first is a (frequent) space */
	size_t k = n > 1 && lit[0] == ' ' ? 1 : 0;
	while ((size_t)(end - p) >= n) {
		const char *c = memchr(p + k, lit[k], (size_t)(end - p) - n + 1);
		if (!c)
			return NULL;
		if (memcmp(c - k, lit, n) == 0)
			return c - k;
		p = c - k + 1;
	}
	return NULL;
}
#define FIND(p, end, lit) find((p), (end), (lit), sizeof(lit) - 1)

static const char *copy_token_n(const char *p, const char *end, char *dst, size_t cap, char stop,
				size_t *len)
{
	const char *s = p;
	while (p < end && *p != ' ' && *p != stop)
		p++;
	size_t n = (size_t)(p - s) < cap ? (size_t)(p - s) : cap - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
	*len = n;
	return p;
}

static const char *copy_token(const char *p, const char *end, char *dst, size_t cap, char stop)
{
	size_t n;
	return copy_token_n(p, end, dst, cap, stop, &n);
}

static const char *parse_num(const char *p, const char *end, long *out)
{
	long v = 0;
	const char *s = p;
	while (p < end && *p >= '0' && *p <= '9' && v < 100000000)
		v = v * 10 + (*p++ - '0');
	if (p > s)
		*out = v;
	return p;
}

/* The last "ADDR port N" in [p, end), N followed by the end, a space or a
 * colon: sshd writes the peer after the user name, and a user name (sent by
 * the client) can hold anything, spoofed addresses included. Returns the
 * address token (end in *addr_end), sets the port and *tail (after it); NULL
 * when there is none. */
static const char *last_port(const char *p, const char *end, const char **addr_end, int *port,
			     const char **tail)
{
	const char *q = end;
	while (q - p >= 7) {	/* "A port N" */
		const char *t = memrchr(p, 't', (size_t)(q - p));
		if (!t || t - p < 5)
			return NULL;
		q = t;
		if (t + 2 > end || t[1] != ' ' || t[-4] != ' ' || memcmp(t - 3, "por", 3) != 0)
			continue;
		const char *d = t + 2, *e = d;
		while (e < end && *e >= '0' && *e <= '9' && e - d < 6)
			e++;
		if (e == d || (e < end && *e != ' ' && *e != ':'))
			continue;
		const char *ae = t - 4, *as = ae;
		while (as > p && as[-1] != ' ')
			as--;
		if (as == ae)
			continue;
		long v = 0;
		parse_num(d, e, &v);
		*port = v > 0 && v < 65536 ? (int)v : 0;
		*addr_end = ae;
		if (tail)
			*tail = e;
		return as;
	}
	return NULL;
}

static void set_addr(struct logevent *ev, const char *s, const char *e)
{
	size_t n = (size_t)(e - s) < sizeof(ev->addr) ? (size_t)(e - s) : sizeof(ev->addr) - 1;
	memcpy(ev->addr, s, n);
	ev->addr[n] = '\0';
	if (n && ev->addr[n - 1] == ':' && (n < 2 || ev->addr[n - 2] != ':'))
		ev->addr[n - 1] = '\0';	/* "from ADDR: ..." (old formats) */
}

static void set_user(struct logevent *ev, const char *s, const char *e)
{
	while (e > s && e[-1] == ' ')
		e--;
	size_t n = (size_t)(e - s) < sizeof(ev->user) ? (size_t)(e - s) : sizeof(ev->user) - 1;
	memcpy(ev->user, s, n);
	ev->user[n] = '\0';
}

/* "[invalid |authenticating ]user U ADDR port N" or "ADDR[ port N]". After a
 * user name the peer is taken from the end (see last_port); without a port
 * (old sshd) it is the last token. */
static const char *parse_peer(const char *p, const char *end, struct logevent *ev)
{
	if (EAT(p, end, "invalid user ") || EAT(p, end, "authenticating user ") ||
	    EAT(p, end, "user ")) {
		const char *ae, *tail, *as = last_port(p, end, &ae, &ev->port, &tail);
		if (as) {
			set_user(ev, p, as);
			set_addr(ev, as, ae);
			return tail;
		}
		const char *e = end;
		const char *c = memchr(p, ':', (size_t)(end - p));	/* "U ADDR: reason" */
		if (c && (c + 1 == end || c[1] == ' '))
			e = c;
		const char *s = e;
		while (s > p && s[-1] != ' ')
			s--;
		set_user(ev, p, s);
		set_addr(ev, s, e);
		return e;
	}
	size_t al;
	p = copy_token_n(p, end, ev->addr, sizeof(ev->addr), ' ', &al);
	if (al && ev->addr[al - 1] == ':' && (al < 2 || ev->addr[al - 2] != ':'))
		ev->addr[al - 1] = '\0';	/* "from ADDR: ..." (old formats) */
	if (EAT(p, end, " port ")) {
		long port = 0;
		p = parse_num(p, end, &port);
		ev->port = port > 0 && port < 65536 ? (int)port : 0;
	}
	return p;
}

/* "... for [invalid user ]U from ADDR port N ssh2[: key]": the peer is the last
 * " from ADDR port N" (the user name may contain " from "). user: where the
 * name starts, or NULL to look for "for ". */
static void parse_for_from(const char *p, const char *end, const char *user, struct logevent *ev)
{
	const char *ae, *as = last_port(p, end, &ae, &ev->port, NULL);
	const char *f;
	if (as && as - p >= 6 && memcmp(as - 6, " from ", 6) == 0) {
		f = as - 6;
		set_addr(ev, as, ae);
	} else {
		ev->port = 0;
		f = FIND(p, end, " from ");	/* no port: old sshd */
		if (!f)
			return;
		parse_peer(f + 6, end, ev);
	}
	const char *u = user ? user : FIND(p, f, "for ");
	if (u) {
		u += user ? 0 : 4;
		EAT(u, f, "invalid user ");
		set_user(ev, u, f);
	}
}

/* "[ADDR]:PORT" */
static void parse_bracketed(const char *p, const char *end, struct logevent *ev)
{
	if (p >= end || *p != '[')
		return;
	p = copy_token(p + 1, end, ev->addr, sizeof(ev->addr), ']');
	if (EAT(p, end, "]:")) {
		long port = 0;
		parse_num(p, end, &port);
		ev->port = port > 0 && port < 65536 ? (int)port : 0;
	}
}

static int set(struct logevent *ev, enum logev e, unsigned flags)
{
	ev->ev = e;
	ev->flags |= flags;
	return 1;
}

static int msg_C(const char *p, const char *end, enum logprog prog, struct logevent *ev)
{
	const char *q = p;
	if (EAT(q, end, "Connection from ")) {
		parse_peer(q, end, ev);
		return set(ev, LEV_CONN_START, 0);
	}
	if (EAT(q, end, "Connection closed by ")) {
		if (EAT(q, end, "remote host"))	/* "Connection closed by remote host" (client) */
			return set(ev, LEV_DISC_CLOSED, LF_END);
		int auth = (size_t)(end - q) > 13 && (memcmp(q, "authenticatin", 13) == 0 ||
						      memcmp(q, "invalid user ", 13) == 0);
		parse_peer(q, end, ev);
		if (auth)
			return set(ev, LEV_AUTH_FAILURE, LF_END | LF_NOCOUNT | LF_PREAUTH);
		if (!ev->port && !(ev->flags & LF_PREAUTH))
			ev->flags |= LF_NOPORT;
		return set(ev, (ev->flags & LF_PREAUTH) ? LEV_PREAUTH_CLOSED : LEV_DISC_CLOSED, LF_END);
	}
	if (EAT(q, end, "Connection reset by ")) {
		if (EAT(q, end, "peer"))
			return set(ev, LEV_DISC_RESET, LF_END);
		parse_peer(q, end, ev);
		return set(ev, (ev->flags & LF_PREAUTH) ? LEV_PREAUTH_CLOSED : LEV_DISC_RESET, LF_END);
	}
	if (EAT(q, end, "Connection to ")) {	/* client: "Connection to H closed by remote host." */
		if (FIND(q, end, " closed by remote host")) {
			copy_token(q, end, ev->addr, sizeof(ev->addr), ' ');
			return set(ev, LEV_DISC_CLOSED, LF_END);
		}
		if (FIND(q, end, " closed."))
			return set(ev, LEV_INFO, 0);
		return 0;
	}
	if (EAT(q, end, "Connection timed out during banner exchange"))
		return set(ev, LEV_PREAUTH_CLOSED, LF_END);
	if (EAT(q, end, "Close session") || EAT(q, end, "Closing connection") ||
	    EAT(q, end, "Changed root"))
		return set(ev, LEV_INFO, 0);
	(void)prog;
	return 0;
}

static int msg_D(const char *p, const char *end, struct logevent *ev)
{
	const char *q = p;
	if (EAT(q, end, "Disconnected from ")) {
		parse_peer(q, end, ev);
		return set(ev, LEV_DISCONNECTED, LF_END | LF_NOCOUNT);
	}
	if (EAT(q, end, "Did not receive identification string from ")) {
		parse_peer(q, end, ev);
		return set(ev, LEV_PREAUTH_CLOSED, LF_END | LF_PREAUTH);
	}
	if (EAT(q, end, "Disconnecting ")) {
		const char *u = q;
		if (EAT(u, end, "authenticating user ") || EAT(u, end, "invalid user ") ||
		    (EAT(u, end, "user ") && FIND(u, end, "authentication failures"))) {
			parse_peer(q, end, ev);	/* "U ADDR port N: reason", from the end */
			return set(ev, LEV_AUTH_FAILURE, LF_END | LF_PREAUTH);
		}
		return set(ev, LEV_INFO, 0);
	}
	return 0;
}

static int msg_R(const char *p, const char *end, struct logevent *ev)
{
	const char *q = p;
	if (EAT(q, end, "Received disconnect from ")) {
		q = parse_peer(q, end, ev);
		long code = -1;
		if (q < end && *q == ':')
			q++;
		while (q < end && *q == ' ')
			q++;
		parse_num(q, end, &code);
		ev->num = code;
		if (code == 14)	/* no supported authentication methods */
			return set(ev, LEV_AUTH_FAILURE, LF_END | LF_PREAUTH);
		return set(ev, (ev->flags & LF_PREAUTH) ? LEV_PREAUTH_CLOSED : LEV_DISC_USER, LF_END);
	}
	if (EAT(q, end, "Read error from remote host ")) {
		q = parse_peer(q, end, ev);
		if (FIND(q, end, "timed out"))	/* the kernel gave up retransmitting */
			return set(ev, LEV_DISC_BROKEN_PIPE, LF_END);
		return set(ev, LEV_DISC_RESET, LF_END);
	}
	if (EAT(q, end, "Read from remote host "))	/* client */
		return set(ev, FIND(q, end, "timed out") ? LEV_DISC_BROKEN_PIPE : LEV_DISC_RESET, LF_END);
	if (EAT(q, end, "Received signal 15") || EAT(q, end, "Received SIGHUP") ||
	    EAT(q, end, "Received signal 2;"))
		return set(ev, LEV_SERVER_RESTART, 0);
	return 0;
}

static int msg_T(const char *p, const char *end, struct logevent *ev)
{
	const char *q = p;
	if (EAT(q, end, "Timeout, client not responding")) {
		if (EAT(q, end, " from "))
			parse_peer(q, end, ev);
		return set(ev, LEV_DISC_CLIENT_TIMEOUT, LF_END);
	}
	if (EAT(q, end, "Timeout, server ")) {
		copy_token(q, end, ev->addr, sizeof(ev->addr), ' ');
		return set(ev, LEV_DISC_SERVER_TIMEOUT, LF_END);
	}
	if (EAT(q, end, "Timeout before authentication for ")) {
		EAT(q, end, "connection from ");	/* 9.8+: "... from A to L, pid = P" */
		parse_peer(q, end, ev);
		size_t al = strlen(ev->addr);
		if (al && ev->addr[al - 1] == ',')
			ev->addr[al - 1] = '\0';
		const char *pid = FIND(q, end, "pid = ");
		if (pid)
			parse_num(pid + 6, end, &ev->num);
		return set(ev, LEV_PREAUTH_GRACE, LF_END | LF_PREAUTH);
	}
	if (EAT(q, end, "Transferred:"))
		return set(ev, LEV_INFO, 0);
	return 0;
}

static int msg_lower(const char *p, const char *end, struct logevent *ev)
{
	const char *q = p;
	if (EAT(q, end, "banner exchange: Connection from ")) {
		parse_peer(q, end, ev);
		return set(ev, LEV_BANNER_INVALID, LF_END | LF_PREAUTH);
	}
	if (EAT(q, end, "beginning MaxStartups"))
		return set(ev, LEV_INFO, 0);
	if (EAT(q, end, "exited MaxStartups throttling")) {
		const char *c = FIND(q, end, ", ");
		if (c)
			parse_num(c + 2, end, &ev->num);
		return set(ev, LEV_INFO, 0);
	}
	if (EAT(q, end, "drop connection #")) {
		const char *f = FIND(q, end, " from ");
		if (f)
			parse_bracketed(f + 6, end, ev);
		if (FIND(q, end, "penalty"))
			return set(ev, LEV_LIMIT_PENALTY, LF_END | LF_PREAUTH);
		return set(ev, LEV_LIMIT_MAXSTARTUPS, LF_END | LF_PREAUTH);
	}
	if (EAT(q, end, "client_loop: send disconnect: ") || EAT(q, end, "packet_write_wait: ") ||
	    EAT(q, end, "packet_write_poll: ")) {
		const char *c = FIND(q, end, "Connection to ");
		if (c)
			parse_peer(c + 14, end, ev);
		return set(ev, FIND(q, end, "reset") ? LEV_DISC_RESET : LEV_DISC_BROKEN_PIPE, LF_END);
	}
	if (EAT(q, end, "kex_exchange_identification: ")) {
		if (FIND(q, end, "Connection closed") || FIND(q, end, "Connection reset") ||
		    FIND(q, end, "read: "))
			return set(ev, LEV_KEX_IDENT, LF_PREAUTH);
		return set(ev, LEV_INFO, 0);	/* "client sent invalid protocol identifier": the banner line follows */
	}
	if (EAT(q, end, "channel ")) {
		if (FIND(q, end, "seconds of inactivity") || FIND(q, end, "closing after"))
			return set(ev, LEV_IDLE_CHANNEL, 0);
		return set(ev, LEV_INFO, 0);
	}
	if (EAT(q, end, "terminating inactive connection from ")) {
		parse_peer(q, end, ev);
		return set(ev, LEV_IDLE_UNUSED, LF_END);
	}
	if (EAT(q, end, "ssh: connect to host ") || EAT(q, end, "ssh_dispatch_run_fatal") ||
	    EAT(q, end, "srclimit_penalise") || EAT(q, end, "pam_") || EAT(q, end, "debug") ||
	    EAT(q, end, "client_input_") || EAT(q, end, "rexec line") || EAT(q, end, "reprocess config") ||
	    EAT(q, end, "send_") || EAT(q, end, "ssh_packet_") || EAT(q, end, "userauth_"))
		return set(ev, LEV_INFO, 0);
	return 0;
}

static int classify_ssh(const char *p, const char *end, enum logprog prog, struct logevent *ev)
{
	const char *q;
	switch (*p) {
	case 'A':
		q = p;
		if (EAT(q, end, "Accepted key") || EAT(q, end, "Authentication refused") ||
		    EAT(q, end, "Authorized to"))
			return set(ev, LEV_INFO, 0);
		if (EAT(q, end, "Accepted ")) {
			parse_for_from(q, end, NULL, ev);
			return set(ev, LEV_AUTH_OK, 0);
		}
		return 0;
	case 'B':
		q = p;
		if (EAT(q, end, "Bad protocol version identification")) {
			/* the quoted banner is the client's: the peer is the last " from " */
			const char *ae, *as = last_port(q, end, &ae, &ev->port, NULL);
			if (as && as - q >= 6 && memcmp(as - 6, " from ", 6) == 0) {
				set_addr(ev, as, ae);
			} else {
				ev->port = 0;
				const char *f = NULL;
				for (const char *g = q; (g = FIND(g, end, " from ")) != NULL; g++)
					f = g;
				if (f)
					parse_peer(f + 6, end, ev);
			}
			return set(ev, LEV_BANNER_INVALID, LF_END | LF_PREAUTH);
		}
		return 0;
	case 'C':
		return msg_C(p, end, prog, ev);
	case 'D':
		return msg_D(p, end, ev);
	case 'F':
		q = p;
		if (EAT(q, end, "Failed none "))
			return set(ev, LEV_INFO, LF_PREAUTH);
		if (EAT(q, end, "Failed ")) {
			parse_for_from(q, end, NULL, ev);
			return set(ev, LEV_AUTH_FAILURE, LF_PREAUTH);
		}
		return 0;
	case 'I':
		q = p;
		if (EAT(q, end, "Invalid user ")) {
			parse_for_from(q, end, q, ev);
			return set(ev, LEV_AUTH_FAILURE, LF_PREAUTH);
		}
		return 0;
	case 'N':
	case 'P':
	case 'W':
	case 'S':
	case 'U':
		q = p;
		if (EAT(q, end, "Unable to negotiate with ")) {
			parse_peer(q, end, ev);
			return set(ev, LEV_KEX_NO_MATCH, LF_END | LF_PREAUTH);
		}
		if (EAT(q, end, "Unable to negotiate a "))	/* old client wording */
			return set(ev, LEV_KEX_NO_MATCH, LF_END | LF_PREAUTH);
		if (EAT(q, end, "Write failed: "))
			return set(ev, LEV_DISC_BROKEN_PIPE, LF_END);
		if (EAT(q, end, "Postponed") || EAT(q, end, "Partial ") || EAT(q, end, "Server listening") ||
		    EAT(q, end, "Starting session") || EAT(q, end, "Set /proc") || EAT(q, end, "SSH: ") ||
		    EAT(q, end, "User child") || EAT(q, end, "Nasty PTR") || EAT(q, end, "PAM:") ||
		    EAT(q, end, "Warning: Permanently added") || EAT(q, end, "Permission denied"))
			return set(ev, LEV_INFO, 0);
		return 0;
	case 'R':
		return msg_R(p, end, ev);
	case 'T':
		return msg_T(p, end, ev);
	default:
		if (*p >= 'a' && *p <= 'z')
			return msg_lower(p, end, ev);
		return 0;
	}
}

static int classify_kernel(const char *p, const char *end, struct logevent *ev)
{
	if (FIND(p, end, "Link is Down") || FIND(p, end, "link is down") || FIND(p, end, "Link down") ||
	    FIND(p, end, "link down") || FIND(p, end, "carrier lost"))
		return set(ev, LEV_KERNEL_LINK_DOWN, 0);
	if (FIND(p, end, "Reset adapter") || FIND(p, end, "reset adapter") || FIND(p, end, "NETDEV WATCHDOG") ||
	    FIND(p, end, "Hardware Unit Hang") || FIND(p, end, "tx timeout") || FIND(p, end, "TX timeout") ||
	    FIND(p, end, "Resetting adapter"))
		return set(ev, LEV_KERNEL_NIC_RESET, 0);
	const char *k = FIND(p, end, "Killed process");
	if (k) {
		k += 14;
		if (k < end && *k == ' ')
			k++;
		parse_num(k, end, &ev->num);
		const char *paren = FIND(k, end, "(");
		if (paren)
			copy_token(paren + 1, end, ev->user, sizeof(ev->user), ')');
		return set(ev, LEV_KERNEL_OOM, 0);
	}
	return 0;
}

/* Strips " [preauth]"/" [postauth]", a trailing CR and "error: "-style level tags. */
static void trim_msg(const char **pp, const char **endp, struct logevent *ev)
{
	const char *p = *pp, *end = *endp;
	while (end > p && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\n'))
		end--;
	if (end - p >= 10 && memcmp(end - 10, " [preauth]", 10) == 0) {
		end -= 10;
		ev->flags |= LF_PREAUTH;
	} else if (end - p >= 11 && memcmp(end - 11, " [postauth]", 11) == 0) {
		end -= 11;
	}
	if (p < end && *p == '[' && EAT(p, end, "[ID ")) {	/* Solaris: "[ID 800047 auth.info] " */
		const char *c = memchr(p, ']', (size_t)(end - p));
		p = c && c + 1 < end && c[1] == ' ' ? c + 2 : end;
	}
	for (int i = 0; i < 2; i++)	/* "error: ", "fatal: ", "debug1: " ... */
		if (!(EAT(p, end, "error: ") || EAT(p, end, "fatal: ") || EAT(p, end, "ssh: error: ")))
			break;
	*pp = p;
	*endp = end;
}

int logscan_classify(const struct logline *l, struct logevent *ev)
{
	ev->ev = LEV_NONE;
	ev->flags = 0;
	ev->addr[0] = ev->user[0] = '\0';
	ev->port = 0;
	ev->num = -1;
	const char *p = l->msg, *end = l->msg + l->msglen;
	if (l->prog == PROG_OTHER || p >= end)
		return 0;
	if (l->prog == PROG_KERNEL)
		return classify_kernel(p, end, ev);
	trim_msg(&p, &end, ev);
	if (p < end && classify_ssh(p, end, l->prog, ev))
		return 1;
	return l->prog == PROG_NONE ? 0 : -1;
}
