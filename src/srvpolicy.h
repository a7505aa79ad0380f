/* srvpolicy.h - the server's own idle policy, read through the login: sshd's
 * ChannelTimeout / UnusedConnectionTimeout / ClientAlive* (sshd -T, as root or
 * sudo -n), the login shell's TMOUT, systemd-logind's StopIdleSessionSec and
 * sshd's log lines about inactivity. srvpolicy_read measures (one ssh), the
 * parser and srvpolicy_judge are pure. A server that ends idle sessions itself
 * is not a path timeout: keepalives cannot cure it (ChannelTimeout counts
 * channel data only; keepalive@openssh.com requests are not channel data). */
#ifndef SSHDOCTOR_SRVPOLICY_H
#define SSHDOCTOR_SRVPOLICY_H

#include <stddef.h>
#include <stdint.h>

#include "finding.h"
#include "target.h"

#define SRVP_MAX_LOG 4

struct srvpolicy {
	int read;			/* the probe ran through the login */
	char version[96];		/* "OpenSSH_10.0p2 ..." */
	int major, minor;		/* -1 unknown */
	char config[512];		/* sshd_config the serving sshd was started with */
	int sshd_t;			/* sshd -T was readable */
	char channeltimeout[512];	/* sshd -T value, "" none */
	long unused_s;			/* UnusedConnectionTimeout: -1 unknown, 0 none */
	long cai, cacm;			/* ClientAliveInterval / CountMax, -1 unknown */
	long tmout_s;			/* login shell's TMOUT: -1 unknown, 0 unset */
	int tmout_readonly;
	char tmout_src[256];		/* a startup file that mentions TMOUT */
	long logind_idle_s;		/* StopIdleSessionSec: -1 unknown/unset, 0 off */
	char logind_src[256];
	char log[SRVP_MAX_LOG][256];	/* sshd log lines about inactivity */
	int nlog;
};

/* What idle saw of the deaths (all ms; -1 unknown). */
struct srvp_obs {
	int64_t lower_ms, upper_ms;	/* bracket of the deaths, upper < 0: none */
	int nchanclose;			/* deaths where sshd closed the channel itself */
	int nfin;			/* deaths by a bare TCP close (no SSH close) */
	int nunprompted;		/* deaths while idle (no probe in flight) */
	int ndead;
	const char *host;		/* for the text */
	int nsilent;			/* deaths by silence (never answered): a path's, not sshd's */
};

enum srvp_verdict {
	SRVP_NONE,		/* nothing of the server's explains the deaths */
	SRVP_SERVER,		/* the server's policy ended them: server.idle-policy */
	SRVP_UNKNOWN,		/* a clean close at a fixed age, nobody named: idle.close-unattributed */
};

/* Reads the policy through one login (bounded). Returns 0, or -1 with *err. */
int srvpolicy_read(const struct target *t, const struct sshopts *so, struct srvpolicy *p, char **err);
/* Pure: the probe script's output (markers @@...) into p. */
void srvpolicy_parse(const char *text, struct srvpolicy *p);
void srvpolicy_init(struct srvpolicy *p);

/* Seconds of OpenSSH's TIME FORMAT ("90", "1h30m", "20s"), -1 when malformed. */
long srvp_convtime(const char *s);
/* The ChannelTimeout that applies to a channel of extended type xtype
 * ("session:command", "session:shell", ...): sshd takes the first type=interval
 * whose pattern matches (match_pattern, * and ?), then "global". Returns
 * seconds (0: none or disabled) and the entry in *entry. Note: the bare name
 * "session" matches none of these (sshd relabels session channels before any
 * data flows), although sshd_config(5) describes it as the interactive session. */
long srvp_channel_timeout(const char *ct, const char *xtype, char *entry, size_t elen);

/* Pure: findings server.idle-policy (every setting that ends idle sessions)
 * and, when obs says deaths happened, whether the server explains them. */
enum srvp_verdict srvpolicy_judge(const struct srvpolicy *p, const struct srvp_obs *obs,
				  struct report *r);
struct json_object *srvpolicy_json(const struct srvpolicy *p);

#endif
