/* srvpolicy.c - the server's idle policy through the login (see srvpolicy.h). */
#include "srvpolicy.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc.h"
#include "sshcfg.h"

#define PROBE_TIMEOUT_MS 25000
#define NEAR_MS 2500		/* a setting "explains" a death within this of the bracket */

/* Runs on the server through `sh -s`. The sshd serving this session is found by
 * walking up from our shell (its exe, and -f/-E from the listener's title or
 * cmdline); sshd -T needs root or sudo -n. The login shell is asked for TMOUT as
 * an interactive login shell, since that is where profiles set it. */
static const char probe_script[] =
	"S=; C=; L=; p=$PPID; i=0\n"
	"while [ $i -lt 8 ] && [ \"${p:-1}\" -gt 1 ]; do\n"
	" e=$(readlink /proc/$p/exe 2>/dev/null); case \"$e\" in */sshd) [ -n \"$S\" ] || S=$e;; esac\n"
	" set -- $(tr '\\000' ' ' </proc/$p/cmdline 2>/dev/null)\n"
	" while [ $# -gt 0 ]; do case \"$1\" in -f) [ -n \"$C\" ] || C=$2;; -E) [ -n \"$L\" ] || L=$2;; esac; shift; done\n"
	" p=$(awk '{print $4}' /proc/$p/stat 2>/dev/null); i=$((i+1))\n"
	"done\n"
	"[ -n \"$S\" ] || S=$(command -v sshd 2>/dev/null || echo /usr/sbin/sshd); [ -x \"$S\" ] || S=/usr/sbin/sshd\n"
	"TO=; command -v timeout >/dev/null 2>&1 && TO='timeout 8'\n"
	"A=${SSH_CLIENT%% *}; U=$(id -un)\n"
	"echo \"@@version $($S -V 2>&1 | grep OpenSSH | head -n 1)\"\n"
	"echo \"@@config ${C:-/etc/ssh/sshd_config}\"\n"
	"if [ \"$(id -u)\" = 0 ]; then P=; elif sudo -n true </dev/null 2>/dev/null; then P='sudo -n'; else P=no; fi\n"
	"if [ \"$P\" != no ]; then echo @@sshdT; $P $S -T ${C:+-f \"$C\"} -C \"user=$U,host=$A,addr=$A\" </dev/null 2>&1 |"
	" grep -i -E '^(channeltimeout|unusedconnectiontimeout|clientaliveinterval|clientalivecountmax) ';"
	" echo \"@@rc $?\"; fi\n"
	"$TO ${SHELL:-/bin/sh} -lic 'echo \"@@tmout ${TMOUT:-0} $(readonly -p 2>/dev/null | grep -c TMOUT)\"'"
	" </dev/null 2>/dev/null | grep '^@@tmout' | head -n 1\n"
	"for f in /etc/profile /etc/profile.d/*.sh /etc/bash.bashrc /etc/environment \"$HOME/.profile\""
	" \"$HOME/.bash_profile\" \"$HOME/.bashrc\" \"$HOME/.zshrc\" /etc/zsh/zshrc; do\n"
	" [ -r \"$f\" ] && grep -q TMOUT \"$f\" 2>/dev/null && { echo \"@@tmoutsrc $f\"; break; }; done\n"
	"for f in /etc/systemd/logind.conf /usr/lib/systemd/logind.conf.d/*.conf /run/systemd/logind.conf.d/*.conf"
	" /etc/systemd/logind.conf.d/*.conf; do [ -r \"$f\" ] &&"
	" sed -n \"s|^[[:space:]]*StopIdleSessionSec=[[:space:]]*\\([^[:space:]]*\\).*|@@logind $f \\1|p\" \"$f\"; done\n"
	"{ [ -n \"$L\" ] && [ -r \"$L\" ] && tail -n 3000 \"$L\"; [ -r /var/log/auth.log ] && tail -n 3000 /var/log/auth.log;"
	" command -v journalctl >/dev/null 2>&1 && $TO journalctl -q --no-pager -n 3000 -t sshd -t sshd-session 2>/dev/null; } |"
	" grep -E 'seconds of inactivity|terminating inactive connection' | tail -n 4 | sed 's/^/@@log /'\n"
	"echo @@end\n";

