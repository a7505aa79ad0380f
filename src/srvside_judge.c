/* srvside_judge.c - the observations of srvside_probe.c -> findings "srv.*":
 * who refuses CLIENT-ADDR on this server and the change that lets it in. Pure
 * (no I/O): unit-tested with fixture texts (tests/unit/test_srvside.c). */
#include <arpa/inet.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "sshcfg.h"
#include "srvside.h"

int srv_parse_proc_tcp(const char *text, int v6, struct srv_sock *out, int max)
{
	int n = 0;
	const char *p = text ? strchr(text, '\n') : NULL;	/* skip the header */
	while (p && *++p && n < max) {
		char la[64], st[8];
		unsigned long ino = 0;
		/* sl local rem st queues tr retr uid timeout inode */
		if (sscanf(p, "%*s %63s %*s %7s %*s %*s %*s %*s %*s %lu", la, st, &ino) == 3 &&
		    !strcmp(st, "0A")) {
			char *c = strchr(la, ':');
			if (c && (size_t)(c - la) == (v6 ? 32u : 8u)) {
				*c = '\0';
				unsigned char b[16];
				for (int w = 0; w < (v6 ? 4 : 1); w++) {
					char h[9];
					memcpy(h, la + w * 8, 8);
					h[8] = '\0';
					uint32_t v = (uint32_t)strtoul(h, NULL, 16);
					memcpy(b + w * 4, &v, 4);	/* the kernel printed the raw word */
				}
				struct srv_sock *s = &out[n];
				memset(s, 0, sizeof(*s));
				if (inet_ntop(v6 ? AF_INET6 : AF_INET, b, s->addr, sizeof(s->addr))) {
					s->port = (int)strtol(c + 1, NULL, 16);
					s->inode = ino;
					s->pid = -1;
					n++;
				}
			}
		}
		p = strchr(p, '\n');
	}
	return n;
}

int srv_penalise_covers(const char *msg, size_t len, const char *client)
{
	char buf[512], *save = NULL;
	snprintf(buf, sizeof(buf), "%.*s", (int)(len < sizeof(buf) ? len : sizeof(buf) - 1), msg);
	for (char *t = strtok_r(buf, " \t,", &save); t; t = strtok_r(NULL, " \t,", &save))
		if (strchr(t, '/') && srv_addr_in(client, t) == 1)
			return 1;
	return 0;
}

static int wild(const char *addr) { return !strcmp(addr, "0.0.0.0") || !strcmp(addr, "::"); }

/* Does listener s take connections for dest (addr "" = any) and port? */
static int serves(const struct srv_sock *s, const char *dest, int port)
{
	if (s->port != port)
		return 0;
	if (!*dest)
		return 1;
	if (!strcmp(s->addr, dest))
		return 1;
	int v6 = strchr(dest, ':') != NULL;
	return wild(s->addr) && (v6 == (strchr(s->addr, ':') != NULL));	/* sshd sets IPV6_V6ONLY */
}

static int is_sshd(const struct srv_obs *o, const struct srv_sock *s)
{
	return (o->sshd_pid > 0 && s->pid == o->sshd_pid) || !strcmp(s->comm, "sshd");
}

static void sock_text(char *b, size_t n, const struct srv_sock *s)
{
	snprintf(b, n, strchr(s->addr, ':') ? "[%s]:%d" : "%s:%d", s->addr, s->port);
}

/* OpenSSH's match_user: "user" or "user@host", wildcards; host as address/CIDR. */
static int user_pattern(const char *pat, const char *user, const char *addr)
{
	char u[128];
	const char *at = strchr(pat, '@');
	snprintf(u, sizeof(u), "%.*s", at ? (int)(at - pat) : (int)strlen(pat), pat);
	if (fnmatch(u, user, 0))
		return 0;
	if (!at)
		return 1;
	if (!addr || !*addr)
		return 0;
	return srv_addr_in(addr, at + 1) == 1 || !fnmatch(at + 1, addr, 0);
}

