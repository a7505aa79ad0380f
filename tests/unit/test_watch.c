/* Unit tests: the relay watcher's judging (pure): ending classification over
 * observations, sleep through an injected clock, keepalive derivation, gaps,
 * and the netid parsers of /proc/net tables. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "netid.h"
#include "watch.h"

static enum hist_end cls(const struct watch_obs *o)
{
	char d[256];
	enum hist_end e = watch_classify(o, d, sizeof(d));
	assert_true(d[0] != '\0');
	return e;
}

static void test_classify(void **state)
{
	(void)state;
	struct watch_obs o = { .reply_window_ms = 1000, .end_after_words_ms = -1 };
	assert_int_equal(cls(&o), HE_RUNNING);

	struct watch_obs rst = o;
	rst.sock_err = ECONNRESET;
	assert_int_equal(cls(&rst), HE_RESET);
	struct watch_obs sg = o;	/* a server slow to speak first is no close of its own */
	sg.fin = 1;
	sg.fin_last_sent_ms = 3;
	sg.end_after_words_ms = 10;
	sg.server_gap_ms = 2500;
	assert_int_equal(cls(&sg), HE_CLEAN);
	struct watch_obs tmo = o;
	tmo.sock_err = ETIMEDOUT;
	assert_int_equal(cls(&tmo), HE_TIMEOUT);
	/* ssh read the error first: the socket is just closed */
	struct watch_obs cl = o;
	cl.closed = 1;
	assert_int_equal(cls(&cl), HE_RESET);
	cl.retrans = 1;
	assert_int_equal(cls(&cl), HE_TIMEOUT);

	/* FIN right after ssh's last data (its disconnect): clean */
	struct watch_obs fin = o;
	fin.fin = 1;
	fin.fin_ssh_alive = 1;
	fin.fin_last_sent_ms = 5;
	assert_int_equal(cls(&fin), HE_CLEAN);
	struct watch_obs pa = fin;	/* closed before any login: refused */
	pa.preauth = 1;
	assert_int_equal(cls(&pa), HE_SERVER_CLOSED);
	/* a loaded machine: the FIN 1.1 s after ssh answered the server's close */
	struct watch_obs late = fin;
	late.fin_last_sent_ms = 1128;
	late.fin_last_recv_ms = 1140;
	assert_int_equal(cls(&late), HE_CLEAN);
	late.fin_last_recv_ms = 900;	/* the server spoke after ssh: no answer, its own close */
	assert_int_equal(cls(&late), HE_SERVER_CLOSED);
	late.fin_last_sent_ms = 3500;	/* past the slack: the server's choice */
	late.fin_last_recv_ms = 3600;
	assert_int_equal(cls(&late), HE_SERVER_CLOSED);
	/* FIN long after ssh last sent, ssh alive: the server closed */
	fin.fin_last_sent_ms = 20000;
	fin.fin_last_recv_ms = 20000;
	assert_int_equal(cls(&fin), HE_SERVER_CLOSED);
	/* the server broke a silence, ssh answered with its disconnect: server-closed */
	struct watch_obs sc = o;
	sc.fin = 1;
	sc.fin_last_sent_ms = 3;
	sc.end_after_words_ms = 10;
	sc.server_gap_ms = 20000;
	assert_int_equal(cls(&sc), HE_SERVER_CLOSED);
	sc.end_after_words_ms = 5000;	/* long after: the user's own exit */
	assert_int_equal(cls(&sc), HE_CLEAN);

	/* ssh gone, idle, nothing said: killed; with data unanswered: timeout */
	struct watch_obs k = o;
	k.ssh_gone = 1;
	k.gone_last_sent_ms = 30000;
	assert_int_equal(cls(&k), HE_CLIENT_KILLED);
	k.gone_unacked = 1;
	k.retrans = 1;
	assert_int_equal(cls(&k), HE_TIMEOUT);

	/* causes: network change behind a failure, not behind a clean end */
	struct watch_obs nc = tmo;
	nc.net_changed = 1;
	assert_int_equal(cls(&nc), HE_NETWORK_CHANGED);
	struct watch_obs ncc = fin;
	ncc.fin_last_sent_ms = 5;
	ncc.net_changed = 1;
	assert_int_equal(cls(&ncc), HE_CLEAN);
	/* sleep beats a network change (waking up elsewhere) */
	nc.suspended_ms = 3600000;
	char d[256];
	assert_int_equal(watch_classify(&nc, d, sizeof(d)), HE_SUSPENDED);
	assert_non_null(strstr(d, "slept 3600 s"));
	struct watch_obs sk = k;
	sk.gone_unacked = 0;
	sk.retrans = 0;
	sk.suspended_ms = 10000;
	assert_int_equal(cls(&sk), HE_SUSPENDED);
}

