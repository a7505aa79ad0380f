/* logs.c - the logs engine: counts events, pairs connections into sessions,
 * and gathers what logs_report.c correlates and judges. One pass, bounded
 * memory: a fixed open-session table (full: the oldest is evicted), reservoirs
 * for durations, fixed tables for peers and anchors. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logs_int.h"

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
struct json_object *logs_json_secs(double s)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%.3f", s);
	return json_object_new_double_s(strtod(buf, NULL), buf);
}

void logs_iso(char *buf, size_t n, int64_t ms)
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
	for (size_t i = 0; i < st->cap; i++)
		st->sess[i].newer = i + 1 < st->cap ? (int)i + 1 : -1;
	st->free_head = 0;
	st->oldest[0] = st->oldest[1] = st->newest[0] = st->newest[1] = -1;
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
	for (size_t i = 0; i < st->nunrec_ex; i++)
		free(st->unrec_ex[i]);
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

/* The age lists, one per kind (authed or not), oldest first. */
static void age_unlink(struct logs_state *st, int i)
{
	struct sess *s = &st->sess[i];
	int k = s->authed != 0;
	if (s->older >= 0)
		st->sess[s->older].newer = s->newer;
	else
		st->oldest[k] = s->newer;
	if (s->newer >= 0)
		st->sess[s->newer].older = s->older;
	else
		st->newest[k] = s->older;
}

static void age_append(struct logs_state *st, int i)
{
	struct sess *s = &st->sess[i];
	int k = s->authed != 0;
	s->newer = -1;
	s->older = st->newest[k];
	if (st->newest[k] >= 0)
		st->sess[st->newest[k]].newer = i;
	else
		st->oldest[k] = i;
	st->newest[k] = i;
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
	age_unlink(st, i);
	s->used = 0;
	s->newer = st->free_head;
	st->free_head = i;
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
	/* unauthenticated for longer than any LoginGraceTime: ended unlogged */
	int o = st->oldest[0];
	for (int n = 0; n < 4 && o >= 0 && l->ts_ms >= 0 && st->sess[o].start_ms >= 0 &&
			l->ts_ms - st->sess[o].start_ms > PREAUTH_STALE_MS; n++, o = st->oldest[0]) {
		unlink_sess(st, o);
		st->stale++;
	}
	if (st->free_head < 0) {	/* really full: the oldest goes, pre-auth first */
		unlink_sess(st, st->oldest[st->oldest[0] >= 0 ? 0 : 1]);
		st->evicted++;
	}
	int i = st->free_head;
	struct sess *s = &st->sess[i];
	st->free_head = s->newer;
	memset(s, 0, sizeof(*s));
	s->used = 1;
	age_append(st, i);
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
	logs_iso(a, sizeof(a), s->start_ms);
	logs_iso(b, sizeof(b), end_ms);
	json_object_object_add(o, "start", s->start_ms >= 0 ? json_object_new_string(a) : NULL);
	json_object_object_add(o, "end", end_ms >= 0 ? json_object_new_string(b) : NULL);
	json_object_object_add(o, "duration_s", s->start_ms >= 0 && end_ms >= s->start_ms ?
			       logs_json_secs((double)(end_ms - s->start_ms) / 1000.0) : NULL);
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

void logs_flush(struct logs_state *st)
{
	flush_kex(st);
}

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
	} else if (e == LEV_DISC_CLOSED && i < 0 && (ev->flags & LF_NOPORT)) {
		/* an old sshd writes the same line before and after authentication;
		 * with no session known to have logged in, it is a scanner's or a
		 * failed login's close, not a dropped session */
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
		if (!st->sess[i].authed) {	/* into the list of sessions */
			age_unlink(st, i);
			st->sess[i].authed = 1;
			age_append(st, i);
		}
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

/* A classified line into the engine. nul: the line holds a NUL (binary). */
static void handle(struct logs_state *st, const struct logline *l, struct logevent *ev, int r,
		   const char *text, size_t len, int nul)
{
	if (l->ts_ms >= 0 && ((st->o.since_ms >= 0 && l->ts_ms < st->o.since_ms) ||
			      (st->o.until_ms >= 0 && l->ts_ms > st->o.until_ms)))
		return;
	/* binary garbage never classifies */
	if (r <= 0 && nul) {
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
		if (st->nunrec_ex < MAX_UNREC)
			st->unrec_ex[st->nunrec_ex++] = xstrndup(text, len < EXAMPLE_LEN ? len : EXAMPLE_LEN);
		return;
	}
	if (st->o.host && ev->addr[0] && strcmp(ev->addr, st->o.host) != 0 &&
	    strcmp(l->host, st->o.host) != 0)
		return;
	dispatch(st, l, ev, text, len);
}

void logs_prepare(struct logclock *clk, const char *line, size_t len, struct logs_rec *rec)
{
	rec->line = line;
	rec->kind = LREC_LINE;
	if (len && line[len - 1] == '\r')
		len--;
	rec->len = (uint32_t)len;
	if (len && line[0] == '{') {	/* journal JSON: its message needs a scratch of its own */
		rec->kind = LREC_DEFER;
		return;
	}
	logscan_header(line, len, clk, &rec->l, NULL, 0, 1);
	rec->r = (int8_t)logscan_classify(&rec->l, &rec->ev);
	/* look for NULs only where they matter (not on every line) */
	rec->nul = (rec->r <= 0 || rec->l.ts_broken) && memchr(line, '\0', len) != NULL;
	rec->ev.key = rec->r > 0 && rec->ev.addr[0] ? key_ap(rec->ev.addr, rec->ev.port) : 0;
}

void logs_commit(struct logs_state *st, struct logs_rec *rec)
{
	if (rec->kind == LREC_LONG) {
		logs_source_note(st, "long_lines");
		return;
	}
	if (rec->kind == LREC_DEFER) {
		logs_line(st, rec->line, rec->len);
		return;
	}
	struct src *s = cur_src(st);
	st->lines++;
	if (s) {
		s->lines++;
		s->broken_ts += rec->l.ts_broken && !rec->nul;
	}
	handle(st, &rec->l, &rec->ev, rec->r, rec->line, rec->len, rec->nul);
}

struct logclock *logs_clock(struct logs_state *st)
{
	return &st->clk;
}

void logs_line(struct logs_state *st, const char *line, size_t len)
{
	if (!(len && line[0] == '{')) {
		struct logs_rec rec;
		logs_prepare(&st->clk, line, len, &rec);
		logs_commit(st, &rec);
		return;
	}
	struct src *s = cur_src(st);
	struct logline l;
	struct logevent ev;
	st->lines++;
	if (s)
		s->lines++;
	if (line[len - 1] == '\r')
		len--;
	logscan_header(line, len, &st->clk, &l, st->scratch, LOGREAD_MAX_LINE, 1);
	int nul = memchr(line, '\0', len) != NULL;
	if (l.ts_broken && s && !nul)
		s->broken_ts++;
	int r = logscan_classify(&l, &ev);
	ev.key = r > 0 && ev.addr[0] ? key_ap(ev.addr, ev.port) : 0;
	handle(st, &l, &ev, r, line, len, nul);
}

void logs_entry(struct logs_state *st, const struct logline *l, const char *text, size_t textlen)
{
	struct src *s = cur_src(st);
	struct logevent ev;
	st->lines++;
	if (s)
		s->lines++;
	int r = logscan_classify(l, &ev);
	ev.key = r > 0 && ev.addr[0] ? key_ap(ev.addr, ev.port) : 0;
	handle(st, l, &ev, r, text, textlen, 0);
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
