/* Unit tests: doctor --server's parsers and judge over fixture texts
 * (tests/fixtures/srvside/: real `nft -j list ruleset`, /proc/net/tcp{,6}
 * captured in a namespace; iptables-save, hosts.allow/deny, sshd -T). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "logscan.h"
#include "srvside.h"

static char *fixture(const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "tests/fixtures/srvside/%s", name);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	static char buf[1 << 16];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strdup(buf);
}

static void test_proc_tcp(void **st)
{
	(void)st;
	struct srv_sock s[8];
	char *t = fixture("proc_net_tcp");
	assert_int_equal(srv_parse_proc_tcp(t, 0, s, 8), 2);
	assert_string_equal(s[0].addr, "127.0.0.1");
	assert_int_equal(s[0].port, 2222);
	assert_int_equal(s[0].inode, 4273359);
	assert_string_equal(s[1].addr, "0.0.0.0");
	assert_int_equal(s[1].port, 22);
	assert_int_equal(s[1].pid, -1);
	assert_int_equal(srv_parse_proc_tcp(t, 0, s, 1), 1);	/* bounded */
	free(t);
	t = fixture("proc_net_tcp6");
	assert_int_equal(srv_parse_proc_tcp(t, 1, s, 8), 1);
	assert_string_equal(s[0].addr, "::");
	assert_int_equal(s[0].port, 22);
	free(t);
	assert_int_equal(srv_parse_proc_tcp("header only", 0, s, 8), 0);
	assert_int_equal(srv_parse_proc_tcp("h\n 0: zz:zz 00:00 0A x\n", 0, s, 8), 0);
	assert_int_equal(srv_parse_proc_tcp(NULL, 0, s, 8), 0);
}

static void test_addr_in(void **st)
{
	(void)st;
	assert_int_equal(srv_addr_in("192.0.2.2", "192.0.2.0/24"), 1);
	assert_int_equal(srv_addr_in("192.0.3.2", "192.0.2.0/24"), 0);
	assert_int_equal(srv_addr_in("192.0.2.2", "192.0.2.0/255.255.255.0"), 1);
	assert_int_equal(srv_addr_in("192.0.2.2", "192.0.2.2"), 1);
	assert_int_equal(srv_addr_in("192.0.2.2", "0.0.0.0/0"), 1);
	assert_int_equal(srv_addr_in("2001:db8::1", "[2001:db8::]/32"), 1);
	assert_int_equal(srv_addr_in("2001:db9::1", "2001:db8::/32"), 0);
	assert_int_equal(srv_addr_in("192.0.2.2", "2001:db8::/32"), 0);
	assert_int_equal(srv_addr_in("192.0.2.2", "host.example"), -1);
	assert_int_equal(srv_addr_in("192.0.2.2", "192.0.2.0/33"), -1);
	assert_int_equal(srv_addr_in("192.0.2.2", "192.0.2.0/x"), -1);
}

