/* history_store.c - the flight recorder's SQLite store (see history.h).
 * Many relays write at once: WAL, one short transaction per call, a busy
 * timeout. The schema is versioned with PRAGMA user_version; each migration
 * step runs in its own transaction, so a crash mid-upgrade leaves the old
 * version intact. */
#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "history.h"
#include "state.h"
#include "util.h"

#define BUSY_TIMEOUT_MS 5000

struct history {
	sqlite3 *db;
	char *path;
	char err[256];
};

static const char *const end_names[HE_NEND] = {
	"running", "clean", "server-closed", "reset", "timeout",
	"client-killed", "suspended", "network-changed",
};

const char *hist_end_name(enum hist_end e)
{
	return (unsigned)e < HE_NEND ? end_names[e] : "running";
}

int hist_end_parse(const char *s)
{
	for (int i = 0; s && i < HE_NEND; i++)
		if (!strcmp(s, end_names[i]))
			return i;
	return -1;
}

/* Migrations: index i takes the schema from version i to i + 1. */
static const char *const migrations[HISTORY_SCHEMA_VERSION] = {
	"CREATE TABLE sessions ("
	" id INTEGER PRIMARY KEY,"
	" origin TEXT NOT NULL DEFAULT 'relay',"
	" target TEXT NOT NULL, port TEXT NOT NULL DEFAULT '',"
	" local_addr TEXT NOT NULL DEFAULT '', remote_addr TEXT NOT NULL DEFAULT '',"
	" net_id TEXT NOT NULL DEFAULT '', net_iface TEXT NOT NULL DEFAULT '',"
	" net_src TEXT NOT NULL DEFAULT '', net_gateway TEXT NOT NULL DEFAULT '',"
	" net_gw_mac TEXT NOT NULL DEFAULT '',"
	" start_wall_ms INTEGER NOT NULL, start_mono_ms INTEGER NOT NULL DEFAULT 0,"
	" end_wall_ms INTEGER NOT NULL DEFAULT 0, end_mono_ms INTEGER NOT NULL DEFAULT 0,"
	" bytes_out INTEGER NOT NULL DEFAULT 0, bytes_in INTEGER NOT NULL DEFAULT 0,"
	" longest_idle_ms INTEGER NOT NULL DEFAULT 0,"
	" end_kind TEXT NOT NULL DEFAULT 'running',"
	" end_idle_ms INTEGER NOT NULL DEFAULT 0, suspended_ms INTEGER NOT NULL DEFAULT 0,"
	" end_detail TEXT NOT NULL DEFAULT '',"
	" rtt_us INTEGER NOT NULL DEFAULT 0, rttvar_us INTEGER NOT NULL DEFAULT 0,"
	" retrans_total INTEGER NOT NULL DEFAULT 0, lost INTEGER NOT NULL DEFAULT 0,"
	" pmtu INTEGER NOT NULL DEFAULT 0, snd_mss INTEGER NOT NULL DEFAULT 0,"
	" keepidle_s INTEGER NOT NULL DEFAULT 0, keepintvl_s INTEGER NOT NULL DEFAULT 0,"
	" keepcnt INTEGER NOT NULL DEFAULT 0, user_timeout_ms INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX sessions_target ON sessions(target, start_wall_ms);"
	"CREATE INDEX sessions_net ON sessions(net_id, start_wall_ms);"
	"CREATE TABLE gaps ("
	" id INTEGER PRIMARY KEY,"
	" session INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,"
	" at_wall_ms INTEGER NOT NULL, idle_ms INTEGER NOT NULL,"
	" answered INTEGER NOT NULL CHECK (answered IN (0, 1)));"
	"CREATE INDEX gaps_session ON gaps(session);"
	"CREATE TABLE keep_events ("
	" id INTEGER PRIMARY KEY,"
	" tunnel TEXT NOT NULL, target TEXT NOT NULL, at_wall_ms INTEGER NOT NULL,"
	" kind TEXT NOT NULL, cause TEXT NOT NULL DEFAULT '',"
	" downtime_ms INTEGER NOT NULL DEFAULT 0, detail TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX keep_at ON keep_events(at_wall_ms);",
};

static int fail(struct history *h, const char *what)
{
	snprintf(h->err, sizeof(h->err), "history %s: %s: %s", h->path, what,
		 h->db ? sqlite3_errmsg(h->db) : "cannot open");
	return -1;
}

