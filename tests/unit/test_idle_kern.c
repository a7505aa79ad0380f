/* Unit tests: the TCP_INFO death rule (idle_kern.c) over hand-made snapshots:
 * silence is believed only after retransmissions without any ACK, never before
 * 4 RTTs; RST and FIN are seen from the socket's state; an ACK is life. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "idle_kern.h"

enum { EST = 1, FINW1 = 4, CLOSE = 7, CLOSE_WAIT = 8, LAST_ACK = 9 };

static struct ik_snap snap(int state, uint32_t unacked, uint32_t retrans, uint32_t last_ack_ms)
{
	struct ik_snap s = { 0 };
	s.state = state;
	s.unacked = unacked;
	s.retransmits = retrans;
	s.backoff = retrans;
	s.rtt_ms = 1;
	s.rto_ms = 200;
	s.last_ack_ms = last_ack_ms;
	return s;
}

static void test_silent(void **state)
{
	(void)state;
	/* idle 45 s before the probe: the last ACK is that old */
	struct ik_snap s = snap(EST, 1, 0, 45200);
	assert_int_equal(ik_judge(&s, 100, 1), IK_PENDING);	/* first RTO not yet */
	s = snap(EST, 1, 1, 45400);
	assert_int_equal(ik_judge(&s, 300, 1), IK_PENDING);	/* one loss is loss */
	s = snap(EST, 1, 2, 45800);
	assert_int_equal(ik_judge(&s, 700, 1), IK_PENDING);
	s = snap(EST, 1, 3, 46500);
	assert_int_equal(ik_judge(&s, 1400, 1), IK_SILENT);	/* three RTOs: forgotten */
	/* long RTOs: one retransmission and 1.5 s without an ACK */
	s = snap(EST, 1, 1, 47000);
	assert_int_equal(ik_judge(&s, 1500, 20), IK_SILENT);
	assert_int_equal(ik_judge(&s, 1499, 20), IK_PENDING);
	/* never before 4 RTTs, however many retransmissions */
	s = snap(EST, 1, 3, 47000);
	assert_int_equal(ik_judge(&s, 1500, 400), IK_PENDING);
	assert_int_equal(ik_judge(&s, 1600, 400), IK_SILENT);
	/* no retransmission at all: the RTO has not fired, no verdict */
	s = snap(EST, 1, 0, 47000);
	assert_int_equal(ik_judge(&s, 5000, 1), IK_PENDING);
}

/* Loss, not death: an ACK arrived after the probe left (a retransmission got
 * through, or part of the data was acknowledged). */
static void test_late_ack(void **state)
{
	(void)state;
	struct ik_snap s = snap(EST, 1, 3, 200);	/* ACK 0.2 s ago, probe 1.4 s ago */
	assert_int_equal(ik_judge(&s, 1400, 1), IK_PENDING);
	s = snap(EST, 0, 0, 10);
	assert_int_equal(ik_judge(&s, 1400, 1), IK_ACKED);
	assert_int_equal(ik_judge(&s, 50, 1), IK_ACKED);
}

static void test_states(void **state)
{
	(void)state;
	struct ik_snap s = snap(CLOSE, 0, 0, 20);
	assert_int_equal(ik_judge(&s, 20, 1), IK_RESET);
	assert_int_equal(ik_judge(&s, -1, 1), IK_RESET);	/* even before the probe */
	s = snap(CLOSE, 0, 5, 20);
	assert_int_equal(ik_judge(&s, 20, 1), IK_SILENT);	/* the kernel gave up itself */
	s = snap(CLOSE_WAIT, 0, 0, 20);
	assert_int_equal(ik_judge(&s, 20, 1), IK_FIN);
	s = snap(LAST_ACK, 1, 0, 20);
	assert_int_equal(ik_judge(&s, 20, 1), IK_FIN);
	s = snap(FINW1, 1, 0, 20);
	assert_int_equal(ik_judge(&s, 20, 1), IK_GONE);	/* our own close */
	s = snap(EST, 1, 3, 99999);
	assert_int_equal(ik_judge(&s, -1, 1), IK_PENDING);	/* not yet in flight */
	assert_string_equal(ik_name(IK_SILENT), "silent");
	assert_string_equal(ik_name(IK_FIN), "fin");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_silent),
		cmocka_unit_test(test_late_ack),
		cmocka_unit_test(test_states),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
