/* idle_judge.c - from an idle measurement to findings and the JSON contract.
 * Pure: no I/O. Severity of path.idle-timeout: critical when neither side's
 * keepalive beats T, warning when the margin is thin, ok otherwise. */
#include <string.h>

#include "idle.h"

#define THIN_MARGIN 0.8		/* a keepalive above 80% of T is too close to it */

static const struct {
	int s;
	const char *what;
} well_known[] = {
	{ 240, "Azure Load Balancer / NAT Gateway default (4 min)" },
	{ 350, "AWS NAT Gateway / NLB default (350 s)" },
	{ 1200, "GCP Cloud NAT default (1200 s)" },
	{ 3600, "common firewall default (1 h: Cisco ASA, PAN-OS, FortiGate)" },
};

const char *idle_via_name(enum idle_via v)
{
	static const char *const n[] = { "ssh", "tcp", "preauth" };
	return n[v];
}

int idle_via_parse(const char *s, enum idle_via *v)
{
	for (int i = VIA_SSH; i <= VIA_PREAUTH; i++)
		if (strcmp(s, idle_via_name((enum idle_via)i)) == 0) {
			*v = (enum idle_via)i;
			return 0;
		}
	return -1;
}

long idle_safe_interval(double lower_s)
{
	/* half the timeout: two chances to refresh the middlebox before it forgets */
	long i = (long)(lower_s / 2);	/* truncation: rounds down */
	if (i > 60)
		i = 60;
	return i < 1 ? 1 : i;
}

static struct json_object *secs(int64_t ms)
{
	char b[32];
	int64_t tenths = ms < 0 ? 0 : (ms + 50) / 100;
	snprintf(b, sizeof(b), "%lld.%lld", (long long)(tenths / 10), (long long)(tenths % 10));
	return json_object_new_double_s((double)tenths / 10, b);
}

struct json_object *idle_json(const struct idle_result *res)
{
	struct json_object *o = json_object_new_object();
	int found = res->done == ISC_FOUND;
	json_object_object_add(o, "found", json_object_new_boolean(found));
	json_object_object_add(o, "lower_s", secs(res->lower_ms));
	json_object_object_add(o, "upper_s", found && res->upper_ms >= 0 ? secs(res->upper_ms) : NULL);
	json_object_object_add(o, "expiry", found && res->expiry >= 0 ?
				   json_object_new_string(res->expiry == IR_SILENT ? "silent-drop" :
							  idle_result_name((enum isc_result)res->expiry)) :
				   NULL);
	json_object_object_add(o, "server_keepalive_s",
			       res->server_ka_ms > 0 ? secs(res->server_ka_ms) : NULL);
	json_object_object_add(o, "elapsed_s", secs(res->elapsed_ms));
	json_object_object_add(o, "connections", json_object_new_int(res->connections));
	json_object_object_add(o, "via", json_object_new_string(idle_via_name(res->via)));
	struct json_object *a = json_object_new_array();
	for (int i = 0; i < res->nprobes; i++) {
		if (res->probes[i].pending)
			continue;
		struct json_object *p = json_object_new_object();
		json_object_object_add(p, "idle_s", secs(res->probes[i].age_ms));
		json_object_object_add(p, "result",
				       json_object_new_string(idle_result_name(res->probes[i].res)));
		json_object_array_add(a, p);
	}
	json_object_object_add(o, "probes", a);
	return o;
}

static void idle_text(FILE *out, struct json_object *m, int color)
{
	(void)color;
	struct json_object *up = json_object_object_get(m, "upper_s");
	struct json_object *ka = json_object_object_get(m, "server_keepalive_s");
	const char *exp = json_object_get_string(json_object_object_get(m, "expiry"));
	fprintf(out, "idle timeout: ");
	if (json_object_get_boolean(json_object_object_get(m, "found")))
		fprintf(out, "above %s s, at most %s s (%s)\n",
			json_object_get_string(json_object_object_get(m, "lower_s")),
			json_object_get_string(up), exp ? exp : "?");
	else
		fprintf(out, "none seen; connections idle %s s still answered\n",
			json_object_get_string(json_object_object_get(m, "lower_s")));
	if (ka)
		fprintf(out, "server keepalive: every %s s\n", json_object_get_string(ka));
	fprintf(out, "measured in %s s with %d connections (via %s), %zu probes\n",
		json_object_get_string(json_object_object_get(m, "elapsed_s")),
		json_object_get_int(json_object_object_get(m, "connections")),
		json_object_get_string(json_object_object_get(m, "via")),
		json_object_array_length(json_object_object_get(m, "probes")));
}

static const char *how_name(int expiry)
{
	switch (expiry) {
	case IR_SILENT:
		return "silently dropped (the next write is never answered: the session hangs)";
	case IR_RESET:
		return "reset (RST: the session ends with 'Connection reset' or 'Broken pipe')";
	case IR_CLOSED:
		return "closed (FIN)";
	}
	return "ended";
}