static void test_wrap(void **st)
{
	(void)st;
	char *allow = fixture("hosts.allow"), *deny = fixture("hosts.deny");
	struct wrap_hit h;
	wrap_judge(allow, deny, "sshd", "192.0.2.2", &h);
	assert_int_equal(h.denied, 1);
	assert_string_equal(h.file, "hosts.deny");
	assert_int_equal(h.line, 4);	/* continued on line 5 */
	wrap_judge(allow, deny, "sshd", "192.0.2.77", &h);	/* EXCEPT */
	assert_int_equal(h.denied, 0);
	assert_int_equal(h.line, 0);
	wrap_judge(allow, deny, "sshd", "198.51.100.9", &h);	/* granted by hosts.allow */
	assert_int_equal(h.denied, 0);
	assert_string_equal(h.file, "hosts.allow");
	assert_int_equal(h.line, 2);
	wrap_judge(allow, deny, "sshd", "203.0.113.7", &h);	/* hosts.allow ": deny" */
	assert_int_equal(h.denied, 1);
	assert_string_equal(h.file, "hosts.allow");
	wrap_judge(allow, deny, "vsftpd", "203.0.113.9", &h);
	assert_int_equal(h.denied, 1);
	wrap_judge(allow, deny, "sshd", "203.0.113.9", &h);	/* ".example.com" needs a lookup */
	assert_int_equal(h.denied, 0);
	wrap_judge(NULL, "ALL: ALL\n", "sshd", "2001:db8::1", &h);
	assert_int_equal(h.denied, 1);
	wrap_judge(NULL, "sshd: [2001:db8::]/32\n", "sshd", "2001:db8::1", &h);
	assert_int_equal(h.denied, 1);
	wrap_judge(NULL, "sshd: 192.0.2.\n", "sshd", "192.0.2.5", &h);
	assert_int_equal(h.denied, 1);
	wrap_judge(NULL, "sshd: 192.0.2.*\n", "sshd", "192.0.2.5", &h);
	assert_int_equal(h.denied, 1);
	wrap_judge(NULL, "ALL EXCEPT sshd: ALL\n", "sshd", "192.0.2.5", &h);
	assert_int_equal(h.denied, 0);
	wrap_judge(NULL, "sshd 192.0.2.5\n\\\n", "sshd", "192.0.2.5", &h);	/* malformed */
	assert_int_equal(h.denied, 0);
	/* an over-long logical line is skipped, as libwrap refuses it */
	char *big = malloc(10000);
	memset(big, 'a', 9000);
	memcpy(big, "sshd: ALL ", 10);
	strcpy(big + 9000, "\n");
	wrap_judge(NULL, big, "sshd", "192.0.2.5", &h);
	assert_int_equal(h.denied, 0);
	free(big);
	free(allow);
	free(deny);
}

static void test_nft(void **st)
{
	(void)st;
	char *j = fixture("nft_f2b.json");
	struct fw_hit h;
	assert_int_equal(fw_nft_judge(j, "192.0.2.2", 22, &h), 1);
	assert_int_equal(h.verdict, FW_REJECT);
	assert_true(h.ban);
	assert_true(h.ban_left_s > 500 && h.ban_left_s <= 600);
	assert_string_equal(h.undo, "nft delete element inet filter f2b { 192.0.2.2 }");
	assert_int_equal(fw_nft_judge(j, "192.0.2.9", 22, &h), 1);	/* prefix, port set */
	assert_int_equal(h.verdict, FW_DROP);
	assert_false(h.ban);
	assert_string_equal(h.undo, "nft delete rule inet filter input handle 8");
	assert_non_null(strstr(h.rule, "192.0.2.0"));
	assert_int_equal(fw_nft_judge(j, "198.51.100.7", 22, &h), 1);
	assert_int_equal(h.verdict, FW_REJECT);
	assert_int_equal(fw_nft_judge(j, "203.0.113.9", 22, &h), 1);	/* jump sub, != 10/8 */
	assert_int_equal(h.verdict, FW_DROP);
	assert_non_null(strstr(h.where, "chain sub"));
	assert_int_equal(fw_nft_judge(j, "10.1.2.3", 22, &h), 0);
	assert_int_equal(fw_nft_judge(j, "192.0.2.9", 80, &h), 0);
	/* "ip saddr" never matches an IPv6 packet, not even negated */
	assert_int_equal(fw_nft_judge(j, "2001:db8::1", 22, &h), 0);
	free(j);
	j = fixture("nft_policy_drop.json");
	assert_int_equal(fw_nft_judge(j, "192.0.2.2", 22, &h), 1);
	assert_int_equal(h.verdict, FW_DROP);
	assert_string_equal(h.undo, "nft insert rule ip fw input ip saddr 192.0.2.2 tcp dport 22 accept");
	assert_int_equal(fw_nft_judge(j, "10.0.0.5", 22, &h), 0);
	assert_int_equal(fw_nft_judge(j, "192.0.2.2", 80, &h), 0);
	assert_int_equal(fw_nft_judge(j, "2001:db8::1", 22, &h), 0);	/* table ip: not for IPv6 */
	free(j);
	assert_int_equal(fw_nft_judge("not json", "192.0.2.2", 22, &h), -1);
	assert_int_equal(fw_nft_judge("{}", "192.0.2.2", 22, &h), -1);
	assert_int_equal(fw_nft_judge("{\"nftables\":[]}", "192.0.2.2", 22, &h), 0);
	assert_int_equal(fw_nft_judge(NULL, "192.0.2.2", 22, &h), -1);
	/* a loop of jumps ends */
	const char *loop = "{\"nftables\":[{\"chain\":{\"family\":\"inet\",\"table\":\"t\",\"name\":\"in\",\"type\":\"filter\",\"hook\":\"input\"}},"
			   "{\"rule\":{\"family\":\"inet\",\"table\":\"t\",\"chain\":\"in\",\"handle\":1,\"expr\":[{\"jump\":{\"target\":\"in\"}}]}}]}";
	assert_int_equal(fw_nft_judge(loop, "192.0.2.2", 22, &h), 0);
}

