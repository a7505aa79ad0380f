/* diagnose.c - the seeds' reasoning as code. Drops after a fixed idle time: a
 * middlebox timeout, cured by keepalives. Irregular drops, loss, an inconsistent
 * path: path quality. Hangs only on large transfers: an MTU black hole. Everyone
 * at once: the server (restarts, NIC resets, OOM). Connection never up: the
 * establishment phase that failed. */
#include "diagnose.h"

#include <stdlib.h>
#include <string.h>

const char *confidence_name(enum confidence c)
{
	static const char *const n[] = { "low", "medium", "high" };
	return n[c];
}

static const struct finding *worst_with_prefix(const struct report *r, const char *prefix,
					       enum severity min)
{
	const struct finding *best = NULL;
	for (size_t i = 0; i < r->n; i++) {
		const struct finding *f = &r->findings[i];
		if (f->sev >= min && str_startswith(f->id, prefix) && (!best || f->sev > best->sev))
			best = f;
	}
	return best;
}

static const struct finding *with_id(const struct report *r, const char *id, enum severity min)
{
	const struct finding *f = report_find(r, id);
	return f && f->sev >= min ? f : NULL;
}

static struct json_object *measure(const struct report *r, const char *a, const char *b)
{
	struct json_object *o = json_object_object_get(r->measurements, a);
	return o && b ? json_object_object_get(o, b) : o;
}

static long fix_index(const struct report *r, const struct finding *f)
{
	return f ? (long)(f - r->findings) : -1;
}

static struct cause *add_cause(struct diagnosis *d, const char *id, enum confidence c,
			       enum severity sev, const char *title_fmt, ...) PRINTF_LIKE(5, 6);
static struct cause *add_cause(struct diagnosis *d, const char *id, enum confidence c,
			       enum severity sev, const char *title_fmt, ...)
{
	if (d->ncauses >= ARRAY_SIZE(d->causes))
		return NULL;
	struct cause *k = &d->causes[d->ncauses++];
	memset(k, 0, sizeof(*k));
	k->id = id;
	k->conf = c;
	k->sev = sev;
	k->fix_from = -1;
	k->protect_from = -1;
	va_list ap;
	va_start(ap, title_fmt);
	k->title = xvasprintf(title_fmt, ap);
	va_end(ap);
	return k;
}

static void cite(struct cause *k, const struct finding *f)
{
	if (!k || !f)
		return;
	strvec_pushf(&k->evidence, "%s: %s", f->id, f->title);
	for (size_t i = 0; i < f->evidence.n && i < 3; i++)
		strvec_pushf(&k->evidence, "  %s", f->evidence.v[i]);
}

/* The connection never got established: nothing else matters until it does. */
static int establishment(const struct report *r, struct diagnosis *d)
{
	/* login.kex-stalled is critical only while unexplained (no small-kex proof) */
	static const char *const phases[] = { "dns.", "tcp.", "banner.", "kex.", "login.kex-stalled",
					      "auth.failed" };
	for (size_t i = 0; i < ARRAY_SIZE(phases); i++) {
		const struct finding *f = worst_with_prefix(r, phases[i], SEV_CRITICAL);
		if (f) {
			struct cause *k = add_cause(d, "cause.establishment", CONF_HIGH, SEV_CRITICAL,
						    "The connection is never established: %s", f->title);
			cite(k, f);
			if (k)
				k->fix_from = fix_index(r, f);
			return 1;
		}
	}
	return 0;
}