const char *history_error(const struct history *h)
{
	return h ? h->err : "history: not open";
}

const char *history_path(const struct history *h)
{
	return h->path;
}

char *history_default_path(void)
{
	char *dir = state_dir();
	if (!dir)
		return NULL;
	char *p = xasprintf("%s/history.db", dir);
	free(dir);
	return p;
}

static int user_version(struct history *h, int *v)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(h->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return fail(h, "reading the schema version");
	int rc = sqlite3_step(st);
	*v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : fail(h, "reading the schema version");
}

/* BEGIN IMMEDIATE: take the write lock first, so two relays migrating at
 * once serialise on the busy timeout instead of failing on upgrade. */
static int migrate(struct history *h)
{
	int v;
	if (user_version(h, &v) < 0)
		return -1;
	if (v > HISTORY_SCHEMA_VERSION) {
		snprintf(h->err, sizeof(h->err),
			 "history %s: schema version %d is newer than this sshdoctor knows (%d)",
			 h->path, v, HISTORY_SCHEMA_VERSION);
		return -1;
	}
	while (v < HISTORY_SCHEMA_VERSION) {
		if (sqlite3_exec(h->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
			return fail(h, "locking for the schema upgrade");
		int now;
		if (user_version(h, &now) < 0) {
			sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
		if (now == v) {	/* nobody upgraded it meanwhile */
			char set[64];
			snprintf(set, sizeof(set), "PRAGMA user_version = %d", v + 1);
			if (sqlite3_exec(h->db, migrations[v], NULL, NULL, NULL) != SQLITE_OK ||
			    sqlite3_exec(h->db, set, NULL, NULL, NULL) != SQLITE_OK) {
				fail(h, "upgrading the schema");
				sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
				return -1;
			}
		}
		if (sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
			sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
			return fail(h, "committing the schema upgrade");
		}
		if (user_version(h, &v) < 0)
			return -1;
	}
	return 0;
}

/* WAL is a property of the file, set once. Switching needs an exclusive lock
 * that SQLite does not wait for through the busy handler, so relays creating
 * the store at the same moment retry, bounded (40 x 25 ms). */
static int set_wal(struct history *h)
{
	for (int i = 0; i < 40; i++) {
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(h->db, i ? "PRAGMA journal_mode=WAL" : "PRAGMA journal_mode",
				       -1, &st, NULL) != SQLITE_OK)
			return -1;
		int rc = sqlite3_step(st);
		const unsigned char *mode = rc == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
		int wal = mode && !strcmp((const char *)mode, "wal");
		sqlite3_finalize(st);
		if (wal)
			return 0;
		if (rc != SQLITE_ROW && rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
			return -1;
		if (i)
			usleep(25000);
	}
	return -1;
}

/* As root, a store another user could have written is not ours to trust. */
static int trusted(const char *path, char *err, size_t errlen)
{
	if (geteuid() != 0)
		return 0;
	char *why = NULL;
	if (state_trusted(path, &why) == 0) {
		free(why);
		return 0;
	}
	snprintf(err, errlen, "history %s: %s", path, why ? why : "not trusted");
	free(why);
	return -1;
}

int history_open(struct history **out, const char *path, char *err, size_t errlen)
{
	*out = NULL;
	char *p = path ? xstrdup(path) : history_default_path();
	if (!p) {
		snprintf(err, errlen, "history: no state directory (HOME and XDG_STATE_HOME unset)");
		return -1;
	}
	struct stat sb = { 0 };
	if (lstat(p, &sb) == 0 && !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "history %s: not a regular file", p);
		free(p);
		return -1;
	}
	if (sb.st_mode && trusted(p, err, errlen) < 0) {
		free(p);
		return -1;
	}
	struct history *h = xcalloc(1, sizeof(*h));
	h->path = p;
	mode_t old = umask(077);
	int rc = sqlite3_open_v2(p, &h->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				 SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX, NULL);
	umask(old);
	if (rc != SQLITE_OK) {
		fail(h, "opening");
		goto bad;
	}
	sqlite3_busy_timeout(h->db, BUSY_TIMEOUT_MS);
	/* WAL: readers never block writers; NORMAL sync is crash-safe in WAL
	 * (a power cut may lose the last commit, never corrupt the file) */
	if (set_wal(h) < 0 ||
	    sqlite3_exec(h->db, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;", NULL, NULL,
			 NULL) != SQLITE_OK) {
		fail(h, "not a usable database");
		goto bad;
	}
	if (migrate(h) < 0)
		goto bad;
	*out = h;
	return 0;
bad:
	snprintf(err, errlen, "%s", h->err);
	history_close(h);
	return -1;
}

void history_close(struct history *h)
{
	if (!h)
		return;
	sqlite3_close(h->db);
	free(h->path);
	free(h);
}

/* Binds a run of values by a tiny format: 't' text, 'i' int64. */
static int bind_all(sqlite3_stmt *st, const char *fmt, va_list ap)
{
	for (int i = 0; fmt[i]; i++) {
		int rc = fmt[i] == 't' ? sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1,
							   SQLITE_TRANSIENT)
					: sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
		if (rc != SQLITE_OK)
			return -1;
	}
	return 0;
}

/* One statement, its own implicit transaction. */
static int exec1(struct history *h, const char *what, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) != SQLITE_OK)
		return fail(h, what);
	va_list ap;
	va_start(ap, fmt);
	int rc = bind_all(st, fmt, ap);
	va_end(ap);
	if (rc == 0)
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(st);
	return rc < 0 ? fail(h, what) : 0;
}

