/* audit.h - effective keepalive and limit settings of client, server and kernel,
 * judged against the path's idle timeout; and the safe --fix / --undo of them.
 * Probes (audit_gather) measure, audit_analyse judges (pure), the command renders.
 * `doctor` calls audit_run and the fix API directly. */
#ifndef SSHDOCTOR_AUDIT_H
#define SSHDOCTOR_AUDIT_H

#include "finding.h"
#include "srvpolicy.h"
#include "target.h"

#define AUDIT_ASSUMED_IDLE_S 240	/* shortest common cloud default (Azure LB/NAT: 4 min) */

struct audit_opts {
	const struct target *target;	/* resolved with target_resolve, or NULL (generic host) */
	const struct sshopts *so;	/* -F, -o ... (may be NULL) */
	const char *root;		/* --root DIR, NULL for "/" */
	const char *server_config;	/* --server-config FILE, NULL: <root>/etc/ssh/sshd_config */
	int remote;			/* --remote: the server side is TARGET's, over ssh */
	long idle_timeout_s;		/* --idle-timeout, 0 when not given */
	int skip_server;		/* the server is elsewhere and not --remote: leave
					 * this machine's sshd out (doctor) */
	int no_kernel_fix;		/* --fix leaves the machine-wide sysctls alone (doctor:
					 * its cure is the SSH keepalive) */
	int relay;			/* --fix --relay: only the flight recorder's lines */
	int server_only;		/* --fix: the server's config only, with the settings
					 * in facts.given (doctor --server) */
};

/* A value with where it came from ("FILE:LINE", "default", "ssh -G", ...). */
struct audit_val {
	long v;			/* -1 unknown */
	char origin[320];
	char block[320];	/* the Match block the winning line sits in ("Match User
				 * bob (FILE:LINE)"), "" when global */
};

/* A keepalive or its reply lost once is resent by TCP after its retransmission
 * timeout, backing off 1, 2, 4, 8 s: ssh must wait this long for an answer. */
#define AUDIT_LOSS_ROUND_S 15
/* Debian's ssh: ServerAliveInterval without a value is 300 when BatchMode yes. */
#define AUDIT_DEBIAN_BATCHMODE_SAI 300
#define AUDIT_ORIGIN_BATCHMODE "Debian's default when BatchMode yes"

struct audit_facts {
	/* client, from ssh -G; origins from our parser of the same files */
	int client_known;
	char client_version[96];
	int cmajor, cminor;
	struct audit_val sai, sacm, c_tcpka, identities_only;
	int nkeys;		/* distinct keys ssh would offer: agent + existing IdentityFiles */
	char client_config[512];	/* the file --fix edits */
	char client_host[256];	/* the host ssh -G was asked about */
	char ehost[256], euser[128];	/* effective HostName/User/Port (TARGET given) */
	int eport;
	char caddr[64];		/* our address toward ehost: Match Address/host= of sshd -T -C */

	/* server */
	int server_known;
	char server_source[64];	/* "sshd -T", "sshd -T -C", "file", "remote sshd -T", ... */
	char server_user[512];	/* the -C connection spec sshd was asked with, "" none */
	char server_config[512];
	char server_version[96];
	int smajor, sminor;	/* -1 unknown */
	struct audit_val cai, cacm, s_tcpka, usedns, logingrace, maxauthtries;
	struct audit_val ms_start, ms_rate, ms_full;
	int exposed;		/* listens on a non-loopback address */
	/* the server's own idle policy (srvpolicy.h): sshd -T, and with --remote
	 * the login shell's TMOUT and logind */
	struct srvpolicy policy;

	/* kernel (local, or TARGET's with --remote) */
	int kernel_known;
	long ka_time, ka_intvl, ka_probes, retries2, mtu_probing;

	/* settings another analyser chose (doctor --server): the server plan
	 * writes exactly these instead of deriving its own */
	struct { char key[48]; char val[256]; } given[4];
	size_t ngiven;

	/* the timeout to beat */
	long idle_s;
	const char *idle_source;	/* "measured", "given", "assumed" */
};

/* Measures everything (runs ssh -G, sshd -T, reads files and sysctls). Returns 0,
 * or -1 with *err for input the user must correct (a malformed config). */
int audit_gather(const struct audit_opts *o, struct audit_facts *f, char **err);
/* Pure: facts -> findings, measurements.audit. */
void audit_analyse(const struct audit_facts *f, struct report *r);
/* gather + analyse. Returns 0, or -1 with *err (a one-line message). */
int audit_run(const struct audit_opts *o, struct report *r, struct audit_facts *f, char **err);

/* Reads the output of the --remote probe script (markers @@version, @@sysctl,
 * @@sshdT ... @@rc N, @@file) into f. Returns 0, or -1 with *err when neither
 * sshd -T nor the file could be read. */
