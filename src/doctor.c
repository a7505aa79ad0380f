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

#include "audit.h"
#include "connect.h"
#include "diagnose.h"
#include "idle.h"
#include "idle_hold.h"
#include "log.h"
#include "logs.h"
#include "path.h"

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

/* Moves a sub-command's findings and measurements into the doctor's report. */
static void merge(struct report *r, struct report *sub)
{
	report_absorb(r, sub);
	json_object_object_foreach(sub->measurements, key, val)
		report_measure(r, key, json_object_get(val), NULL);
	for (size_t i = 0; i < sub->ntext && r->ntext < ARRAY_SIZE(r->text); i++) {
		r->text[r->ntext].name = xstrdup(sub->text[i].name);
		r->text[r->ntext].fn = sub->text[i].fn;
		r->ntext++;
	}
	report_free(sub);
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

static int step_connect(struct doctor *x)
{
	struct connect_opts co = { .timeout_ms = 10000, .no_login = 0, .command = NULL };
	struct report sub;
	step_begin(x, "connect", "resolve, TCP, banner, key exchange, login");
	report_init(&sub, "connect");
	size_t ok = connect_run(&co, x->t, 1, x->so, &sub);
	if (!ok)
		x->no_key_login = password_only(&sub);
	step_end(x, ok ? "established" : x->no_key_login ? "up to the password prompt"
						    : worst_title(&sub));
	merge(x->r, &sub);
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
				.res_ms = 2000, .connections = 32, .progress = x->o->progress, .save = 1 };
	struct report sub;
	char d[32];
	format_duration(d, sizeof(d), io.max_ms);
	step_begin(x, "idle", "how long the path lets a session sit idle");
	if (x->o->progress)
		fprintf(stderr, "      (up to %s; nobody can know a timeout T before T has passed)\n", d);
	report_init(&sub, "idle");
	idle_run(&io, x->t, x->so, &sub);
	struct json_object *found = json_object_object_get(
		json_object_object_get(sub.measurements, "idle"), "found");
	step_end(x, found && json_object_get_boolean(found) ? worst_title(&sub)
			: sub.unknown ? "could not measure" : "no idle timeout found");
	merge(x->r, &sub);
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
	merge(x->r, &sub);
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
	merge(x->r, &sub);
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
	merge(x->r, &sub);
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
		if (k->fix_from < 0)
			continue;
		for (size_t j = 0; j < x->r->findings[k->fix_from].nfixes; j++) {
			/* re-read each time: finding_fix() may not move findings, report_add() may */
			struct fix *src = &x->r->findings[k->fix_from].fixes[j];
			struct fix *dst = finding_fix(f, src->where);
			for (size_t l = 0; l < src->lines.n; l++)
				fix_line(dst, "%s", src->lines.v[l]);
		}
	}
	for (size_t i = 0; i < x->d.nskipped; i++) {
		struct finding *f = report_add(x->r, SEV_INFO, "doctor.not-checked", "Not checked: %s",
					       x->d.skipped[i].what);
		finding_evidence(f, "%s", x->d.skipped[i].why);
		finding_evidence(f, "to check it: %s", x->d.skipped[i].command);
	}
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
 * for 1.5 x the measured lower bound, must still answer. */
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
	int64_t lower = json_object_get_int(json_object_object_get(idle, "lower_s")) * 1000LL;
	int64_t hold = lower * 3 / 2;
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
				       alive ? "Verified: an idle session now survives %s (1.5 x the timeout)"
					     : "Not cured: an idle session still dies within %s",
				       d);
	finding_evidence(f, "session held idle %s past a path timeout of about %lld s: %s", d,
			 (long long)(lower / 1000), alive ? "it answered" : why);
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
	if (step_connect(&x) == 0) {
		step_audit(&x);
		step_idle(&x);
		judge_audit(&x);
		soften_client_keepalive(r);
		step_path(&x);
		step_logs(&x);
	}
	diagnose(r, &x.d);
	if (o->fix)
		apply_fix(&x);
	if (o->verify && (!o->fix || o->yes))
		verify(&x);
	int cured = mark_cured(&x);
	add_cause_findings(&x);
	r->summary = cured ? cured_summary(&x) : diagnosis_summary(&x.d, r);

	struct json_object *m = json_object_new_object();
	json_object_object_add(m, "summary", json_object_new_string(r->summary));
	json_object_object_add(m, "causes", causes_json(&x.d));
	json_object_object_add(m, "not_checked", skipped_json(&x.d));
	json_object_object_add(m, "verified", x.verified);
	if (x.fix)
		json_object_object_add(m, "fix", x.fix);
	report_measure(r, "doctor", m, doctor_text);
	diagnosis_free(&x.d);
	return 0;
}