void srvpolicy_init(struct srvpolicy *p)
{
	memset(p, 0, sizeof(*p));
	p->major = p->minor = -1;
	p->unused_s = p->cai = p->cacm = p->tmout_s = p->logind_idle_s = -1;
}

long srvp_convtime(const char *s)
{
	long total = 0;
	int any = 0;
	if (!s)
		return -1;
	while (*s) {
		if (!isdigit((unsigned char)*s))
			return -1;
		long v = 0;
		while (isdigit((unsigned char)*s)) {
			v = v * 10 + (*s++ - '0');
			if (v > 100000000L)
				return -1;
		}
		long mul = 1;
		char u[8] = "";
		size_t n = 0;
		while (isalpha((unsigned char)*s) && n < sizeof(u) - 1)
			u[n++] = (char)tolower((unsigned char)*s++);
		u[n] = '\0';
		if (isalpha((unsigned char)*s))
			return -1;
		/* sshd's TIME FORMATS and systemd's time spans (logind) */
		if (!*u || !strcmp(u, "s") || !strcmp(u, "sec"))
			mul = 1;
		else if (!strcmp(u, "m") || !strcmp(u, "min"))
			mul = 60;
		else if (!strcmp(u, "h") || !strcmp(u, "hr"))
			mul = 3600;
		else if (!strcmp(u, "d"))
			mul = 86400;
		else if (!strcmp(u, "w"))
			mul = 604800;
		else if (!strcmp(u, "ms") || !strcmp(u, "us"))
			mul = 0;	/* below a second: counts as 0 */
		else
			return -1;
		total += v * mul;
		any = 1;
		while (*s == ' ')
			s++;
	}
	return any ? total : -1;
}

/* OpenSSH match_pattern: '*' any run, '?' one character, no classes. */
static int glob(const char *s, const char *p)
{
	for (;; s++, p++) {
		if (*p == '\0')
			return *s == '\0';
		if (*p == '*') {
			while (*p == '*')
				p++;
			if (!*p)
				return 1;
			for (; *s; s++)
				if (glob(s, p))
					return 1;
			return 0;
		}
		if (!*s || (*p != '?' && *p != *s))
			return 0;
	}
}

long srvp_channel_timeout(const char *ct, const char *xtype, char *entry, size_t elen)
{
	long global = 0;
	char gentry[128] = "";
	if (entry && elen)
		entry[0] = '\0';
	if (!ct || !*ct || !strcmp(ct, "none"))
		return 0;
	char *copy = xstrdup(ct), *save = NULL;
	long found = -1;
	for (char *tok = strtok_r(copy, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq)
			continue;
		*eq = '\0';
		long v = srvp_convtime(eq + 1);
		if (v < 0)
			continue;
		if (!strcmp(tok, "global")) {	/* never matched by wildcards */
			global = v;
			snprintf(gentry, sizeof(gentry), "global=%s", eq + 1);
		} else if (found < 0 && glob(xtype, tok)) {
			found = v;
			if (entry && elen)
				snprintf(entry, elen, "%s=%s", tok, eq + 1);
		}
	}
	free(copy);
	if (found > 0)
		return found;
	if (global > 0 && entry && elen)
		snprintf(entry, elen, "%s", gentry);
	return found == 0 ? 0 : global;
}

