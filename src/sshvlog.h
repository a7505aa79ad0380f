/* sshvlog.h - reads the debug lines of `ssh -vvv` (stderr), each stamped with its
 * arrival time, into phase times and authentication attempts. Pure and bounded:
 * the lines come from a child, but their text partly comes from the server. */
#ifndef SSHDOCTOR_SSHVLOG_H
#define SSHDOCTOR_SSHVLOG_H

#include <stddef.h>
#include <stdint.h>

#define VLOG_LINE_MAX 1024	/* longer lines are cut */
#define VLOG_ATTEMPTS_MAX 64	/* auth requests kept; more are only counted */
#define VLOG_METHODS_MAX 16

/* Times are ms since the start given to sshvlog_init; -1 when not seen. */
struct vlog_attempt {
	char method[32];
	char detail[96];	/* the key offered, when publickey */
	int64_t sent, answered;
	int answer;		/* 51 failure, 52 success, 60 PK_OK/info request, 0 none */
};

struct vlog_method {
	char name[32];
	int64_t start, end;
};

struct sshvlog {
	int64_t t0;
	int64_t connecting, connected, remote_version, kexinit_sent, newkeys_in,
		service_accept, authenticated, session_open, interactive, exit_status,
		first_output, disconnected;
	char remote_software[96];
	char auth_method[32];	/* the one that succeeded */
	struct vlog_attempt att[VLOG_ATTEMPTS_MAX];
	size_t natt, natt_total;
	struct vlog_method meth[VLOG_METHODS_MAX];
	size_t nmeth;
	int keys_offered;	/* distinct keys sent in publickey requests */
	int too_many_failures, permission_denied, no_more_methods;
	char error[200];	/* the first fatal line ssh printed */
	char disconnect[200];	/* "Received disconnect ..." */
	char pending_detail[96];
	/* key exchange: where a login that never gets its NEWKEYS stopped */
	int64_t kexinit_in;		/* the server's KEXINIT */
	int64_t kex_sent;		/* ssh's own key share (KEX_ECDH_INIT, KEXDH_INIT, GEX) */
	int kex_sent_type;
	int64_t last_sent, last_received;	/* any packet */
	int last_sent_type;
	char kex_alg[64];		/* "kex: algorithm: ..." */
	char hostkey_alg[64];		/* "kex: host key algorithm: ..." */
	char expecting[64];		/* the last "expecting SSH2_MSG_..." */
	/* line assembly */
	char buf[VLOG_LINE_MAX + 1];
	size_t blen;
	int discarding;		/* inside an over-long line */
	size_t lines;
};

void sshvlog_init(struct sshvlog *v, int64_t t0);
/* Feeds raw stderr bytes received at time t (monotonic ms). */
void sshvlog_feed(struct sshvlog *v, int64_t t, const char *data, size_t n);
/* One complete line (no newline) received at time t. */
void sshvlog_line(struct sshvlog *v, int64_t t, const char *line, size_t len);
/* At EOF: handles a last line without newline; closes open method spans at t. */
void sshvlog_finish(struct sshvlog *v, int64_t t);

#endif
