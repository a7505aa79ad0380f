/* logscan.h - one log line -> header (time, program, pid) and an event.
 * Pure functions over untrusted bytes: no allocation on the plain-text path,
 * every read bounded by the line length. Fuzzed by fuzz/fuzz_logscan.c. */
#ifndef SSHDOCTOR_LOGSCAN_H
#define SSHDOCTOR_LOGSCAN_H

#include <stddef.h>
#include <stdint.h>

/* Public event ids first (their order is the order of ev_names[]); the JSON
 * contract uses the names. Internal kinds follow LEV_NPUBLIC. */
enum logev {
	LEV_NONE = 0,
	LEV_DISC_USER, LEV_DISC_CLIENT_TIMEOUT, LEV_DISC_SERVER_TIMEOUT, LEV_DISC_RESET,
	LEV_DISC_CLOSED, LEV_DISC_BROKEN_PIPE, LEV_PREAUTH_CLOSED, LEV_PREAUTH_GRACE,
	LEV_AUTH_FAILURE, LEV_LIMIT_MAXSTARTUPS, LEV_LIMIT_PENALTY, LEV_KEX_NO_MATCH,
	LEV_BANNER_INVALID, LEV_IDLE_UNUSED, LEV_IDLE_CHANNEL, LEV_SERVER_RESTART,
	LEV_KERNEL_LINK_DOWN, LEV_KERNEL_NIC_RESET, LEV_KERNEL_OOM,
	LEV_NPUBLIC,
	LEV_CONN_START = LEV_NPUBLIC,	/* "Connection from A port N" */
	LEV_AUTH_OK,		/* "Accepted publickey for U from A port N" */
	LEV_DISCONNECTED,	/* "Disconnected from ..." (follows the real reason) */
	LEV_KEX_IDENT,		/* "kex_exchange_identification: ..." (server: pairs with the close) */
	LEV_INFO,		/* a known ssh line that ends nothing */
	LEV_NKINDS
};

enum logprog { PROG_NONE, PROG_SSHD, PROG_SSH, PROG_KERNEL, PROG_OTHER };

/* Year inference for syslog's year-less stamps, backwards from a reference
 * (the file's mtime: no line is later than the file): each stamp is placed in
 * the latest year that puts it at or before the reference. A file spanning more
 * than a year folds into the last one; read another zone's logs with its TZ. */
struct logclock {
	int64_t ref_ms;		/* no stamp is later than this */
	int ref_year;
	char last[12];		/* "Nov 21 10:00" of the previous stamp ... */
	int64_t last_base;	/* ... and its time: most lines share their minute */
};
void logclock_init(struct logclock *c, int64_t ref_wall_ms);

struct logline {
	int64_t ts_ms;		/* wall clock ms, or -1 when the line carries none */
	int ts_broken;		/* looked like a stamp but did not parse */
	enum logprog prog;
	long pid;		/* -1 when none */
	char host[64];
	const char *msg;	/* points into the line, or into the caller's scratch (JSON) */
	size_t msglen;
};

#define LF_PREAUTH	1u	/* "[preauth]" or before authentication */
#define LF_NOCOUNT	2u	/* ends the connection but is not an event of its own */
#define LF_END		4u	/* ends the connection (address/port or pid) */
#define LF_NOPORT	8u	/* old sshd's "Connection closed by ADDR": pre- or post-auth unsaid */

struct logevent {
	enum logev ev;
	unsigned flags;
	char addr[64];		/* peer address, "" when unknown */
	int port;		/* peer port, 0 when unknown */
	char user[40];
	long num;		/* disconnect reason code, dropped count ... ; -1 if none */
	uint32_t key;		/* hash of addr and port, filled by the engine */
};

/* Splits the header of one line (no newline). scratch holds the message of a
 * journal JSON line (cap >= 1). Returns 0, or -1 when the line holds a NUL
 * (binary); callers that know the block has none pass nul_checked = 1. */
int logscan_header(const char *line, size_t len, struct logclock *clk, struct logline *out,
		   char *scratch, size_t cap, int nul_checked);
/* Classifies the message. Returns 1 when the line is ssh's or the kernel's and
 * recognised (ev filled, possibly LEV_INFO), 0 when it is not about ssh at all,
 * -1 when it comes from ssh but matches nothing we know. */
int logscan_classify(const struct logline *l, struct logevent *ev);


const char *logev_name(enum logev e);	/* NULL for internal kinds */
int logev_from_name(const char *s);	/* -1 when unknown */

/* "2026-11-21T10:00:00Z", "+3h", "yesterday"-free: RFC 3339 / "YYYY-MM-DD[ HH:MM[:SS]]"
 * (UTC unless an offset is given) or a duration ago ("2h" = now - 2h). -1 on error. */
int64_t logscan_parse_time(const char *s, int64_t now_wall_ms);

#endif