void srvpolicy_parse(const char *text, struct srvpolicy *p)
{
	int in_t = 0;
	char *copy = xstrdup(text ? text : ""), *save = NULL;
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		size_t n = strlen(l);
		if (n && l[n - 1] == '\r')
			l[n - 1] = '\0';
		char a[256], b[256];
		long v, w;
		if (str_startswith(l, "@@version ")) {
			snprintf(p->version, sizeof(p->version), "%s", l + 10);
			const char *o = strstr(l, "OpenSSH_");
			if (o && sscanf(o, "OpenSSH_%d.%d", &p->major, &p->minor) != 2)
				p->major = p->minor = -1;
			p->read = 1;
		} else if (str_startswith(l, "@@config ")) {
			snprintf(p->config, sizeof(p->config), "%s", l + 9);
		} else if (!strcmp(l, "@@sshdT")) {
			in_t = 1;
		} else if (sscanf(l, "@@rc %ld", &v) == 1) {
			in_t = 0;
			/* grep's status: 0 when sshd printed our keywords */
			p->sshd_t = v == 0 && (p->unused_s >= 0 || p->cai >= 0);
		} else if (sscanf(l, "@@tmout %ld %ld", &v, &w) == 2) {
			p->tmout_s = v < 0 ? 0 : v;
			p->tmout_readonly = w > 0;
		} else if (str_startswith(l, "@@tmoutsrc ")) {
			snprintf(p->tmout_src, sizeof(p->tmout_src), "%s", l + 11);
		} else if (sscanf(l, "@@logind %255s %255s", a, b) == 2) {
			/* the last file read wins, as drop-ins override */
			v = !strcmp(b, "infinity") ? 0 : srvp_convtime(b);
			if (v >= 0) {
				p->logind_idle_s = v;
				snprintf(p->logind_src, sizeof(p->logind_src), "%s", a);
			}
		} else if (str_startswith(l, "@@log ")) {
			if (p->nlog < SRVP_MAX_LOG)
				snprintf(p->log[p->nlog++], sizeof(p->log[0]), "%s", l + 6);
		} else if (in_t && sscanf(l, "%255s %255[^\n]", a, b) == 2) {
			str_lower(a);
			if (!strcmp(a, "channeltimeout"))
				snprintf(p->channeltimeout, sizeof(p->channeltimeout), "%s",
					 strcmp(b, "none") ? b : "");
			else if (!strcmp(a, "unusedconnectiontimeout"))
				p->unused_s = !strcmp(b, "none") ? 0 : srvp_convtime(b);
			else if (!strcmp(a, "clientaliveinterval"))
				p->cai = srvp_convtime(b);
			else if (!strcmp(a, "clientalivecountmax"))
				p->cacm = strtol(b, NULL, 10);
		}
	}
	free(copy);
}

int srvpolicy_read(const struct target *t, const struct sshopts *so, struct srvpolicy *p, char **err)
{
	static const char *const ours[] = { "ConnectTimeout=10" };
	struct strvec argv = { 0 };
	struct strbuf out = { 0 }, e = { 0 };
	int st = -1;
	srvpolicy_init(p);
	*err = NULL;
	strvec_push(&argv, "ssh");
	target_ssh_session_opts(&argv, ours, ARRAY_SIZE(ours));
	target_ssh_args(t, so, &argv);
	strvec_push(&argv, "exec sh -s");
	int rc = proc_capture(argv.v, probe_script, &out, &e, PROBE_TIMEOUT_MS, &st);
	strvec_clear(&argv);
	if (rc < 0 || st != 0) {
		const char *l = e.buf ? e.buf : "";
		*err = xasprintf("could not read the server's idle policy through the login: %.*s",
				 (int)strcspn(l, "\n"), *l ? l : "no output");
	} else {
		srvpolicy_parse(out.buf, p);
		if (!p->read)
			*err = xstrdup("the server's idle policy probe printed nothing");
	}
	sb_free(&out);
	sb_free(&e);
	return *err ? -1 : 0;
}

/* --- judging ----------------------------------------------------------------- */

static int near(long s, const struct srvp_obs *o)
{
	int64_t ms = (int64_t)s * 1000;
	int64_t up = o->upper_ms >= 0 ? o->upper_ms : o->lower_ms;
	return s > 0 && ms >= o->lower_ms - NEAR_MS && ms <= up + NEAR_MS;
}

/* The ChannelTimeout value with the matched entry set to 0 (disabled), others kept. */
static void ct_cured(const char *ct, const char *entry, char *buf, size_t n)
{
	struct strbuf sb = { 0 };
	char *copy = xstrdup(ct), *save = NULL;
	size_t plen = strcspn(entry, "=");
	for (char *tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		if (sb.len)
			sb_adds(&sb, " ");
		if (!strncmp(tok, entry, plen) && tok[plen] == '=')
			sb_addf(&sb, "%.*s=0", (int)plen, tok);
		else
			sb_adds(&sb, tok);
	}
	snprintf(buf, n, "%s", sb.buf ? sb.buf : "none");
	sb_free(&sb);
	free(copy);
}