static void test_ipt(void **st)
{
	(void)st;
	char *t = fixture("iptables_save.txt");
	struct fw_hit h;
	assert_int_equal(fw_ipt_judge(t, "203.0.113.50", 22, &h), 1);
	assert_int_equal(h.verdict, FW_REJECT);
	assert_string_equal(h.undo, "iptables -D ufw-user-input -s 203.0.113.50/32 -p tcp -m tcp --dport 22 -j REJECT --reject-with tcp-reset");
	assert_int_equal(fw_ipt_judge(t, "192.0.2.2", 22, &h), 0);	/* accepted in the user chain */
	assert_int_equal(fw_ipt_judge(t, "198.51.100.1", 22, &h), 1);	/* the policy */
	assert_int_equal(h.verdict, FW_DROP);
	assert_non_null(strstr(h.undo, "iptables -I INPUT -s 198.51.100.1 -p tcp --dport 22 -j ACCEPT"));
	assert_int_equal(fw_ipt_judge(t, "198.51.100.1", 443, &h), 0);
	assert_int_equal(fw_ipt_judge("", "198.51.100.1", 22, &h), -1);
	free(t);
}

static void test_f2b(void **st)
{
	(void)st;
	const char *s = "Status for the jail: sshd\n|- Filter\n`- Actions\n   |- Currently banned:\t2\n"
			"   `- Banned IP list:\t192.0.2.2 198.51.100.3\n";
	assert_true(f2b_banned(s, "192.0.2.2"));
	assert_true(f2b_banned(s, "198.51.100.3"));
	assert_false(f2b_banned(s, "192.0.2.22"));
	assert_false(f2b_banned(s, "192.0.2"));
	assert_false(f2b_banned(NULL, "192.0.2.2"));
	assert_false(f2b_banned("Banned IP list:", "192.0.2.2"));
}

static void base(struct srv_obs *o)
{
	srv_obs_init(o);
	o->root = 1;
	snprintf(o->client, sizeof(o->client), "192.0.2.2");
	o->sshd_pid = 100;
	o->nlisten = 1;
	snprintf(o->listen[0].addr, sizeof(o->listen[0].addr), "0.0.0.0");
	o->listen[0].port = 22;
	o->listen[0].pid = 100;
	snprintf(o->listen[0].comm, sizeof(o->listen[0].comm), "sshd");
	o->sshd_t_rc = 0;
	o->libwrap = 1;
	o->ncpu = 2;
	o->load1 = 0.5;
}

static const struct finding *judged(const struct srv_obs *o, struct report *r, const char *id)
{
	report_init(r, "doctor");
	srvside_judge(o, r);
	return report_find(r, id);
}

