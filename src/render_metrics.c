/* render_metrics.c - a report as metrics in the Prometheus text exposition format.
 *
 * The source is the report's JSON (report_to_json()), the public contract, so a
 * new finding id or measurement field needs no change here: findings become
 * sshdoctor_finding series as they come, unknown measurement fields are ignored
 * and a missing one leaves its metric out. Every metric is declared once in
 * METRICS below; samples are collected per family and printed family by family,
 * so HELP/TYPE appear once, and a series seen twice is merged, never repeated.
 * Every series carries command="...": files of several commands in one textfile
 * directory must never produce the same series (node_exporter fails the scrape). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "render_metrics.h"

enum mtype { MT_GAUGE, MT_COUNTER, MT_SUMMARY };

/* id, name, type, unit (the name's base-unit suffix, "" for none), help */
#define METRICS(X)                                                                                 \
	X(M_STATUS, "sshdoctor_status", GAUGE, "",                                                 \
	  "Result of the run: 0 ok, 1 warning, 2 critical, 3 unknown (the exit code)")             \
	X(M_LAST_RUN, "sshdoctor_last_run_timestamp_seconds", GAUGE, "seconds",                    \
	  "When the run ended, seconds since the Unix epoch")                                      \
	X(M_TARGET, "sshdoctor_target_info", GAUGE, "",                                            \
	  "The effective host, port and user of the target (from ssh -G); always 1")               \
	X(M_FINDING, "sshdoctor_finding", GAUGE, "",                                               \
	  "Findings of the run by id and severity (see sshdoctor(1)); the value counts them")      \
	X(M_CONN_PHASE, "sshdoctor_connect_phase_seconds", GAUGE, "seconds",                       \
	  "Duration of an establishment phase probed by connect (dns, tcp, banner, kex)")          \
	X(M_CONN_RESULT, "sshdoctor_connect_phase_result", GAUGE, "",                              \
	  "Outcome of an establishment phase (e.g. tcp refused|filtered|connected); always 1")     \
	X(M_CONN_LOGIN, "sshdoctor_connect_login_phase_seconds", GAUGE, "seconds",                 \
	  "Duration of a phase of the user's own ssh login, read from ssh -vvv (total = all)")     \
	X(M_CONN_EST, "sshdoctor_connect_established", GAUGE, "",                                  \
	  "1 when the connection was established (and the login worked, unless --no-login)")       \
	X(M_IDLE_TIMEOUT, "sshdoctor_idle_timeout_seconds", GAUGE, "seconds",                      \
	  "Idle timeout of the path: lower bound (longest idle survived), upper (shortest died)")  \
	X(M_IDLE_FOUND, "sshdoctor_idle_timeout_found", GAUGE, "",                                 \
	  "1 when idle found a timeout within --max, 0 when every idle connection survived")       \
	X(M_IDLE_EXPIRY, "sshdoctor_idle_expiry_info", GAUGE, "",                                  \
	  "How an idle connection died: silent-drop, reset or closed; always 1")                   \
	X(M_IDLE_SKA, "sshdoctor_idle_server_keepalive_seconds", GAUGE, "seconds",                 \
	  "Interval of the server's keepalives seen during idle (they hide longer timeouts)")      \
	X(M_IDLE_ELAPSED, "sshdoctor_idle_elapsed_seconds", GAUGE, "seconds",                      \
	  "How long the idle measurement ran")                                                     \
	X(M_IDLE_CONNS, "sshdoctor_idle_connections", GAUGE, "",                                   \
	  "Idle connections opened by the measurement")                                            \
	X(M_AU_KA_INT, "sshdoctor_audit_keepalive_interval_seconds", GAUGE, "seconds",             \
	  "Effective ServerAliveInterval (side=client) or ClientAliveInterval (side=server); 0 off") \
	X(M_AU_KA_MAX, "sshdoctor_audit_keepalive_count_max", GAUGE, "",                           \
	  "Effective ServerAliveCountMax (client) or ClientAliveCountMax (server)")                \
	X(M_AU_TCPKA, "sshdoctor_audit_tcp_keepalive_enabled", GAUGE, "",                          \
	  "1 when TCPKeepAlive is yes on that side")                                               \
	X(M_AU_DETECT, "sshdoctor_audit_dead_peer_detection_seconds", GAUGE, "seconds",            \
	  "Time to detect a dead peer: keepalive Interval x (CountMax+1)")                         \
	X(M_AU_IDLE, "sshdoctor_audit_idle_timeout_seconds", GAUGE, "seconds",                     \
	  "Idle timeout of the path the settings were judged against, by source")                  \
	X(M_AU_PRESCR, "sshdoctor_audit_prescribed_keepalive_interval_seconds", GAUGE, "seconds",  \
	  "Keepalive interval audit prescribes for that idle timeout")                             \
	X(M_AU_GRACE, "sshdoctor_audit_login_grace_time_seconds", GAUGE, "seconds",                \
	  "Effective LoginGraceTime of sshd")                                                      \
	X(M_AU_AUTHTRIES, "sshdoctor_audit_max_auth_tries", GAUGE, "",                             \
	  "Effective MaxAuthTries of sshd")                                                        \
	X(M_AU_STARTUPS, "sshdoctor_audit_max_startups", GAUGE, "",                                \
	  "Effective MaxStartups of sshd, field start:rate:full")                                  \
	X(M_AU_KERNEL, "sshdoctor_audit_kernel_setting", GAUGE, "",                                \
	  "A kernel setting audit read, as sysctl net.ipv4.<name> shows it")                       \
	X(M_LOG_EVENTS, "sshdoctor_logs_events_total", COUNTER, "",                                \
	  "Disconnect and failure events in the logs the run read, by event id")                   \
	X(M_LOG_ENDS, "sshdoctor_logs_session_ends_total", COUNTER, "",                            \
	  "Sessions in the logs the run read, by the event that ended them")                       \
	X(M_LOG_DUR, "sshdoctor_logs_session_duration_seconds", SUMMARY, "seconds",                \
	  "Duration of the sessions in the logs the run read (quantile 1 is the maximum)")         \
	X(M_LOG_OPEN, "sshdoctor_logs_sessions_open", GAUGE, "",                                   \
	  "Sessions still open at the end of the logs")                                            \
	X(M_LOG_LINES, "sshdoctor_logs_lines_total", COUNTER, "",                                  \
	  "Lines the run read (kind=all), of them from ssh/sshd (ssh), not classified (unrecognized)") \
	X(M_PATH_RTT, "sshdoctor_path_rtt_seconds", GAUGE, "seconds",                              \
	  "Round-trip time of the path to the SSH port, by statistic")                             \
	X(M_PATH_JITTER, "sshdoctor_path_jitter_seconds", GAUGE, "seconds",                        \
	  "Mean difference of consecutive round trips")                                            \
	X(M_PATH_LOSS, "sshdoctor_path_loss_ratio", GAUGE, "ratio",                                \
	  "Packet loss of the path, 0 to 1 (handshakes and echoes)")                               \
	X(M_PATH_LLOAD, "sshdoctor_path_loss_under_load_ratio", GAUGE, "ratio",                    \
	  "Loss under load in the session, 0 to 1 (TCP retransmissions per data segment)")         \
	X(M_PATH_MTU, "sshdoctor_path_mtu_bytes", GAUGE, "bytes",                                  \
	  "Path MTU as the kernel learnt it (or the largest size known to pass a black hole)")     \
	X(M_PATH_ECHO, "sshdoctor_path_largest_echo_bytes", GAUGE, "bytes",                        \
	  "Largest echo that passed through the session in the black-hole test")                   \
	X(M_PATH_BH, "sshdoctor_path_mtu_blackhole", GAUGE, "",                                    \
	  "1 when big packets vanish on the path (an MTU black hole)")                             \
	X(M_DOC_CAUSE, "sshdoctor_doctor_cause", GAUGE, "",                                        \
	  "A cause doctor ranked, with its confidence; always 1")                                  \
	X(M_DOC_VERIFIED, "sshdoctor_doctor_verified", GAUGE, "",                                  \
	  "1 when --verify proved an idle session survives after the fix, 0 when it did not")      \
	X(M_HIST_SESSIONS, "sshdoctor_history_sessions_total", COUNTER, "",                        \
	  "Sessions the flight recorder holds for the selection, by network")                      \
	X(M_HIST_DEATHS, "sshdoctor_history_deaths_total", COUNTER, "",                            \
	  "Recorded sessions that died, by network and cause (how the session ended)")             \
	X(M_HIST_IDLE, "sshdoctor_history_idle_timeout_seconds", GAUGE, "seconds",                 \
	  "Idle timeout of a network's path learned from recorded sessions: lower (longest idle answered), upper (shortest lost)") \
	X(M_HIST_SAMPLES, "sshdoctor_history_idle_timeout_samples", GAUGE, "",                     \
	  "Idle writes behind the learned bounds: answered (lower), unanswered or idle deaths (upper)")

