/* idle_kern.c - a probe's fate from TCP_INFO snapshots (see idle_kern.h). Pure. */
#include "idle_kern.h"

/* Linux tcp_states.h values, as TCP_INFO reports them */
enum { S_ESTABLISHED = 1, S_FIN_WAIT1 = 4, S_FIN_WAIT2 = 5, S_TIME_WAIT = 6, S_CLOSE = 7,
       S_CLOSE_WAIT = 8, S_LAST_ACK = 9, S_CLOSING = 11 };

const char *ik_name(enum ik_verdict v)
{
	static const char *const n[] = { "pending", "acked", "silent", "reset", "fin", "gone" };
	return n[v];
}

enum ik_verdict ik_judge(const struct ik_snap *s, int64_t elapsed_ms, int64_t rtt_ms)
{
	switch (s->state) {
	case S_CLOSE:
		/* we hold the socket open: only an RST (or the kernel giving up after
		 * its own retransmissions, a silence all the same) closes it */
		return s->retransmits >= IK_MIN_RETRANS ? IK_SILENT : IK_RESET;
	case S_CLOSE_WAIT:
	case S_LAST_ACK:
	case S_CLOSING:
		return IK_FIN;	/* the peer (or a middlebox for it) sent FIN */
	case S_ESTABLISHED:
		break;
	case S_FIN_WAIT1:
	case S_FIN_WAIT2:
	case S_TIME_WAIT:
	default:
		return IK_GONE;	/* our side is closing: says nothing about the path */
	}
	if (elapsed_ms < 0)
		return IK_PENDING;	/* the probe's bytes are not on the wire yet */
	if (s->unacked == 0)
		return IK_ACKED;
	/* an ACK since the probe left: the path carries the flow, the rest is loss */
	if ((int64_t)s->last_ack_ms < elapsed_ms)
		return IK_PENDING;
	int64_t floor = 4 * rtt_ms;
	if (elapsed_ms < floor || s->retransmits < 1)
		return IK_PENDING;
	if (s->retransmits >= IK_MIN_RETRANS || elapsed_ms >= IK_SILENT_MS)
		return IK_SILENT;
	return IK_PENDING;
}
