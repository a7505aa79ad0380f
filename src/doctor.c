/* doctor.c - runs the other commands' cores in the seeds' order and keeps their
 * results side by side in one report; diagnose.c judges, audit's fix cures,
 * idle_hold proves. */
#include "doctor.h"

#include <ifaddrs.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "askpass.h"
#include "audit.h"
#include "connect.h"
#include "diagnose.h"
#include "doctor_history.h"
#include "idle.h"
#include "idle_hold.h"
#include "log.h"
#include "logs.h"
#include "path.h"
#include "protect.h"

#define STEPS 5

struct doctor {
	const struct doctor_opts *o;
	struct target *t;
	const struct sshopts *so;
	struct report *r;
	struct diagnosis d;
	struct audit_facts af;
	int audited;
	int local;		/* the server is this machine: its config and logs are here */
	int no_key_login;	/* the server wants a password: batch-mode login impossible */
	int step;
	int64_t step_start;
	struct json_object *fix;	/* measurements.doctor.fix */
	struct json_object *verified;	/* measurements.doctor.verified */
	struct protect_facts pf;	/* what the server has to keep the work alive */
	struct sshopts so_kex;	/* the user's options plus the small key exchange */
	struct doctor_hist hist;	/* what the flight recorder's sessions proved */
};

static void step_begin(struct doctor *x, const char *name, const char *what)
{
	x->step++;
	x->step_start = now_ms();
	if (x->o->progress)
		fprintf(stderr, "[%d/%d] %-8s %s ...\n", x->step, STEPS, name, what);
}

static void step_end(struct doctor *x, const char *verdict)
{
	if (x->o->progress) {
		char d[32];
		format_duration(d, sizeof(d), now_ms() - x->step_start);
		fprintf(stderr, "      %s (%s)\n", verdict, d);
	}
}

static const char *worst_title(const struct report *r)
{
	const struct finding *w = NULL;
	for (size_t i = 0; i < r->n; i++)
		if (!w || r->findings[i].sev > w->sev)
			w = &r->findings[i];
	return w && w->sev >= SEV_WARNING ? w->title : "ok";
}

/* Login failed only because the server wants a password (people type it): not a
 * fault of the path. Say so, and measure what can be measured without logging in. */
static int password_only(struct report *sub)
{
	struct finding *auth = NULL;
	for (size_t i = 0; i < sub->n; i++) {
		struct finding *f = &sub->findings[i];
		if (f->sev < SEV_CRITICAL)
			continue;
		if (strcmp(f->id, "auth.failed") || auth)
			return 0;
		auth = f;
	}
	for (size_t i = 0; auth && i < auth->evidence.n; i++)
		if (strstr(auth->evidence.v[i], "password") ||
		    strstr(auth->evidence.v[i], "keyboard-interactive")) {
			auth->sev = SEV_INFO;
			finding_evidence(auth, "the server accepts passwords: a person can log in, "
					 "sshdoctor (batch mode) cannot; measuring without logging in");
			return 1;
		}
	return 0;
}

/* ssh's "Permission denied (...)" line among auth.failed's evidence, or NULL. */
static const char *auth_denied(struct report *sub)
{
	struct finding *f = report_find(sub, "auth.failed");
	for (size_t i = 0; f && i < f->evidence.n; i++)
		if (strstr(f->evidence.v[i], "password") ||
		    strstr(f->evidence.v[i], "keyboard-interactive"))
			return f->evidence.v[i];
	return NULL;
}