int audit_parse_remote(const char *text, struct audit_facts *f, char **err);

/* Dead-peer detection in seconds for Interval/CountMax (-1: never/off). */
long audit_detection(long interval, long countmax, int server, int major, int minor);
/* The interval --fix prescribes for an idle timeout. */
long audit_prescribed_interval(long idle_s);
/* Client: 1 when ServerAliveCountMax cuts sessions that are fine: 0 ends every
 * session idle for one interval (ssh gives up at the first check, before any
 * keepalive is answered; sshd's 8.2 "0 = never" rule is not the client's), and
 * Interval x CountMax below AUDIT_LOSS_ROUND_S leaves no time for one lost reply. */
int audit_client_countmax_low(long interval, long countmax);
/* The ServerAliveCountMax to prescribe with interval (3, or more for short ones). */
long audit_prescribed_countmax(long interval);

struct sshconf_ctx;
/* The connection the server was read for (Match blocks), into x; nothing when
 * the server was read without one. Shared with audit_fix.c so --fix edits the
 * line that wins for that user (inside its Match block) and checks it with -C. */
void audit_server_ctx(const struct audit_facts *f, struct sshconf_ctx *x);

/* Shared by audit.c and audit_fix.c: path under --root, and `ssh -G` with cfg
 * standing in for the user's config file (NULL: the usual files). */
char *audit_rooted(const char *root, const char *path);
int audit_ssh_g(const struct audit_opts *o, const char *cfg, struct kvlist *kv, char **err);
const char *audit_sshd_binary(void);
/* Picks the sshd a running listener uses for config_path (NULL: the system's). */
void audit_sshd_select(const char *config_path);
char *audit_client_config_path(const struct audit_opts *o);

/* --- fix ----------------------------------------------------------------------- */

struct fix_file;

struct fixplan {
	struct fix_file *files;
	size_t n;
	long interval;		/* prescribed ServerAlive/ClientAlive interval */
	struct strvec notes;	/* what the plan leaves alone and why */
	const struct audit_facts *facts;	/* borrowed: must outlive the plan */
	int relay;		/* the relay's lines: checked by ssh -G's proxycommand */
	char relay_host[256];	/* the host they are for, "" for Host * */
};

/* The block `--fix --relay` appends to the client config at path (Host host, or
 * Host * leaving out every Host pattern with its own proxy): 1 with the text in
 * block, 0 when nothing is to be done (installed already, the host has its own
 * proxy: said in notes), -1 with *err (a Match block or a global line sets a
 * proxy, an unwritable path). self: sshdoctor's absolute path. */
struct sshconf_ctx;
int audit_relay_block(const char *path, const struct sshconf_ctx *x, const char *host,
		      const char *self, struct strbuf *block, struct strvec *notes, char **err);

/* Plans the edits for the warnings in f (client, server, kernel). Nothing is
 * written. Returns 0 or -1 with *err. */
int audit_fix_plan(const struct audit_opts *o, const struct audit_facts *f, struct fixplan *p,
		   char **err);
/* The unified diff of every planned change (caller frees). */
char *audit_fix_diff(const struct fixplan *p);
/* Validates (ssh -G / sshd -t on the candidate files), then writes every file as
 * one change set, checks the result with ssh -G / sshd -T, rolls back on any
 * failure, applies sysctls (not under --root), reloads sshd only when reload.
 * One line per action is appended to log. Returns 0 or -1 with *err. */
int audit_fix_apply(const struct audit_opts *o, struct fixplan *p, int reload, struct strbuf *log,
		    char **err);
void audit_fix_free(struct fixplan *p);
/* plan + diff, and with yes apply: what `audit --fix` and `doctor --fix` both do.
 * *out = {"notes", "diff", "applied", with yes "log"; on failure "error"}.
 * Returns 0, or -1 with *err (caller frees); *out is set either way. */
int audit_fix_run(const struct audit_opts *o, const struct audit_facts *f, int yes, int reload,
		  struct json_object **out, char **err);
/* Restores change set id, NULL: the last one not undone (fileio_undo). 1: nothing
 * to undo. */
int audit_undo(const char *id, struct strbuf *log, char **err);
/* Every change set, one line each, newest first. */
int audit_undo_list(struct strbuf *out, char **err);
/* The home directory ssh uses for ~ and ~/.ssh/config: the passwd entry's, not
 * $HOME ($HOME only when there is no passwd entry). */
const char *audit_home_dir(void);
/* net.ipv4.NAME of an image under root: its own <root>/proc/sys when present,
 * else as it sets it at boot (its sysctl.d files and /etc/sysctl.conf),
 * kernel_default when none does (sysctl_image.c). Never the live kernel. */
long audit_image_sysctl(const char *root, const char *name, long kernel_default);

#endif