#define SESSION_COLS                                                                     \
	"origin, target, port, local_addr, remote_addr, net_id, net_iface, net_src,"      \
	" net_gateway, net_gw_mac, start_wall_ms, start_mono_ms, end_wall_ms, end_mono_ms," \
	" bytes_out, bytes_in, longest_idle_ms, end_kind, end_idle_ms, suspended_ms,"     \
	" end_detail, rtt_us, rttvar_us, retrans_total, lost, pmtu, snd_mss, keepidle_s,"  \
	" keepintvl_s, keepcnt, user_timeout_ms"
#define SESSION_FMT "ttttttttttiiiiiiitiitiiiiiiiiii"
#define SESSION_ARGS(s)                                                                   \
	(s)->origin[0] ? (s)->origin : "relay", (s)->target, (s)->port, (s)->local_addr,  \
	(s)->remote_addr, (s)->net.id, (s)->net.iface, (s)->net.src, (s)->net.gateway,     \
	(s)->net.gw_mac, (s)->start_wall_ms, (s)->start_mono_ms, (s)->end_wall_ms,          \
	(s)->end_mono_ms, (s)->bytes_out, (s)->bytes_in, (s)->longest_idle_ms,              \
	hist_end_name((s)->end), (s)->end_idle_ms, (s)->suspended_ms, (s)->end_detail,      \
	(s)->rtt_us, (s)->rttvar_us, (s)->retrans_total, (s)->lost, (s)->pmtu, (s)->snd_mss, \
	(int64_t)(s)->keepidle_s, (int64_t)(s)->keepintvl_s, (int64_t)(s)->keepcnt,         \
	(int64_t)(s)->user_timeout_ms

int history_session_begin(struct history *h, struct hist_session *s)
{
	if (exec1(h, "recording a session",
		  "INSERT INTO sessions (" SESSION_COLS ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
		  "?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
		  SESSION_FMT, SESSION_ARGS(s)) < 0)
		return -1;
	s->id = sqlite3_last_insert_rowid(h->db);
	return 0;
}

int history_session_update(struct history *h, const struct hist_session *s)
{
	return exec1(h, "updating a session",
		     "UPDATE sessions SET (" SESSION_COLS ") = (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
		     "?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) WHERE id = ?",
		     SESSION_FMT "i", SESSION_ARGS(s), s->id);
}

int history_gap_add(struct history *h, const struct hist_gap *g)
{
	return exec1(h, "recording an idle gap",
		     "INSERT INTO gaps (session, at_wall_ms, idle_ms, answered) VALUES (?,?,?,?)",
		     "iiii", g->session, g->at_wall_ms, g->idle_ms, (int64_t)(g->answered ? 1 : 0));
}

int history_keep_add(struct history *h, struct hist_keep *k)
{
	if (exec1(h, "recording a tunnel event",
		  "INSERT INTO keep_events (tunnel, target, at_wall_ms, kind, cause, downtime_ms,"
		  " detail) VALUES (?,?,?,?,?,?,?)",
		  "ttittit", k->tunnel, k->target, k->at_wall_ms,
		  k->kind, k->cause, k->downtime_ms, k->detail) < 0)
		return -1;
	k->id = sqlite3_last_insert_rowid(h->db);
	return 0;
}

