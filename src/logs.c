/* logs.c - the logs engine: counts events, pairs connections into sessions,
 * correlates disconnects with kernel events and sshd restarts, and turns it all
 * into findings. One pass, bounded memory: a fixed open-session table with
 * eviction, reservoirs for durations, fixed tables for peers and anchors. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logread.h"
#include "logs.h"

#define DEF_OPEN 4096
#define MAX_EXAMPLES 3
#define EXAMPLE_LEN 300
#define MAX_PEERS 4096
#define MAX_LISTED 10000
#define RESERVOIR 65536
#define MAX_DISC 262144
#define MAX_ANCHORS 4096
#define CORR_BEFORE_MS 5000	/* a disconnect logged just before the kernel line */
#define CORR_AFTER_MS 30000	/* ... or up to ClientAlive's detection time after it */
#define RECENT 16

struct sess {
	int used, authed;
	char addr[64];
	int port;
	long pid;
	char user[40];
	int64_t start_ms;
	uint32_t key;
	int next_a, next_p;	/* hash chains, -1 terminated */
};

struct evstat {
	uint64_t n;
	int64_t first_ms, last_ms;
	char *ex[MAX_EXAMPLES];
	size_t nex;
};

struct peer {
	char addr[64];
	uint32_t n[LEV_NPUBLIC];
};

struct src {
	char *name;
	uint64_t lines, binary, long_lines, broken_ts;
	char *error;
};

struct udur {
	uint8_t end;
	float s;
};

struct anchor {
	int64_t t;
	uint8_t ev;
};

struct logs_state {
	struct logs_opts o;
	struct logclock clk;
	struct src *srcs;
	size_t nsrc;
	uint64_t lines, ssh_lines, unrec;
	struct evstat ev[LEV_NPUBLIC];
	/* open sessions: a ring in arrival order (the oldest is evicted), two hash indexes */
	struct sess *sess;
	size_t cap, head, mask;
	int *bucket_a, *bucket_p;
	uint64_t evicted, nsess;
	uint64_t by_end[LEV_NPUBLIC];
	uint32_t recent[RECENT];
	size_t nrecent;
	/* durations (s) of ended sessions: reservoir, and of unexpected endings */
	float *dur;
	size_t ndur;
	uint64_t dur_seen;
	double dur_max;
	struct udur *ud;
	uint64_t ud_seen;
	uint64_t rng;
	int64_t *disc;
	size_t ndisc;
	struct anchor *anch;
	size_t nanch;
	uint64_t anch_dropped;
	struct peer *peers;
	size_t npeers;
	uint64_t peers_overflow;
	/* a server "kex_exchange_identification" line waiting for its close line */
	int kex_pending;
	long kex_pid;
	int64_t kex_ts;
	char kex_text[EXAMPLE_LEN + 1];
	struct json_object *list;
	uint64_t list_dropped;
	char *scratch;
};

/* ---- small helpers ---- */

/* Address + port, eight bytes at a time (this runs for most lines). */
static uint32_t key_ap(const char *addr, int port)
{
	uint64_t h = (uint64_t)port * 0x9e3779b97f4a7c15ull + 1;
	size_t n = strlen(addr), i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, addr + i, 8);	/* a constant size: one load, no call */
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	uint64_t w = 0;
	for (; i < n; i++)
		w = (w << 8) | (uint8_t)addr[i];
	h = (h ^ w) * 0xff51afd7ed558ccdull;
	return (uint32_t)(h ^ (h >> 32));
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static uint64_t rnd(struct logs_state *st)
{
	st->rng ^= st->rng << 13;
	st->rng ^= st->rng >> 7;
	st->rng ^= st->rng << 17;
	return st->rng;
}

/* Keeps a uniform sample: slot for the k-th item (k from 1), or -1 to drop it. */
static long reservoir_slot(struct logs_state *st, uint64_t k, size_t cap)
{
	if (k <= cap)
		return (long)(k - 1);
	uint64_t j = rnd(st) % k;
	return j < cap ? (long)j : -1;
}

/* Seconds with millisecond precision, printed as such (not as a float's digits). */
static struct json_object *json_secs(double s)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%.3f", s);
	return json_object_new_double_s(strtod(buf, NULL), buf);
}

static void iso(char *buf, size_t n, int64_t ms)
{
	if (ms < 0) {
		snprintf(buf, n, "-");
		return;
	}
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- lifecycle ---- */

struct logs_state *logs_new(const struct logs_opts *o)
{
	struct logs_state *st = xcalloc(1, sizeof(*st));
	st->o = *o;
	st->cap = o->max_open ? o->max_open : DEF_OPEN;
	size_t nb = 16;
	while (nb < st->cap * 2)
		nb <<= 1;
	st->mask = nb - 1;
	st->sess = xcalloc(st->cap, sizeof(*st->sess));
	st->bucket_a = xmalloc(nb * sizeof(int));
	st->bucket_p = xmalloc(nb * sizeof(int));
	memset(st->bucket_a, 0xff, nb * sizeof(int));
	memset(st->bucket_p, 0xff, nb * sizeof(int));
	st->dur = xmalloc(RESERVOIR * sizeof(*st->dur));
	st->ud = xmalloc(RESERVOIR * sizeof(*st->ud));
	st->disc = xmalloc(1024 * sizeof(*st->disc));
	st->anch = xmalloc(MAX_ANCHORS * sizeof(*st->anch));
	st->peers = xcalloc(MAX_PEERS, sizeof(*st->peers));
	st->scratch = xmalloc(LOGREAD_MAX_LINE);
	st->rng = 0x9e3779b97f4a7c15ull;
	st->list = o->sessions ? json_object_new_array() : NULL;
	for (int i = 0; i < LEV_NPUBLIC; i++)
		st->ev[i].first_ms = st->ev[i].last_ms = -1;
	logclock_init(&st->clk, o->ref_wall_ms ? o->ref_wall_ms : wall_ms());
	return st;
}

void logs_free(struct logs_state *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->nsrc; i++) {
		free(st->srcs[i].name);
		free(st->srcs[i].error);
	}
	free(st->srcs);
	for (int i = 0; i < LEV_NPUBLIC; i++)
		for (size_t k = 0; k < st->ev[i].nex; k++)
			free(st->ev[i].ex[k]);
	free(st->sess);
	free(st->bucket_a);
	free(st->bucket_p);
	free(st->dur);
	free(st->ud);
	free(st->disc);
	free(st->anch);
	free(st->peers);
	free(st->scratch);
	json_object_put(st->list);
	free(st);
}

