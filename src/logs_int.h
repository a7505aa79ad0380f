/* logs_int.h - the logs engine's state, shared by its parts: logs.c (lines ->
 * events -> sessions), logs_report.c (findings and measurements). Internal. */
#ifndef SSHDOCTOR_LOGS_INT_H
#define SSHDOCTOR_LOGS_INT_H

#include <stdint.h>

#include "logread.h"
#include "logs.h"

#define DEF_OPEN 4096
#define MAX_EXAMPLES 3
#define EXAMPLE_LEN 300
#define MAX_PEERS 4096
#define MAX_LISTED 10000
#define RESERVOIR 65536
#define MAX_DISC 262144
#define MAX_ANCHORS 4096
#define CORR_BEFORE_MS 5000	/* a disconnect logged just before the kernel line */
#define CORR_AFTER_MS 30000	/* ... or up to ClientAlive's detection time after it */
#define RECENT 16
#define PREAUTH_STALE_MS (10 * 60 * 1000)
#define MAX_UNREC 20	/* unrecognized ssh lines kept as they were read */

struct sess {
	int used, authed;
	char addr[64];
	int port;
	long pid;
	char user[40];
	int64_t start_ms;
	uint32_t key;
	int next_a, next_p;	/* hash chains, -1 terminated */
	int older, newer;	/* age list of its kind (free list: newer), -1 terminated */
};

struct evstat {
	uint64_t n;
	int64_t first_ms, last_ms;
	char *ex[MAX_EXAMPLES];
	size_t nex;
};

struct peer {
	char addr[64];
	uint32_t n[LEV_NPUBLIC];
};

struct src {
	char *name;
	uint64_t lines, binary, long_lines, broken_ts;
	char *error;
};

struct udur {
	uint8_t end;
	float s;
};

struct anchor {
	int64_t t;
	uint8_t ev;
};

struct logs_state {
	struct logs_opts o;
	struct logclock clk;
	struct src *srcs;
	size_t nsrc;
	uint64_t lines, ssh_lines, unrec;
	char *unrec_ex[MAX_UNREC];
	size_t nunrec_ex;
	struct evstat ev[LEV_NPUBLIC];
	/* open sessions: a fixed table, two hash indexes, a list by age; only a
	 * full table evicts, the oldest unauthenticated connection first; a
	 * connection still unauthenticated PREAUTH_STALE_MS after it started has
	 * ended unlogged (LoginGraceTime) and is dropped without counting */
	struct sess *sess;
	size_t cap, mask;
	int oldest[2], newest[2], free_head;	/* [authed] */
	uint64_t stale;
	int *bucket_a, *bucket_p;
	uint64_t evicted, nsess;
	uint64_t by_end[LEV_NPUBLIC];
	uint32_t recent[RECENT];
	size_t nrecent;
	/* durations (s) of ended sessions: reservoir, and of unexpected endings */
	float *dur;
	size_t ndur;
	uint64_t dur_seen;
	double dur_max;
	struct udur *ud;
	uint64_t ud_seen;
	uint64_t rng;
	int64_t *disc;
	size_t ndisc;
	struct anchor *anch;
	size_t nanch;
	uint64_t anch_dropped;
	struct peer *peers;
	size_t npeers;
	uint64_t peers_overflow;
	/* a server "kex_exchange_identification" line waiting for its close line */
	int kex_pending;
	long kex_pid;
	int64_t kex_ts;
	char kex_text[EXAMPLE_LEN + 1];
	struct json_object *list;
	uint64_t list_dropped;
	char *scratch;
};


void logs_iso(char *buf, size_t n, int64_t ms);		/* RFC 3339 UTC, "-" when < 0 */
struct json_object *logs_json_secs(double s);		/* seconds, printed with ms precision */
void logs_flush(struct logs_state *st);			/* a pending line waiting for its pair */

#endif