int history_prune(struct history *h, int64_t max)
{
	if (max <= 0) {
		const char *e = getenv("SSHDOCTOR_HISTORY_MAX");
		char *end = NULL;
		long long v = e ? strtoll(e, &end, 10) : 0;
		max = e && *e && end && !*end && v > 0 ? v : HISTORY_MAX_SESSIONS_DEFAULT;
	}
	if (sqlite3_exec(h->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return fail(h, "locking for pruning");
	int rc = exec1(h, "pruning sessions",
		       "DELETE FROM sessions WHERE id NOT IN"
		       " (SELECT id FROM sessions ORDER BY start_wall_ms DESC, id DESC LIMIT ?)",
		       "i", max);
	int removed = rc == 0 ? sqlite3_changes(h->db) : -1;
	if (rc == 0)
		rc = exec1(h, "pruning tunnel events",
			   "DELETE FROM keep_events WHERE at_wall_ms <"
			   " (SELECT COALESCE(MIN(start_wall_ms), 0) FROM sessions)"
			   " AND (SELECT COUNT(*) FROM sessions) >= ?", "i", max);
	if (rc == 0 && sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
		return removed;
	fail(h, "pruning");
	sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* --- readers ------------------------------------------------------------------- */

static void col_text(sqlite3_stmt *st, int i, char *dst, size_t n)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	snprintf(dst, n, "%s", t ? (const char *)t : "");
}

static void row_session(sqlite3_stmt *st, int base, struct hist_session *s)
{
	char kind[32];
	int i = base;
	memset(s, 0, sizeof(*s));
	s->id = sqlite3_column_int64(st, i++);
	col_text(st, i++, s->origin, sizeof(s->origin));
	col_text(st, i++, s->target, sizeof(s->target));
	col_text(st, i++, s->port, sizeof(s->port));
	col_text(st, i++, s->local_addr, sizeof(s->local_addr));
	col_text(st, i++, s->remote_addr, sizeof(s->remote_addr));
	col_text(st, i++, s->net.id, sizeof(s->net.id));
	col_text(st, i++, s->net.iface, sizeof(s->net.iface));
	col_text(st, i++, s->net.src, sizeof(s->net.src));
	col_text(st, i++, s->net.gateway, sizeof(s->net.gateway));
	col_text(st, i++, s->net.gw_mac, sizeof(s->net.gw_mac));
	s->start_wall_ms = sqlite3_column_int64(st, i++);
	s->start_mono_ms = sqlite3_column_int64(st, i++);
	s->end_wall_ms = sqlite3_column_int64(st, i++);
	s->end_mono_ms = sqlite3_column_int64(st, i++);
	s->bytes_out = sqlite3_column_int64(st, i++);
	s->bytes_in = sqlite3_column_int64(st, i++);
	s->longest_idle_ms = sqlite3_column_int64(st, i++);
	col_text(st, i++, kind, sizeof(kind));
	int e = hist_end_parse(kind);
	s->end = e < 0 ? HE_RUNNING : (enum hist_end)e;
	s->end_idle_ms = sqlite3_column_int64(st, i++);
	s->suspended_ms = sqlite3_column_int64(st, i++);
	col_text(st, i++, s->end_detail, sizeof(s->end_detail));
	s->rtt_us = sqlite3_column_int64(st, i++);
	s->rttvar_us = sqlite3_column_int64(st, i++);
	s->retrans_total = sqlite3_column_int64(st, i++);
	s->lost = sqlite3_column_int64(st, i++);
	s->pmtu = sqlite3_column_int64(st, i++);
	s->snd_mss = sqlite3_column_int64(st, i++);
	s->keepidle_s = sqlite3_column_int(st, i++);
	s->keepintvl_s = sqlite3_column_int(st, i++);
	s->keepcnt = sqlite3_column_int(st, i++);
	s->user_timeout_ms = sqlite3_column_int(st, i++);
}

/* The WHERE clause of a query on sessions (alias s), bound from index 1. */
static const char *const where_sql =
	" WHERE (?1 IS NULL OR s.target = ?1) AND (?2 IS NULL OR s.net_id = ?2)"
	" AND s.start_wall_ms >= ?3";

static int bind_query(sqlite3_stmt *st, const struct hist_query *q)
{
	if ((q && q->target ? sqlite3_bind_text(st, 1, q->target, -1, SQLITE_TRANSIENT)
			    : sqlite3_bind_null(st, 1)) != SQLITE_OK ||
	    (q && q->network ? sqlite3_bind_text(st, 2, q->network, -1, SQLITE_TRANSIENT)
			     : sqlite3_bind_null(st, 2)) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 3, q ? q->since_wall_ms : 0) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 4, q && q->limit > 0 ? q->limit : -1) != SQLITE_OK)
		return -1;
	return 0;
}

/* Steps st; for each row calls row(st, arg). Returns 0, or -1 on an error. */
static int walk(struct history *h, const char *what, const char *sql, const struct hist_query *q,
		int (*row)(sqlite3_stmt *, void *), void *arg)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) != SQLITE_OK)
		return fail(h, what);
	if (bind_query(st, q) < 0) {
		sqlite3_finalize(st);
		return fail(h, what);
	}
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (row(st, arg)) {
			rc = SQLITE_DONE;
			break;
		}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : fail(h, what);
}

