/* history_keep.c - `history` shows keep's tunnels too: each fall with its cause
 * and each recovery with its downtime, as keep wrote them to the store. */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "finding.h"
#include "history.h"
#include "history_keep.h"
#include "util.h"

#define SHOWN_MAX 50	/* events listed; all are counted */
#define CAUSES_MAX 16

struct keep_walk {
	struct json_object *list;
	int n, falls, ups, giveups;
	int64_t down_ms, longest_ms;
	char causes[CAUSES_MAX][64];
	int ncause[CAUSES_MAX], nc;
};

static int on_keep(const struct hist_keep *k, void *arg)
{
	struct keep_walk *w = arg;
	if (w->n++ < SHOWN_MAX) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "tunnel", json_object_new_string(k->tunnel));
		json_object_object_add(o, "target", json_object_new_string(k->target));
		json_object_object_add(o, "at", json_object_new_int64(k->at_wall_ms / 1000));
		json_object_object_add(o, "kind", json_object_new_string(k->kind));
		json_object_object_add(o, "cause", json_object_new_string(k->cause));
		json_object_object_add(o, "downtime_s", json_object_new_double(k->downtime_ms / 1000.0));
		json_object_object_add(o, "detail", json_object_new_string(k->detail));
		json_object_array_add(w->list, o);
	}
	if (!strcmp(k->kind, "up")) {
		w->ups++;
		w->down_ms += k->downtime_ms;
		if (k->downtime_ms > w->longest_ms)
			w->longest_ms = k->downtime_ms;
		return 0;
	}
	if (!strcmp(k->kind, "giveup")) {
		w->giveups++;
		return 0;
	}
	w->falls++;
	int i = 0;
	while (i < w->nc && strcmp(w->causes[i], k->cause))
		i++;
	if (i == w->nc && w->nc < CAUSES_MAX)
		snprintf(w->causes[w->nc++], sizeof(w->causes[0]), "%s", k->cause[0] ? k->cause : "unknown");
	if (i < w->nc)
		w->ncause[i]++;
	return 0;
}

int history_keep_report(const char *path, const char *target, int64_t since_wall_ms,
			struct report *r, struct json_object *m, char *err, size_t errlen)
{
	struct history *h = NULL;
	if (history_open(&h, path, err, errlen) < 0)
		return -1;
	struct keep_walk w = { .list = json_object_new_array() };
	struct hist_query q = { .target = target, .since_wall_ms = since_wall_ms };
	int rc = history_keeps(h, &q, on_keep, &w);
	if (rc < 0)
		snprintf(err, errlen, "%s", history_error(h));
	history_close(h);
	if (rc < 0) {
		json_object_put(w.list);
		return -1;
	}
	struct json_object *t = json_object_new_object();
	json_object_object_add(t, "events", json_object_new_int(w.n));
	json_object_object_add(t, "falls", json_object_new_int(w.falls));
	json_object_object_add(t, "recoveries", json_object_new_int(w.ups));
	json_object_object_add(t, "gave_up", json_object_new_int(w.giveups));
	json_object_object_add(t, "downtime_s", json_object_new_double(w.down_ms / 1000.0));
	struct json_object *bc = json_object_new_object();
	for (int i = 0; i < w.nc; i++)
		json_object_object_add(bc, w.causes[i], json_object_new_int(w.ncause[i]));
	json_object_object_add(t, "falls_by_cause", bc);
	json_object_object_add(t, "list", w.list);
	json_object_object_add(m, "tunnels", t);
	if (!w.falls && !w.giveups)
		return 0;
	struct strbuf sb = { 0 };
	sb_adds(&sb, "");
	for (int i = 0; i < w.nc; i++)
		sb_addf(&sb, "%s%s %d", i ? ", " : "", w.causes[i], w.ncause[i]);
	struct finding *f = report_add(r, w.giveups ? SEV_WARNING : SEV_INFO, "history.tunnel-falls",
				       "keep's tunnels fell %d time(s)%s", w.falls,
				       w.giveups ? " and keep gave up" : "");
	finding_evidence(f, "by cause: %s", sb.buf);
	if (w.ups)
		finding_evidence(f, "%d recover(ies), %.1f s down in all, the longest %.1f s", w.ups,
				 w.down_ms / 1000.0, w.longest_ms / 1000.0);
	sb_free(&sb);
	return 0;
}