enum metric_id {
#define X(id, name, type, unit, help) id,
	METRICS(X)
#undef X
	M_COUNT
};

struct metric_def {
	const char *name;
	enum mtype type;
	const char *unit;
	const char *help;
};

static const struct metric_def defs[] = {
#define X(id, name, type, unit, help) { name, MT_##type, unit, help },
	METRICS(X)
#undef X
};

/* --- collecting series ---------------------------------------------------- */

struct series {
	char *key;	/* sample name + "{labels}", the identity of the series */
	double v;
};

struct family {
	struct series *s;
	size_t n, cap;
};

struct mset {
	const char *command;
	struct family fam[M_COUNT];
	struct { uint64_t h; int fam; size_t idx; } *slot;	/* open addressing */
	size_t nslot, used;
};

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h | 1;	/* 0 marks a free slot */
}

static void grow(struct mset *ms)
{
	size_t n = ms->nslot ? ms->nslot * 2 : 256;
	__typeof__(ms->slot) old = ms->slot;
	size_t oldn = ms->nslot;
	ms->slot = xcalloc(n, sizeof(*ms->slot));
	ms->nslot = n;
	for (size_t i = 0; i < oldn; i++) {
		if (!old[i].h)
			continue;
		size_t j = old[i].h & (n - 1);
		while (ms->slot[j].h)
			j = (j + 1) & (n - 1);
		ms->slot[j] = old[i];
	}
	free(old);
}

