/* srvside_logs.c - doctor --server's reading of sshd's log (logscan.c does the
 * lines) and the kernel's ring buffer: the client's MaxStartups and penalty
 * drops, sshd's penalise lines, conntrack-full and OOM kills of sshd, all from
 * the last hour. Line handling is pure but for the clock (unit-tested, fuzzed). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "logread.h"
#include "logscan.h"
#include "proc.h"
#include "srvside.h"

#define LOG_WINDOW_MS (60 * 60 * 1000LL)	/* log lines older than this do not explain "now" */

static void keep(char *dst, size_t n, const char *line, size_t len)
{
	snprintf(dst, n, "%.*s", (int)(len < n ? len : n - 1), line);
}

/* A kernel message (dmesg or a syslog line): conntrack full, OOM kills of sshd. */
int srv_kernel_line(struct srv_logs *lg, const char *line, size_t len)
{
	if (memmem(line, len, "nf_conntrack: table full", 24) ||
	    memmem(line, len, "nf_conntrack: nf_conntrack: table full", 38)) {
		lg->ct_full++;
		keep(lg->ct_full_ex, sizeof(lg->ct_full_ex), line, len);
		return 1;
	}
	if ((memmem(line, len, "Out of memory", 13) || memmem(line, len, "oom-kill", 8) ||
	     memmem(line, len, "oom_reaper", 10)) &&
	    (memmem(line, len, "(sshd", 5) || memmem(line, len, "task=sshd", 9))) {
		lg->oom_sshd++;
		keep(lg->oom_ex, sizeof(lg->oom_ex), line, len);
		return 1;
	}
	return 0;
}