static int step_connect(struct doctor *x)
{
	struct connect_opts co = { .timeout_ms = 10000, .no_login = 0, .command = NULL };
	struct report sub;
	step_begin(x, "connect", "resolve, TCP, banner, key exchange, login");
	report_init(&sub, "connect");
	size_t ok = connect_run(&co, x->t, 1, x->so, &sub);
	/* An MTU black hole in the key exchange, proven by a small one that logs in:
	 * every later ssh goes through that small key exchange (first -o wins). */
	struct json_object *kr = json_object_object_get(
		json_object_object_get(sub.measurements, "connect"), "kex_retry");
	struct json_object *opts = json_object_object_get(kr, "options");
	if (ok && report_find(&sub, "login.mtu-blackhole") && opts) {
		for (size_t i = 0; i < json_object_array_length(opts); i++) {
			strvec_push(&x->so_kex.args, "-o");
			strvec_push(&x->so_kex.args,
				    json_object_get_string(json_object_array_get_idx(opts, i)));
		}
		strvec_pushv(&x->so_kex.args, &x->so->args);
		x->so_kex.config = x->so->config ? xstrdup(x->so->config) : NULL;
		x->so_kex.user = x->so->user ? xstrdup(x->so->user) : NULL;
		x->so_kex.port = x->so->port;
		x->so_kex.family = x->so->family;
		x->so = &x->so_kex;
		if (x->o->progress)
			fprintf(stderr, "      the login needs a small key exchange: "
				"the next steps use it\n");
	}
	if (!ok)
		x->no_key_login = password_only(&sub);
	if (x->no_key_login && askpass_offer(x->t, x->so, auth_denied(&sub)) == 1) {
		report_free(&sub);	/* the password typed once: logged in as with a key */
		report_init(&sub, "connect");
		ok = connect_run(&co, x->t, 1, x->so, &sub);
		x->no_key_login = ok ? 0 : password_only(&sub);
	}
	step_end(x, ok ? "established" : x->no_key_login ? "up to the password prompt"
						    : worst_title(&sub));
	report_merge(x->r, &sub);
	return ok || x->no_key_login ? 0 : -1;
}

static void step_audit(struct doctor *x)
{
	struct audit_opts ao = { .target = x->t, .so = x->so, .remote = x->o->remote,
				 .skip_server = !x->o->remote && !x->local };
	struct report sub;
	char *err = NULL;
	if (ao.skip_server)
		diagnosis_skip(&x->d, "server configuration", "sshdoctor doctor --remote TARGET",
			       "the server is another machine: its sshd_config was not read");
	step_begin(x, "audit", x->o->remote ? "client, kernel and the server (remote)"
					     : "client, kernel, and the server when local");
	report_init(&sub, "audit");
	if (audit_run(&ao, &sub, &x->af, &err) < 0) {
		step_end(x, err);
		diagnosis_skip(&x->d, "audit", "sshdoctor audit TARGET", "%s", err);
		free(err);
		report_free(&sub);
		return;
	}
	x->audited = 1;
	step_end(x, worst_title(&sub));
	report_free(&sub);	/* judged again once the idle timeout is measured */
}

static void step_idle(struct doctor *x)
{
	struct idle_opts io = { .via = x->no_key_login ? VIA_PREAUTH : VIA_SSH,
				.via_explicit = x->no_key_login, .max_ms = x->o->idle_max_ms,
				.res_ms = 1000, .connections = 32, .progress = x->o->progress, .save = 1 };
	struct report sub;
	char d[32];
	if (x->o->quick && x->hist.conclusive) {	/* the sessions already proved it */
		step_begin(x, "idle", "skipped (--quick): learned from your sessions");
		doctor_history_as_idle(&x->hist, x->t, x->r);
		diagnosis_skip(&x->d, "active idle measurement", "sshdoctor idle TARGET",
			       "--quick: the idle timeout was learned from your sessions (a tight "
			       "bracket), not measured now");
		step_end(x, worst_title(x->r));
		return;
	}
	io.max_ms = doctor_history_confirm_max_ms(&x->hist, io.max_ms);
	format_duration(d, sizeof(d), io.max_ms);
	step_begin(x, "idle", x->hist.conclusive ? "confirming what your sessions proved"
						 : "how long the path lets a session sit idle");
	if (x->o->progress)
		fprintf(stderr, "      (up to %s; nobody can know a timeout T before T has passed)\n", d);
	report_init(&sub, "idle");
	idle_run(&io, x->t, x->so, &sub);
	struct json_object *found = json_object_object_get(
		json_object_object_get(sub.measurements, "idle"), "found");
	step_end(x, found && json_object_get_boolean(found) ? worst_title(&sub)
			: sub.unknown ? "could not measure" : "no idle timeout found");
	report_merge(x->r, &sub);
	doctor_history_confirm(&x->hist, x->r);
}

/* The audit judged against the idle timeout just measured (or the stored one). */
static void judge_audit(struct doctor *x)
{
	if (!x->audited)
		return;
	struct json_object *idle = json_object_object_get(x->r->measurements, "idle");
	struct json_object *found = json_object_object_get(idle, "found");
	if (found && json_object_get_boolean(found)) {
		x->af.idle_s = json_object_get_int(json_object_object_get(idle, "lower_s"));
		x->af.idle_source = "measured";
	}
	struct report sub;
	report_init(&sub, "audit");
	audit_analyse(&x->af, &sub);
	report_merge(x->r, &sub);
}