static struct src *cur_src(struct logs_state *st)
{
	return st->nsrc ? &st->srcs[st->nsrc - 1] : NULL;
}

static void flush_kex(struct logs_state *st);

void logs_source_begin(struct logs_state *st, const char *name, int64_t ref_wall_ms)
{
	st->srcs = xrealloc(st->srcs, (st->nsrc + 1) * sizeof(*st->srcs));
	memset(&st->srcs[st->nsrc], 0, sizeof(*st->srcs));
	st->srcs[st->nsrc++].name = xstrdup(name);
	int64_t ref = st->o.ref_wall_ms ? st->o.ref_wall_ms : ref_wall_ms ? ref_wall_ms : wall_ms();
	logclock_init(&st->clk, ref);
}

void logs_source_note(struct logs_state *st, const char *what)
{
	struct src *s = cur_src(st);
	if (s && strcmp(what, "long_lines") == 0)
		s->long_lines++;
}

void logs_source_end(struct logs_state *st, const char *error)
{
	flush_kex(st);
	struct src *s = cur_src(st);
	if (s && error)
		s->error = xstrdup(error);
}

/* ---- events ---- */

static void count_event(struct logs_state *st, enum logev e, int64_t ts, const char *text, size_t len)
{
	if (e <= LEV_NONE || e >= LEV_NPUBLIC)
		return;
	struct evstat *es = &st->ev[e];
	es->n++;
	if (ts >= 0) {
		if (es->first_ms < 0 || ts < es->first_ms)
			es->first_ms = ts;
		if (ts > es->last_ms)
			es->last_ms = ts;
	}
	if (es->nex < MAX_EXAMPLES && text)
		es->ex[es->nex++] = xstrndup(text, len < EXAMPLE_LEN ? len : EXAMPLE_LEN);
}

static struct peer *peer_get(struct logs_state *st, const char *addr)
{
	if (!addr[0])
		return NULL;
	/* open addressing over a fixed table; full -> counted, not stored */
	uint32_t h = key_ap(addr, 0);
	for (size_t i = 0; i < MAX_PEERS; i++) {
		struct peer *p = &st->peers[(h + i) % MAX_PEERS];
		if (!p->addr[0]) {
			if (st->npeers >= MAX_PEERS * 3 / 4)
				break;
			copy_str(p->addr, sizeof(p->addr), addr);
			st->npeers++;
			return p;
		}
		if (strcmp(p->addr, addr) == 0)
			return p;
	}
	st->peers_overflow++;
	return NULL;
}

static int unexpected_end(enum logev e)
{
	return e == LEV_DISC_CLIENT_TIMEOUT || e == LEV_DISC_SERVER_TIMEOUT || e == LEV_DISC_RESET ||
	       e == LEV_DISC_CLOSED || e == LEV_DISC_BROKEN_PIPE || e == LEV_IDLE_UNUSED;
}

static void note_disconnect(struct logs_state *st, int64_t ts)
{
	if (ts < 0 || st->ndisc >= MAX_DISC)
		return;
	if ((st->ndisc & (st->ndisc - 1)) == 0 && st->ndisc >= 1024)	/* grow by doubling */
		st->disc = xrealloc(st->disc, st->ndisc * 2 * sizeof(*st->disc));
	st->disc[st->ndisc++] = ts;
}

/* ---- session table ---- */

static int *chain_p(struct logs_state *st, long pid)
{
	return &st->bucket_p[((uint32_t)pid * 2654435761u) & st->mask];
}

static void unlink_sess(struct logs_state *st, int i)
{
	struct sess *s = &st->sess[i];
	int *pp = &st->bucket_a[s->key & st->mask];
	for (size_t n = 0; *pp >= 0 && n < st->cap; n++, pp = &st->sess[*pp].next_a)
		if (*pp == i) {
			*pp = s->next_a;
			break;
		}
	if (s->pid >= 0) {
		pp = chain_p(st, s->pid);
		for (size_t n = 0; *pp >= 0 && n < st->cap; n++, pp = &st->sess[*pp].next_p)
			if (*pp == i) {
				*pp = s->next_p;
				break;
			}
	}
	s->used = 0;
}

