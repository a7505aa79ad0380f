/* history.h - the flight recorder's store: every ssh session the relay saw,
 * how it ended, the idle gaps it crossed, and keep's falls and recoveries.
 * SQLite (WAL, short transactions, busy timeout) at
 * $XDG_STATE_HOME/sshdoctor/history.db, so many relays can write at once.
 * This is the seam of the always-on parts: writers (relay watcher, keep) and
 * readers (history, doctor, metrics) meet only here. A store that cannot be
 * opened or written is never fatal to a session: callers degrade and say so. */
#ifndef SSHDOCTOR_HISTORY_H
#define SSHDOCTOR_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#define HISTORY_SCHEMA_VERSION 1
#define HISTORY_MAX_SESSIONS_DEFAULT 20000	/* older sessions are pruned */

enum hist_end {
	HE_RUNNING = 0,		/* not ended yet (or the watcher died: see end_detail) */
	HE_CLEAN,		/* ssh closed after a normal disconnect */
	HE_SERVER_CLOSED,	/* FIN from the server while ssh was still running */
	HE_RESET,		/* RST, from the server or a middlebox */
	HE_TIMEOUT,		/* data unanswered until TCP_USER_TIMEOUT / keepalive gave up */
	HE_CLIENT_KILLED,	/* ssh vanished without closing */
	HE_SUSPENDED,		/* the machine slept during the session */
	HE_NETWORK_CHANGED,	/* source address or default route changed under it */
	HE_NEND
};
const char *hist_end_name(enum hist_end e);	/* "clean", "server-closed", ... */
int hist_end_parse(const char *s);		/* -1 when unknown */

/* The local network a session ran on: enough to tell home from office. */
struct hist_net {
	char id[80];		/* stable id, e.g. "gw-192.0.2.1-02:00:00:00:00:01" */
	char iface[32];
	char src[64];		/* source address */
	char gateway[64];
	char gw_mac[32];
};

struct hist_session {
	int64_t id;		/* set by history_session_begin */
	char origin[16];	/* "relay", "keep", ... */
	char target[256];	/* what the user typed (%h) */
	char port[16];
	char local_addr[64];	/* "addr port" */
	char remote_addr[64];
	struct hist_net net;
	int64_t start_wall_ms, start_mono_ms;
	int64_t end_wall_ms, end_mono_ms;	/* 0 while running */
	int64_t bytes_out, bytes_in;		/* tcpi_bytes_acked / _received */
	int64_t longest_idle_ms;
	enum hist_end end;
	int64_t end_idle_ms;	/* idle before the end (server-closed, timeout, reset) */
	int64_t suspended_ms;	/* HE_SUSPENDED: how long the machine slept */
	char end_detail[256];
	/* TCP_INFO at the end */
	int64_t rtt_us, rttvar_us, retrans_total, lost, pmtu, snd_mss;
	/* what the relay set on the socket (0: not set) */
	int keepidle_s, keepintvl_s, keepcnt, user_timeout_ms;
};

/* Passive idle-timeout evidence: data sent after an idle gap, answered or not. */
struct hist_gap {
	int64_t session;
	int64_t at_wall_ms;
	int64_t idle_ms;
	int answered;		/* 1: acked (the path kept the flow), 0: never acked */
};

/* keep's tunnel events */
struct hist_keep {
	int64_t id;
	char tunnel[128];	/* keep's name for it */
	char target[256];
	int64_t at_wall_ms;
	char kind[16];		/* "up", "fall", "giveup" */
	char cause[64];		/* e.g. "auth-refused", "path-silent", "forward-held" */
	int64_t downtime_ms;	/* "up": how long it was down */
	char detail[256];
};

struct history;

/* Opens (creating, migrating) the store at path, or the default when path is
 * NULL. The directory is created 0700; as root, refused unless state_trusted.
 * Returns 0, or -1 with a one-line reason in err. */
int history_open(struct history **out, const char *path, char *err, size_t errlen);
void history_close(struct history *h);
const char *history_path(const struct history *h);
char *history_default_path(void);	/* caller frees; NULL without HOME */

/* Writers. Each is one short transaction; -1 on failure (history_error says why). */
int history_session_begin(struct history *h, struct hist_session *s);	/* sets s->id */
int history_session_update(struct history *h, const struct hist_session *s);	/* end etc. */
int history_gap_add(struct history *h, const struct hist_gap *g);
int history_keep_add(struct history *h, struct hist_keep *k);		/* sets k->id */
/* Keeps at most max_sessions (0: HISTORY_MAX_SESSIONS_DEFAULT or $SSHDOCTOR_HISTORY_MAX),
 * the newest; their gaps go with them. keep events older than the oldest kept session
 * go too. Returns the number of sessions removed, or -1. */
int history_prune(struct history *h, int64_t max_sessions);
const char *history_error(const struct history *h);

/* Readers: newest first. A callback returning non-zero stops the walk. */
struct hist_query {
	const char *target;	/* NULL: all */
	const char *network;	/* hist_net.id, NULL: all */
	int64_t since_wall_ms;	/* 0: all */
	int limit;		/* 0: no limit */
};
typedef int (*hist_session_cb)(const struct hist_session *s, void *arg);
typedef int (*hist_gap_cb)(const struct hist_gap *g, const struct hist_session *s, void *arg);
typedef int (*hist_keep_cb)(const struct hist_keep *k, void *arg);
int history_sessions(struct history *h, const struct hist_query *q, hist_session_cb cb, void *arg);
/* gaps of the sessions q selects, each with its session */
int history_gaps(struct history *h, const struct hist_query *q, hist_gap_cb cb, void *arg);
int history_keeps(struct history *h, const struct hist_query *q, hist_keep_cb cb, void *arg);

#endif
