/* keep.h - `sshdoctor keep`: supervises the user's ssh (tunnels, unattended
 * sessions), restarts it according to why it fell (keep_judge), and says so:
 * stderr, the journal under systemd, the history store, and a state file per
 * tunnel for `keep --status`. keep.c is the supervisor, keep_unit.c the
 * systemd unit and the status reader. */
#ifndef SSHDOCTOR_KEEP_H
#define SSHDOCTOR_KEEP_H

#include <stdint.h>

#include "target.h"
#include "util.h"

#define KEEP_EXIT_STOPPED 2	/* stopped for a cause no retry cures (auth, host key, config) */
#define KEEP_EXIT_GAVEUP 3	/* --max-tries reached */
#define KEEP_MAX_ALIVE_S 15	/* keepalive interval at most this: a dead path noticed within a minute */
#define KEEP_FALLS_KEPT 10	/* falls remembered in the state file */

struct keep_opts {
	struct target *t;
	const struct sshopts *so;
	struct strvec ssh_args;		/* after "--": -N -L ..., maybe a command */
	const char *name;		/* tunnel name (state file, unit); NULL: derived */
	int max_tries;			/* consecutive failed attempts before giving up; 0: forever */
	int64_t backoff_max_ms;		/* cap of the retry backoff */
	int64_t stable_ms;		/* up this long: the backoff starts over */
	int alive_interval, alive_count;	/* 0: from the path's idle timeout */
	const char *check;		/* "tcp:HOST:PORT" or NULL */
	int64_t check_interval_ms, check_timeout_ms;
	int auth_retries;		/* tries after auth-refused when the tunnel was up before */
	int64_t auth_wait_ms;		/* first wait after auth-refused (then x3) */
	int no_relay;			/* do not connect through `sshdoctor relay --wait-path` */
	char **argv;			/* keep's own command line, for --install-unit */
	int argc;
};

/* Fills defaults; opts_parse then overrides. */
void keep_opts_init(struct keep_opts *o);
/* The keepalive keep gives ssh: ServerAliveInterval and CountMax, and where the
 * interval came from ("given", "measured", "assumed"). Pure but for the state read. */
void keep_keepalive(const struct keep_opts *o, int *interval, int *count, const char **source);
/* Runs until stopped (SIGINT/SIGTERM: 0), a cause no retry cures
 * (KEEP_EXIT_STOPPED) or --max-tries (KEEP_EXIT_GAVEUP). */
int keep_run(struct keep_opts *o);
/* The tunnel's default name from the target and forwards. Caller frees. */
char *keep_default_name(const struct keep_opts *o);
/* A valid tunnel/unit name: [A-Za-z0-9_.@-], 1..64 characters. */
int keep_name_valid(const char *name);

/* keep_journal.c: one event to the journal, with SSHDOCTOR_* fields. */
void keep_journal_send(const char *tunnel, const char *msg, int prio, const char *kind,
		       const char *cause, long long downtime_ms);

/* keep_unit.c */
/* Prints every tunnel's state (text or JSON); returns an exit code. */
int keep_status(int json);
/* Writes (atomically) the unit sshdoctor-keep-NAME.service that runs this
 * keep command under systemd; refuses to overwrite a unit it did not write. */
int keep_install_unit(const struct keep_opts *o, const char *name);
int keep_uninstall_unit(const char *name);
/* systemd quoting of one ExecStart word. Caller frees. */
char *keep_unit_quote(const char *word);
/* The unit's text for ExecStart words (pure). Caller frees. */
char *keep_unit_text(const char *name, const char *target, char *const words[], int nwords,
		     int system);

#endif
