/* srvside.h - `doctor --server [CLIENT-ADDR]`: run on the server, why a client
 * cannot get in. Probes (srvside_probe.c) fill a struct srv_obs with raw
 * observations (texts as read, numbers as measured); the judge
 * (srvside_judge.c) turns them into findings; srvside_fw.c reads nftables JSON
 * and iptables-save text, srvside_wrap.c hosts.allow/hosts.deny. The parsers
 * and the judge are pure functions over untrusted bytes (unit-tested, fuzzed). */
#ifndef SSHDOCTOR_SRVSIDE_H
#define SSHDOCTOR_SRVSIDE_H

#include <stdint.h>

#include "finding.h"

#define SRV_MAX_SOCK 32
#define SRV_TEXT_MAX (4 * 1024 * 1024)	/* bound on every text a probe keeps */
#define SRV_PEND_MAX 64		/* connections waiting for their login, tracked */
#define SRV_LOGIN_MAX 256	/* login times kept for the median */
/* Logins slower than this (median, connection to acceptance) are a finding:
 * a reverse lookup that times out (UseDNS), PAM or GSSAPI waiting */
#define SRV_SLOW_LOGIN_MS 3000

struct srvside_opts {
	const char *client;	/* CLIENT-ADDR, NULL = any client */
	const char *user;	/* --user, NULL = not checked */
	const char *dest;	/* --dest ADDR[:PORT] the client connects to, NULL = any:port */
	const char *sshd;	/* --sshd BIN, NULL = the running one's or /usr/sbin/sshd */
	const char *sshd_config;	/* --sshd-config, NULL = the running sshd's or /etc/ssh/sshd_config */
	const char *const *logs;	/* --server-log FILE... */
	size_t nlogs;
	int fix, yes;
};

struct srv_sock {
	char addr[64];		/* "0.0.0.0", "::", "203.0.113.2" */
	int port;
	unsigned long inode;
	long pid;		/* owner, -1 unknown */
	char comm[32];		/* owner's name */
};

/* Log evidence for the client, from sshd's log and the kernel's. */
struct srv_logs {
	long maxstartups, penalty;	/* drops of CLIENT-ADDR (or all when none) */
	char maxstartups_ex[320], penalty_ex[320], penalise_ex[320];
	long oom_sshd;	char oom_ex[320];
	long ct_full;	char ct_full_ex[320];
	/* sshd restarting (its own "Received signal 15"/SIGHUP lines) and the
	 * unit failing (systemd's "ssh.service: Failed with result ..." lines) */
	long restarts;	char restart_ex[320];
	long unit_failures;	char unit_fail_ex[320];
	/* logins: "Connection from A port P" to "Accepted ... from A port P",
	 * by the log's own stamps (1 s steps in syslog, finer in the journal) */
	struct srv_pend { char addr[64]; int port; int64_t ts_ms; } pend[SRV_PEND_MAX];
	unsigned npend;	/* next slot (a ring: the oldest pending is forgotten) */
	int64_t login_ms[SRV_LOGIN_MAX];	/* the latest logins, a ring */
	unsigned nlogin;	/* logins seen (login_ms holds min(nlogin, MAX)) */
	int64_t slowest_ms;	char slowest_ex[320];	/* its "Accepted" line */
	int read;		/* some sshd log was read */
	char where[256];	/* which logs */
};

struct srv_obs {
	char client[64];	/* numeric, "" = any */
	char user[64];
	char dest_addr[64];	/* "" = any local address */
	int dest_port;		/* 22 unless --dest says */
	int root;
	struct strvec unreadable;	/* "what: why" lines for what could not be read */

	/* sshd */
	long sshd_pid;		/* listener in this network namespace, -1 none */
	char sshd_exe[256], sshd_config[256];
	int64_t sshd_start_wall_ms, config_mtime_ms;	/* -1 unknown */
	char proctitle[256];	/* "sshd: ... [listener] 0 of 10-100 startups" */
	long startups, startups_begin;	/* from the proctitle, -1 unknown */
	struct srv_sock listen[SRV_MAX_SOCK];	/* every TCP listener here */
	int nlisten;
	char unit_state[64], socket_state[64];	/* systemctl: "active/running", "" unknown */
	char socket_listen[128];	/* ssh.socket Listen= */
	char *sshd_T;		/* `sshd -T -C ...` output, NULL when it failed */
	char sshd_T_err[320];
	int sshd_t_rc;		/* `sshd -t`: 0 ok, >0 failed, -1 not run */
	char sshd_t_err[320];
	int libwrap;		/* sshd linked with libwrap: 1, 0, -1 unknown */
	struct strvec groups;	/* --user's groups (AllowGroups/DenyGroups) */