static void test_judge(void **st)
{
	(void)st;
	struct srv_obs o;
	struct report r;
	const struct finding *f;

	base(&o);
	f = judged(&o, &r, "srv.ok");
	assert_non_null(f);
	assert_int_equal(report_status(&r), STATUS_OK);
	report_free(&r);

	o.nlisten = 0;
	o.sshd_pid = -1;
	o.sshd_t_rc = 1;
	snprintf(o.sshd_t_err, sizeof(o.sshd_t_err), "/etc/ssh/sshd_config line 3: Bad configuration option: Portt");
	f = judged(&o, &r, "srv.sshd-down");
	assert_non_null(f);
	assert_int_equal(f->sev, SEV_CRITICAL);
	assert_non_null(strstr(f->evidence.v[1], "Portt"));
	assert_null(report_find(&r, "srv.ok"));
	report_free(&r);

	base(&o);
	o.listen[0].port = 2222;
	o.sshd_T = fixture("sshd_T_allowusers.txt");
	f = judged(&o, &r, "srv.not-listening");
	assert_non_null(f);
	assert_non_null(strstr(f->title, "0.0.0.0:2222"));
	assert_string_equal(f->fixes[0].lines.v[0], "Port 22");
	report_free(&r);
	/* the client uses 2222: fine; but user bob is not in AllowUsers */
	o.dest_port = 2222;
	snprintf(o.user, sizeof(o.user), "bob");
	f = judged(&o, &r, "srv.user-denied");
	assert_non_null(f);
	assert_non_null(strstr(f->title, "AllowUsers"));
	assert_null(report_find(&r, "srv.not-listening"));
	report_free(&r);
	snprintf(o.user, sizeof(o.user), "alice");	/* in AllowUsers, not in AllowGroups staff */
	f = judged(&o, &r, "srv.user-denied");
	assert_non_null(f);
	assert_non_null(strstr(f->title, "AllowGroups"));
	report_free(&r);
	strvec_push(&o.groups, "staff");
	assert_null(judged(&o, &r, "srv.user-denied"));
	report_free(&r);
	snprintf(o.user, sizeof(o.user), "carol");	/* carol@192.0.2.* */
	assert_null(judged(&o, &r, "srv.user-denied"));
	report_free(&r);
	snprintf(o.client, sizeof(o.client), "198.51.100.4");
	assert_non_null(judged(&o, &r, "srv.user-denied"));
	report_free(&r);
	srv_obs_free(&o);

	base(&o);
	o.sshd_T = fixture("sshd_T_denyusers.txt");
	snprintf(o.user, sizeof(o.user), "root");
	f = judged(&o, &r, "srv.user-denied");
	assert_non_null(f);
	assert_non_null(strstr(f->title, "DenyUsers root"));
	report_free(&r);
	snprintf(o.user, sizeof(o.user), "bob");	/* bob@198.51.100.0/24: not from 192.0.2.2 */
	assert_null(judged(&o, &r, "srv.user-denied"));
	report_free(&r);
	snprintf(o.client, sizeof(o.client), "198.51.100.4");
	assert_non_null(judged(&o, &r, "srv.user-denied"));
	report_free(&r);
	srv_obs_free(&o);

	base(&o);
	o.ct_count = 64;
	o.ct_max = 64;
	f = judged(&o, &r, "srv.conntrack-full");
	assert_non_null(f);
	assert_int_equal(f->sev, SEV_CRITICAL);
	report_free(&r);
	o.ct_count = 10;
	o.logs.ct_full = 3;	/* only the kernel's past lines: the host's, maybe not now */
	f = judged(&o, &r, "srv.conntrack-full");
	assert_non_null(f);
	assert_int_equal(f->sev, SEV_INFO);
	assert_int_equal(report_status(&r), STATUS_OK);
	report_free(&r);

	base(&o);
	o.nft_json = fixture("nft_f2b.json");
	f = judged(&o, &r, "srv.fw-ban");
	assert_non_null(f);
	assert_string_equal(f->fixes[0].lines.v[0], "nft delete element inet filter f2b { 192.0.2.2 }");
	report_free(&r);
	snprintf(o.client, sizeof(o.client), "192.0.2.9");
	assert_non_null(judged(&o, &r, "srv.fw-drop"));
	report_free(&r);
	snprintf(o.client, sizeof(o.client), "10.9.9.9");
	o.hosts_deny = fixture("hosts.deny");
	assert_non_null(judged(&o, &r, "srv.ok"));
	report_free(&r);
	snprintf(o.client, sizeof(o.client), "192.0.2.3");
	f = judged(&o, &r, "srv.tcpwrap-deny");
	assert_non_null(f);
	assert_int_equal(f->sev, SEV_CRITICAL);
	report_free(&r);
	o.libwrap = 0;	/* a build without libwrap ignores the file */
	f = judged(&o, &r, "srv.tcpwrap-deny");
	assert_int_equal(f->sev, SEV_INFO);
	report_free(&r);
	srv_obs_free(&o);

	base(&o);
	o.f2b_status = strdup("`- Banned IP list:\t192.0.2.2\n");
	f = judged(&o, &r, "srv.fail2ban-ban");
	assert_non_null(f);
	assert_string_equal(f->fixes[0].lines.v[0], "fail2ban-client set sshd unbanip 192.0.2.2");
	report_free(&r);
	srv_obs_free(&o);

	base(&o);
	o.root = 0;
	strvec_push(&o.unreadable, "nft -j list ruleset: Operation not permitted");
	f = judged(&o, &r, "srv.unreadable");
	assert_int_equal(f->sev, SEV_WARNING);
	report_free(&r);
	o.load1 = 9.5;
	assert_non_null(judged(&o, &r, "srv.load"));
	report_free(&r);
	srv_obs_free(&o);
}