/* Label values: backslash, quote and newline escaped; bytes that are not valid
 * UTF-8 become '?' (the text format requires UTF-8). */
static void add_label_value(struct strbuf *sb, const char *v)
{
	const unsigned char *p = (const unsigned char *)v;
	while (*p) {
		if (*p == '\\' || *p == '"') {
			char e[2] = { '\\', (char)*p };
			sb_add(sb, e, 2);
			p++;
			continue;
		}
		if (*p == '\n') {
			sb_adds(sb, "\\n");
			p++;
			continue;
		}
		if (*p < 0x80) {
			sb_add(sb, p, 1);
			p++;
			continue;
		}
		size_t len = *p >= 0xf0 && *p < 0xf5 ? 4 : *p >= 0xe0 ? 3 : *p >= 0xc2 && *p < 0xe0 ? 2 : 0;
		size_t k = 1;
		while (len && k < len && (p[k] & 0xc0) == 0x80)
			k++;
		if (!len || k < len || (len == 3 && *p == 0xe0 && p[1] < 0xa0) ||
		    (len == 3 && *p == 0xed && p[1] >= 0xa0) || (len == 4 && *p == 0xf0 && p[1] < 0x90) ||
		    (len == 4 && *p == 0xf4 && p[1] >= 0x90)) {
			sb_adds(sb, "?");
			p++;
			continue;
		}
		sb_add(sb, p, len);
		p += len;
	}
}

/* Adds (or, merge != 0, adds to) one sample. Labels are name/value pairs ending
 * with NULL; a NULL or empty value leaves its label out (as Prometheus does). */
static void vsample(struct mset *ms, enum metric_id id, const char *suffix, int merge, double v,
		    va_list ap)
{
	struct strbuf k = { 0 };
	sb_adds(&k, defs[id].name);
	sb_adds(&k, suffix);
	sb_adds(&k, "{command=\"");
	add_label_value(&k, ms->command);
	sb_adds(&k, "\"");
	const char *name;
	while ((name = va_arg(ap, const char *))) {
		const char *val = va_arg(ap, const char *);
		if (!val || !*val)
			continue;
		sb_addf(&k, ",%s=\"", name);
		add_label_value(&k, val);
		sb_adds(&k, "\"");
	}
	sb_adds(&k, "}");

	if (2 * (ms->used + 1) > ms->nslot)
		grow(ms);
	uint64_t h = fnv(k.buf);
	size_t j = h & (ms->nslot - 1);
	for (; ms->slot[j].h; j = (j + 1) & (ms->nslot - 1)) {
		struct series *s = &ms->fam[ms->slot[j].fam].s[ms->slot[j].idx];
		if (ms->slot[j].h == h && !strcmp(s->key, k.buf)) {
			if (merge)
				s->v += v;	/* else the first value stands */
			sb_free(&k);
			return;
		}
	}
	struct family *f = &ms->fam[id];
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 8;
		f->s = xrealloc(f->s, f->cap * sizeof(*f->s));
	}
	f->s[f->n] = (struct series){ k.buf, v };
	ms->slot[j].h = h;
	ms->slot[j].fam = (int)id;
	ms->slot[j].idx = f->n++;
	ms->used++;
}

static void sample(struct mset *ms, enum metric_id id, double v, ...)
{
	va_list ap;
	va_start(ap, v);
	vsample(ms, id, "", 0, v, ap);
	va_end(ap);
}