	/* address refusals */
	char *hosts_allow, *hosts_deny;	/* NULL: absent or unreadable */
	char *f2b_status;	/* `fail2ban-client status sshd`, NULL when absent */

	/* firewall */
	char *nft_json;		/* `nft -j list ruleset` */
	char *iptables_save;	/* `iptables-save` */
	long ct_count, ct_max;	/* -1 unknown */

	/* load */
	double load1;
	long ncpu;
	long mem_avail_kb, mem_total_kb;
	double mem_psi_some10;	/* -1 unknown */
	long threads, pid_max;
	long files, files_max;
	char log_dir[256];
	long long log_free_kb;	/* -1 unknown */

	struct srv_logs logs;
};

void srv_obs_init(struct srv_obs *o);
void srv_obs_free(struct srv_obs *o);

/* Probes: fills o (never fails; what it cannot read goes to o->unreadable). */
void srvside_probe(const struct srvside_opts *so, struct srv_obs *o);
/* Judge: findings (ids "server.*") and measurements.server into r. */
void srvside_judge(const struct srv_obs *o, struct report *r);
/* --fix: the sshd config lines among the fixes (MaxStartups, the client's
 * PerSourcePenaltyExemptList), planned, and with yes applied through audit's
 * change sets (undo: audit --undo); the rest is shown only (srvside_fix.c). */
struct audit_facts;
size_t srvside_fix_settings(const struct srv_obs *o, struct audit_facts *f);
void srvside_fix(const struct srvside_opts *so, const struct srv_obs *o, struct report *r);
/* Both, then --fix: applies nothing it cannot undo (shown only). Returns 0. */
int srvside_run(const struct srvside_opts *so, struct report *r);

/* /proc/net/tcp{,6} text -> listeners (state 0A). Returns the count kept. */
int srv_parse_proc_tcp(const char *text, int v6, struct srv_sock *out, int max);

/* Shared by the probes (srvside_probe.c, srvside_logs.c). */
char *srv_slurp(const char *path, size_t max);	/* bounded; NULL with errno */
void srv_note(struct srv_obs *o, const char *fmt, ...) PRINTF_LIKE(2, 3);	/* o->unreadable */
void srv_first_line(char *dst, size_t n, const char *s);
void srvside_probe_logs(const struct srvside_opts *so, struct srv_obs *o);

/* Log lines (srvside_logs.c): sshd's drops and penalties for client, the
 * kernel's conntrack-full and OOM lines. Pure but for the clock. */
struct logclock;
/* Pure: the median of the login times kept, -1 when none. */
int64_t srv_login_median_ms(const struct srv_logs *lg);
void srv_log_line(struct srv_logs *lg, const char *client, struct logclock *clk,
		  int64_t since_ms, const char *line, size_t len);
int srv_kernel_line(struct srv_logs *lg, const char *line, size_t len);
/* Does a "srclimit_penalise: ... ADDR/LEN ..." message cover client? */
int srv_penalise_covers(const char *msg, size_t len, const char *client);

/* An address match helper: does addr fall in pattern? pattern is an address,
 * a CIDR "a/len", or "a/m.m.m.m". 1 yes, 0 no, -1 pattern not an address. */
int srv_addr_in(const char *addr, const char *pattern);

/* Firewall (srvside_fw.c). */
enum fw_verdict { FW_NONE, FW_ACCEPT, FW_DROP, FW_REJECT };
struct fw_hit {
	enum fw_verdict verdict;
	char rule[320];		/* the rule as text, or the chain and its policy */
	char where[160];	/* "nftables table inet filter chain input handle 4" */
	char undo[256];		/* the command that removes it */
	int ban;		/* the match was an element of a set with a timeout */
	long ban_left_s;	/* seconds left (-1 unknown) */
	char ban_set[128];
};
/* The first drop/reject of a new TCP connection from client (NULL/"" = any) to
 * port. 1 found (hit filled), 0 none, -1 the text is not nftables JSON. */
int fw_nft_judge(const char *json, const char *client, int port, struct fw_hit *hit);
int fw_ipt_judge(const char *text, const char *client, int port, struct fw_hit *hit);

/* TCP wrappers (srvside_wrap.c): hosts.allow then hosts.deny, as libwrap. */
struct wrap_hit {
	int denied;		/* 1 denied, 0 allowed, -1 unknown (a host name pattern) */
	int line;		/* the deciding line, 0 = none (default allow) */
	char file[16];		/* "hosts.allow" or "hosts.deny" */
	char text[256];
};
/* Decides for daemon "sshd" and client addr. Either text may be NULL. */
void wrap_judge(const char *allow, const char *deny, const char *daemon, const char *addr,
		struct wrap_hit *hit);

/* fail2ban-client status text: 1 when addr is in "Banned IP list". */
int f2b_banned(const char *status, const char *addr);

#endif
