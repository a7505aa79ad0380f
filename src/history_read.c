/* history_read.c - a selection of the store into arrays (see history_read.h). */
#include "history_read.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

static int selected(const struct hist_sel *sel, const struct hist_session *s)
{
	if (sel->port && *sel->port && s->port[0] && strcmp(sel->port, s->port))
		return 0;
	if (!sel->names)
		return 1;
	for (size_t i = 0; i < sel->nnames; i++)
		if (sel->names[i] && !strcmp(sel->names[i], s->target))
			return 1;
	return 0;
}

struct walk {
	struct hist_data *d;
	const struct hist_sel *sel;
	size_t cap;
};

static int take_session(const struct hist_session *s, void *arg)
{
	struct walk *w = arg;
	struct hist_data *d = w->d;
	if (!selected(w->sel, s))
		return 0;
	if (d->ns == HIST_READ_MAX_SESSIONS) {
		d->truncated = 1;
		return 1;
	}
	if (d->ns == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 16;
		d->s = xrealloc(d->s, w->cap * sizeof(*d->s));
	}
	d->s[d->ns++] = *s;
	return 0;
}

static int take_gap(const struct hist_gap *g, const struct hist_session *s, void *arg)
{
	struct walk *w = arg;
	if (!selected(w->sel, s))
		return 0;
	if (w->d->ng == HIST_READ_MAX_GAPS) {
		w->d->truncated = 1;
		return 1;
	}
	if (w->d->ng == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 64;
		w->d->g = xrealloc(w->d->g, w->cap * sizeof(*w->d->g));
	}
	w->d->g[w->d->ng++] = *g;
	return 0;
}

int hist_read(const struct hist_sel *sel, struct hist_data *d, char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	char *p = sel->path ? xstrdup(sel->path) : history_default_path();
	if (!p) {
		snprintf(err, errlen, "history: no state directory (HOME and XDG_STATE_HOME unset)");
		return -1;
	}
	snprintf(d->path, sizeof(d->path), "%s", p);
	struct stat st;
	if (lstat(p, &st) < 0) {
		int e = errno;
		free(p);
		if (e == ENOENT) {
			d->no_store = 1;
			return 0;
		}
		snprintf(err, errlen, "history %s: %s", d->path, strerror(e));
		return -1;
	}
	struct history *h;
	int rc = history_open(&h, p, err, errlen);
	free(p);
	if (rc < 0)
		return -1;
	struct hist_query q = { .network = sel->network, .since_wall_ms = sel->since_wall_ms,
				.limit = 0 };
	/* names are matched here: the store matches one target only */
	struct walk ws = { d, sel, 0 }, wg = { d, sel, 0 };
	rc = history_sessions(h, &q, take_session, &ws);
	if (rc == 0)
		rc = history_gaps(h, &q, take_gap, &wg);
	if (rc < 0) {
		snprintf(err, errlen, "%s", history_error(h));
		history_close(h);
		hist_data_free(d);
		return -1;
	}
	history_close(h);
	return 0;
}

void hist_data_free(struct hist_data *d)
{
	free(d->s);
	free(d->g);
	d->s = NULL;
	d->g = NULL;
	d->ns = d->ng = 0;
}

const char *hist_pick_net(const struct hist_data *d, const struct hist_net *cur)
{
	const char *by_gw = NULL;
	for (size_t i = 0; i < d->ns; i++) {
		if (!strcmp(d->s[i].net.id, cur->id))
			return d->s[i].net.id;
		if (!cur->gw_mac[0] && cur->gateway[0] && !by_gw &&
		    !strcmp(d->s[i].net.gateway, cur->gateway))
			by_gw = d->s[i].net.id;
	}
	return by_gw;
}