static void sample_sfx(struct mset *ms, enum metric_id id, const char *suffix, double v, ...)
{
	va_list ap;
	va_start(ap, v);
	vsample(ms, id, suffix, 0, v, ap);
	va_end(ap);
}

static void count(struct mset *ms, enum metric_id id, double v, ...)
{
	va_list ap;
	va_start(ap, v);
	vsample(ms, id, "", 1, v, ap);
	va_end(ap);
}

static void add_value(struct strbuf *sb, double v)
{
	if (isnan(v))
		sb_adds(sb, "NaN");
	else if (isinf(v))
		sb_adds(sb, v > 0 ? "+Inf" : "-Inf");
	else if (v > -1e15 && v < 1e15 && v == (double)(long long)v)	/* no libm */
		sb_addf(sb, "%.0f", v);
	else
		sb_addf(sb, "%.9g", v);
}

/* HELP text escapes backslash and newline only. */
static void add_help(struct strbuf *sb, const char *h)
{
	for (; *h; h++) {
		if (*h == '\\')
			sb_adds(sb, "\\\\");
		else if (*h == '\n')
			sb_adds(sb, "\\n");
		else
			sb_add(sb, h, 1);
	}
}

static char *mset_print(struct mset *ms)
{
	static const char *const tname[] = { "gauge", "counter", "summary" };
	struct strbuf sb = { 0 };
	sb_adds(&sb, "");
	for (int i = 0; i < M_COUNT; i++) {
		struct family *f = &ms->fam[i];
		if (!f->n)
			continue;
		sb_addf(&sb, "# HELP %s ", defs[i].name);
		add_help(&sb, defs[i].help);
		sb_addf(&sb, "\n# TYPE %s %s\n", defs[i].name, tname[defs[i].type]);
		for (size_t j = 0; j < f->n; j++) {
			sb_adds(&sb, f->s[j].key);
			sb_adds(&sb, " ");
			add_value(&sb, f->s[j].v);
			sb_adds(&sb, "\n");
		}
	}
	return sb.buf;
}

static void mset_free(struct mset *ms)
{
	for (int i = 0; i < M_COUNT; i++) {
		for (size_t j = 0; j < ms->fam[i].n; j++)
			free(ms->fam[i].s[j].key);
		free(ms->fam[i].s);
	}
	free(ms->slot);
}

/* --- reading the JSON, tolerantly ----------------------------------------- */