/* The first word list of key in sshd -T output matching, or NULL; *any = key present. */
static const char *kv_words_match(const struct kvlist *kv, const char *key, const struct strvec *names,
				  const char *user, const char *addr, int *any)
{
	static char hit[128];
	*any = 0;
	for (size_t i = 0; i < kv->keys.n; i++) {
		if (strcmp(kv->keys.v[i], key))
			continue;
		char buf[1024], *save = NULL;
		snprintf(buf, sizeof(buf), "%s", kv->vals.v[i]);
		for (char *t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
			*any = 1;
			int m = 0;
			if (names) {
				for (size_t g = 0; g < names->n && !m; g++)
					m = !fnmatch(t, names->v[g], 0);
			} else {
				m = user_pattern(t, user, addr);
			}
			if (m) {
				snprintf(hit, sizeof(hit), "%s", t);
				return hit;
			}
		}
	}
	return NULL;
}

static const char *cfgwhere(const struct srv_obs *o) { return o->sshd_config[0] ? o->sshd_config : "/etc/ssh/sshd_config"; }

static int judge_sshd(const struct srv_obs *o, const struct kvlist *kv, struct report *r)
{
	const char *who = o->client[0] ? o->client : "a client";
	char dest[96], b[96];
	if (!o->dest_addr[0])
		snprintf(dest, sizeof(dest), "port %d", o->dest_port);
	else
		snprintf(dest, sizeof(dest), strchr(o->dest_addr, ':') ? "[%s]:%d" : "%s:%d", o->dest_addr, o->dest_port);
	int sshd_any = 0, serving = 0, other = -1, activated = -1;
	struct strbuf ls = { 0 };
	for (int i = 0; i < o->nlisten; i++) {
		const struct srv_sock *s = &o->listen[i];
		int sv = serves(s, o->dest_addr, o->dest_port);
		if (is_sshd(o, s)) {
			sshd_any = 1;
			serving |= sv;
			sock_text(b, sizeof(b), s);
			sb_addf(&ls, "%s%s", ls.len ? " " : "", b);
		} else if (sv && !strcmp(s->comm, "systemd")) {
			activated = i;
		} else if (sv) {
			other = i;
		}
	}
	int down = 0;
	if (activated >= 0) {
		struct finding *f = report_add(r, SEV_INFO, "srv.socket-activated",
					       "systemd holds %s for sshd (ssh.socket): sshd starts per connection", dest);
		finding_evidence(f, "ssh.socket: %s%s%s", o->socket_state[0] ? o->socket_state : "listening",
				 o->socket_listen[0] ? ", Listen=" : "", o->socket_listen);
		finding_evidence(f, "the port comes from ssh.socket's ListenStream, not sshd_config's Port");
		serving = 1;
	} else if (!sshd_any && other >= 0 && o->listen[other].pid <= 0) {
		/* the port is open but its owner is hidden (not root): no claim either way */
		sock_text(b, sizeof(b), &o->listen[other]);
		struct finding *f = report_add(r, SEV_WARNING, "srv.listener-unknown",
					       "%s is listening, owner not visible: sshd or not, cannot tell", b);
		finding_evidence(f, "/proc/net/tcp: a listener on %s; its process's /proc/PID/fd is unreadable", b);
		serving = 1;
	} else if (!sshd_any) {
		down = 1;
		struct finding *f;
		if (other >= 0 && o->listen[other].pid > 0) {
			sock_text(b, sizeof(b), &o->listen[other]);
			f = report_add(r, SEV_CRITICAL, "srv.port-taken",
				       "%s belongs to %s (pid %ld), not sshd: sshd is not running here", b,
				       o->listen[other].comm, o->listen[other].pid);
		} else {
			f = report_add(r, SEV_CRITICAL, "srv.sshd-down",
				       "sshd is not running here: nothing answers %s on %s", who, dest);
			finding_evidence(f, "no sshd process holds a listening TCP socket in this network namespace");
		}
		if (o->unit_state[0])
			finding_evidence(f, "systemctl: ssh.service %s", o->unit_state);
		if (o->sshd_t_rc > 0)
			finding_evidence(f, "sshd -t -f %s: %s (it cannot start with this config)", cfgwhere(o), o->sshd_t_err);
		struct fix *x = finding_fix(f, "shell (root)");
		if (o->sshd_t_rc > 0)
			fix_line(x, "# first repair %s: %s", cfgwhere(o), o->sshd_t_err);
		if (o->unit_state[0])
			fix_line(x, "systemctl start ssh");
		else
			fix_line(x, "%s -f %s", o->sshd_exe[0] ? o->sshd_exe : "/usr/sbin/sshd", cfgwhere(o));
	} else if (!serving) {
		down = 1;
		struct finding *f = report_add(r, SEV_CRITICAL, "srv.not-listening",
					       "sshd listens on %s, not on %s where %s connects", ls.buf, dest, who);
		finding_evidence(f, "sshd (pid %ld) listening sockets: %s", o->sshd_pid, ls.buf);
		for (size_t i = 0; i < kv->keys.n; i++)
			if (!strcmp(kv->keys.v[i], "port") || !strcmp(kv->keys.v[i], "listenaddress"))
				finding_evidence(f, "sshd -T: %s %s", kv->keys.v[i], kv->vals.v[i]);
		if (o->config_mtime_ms > o->sshd_start_wall_ms + 1000 && o->sshd_start_wall_ms > 0)
			finding_evidence(f, "%s changed after sshd started: the running sshd may use the old one", cfgwhere(o));
		struct fix *x = finding_fix(f, cfgwhere(o));
		if (o->dest_addr[0])
			fix_line(x, strchr(o->dest_addr, ':') ? "ListenAddress [%s]:%d" : "ListenAddress %s:%d",
				 o->dest_addr, o->dest_port);
		else
			fix_line(x, "Port %d", o->dest_port);
		x = finding_fix(f, "then (root)");
		fix_line(x, o->unit_state[0] ? "systemctl reload ssh" : "kill -HUP %ld", o->sshd_pid);
		x = finding_fix(f, "or on the client");
		if (o->nlisten)
			for (int i = 0; i < o->nlisten; i++)
				if (is_sshd(o, &o->listen[i])) {
					fix_line(x, "ssh -p %d %s ...", o->listen[i].port,
						 wild(o->listen[i].addr) ? "HOST" : o->listen[i].addr);
					break;
				}
	}
	if (o->sshd_t_rc > 0 && !down) {
		struct finding *f = report_add(r, SEV_WARNING, "srv.config-invalid",
					       "%s does not pass sshd -t: the next restart or reload fails", cfgwhere(o));
		finding_evidence(f, "sshd -t: %s", o->sshd_t_err);
		if (o->config_mtime_ms > o->sshd_start_wall_ms && o->sshd_start_wall_ms > 0)
			finding_evidence(f, "changed after sshd (pid %ld) started: the running sshd still uses the old config", o->sshd_pid);
		fix_line(finding_fix(f, cfgwhere(o)), "# repair: %s", o->sshd_t_err);
	} else if (o->sshd_t_rc == 0 && !down && o->sshd_start_wall_ms > 0 &&
		   o->config_mtime_ms > o->sshd_start_wall_ms + 1000) {
		struct finding *f = report_add(r, SEV_INFO, "srv.config-unreloaded",
					       "%s changed after sshd started and was not reloaded", cfgwhere(o));
		finding_evidence(f, "sshd (pid %ld) started %lld s before the config's last change", o->sshd_pid,
				 (long long)((o->config_mtime_ms - o->sshd_start_wall_ms) / 1000));
		fix_line(finding_fix(f, "shell (root)"), o->unit_state[0] ? "systemctl reload ssh" : "kill -HUP %ld", o->sshd_pid);
	}
	sb_free(&ls);
	return down;
}

