/* idle_kern.h - the kernel's view of a probe (pure): after a probe is written,
 * TCP_INFO of the connection's socket tells within a few retransmission timeouts
 * whether the path still carries it (acknowledged), forgot it silently (the
 * kernel retransmits, nothing is acknowledged), reset it (RST: the socket is
 * closed) or the peer closed it (FIN). idle.c takes the snapshots (its own socket
 * via tcp/preauth, a duplicate from the relay via ssh); this file only judges. */
#ifndef SSHDOCTOR_IDLE_KERN_H
#define SSHDOCTOR_IDLE_KERN_H

#include <stdint.h>

/* What idle.c reads from TCP_INFO (struct tcp_info fields, units converted). */
struct ik_snap {
	int state;		/* tcpi_state (TCP_ESTABLISHED = 1, ...) */
	uint32_t unacked;	/* segments sent, not acknowledged */
	uint32_t retransmits;	/* consecutive RTO retransmissions of the head */
	uint32_t backoff;	/* RTO backoff exponent */
	uint32_t rtt_ms, rto_ms;
	uint32_t last_ack_ms;	/* since the last ACK received */
};

enum ik_verdict { IK_PENDING, IK_ACKED, IK_SILENT, IK_RESET, IK_FIN, IK_GONE };

#define IK_MIN_RETRANS 3	/* three timeouts in a row without an ACK: forgotten */
#define IK_SILENT_MS 1500	/* or one retransmission and this long (long RTOs) */

/* Judges one snapshot taken elapsed_ms after the probe's bytes were first seen
 * in flight (caller: the first snapshot with unacked > 0; elapsed_ms < 0: not
 * yet seen in flight). rtt_ms: the largest RTT measured on the connections (a
 * silence is never believed before 4 of them). Pure. */
enum ik_verdict ik_judge(const struct ik_snap *s, int64_t elapsed_ms, int64_t rtt_ms);
const char *ik_name(enum ik_verdict v);

#endif