static void protect_work(struct finding *f)
{
	finding_evidence(f, "if the setting cannot be changed: keep the work in tmux or screen on the "
			    "server ('tmux new -A -s main' starts or reattaches), so a closed session "
			    "loses nothing");
}

static void no_keepalive(struct finding *f)
{
	finding_evidence(f, "keepalives do not prevent this: ServerAliveInterval/ClientAliveInterval "
			    "send keepalive@openssh.com requests, which are not channel data and do "
			    "not reset the server's idle clock");
}

static const char *cfg_where(const struct srvpolicy *p, char *buf, size_t n)
{
	snprintf(buf, n, "%s (server: replace the line, then reload sshd)",
		 p->config[0] ? p->config : "/etc/ssh/sshd_config");
	return buf;
}

static void log_evidence(struct finding *f, const struct srvpolicy *p, const char *what)
{
	for (int i = 0; i < p->nlog; i++) {
		int dup = 0;
		for (int j = 0; j < i; j++)
			dup |= !strcmp(p->log[i], p->log[j]);
		if (!dup && strstr(p->log[i], what))
			finding_evidence(f, "sshd's log: %s", p->log[i]);
	}
}

/* ChannelTimeout findings; returns the seconds that apply to command sessions. */
static long judge_ct(const struct srvpolicy *p, const struct srvp_obs *o, int explains,
		     struct report *r, struct finding **hit)
{
	char ecmd[128], eshell[128], where[640], cured[600];
	long cmd = srvp_channel_timeout(p->channeltimeout, "session:command", ecmd, sizeof(ecmd));
	long shell = srvp_channel_timeout(p->channeltimeout, "session:shell", eshell, sizeof(eshell));
	if (!p->channeltimeout[0])
		return 0;
	if (!cmd && !shell) {
		/* "session=20s": reads like sessions, matches none of them */
		if (strstr(p->channeltimeout, "session=")) {
			struct finding *f = report_add(r, SEV_INFO, "server.idle-policy",
						       "sshd's ChannelTimeout names 'session', which matches "
						       "no session channel: it has no effect on sessions");
			finding_evidence(f, "sshd -T: channeltimeout %s", p->channeltimeout);
			finding_evidence(f, "sshd labels session channels session:shell, session:command "
					    "or session:subsystem:NAME before data flows and matches the "
					    "pattern against that label (channels.c channel_set_xtype); "
					    "'session*=' or 'session:*=' is what applies");
		}
		return 0;
	}
	long s = cmd ? cmd : shell;
	const char *entry = cmd ? ecmd : eshell;
	int dies = explains && near(s, o);
	struct finding *f = report_add(r, dies ? SEV_CRITICAL : SEV_WARNING, "server.idle-policy",
				       "%s sshd closes SSH sessions idle for %ld s itself (ChannelTimeout %s): "
				       "the server's policy, not the path",
				       dies ? "Sessions die because" : "Idle sessions will end:", s, entry);
	finding_evidence(f, "sshd -T: channeltimeout %s", p->channeltimeout);
	finding_evidence(f, "applies to: %s%s%s", cmd ? "commands (ssh host cmd)" : "",
			 cmd && shell ? " and " : "", shell ? "interactive shells" : "");
	if (dies)
		finding_evidence(f, "idle sessions died between %.1f and %.1f s, matching it",
				 (double)o->lower_ms / 1000,
				 (double)(o->upper_ms >= 0 ? o->upper_ms : o->lower_ms) / 1000);
	if (dies && o->nchanclose)
		finding_evidence(f, "%d of %d idle session(s) ended with an SSH channel close from sshd "
				 "(no exit status): a middlebox cannot send that", o->nchanclose, o->ndead);
	log_evidence(f, p, "seconds of inactivity");
	no_keepalive(f);
	finding_evidence(f, "or a longer interval than %ld s instead of 0, if the server wants one", s);
	protect_work(f);
	ct_cured(p->channeltimeout, entry, cured, sizeof(cured));
	struct fix *x = finding_fix(f, cfg_where(p, where, sizeof(where)));
	fix_line(x, "ChannelTimeout %s", cured);
	if (dies)
		*hit = f;
	return s;
}

