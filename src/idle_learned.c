/* idle_learned.c - the learned bracket for one server on the current network
 * (see idle_learned.h): history_read selects, history_judge brackets. */
#include "idle_learned.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "history_judge.h"
#include "history_read.h"
#include "netid.h"
#include "util.h"

/* Older sessions say little about a path now (NATs and providers change), and
 * the relay reads this before every connection: the last 30 days only. */
#define LEARNED_MAX_AGE_MS (30LL * 24 * 3600 * 1000)

/* The network toward the server the newest session reached ("addr port"). */
static int net_toward_newest(const struct hist_data *d, struct hist_net *n)
{
	char addr[64];
	if (!d->ns || sscanf(d->s[0].remote_addr, "%63s", addr) != 1)
		return -1;
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_DGRAM }, *ai;
	if (getaddrinfo(addr, "9", &hints, &ai) != 0)
		return -1;
	int rc = netid_toward(ai->ai_addr, ai->ai_addrlen, n);
	freeaddrinfo(ai);
	return rc;
}

int idle_learned_read(const char *db, const char *const *names, size_t nnames, const char *port,
		      const struct hist_net *cur, struct idle_learned *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	out->lower_ms = out->upper_ms = -1;
	struct hist_sel sel = { .path = db, .names = names, .nnames = nnames, .port = port,
				.since_wall_ms = wall_ms() - LEARNED_MAX_AGE_MS };
	struct hist_data d;
	if (hist_read(&sel, &d, err, errlen) < 0)
		return -1;
	struct hist_net now;
	if (!cur && net_toward_newest(&d, &now) == 0)
		cur = &now;
	const char *net = cur ? hist_pick_net(&d, cur) : NULL;
	int rc = 0;
	if (net) {
		struct hist_bracket b;
		snprintf(out->net_id, sizeof(out->net_id), "%s", net);
		for (size_t i = 0; i < d.ns; i++)
			out->sessions += !strcmp(d.s[i].net.id, out->net_id);
		hist_bracket_compute(out->net_id, d.s, d.ns, d.g, d.ng, &b);
		/* an unanswered idle shorter than an answered one: loss, not a timeout */
		if (!b.inconsistent && b.lower_ms >= 1000 && b.upper_ms >= b.lower_ms) {
			out->lower_ms = b.lower_ms;
			out->upper_ms = b.upper_ms;
			out->tight = b.tight;
			rc = 1;
		}
	}
	hist_data_free(&d);
	return rc;
}