static int find_sess(struct logs_state *st, const struct logline *l, const struct logevent *ev)
{
	if (ev->addr[0] && ev->port) {
		int i = st->bucket_a[ev->key & st->mask];
		for (size_t n = 0; i >= 0 && n < st->cap; n++, i = st->sess[i].next_a)
			if (st->sess[i].key == ev->key && st->sess[i].port == ev->port &&
			    strcmp(st->sess[i].addr, ev->addr) == 0)
				return i;
		return -1;
	}
	if (l->pid < 0)
		return -1;
	int i = *chain_p(st, l->pid);
	for (size_t n = 0; i >= 0 && n < st->cap; n++, i = st->sess[i].next_p)
		if (st->sess[i].pid == l->pid)
			return i;
	return -1;
}

static int new_sess(struct logs_state *st, const struct logline *l, const struct logevent *ev)
{
	int i = (int)(st->head++ % st->cap);
	if (st->sess[i].used) {
		unlink_sess(st, i);
		st->evicted++;
	}
	struct sess *s = &st->sess[i];
	memset(s, 0, sizeof(*s));
	s->used = 1;
	copy_str(s->addr, sizeof(s->addr), ev->addr);
	s->port = ev->port;
	s->pid = l->pid;
	s->start_ms = l->ts_ms;
	s->key = ev->key;
	int *pp = &st->bucket_a[s->key & st->mask];
	s->next_a = *pp;
	*pp = i;
	s->next_p = -1;
	if (s->pid >= 0) {
		pp = chain_p(st, s->pid);
		s->next_p = *pp;
		*pp = i;
	}
	return i;
}

static void list_session(struct logs_state *st, const struct sess *s, int64_t end_ms, enum logev e)
{
	if (!st->list)
		return;
	if (json_object_array_length(st->list) >= MAX_LISTED) {
		st->list_dropped++;
		return;
	}
	char a[32], b[32];
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "addr", json_object_new_string(s->addr));
	json_object_object_add(o, "port", json_object_new_int(s->port));
	json_object_object_add(o, "user", json_object_new_string(s->user));
	json_object_object_add(o, "pid", s->pid >= 0 ? json_object_new_int64(s->pid) : NULL);
	iso(a, sizeof(a), s->start_ms);
	iso(b, sizeof(b), end_ms);
	json_object_object_add(o, "start", s->start_ms >= 0 ? json_object_new_string(a) : NULL);
	json_object_object_add(o, "end", end_ms >= 0 ? json_object_new_string(b) : NULL);
	json_object_object_add(o, "duration_s", s->start_ms >= 0 && end_ms >= s->start_ms ?
			       json_secs((double)(end_ms - s->start_ms) / 1000.0) : NULL);
	json_object_object_add(o, "ended_by", json_object_new_string(logev_name(e)));
	json_object_array_add(st->list, o);
}

static void end_sess(struct logs_state *st, int i, enum logev e, int64_t ts)
{
	struct sess *s = &st->sess[i];
	if (s->authed) {
		st->nsess++;
		st->by_end[e]++;
		list_session(st, s, ts, e);
		if (s->start_ms >= 0 && ts >= s->start_ms) {
			float d = (float)(ts - s->start_ms) / 1000.0f;
			long k = reservoir_slot(st, ++st->dur_seen, RESERVOIR);
			if (k >= 0)
				st->dur[k] = d;
			if (d > st->dur_max)
				st->dur_max = d;
			if (unexpected_end(e)) {
				k = reservoir_slot(st, ++st->ud_seen, RESERVOIR);
				if (k >= 0)
					st->ud[k] = (struct udur){ (uint8_t)e, d };
			}
		}
	}
	st->recent[st->nrecent++ % RECENT] = s->key;
	unlink_sess(st, i);
}

static int recently_ended(struct logs_state *st, const struct logevent *ev)
{
	uint32_t k = ev->key;
	for (size_t i = 0; i < RECENT && i < st->nrecent; i++)
		if (st->recent[i] == k)
			return 1;
	return 0;
}

/* ---- dispatch ---- */

static void flush_kex(struct logs_state *st)
{
	if (!st->kex_pending)
		return;
	st->kex_pending = 0;
	count_event(st, LEV_PREAUTH_CLOSED, st->kex_ts, st->kex_text, strlen(st->kex_text));
}

/* An ending event: decides what it means for its session and counts it. */
static void on_end(struct logs_state *st, const struct logline *l, struct logevent *ev,
		   const char *text, size_t len)
{
	int i = find_sess(st, l, ev);
	enum logev e = ev->ev;
	if (e == LEV_DISCONNECTED) {	/* the reason came first; alone it means the user left */
		if (i < 0 && ev->addr[0] && recently_ended(st, ev))
			return;
		e = LEV_DISC_USER;
	} else if ((e == LEV_DISC_CLOSED || e == LEV_DISC_RESET) && i >= 0 && !st->sess[i].authed) {
		e = LEV_PREAUTH_CLOSED;
	}
	if (!(ev->flags & LF_NOCOUNT) || ev->ev == LEV_DISCONNECTED)
		count_event(st, e, l->ts_ms, text, len);
	if (unexpected_end(e) && (i < 0 || st->sess[i].authed))
		note_disconnect(st, l->ts_ms);
	if (i >= 0)
		end_sess(st, i, e, l->ts_ms);
	else if (ev->addr[0])
		st->recent[st->nrecent++ % RECENT] = ev->key;
}