static void test_judge_more(void **st)
{
	(void)st;
	struct srv_obs o;
	struct report r;
	const struct finding *f;

	/* systemd holds the port (ssh.socket): not "down" */
	base(&o);
	o.sshd_pid = -1;
	snprintf(o.listen[0].comm, sizeof(o.listen[0].comm), "systemd");
	o.listen[0].pid = 1;
	snprintf(o.socket_state, sizeof(o.socket_state), "active/listening");
	f = judged(&o, &r, "srv.socket-activated");
	assert_non_null(f);
	assert_null(report_find(&r, "srv.sshd-down"));
	assert_int_equal(report_status(&r), STATUS_OK);
	report_free(&r);
	/* another program on the port */
	snprintf(o.listen[0].comm, sizeof(o.listen[0].comm), "nc");
	o.listen[0].pid = 77;
	f = judged(&o, &r, "srv.port-taken");
	assert_non_null(f);
	assert_non_null(strstr(f->title, "nc (pid 77)"));
	report_free(&r);
	srv_obs_free(&o);

	/* not root: a listener whose owner is hidden is neither sshd nor "down" */
	base(&o);
	o.sshd_pid = -1;
	o.listen[0].pid = -1;
	o.listen[0].comm[0] = '\0';
	o.root = 0;
	f = judged(&o, &r, "srv.listener-unknown");
	assert_non_null(f);
	assert_null(report_find(&r, "srv.sshd-down"));
	report_free(&r);
	srv_obs_free(&o);

	/* changed after the start, still valid: reload it */
	base(&o);
	o.sshd_start_wall_ms = 1000000;
	o.config_mtime_ms = 1000000 + 60000;
	f = judged(&o, &r, "srv.config-unreloaded");
	assert_non_null(f);
	assert_string_equal(f->fixes[0].lines.v[0], "kill -HUP 100");
	report_free(&r);
	o.config_mtime_ms = 1000000 - 60000;
	assert_null(judged(&o, &r, "srv.config-unreloaded"));
	report_free(&r);

	o.logs.oom_sshd = 1;
	snprintf(o.logs.oom_ex, sizeof(o.logs.oom_ex), "Out of memory: Killed process 812 (sshd)");
	o.mem_total_kb = 1000000;
	o.mem_avail_kb = 10000;
	o.threads = 95;
	o.pid_max = 100;
	o.files = 10;
	o.files_max = 100;
	o.log_free_kb = 0;
	snprintf(o.log_dir, sizeof(o.log_dir), "/var/log");
	report_init(&r, "doctor");
	srvside_judge(&o, &r);
	assert_non_null(report_find(&r, "srv.oom-kill"));
	assert_non_null(report_find(&r, "srv.memory"));
	assert_int_equal(report_find(&r, "srv.pids")->sev, SEV_CRITICAL);
	assert_null(report_find(&r, "srv.fds"));
	assert_non_null(report_find(&r, "srv.disk-full"));
	assert_null(report_find(&r, "srv.ok"));
	report_free(&r);
	srv_obs_free(&o);

	/* MaxStartups drops logged, the listener below its limit now: a warning */
	base(&o);
	o.logs.maxstartups = 3;
	o.startups = 0;
	o.startups_begin = 10;
	f = judged(&o, &r, "srv.maxstartups-drops");
	assert_int_equal(f->sev, SEV_WARNING);
	report_free(&r);
	o.startups = 10;
	f = judged(&o, &r, "srv.maxstartups-drops");
	assert_int_equal(f->sev, SEV_CRITICAL);
	report_free(&r);
	srv_obs_free(&o);
}