static void step_path(struct doctor *x)
{
	struct path_opts po = { .count = x->o->quick ? 30 : 40,	/* enough to see 20% loss */
				.duration_ms = x->o->quick ? 30000 : 60000,
				.bulk = x->o->quick ? 0 : 256 * 1024 };
	struct report sub;
	if (x->o->no_path) {
		diagnosis_skip(&x->d, "path", "sshdoctor path TARGET", "skipped with --no-path");
		x->step++;
		return;
	}
	step_begin(x, "path", "loss, jitter and MTU on the path SSH uses");
	report_init(&sub, "path");
	path_run(&po, x->t, x->so, &sub);
	step_end(x, worst_title(&sub));
	report_merge(x->r, &sub);
}

/* Is host one of this machine's own addresses? Then its logs are readable here. */
static int host_is_local(const char *host)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICSERV, .ai_socktype = SOCK_STREAM }, *res;
	struct ifaddrs *ifs;
	int local = 0;
	if (getaddrinfo(host, "22", &hints, &res) != 0)
		return 0;
	if (getifaddrs(&ifs) == 0) {
		for (struct addrinfo *a = res; a && !local; a = a->ai_next)
			for (struct ifaddrs *i = ifs; i && !local; i = i->ifa_next)
				if (i->ifa_addr && i->ifa_addr->sa_family == a->ai_family) {
					size_t off = a->ai_family == AF_INET ? 4 : 8;
					size_t len = a->ai_family == AF_INET ? 4 : 16;
					local = memcmp((char *)a->ai_addr + off,
						       (char *)i->ifa_addr + off, len) == 0;
				}
		freeifaddrs(ifs);
	}
	freeaddrinfo(res);
	return local;
}

static void step_logs(struct doctor *x)
{
	struct logs_opts lo = { .files = x->o->logs, .nfiles = x->o->nlogs,
				.since_ms = -1, .until_ms = -1 };
	struct report sub;
	if (!x->o->nlogs && !x->local) {
		diagnosis_skip(&x->d, "logs", "sshdoctor logs --journal (on the server)",
			       "the server's logs are not readable from here "
			       "(give --server-log FILE, or run on the server)");
		x->step++;
		return;
	}
	if (!x->o->nlogs)	/* a local server: its journal, else the usual files */
		lo.journal = access("/run/systemd/journal", F_OK) == 0;
	step_begin(x, "logs", x->o->nlogs ? "the server's log files" : "this machine's logs");
	report_init(&sub, "logs");
	logs_run(&lo, &sub);
	step_end(x, worst_title(&sub));
	report_merge(x->r, &sub);
}

/* The server's own keepalives (seen by idle) beat the timeout: a client without
 * ServerAliveInterval is then not what drops sessions. Say so instead of alarming. */
static void soften_client_keepalive(struct report *r)
{
	const struct finding *it = report_find(r, "path.idle-timeout");
	struct json_object *ska = json_object_object_get(
		json_object_object_get(r->measurements, "idle"), "server_keepalive_s");
	if (!it || it->sev != SEV_OK || !ska || json_object_get_int(ska) <= 0)
		return;
	for (size_t i = 0; i < r->n; i++) {
		struct finding *f = &r->findings[i];
		if ((str_startswith(f->id, "client.keepalive.") ||
		     str_startswith(f->id, "kernel.tcp-keepalive.")) && f->sev >= SEV_WARNING) {
			f->sev = SEV_INFO;
			finding_evidence(f, "not a cause here: the server sends keepalives every %d s, "
					 "below the path's idle timeout", json_object_get_int(ska));
		}
	}
}

/* The server ends idle sessions itself: keepalive findings stay (they answer the
 * path), but must not read as the cure for that. */
static void note_server_policy(struct report *r)
{
	const struct finding *p = report_find(r, "server.idle-policy");
	if (!p || p->sev < SEV_CRITICAL)
		return;
	for (size_t i = 0; i < r->n; i++) {
		struct finding *f = &r->findings[i];
		if ((str_startswith(f->id, "client.keepalive.") || str_startswith(f->id, "server.keepalive.")) &&
		    f->sev >= SEV_WARNING)
			finding_evidence(f, "not a cure for server.idle-policy: keepalives are not channel "
					    "data, the server's idle clock keeps running");
	}
}