static void judge_user(const struct srv_obs *o, const struct kvlist *kv, struct report *r)
{
	if (!o->user[0] || !o->sshd_T)
		return;
	const char *u = o->user, *a = o->client;
	int any;
	const char *m;
	struct finding *f = NULL;
	char at[160];
	snprintf(at, sizeof(at), "%s%s", a[0] ? " from " : "", a);
	if ((m = kv_words_match(kv, "denyusers", NULL, u, a, &any))) {
		f = report_add(r, SEV_CRITICAL, "srv.user-denied", "sshd refuses user %s%s: DenyUsers %s", u, at, m);
		finding_evidence(f, "sshd -T -C user=%s,addr=%s: denyusers includes %s", u, a, m);
		fix_line(finding_fix(f, cfgwhere(o)), "# remove %s from DenyUsers (or its Match block)", m);
	} else if (!kv_words_match(kv, "allowusers", NULL, u, a, &any) && any) {
		f = report_add(r, SEV_CRITICAL, "srv.user-denied", "sshd refuses user %s%s: not in AllowUsers", u, at);
		finding_evidence(f, "sshd -T -C user=%s,addr=%s: allowusers does not match", u, a);
		fix_line(finding_fix(f, cfgwhere(o)), "AllowUsers ... %s", u);
	} else if ((m = kv_words_match(kv, "denygroups", &o->groups, u, a, &any))) {
		f = report_add(r, SEV_CRITICAL, "srv.user-denied", "sshd refuses user %s%s: DenyGroups %s", u, at, m);
		fix_line(finding_fix(f, cfgwhere(o)), "# remove %s from DenyGroups", m);
	} else if (!kv_words_match(kv, "allowgroups", &o->groups, u, a, &any) && any) {
		f = report_add(r, SEV_CRITICAL, "srv.user-denied", "sshd refuses user %s%s: none of its groups in AllowGroups", u, at);
		fix_line(finding_fix(f, cfgwhere(o)), "AllowGroups ... %s", o->groups.n ? o->groups.v[0] : u);
	}
	if (f)
		finding_evidence(f, "the client sees: Permission denied (publickey...) after the key is offered");
}