static void add_fixes(struct finding *f, const struct idle_result *res, long iv)
{
	struct fix *x = finding_fix(f, "~/.ssh/config (client)");
	fix_line(x, "Host %s", res->host ? res->host : "*");
	fix_line(x, "    ServerAliveInterval %ld", iv);
	fix_line(x, "    ServerAliveCountMax 3");
	x = finding_fix(f, "/etc/ssh/sshd_config (server, then reload sshd)");
	fix_line(x, "ClientAliveInterval %ld", iv);
	fix_line(x, "ClientAliveCountMax 3");
}

static void note_well_known(struct finding *f, double lo, double up)
{
	for (size_t i = 0; i < ARRAY_SIZE(well_known); i++) {
		double k = well_known[i].s;
		if (k > lo - 0.05 * k && k <= up + 0.05 * k)
			finding_evidence(f, "%d s matches the %s", well_known[i].s, well_known[i].what);
	}
}

static void judge_found(const struct idle_result *res, struct report *r)
{
	double lo = (double)res->lower_ms / 1000, up = (double)res->upper_ms / 1000;
	double ka = (double)res->server_ka_ms / 1000;
	long ci = res->client_interval;
	/* a keepalive interval beats T when it is below the lower bound */
	int client_ok = ci > 0 && ci < lo, server_ok = ka > 0 && ka < lo;
	double best = client_ok ? (double)ci : ka;
	if (server_ok && ka < best)
		best = ka;
	enum severity sev = !client_ok && !server_ok ? SEV_CRITICAL :
			    best > THIN_MARGIN * lo ? SEV_WARNING : SEV_OK;
	struct finding *f = report_add(r, sev, "path.idle-timeout",
				       "The path forgets a connection idle for %.1f-%.1f s: it is %s",
				       lo, up, sev == SEV_OK ? "kept alive by keepalives" :
				       "dropped unless something is sent");
	finding_evidence(f, "a connection idle %.1f s still answered; one idle %.1f s was %s", lo, up,
			 how_name(res->expiry));
	finding_evidence(f, "%d idle connection(s) died, %d probe(s) in %.1f s with %d connections (via %s)",
			 res->ndead, res->nprobes, (double)res->elapsed_ms / 1000, res->connections,
			 idle_via_name(res->via));
	if (ci >= 0)
		finding_evidence(f, "client: ServerAliveInterval %ld%s", ci,
				 ci == 0 ? " (off)" : client_ok ? " (beats it)" : " (too long)");
	if (ka > 0)
		finding_evidence(f, "server: keepalive every %.0f s (%s)", ka,
				 server_ok ? "beats it" : "too long");
	else
		finding_evidence(f, "server: no keepalive seen (ClientAliveInterval 0?)");
	note_well_known(f, lo, up);
	long iv = idle_safe_interval(lo);
	long cm = res->client_countmax > 0 ? res->client_countmax : 3;
	finding_evidence(f, "with an interval of %ld s and CountMax %ld, a dead peer is noticed within "
			 "%ld s (Interval x (CountMax+1))", iv, cm, iv * (cm + 1));
	if (sev != SEV_OK)
		add_fixes(f, res, iv);
}

static void judge_setup(const struct idle_result *res, struct report *r)
{
	static const char *const id[] = { "", "idle.auth-failed", "idle.unreachable",
					  "idle.remote-command", "idle.no-connection" };
	static const char *const what[] = {
		"", "Batch-mode login failed: idle connections need key or agent login",
		"The server cannot be reached", "The remote command 'cat' is missing on the server",
		"No idle connection could be set up",
	};
	int k = res->setup == IDLE_SETUP_OK ? IDLE_OTHER : (int)res->setup;
	struct finding *f = report_add(r, SEV_WARNING, id[k], "%s", what[k]);
	if (res->setup_msg[0])
		finding_evidence(f, "%s", res->setup_msg);
	if (k == IDLE_AUTH)
		finding_evidence(f, "'--via preauth' measures without credentials (up to the server's "
				    "LoginGraceTime)");
	r->unknown = 1;
}

static void judge_keepalive(const struct idle_result *res, struct report *r)
{
	double ka = (double)res->server_ka_ms / 1000;
	struct finding *f = report_add(r, SEV_OK, "path.idle-timeout",
				       "The server's keepalive (every %.0f s) keeps idle connections alive; "
				       "a path timeout above %.0f s cannot be seen from here", ka, ka);
	finding_evidence(f, "ssh -v showed keepalive@openssh.com requests from the server every %.0f s", ka);
	finding_evidence(f, "connections we left idle for longer still answered: the server's "
			    "keepalives kept the path busy");
}

