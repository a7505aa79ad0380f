/* doctor_history.c - doctor's first look: the flight recorder's sessions to this
 * host on this network, judged by history_judge (see doctor_history.h). */
#include "doctor_history.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history_judge.h"
#include "history_read.h"
#include "idle.h"

int doctor_history_current_net(struct hist_net *out)
{
	memset(out, 0, sizeof(*out));
	FILE *f = fopen("/proc/net/route", "re");
	char line[512];
	unsigned long best_metric = (unsigned long)-1;
	int found = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char ifc[32];
		unsigned long dst, gw, flags, metric, mask;
		if (sscanf(line, "%31s %lx %lx %lx %*d %*d %lu %lx", ifc, &dst, &gw, &flags, &metric,
			   &mask) != 6)
			continue;	/* the header line */
		/* RTF_UP | RTF_GATEWAY, destination 0/0: the default route; lowest metric wins */
		if (dst || mask || (flags & 3) != 3 || !gw || (found && metric >= best_metric))
			continue;
		struct in_addr a = { .s_addr = (uint32_t)gw };	/* printed as the raw __be32 */
		inet_ntop(AF_INET, &a, out->gateway, sizeof(out->gateway));
		snprintf(out->iface, sizeof(out->iface), "%s", ifc);
		best_metric = metric;
		found = 1;
	}
	fclose(f);
	if (!found)
		return -1;
	f = fopen("/proc/net/arp", "re");
	while (f && fgets(line, sizeof(line), f)) {
		char ip[64], mac[32], dev[32];
		unsigned flags;
		if (sscanf(line, "%63s %*s %x %31s %*s %31s", ip, &flags, mac, dev) != 4)
			continue;
		/* ATF_COM: a complete entry (an incomplete one shows 00:00:00:00:00:00) */
		if (!strcmp(ip, out->gateway) && !strcmp(dev, out->iface) && (flags & 2))
			snprintf(out->gw_mac, sizeof(out->gw_mac), "%s", mac);
	}
	if (f)
		fclose(f);
	if (out->gw_mac[0])
		snprintf(out->id, sizeof(out->id), "gw-%.40s-%.31s", out->gateway, out->gw_mac);
	else
		snprintf(out->id, sizeof(out->id), "gw-%.40s", out->gateway);
	return 0;
}

static void sentence(struct doctor_hist *h, const struct hist_netsum *n, const char *host)
{
	struct strbuf sb = { 0 };
	const struct hist_bracket *b = &n->b;
	sb_addf(&sb, "Your last %d session%s to %s on network %s", n->sessions,
		n->sessions == 1 ? "" : "s", host, h->net_label);
	if (n->idle_deaths) {
		char range[64];
		hist_idle_range(range, sizeof(range), n->idle_death_min_ms, n->idle_death_max_ms);
		sb_addf(&sb, ": %d died %s after %s idle", n->idle_deaths,
			n->by_end[HE_RESET] > n->by_end[HE_TIMEOUT] ? "by a reset" : "silently", range);
	} else {
		sb_addf(&sb, ": %d died", n->deaths);
	}
	if (b->inconsistent)
		sb_adds(&sb, "; they died at random idle ages (loss or an unstable path), so no idle "
			     "timeout could be learned");
	else if (b->lower_ms >= 0 && b->upper_ms >= 0)
		sb_addf(&sb, "; the path forgets flows after %.1f-%.1f s (learned from your sessions%s)",
			(double)b->lower_ms / 1000, (double)b->upper_ms / 1000,
			b->tight ? "" : ", not yet tight");
	else if (b->lower_ms >= 0)
		sb_addf(&sb, "; the path keeps idle flows at least %.1f s (learned from your sessions)",
			(double)b->lower_ms / 1000);
	else if (b->upper_ms >= 0)
		sb_addf(&sb, "; the path forgets idle flows by %.1f s (learned from your sessions)",
			(double)b->upper_ms / 1000);
	sb_adds(&sb, ".");
	h->sentence = sb.buf;
}