static void judge_refusals(const struct srv_obs *o, struct report *r)
{
	const char *who = o->client[0] ? o->client : "every client";
	struct fw_hit h;
	int fw = fw_nft_judge(o->nft_json, o->client, o->dest_port, &h);
	if (fw != 1)
		fw = fw_ipt_judge(o->iptables_save, o->client, o->dest_port, &h);
	if (fw == 1) {
		const char *id = h.ban ? "srv.fw-ban" : h.verdict == FW_REJECT ? "srv.fw-reject" : "srv.fw-drop";
		struct finding *f = h.ban
			? report_add(r, SEV_CRITICAL, id, "the firewall bans %s (a set with a timeout): port %d %s",
				     who, o->dest_port, h.verdict == FW_REJECT ? "refused" : "dropped")
			: report_add(r, SEV_CRITICAL, id, "the firewall %s new connections from %s to port %d",
				     h.verdict == FW_REJECT ? "rejects" : "drops", who, o->dest_port);
		finding_evidence(f, "%s", h.where);
		finding_evidence(f, "rule: %s", h.rule);
		if (h.ban)
			finding_evidence(f, "set %s: %s%s%ld s left", h.ban_set, o->client,
					 h.ban_left_s >= 0 ? ", " : " (expiry unknown", h.ban_left_s >= 0 ? h.ban_left_s : 0);
		finding_evidence(f, "the client sees: %s", h.verdict == FW_REJECT
				 ? "Connection refused (tcp.refused) or a reset" : "Connection timed out (tcp.filtered)");
		fix_line(finding_fix(f, "shell (root)"), "%s", h.undo);
	}
	if (o->ct_max > 0 && o->ct_count >= 0 && o->ct_count * 10 >= o->ct_max * 9) {
		struct finding *f = report_add(r, o->ct_count >= o->ct_max ? SEV_CRITICAL : SEV_WARNING,
					       "srv.conntrack-full", "the conntrack table is %s: %ld of %ld entries",
					       o->ct_count >= o->ct_max ? "full" : "nearly full", o->ct_count, o->ct_max);
		if (o->logs.ct_full)
			finding_evidence(f, "%ld kernel lines, last: %s", o->logs.ct_full, o->logs.ct_full_ex);
		finding_evidence(f, "new connections (%s's SYN) are dropped while it is full", who);
		fix_line(finding_fix(f, "shell (root)"), "sysctl -w net.netfilter.nf_conntrack_max=%ld", o->ct_max * 2);
	} else if (o->logs.ct_full) {
		struct finding *f = report_add(r, SEV_INFO, "srv.conntrack-full",
					       "the kernel dropped packets for a full conntrack table in the last hour (now %ld of %ld)",
					       o->ct_count, o->ct_max);
		finding_evidence(f, "%s", o->logs.ct_full_ex);
	}
	struct wrap_hit w;
	wrap_judge(o->hosts_allow, o->hosts_deny, "sshd", o->client, &w);
	if (w.denied == 1) {
		enum severity sev = o->libwrap == 1 ? SEV_CRITICAL : o->libwrap == 0 ? SEV_INFO : SEV_WARNING;
		struct finding *f = report_add(r, sev, "srv.tcpwrap-deny", "/etc/%s line %d refuses %s for sshd%s",
					       w.file, w.line, who,
					       o->libwrap == 0 ? " (but this sshd is not built with libwrap)" : "");
		finding_evidence(f, "/etc/%s:%d: %s", w.file, w.line, w.text);
		finding_evidence(f, "sshd %s libwrap", o->libwrap == 1 ? "is linked with" : o->libwrap == 0 ? "is not linked with" : "may be linked with");
		finding_evidence(f, "the client sees: kex_exchange_identification: read: Connection reset by peer (banner.closed)");
		struct fix *x = finding_fix(f, "/etc/hosts.allow");
		fix_line(x, "sshd: %s", o->client[0] ? o->client : "ALL");
		fix_line(finding_fix(f, w.file[6] == 'd' ? "/etc/hosts.deny (or instead)" : "/etc/hosts.allow (or instead)"),
			 "# remove or narrow line %d: %s", w.line, w.text);
	}
	if (f2b_banned(o->f2b_status, o->client)) {
		struct finding *f = report_add(r, SEV_CRITICAL, "srv.fail2ban-ban", "fail2ban's sshd jail bans %s", o->client);
		finding_evidence(f, "fail2ban-client status sshd: %s is in the Banned IP list", o->client);
		/* shown, never run: unbanning is the admin's call */
		fix_line(finding_fix(f, "shell (root), to run yourself"), "fail2ban-client set sshd unbanip %s", o->client);
	}
}