static struct finding *judge_others(const struct srvpolicy *p, const struct srvp_obs *o,
				    int explains, struct report *r)
{
	struct finding *hit = NULL;
	char where[640];
	if (p->unused_s > 0) {
		struct finding *f = report_add(r, SEV_WARNING, "server.idle-policy",
					       "sshd closes connections with no open channel after %ld s "
					       "(UnusedConnectionTimeout): ssh -N and idle ControlMaster "
					       "connections end", p->unused_s);
		finding_evidence(f, "sshd -T: unusedconnectiontimeout %ld", p->unused_s);
		finding_evidence(f, "a shell or command session is an open channel and is not affected; "
				    "forwarding listeners (-R) are not channels");
		log_evidence(f, p, "terminating inactive connection");
		no_keepalive(f);
		fix_line(finding_fix(f, cfg_where(p, where, sizeof(where))), "UnusedConnectionTimeout none");
	}
	if (p->tmout_s > 0) {
		struct finding *f = report_add(r, SEV_WARNING, "server.idle-policy",
					       "The login shell on the server exits after %ld s without input "
					       "(TMOUT=%ld%s): interactive sessions end", p->tmout_s,
					       p->tmout_s, p->tmout_readonly ? ", readonly" : "");
		finding_evidence(f, "%s -lic 'echo $TMOUT' on the server printed %ld%s", "$SHELL",
				 p->tmout_s, p->tmout_readonly ? "; readonly -p lists it" : "");
		if (p->tmout_src[0])
			finding_evidence(f, "set in %s", p->tmout_src);
		finding_evidence(f, "commands (ssh host cmd) are not affected; an interactive shell "
				    "waiting at its prompt is");
		no_keepalive(f);
		protect_work(f);
		char w[400];
		snprintf(w, sizeof(w), "%s (server, as root: replace the TMOUT line%s)",
			 p->tmout_src[0] ? p->tmout_src : "/etc/profile or /etc/profile.d/*.sh",
			 p->tmout_readonly ? "; it is readonly, so ~/.bashrc cannot override it" : "");
		fix_line(finding_fix(f, w), "TMOUT=0");
	}
	if (p->logind_idle_s > 0) {
		struct finding *f = report_add(r, SEV_WARNING, "server.idle-policy",
					       "systemd-logind stops sessions idle for %ld s "
					       "(StopIdleSessionSec)", p->logind_idle_s);
		finding_evidence(f, "%s: StopIdleSessionSec=%ld s", p->logind_src, p->logind_idle_s);
		finding_evidence(f, "applies to sessions registered with logind (UsePAM yes, pam_systemd)");
		no_keepalive(f);
		protect_work(f);
		fix_line(finding_fix(f, "/etc/systemd/logind.conf.d/50-idle.conf (server, then "
					"systemctl reload systemd-logind)"), "[Login]");
		fix_line(&f->fixes[f->nfixes - 1], "StopIdleSessionSec=infinity");
	}
	/* before 8.2, CountMax 0 ended the session at the first unanswered probe */
	if (p->cai > 0 && p->cacm == 0 && p->major >= 0 && (p->major < 8 || (p->major == 8 && p->minor < 2))) {
		int dies = explains && near(p->cai, o);
		struct finding *f = report_add(r, dies ? SEV_CRITICAL : SEV_WARNING, "server.idle-policy",
					       "sshd %d.%d ends sessions idle for %ld s: ClientAliveCountMax 0 "
					       "kills at the first keepalive before OpenSSH 8.2",
					       p->major, p->minor, p->cai);
		finding_evidence(f, "sshd -T: clientaliveinterval %ld, clientalivecountmax 0 (%s)", p->cai,
				 p->version);
		fix_line(finding_fix(f, cfg_where(p, where, sizeof(where))), "ClientAliveCountMax 3");
		if (dies)
			hit = f;
	}
	return hit;
}