/* A clock whose boot time runs ahead: the machine slept. */
struct fake { int64_t mono, boot; };
static int64_t f_mono(void *a) { return ((struct fake *)a)->mono; }
static int64_t f_boot(void *a) { return ((struct fake *)a)->boot; }

static void test_suspend_clock(void **state)
{
	(void)state;
	struct fake f = { 1000, 5000 };
	struct watch_clock c = { f_mono, f_boot, &f };
	int64_t m0 = c.mono_ms(c.arg), b0 = c.boot_ms(c.arg);
	f.mono += 60000;
	f.boot += 60000 + 1500;	/* timer noise, not a sleep */
	assert_int_equal(watch_suspended_ms(m0, b0, c.mono_ms(c.arg), c.boot_ms(c.arg)), 0);
	f.boot += 7200000;	/* two hours asleep */
	assert_int_equal(watch_suspended_ms(m0, b0, c.mono_ms(c.arg), c.boot_ms(c.arg)), 7201500);
	/* the real clocks of a machine that did not sleep */
	const struct watch_clock *r = &watch_clock_real;
	int64_t rm = r->mono_ms(r->arg), rb = r->boot_ms(r->arg);
	assert_int_equal(watch_suspended_ms(rm, rb, r->mono_ms(r->arg), r->boot_ms(r->arg)), 0);
}

static void test_keepalive_derive(void **state)
{
	(void)state;
	struct watch_ka ka;
	watch_ka_derive(-1, 0, &ka);	/* nothing measured */
	assert_int_equal(ka.on, 1);
	assert_int_equal(ka.idle_s, 60);
	assert_int_equal(ka.intvl_s, 10);
	assert_int_equal(ka.cnt, 3);
	assert_int_equal(ka.user_timeout_ms, 90000);
	assert_string_equal(ka.source, "default");
	watch_ka_derive(10, 1, &ka);	/* the lab's NAT of 10 s */
	assert_int_equal(ka.idle_s, 5);
	assert_int_equal(ka.intvl_s, 1);
	assert_int_equal(ka.user_timeout_ms, 8000);
	assert_string_equal(ka.source, "measured");
	watch_ka_derive(350, 1, &ka);	/* AWS NAT gateway */
	assert_int_equal(ka.idle_s, 175);
	assert_int_equal(ka.intvl_s, 10);
	assert_int_equal(ka.user_timeout_ms, 205000);
	watch_ka_derive(7200, 0, &ka);	/* survived 2 h: capped */
	assert_int_equal(ka.idle_s, 300);
	watch_ka_derive(1, 1, &ka);	/* too short to halve: default */
	assert_int_equal(ka.idle_s, 60);
}

/* ssh gone: how long to wait for the server's FIN */
static void test_gone_wait(void **state)
{
	(void)state;
	/* killed while idle: ssh's last data long ago, no wait */
	assert_int_equal(watch_gone_wait_ms(30000, 30000, 1000), 0);
	/* the closing exchange: the server's close 1 ms before ssh's answer;
	 * a loaded server gets the long wait (the CI case: FIN after > 3 s) */
	assert_int_equal(watch_gone_wait_ms(2, 3, 1000), WATCH_CLOSE_WAIT_MS);
	/* ssh spoke last on its own (its disconnect, or a kill mid-typing) */
	assert_int_equal(watch_gone_wait_ms(2, 9000, 1000), WATCH_CLOSE_SLACK_MS);
	/* a slow path widens the base */
	assert_int_equal(watch_gone_wait_ms(10, 9000, 4000), 4000);
	assert_int_equal(watch_gone_wait_ms(-1, 0, 1000), 0);
}