static void on_peer_stats(struct logs_state *st, const struct logevent *ev)
{
	if (ev->ev != LEV_LIMIT_MAXSTARTUPS && ev->ev != LEV_LIMIT_PENALTY &&
	    ev->ev != LEV_DISC_CLIENT_TIMEOUT && ev->ev != LEV_AUTH_FAILURE &&
	    ev->ev != LEV_PREAUTH_CLOSED && ev->ev != LEV_BANNER_INVALID)
		return;
	struct peer *p = peer_get(st, ev->addr);
	if (p)
		p->n[ev->ev]++;
}

static void on_anchor(struct logs_state *st, const struct logevent *ev, int64_t ts)
{
	if (ts < 0)
		return;
	if (ev->ev == LEV_KERNEL_OOM && !strstr(ev->user, "ssh"))
		return;	/* only an OOM kill of sshd itself drops sessions */
	if (st->nanch >= MAX_ANCHORS) {
		st->anch_dropped++;
		return;
	}
	st->anch[st->nanch++] = (struct anchor){ ts, (uint8_t)ev->ev };
}

static void dispatch(struct logs_state *st, const struct logline *l, struct logevent *ev,
		     const char *text, size_t len)
{
	if (st->kex_pending && (l->pid == st->kex_pid || ev->ev == LEV_KEX_IDENT)) {
		int pairs = (ev->flags & LF_END) && l->pid == st->kex_pid &&
			    (ev->ev == LEV_DISC_CLOSED || ev->ev == LEV_DISC_RESET ||
			     ev->ev == LEV_PREAUTH_CLOSED);
		if (pairs) {
			st->kex_pending = 0;
			ev->ev = LEV_PREAUTH_CLOSED;
		} else {
			flush_kex(st);
		}
	}
	switch (ev->ev) {
	case LEV_KEX_IDENT:
		if (l->prog == PROG_SSH) {
			count_event(st, LEV_PREAUTH_CLOSED, l->ts_ms, text, len);
			return;
		}
		st->kex_pending = 1;
		st->kex_pid = l->pid;
		st->kex_ts = l->ts_ms;
		snprintf(st->kex_text, sizeof(st->kex_text), "%.*s",
			 (int)(len < EXAMPLE_LEN ? len : EXAMPLE_LEN), text);
		return;
	case LEV_INFO:
		return;
	case LEV_CONN_START:
		if (ev->addr[0] && find_sess(st, l, ev) < 0)
			new_sess(st, l, ev);
		return;
	case LEV_AUTH_OK: {
		int i = find_sess(st, l, ev);
		if (i < 0)
			i = new_sess(st, l, ev);
		st->sess[i].authed = 1;
		copy_str(st->sess[i].user, sizeof(st->sess[i].user), ev->user);
		if (st->sess[i].start_ms < 0)
			st->sess[i].start_ms = l->ts_ms;
		return;
	}
	default:
		break;
	}
	on_peer_stats(st, ev);
	if (ev->ev >= LEV_KERNEL_LINK_DOWN && ev->ev <= LEV_KERNEL_OOM)
		on_anchor(st, ev, l->ts_ms);
	if (ev->ev == LEV_SERVER_RESTART)
		on_anchor(st, ev, l->ts_ms);
	if (ev->flags & LF_END) {
		on_end(st, l, ev, text, len);
		return;
	}
	count_event(st, ev->ev, l->ts_ms, text, len);
}

/* raw: the line as read when a NUL in it was not ruled out yet, else NULL. */
static void handle(struct logs_state *st, const struct logline *l, const char *text, size_t len,
		   const char *raw)
{
	if (l->ts_ms >= 0 && ((st->o.since_ms >= 0 && l->ts_ms < st->o.since_ms) ||
			      (st->o.until_ms >= 0 && l->ts_ms > st->o.until_ms)))
		return;
	struct logevent ev;
	int r = logscan_classify(l, &ev);
	/* binary garbage never classifies: look for NULs only then (not on every line) */
	if (r <= 0 && raw && memchr(raw, '\0', len)) {
		struct src *s = cur_src(st);
		if (s)
			s->binary++;
		return;
	}
	if (r == 0)
		return;
	if (l->prog != PROG_KERNEL)
		st->ssh_lines++;
	if (r < 0) {
		st->unrec++;
		return;
	}
	ev.key = ev.addr[0] ? key_ap(ev.addr, ev.port) : 0;
	if (st->o.host && ev.addr[0] && strcmp(ev.addr, st->o.host) != 0 &&
	    strcmp(l->host, st->o.host) != 0)
		return;
	dispatch(st, l, &ev, text, len);
}

void logs_line(struct logs_state *st, const char *line, size_t len)
{
	struct src *s = cur_src(st);
	struct logline l;
	st->lines++;
	if (s)
		s->lines++;
	if (len && line[len - 1] == '\r')
		len--;
	logscan_header(line, len, &st->clk, &l, st->scratch, LOGREAD_MAX_LINE, 1);
	if (l.ts_broken && s && !memchr(line, '\0', len))
		s->broken_ts++;
	handle(st, &l, line, len, line);
}

void logs_entry(struct logs_state *st, const struct logline *l, const char *text, size_t textlen)
{
	struct src *s = cur_src(st);
	st->lines++;
	if (s)
		s->lines++;
	handle(st, l, text, textlen, NULL);
}