static void idle_timeout(const struct report *r, struct diagnosis *d)
{
	struct json_object *found = measure(r, "idle", "found");
	const struct finding *f = report_find(r, "path.idle-timeout");
	const char *by = json_object_get_string(measure(r, "idle", "closed_by"));
	if (!found || !json_object_get_boolean(found) || !f || (by && strcmp(by, "path")))
		return;	/* closed by the server (or unknown): not a middlebox timeout */
	int lo = json_object_get_int(measure(r, "idle", "lower_s"));
	struct json_object *up = measure(r, "idle", "upper_s");
	const char *expiry = json_object_get_string(measure(r, "idle", "expiry"));
	const struct finding *cka = worst_with_prefix(r, "client.keepalive.", SEV_WARNING);
	const struct finding *ska = worst_with_prefix(r, "server.keepalive.", SEV_WARNING);
	struct cause *k;

	if (f->sev >= SEV_WARNING) {
		k = add_cause(d, "cause.idle-timeout", CONF_HIGH, f->sev,
			      "A middlebox forgets idle connections after %d-%s s (%s) and no keepalive beats it",
			      lo, up ? json_object_get_string(up) : "?", expiry ? expiry : "?");
	} else {
		k = add_cause(d, "cause.idle-timeout", CONF_MEDIUM, SEV_OK,
			      "The path forgets idle connections after %d-%s s, but keepalives already beat it",
			      lo, up ? json_object_get_string(up) : "?");
	}
	cite(k, f);
	cite(k, cka);
	cite(k, ska);
	if (k)	/* audit's fix names the user's real file; idle's is generic */
		k->fix_from = fix_index(r, cka && cka->nfixes ? cka : f);
}

/* The server ends idle sessions itself (ChannelTimeout, TMOUT, ...): its own
 * cause, cured on the server; keepalives do not help, so none are prescribed. */
static void server_idle_policy(const struct report *r, struct diagnosis *d)
{
	const struct finding *f = worst_with_prefix(r, "server.idle-policy", SEV_WARNING);
	const struct finding *u = with_id(r, "idle.close-unattributed", SEV_WARNING);
	if (f) {
		struct cause *k = add_cause(d, "cause.server-idle-policy",
					    f->sev == SEV_CRITICAL ? CONF_HIGH : CONF_MEDIUM, f->sev,
					    "The server ends idle sessions itself, which keepalives "
					    "cannot prevent: %s", f->title);
		cite(k, f);
		if (k)
			k->fix_from = fix_index(r, f);
	} else if (u) {
		struct cause *k = add_cause(d, "cause.server-idle-policy", CONF_LOW, SEV_WARNING,
					    "Idle sessions are closed cleanly at a fixed age, by the server "
					    "or a proxy (unknown which): %s", u->title);
		cite(k, u);
	}
}

static void path_quality(const struct report *r, struct diagnosis *d)
{
	const struct finding *loss = worst_with_prefix(r, "path.loss", SEV_WARNING);
	const struct finding *jit = worst_with_prefix(r, "path.jitter", SEV_WARNING);
	const struct finding *inc = worst_with_prefix(r, "path.inconsistent", SEV_WARNING);
	const struct finding *lat = worst_with_prefix(r, "path.latency", SEV_WARNING);
	const struct finding *net = with_id(r, "logs.network-drops", SEV_WARNING);
	if (!loss && !jit && !inc && !lat)
		loss = net;	/* only the logs saw it */
	if (!loss && !jit && !inc && !lat)
		return;
	const struct finding *top = loss ? loss : inc ? inc : jit ? jit : lat;
	struct cause *k = add_cause(d, "cause.path-quality", loss || inc ? CONF_HIGH : CONF_MEDIUM,
				    top->sev == SEV_CRITICAL ? SEV_CRITICAL : SEV_WARNING,
				    "The path itself is unreliable (loss, jitter or an unstable route): "
				    "expect irregular drops, worse under load or on Wi-Fi/VPN");
	cite(k, loss);
	cite(k, inc);
	cite(k, jit);
	cite(k, lat);
	if (net != loss)
		cite(k, net);
	if (k)
		k->fix_from = fix_index(r, top);
}