static void test_gap(void **state)
{
	(void)state;
	struct watch_ka off = { 0 }, on = { .on = 1, .idle_s = 5 };
	assert_int_equal(watch_gap_ms(1000, 16000, &off), 15000);
	assert_int_equal(watch_gap_ms(1000, 16000, &on), 5000);	/* probes crossed every 5 s */
	assert_int_equal(watch_gap_ms(1000, 500, &off), 0);
	assert_int_equal(watch_reply_window_ms(0), 1000);
	assert_int_equal(watch_reply_window_ms(100000), 1400);
	assert_int_equal(watch_reply_window_ms(10000000), 3000);
}

static void test_netid_parse(void **state)
{
	(void)state;
	const char *route =
		"Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
		"eth0\t00000000\t0102000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
		"wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n"
		"eth0\t0000000A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n"
		"eth1\t007100CB\t010200C0\t0003\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
		"garbage line\n";
	char gw[64], ifn[32];
	assert_int_equal(netid_parse_route(route, NULL, gw, sizeof(gw), ifn, sizeof(ifn)), 0);
	assert_string_equal(gw, "10.0.2.1");	/* lowest metric default */
	assert_string_equal(ifn, "eth0");
	assert_int_equal(netid_parse_route(route, "203.0.113.2", gw, sizeof(gw), ifn, sizeof(ifn)), 0);
	assert_string_equal(gw, "192.0.2.1");	/* longest prefix toward the server */
	assert_string_equal(ifn, "eth1");
	assert_int_equal(netid_parse_route(route, "10.0.0.5", gw, sizeof(gw), ifn, sizeof(ifn)), -1);
	assert_int_equal(netid_parse_route("", NULL, gw, sizeof(gw), ifn, sizeof(ifn)), -1);

	const char *arp = "IP address       HW type     Flags       HW address            Mask     Device\n"
			  "192.0.2.1        0x1         0x2         02:00:5e:10:00:01     *        eth1\n"
			  "192.0.2.9        0x1         0x0         00:00:00:00:00:00     *        eth1\n";
	char mac[32];
	assert_int_equal(netid_parse_arp(arp, "192.0.2.1", mac, sizeof(mac)), 0);
	assert_string_equal(mac, "02:00:5e:10:00:01");
	assert_int_equal(netid_parse_arp(arp, "192.0.2.9", mac, sizeof(mac)), -1);	/* incomplete */

	const char *r6 = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
			 "fe800000000000000000000000000001 00000400 00000001 00000000 00000003 wlan0\n";
	assert_int_equal(netid_parse_ipv6_route(r6, gw, sizeof(gw), ifn, sizeof(ifn)), 0);
	assert_string_equal(gw, "fe80::1");
	assert_string_equal(ifn, "wlan0");

	struct hist_net n = { 0 };
	strcpy(n.gateway, "192.0.2.1");
	strcpy(n.gw_mac, "02:00:5e:10:00:01");
	netid_make_id(&n);
	assert_string_equal(n.id, "gw-192.0.2.1-02:00:5e:10:00:01");
	memset(&n, 0, sizeof(n));
	strcpy(n.iface, "lo");
	strcpy(n.src, "127.0.0.1");
	netid_make_id(&n);
	assert_string_equal(n.id, "if-lo-127.0.0.1");
	memset(&n, 0, sizeof(n));
	netid_make_id(&n);
	assert_string_equal(n.id, "unknown");
	assert_int_equal(netid_addr_present("127.0.0.1"), 1);
	assert_int_equal(netid_addr_present("198.51.100.77"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_suspend_clock),
		cmocka_unit_test(test_keepalive_derive),
		cmocka_unit_test(test_gone_wait),
		cmocka_unit_test(test_gap),
		cmocka_unit_test(test_netid_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