static struct json_object *causes_json(const struct diagnosis *d)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < d->ncauses; i++) {
		const struct cause *k = &d->causes[i];
		struct json_object *o = json_object_new_object();
		struct json_object *ev = json_object_new_array();
		json_object_object_add(o, "id", json_object_new_string(k->id));
		json_object_object_add(o, "confidence", json_object_new_string(confidence_name(k->conf)));
		json_object_object_add(o, "title", json_object_new_string(k->title));
		for (size_t j = 0; j < k->evidence.n; j++)
			json_object_array_add(ev, json_object_new_string(k->evidence.v[j]));
		json_object_object_add(o, "evidence", ev);
		json_object_array_add(a, o);
	}
	return a;
}

static struct json_object *skipped_json(const struct diagnosis *d)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < d->nskipped; i++) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "what", json_object_new_string(d->skipped[i].what));
		json_object_object_add(o, "why", json_object_new_string(d->skipped[i].why));
		json_object_object_add(o, "command", json_object_new_string(d->skipped[i].command));
		json_object_array_add(a, o);
	}
	return a;
}

/* Each cause becomes a finding of its own, with the fix lines of the finding behind it. */
static void add_cause_findings(struct doctor *x)
{
	for (size_t i = 0; i < x->d.ncauses; i++) {
		const struct cause *k = &x->d.causes[i];
		struct finding *f = report_add(x->r, k->sev, k->id, "%s", k->title);
		finding_evidence(f, "confidence: %s", confidence_name(k->conf));
		for (size_t j = 0; j < k->evidence.n; j++)
			finding_evidence(f, "%s", k->evidence.v[j]);
		long from[2] = { k->fix_from, k->protect_from };
		for (int w = 0; w < 2; w++) {
			if (from[w] < 0)
				continue;
			for (size_t j = 0; j < x->r->findings[from[w]].nfixes; j++) {
				/* re-read each time: finding_fix() may not move findings, report_add() may */
				struct fix *src = &x->r->findings[from[w]].fixes[j];
				struct fix *dst = finding_fix(f, src->where);
				for (size_t l = 0; l < src->lines.n; l++)
					fix_line(dst, "%s", src->lines.v[l]);
			}
		}
	}
	for (size_t i = 0; i < x->d.nskipped; i++) {
		struct finding *f = report_add(x->r, SEV_INFO, "doctor.not-checked", "Not checked: %s",
					       x->d.skipped[i].what);
		finding_evidence(f, "%s", x->d.skipped[i].why);
		finding_evidence(f, "to check it: %s", x->d.skipped[i].command);
	}
}

/* Asked right after the login works, before idle and path open their many
 * connections (a server with PerSourcePenalties may refuse new ones later). */
static void protect_look(struct doctor *x)
{
	if (x->no_key_login)
		snprintf(x->pf.why, sizeof(x->pf.why), "no key login to look with");
	else
		protect_probe(x->t, x->so, &x->pf);
}

/* Causes keepalives cannot cure: what keeps the work alive across the drop, with
 * what the server has (one ssh round trip, only when such a cause exists). */
static void protect_work(struct doctor *x)
{
	size_t need = 0;
	for (size_t i = 0; i < x->d.ncauses; i++)
		need += cause_needs_protection(&x->d.causes[i]);
	if (!need)
		return;
	if (!x->pf.known && !x->pf.why[0])
		snprintf(x->pf.why, sizeof(x->pf.why), "no login to look with");
	struct finding *f = protect_advice(x->r, &x->pf, x->t->spec ? x->t->spec : x->t->host);
	diagnosis_protect(&x->d, (long)(f - x->r->findings));
}

/* The cure through audit's own fix code: diff first, written only with --yes. */
static void apply_fix(struct doctor *x)
{
	struct audit_opts ao = { .target = x->t, .so = x->so, .remote = x->o->remote,
				 .skip_server = !x->o->remote && !x->local, .no_kernel_fix = 1 };
	char *err = NULL;
	if (!x->audited) {
		x->fix = json_object_new_object();
		json_object_object_add(x->fix, "error", json_object_new_string("no audit"));
		json_object_object_add(x->fix, "applied", json_object_new_boolean(0));
		return;
	}
	audit_fix_run(&ao, &x->af, x->o->yes, 0, &x->fix, &err);	/* errors land in x->fix */
	free(err);
	json_object_object_add(x->fix, "undo", json_object_new_string("sshdoctor audit --undo"));
}

