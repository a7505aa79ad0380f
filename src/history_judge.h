/* history_judge.h - what the flight recorder's sessions prove: endings counted,
 * per network the path's idle timeout bracketed from the idle gaps the watcher
 * saw answered or not, and findings from both. Pure: arrays in, a summary and
 * findings out, no store, no I/O (history_cmd reads, this judges). */
#ifndef SSHDOCTOR_HISTORY_JUDGE_H
#define SSHDOCTOR_HISTORY_JUDGE_H

#include <stddef.h>
#include <stdint.h>

#include "finding.h"
#include "history.h"

#define HIST_MIN_DEATH_IDLE_MS 1000	/* a death after less idle is not an idle timeout */

/* Passive idle-timeout evidence of one network, all in ms. */
struct hist_bracket {
	int64_t lower_ms;	/* longest answered idle: the path keeps flows that long; -1 none */
	int64_t upper_ms;	/* shortest idle after which the flow was gone; -1 none */
	int answered;		/* answered gaps (lower-bound samples) */
	int unanswered;		/* unanswered gaps + idle deaths without a gap (upper samples) */
	int near_lower, near_upper;	/* samples within the tight tolerance of each bound */
	int inconsistent;	/* an unanswered idle shorter than an answered one */
	int ncontra;		/* upper samples below the lower bound */
	int64_t contra_min_ms;	/* the shortest of them */
	int tight;		/* width <= max(2 s, 2% of T), >= 3 samples near each bound */
};

struct hist_netsum {
	char id[80];
	char gateway[64];
	int sessions;
	int deaths;			/* server-closed, reset, timeout, suspended, network-changed */
	int by_end[HE_NEND];
	int idle_deaths;		/* timeout/reset after >= HIST_MIN_DEATH_IDLE_MS idle */
	int64_t idle_death_min_ms, idle_death_max_ms;	/* their idle before the end */
	int short_deaths;		/* timeout/reset at idle below the lower bound: not the timeout */
	struct hist_bracket b;
	int64_t last_wall_ms;		/* newest session start */
};

struct hist_summary {
	int sessions;
	int by_end[HE_NEND];
	int deaths;
	struct hist_netsum *nets;	/* newest network first */
	size_t nnets;
	/* server-closed: idle before the server's FIN */
	int64_t sc_idle_min_ms, sc_idle_max_ms;
	int64_t suspended_ms;		/* total sleep of suspended sessions */
};

/* 1 for the endings that count as a death of the session (not clean, not
 * client-killed, not running). */
int hist_end_is_death(enum hist_end e);

/* The bracket of one network from its gaps; sessions (n) give each gap its
 * session's keepalive and ending. Gaps of other networks are ignored. */
void hist_bracket_compute(const char *net_id, const struct hist_session *s, size_t ns,
			  const struct hist_gap *g, size_t ng, struct hist_bracket *b);

/* Everything: per ending, per network with a bracket each. Caller frees with
 * hist_summary_free. */
void hist_analyse(const struct hist_session *s, size_t ns, const struct hist_gap *g, size_t ng,
		  struct hist_summary *out);
void hist_summary_free(struct hist_summary *sum);

/* Findings (history.*) and measurements.history; list = the sessions for
 * "list" (NULL: none). host names the selection in titles and fixes (NULL: all). */
void hist_judge(const struct hist_summary *sum, const struct hist_session *list, size_t nlist,
		const char *host, struct report *r);
struct json_object *hist_json(const struct hist_summary *sum, const struct hist_session *list,
			      size_t nlist);

/* --since: "2h", "3d", "30m", ISO 8601 / RFC 3339, "YYYY-MM-DD[ HH:MM]"; -1 when
 * not a time or in the future. */
int64_t hist_parse_since(const char *s, int64_t now_wall_ms);

/* "301 s" or "301-306 s" */
void hist_idle_range(char *buf, size_t n, int64_t min_ms, int64_t max_ms);
/* "gw 192.0.2.1" or the id when there is no gateway (for sentences). */
void hist_net_label(char *buf, size_t n, const char *id, const char *gateway);

#endif