static void test_logs(void **st)
{
	(void)st;
	struct srv_logs lg;
	struct logclock clk;
	memset(&lg, 0, sizeof(lg));
	logclock_init(&clk, 1764650000000LL);
	const char *l[] = {
		"Dec  2 04:21:00 srv sshd[9]: drop connection #2 from [192.0.2.2]:40000 on [203.0.113.2]:22 past MaxStartups",
		"drop connection #2 from [192.0.2.3]:40000 on [203.0.113.2]:22 past MaxStartups",
		"Dec  2 04:21:01 srv sshd[9]: srclimit_penalise: ipv4: new 192.0.2.2/32 activating penalty of 16 seconds for penalty: connections without attempting authentication",
		"drop connection #0 from [192.0.2.2]:40002 on [203.0.113.2]:22 penalty: connections without attempting authentication",
		"Dec  2 04:21:03 srv kernel: nf_conntrack: nf_conntrack: table full, dropping packet",
		"Dec  2 04:21:04 srv kernel: Out of memory: Killed process 812 (sshd) total-vm:15000kB",
		"garbage \x01\x02",
	};
	for (size_t i = 0; i < sizeof(l) / sizeof(l[0]); i++)
		srv_log_line(&lg, "192.0.2.2", &clk, 0, l[i], strlen(l[i]));
	assert_int_equal(lg.maxstartups, 1);
	assert_int_equal(lg.penalty, 1);
	assert_non_null(strstr(lg.penalise_ex, "activating penalty"));
	assert_int_equal(lg.ct_full, 1);
	assert_int_equal(lg.oom_sshd, 1);
	/* too old for "now" */
	memset(&lg, 0, sizeof(lg));
	srv_log_line(&lg, "192.0.2.2", &clk, 1764650000000LL, l[0], strlen(l[0]));
	assert_int_equal(lg.maxstartups, 0);
	/* restarts, unit failures, and login times by the stamps (journal short-iso) */
	memset(&lg, 0, sizeof(lg));
	const char *j[] = {
		"2025-12-02T04:00:00.000000+00:00 srv sshd[9]: Received SIGHUP; restarting.",
		"2025-12-02T04:00:01.000000+00:00 srv systemd[1]: ssh.service: Main process exited, code=exited, status=255/EXCEPTION",
		"2025-12-02T04:00:01.100000+00:00 srv systemd[1]: ssh.service: Failed with result 'exit-code'.",
		"2025-12-02T04:00:02.000000+00:00 srv systemd[1]: ssh.service: Main process exited, code=exited, status=0/SUCCESS",
		"2025-12-02T04:01:00.000000+00:00 srv sshd[20]: Connection from 192.0.2.2 port 40000 on 203.0.113.2 port 22 rdomain \"\"",
		"2025-12-02T04:01:00.500000+00:00 srv sshd[21]: Connection from 192.0.2.2 port 40001 on 203.0.113.2 port 22 rdomain \"\"",
		"2025-12-02T04:01:00.700000+00:00 srv sshd[22]: Connection from 198.51.100.7 port 5 on 203.0.113.2 port 22 rdomain \"\"",
		"2025-12-02T04:01:06.000000+00:00 srv sshd[20]: Accepted publickey for root from 192.0.2.2 port 40000 ssh2: ED25519 SHA256:x",
		"2025-12-02T04:01:02.500000+00:00 srv sshd[21]: Accepted publickey for root from 192.0.2.2 port 40001 ssh2: ED25519 SHA256:x",
		"2025-12-02T04:01:30.000000+00:00 srv sshd[22]: Accepted publickey for root from 198.51.100.7 port 5 ssh2: ED25519 SHA256:x",
		/* an acceptance with no connection seen (log rotated between): ignored */
		"2025-12-02T04:02:00.000000+00:00 srv sshd[23]: Accepted publickey for root from 192.0.2.2 port 40009 ssh2: ED25519 SHA256:x",
	};
	assert_int_equal(srv_login_median_ms(&lg), -1);
	for (size_t i = 0; i < sizeof(j) / sizeof(j[0]); i++)
		srv_log_line(&lg, "192.0.2.2", &clk, 0, j[i], strlen(j[i]));
	assert_int_equal(lg.restarts, 1);
	assert_int_equal(lg.unit_failures, 1);	/* the exit 255 and its "Failed": one failure */
	assert_non_null(strstr(lg.unit_fail_ex, "status=255/EXCEPTION"));	/* not the status 0 */
	assert_int_equal(lg.nlogin, 2);	/* the other client's login is not ours */
	assert_int_equal(srv_login_median_ms(&lg), 4000);	/* 6.0 s and 2.0 s */
	assert_int_equal(lg.slowest_ms, 6000);
	assert_non_null(strstr(lg.slowest_ex, "port 40000"));
	assert_true(srv_penalise_covers("new 192.0.2.0/24 activating", 27, "192.0.2.9"));
	assert_false(srv_penalise_covers("new 192.0.2.0/24 activating", 27, "192.0.3.9"));
}