/* Proof: a real session, with the user's settings as they are now, held idle
 * past the old death time (1.5 x the lower bound, and always past the upper
 * bound), must still answer. */
static void verify(struct doctor *x)
{
	struct json_object *idle = json_object_object_get(x->r->measurements, "idle");
	struct json_object *found = json_object_object_get(idle, "found");
	if (x->no_key_login) {
		diagnosis_skip(&x->d, "verify", "ssh -o ServerAliveInterval=15 TARGET, then leave it idle",
			       "holding a session open needs a key login (the server wants a password)");
		return;
	}
	if (!found || !json_object_get_boolean(found)) {
		diagnosis_skip(&x->d, "verify", "sshdoctor doctor --verify TARGET",
			       "no idle timeout was measured, so there is nothing to outlast");
		return;
	}
	int64_t lower = (int64_t)(json_object_get_double(json_object_object_get(idle, "lower_s")) * 1000);
	int64_t upper = (int64_t)(json_object_get_double(json_object_object_get(idle, "upper_s")) * 1000);
	/* The old death time is only known to lie in (lower, upper]: a hold that
	 * stays under upper can survive an uncured path (a wide bracket under load,
	 * 3.0-5.1 s with a 5 s timeout, was "verified" at 4.5 s). */
	int64_t margin = upper / 10 > 1000 ? upper / 10 : 1000;
	int64_t hold = lower * 3 / 2;
	if (upper > 0 && upper + margin > hold)
		hold = upper + margin;
	char d[32], why[256] = "";
	format_duration(d, sizeof(d), hold);
	if (x->o->progress)
		fprintf(stderr, "[+]   verify   holding a session idle for %s with the current settings ...\n", d);
	int64_t t0 = now_ms();
	int alive = idle_hold(x->t, x->so, hold, why, sizeof(why));
	format_duration(d, sizeof(d), now_ms() - t0);
	if (alive < 0) {
		diagnosis_skip(&x->d, "verify", "sshdoctor doctor --verify TARGET", "%s", why);
		return;
	}
	x->verified = json_object_new_boolean(alive);
	struct finding *f = report_add(x->r, alive ? SEV_OK : SEV_CRITICAL, "doctor.verify",
				       alive ? "Verified: an idle session now survives %s (past the old timeout)"
					     : "Not cured: an idle session still dies within %s",
				       d);
	char lo[32], up[32];
	format_duration(lo, sizeof(lo), lower);
	format_duration(up, sizeof(up), upper);
	finding_evidence(f, "session held idle %s past a path timeout measured at %s-%s: %s", d,
			 lo, up, alive ? "it answered" : why);
	struct strvec ka = { 0 };
	char *kerr = NULL;
	if (target_ssh_user_keepalive_opts(x->t, x->so, &ka, &kerr) == 0 && ka.n == 4)
		finding_evidence(f, "held with your own %s, %s (ssh -G without the tool's BatchMode)",
				 ka.v[1], ka.v[3]);
	free(kerr);
	strvec_clear(&ka);
	const char *by = json_object_get_string(json_object_object_get(idle, "closed_by"));
	if (!alive && by && !strcmp(by, "server"))
		finding_evidence(f, "sshd closes idle sessions itself (server.idle-policy): only the "
				    "server-side change cures it, not a keepalive");
	if (x->o->progress)
		fprintf(stderr, "      %s (%s)\n", alive ? "survived" : "died", d);
}

/* The fix was applied and an idle session now survives: what it cured is no longer
 * a problem, so those findings stop setting the status (the evidence stays). */