static void judge_logs(const struct srv_obs *o, const struct kvlist *kv, struct report *r)
{
	const char *who = o->client[0] ? o->client : "clients";
	const struct srv_logs *l = &o->logs;
	if (l->maxstartups) {
		int now = o->startups >= 0 && o->startups_begin > 0 && o->startups >= o->startups_begin;
		struct finding *f = report_add(r, now ? SEV_CRITICAL : SEV_WARNING, "srv.maxstartups-drops",
					       "sshd dropped %ld connection%s of %s past MaxStartups in the last hour",
					       l->maxstartups, l->maxstartups == 1 ? "" : "s", who);
		finding_evidence(f, "%s", l->maxstartups_ex);
		if (o->startups >= 0)
			finding_evidence(f, "now: %ld unauthenticated connections (throttling from %ld)", o->startups, o->startups_begin);
		finding_evidence(f, "the client sees: kex_exchange_identification: Connection closed by remote host");
		fix_line(finding_fix(f, cfgwhere(o)), "MaxStartups 100:30:200");
	}
	if (l->penalty) {
		struct finding *f = report_add(r, SEV_WARNING, "srv.penalty-drops",
					       "sshd refused %ld connection%s of %s under PerSourcePenalties in the last hour",
					       l->penalty, l->penalty == 1 ? "" : "s", who);
		finding_evidence(f, "%s", l->penalty_ex);
		if (l->penalise_ex[0])
			finding_evidence(f, "%s", l->penalise_ex);
		finding_evidence(f, "the client sees: kex_exchange_identification: read: Connection reset by peer");
		fix_line(finding_fix(f, cfgwhere(o)), "PerSourcePenaltyExemptList %s", o->client[0] ? o->client : "ADDR");
	}
	if (l->unit_failures || l->restarts) {
		/* a restart drops no session (each has its own process) but refuses
		 * new ones while it lasts; a failing unit is sshd crashing or not starting */
		struct finding *f = report_add(r, l->unit_failures ? SEV_WARNING : SEV_INFO, "srv.sshd-restarts",
					       l->unit_failures ? "the ssh unit failed %ld time%s in the last hour"
							: "sshd restarted or reloaded %ld time%s in the last hour",
					       l->unit_failures ? l->unit_failures : l->restarts,
					       (l->unit_failures ? l->unit_failures : l->restarts) == 1 ? "" : "s");
		if (l->unit_fail_ex[0])
			finding_evidence(f, "%s", l->unit_fail_ex);
		if (l->restart_ex[0])
			finding_evidence(f, "last restart: %s", l->restart_ex);
		finding_evidence(f, "while sshd restarts, clients see: Connection refused");
		if (l->unit_failures)
			fix_line(finding_fix(f, "shell (root)"), "journalctl -u ssh -n 50 --no-pager");
	}
	int64_t med = srv_login_median_ms(l);
	if (med >= SRV_SLOW_LOGIN_MS) {
		unsigned n = l->nlogin < SRV_LOGIN_MAX ? l->nlogin : SRV_LOGIN_MAX;
		struct finding *f = report_add(r, SEV_WARNING, "srv.slow-login",
					       "logins of %s took %.1f s (median of %u) from connection to acceptance",
					       who, med / 1000.0, n);
		finding_evidence(f, "slowest %.1f s: %s", l->slowest_ms / 1000.0, l->slowest_ex);
		if (kv_get(kv, "usedns") && !strcasecmp(kv_get(kv, "usedns"), "yes")) {
			finding_evidence(f, "UseDNS yes: sshd looks up every client's name before it answers");
			fix_line(finding_fix(f, cfgwhere(o)), "UseDNS no");
		} else {
			finding_evidence(f, "UseDNS is off: PAM, GSSAPI or the client's own slowness (its key, "
					 "its agent) is waiting; ssh -vvv from the client shows which step");
		}
	}
	if (l->oom_sshd) {
		struct finding *f = report_add(r, SEV_WARNING, "srv.oom-kill", "the kernel killed sshd for memory %ld time%s in the last hour",
					       l->oom_sshd, l->oom_sshd == 1 ? "" : "s");
		finding_evidence(f, "%s", l->oom_ex);
	}
}

