/* Unit tests: the relay's connection race, on loopback only: the cadence, a
 * plain success, "refused" and a final resolver error failing at once, and a
 * listener whose accept queue is full (the kernel drops SYNs, as a dead path
 * does) that frees up while the race runs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "relay_race.h"

static int listener(int backlog, char *port, size_t plen)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s, backlog), 0);
	socklen_t l = sizeof(a);
	getsockname(s, (struct sockaddr *)&a, &l);
	snprintf(port, plen, "%d", ntohs(a.sin_port));
	return s;
}

static void test_gap(void **state)
{
	(void)state;
	assert_int_equal(relay_race_gap_ms(1), 500);
	assert_int_equal(relay_race_gap_ms(8), 500);
	assert_int_equal(relay_race_gap_ms(9), 1000);
	assert_int_equal(relay_race_gap_ms(100), 1000);
	/* a 10 s race opens at most this many: SYN rate bounded */
	int t = 0, n = 0;
	while (t < 10000)
		t += relay_race_gap_ms(++n);
	assert_true(n <= 14);
}

static void test_plain(void **state)
{
	(void)state;
	char port[16], err[256];
	int l = listener(16, port, sizeof(port));
	struct relay_race_stats st;
	int fd = relay_connect_race("127.0.0.1", port, 4, 3000, &st, err, sizeof(err));
	assert_true(fd >= 0);
	assert_int_equal(st.opened, 1);
	assert_int_equal(st.extra, 0);
	close(fd);
	close(l);
}

static void test_fail_fast(void **state)
{
	(void)state;
	char port[16], err[256] = "";
	int l = listener(1, port, sizeof(port));
	close(l);	/* nobody listens there now: RST */
	struct relay_race_stats st;
	/* refused is raced through (a restarting sshd), then reported */
	assert_int_equal(relay_connect_race("127.0.0.1", port, 4, 1600, &st, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "Connection refused"));
	assert_true(st.opened >= 3 && st.opened <= 5);	/* 0, 0.5, 1, 1.5 s */
	assert_true(st.ms >= 1500 && st.ms < 3000);
	assert_int_equal(relay_connect_race("127.0.0.1", "22", 6, 5000, &st, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "127.0.0.1: "));
	assert_int_equal(st.opened, 0);
	assert_true(st.ms < 2000);
}

struct relisten { char port[16]; int ms; int fd; };

static void *listen_later(void *arg)
{
	struct relisten *w = arg;
	struct timespec ts = { w->ms / 1000, (w->ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(w->port)),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(s, 4) == 0)
		w->fd = s;
	else
		close(s);
	return NULL;
}

/* sshd restarting: refused for a while, then listening: the race gets in */
static void test_refused_then_listening(void **state)
{
	(void)state;
	struct relisten w = { .ms = 800, .fd = -1 };
	int l = listener(1, w.port, sizeof(w.port));
	close(l);
	pthread_t th;
	pthread_create(&th, NULL, listen_later, &w);
	char err[256] = "";
	struct relay_race_stats st;
	int fd = relay_connect_race("127.0.0.1", w.port, 4, 5000, &st, err, sizeof(err));
	pthread_join(th, NULL);
	assert_true(w.fd >= 0);
	assert_true(fd >= 0);
	assert_true(st.opened >= 2);
	assert_true(st.ms >= 700 && st.ms < 3000);
	close(fd);
	close(w.fd);
}

struct later { int l; int ms; int filler; };

static void *accept_later(void *arg)
{
	struct later *w = arg;
	struct timespec ts = { w->ms / 1000, (w->ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
	close(accept(w->l, NULL, NULL));	/* frees the queue slot */
	return NULL;
}

static void test_race_through_full_queue(void **state)
{
	(void)state;
	char port[16], err[256] = "";
	int l = listener(0, port, sizeof(port));
	/* fill the accept queue: further SYNs are dropped by the kernel */
	int fillers[2];
	for (int i = 0; i < 2; i++) {
		fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		connect(fillers[i], (struct sockaddr *)&a, sizeof(a));
	}
	struct timespec settle = { 0, 100 * 1000000L };
	nanosleep(&settle, NULL);
	struct later w = { l, 1200, -1 };
	pthread_t th;
	pthread_create(&th, NULL, accept_later, &w);
	struct relay_race_stats st;
	int fd = relay_connect_race("127.0.0.1", port, 4, 8000, &st, err, sizeof(err));
	pthread_join(th, NULL);
	if (fd < 0)
		print_error("race: %s\n", err);
	assert_true(fd >= 0);
	assert_true(st.opened >= 2);	/* more than one SYN stream was tried */
	assert_true(st.extra <= st.opened - 1);
	assert_true(st.ms >= 1000);
	close(fd);
	for (int i = 0; i < 2; i++)
		close(fillers[i]);
	close(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gap),
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_fail_fast),
		cmocka_unit_test(test_race_through_full_queue),
		cmocka_unit_test(test_refused_then_listening),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