/* ---- findings ---- */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int cmp_anchor(const void *a, const void *b)
{
	int64_t x = ((const struct anchor *)a)->t, y = ((const struct anchor *)b)->t;
	return (x > y) - (x < y);
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

static void ev_evidence(struct finding *f, const struct logs_state *st, enum logev e)
{
	const struct evstat *es = &st->ev[e];
	if (!es->n)
		return;
	char a[32], b[32];
	iso(a, sizeof(a), es->first_ms);
	iso(b, sizeof(b), es->last_ms);
	if (es->first_ms >= 0)
		finding_evidence(f, "%s: %llu, from %s to %s", logev_name(e),
				 (unsigned long long)es->n, a, b);
	else
		finding_evidence(f, "%s: %llu (lines without time stamps)", logev_name(e),
				 (unsigned long long)es->n);
	for (size_t i = 0; i < es->nex && i < 2; i++)
		finding_evidence(f, "  e.g. %s", es->ex[i]);
}

static uint64_t evsum(const struct logs_state *st, const enum logev *ids, size_t n)
{
	uint64_t s = 0;
	for (size_t i = 0; i < n; i++)
		s += st->ev[ids[i]].n;
	return s;
}

/* "Top sources" for one event: up to 5 peers, most first. */
static void top_peers(struct finding *f, const struct logs_state *st, enum logev e)
{
	size_t chosen[5];
	for (size_t k = 0; k < 5; k++) {
		size_t best = MAX_PEERS;
		for (size_t i = 0; i < MAX_PEERS; i++) {	/* 5 passes over a fixed table */
			const struct peer *p = &st->peers[i];
			int taken = 0;
			for (size_t c = 0; c < k; c++)
				taken |= chosen[c] == i;
			if (p->addr[0] && p->n[e] && !taken &&
			    (best == MAX_PEERS || p->n[e] > st->peers[best].n[e]))
				best = i;
		}
		if (best == MAX_PEERS)
			break;
		chosen[k] = best;
		finding_evidence(f, "top source %s: %u", st->peers[best].addr, st->peers[best].n[e]);
	}
}

static void keepalive_fixes(struct finding *f)
{
	struct fix *x = finding_fix(f, "/etc/ssh/sshd_config");
	fix_line(x, "ClientAliveInterval 60");
	fix_line(x, "ClientAliveCountMax 3");
	x = finding_fix(f, "~/.ssh/config");
	fix_line(x, "ServerAliveInterval 60");
}

/* Disconnects within seconds of a kernel link event or an sshd restart. */
static void find_correlated(struct logs_state *st, struct report *r)
{
	if (!st->nanch || !st->ndisc)
		return;
	qsort(st->disc, st->ndisc, sizeof(*st->disc), cmp_i64);
	qsort(st->anch, st->nanch, sizeof(*st->anch), cmp_anchor);
	uint64_t by[LEV_NPUBLIC] = { 0 };
	int64_t first_at[LEV_NPUBLIC];
	for (int i = 0; i < LEV_NPUBLIC; i++)
		first_at[i] = -1;
	uint64_t total = 0;
	for (size_t d = 0; d < st->ndisc; d++) {
		/* first anchor at or after disc - CORR_AFTER_MS, then the few within reach */
		size_t lo = 0, hi = st->nanch;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (st->anch[mid].t < st->disc[d] - CORR_AFTER_MS)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (size_t a = lo; a < st->nanch && st->anch[a].t <= st->disc[d] + CORR_BEFORE_MS; a++) {
			int64_t dt = st->disc[d] - st->anch[a].t;
			/* a restart cannot cause what came before it; kernel lines may lag */
			int64_t before = st->anch[a].ev == LEV_SERVER_RESTART ? 0 : CORR_BEFORE_MS;
			if (dt >= -before && dt <= CORR_AFTER_MS) {
				by[st->anch[a].ev]++;
				if (first_at[st->anch[a].ev] < 0)
					first_at[st->anch[a].ev] = st->anch[a].t;
				total++;
				break;
			}
		}
	}
	if (!total)
		return;
	struct finding *f = report_add(r, SEV_CRITICAL, "logs.correlated-drops",
				       "%llu disconnects happened within seconds of a kernel network event or an sshd restart",
				       (unsigned long long)total);
	for (int e = 1; e < LEV_NPUBLIC; e++) {
		if (!by[e])
			continue;
		char a[32];
		iso(a, sizeof(a), first_at[e]);
		finding_evidence(f, "%llu disconnects within -%ds..+%ds of %s (first at %s)",
				 (unsigned long long)by[e], CORR_BEFORE_MS / 1000, CORR_AFTER_MS / 1000,
				 logev_name(e), a);
		ev_evidence(f, st, (enum logev)e);
	}
	if (by[LEV_KERNEL_LINK_DOWN] || by[LEV_KERNEL_NIC_RESET]) {
		struct fix *x = finding_fix(f, "the server's network interface");
		fix_line(x, "# the link or the NIC failed, not ssh: check cabling, driver and firmware (dmesg)");
	}
	if (by[LEV_SERVER_RESTART]) {
		struct fix *x = finding_fix(f, "systemctl edit ssh");
		fix_line(x, "[Service]");
		fix_line(x, "KillMode=process");
	}
	if (by[LEV_KERNEL_OOM]) {
		struct fix *x = finding_fix(f, "the server");
		fix_line(x, "# sshd was killed by the OOM killer: add memory or protect it (OOMScoreAdjust=-1000)");
	}
}

/* Many sessions ending the same unexpected way after similar durations: an idle timer. */
static void find_idle_signature(struct logs_state *st, struct report *r)
{
	size_t n = st->ud_seen < RESERVOIR ? (size_t)st->ud_seen : RESERVOIR;
	float *d = xmalloc((n ? n : 1) * sizeof(float));
	for (int e = 1; e < LEV_NPUBLIC; e++) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if (st->ud[i].end == e)
				d[k++] = st->ud[i].s;
		if (k < 3)
			continue;
		qsort(d, k, sizeof(float), cmp_float);
		float med = d[k / 2], tol = med * 0.1f > 5.0f ? med * 0.1f : 5.0f;
		size_t near = 0;
		float lo = med, hi = med;
		for (size_t i = 0; i < k; i++)
			if (d[i] >= med - tol && d[i] <= med + tol) {
				near++;
				lo = d[i] < lo ? d[i] : lo;
				hi = d[i] > hi ? d[i] : hi;
			}
		if (near < 3 || near * 10 < k * 6)
			continue;
		struct finding *f = report_add(r, SEV_CRITICAL, "logs.idle-timeout",
					       "%zu sessions ended by %s after similar durations (about %.0f s): the signature of an idle timeout",
					       near, logev_name((enum logev)e), med);
		finding_evidence(f, "%zu of %zu such sessions lasted %.0f-%.0f s", near, k, lo, hi);
		finding_evidence(f, "a NAT, firewall or load balancer forgets idle flows; 'sshdoctor idle HOST' measures it");
		ev_evidence(f, st, (enum logev)e);
		keepalive_fixes(f);
	}
	free(d);
	/* ClientAlive timeouts concentrated on one network */
	for (size_t i = 0; i < MAX_PEERS; i++) {
		const struct peer *p = &st->peers[i];
		if (p->addr[0] && p->n[LEV_DISC_CLIENT_TIMEOUT] >= 3) {
			struct finding *f = report_add(r, SEV_WARNING, "logs.client-timeout-source",
						       "%u ClientAlive timeouts from %s: that client's path goes silent",
						       p->n[LEV_DISC_CLIENT_TIMEOUT], p->addr);
			keepalive_fixes(f);
			break;
		}
	}
}