static void judge_load(const struct srv_obs *o, struct report *r)
{
	/* load alone does not keep a client out (sshd answered the lab's logins at
	 * 9.5 on 2 CPUs): said, not counted against the status */
	if (o->ncpu > 0 && o->load1 > 2.0 * (double)o->ncpu) {
		struct finding *f = report_add(r, SEV_INFO, "srv.load", "load average %.1f on %ld CPUs: sshd may answer late", o->load1, o->ncpu);
		finding_evidence(f, "/proc/loadavg: %.2f", o->load1);
	}
	if ((o->mem_total_kb > 0 && o->mem_avail_kb >= 0 && o->mem_avail_kb * 50 < o->mem_total_kb) ||
	    o->mem_psi_some10 > 30) {
		struct finding *f = report_add(r, SEV_WARNING, "srv.memory", "memory pressure: %ld MiB available of %ld MiB",
					       o->mem_avail_kb / 1024, o->mem_total_kb / 1024);
		if (o->mem_psi_some10 >= 0)
			finding_evidence(f, "/proc/pressure/memory: some avg10=%.2f", o->mem_psi_some10);
	}
	if (o->pid_max > 0 && o->threads * 10 > o->pid_max * 9) {
		struct finding *f = report_add(r, SEV_CRITICAL, "srv.pids", "%ld of %ld process ids in use: sshd cannot fork", o->threads, o->pid_max);
		finding_evidence(f, "/proc/loadavg threads %ld, kernel.pid_max %ld", o->threads, o->pid_max);
	}
	if (o->files_max > 0 && o->files * 10 > o->files_max * 9) {
		struct finding *f = report_add(r, SEV_CRITICAL, "srv.fds", "%ld of %ld file handles in use: sshd cannot accept", o->files, o->files_max);
		finding_evidence(f, "/proc/sys/fs/file-nr");
	}
	if (o->log_free_kb >= 0 && o->log_free_kb < 1024) {
		struct finding *f = report_add(r, SEV_WARNING, "srv.disk-full", "%s is full (%lld KiB free): sshd's log lines are lost", o->log_dir, o->log_free_kb);
		finding_evidence(f, "statvfs(%s): %lld KiB available", o->log_dir, o->log_free_kb);
	}
}