struct walk_ctx {
	hist_session_cb scb;
	hist_gap_cb gcb;
	hist_keep_cb kcb;
	void *arg;
};

static int session_row(sqlite3_stmt *st, void *arg)
{
	struct walk_ctx *w = arg;
	struct hist_session s;
	row_session(st, 0, &s);
	return w->scb(&s, w->arg);
}

int history_sessions(struct history *h, const struct hist_query *q, hist_session_cb cb, void *arg)
{
	struct walk_ctx w = { .scb = cb, .arg = arg };
	char *sql = xasprintf("SELECT s.id, %s FROM sessions s%s ORDER BY s.start_wall_ms DESC,"
			      " s.id DESC LIMIT ?4", SESSION_COLS, where_sql);
	int rc = walk(h, "reading sessions", sql, q, session_row, &w);
	free(sql);
	return rc;
}

static int gap_row(sqlite3_stmt *st, void *arg)
{
	struct walk_ctx *w = arg;
	struct hist_gap g = { sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
			      sqlite3_column_int64(st, 2), sqlite3_column_int(st, 3) };
	struct hist_session s;
	row_session(st, 4, &s);
	return w->gcb(&g, &s, w->arg);
}

int history_gaps(struct history *h, const struct hist_query *q, hist_gap_cb cb, void *arg)
{
	struct walk_ctx w = { .gcb = cb, .arg = arg };
	/* the limit counts sessions, as in history_sessions */
	char *sql = xasprintf("SELECT g.session, g.at_wall_ms, g.idle_ms, g.answered, s.id, %s"
			      " FROM gaps g JOIN (SELECT * FROM sessions s%s ORDER BY"
			      " s.start_wall_ms DESC, s.id DESC LIMIT ?4) s ON g.session = s.id"
			      " ORDER BY g.at_wall_ms DESC, g.id DESC", SESSION_COLS, where_sql);
	int rc = walk(h, "reading idle gaps", sql, q, gap_row, &w);
	free(sql);
	return rc;
}

static int keep_row(sqlite3_stmt *st, void *arg)
{
	struct walk_ctx *w = arg;
	struct hist_keep k = { 0 };
	k.id = sqlite3_column_int64(st, 0);
	col_text(st, 1, k.tunnel, sizeof(k.tunnel));
	col_text(st, 2, k.target, sizeof(k.target));
	k.at_wall_ms = sqlite3_column_int64(st, 3);
	col_text(st, 4, k.kind, sizeof(k.kind));
	col_text(st, 5, k.cause, sizeof(k.cause));
	k.downtime_ms = sqlite3_column_int64(st, 6);
	col_text(st, 7, k.detail, sizeof(k.detail));
	return w->kcb(&k, w->arg);
}

int history_keeps(struct history *h, const struct hist_query *q, hist_keep_cb cb, void *arg)
{
	struct walk_ctx w = { .kcb = cb, .arg = arg };
	/* ?2 (network) does not apply to tunnel events; it is bound and ignored */
	return walk(h, "reading tunnel events",
		    "SELECT id, tunnel, target, at_wall_ms, kind, cause, downtime_ms, detail"
		    " FROM keep_events WHERE (?1 IS NULL OR target = ?1) AND (?2 IS NULL OR 1)"
		    " AND at_wall_ms >= ?3 ORDER BY at_wall_ms DESC, id DESC LIMIT ?4",
		    q, keep_row, &w);
}