static void find_disconnects(struct logs_state *st, struct report *r)
{
	if (st->ev[LEV_DISC_CLIENT_TIMEOUT].n) {
		struct finding *f = report_add(r, SEV_WARNING, "logs.client-timeout",
					       "%llu sessions cut by sshd's ClientAlive check: the client stopped answering",
					       (unsigned long long)st->ev[LEV_DISC_CLIENT_TIMEOUT].n);
		ev_evidence(f, st, LEV_DISC_CLIENT_TIMEOUT);
		finding_evidence(f, "the client sleeps or is frozen, or the path silently drops the flow");
		struct fix *x = finding_fix(f, "~/.ssh/config");
		fix_line(x, "ServerAliveInterval 30");
	}
	if (st->ev[LEV_DISC_SERVER_TIMEOUT].n) {
		struct finding *f = report_add(r, SEV_WARNING, "logs.server-timeout",
					       "%llu sessions cut by the client's ServerAlive check: the server stopped answering",
					       (unsigned long long)st->ev[LEV_DISC_SERVER_TIMEOUT].n);
		ev_evidence(f, st, LEV_DISC_SERVER_TIMEOUT);
		finding_evidence(f, "the path dropped the flow (idle timeout, link loss) or the server hung");
	}
	static const enum logev net[] = { LEV_DISC_RESET, LEV_DISC_BROKEN_PIPE, LEV_DISC_CLOSED };
	uint64_t n = evsum(st, net, ARRAY_SIZE(net));
	if (n) {
		struct finding *f = report_add(r, SEV_WARNING, "logs.network-drops",
					       "%llu sessions ended by a reset, a broken pipe or a close without a goodbye",
					       (unsigned long long)n);
		for (size_t i = 0; i < ARRAY_SIZE(net); i++)
			ev_evidence(f, st, net[i]);
		keepalive_fixes(f);
	}
}

static void find_limits(struct logs_state *st, struct report *r)
{
	if (st->ev[LEV_LIMIT_MAXSTARTUPS].n) {
		struct finding *f = report_add(r, SEV_WARNING, "logs.maxstartups",
					       "%llu connections dropped past MaxStartups (too many unauthenticated connections)",
					       (unsigned long long)st->ev[LEV_LIMIT_MAXSTARTUPS].n);
		ev_evidence(f, st, LEV_LIMIT_MAXSTARTUPS);
		top_peers(f, st, LEV_LIMIT_MAXSTARTUPS);
		struct fix *x = finding_fix(f, "/etc/ssh/sshd_config");
		fix_line(x, "MaxStartups 30:30:100");
		x = finding_fix(f, "firewall");
		fix_line(x, "# or block the scanning sources listed above");
	}
	if (st->ev[LEV_LIMIT_PENALTY].n) {
		struct finding *f = report_add(r, SEV_WARNING, "logs.penalty",
					       "%llu connections refused by PerSourcePenalties",
					       (unsigned long long)st->ev[LEV_LIMIT_PENALTY].n);
		ev_evidence(f, st, LEV_LIMIT_PENALTY);
		top_peers(f, st, LEV_LIMIT_PENALTY);
		struct fix *x = finding_fix(f, "/etc/ssh/sshd_config");
		fix_line(x, "PerSourcePenaltyExemptList ADDR/MASK   # your own networks only");
	}
	if (st->ev[LEV_KEX_NO_MATCH].n) {
		struct finding *f = report_add(r, SEV_WARNING, "logs.kex-no-match",
					       "%llu connections failed: client and server share no algorithm",
					       (unsigned long long)st->ev[LEV_KEX_NO_MATCH].n);
		ev_evidence(f, st, LEV_KEX_NO_MATCH);
		struct fix *x = finding_fix(f, "the client");
		fix_line(x, "# upgrade the client (preferred), or allow its offer with a '+' line in sshd_config, e.g.");
		fix_line(x, "Ciphers +aes128-ctr");
	}
}

