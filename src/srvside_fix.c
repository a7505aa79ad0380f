/* srvside_fix.c - `doctor --server --fix [--yes]`: the fixes that are one sshd
 * config line (MaxStartups, PerSourcePenaltyExemptList) go through audit's fix
 * machinery (candidate checked with sshd -t/-T, one change set, verified on
 * disk, sshd reloaded, undone with `audit --undo`). Everything else the judge
 * prescribes (firewall rules, bans, hosts.deny, starting sshd) stays a shown
 * command: removing someone's rule or unbanning is the administrator's call. */
#include "srvside.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "sshcfg.h"
#include "util.h"

static void give(struct audit_facts *f, const char *key, const char *val)
{
	if (f->ngiven >= sizeof(f->given) / sizeof(f->given[0]))
		return;
	snprintf(f->given[f->ngiven].key, sizeof(f->given[0].key), "%s", key);
	snprintf(f->given[f->ngiven].val, sizeof(f->given[0].val), "%s", val);
	f->ngiven++;
}

/* 1 when the comma list already names addr exactly (sshd matches patterns;
 * an exact entry is what we would add). */
static int list_has(const char *list, const char *addr)
{
	size_t n = strlen(addr);
	for (const char *p = list; p && *p;) {
		size_t l = strcspn(p, ",");
		if (l == n && !strncmp(p, addr, n))
			return 1;
		p += l + (p[l] == ',');
	}
	return 0;
}

/* Pure: the settings the observations call for, from sshd -T's current values
 * (so an exemption list is extended, never replaced, and a MaxStartups already
 * generous is not lowered). Returns how many were set in f->given. */
size_t srvside_fix_settings(const struct srv_obs *o, struct audit_facts *f)
{
	f->ngiven = 0;
	if (!o->sshd_T)
		return 0;
	struct kvlist kv = { 0 };
	kv_parse(&kv, o->sshd_T);
	const char *ms = kv_get(&kv, "maxstartups");
	if (o->logs.maxstartups && (!ms || strtol(ms, NULL, 10) < 100))
		give(f, "MaxStartups", "100:30:200");
	const char *ex = kv_get(&kv, "persourcepenaltyexemptlist");
	if (o->logs.penalty && o->client[0] && !(ex && list_has(ex, o->client))) {
		char val[256];
		if (!ex || !strcmp(ex, "none") || !*ex)
			snprintf(val, sizeof(val), "%s", o->client);
		else if ((size_t)snprintf(val, sizeof(val), "%s,%s", ex, o->client) >= sizeof(val))
			val[0] = '\0';	/* too long to extend safely: shown, not applied */
		if (val[0])
			give(f, "PerSourcePenaltyExemptList", val);
	}
	kv_free(&kv);
	return f->ngiven;
}

static void evidence_lines(struct finding *fd, const char *text)
{
	for (const char *p = text; p && *p;) {
		size_t l = strcspn(p, "\n");
		if (l)
			finding_evidence(fd, "%.*s", (int)l, p);
		p += l + (p[l] == '\n');
	}
}

void srvside_fix(const struct srvside_opts *so, const struct srv_obs *o, struct report *r)
{
	struct audit_facts *f = xcalloc(1, sizeof(*f));	/* large: not on the stack */
	if (!srvside_fix_settings(o, f)) {
		report_add(r, SEV_INFO, "srv.fix-shown",
			   "nothing here is a config line sshdoctor applies: each fix above is "
			   "the command or line to run yourself");
		free(f);
		return;
	}
	const char *cfg = o->sshd_config[0] ? o->sshd_config : "/etc/ssh/sshd_config";
	/* The system's file gets the drop-in (when it Includes one); any other
	 * file is the one the running sshd was started with (-f): edited itself. */
	struct audit_opts ao = { .server_only = 1 };
	if (strcmp(cfg, "/etc/ssh/sshd_config"))
		ao.server_config = cfg;
	f->server_known = 1;
	f->idle_s = LONG_MAX;
	snprintf(f->server_config, sizeof(f->server_config), "%s", cfg);
	audit_sshd_select(cfg);
	struct fixplan p;
	char *err = NULL;
	if (audit_fix_plan(&ao, f, &p, &err) < 0) {
		report_add(r, SEV_WARNING, "srv.fix-failed", "--fix: no change planned: %s", err);
		free(err);
		free(f);
		return;
	}
	char *diff = audit_fix_diff(&p);
	if (!so->yes) {
		struct finding *fd = report_add(r, SEV_INFO, "srv.fix-plan",
						"--fix: %zu sshd setting%s to change; rerun with --fix --yes "
						"to apply (undo: sshdoctor audit --undo)",
						f->ngiven, f->ngiven == 1 ? "" : "s");
		evidence_lines(fd, diff);
	} else {
		struct strbuf log = { 0 };
		sb_adds(&log, "");
		if (audit_fix_apply(&ao, &p, 1, &log, &err) < 0) {
			struct finding *fd = report_add(r, SEV_WARNING, "srv.fix-failed",
							"--fix --yes: nothing changed: %s", err);
			evidence_lines(fd, log.buf);
			free(err);
		} else {
			struct finding *fd = report_add(r, SEV_INFO, "srv.fix-applied",
							"--fix --yes: %s changed (undo: sshdoctor audit --undo)",
							cfg);
			evidence_lines(fd, diff);
			evidence_lines(fd, log.buf);
		}
		sb_free(&log);
	}
	free(diff);
	audit_fix_free(&p);	/* p.facts borrowed f: freed after */
	free(f);
	report_add(r, SEV_INFO, "srv.fix-shown",
		   "firewall rules, bans, TCP wrappers and starting sshd are never changed by "
		   "--fix: their fixes above are commands to run yourself");
}