enum srvp_verdict srvpolicy_judge(const struct srvpolicy *p, const struct srvp_obs *o,
				  struct report *r)
{
	struct finding *hit = NULL;
	int deaths = o && o->ndead > 0;
	/* only sshd can send an SSH channel close (it is encrypted); a bare TCP
	 * FIN could be sshd or a proxy; RST or silence is the path */
	int by_sshd = deaths && o->nchanclose * 2 > o->ndead;
	int clean = deaths && (o->nchanclose + o->nfin) * 2 > o->ndead && o->nunprompted > 0;
	/* a setting of sshd's that matches the deaths explains them unless they
	 * were silent (sshd closes, it never just stops answering): a probe that
	 * races sshd's close meets sshd-session exiting, an RST, and under load the
	 * RST can beat ssh to the channel close that came before it */
	int explains = clean || (deaths && o->nsilent * 2 < o->ndead);
	if (p && p->read) {
		judge_ct(p, o, explains, r, &hit);
		struct finding *h2 = judge_others(p, o, explains, r);
		if (!hit)
			hit = h2;
	}
	if (hit)
		return SRVP_SERVER;
	if (by_sshd) {
		struct finding *f = report_add(r, SEV_CRITICAL, "server.idle-policy",
					       "sshd closes SSH sessions idle for %.1f-%.1f s itself: the "
					       "server's policy, not the path",
					       (double)o->lower_ms / 1000,
					       (double)(o->upper_ms >= 0 ? o->upper_ms : o->lower_ms) / 1000);
		finding_evidence(f, "%d of %d idle session(s) ended with an SSH channel close from the "
				 "server (ssh -v: channel closed without an exit status); a middlebox "
				 "cannot send that, it is inside the encryption", o->nchanclose, o->ndead);
		if (p && p->read && !p->sshd_t)
			finding_evidence(f, "the setting could not be read: sshd -T needs root or sudo -n "
					    "on the server; look for ChannelTimeout in sshd_config");
		else if (!p || !p->read)
			finding_evidence(f, "the server's settings were not readable through the login");
		finding_evidence(f, "sshd's log names it: 'channel N: closing after S seconds of "
				    "inactivity' (ChannelTimeout)");
		no_keepalive(f);
		protect_work(f);
		return SRVP_SERVER;
	}
	if (clean) {
		struct finding *f = report_add(r, SEV_WARNING, "idle.close-unattributed",
					       "Idle connections are closed cleanly (FIN) after %.1f-%.1f s: "
					       "by the server or by a proxy on the path, unknown which",
					       (double)o->lower_ms / 1000,
					       (double)(o->upper_ms >= 0 ? o->upper_ms : o->lower_ms) / 1000);
		finding_evidence(f, "%d of %d death(s) were a TCP close without an SSH message, %d of "
				 "them while idle (no probe in flight): a NAT that forgets a flow "
				 "drops or resets at the next packet instead", o->nfin, o->ndead,
				 o->nunprompted);
		finding_evidence(f, "what tells them apart: the server's 'sshd -T | grep -i timeout' "
				    "(as root) and its log ('closing after S seconds of inactivity', "
				    "'terminating inactive connection'); with neither, a proxying load "
				    "balancer is likely, and SSH keepalives below %.0f s would keep it",
				 (double)o->lower_ms / 1000);
		if (p && p->read && !p->sshd_t)
			finding_evidence(f, "sshd -T was not readable here (needs root or sudo -n)");
		r->unknown = 1;
		return SRVP_UNKNOWN;
	}
	return SRVP_NONE;
}

struct json_object *srvpolicy_json(const struct srvpolicy *p)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "read", json_object_new_boolean(p->read));
	json_object_object_add(o, "sshd_t", json_object_new_boolean(p->sshd_t));
	json_object_object_add(o, "channel_timeout",
			       p->sshd_t ? json_object_new_string(p->channeltimeout[0] ? p->channeltimeout
										       : "none")
					 : NULL);
	json_object_object_add(o, "unused_connection_timeout_s",
			       p->unused_s >= 0 ? json_object_new_int64(p->unused_s) : NULL);
	json_object_object_add(o, "tmout_s", p->tmout_s >= 0 ? json_object_new_int64(p->tmout_s) : NULL);
	json_object_object_add(o, "stop_idle_session_s",
			       p->logind_idle_s >= 0 ? json_object_new_int64(p->logind_idle_s) : NULL);
	return o;
}