/* --fix: which sshd lines the observations call for, from sshd -T's values */
static void test_fix_settings(void **state)
{
	(void)state;
	struct srv_obs o;
	struct audit_facts *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	srv_obs_init(&o);
	snprintf(o.client, sizeof(o.client), "192.0.2.2");
	/* no sshd -T: nothing can be planned */
	o.logs.maxstartups = 3;
	assert_int_equal(srvside_fix_settings(&o, f), 0);
	o.sshd_T = strdup("port 22\nmaxstartups 2:30:100\npersourcepenaltyexemptlist none\n");
	assert_int_equal(srvside_fix_settings(&o, f), 1);
	assert_string_equal(f->given[0].key, "MaxStartups");
	assert_string_equal(f->given[0].val, "100:30:200");
	/* penalties: the client is added; an existing list is extended */
	o.logs.penalty = 2;
	assert_int_equal(srvside_fix_settings(&o, f), 2);
	assert_string_equal(f->given[1].val, "192.0.2.2");
	free(o.sshd_T);
	o.sshd_T = strdup("maxstartups 150:30:300\npersourcepenaltyexemptlist 10.0.0.0/8,192.0.2.22\n");
	assert_int_equal(srvside_fix_settings(&o, f), 1);	/* 150 is not lowered */
	assert_string_equal(f->given[0].key, "PerSourcePenaltyExemptList");
	assert_string_equal(f->given[0].val, "10.0.0.0/8,192.0.2.22,192.0.2.2");
	/* already exempt, or no client named: nothing */
	free(o.sshd_T);
	o.sshd_T = strdup("maxstartups 150:30:300\npersourcepenaltyexemptlist 10.0.0.1,192.0.2.2\n");
	assert_int_equal(srvside_fix_settings(&o, f), 0);
	o.client[0] = '\0';
	assert_int_equal(srvside_fix_settings(&o, f), 0);
	srv_obs_free(&o);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proc_tcp), cmocka_unit_test(test_addr_in), cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_nft),	 cmocka_unit_test(test_ipt),	 cmocka_unit_test(test_f2b),
		cmocka_unit_test(test_judge),	 cmocka_unit_test(test_fix_settings),	 cmocka_unit_test(test_judge_more), cmocka_unit_test(test_logs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