static void measure(const struct srv_obs *o, struct report *r)
{
	struct json_object *m = json_object_new_object(), *ls = json_object_new_array();
	json_object_object_add(m, "client", json_object_new_string(o->client));
	json_object_object_add(m, "user", json_object_new_string(o->user));
	json_object_object_add(m, "dest_addr", json_object_new_string(o->dest_addr));
	json_object_object_add(m, "dest_port", json_object_new_int(o->dest_port));
	json_object_object_add(m, "root", json_object_new_boolean(o->root));
	json_object_object_add(m, "sshd_pid", json_object_new_int64(o->sshd_pid));
	json_object_object_add(m, "sshd_config", json_object_new_string(o->sshd_config));
	json_object_object_add(m, "sshd_t_rc", json_object_new_int(o->sshd_t_rc));
	json_object_object_add(m, "libwrap", json_object_new_int(o->libwrap));
	json_object_object_add(m, "unit_state", json_object_new_string(o->unit_state));
	for (int i = 0; i < o->nlisten; i++) {
		struct json_object *s = json_object_new_object();
		json_object_object_add(s, "addr", json_object_new_string(o->listen[i].addr));
		json_object_object_add(s, "port", json_object_new_int(o->listen[i].port));
		json_object_object_add(s, "pid", json_object_new_int64(o->listen[i].pid));
		json_object_object_add(s, "comm", json_object_new_string(o->listen[i].comm));
		json_object_array_add(ls, s);
	}
	json_object_object_add(m, "listeners", ls);
	json_object_object_add(m, "conntrack_count", json_object_new_int64(o->ct_count));
	json_object_object_add(m, "conntrack_max", json_object_new_int64(o->ct_max));
	json_object_object_add(m, "load1", json_object_new_double(o->load1));
	json_object_object_add(m, "ncpu", json_object_new_int64(o->ncpu));
	json_object_object_add(m, "maxstartups_drops", json_object_new_int64(o->logs.maxstartups));
	json_object_object_add(m, "penalty_drops", json_object_new_int64(o->logs.penalty));
	json_object_object_add(m, "restarts", json_object_new_int64(o->logs.restarts));
	json_object_object_add(m, "unit_failures", json_object_new_int64(o->logs.unit_failures));
	json_object_object_add(m, "logins", json_object_new_int64(o->logs.nlogin));
	json_object_object_add(m, "login_median_ms", json_object_new_int64(srv_login_median_ms(&o->logs)));
	json_object_object_add(m, "login_slowest_ms", json_object_new_int64(o->logs.nlogin ? o->logs.slowest_ms : -1));
	json_object_object_add(m, "logs", json_object_new_string(o->logs.where));
	report_measure(r, "server", m, NULL);
}

void srvside_judge(const struct srv_obs *o, struct report *r)
{
	struct kvlist kv = { 0 };
	if (o->sshd_T)
		kv_parse(&kv, o->sshd_T);
	judge_sshd(o, &kv, r);
	judge_refusals(o, r);
	judge_user(o, &kv, r);
	judge_logs(o, &kv, r);
	judge_load(o, r);
	if (o->unreadable.n) {
		struct finding *f = report_add(r, o->root ? SEV_INFO : SEV_WARNING, "srv.unreadable",
					       "%zu thing%s could not be read%s", o->unreadable.n,
					       o->unreadable.n == 1 ? "" : "s", o->root ? "" : " (run as root for the full picture)");
		for (size_t i = 0; i < o->unreadable.n; i++)
			finding_evidence(f, "%s", o->unreadable.v[i]);
	}
	if (report_status(r) == STATUS_OK) {
		struct finding *f = report_add(r, SEV_OK, "srv.ok", "nothing on this server refuses %s on port %d",
					       o->client[0] ? o->client : "clients", o->dest_port);
		finding_evidence(f, "sshd (pid %ld) listens; no firewall rule, TCP wrapper, ban or throttle applies", o->sshd_pid);
	}
	measure(o, r);
	kv_free(&kv);
}

int srvside_run(const struct srvside_opts *so, struct report *r)
{
	struct srv_obs o;
	srv_obs_init(&o);
	srvside_probe(so, &o);
	srvside_judge(&o, r);
	if (so->fix)
		srvside_fix(so, &o, r);
	if (!o.root && report_status(r) < STATUS_CRITICAL)
		r->unknown = 1;
	srv_obs_free(&o);
	return 0;
}