static void mtu(const struct report *r, struct diagnosis *d)
{
	const struct finding *bh = worst_with_prefix(r, "path.mtu-blackhole", SEV_WARNING);
	const struct finding *kx = with_id(r, "login.mtu-blackhole", SEV_WARNING);
	if (!bh && !kx)
		return;
	struct cause *k = add_cause(d, "cause.mtu-blackhole", CONF_HIGH, SEV_CRITICAL,
				    kx ? "An MTU black hole: the login itself hangs in the key exchange "
					 "unless it is kept small, and large output and scp hang too"
				       : "An MTU black hole: small packets pass, large ones vanish "
					 "(hangs on large output, scp, or even key exchange)");
	cite(k, kx);
	cite(k, bh);
	cite(k, worst_with_prefix(r, "kernel.mtu-probing-off", SEV_INFO));
	if (k)	/* the login's fix carries the interim KexAlgorithms line too */
		k->fix_from = fix_index(r, kx ? kx : bh);
}

/* The logs: drops at the same moment for everyone (kernel, restarts, OOM). */
static void server_side(const struct report *r, struct diagnosis *d)
{
	static const char *const also[] = { "logs.oom-kill", "logs.server-restart", "logs.kernel-link" };
	const struct finding *corr = with_id(r, "logs.correlated-drops", SEV_WARNING);
	const struct finding *oom = with_id(r, "logs.oom-kill", SEV_WARNING);
	if (corr || oom) {
		const struct finding *top = corr ? corr : oom;
		struct cause *k = add_cause(d, "cause.server", corr ? CONF_HIGH : CONF_MEDIUM,
					    top->sev, "The server side drops sessions for everyone at once: %s",
					    top->title);
		cite(k, top);
		for (size_t i = 0; i < ARRAY_SIZE(also); i++)
			if (strcmp(also[i], top->id))
				cite(k, with_id(r, also[i], SEV_INFO));
		if (k)
			k->fix_from = fix_index(r, top);
	}
	const struct finding *lim = worst_with_prefix(r, "logs.maxstartups", SEV_WARNING);
	if (!lim)
		lim = worst_with_prefix(r, "logs.penalty", SEV_WARNING);
	if (!lim)
		lim = with_id(r, "server.maxstartups", SEV_WARNING);
	/* our own probes' penalty, or a rate limit on new connections: the
	 * server's protection, never the path's quality */
	if (!lim)
		lim = with_id(r, "server.penalty", SEV_WARNING);
	if (!lim)
		lim = with_id(r, "server.rate-limit", SEV_WARNING);
	if (lim) {
		struct cause *k = add_cause(d, "cause.server-limits", CONF_MEDIUM, SEV_WARNING,
					    "The server refuses connections at its limits (%s)", lim->title);
		cite(k, lim);
		if (k)
			k->fix_from = fix_index(r, lim);
	}
}

/* Without a measurement, the logs' own idle-timeout signature still points there. */
static void idle_from_logs(const struct report *r, struct diagnosis *d)
{
	const struct finding *sig = with_id(r, "logs.idle-timeout", SEV_WARNING);
	for (size_t i = 0; i < d->ncauses; i++)
		if (!strcmp(d->causes[i].id, "cause.idle-timeout")) {
			cite(&d->causes[i], sig);
			return;
		}
	if (!sig)
		return;
	struct cause *k = add_cause(d, "cause.idle-timeout", CONF_MEDIUM, SEV_WARNING,
				    "The logs show the signature of an idle timeout: %s", sig->title);
	cite(k, sig);
	cite(k, with_id(r, "logs.client-timeout", SEV_WARNING));
	if (k)
		k->fix_from = fix_index(r, sig);
}

static int cause_rank(const struct cause *k)
{
	return (int)k->sev * 4 + (int)k->conf;
}

static int cmp_cause(const void *a, const void *b)
{
	return cause_rank(b) - cause_rank(a);
}