static struct json_object *jget(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static int jnum(struct json_object *o, const char *key, double *out)
{
	struct json_object *v = key ? jget(o, key) : o;
	if (v && (json_object_is_type(v, json_type_int) ||
		  json_object_is_type(v, json_type_double))) {
		*out = json_object_get_double(v);
		return 1;
	}
	if (v && json_object_is_type(v, json_type_boolean)) {
		*out = json_object_get_boolean(v) ? 1 : 0;
		return 1;
	}
	return 0;
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v = jget(o, key);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static size_t jlen(struct json_object *a)
{
	return a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

/* A value under key (scaled) as one sample with one optional extra label. */
static void num_sample(struct mset *ms, enum metric_id id, struct json_object *o, const char *key,
		       double scale, const char *target, const char *lname, const char *lval)
{
	double v;
	if (jnum(o, key, &v))
		sample(ms, id, v * scale, "target", target, lname ? lname : "", lval, (char *)NULL);
}

/* host:port, [v6]:port */
static char *target_label(const char *host, double port)
{
	if (!host)
		return xstrdup("");
	if (strchr(host, ':'))
		return xasprintf("[%s]:%.0f", host, port);
	return xasprintf("%s:%.0f", host, port);
}

/* --- one mapper per measurement ------------------------------------------- */

static void map_connect_one(struct mset *ms, struct json_object *e, const char *target)
{
	struct json_object *ph = jget(e, "phases");
	for (size_t i = 0; i < jlen(ph); i++) {
		struct json_object *p = json_object_array_get_idx(ph, i);
		const char *name = jstr(p, "name"), *res = jstr(p, "result");
		double v;
		if (!name)
			continue;
		if (jnum(p, "us", &v))
			sample(ms, M_CONN_PHASE, v / 1e6, "target", target, "phase", name, (char *)NULL);
		else if (jnum(p, "ms", &v) && v >= 0)
			sample(ms, M_CONN_PHASE, v / 1e3, "target", target, "phase", name, (char *)NULL);
		if (res)
			sample(ms, M_CONN_RESULT, 1, "target", target, "phase", name, "result", res,
			       (char *)NULL);
	}
	struct json_object *lg = jget(e, "login");
	if (lg && json_object_is_type(lg, json_type_object)) {
		json_object_object_foreach(lg, k, v) {
			double d;
			size_t kl = strlen(k);
			if (!jnum(v, NULL, &d) || d < 0 || json_object_is_type(v, json_type_boolean))
				continue;
			if (!strcmp(k, "total_ms"))
				sample(ms, M_CONN_LOGIN, d / 1e3, "target", target, "phase", "total",
				       (char *)NULL);
			else if (kl < 3 || strcmp(k + kl - 3, "_ms"))	/* phases are in ms */
				if (strcmp(k, "keys_offered"))
					sample(ms, M_CONN_LOGIN, d / 1e3, "target", target, "phase", k,
					       (char *)NULL);
		}
	}
	num_sample(ms, M_CONN_EST, e, "established", 1, target, NULL, NULL);
}

static char *connect_target(struct json_object *e)
{
	double port = 22;
	jnum(e, "port", &port);
	return target_label(jstr(e, "hostname") ? jstr(e, "hostname") : jstr(e, "target"), port);
}

static void map_connect(struct mset *ms, struct json_object *m, const char *target)
{
	if (json_object_is_type(m, json_type_array)) {
		for (size_t i = 0; i < jlen(m); i++) {
			struct json_object *e = json_object_array_get_idx(m, i);
			char *t = connect_target(e);
			map_connect_one(ms, e, t);
			free(t);
		}
	} else {
		map_connect_one(ms, m, target);
	}
}

static void map_idle(struct mset *ms, struct json_object *m, const char *target)
{
	const char *via = jstr(m, "via");
	num_sample(ms, M_IDLE_TIMEOUT, m, "lower_s", 1, target, "bound", "lower");
	num_sample(ms, M_IDLE_TIMEOUT, m, "upper_s", 1, target, "bound", "upper");
	num_sample(ms, M_IDLE_FOUND, m, "found", 1, target, "via", via);
	if (jstr(m, "expiry"))
		sample(ms, M_IDLE_EXPIRY, 1, "target", target, "expiry", jstr(m, "expiry"),
		       (char *)NULL);
	num_sample(ms, M_IDLE_SKA, m, "server_keepalive_s", 1, target, NULL, NULL);
	num_sample(ms, M_IDLE_ELAPSED, m, "elapsed_s", 1, target, NULL, NULL);
	num_sample(ms, M_IDLE_CONNS, m, "connections", 1, target, NULL, NULL);
}

static void map_audit(struct mset *ms, struct json_object *m, const char *target)
{
	struct json_object *c = jget(m, "client"), *s = jget(m, "server");
	num_sample(ms, M_AU_KA_INT, c, "serveraliveinterval", 1, target, "side", "client");
	num_sample(ms, M_AU_KA_INT, s, "clientaliveinterval", 1, target, "side", "server");
	num_sample(ms, M_AU_KA_MAX, c, "serveralivecountmax", 1, target, "side", "client");
	num_sample(ms, M_AU_KA_MAX, s, "clientalivecountmax", 1, target, "side", "server");
	num_sample(ms, M_AU_TCPKA, c, "tcpkeepalive", 1, target, "side", "client");
	num_sample(ms, M_AU_TCPKA, s, "tcpkeepalive", 1, target, "side", "server");
	struct json_object *d = jget(m, "detection_s");
	num_sample(ms, M_AU_DETECT, d, "client", 1, target, "side", "client");
	num_sample(ms, M_AU_DETECT, d, "server", 1, target, "side", "server");
	num_sample(ms, M_AU_IDLE, m, "idle_timeout_s", 1, target, "source",
		   jstr(m, "idle_timeout_source"));
	num_sample(ms, M_AU_PRESCR, m, "prescribed_interval_s", 1, target, NULL, NULL);
	num_sample(ms, M_AU_GRACE, s, "logingracetime", 1, target, NULL, NULL);
	num_sample(ms, M_AU_AUTHTRIES, s, "maxauthtries", 1, target, NULL, NULL);
	const char *mst = jstr(s, "maxstartups");
	if (mst) {	/* "start[:rate:full]" */
		static const char *const field[] = { "start", "rate", "full" };
		const char *p = mst;
		for (int i = 0; i < 3 && *p; i++) {
			char *end;
			long v = strtol(p, &end, 10);
			if (end == p || (*end && *end != ':'))
				break;
			sample(ms, M_AU_STARTUPS, (double)v, "target", target, "field", field[i],
			       (char *)NULL);
			p = *end ? end + 1 : end;
		}
	}
	struct json_object *k = jget(m, "kernel");
	if (k && json_object_is_type(k, json_type_object)) {
		json_object_object_foreach(k, name, v) {
			double x;
			if (jnum(v, NULL, &x))
				sample(ms, M_AU_KERNEL, x, "target", target, "name", name, (char *)NULL);
		}
	}
}

static void map_logs(struct mset *ms, struct json_object *m, const char *target)
{
	struct json_object *ev = jget(m, "events");
	if (ev && json_object_is_type(ev, json_type_object)) {
		json_object_object_foreach(ev, name, v) {
			double x;
			if (jnum(v, NULL, &x))
				sample(ms, M_LOG_EVENTS, x, "target", target, "event", name, (char *)NULL);
		}
	}
	num_sample(ms, M_LOG_LINES, m, "lines", 1, target, "kind", "all");
	num_sample(ms, M_LOG_LINES, m, "ssh_lines", 1, target, "kind", "ssh");
	num_sample(ms, M_LOG_LINES, m, "unrecognized_ssh_lines", 1, target, "kind", "unrecognized");
	struct json_object *s = jget(m, "sessions");
	struct json_object *be = jget(s, "by_end");
	if (be && json_object_is_type(be, json_type_object)) {
		json_object_object_foreach(be, name, v) {
			double x;
			if (jnum(v, NULL, &x))
				sample(ms, M_LOG_ENDS, x, "target", target, "event", name, (char *)NULL);
		}
	}
	struct json_object *d = jget(s, "duration_s");
	double n;
	if (d && jnum(s, "count", &n)) {
		static const struct { const char *key, *q; } qs[] = {
			{ "p50", "0.5" }, { "p90", "0.9" }, { "p99", "0.99" }, { "max", "1" } };
		for (size_t i = 0; i < ARRAY_SIZE(qs); i++)
			num_sample(ms, M_LOG_DUR, d, qs[i].key, 1, target, "quantile", qs[i].q);
		double sum;
		if (jnum(d, "sum", &sum))	/* only when the logs report carries it */
			sample_sfx(ms, M_LOG_DUR, "_sum", sum, "target", target, (char *)NULL);
		sample_sfx(ms, M_LOG_DUR, "_count", n, "target", target, (char *)NULL);
	}
	num_sample(ms, M_LOG_OPEN, s, "open_at_end", 1, target, NULL, NULL);
}

static void map_path(struct mset *ms, struct json_object *m, const char *target)
{
	struct json_object *rtt = jget(m, "rtt_ms");
	if (rtt && json_object_is_type(rtt, json_type_object)) {
		json_object_object_foreach(rtt, stat, v) {
			double x;
			if (jnum(v, NULL, &x))
				sample(ms, M_PATH_RTT, x / 1e3, "target", target, "stat", stat, (char *)NULL);
		}
	}
	num_sample(ms, M_PATH_JITTER, m, "jitter_ms", 1e-3, target, NULL, NULL);
	num_sample(ms, M_PATH_LOSS, m, "loss_pct", 1e-2, target, NULL, NULL);
	num_sample(ms, M_PATH_LLOAD, m, "loss_under_load_pct", 1e-2, target, NULL, NULL);
	num_sample(ms, M_PATH_MTU, m, "pmtu", 1, target, NULL, NULL);
	num_sample(ms, M_PATH_ECHO, m, "largest_echo_bytes", 1, target, NULL, NULL);
	num_sample(ms, M_PATH_BH, m, "blackhole", 1, target, NULL, NULL);
}

static void map_doctor(struct mset *ms, struct json_object *m, const char *target)
{
	struct json_object *c = jget(m, "causes");
	for (size_t i = 0; i < jlen(c); i++) {
		struct json_object *k = json_object_array_get_idx(c, i);
		if (jstr(k, "id"))
			sample(ms, M_DOC_CAUSE, 1, "target", target, "cause", jstr(k, "id"),
			       "confidence", jstr(k, "confidence"), (char *)NULL);
	}
	num_sample(ms, M_DOC_VERIFIED, m, "verified", 1, target, NULL, NULL);
}

static void map_history(struct mset *ms, struct json_object *m, const char *target)
{
	struct json_object *nets = jget(m, "networks");
	for (size_t i = 0; i < jlen(nets); i++) {
		struct json_object *n = json_object_array_get_idx(nets, i), *it = jget(n, "idle_timeout");
		const char *id = jstr(n, "id");
		double v;
		if (!id)
			continue;
		if (jnum(n, "sessions", &v))
			sample(ms, M_HIST_SESSIONS, v, "target", target, "network", id, (char *)NULL);
		struct json_object *dc = jget(n, "death_causes");
		if (dc && json_object_is_type(dc, json_type_object)) {
			json_object_object_foreach(dc, cause, c) {
				if (jnum(c, NULL, &v))
					sample(ms, M_HIST_DEATHS, v, "target", target, "network", id, "cause",
					       cause, (char *)NULL);
			}
		}
		if (jnum(it, "lower_s", &v))
			sample(ms, M_HIST_IDLE, v, "target", target, "network", id, "bound", "lower",
			       (char *)NULL);
		if (jnum(it, "upper_s", &v))
			sample(ms, M_HIST_IDLE, v, "target", target, "network", id, "bound", "upper",
			       (char *)NULL);
		if (jnum(it, "answered", &v))
			sample(ms, M_HIST_SAMPLES, v, "target", target, "network", id, "bound", "lower",
			       (char *)NULL);
		if (jnum(it, "unanswered", &v))
			sample(ms, M_HIST_SAMPLES, v, "target", target, "network", id, "bound", "upper",
			       (char *)NULL);
	}
}

static const struct {
	const char *key;
	void (*fn)(struct mset *ms, struct json_object *m, const char *target);
} mappers[] = {
	{ "connect", map_connect }, { "idle", map_idle }, { "audit", map_audit },
	{ "logs", map_logs },	    { "path", map_path }, { "doctor", map_doctor },
	{ "history", map_history },
};

/* With several connect targets the report has none: a finding belongs to the
 * target whose label starts its title ("LABEL: ..."). Labels are hashed once, so
 * 5,000 targets with their findings stay linear. */
struct label_map {
	struct json_object *entries;	/* measurements.connect, an array */
	struct { uint64_t h; size_t idx; } *slot;
	size_t nslot;
};

static void label_map_init(struct label_map *lm, struct json_object *report)
{
	struct json_object *c = jget(jget(report, "measurements"), "connect");
	memset(lm, 0, sizeof(*lm));
	if (!c || !json_object_is_type(c, json_type_array) || !jlen(c))
		return;
	lm->entries = c;
	for (lm->nslot = 16; lm->nslot < 2 * jlen(c); lm->nslot *= 2)
		;
	lm->slot = xcalloc(lm->nslot, sizeof(*lm->slot));
	for (size_t i = 0; i < jlen(c); i++) {
		const char *l = jstr(json_object_array_get_idx(c, i), "target");
		if (!l || !*l)
			continue;
		uint64_t h = fnv(l);
		size_t j = h & (lm->nslot - 1);
		while (lm->slot[j].h)
			j = (j + 1) & (lm->nslot - 1);
		lm->slot[j].h = h;
		lm->slot[j].idx = i;
	}
}

static char *finding_target(const struct label_map *lm, struct json_object *f, const char *target)
{
	const char *title = jstr(f, "title");
	if (*target || !title || !lm->slot)
		return xstrdup(target);
	/* every "X: " in the title is a candidate end of the label */
	for (const char *p = strchr(title, ':'); p; p = strchr(p + 1, ':')) {
		if (p[1] != ' ')
			continue;
		char *l = xstrndup(title, (size_t)(p - title));
		uint64_t h = fnv(l);
		for (size_t j = h & (lm->nslot - 1); lm->slot[j].h; j = (j + 1) & (lm->nslot - 1)) {
			struct json_object *e = json_object_array_get_idx(lm->entries, lm->slot[j].idx);
			if (lm->slot[j].h == h && !strcmp(jstr(e, "target"), l)) {
				free(l);
				return connect_target(e);
			}
		}
		free(l);
	}
	return xstrdup("");
}

char *metrics_from_json(struct json_object *report, int64_t run_time_s)
{
	struct mset ms = { 0 };
	ms.command = jstr(report, "command") ? jstr(report, "command") : "";
	struct json_object *t = jget(report, "target");
	double port = 22;
	jnum(t, "port", &port);
	char *target = jstr(t, "host") ? target_label(jstr(t, "host"), port) : xstrdup("");

	static const char *const st[] = { "ok", "warning", "critical", "unknown" };
	const char *status = jstr(report, "status");
	for (size_t i = 0; status && i < ARRAY_SIZE(st); i++)
		if (!strcmp(status, st[i]))
			sample(&ms, M_STATUS, (double)i, "target", target, (char *)NULL);
	if (run_time_s > 0)
		sample(&ms, M_LAST_RUN, (double)run_time_s, "target", target, (char *)NULL);
	if (*target) {
		char p[16];
		snprintf(p, sizeof(p), "%.0f", port);
		sample(&ms, M_TARGET, 1, "target", target, "host", jstr(t, "host"), "port", p, "user",
		       jstr(t, "user"), (char *)NULL);
	}
	struct json_object *fs = jget(report, "findings");
	struct label_map lm;
	label_map_init(&lm, report);
	for (size_t i = 0; i < jlen(fs); i++) {
		struct json_object *f = json_object_array_get_idx(fs, i);
		if (!jstr(f, "id"))
			continue;
		char *ft = finding_target(&lm, f, target);
		count(&ms, M_FINDING, 1, "id", jstr(f, "id"), "severity", jstr(f, "severity"), "target",
		      ft, (char *)NULL);
		free(ft);
	}
	free(lm.slot);
	struct json_object *m = jget(report, "measurements");
	for (size_t i = 0; i < ARRAY_SIZE(mappers); i++) {
		struct json_object *x = jget(m, mappers[i].key);
		if (x)
			mappers[i].fn(&ms, x, target);
	}
	char *out = mset_print(&ms);
	mset_free(&ms);
	free(target);
	return out;
}

static char *report_metrics(const struct report *r)
{
	struct json_object *o = report_to_json(r);
	char *s = metrics_from_json(o, (int64_t)time(NULL));
	json_object_put(o);
	return s;
}

void render_metrics(FILE *out, const struct report *r)
{
	char *s = report_metrics(r);
	fputs(s, out);
	free(s);
}

/* --- node_exporter's textfile directory ----------------------------------- */

char *metrics_textfile_name(const struct report *r)
{
	struct strbuf sb = { 0 };
	sb_addf(&sb, "sshdoctor_%s", r->command);
	if (r->target)
		sb_addf(&sb, "_%s_%d", r->target->host, r->target->port);
	for (char *p = sb.buf + strlen("sshdoctor_"); *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.'))
			*p = '_';
	sb_adds(&sb, ".prom");
	return sb.buf;
}

static int set_err(char **err, const char *fmt, ...) PRINTF_LIKE(2, 3);
static int set_err(char **err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	*err = xvasprintf(fmt, ap);
	va_end(ap);
	return -1;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Opens DIR for writing textfiles into, after the checks; -1 with *err. */
static int open_textfile_dir(const char *dir, char **err)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		int e = errno;
		struct stat ls;
		return set_err(err, "--textfile %s: %s", dir,
			       lstat(dir, &ls) == 0 && S_ISLNK(ls.st_mode) ? "is a symbolic link"
									 : strerror(e));
	}
	struct stat st;
	if (fstat(dfd, &st) < 0) {
		close(dfd);
		return set_err(err, "--textfile %s: %s", dir, strerror(errno));
	}
	/* As root, a directory another user controls could swap our file for theirs. */
	if (geteuid() == 0 && (st.st_uid != 0 || ((st.st_mode & 022) && !(st.st_mode & S_ISVTX)))) {
		close(dfd);
		return set_err(err, "--textfile %s: %s; refusing to write there as root", dir,
			       st.st_uid != 0 ? "owned by another user"
					      : "writable by group or others without the sticky bit");
	}
	if (faccessat(dfd, ".", W_OK, AT_EACCESS) < 0) {
		close(dfd);
		return set_err(err, "--textfile %s: %s", dir, strerror(errno));
	}
	return dfd;
}

int metrics_textfile_check(const char *dir, char **err)
{
	int dfd = open_textfile_dir(dir, err);
	if (dfd < 0)
		return -1;
	close(dfd);
	return 0;
}

int metrics_textfile_write(const char *dir, const struct report *r, char **err)
{
	int dfd = open_textfile_dir(dir, err);
	if (dfd < 0)
		return -1;
	char *name = metrics_textfile_name(r);
	/* The collector reads only *.prom: the temp name must not end in it. */
	char *tmp = xasprintf(".%s.%ld.%lx.tmp", name, (long)getpid(), (unsigned long)random());
	char *text = report_metrics(r);
	int rc = -1;
	int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		set_err(err, "--textfile %s/%s: %s", dir, tmp, strerror(errno));
		goto out;
	}
	/* 0644 whatever the umask: node_exporter runs as its own user. */
	if (fchmod(fd, 0644) < 0 || write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0) {
		set_err(err, "--textfile %s/%s: %s", dir, tmp, strerror(errno));
		close(fd);
		unlinkat(dfd, tmp, 0);
		goto out;
	}
	if (close(fd) < 0 || renameat(dfd, tmp, dfd, name) < 0) {
		set_err(err, "--textfile %s/%s: %s", dir, name, strerror(errno));
		unlinkat(dfd, tmp, 0);
		goto out;
	}
	fsync(dfd);	/* the rename itself survives a crash */
	rc = 0;
out:
	free(text);
	free(tmp);
	free(name);
	close(dfd);
	return rc;
}

size_t metrics_def_count(void)
{
	return M_COUNT;
}
const char *metrics_def(size_t i, int *type, const char **unit, const char **help)
{
	*type = (int)defs[i].type;
	*unit = defs[i].unit;
	*help = defs[i].help;
	return defs[i].name;
}