/* One line of sshd's log (or syslog), the client's events counted. */
void srv_log_line(struct srv_logs *lg, const char *client, struct logclock *clk,
		  int64_t since_ms, const char *line, size_t len)
{
	struct logline l;
	struct logevent ev;
	char scratch[1024];
	if (logscan_header(line, len, clk, &l, scratch, sizeof(scratch), 0) < 0)
		return;
	if (l.ts_ms >= 0 && l.ts_ms < since_ms)
		return;
	const char *m = l.msg;
	size_t ml = l.msglen;
	if (memmem(m, ml, "srclimit_penalise", 17) && memmem(m, ml, "penalty", 7)) {
		if (!client || !*client || srv_penalise_covers(m, ml, client))
			keep(lg->penalise_ex, sizeof(lg->penalise_ex), line, len);
		return;
	}
	if (srv_kernel_line(lg, m, ml))
		return;
	/* systemd about the unit (Debian: ssh.service; others: sshd.service) */
	/* one failure logs both lines: counted once, by "Failed with result";
	 * the non-zero exit before it is the better example (it has the status) */
	if (memmem(m, ml, "ssh.service: ", 13) || memmem(m, ml, "sshd.service: ", 14)) {
		if (memmem(m, ml, "Main process exited", 19) && !memmem(m, ml, "status=0/SUCCESS", 16)) {
			keep(lg->unit_fail_ex, sizeof(lg->unit_fail_ex), line, len);
			return;
		}
		if (memmem(m, ml, "Failed with result", 18)) {
			lg->unit_failures++;
			if (!lg->unit_fail_ex[0])
				keep(lg->unit_fail_ex, sizeof(lg->unit_fail_ex), line, len);
			return;
		}
	}
	if (logscan_classify(&l, &ev) != 1)
		return;
	if (ev.ev == LEV_SERVER_RESTART) {
		lg->restarts++;
		keep(lg->restart_ex, sizeof(lg->restart_ex), line, len);
		return;
	}
	int mine = !client || !*client || !strcmp(ev.addr, client);
	if (ev.ev == LEV_CONN_START && mine && l.ts_ms >= 0 && ev.addr[0]) {
		struct srv_pend *pd = &lg->pend[lg->npend++ % SRV_PEND_MAX];
		snprintf(pd->addr, sizeof(pd->addr), "%s", ev.addr);
		pd->port = ev.port;
		pd->ts_ms = l.ts_ms;
		return;
	}
	if (ev.ev == LEV_AUTH_OK && mine && l.ts_ms >= 0) {
		for (unsigned i = 0; i < SRV_PEND_MAX; i++) {
			struct srv_pend *pd = &lg->pend[i];
			if (!pd->addr[0] || pd->port != ev.port || strcmp(pd->addr, ev.addr))
				continue;
			int64_t d = l.ts_ms - pd->ts_ms;
			pd->addr[0] = '\0';
			if (d < 0)
				break;	/* a clock step: not a login time */
			lg->login_ms[lg->nlogin++ % SRV_LOGIN_MAX] = d;
			if (d >= lg->slowest_ms) {
				lg->slowest_ms = d;
				keep(lg->slowest_ex, sizeof(lg->slowest_ex), line, len);
			}
			break;
		}
		return;
	}
	if (ev.ev == LEV_LIMIT_MAXSTARTUPS && mine) {
		lg->maxstartups++;
		keep(lg->maxstartups_ex, sizeof(lg->maxstartups_ex), line, len);
	} else if (ev.ev == LEV_LIMIT_PENALTY && mine) {
		lg->penalty++;
		keep(lg->penalty_ex, sizeof(lg->penalty_ex), line, len);
	}
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

int64_t srv_login_median_ms(const struct srv_logs *lg)
{
	unsigned n = lg->nlogin < SRV_LOGIN_MAX ? lg->nlogin : SRV_LOGIN_MAX;
	if (!n)
		return -1;
	int64_t v[SRV_LOGIN_MAX];
	memcpy(v, lg->login_ms, n * sizeof(v[0]));
	qsort(v, n, sizeof(v[0]), cmp_i64);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void scan_text(struct srv_obs *o, const char *text, int64_t ref_ms, int64_t since)
{
	struct logclock clk;
	logclock_init(&clk, ref_ms);
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (len < LOGREAD_MAX_LINE)
			srv_log_line(&o->logs, o->client, &clk, since, p, len);
		p = nl ? nl + 1 : p + len;
	}
}

void srvside_probe_logs(const struct srvside_opts *so, struct srv_obs *o)
{
	struct strvec files = { 0 };
	for (size_t i = 0; i < so->nlogs; i++)
		strvec_push(&files, so->logs[i]);
	if (!files.n)
		logread_defaults(&files);
	int64_t now = wall_ms(), since = now - LOG_WINDOW_MS;
	struct strbuf where = { 0 };
	for (size_t i = 0; i < files.n; i++) {
		struct stat st;
		char *t = srv_slurp(files.v[i], 64u << 20);
		if (!t) {
			srv_note(o, "%s: %s", files.v[i], strerror(errno));
			continue;
		}
		int64_t ref = stat(files.v[i], &st) == 0 ? (int64_t)st.st_mtim.tv_sec * 1000 : now;
		scan_text(o, t, ref > now ? ref : now, since);
		free(t);
		o->logs.read = 1;
		sb_addf(&where, "%s%s", where.len ? ", " : "", files.v[i]);
	}
	if (!files.n)
		srv_note(o, "sshd's log: no log file found (give --server-log FILE)");
	/* the kernel's ring: lines "[secs.usec] msg", kept when recent */
	struct strbuf out = { 0 }, err = { 0 };
	int rc;
	char *dargv[] = { "dmesg", NULL };
	if (proc_capture(dargv, NULL, &out, &err, 5000, &rc) == 0 && rc == 0 && out.buf) {
		double up = 0;
		char *u = srv_slurp("/proc/uptime", 64);
		if (u)
			up = strtod(u, NULL);
		free(u);
		for (char *p = out.buf; *p;) {
			char *nl = strchr(p, '\n');
			size_t len = nl ? (size_t)(nl - p) : strlen(p);
			double t = p[0] == '[' ? strtod(p + 1, NULL) : 0;
			const char *msg = p[0] == '[' ? memchr(p, ']', len) : NULL;
			if (msg && up - t < LOG_WINDOW_MS / 1000.0)
				srv_kernel_line(&o->logs, msg + 1, (size_t)(p + len - msg - 1));
			p = nl ? nl + 1 : p + len;
		}
		sb_addf(&where, "%sdmesg", where.len ? ", " : "");
	} else {
		char e[160];
		srv_first_line(e, sizeof(e), err.len ? err.buf : "could not run");
		srv_note(o, "the kernel log (dmesg): %s", e);
	}
	sb_free(&out);
	sb_free(&err);
	snprintf(o->logs.where, sizeof(o->logs.where), "%s", where.buf ? where.buf : "");
	snprintf(o->log_dir, sizeof(o->log_dir), "%s", files.n ? files.v[0] : "/var/log");
	char *sl = strrchr(o->log_dir, '/');
	if (sl && sl != o->log_dir)
		*sl = '\0';
	sb_free(&where);
	strvec_clear(&files);
}