static int mark_cured(struct doctor *x)
{
	static const char *const cured[] = { "path.idle-timeout", "client.keepalive.",
					     "server.keepalive.", "kernel.tcp-keepalive." };
	if (!x->fix || !json_object_get_boolean(json_object_object_get(x->fix, "applied")) ||
	    !x->verified || !json_object_get_boolean(x->verified))
		return 0;
	for (size_t i = 0; i < x->r->n; i++) {
		struct finding *f = &x->r->findings[i];
		for (size_t j = 0; j < ARRAY_SIZE(cured); j++)
			if (f->sev >= SEV_WARNING && str_startswith(f->id, cured[j])) {
				f->sev = SEV_INFO;
				finding_evidence(f, "cured: the fix was applied and an idle session "
						 "now survives (doctor.verify)");
			}
	}
	for (size_t i = 0; i < x->d.ncauses; i++)
		if (!strcmp(x->d.causes[i].id, "cause.idle-timeout") && x->d.causes[i].sev >= SEV_WARNING) {
			x->d.causes[i].sev = SEV_INFO;
			strvec_push(&x->d.causes[i].evidence, "cured: fix applied and verified");
			return 1;
		}
	return 0;
}

static char *cured_summary(const struct doctor *x)
{
	const char *log = json_object_get_string(json_object_object_get(x->fix, "log"));
	struct strbuf sb = { 0 };
	for (size_t i = 0; i < x->d.ncauses; i++)
		if (!strcmp(x->d.causes[i].id, "cause.idle-timeout"))
			sb_addf(&sb, "Found and cured: %s. ", x->d.causes[i].title);
	sb_adds(&sb, "The change is applied");
	if (log && *log)
		sb_addf(&sb, " (%.*s)", (int)strcspn(log, "\n"), log);
	sb_adds(&sb, " and verified: an idle session held past the timeout now survives. "
		     "Undo with 'sshdoctor audit --undo'.");
	return sb.buf;
}

static void doctor_text(FILE *out, struct json_object *m, int color)
{
	struct json_object *fix = json_object_object_get(m, "fix");
	if (fix) {
		const char *diff = json_object_get_string(json_object_object_get(fix, "diff"));
		int applied = json_object_get_boolean(json_object_object_get(fix, "applied"));
		fprintf(out, "%s\n", applied ? "Applied (undo with 'sshdoctor audit --undo'):"
					     : "The fix (not applied; add --yes to apply):");
		if (diff && *diff) {
			for (const char *l = diff; *l;) {
				size_t n = strcspn(l, "\n");
				const char *c = !color ? "" : *l == '+' ? "\033[32m" : *l == '-' ? "\033[31m" : "";
				fprintf(out, "  %s%.*s%s\n", c, (int)n, l, *c ? "\033[0m" : "");
				l += n + (l[n] == '\n');
			}
		} else {
			fputs("  nothing to change\n", out);
		}
		struct json_object *e = json_object_object_get(fix, "error");
		if (e)
			fprintf(out, "  error: %s\n", json_object_get_string(e));
	}
}

int doctor_run(const struct doctor_opts *o, struct target *t, const struct sshopts *so,
	       struct report *r)
{
	struct doctor x = { .o = o, .t = t, .so = so, .r = r };
	char *err = NULL;
	if (target_resolve(t, so, &err) < 0) {
		struct finding *f = report_add(r, SEV_INFO, "doctor.target", "Could not read the ssh configuration");
		finding_evidence(f, "%s", err);
		free(err);
		r->unknown = 1;
		return 0;
	}
	report_set_target(r, t->hostname, t->eport, t->euser);
	x.local = host_is_local(t->hostname);
	doctor_history_read(t, r, &x.hist, o->progress);
	if (step_connect(&x) == 0) {
		protect_look(&x);
		step_audit(&x);
		step_idle(&x);
		judge_audit(&x);
		soften_client_keepalive(r);
		note_server_policy(r);
		step_path(&x);
		step_logs(&x);
	}
	diagnose(r, &x.d);
	protect_work(&x);
	if (o->fix)
		apply_fix(&x);
	if (o->verify && (!o->fix || o->yes))
		verify(&x);
	int cured = mark_cured(&x);
	add_cause_findings(&x);
	r->summary = cured ? cured_summary(&x) : diagnosis_summary(&x.d, r);
	doctor_history_summary(&x.hist, &r->summary);

	struct json_object *m = json_object_new_object();
	json_object_object_add(m, "summary", json_object_new_string(r->summary));
	json_object_object_add(m, "causes", causes_json(&x.d));
	json_object_object_add(m, "not_checked", skipped_json(&x.d));
	json_object_object_add(m, "verified", x.verified);
	if (x.fix)
		json_object_object_add(m, "fix", x.fix);
	report_measure(r, "doctor", m, doctor_text);
	diagnosis_free(&x.d);
	doctor_history_free(&x.hist);
	sshopts_free(&x.so_kex);
	return 0;
}