static void judge_inconsistent(const struct idle_result *res, struct report *r)
{
	struct finding *f = report_add(r, SEV_WARNING, "path.inconsistent",
				       "Connections died at random idle ages: loss or an unstable path, "
				       "not an idle timeout");
	finding_evidence(f, "%d death(s) at idle ages shorter than a connection that still answered "
			 "(idle %.1f s)", res->ncontradicted, (double)res->lower_ms / 1000);
	if (res->nlate)
		finding_evidence(f, "%d probe(s) were answered only after the probe timeout (loss, "
				    "retransmissions)", res->nlate);
	finding_evidence(f, "run 'sshdoctor path' to measure loss and jitter");
	r->unknown = 1;
}

static int policy_decisive(const struct idle_result *res)
{
	return (res->done == ISC_INCONSISTENT || res->done == ISC_DEADLINE) &&
	       res->nchanclose >= 2 && res->nchanclose * 2 > res->ndead;
}

/* Who ended the idle connections: the server's own policy, unknown, or the path. */
static enum srvp_verdict judge_policy(const struct idle_result *res, struct report *r)
{
	struct srvp_obs o = { res->lower_ms, res->upper_ms, res->nchanclose, res->nfin,
			      res->nunprompted, 0, res->host, 0 };
	/* an SSH channel close can only come from sshd (it is encrypted): decisive
	 * even when the bracket did not settle (a loaded client answered late,
	 * the run hit its deadline) */
	if (res->done == ISC_FOUND || policy_decisive(res))
		o.ndead = res->ndead > res->nchanclose + res->nfin ? res->ndead : res->nchanclose + res->nfin;
	for (int i = 0; i < res->nprobes; i++)
		if (!res->probes[i].pending && res->probes[i].res == IR_SILENT)
			o.nsilent++;
	if (!o.ndead && !res->policy)
		return SRVP_NONE;
	return srvpolicy_judge(res->policy, &o, r);
}

void idle_judge(const struct idle_result *res, struct report *r)
{
	enum srvp_verdict who = SRVP_NONE;
	if (res->setup == IDLE_SETUP_OK && res->done != ISC_NO_CONNECTION)
		who = judge_policy(res, r);
	if (res->done == ISC_NO_CONNECTION || res->setup != IDLE_SETUP_OK) {
		judge_setup(res, r);
	} else if ((res->done == ISC_FOUND && who != SRVP_NONE) ||
		   (policy_decisive(res) && who == SRVP_SERVER)) {
		/* the server (or someone unnamed) closed them first: the path's own
		 * timeout, if any, lies beyond what could be seen */
		struct finding *f = report_add(r, SEV_INFO, "path.idle-timeout",
					       "No path idle timeout seen below %.1f s: the connections "
					       "were closed before the path could forget them",
					       (double)res->lower_ms / 1000);
		finding_evidence(f, "see %s", who == SRVP_SERVER ? "server.idle-policy"
								  : "idle.close-unattributed");
	} else if (res->done == ISC_FOUND) {
		judge_found(res, r);
	} else if (res->done == ISC_KEEPALIVE) {
		judge_keepalive(res, r);
	} else if (res->done == ISC_INCONSISTENT) {
		judge_inconsistent(res, r);
	} else if (res->done == ISC_NOT_FOUND) {
		char b[32];
		format_duration(b, sizeof(b), res->max_ms);
		struct finding *f = report_add(r, SEV_OK, "path.idle-timeout", "No idle timeout below %s", b);
		finding_evidence(f, "a connection idle %.1f s still answered",
				 (double)res->lower_ms / 1000);
	} else {
		struct finding *f = report_add(r, SEV_INFO, "idle.incomplete",
					       res->interrupted ? "Interrupted before the answer was known" :
					       "The measurement did not finish in time");
		finding_evidence(f, "known so far: idle %.1f s answered%s", (double)res->lower_ms / 1000,
				 res->upper_ms >= 0 ? "; a longer idle died (unconfirmed)" : "");
		r->unknown = 1;
	}
	if (res->nlate && res->done != ISC_INCONSISTENT)
		finding_evidence(&r->findings[r->n - 1], "%d probe(s) were answered late (loss?), "
				 "not counted as deaths", res->nlate);
	if (res->via == VIA_PREAUTH) {
		struct finding *f = report_add(r, SEV_INFO, "idle.preauth",
					       "Measured with unauthenticated connections: only idle ages "
					       "below the server's LoginGraceTime can be seen");
		if (res->preauth_cap_ms > 0)
			finding_evidence(f, "the server closed unauthenticated connections after %.0f s",
					 (double)res->preauth_cap_ms / 1000);
	}
	struct json_object *m = idle_json(res);
	json_object_object_add(m, "closed_by",
			       res->done != ISC_FOUND && !(policy_decisive(res) && who == SRVP_SERVER) ? NULL :
			       json_object_new_string(who == SRVP_SERVER ? "server" :
						      who == SRVP_UNKNOWN ? "unknown" : "path"));
	if (res->policy)
		json_object_object_add(m, "server_policy", srvpolicy_json(res->policy));
	report_measure(r, "idle", m, idle_text);
}
