/* target.h - one way to name an SSH server: the target spec the user typed, the
 * ssh options they gave, and the effective host/port/user that `ssh -G` says. */
#ifndef SSHDOCTOR_TARGET_H
#define SSHDOCTOR_TARGET_H

#include "sshcfg.h"
#include "util.h"

/* Options handed to every ssh the tool runs, in the order given. */
struct sshopts {
	struct strvec args;	/* "-i" FILE, "-F" FILE, "-J" JUMP, "-o" K=V, "-4", "-6" */
	char *config;		/* -F FILE (also in args) */
	long port;		/* -p, 0 when not given */
	char *user;		/* -l, NULL when not given */
	int family;		/* 0, 4 or 6 */
};

struct target {
	char *spec;		/* as typed */
	char *host;		/* the host part handed to ssh (may be an alias) */
	char *user;		/* from the spec or -l; NULL: ssh decides */
	int port;		/* from the spec or -p; 0: ssh decides */
	/* effective values, from ssh -G */
	char *hostname;
	char *euser;
	int eport;
	struct kvlist cfg;	/* the whole `ssh -G` output */
};

/* id is the option letter ('p', 'l', 'i', 'F', 'J', 'o', '4', '6'); 0 or -1 if invalid. */
int sshopts_add(struct sshopts *so, int id, const char *arg);
void sshopts_free(struct sshopts *so);

/* Parses [user@]host, [user@]host:port, ssh://[user@]host[:port], [v6]:port, v6.
 * On error returns -1 and a message in *err (caller frees). */
int target_parse(struct target *t, const char *spec, const struct sshopts *so, char **err);
void target_free(struct target *t);

/* Appends the ssh arguments that name this target (options, -p, -l, then the
 * host) to argv, which must already hold "ssh" and any leading options. */
void target_ssh_args(const struct target *t, const struct sshopts *so, struct strvec *argv);

/* The options every ssh that holds a session of the tool's own gets, then extra
 * ("Key=value" each), all as -o before the user's (first value wins): never prompt,
 * never share a multiplexed connection (its socket would not be ours to measure),
 * no forwarding, no local command, no tty. */
void target_ssh_session_opts(struct strvec *argv, const char *const *extra, size_t nextra);

/* For a session that stands for the user's own ssh (doctor --verify): asks
 * `ssh -G` now (after any --fix) WITHOUT the tool's BatchMode, and appends the
 * user's ServerAliveInterval/ServerAliveCountMax as -o options, so the forced
 * BatchMode=yes cannot turn Debian's 300 s default on. Returns 0, or -1 with *err. */
int target_ssh_user_keepalive_opts(const struct target *t, const struct sshopts *so,
				   struct strvec *argv, char **err);

/* Runs `ssh -G` and fills the effective values. Returns 0, or -1 with *err. */
int target_resolve(struct target *t, const struct sshopts *so, char **err);

#endif