void doctor_history_read(const struct target *t, struct report *r, struct doctor_hist *h,
			 int progress)
{
	memset(h, 0, sizeof(*h));
	h->lower_ms = h->upper_ms = -1;
	struct hist_net cur;
	int have_cur = doctor_history_current_net(&cur) == 0;
	const char *names[2] = { t->host, t->hostname };
	char port[16] = "", err[512];
	if (t->eport > 0)
		snprintf(port, sizeof(port), "%d", t->eport);
	struct hist_sel sel = { .names = names, .nnames = t->hostname ? 2 : 1, .port = port };
	struct hist_data d;
	if (hist_read(&sel, &d, err, sizeof(err)) < 0) {
		struct finding *f = report_add(r, SEV_INFO, "history.unreadable",
					       "The flight recorder's history could not be read");
		finding_evidence(f, "%s", err);
		if (progress)
			fprintf(stderr, "      history: %s\n", err);
		return;
	}
	const char *net = have_cur ? hist_pick_net(&d, &cur) : NULL;
	if (!net) {
		if (progress && d.ns)
			fprintf(stderr, "      history: %zu session(s) to %s, none on this network (%s)\n",
				d.ns, t->host, have_cur ? cur.id : "no default route");
		hist_data_free(&d);
		return;
	}
	snprintf(h->net_id, sizeof(h->net_id), "%s", net);
	size_t k = 0;	/* keep this network's sessions (the gaps of the others find none) */
	for (size_t i = 0; i < d.ns; i++)
		if (!strcmp(d.s[i].net.id, h->net_id))
			d.s[k++] = d.s[i];
	d.ns = k;
	struct hist_summary sum;
	struct report sub;
	hist_analyse(d.s, d.ns, d.g, d.ng, &sum);
	report_init(&sub, "history");
	hist_judge(&sum, NULL, 0, t->spec ? t->spec : t->host, &sub);
	report_merge(r, &sub);
	const struct hist_netsum *n = &sum.nets[0];	/* the only one */
	hist_net_label(h->net_label, sizeof(h->net_label), n->id, n->gateway);
	h->sessions = n->sessions;
	if (!n->b.inconsistent) {
		h->lower_ms = n->b.lower_ms;
		h->upper_ms = n->b.upper_ms;
	}
	h->conclusive = n->b.tight;
	h->reset = n->by_end[HE_RESET] > n->by_end[HE_TIMEOUT];
	sentence(h, n, t->spec ? t->spec : t->host);
	if (progress)
		fprintf(stderr, "      history: %s\n", h->sentence);
	hist_summary_free(&sum);
	hist_data_free(&d);
}

void doctor_history_as_idle(const struct doctor_hist *h, const struct target *t, struct report *r)
{
	struct idle_result res = { 0 };
	res.via = VIA_SSH;
	res.done = ISC_FOUND;
	res.lower_ms = h->lower_ms;
	res.upper_ms = h->upper_ms;
	res.expiry = h->reset ? IR_RESET : IR_SILENT;
	res.client_interval = kv_get_long(&t->cfg, "serveraliveinterval", -1);
	res.client_countmax = kv_get_long(&t->cfg, "serveralivecountmax", -1);
	res.host = t->spec ? t->spec : t->host;
	res.setup = IDLE_SETUP_OK;
	struct report sub;
	report_init(&sub, "idle");
	idle_judge(&res, &sub);
	struct finding *f = report_find(&sub, "path.idle-timeout");
	if (f) {
		/* idle's evidence speaks of probes; these are the user's own sessions */
		strvec_clear(&f->evidence);
		finding_evidence(f, "learned from your sessions on network %s (the flight recorder), "
				 "not measured now: --quick skipped the active measurement", h->net_label);
		finding_evidence(f, "a write after %.1f s idle was answered; one after %.1f s was not",
				 (double)h->lower_ms / 1000, (double)h->upper_ms / 1000);
		if (res.client_interval >= 0)
			finding_evidence(f, "client: ServerAliveInterval %ld%s", res.client_interval,
					 res.client_interval == 0 ? " (off)" :
					 res.client_interval < h->lower_ms / 1000 ? " (beats it)" : " (too long)");
	}
	struct json_object *m = json_object_object_get(sub.measurements, "idle");
	json_object_object_add(m, "closed_by", json_object_new_string("path"));
	json_object_object_add(m, "source", json_object_new_string("history"));
	json_object_object_add(m, "network", json_object_new_string(h->net_id));
	report_absorb(r, &sub);
	report_measure(r, "idle", json_object_get(m), NULL);
	report_free(&sub);
}

void doctor_history_confirm(const struct doctor_hist *h, struct report *r)
{
	struct finding *f = report_find(r, "history.idle-timeout");
	struct json_object *idle = json_object_object_get(r->measurements, "idle");
	struct json_object *found = json_object_object_get(idle, "found");
	if (!f || h->lower_ms < 0 || h->upper_ms < 0 || !idle)
		return;
	if (!found || !json_object_get_boolean(found)) {
		finding_evidence(f, "the active measurement found no timeout where the sessions did: "
				    "the path may have changed");
		return;
	}
	double lo = json_object_get_double(json_object_object_get(idle, "lower_s"));
	double up = json_object_get_double(json_object_object_get(idle, "upper_s"));
	double plo = (double)h->lower_ms / 1000, pup = (double)h->upper_ms / 1000;
	int agree = lo <= pup + 1 && plo <= up + 1;	/* overlap, within idle's resolution */
	finding_evidence(f, "%s by the active measurement (%.1f-%.1f s)",
			 agree ? "confirmed" : "NOT confirmed", lo, up);
}

int64_t doctor_history_confirm_max_ms(const struct doctor_hist *h, int64_t max_ms)
{
	if (!h->conclusive || h->upper_ms <= 0)
		return max_ms;
	int64_t m = h->upper_ms * 3 / 2 + 10000;
	return m < max_ms ? m : max_ms;
}

void doctor_history_summary(const struct doctor_hist *h, char **summary)
{
	if (!h->sentence)
		return;
	char *s = xasprintf("%s%s%s", h->sentence, *summary && **summary ? " " : "",
			    *summary ? *summary : "");
	free(*summary);
	*summary = s;
}

void doctor_history_free(struct doctor_hist *h)
{
	free(h->sentence);
	h->sentence = NULL;
}