void diagnose(const struct report *r, struct diagnosis *d)
{
	if (establishment(r, d))
		return;
	idle_timeout(r, d);
	server_idle_policy(r, d);
	mtu(r, d);
	path_quality(r, d);
	server_side(r, d);
	idle_from_logs(r, d);
	qsort(d->causes, d->ncauses, sizeof(d->causes[0]), cmp_cause);
	/* A login that hangs without a workaround comes before what was measured through it. */
	for (size_t i = 1; with_id(r, "login.mtu-blackhole", SEV_WARNING) && i < d->ncauses; i++)
		if (!strcmp(d->causes[i].id, "cause.mtu-blackhole")) {
			struct cause k = d->causes[i];
			memmove(&d->causes[1], &d->causes[0], i * sizeof(d->causes[0]));
			d->causes[0] = k;
			break;
		}
}

int cause_needs_protection(const struct cause *k)
{
	/* cured by keepalives, by the MTU fixes, or no session to lose */
	static const char *const curable[] = { "cause.idle-timeout", "cause.mtu-blackhole",
					       "cause.server-limits", "cause.establishment" };
	if (k->sev < SEV_WARNING)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(curable); i++)
		if (!strcmp(k->id, curable[i]))
			return 0;
	return 1;
}

size_t diagnosis_protect(struct diagnosis *d, long idx)
{
	size_t n = 0;
	for (size_t i = 0; i < d->ncauses; i++)
		if (cause_needs_protection(&d->causes[i])) {
			d->causes[i].protect_from = idx;
			n++;
		}
	return n;
}

void diagnosis_skip(struct diagnosis *d, const char *what, const char *command,
		    const char *why_fmt, ...)
{
	if (d->nskipped >= ARRAY_SIZE(d->skipped))
		return;
	struct not_checked *s = &d->skipped[d->nskipped++];
	s->what = what;
	s->command = xstrdup(command);
	va_list ap;
	va_start(ap, why_fmt);
	s->why = xvasprintf(why_fmt, ap);
	va_end(ap);
}

void diagnosis_free(struct diagnosis *d)
{
	for (size_t i = 0; i < d->ncauses; i++) {
		free(d->causes[i].title);
		strvec_clear(&d->causes[i].evidence);
	}
	for (size_t i = 0; i < d->nskipped; i++) {
		free(d->skipped[i].why);
		free(d->skipped[i].command);
	}
	memset(d, 0, sizeof(*d));
}

/* Only fixes that are files to edit (the rest: PuTTY, Tera Term ... stay in the detail). */
static void summary_fix(struct strbuf *sb, const struct finding *f)
{
	int shown = 0;
	for (size_t i = 0; f && i < f->nfixes && shown < 2; i++) {
		const char *w = f->fixes[i].where;
		if (*w != '/' && *w != '~')
			continue;
		sb_addf(sb, "%s %s: ", shown++ ? "; and in" : " Add to", w);
		for (size_t j = 0; j < f->fixes[i].lines.n && j < 4; j++) {
			char *l = xstrdup(f->fixes[i].lines.v[j]);
			sb_addf(sb, "%s%s", j ? ", " : "", str_trim(l));
			free(l);
		}
	}
	if (shown)
		sb_adds(sb, ".");
}

char *diagnosis_summary(const struct diagnosis *d, const struct report *r)
{
	struct strbuf sb = { 0 };
	const struct cause *top = d->ncauses ? &d->causes[0] : NULL;

	if (!top || top->sev < SEV_WARNING) {
		sb_adds(&sb, "No cause of dropped sessions was found in what could be measured.");
		if (top)
			sb_addf(&sb, " %s.", top->title);
	} else {
		sb_addf(&sb, "Most likely cause (%s confidence): %s.", confidence_name(top->conf),
			top->title);
		summary_fix(&sb, top->fix_from >= 0 ? &r->findings[top->fix_from] : NULL);
		if (d->ncauses > 1 && d->causes[1].sev >= SEV_WARNING)
			sb_addf(&sb, " Also: %s.", d->causes[1].title);
	}
	if (d->nskipped)
		sb_addf(&sb, " Not checked: %zu item%s (listed below).", d->nskipped,
			d->nskipped == 1 ? "" : "s");
	return sb.buf ? sb.buf : xstrdup("");
}