static void find_info(struct logs_state *st, struct report *r)
{
	static const enum logev pre[] = { LEV_PREAUTH_CLOSED, LEV_BANNER_INVALID, LEV_PREAUTH_GRACE };
	uint64_t n = evsum(st, pre, ARRAY_SIZE(pre));
	if (n) {
		struct finding *f = report_add(r, SEV_INFO, "logs.preauth",
					       "%llu connections ended before authentication (scanners, probes, slow logins)",
					       (unsigned long long)n);
		for (size_t i = 0; i < ARRAY_SIZE(pre); i++)
			ev_evidence(f, st, pre[i]);
		top_peers(f, st, LEV_PREAUTH_CLOSED);
	}
	if (st->ev[LEV_AUTH_FAILURE].n) {
		struct finding *f = report_add(r, SEV_INFO, "logs.auth-failure",
					       "%llu failed authentications", (unsigned long long)st->ev[LEV_AUTH_FAILURE].n);
		ev_evidence(f, st, LEV_AUTH_FAILURE);
		top_peers(f, st, LEV_AUTH_FAILURE);
	}
	static const enum logev idle[] = { LEV_IDLE_UNUSED, LEV_IDLE_CHANNEL };
	n = evsum(st, idle, ARRAY_SIZE(idle));
	if (n) {
		struct finding *f = report_add(r, SEV_INFO, "logs.idle-policy",
					       "%llu connections or channels closed by sshd's own idle policy",
					       (unsigned long long)n);
		for (size_t i = 0; i < ARRAY_SIZE(idle); i++)
			ev_evidence(f, st, idle[i]);
		struct fix *x = finding_fix(f, "/etc/ssh/sshd_config");
		fix_line(x, "# intended? otherwise raise or remove UnusedConnectionTimeout / ChannelTimeout");
	}
	if (st->ev[LEV_SERVER_RESTART].n) {
		struct finding *f = report_add(r, SEV_INFO, "logs.server-restart",
					       "sshd stopped or restarted %llu times",
					       (unsigned long long)st->ev[LEV_SERVER_RESTART].n);
		ev_evidence(f, st, LEV_SERVER_RESTART);
	}
	if (st->ev[LEV_KERNEL_OOM].n) {
		struct finding *f = report_add(r, SEV_WARNING, "logs.oom-kill",
					       "the kernel's OOM killer killed %llu processes",
					       (unsigned long long)st->ev[LEV_KERNEL_OOM].n);
		ev_evidence(f, st, LEV_KERNEL_OOM);
	}
	static const enum logev kern[] = { LEV_KERNEL_LINK_DOWN, LEV_KERNEL_NIC_RESET };
	n = evsum(st, kern, ARRAY_SIZE(kern));
	if (n) {
		struct finding *f = report_add(r, SEV_INFO, "logs.kernel-link",
					       "%llu network link-down or NIC reset events in the kernel log",
					       (unsigned long long)n);
		for (size_t i = 0; i < ARRAY_SIZE(kern); i++)
			ev_evidence(f, st, kern[i]);
	}
}

static void find_input(struct logs_state *st, struct report *r)
{
	uint64_t bin = 0, lng = 0, bts = 0;
	size_t bad = 0;
	for (size_t i = 0; i < st->nsrc; i++) {
		bin += st->srcs[i].binary;
		lng += st->srcs[i].long_lines;
		bts += st->srcs[i].broken_ts;
		bad += st->srcs[i].error != NULL;
	}
	if (bad) {
		struct finding *f = report_add(r, SEV_WARNING, "logs.unreadable",
					       "%zu of %zu log sources could not be read completely", bad, st->nsrc);
		for (size_t i = 0; i < st->nsrc; i++)
			if (st->srcs[i].error)
				finding_evidence(f, "%s: %s", st->srcs[i].name, st->srcs[i].error);
	}
	if (bin || lng || bts) {
		struct finding *f = report_add(r, SEV_INFO, "logs.bad-input",
					       "skipped or partly read lines: %llu binary, %llu longer than %d KiB, %llu with a broken time stamp",
					       (unsigned long long)bin, (unsigned long long)lng,
					       LOGREAD_MAX_LINE / 1024, (unsigned long long)bts);
		(void)f;
	}
	if (st->evicted) {
		struct finding *f = report_add(r, SEV_INFO, "logs.sessions-evicted",
					       "%llu connections never ended in the log and were evicted from the %zu-entry table",
					       (unsigned long long)st->evicted, st->cap);
		finding_evidence(f, "their endings were still counted as events, not as sessions");
	}
	if (!st->ssh_lines && !bad)
		report_add(r, SEV_INFO, "logs.no-ssh-lines", "no sshd or ssh lines in %llu lines read",
			   (unsigned long long)st->lines);
}

/* ---- measurements ---- */

static struct json_object *sources_json(const struct logs_state *st)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < st->nsrc; i++) {
		const struct src *s = &st->srcs[i];
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(s->name));
		json_object_object_add(o, "lines", json_object_new_int64((int64_t)s->lines));
		json_object_object_add(o, "binary_lines", json_object_new_int64((int64_t)s->binary));
		json_object_object_add(o, "long_lines", json_object_new_int64((int64_t)s->long_lines));
		json_object_object_add(o, "broken_timestamps", json_object_new_int64((int64_t)s->broken_ts));
		json_object_object_add(o, "error", s->error ? json_object_new_string(s->error) : NULL);
		json_object_array_add(a, o);
	}
	return a;
}

static struct json_object *sessions_json(struct logs_state *st)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "count", json_object_new_int64((int64_t)st->nsess));
	struct json_object *be = json_object_new_object();
	for (int e = 1; e < LEV_NPUBLIC; e++)
		if (st->by_end[e])
			json_object_object_add(be, logev_name((enum logev)e),
					       json_object_new_int64((int64_t)st->by_end[e]));
	json_object_object_add(o, "by_end", be);
	size_t n = st->dur_seen < RESERVOIR ? (size_t)st->dur_seen : RESERVOIR;
	struct json_object *d = json_object_new_object();
	if (n) {
		qsort(st->dur, n, sizeof(float), cmp_float);
		json_object_object_add(d, "p50", json_secs(st->dur[n / 2]));
		json_object_object_add(d, "p90", json_secs(st->dur[(n * 9) / 10 < n ? (n * 9) / 10 : n - 1]));
		json_object_object_add(d, "max", json_secs(st->dur_max));
	} else {
		json_object_object_add(d, "p50", NULL);
		json_object_object_add(d, "p90", NULL);
		json_object_object_add(d, "max", NULL);
	}
	json_object_object_add(o, "duration_s", d);
	size_t open = 0;
	for (size_t i = 0; i < st->cap; i++)
		open += st->sess[i].used && st->sess[i].authed;
	json_object_object_add(o, "open_at_end", json_object_new_int64((int64_t)open));
	json_object_object_add(o, "evicted", json_object_new_int64((int64_t)st->evicted));
	if (st->list) {
		json_object_object_add(o, "list", json_object_get(st->list));
		json_object_object_add(o, "list_dropped", json_object_new_int64((int64_t)st->list_dropped));
	}
	return o;
}

static void logs_text(FILE *out, struct json_object *m, int color)
{
	(void)color;
	struct json_object *v, *s;
	fprintf(out, "read %s lines, %s from ssh (%s unrecognized)\n",
		json_object_get_string(json_object_object_get(m, "lines")),
		json_object_get_string(json_object_object_get(m, "ssh_lines")),
		json_object_get_string(json_object_object_get(m, "unrecognized_ssh_lines")));
	if (json_object_object_get_ex(m, "events", &v)) {
		json_object_object_foreach(v, k, n) {
			if (json_object_get_int64(n))
				fprintf(out, "  %-28s %lld\n", k, (long long)json_object_get_int64(n));
		}
	}
	if (json_object_object_get_ex(m, "sessions", &s)) {
		struct json_object *d = json_object_object_get(s, "duration_s");
		fprintf(out, "sessions: %s", json_object_get_string(json_object_object_get(s, "count")));
		if (json_object_object_get(d, "p50"))
			fprintf(out, " (duration p50 %.0fs, p90 %.0fs, max %.0fs)",
				json_object_get_double(json_object_object_get(d, "p50")),
				json_object_get_double(json_object_object_get(d, "p90")),
				json_object_get_double(json_object_object_get(d, "max")));
		fputc('\n', out);
	}
}

void logs_report(struct logs_state *st, struct report *r)
{
	flush_kex(st);
	find_correlated(st, r);
	find_idle_signature(st, r);
	find_disconnects(st, r);
	find_limits(st, r);
	find_info(st, r);
	find_input(st, r);
	struct json_object *m = json_object_new_object();
	json_object_object_add(m, "lines", json_object_new_int64((int64_t)st->lines));
	json_object_object_add(m, "ssh_lines", json_object_new_int64((int64_t)st->ssh_lines));
	json_object_object_add(m, "unrecognized_ssh_lines", json_object_new_int64((int64_t)st->unrec));
	json_object_object_add(m, "sources", sources_json(st));
	struct json_object *ev = json_object_new_object();
	for (int e = 1; e < LEV_NPUBLIC; e++)
		json_object_object_add(ev, logev_name((enum logev)e),
				       json_object_new_int64((int64_t)st->ev[e].n));
	json_object_object_add(m, "events", ev);
	json_object_object_add(m, "sessions", sessions_json(st));
	report_measure(r, "logs", m, logs_text);
}

int logs_run(const struct logs_opts *o, struct report *r)
{
	struct logs_state *st = logs_new(o);
	struct strvec def = { 0 };
	const char *const *files = o->files;
	size_t nfiles = o->nfiles;
	if (!nfiles && !o->journal) {
		logread_defaults(&def);
		files = (const char *const *)def.v;
		nfiles = def.n;
	}
	size_t ok = 0;
	for (size_t i = 0; i < nfiles; i++)
		ok += logread_file(st, files[i]) == 0;
	if (o->journal || (!o->nfiles && !nfiles))
		ok += logread_journal(st, o->since_ms, o->until_ms) == 0;
	logs_report(st, r);
	if (!ok)
		r->unknown = 1;
	strvec_clear(&def);
	logs_free(st);
	return ok ? 0 : -1;
}
