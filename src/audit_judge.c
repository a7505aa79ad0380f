/* audit_judge.c - the pure half of audit: facts -> findings and
 * measurements.audit (no processes, no files; unit-tested in test_audit.c),
 * and the keepalive arithmetic the whole tool shares. audit.c gathers. */
#include "audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idle.h"

long audit_detection(long interval, long countmax, int server, int major, int minor)
{
	if (interval <= 0 || countmax < 0)
		return -1;
	if (server && countmax == 0) {
		/* 8.2 made ClientAliveCountMax 0 mean "never disconnect". */
		if (major < 0 || major > 8 || (major == 8 && minor >= 2))
			return -1;
		return interval;
	}
	return interval * (countmax + 1);
}

/* One rule for the whole tool: the interval idle prescribes. */
long audit_prescribed_interval(long idle_s)
{
	return idle_safe_interval((double)idle_s);
}

/* clientloop.c server_alive_check(): the counter is raised before the keepalive
 * is sent and ssh exits once it exceeds ServerAliveCountMax (same in 9.2, 10.0). */
int audit_client_countmax_low(long interval, long countmax)
{
	if (interval <= 0 || countmax < 0)
		return 0;
	return countmax == 0 || interval * countmax < AUDIT_LOSS_ROUND_S;
}

long audit_prescribed_countmax(long interval)
{
	long c = 3;
	if (interval > 0 && interval * c < AUDIT_LOSS_ROUND_S)
		c = (AUDIT_LOSS_ROUND_S + interval - 1) / interval;
	return c;
}

/* --- analysis (pure) ----------------------------------------------------------- */

static void client_instructions(struct finding *fd, long p)
{
	struct fix *x = finding_fix(fd, "PuTTY");
	fix_line(x, "Connection > Seconds between keepalives (0 to turn off): %ld;"
		 " then Session > Save", p);
	x = finding_fix(fd, "Tera Term");
	fix_line(x, "Setup > SSH... > Heartbeat (keep-alive): %ld seconds; then Setup > Save setup"
		 " (TERATERM.INI [TTSSH] HeartBeat=%ld)", p, p);
	x = finding_fix(fd, "Windows OpenSSH (%USERPROFILE%\\.ssh\\config, at the top)");
	fix_line(x, "ServerAliveInterval %ld", p);
	fix_line(x, "ServerAliveCountMax %ld", audit_prescribed_countmax(p));
	x = finding_fix(fd, "VS Code Remote-SSH");
	fix_line(x, "it runs your ssh with the file named by the setting remote.SSH.configFile"
		 " (default ~/.ssh/config): put ServerAliveInterval %ld at the top of that file", p);
	x = finding_fix(fd, "Windows NIC power saving");
	fix_line(x, "Device Manager > Network adapters > (adapter) > Properties > Power Management:"
		 " clear \"Allow the computer to turn off this device to save power\"");
	fix_line(x, "Wi-Fi: Control Panel > Power Options > Change plan settings > Advanced >"
		 " Wireless Adapter Settings > Power Saving Mode: Maximum Performance");
}

static const char *or_default(const char *origin)
{
	return origin[0] ? origin : "default";
}

/* Length of the file part of a "FILE:LINE" origin; 0 for "default", "sshd -T"... */
static size_t origin_file_len(const char *origin)
{
	const char *colon = strrchr(origin, ':');
	if (origin[0] != '/' || !colon || !colon[1] ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return 0;
	return (size_t)(colon - origin);
}

/* A fix goes where the winning line is; a new setting into the main file. */
static void server_fix(struct finding *fd, const struct audit_facts *f, const char *line,
		       const struct audit_val *v)
{
	size_t n = origin_file_len(v->origin);
	char *file = n ? xstrndup(v->origin, n) : xstrdup(f->server_config);
	struct fix *x = finding_fix(fd, file);
	fix_line(x, "%s", line);
	free(file);
}

static void placement_hint(struct finding *fd, const struct audit_val *v)
{
	if (origin_file_len(v->origin))
		finding_evidence(fd, "change the line at %s (it is the one that takes effect)", v->origin);
	else
		finding_evidence(fd, "put the lines near the top of the file, before any Include, Host or "
				 "Match: the first value read wins");
}

static void analyse_client(const struct audit_facts *f, struct report *r, long p)
{
	struct finding *fd;
	long det = audit_detection(f->sai.v, f->sacm.v, 0, f->cmajor, f->cminor);
	if (f->sai.v <= 0) {
		fd = report_add(r, SEV_WARNING, "client.keepalive.off",
				"client sends no keepalives: an idle session dies when a NAT or firewall "
				"forgets it (after %lds here)", f->idle_s);
	} else if (f->sai.v >= f->idle_s) {
		fd = report_add(r, SEV_WARNING, "client.keepalive.too-long",
				"ServerAliveInterval %ld is not shorter than the idle timeout (%lds): "
				"the path forgets the session first", f->sai.v, f->idle_s);
	} else if (f->sacm.v == 0) {
		fd = report_add(r, SEV_WARNING, "client.keepalive.countmax-too-low",
				"ServerAliveCountMax 0: ssh ends every session idle for %lds, on a "
				"perfect path too (it gives up at the first keepalive, before any answer)",
				f->sai.v);
		finding_evidence(fd, "on the client 0 means 'give up after one unanswered interval'; "
				 "the 8.2 rule that 0 means 'never' is sshd's ClientAliveCountMax only");
	} else if (audit_client_countmax_low(f->sai.v, f->sacm.v)) {
		fd = report_add(r, SEV_WARNING, "client.keepalive.countmax-too-low",
				"ServerAliveInterval %ld x ServerAliveCountMax %ld leaves %lds for a "
				"keepalive to be answered: one lost packet (TCP resends after 1, 2, 4, "
				"8 s) ends the session", f->sai.v, f->sacm.v, f->sai.v * f->sacm.v);
	} else {
		fd = report_add(r, SEV_OK, "client.keepalive.ok",
				"client keepalive every %lds beats the %lds idle timeout", f->sai.v, f->idle_s);
	}
	finding_evidence(fd, "ServerAliveInterval %ld (%s), ServerAliveCountMax %ld (%s)", f->sai.v,
			 or_default(f->sai.origin), f->sacm.v, or_default(f->sacm.origin));
	if (det > 0)
		finding_evidence(fd, "a dead server is detected after %lds (Interval x (CountMax+1))", det);
	else
		finding_evidence(fd, "a dead server is never detected by ssh itself");
	if (fd->sev != SEV_OK) {
		/* a good interval stays; only the count changes */
		long iv = f->sai.v > 0 && f->sai.v < f->idle_s ? f->sai.v : p;
		struct fix *x = finding_fix(fd, f->client_config);
		fix_line(x, "ServerAliveInterval %ld", iv);
		fix_line(x, "ServerAliveCountMax %ld", audit_prescribed_countmax(iv));
		placement_hint(fd, iv == f->sai.v ? &f->sacm : &f->sai);
		client_instructions(fd, iv);
	}

	if (f->identities_only.v != 1 && f->nkeys > f->maxauthtries.v && f->maxauthtries.v > 0) {
		fd = report_add(r, SEV_WARNING, "client.identities",
				"ssh offers %d keys but the server allows %ld attempts: "
				"\"Too many authentication failures\"", f->nkeys, f->maxauthtries.v);
		finding_evidence(fd, "IdentitiesOnly no; %d distinct agent/IdentityFile keys; "
				 "MaxAuthTries %ld (%s)", f->nkeys, f->maxauthtries.v,
				 or_default(f->maxauthtries.origin));
		struct fix *x = finding_fix(fd, f->client_config);
		fix_line(x, "Host %s", f->client_host);
		fix_line(x, "    IdentitiesOnly yes");
		fix_line(x, "    IdentityFile ~/.ssh/THE_KEY_FOR_THIS_HOST");
	} else {
		fd = report_add(r, SEV_OK, "client.identities.ok",
				"ssh offers %d key(s)%s, within MaxAuthTries %ld", f->nkeys,
				f->identities_only.v == 1 ? " (IdentitiesOnly yes)" : "", f->maxauthtries.v);
	}
}

static void analyse_server(const struct audit_facts *f, struct report *r, long p)
{
	struct finding *fd;
	long det = audit_detection(f->cai.v, f->cacm.v, 1, f->smajor, f->sminor);
	char line[64];
	if (f->cai.v <= 0) {
		fd = report_add(r, SEV_WARNING, "server.keepalive.off",
				"sshd sends no keepalives (ClientAliveInterval 0): idle sessions die behind "
				"NAT and dead clients are never noticed");
	} else if (f->cai.v >= f->idle_s) {
		fd = report_add(r, SEV_WARNING, "server.keepalive.too-long",
				"ClientAliveInterval %ld is not shorter than the idle timeout (%lds)",
				f->cai.v, f->idle_s);
	} else {
		fd = report_add(r, SEV_OK, "server.keepalive.ok",
				"sshd keepalive every %lds beats the %lds idle timeout", f->cai.v, f->idle_s);
	}
	finding_evidence(fd, "ClientAliveInterval %ld (%s), ClientAliveCountMax %ld (%s); source: %s%s%s",
			 f->cai.v, or_default(f->cai.origin), f->cacm.v, or_default(f->cacm.origin),
			 f->server_source, f->server_user[0] ? " " : "", f->server_user);
	for (int i = 0; i < 2; i++) {
		const struct audit_val *v = i ? &f->cacm : &f->cai;
		if (v->block[0])
			finding_evidence(fd, "%s is set for this user by %s%s",
					 i ? "ClientAliveCountMax" : "ClientAliveInterval", v->block,
					 fd->sev == SEV_OK ? "" : ": change it inside that block (a "
					 "global line does not beat it)");
	}
	if (det > 0)
		finding_evidence(fd, "a dead client is detected after %lds (Interval x (CountMax+1))", det);
	else
		finding_evidence(fd, "a dead client is never detected by sshd itself");
	if (fd->sev != SEV_OK) {
		snprintf(line, sizeof(line), "ClientAliveInterval %ld", p);
		server_fix(fd, f, line, &f->cai);
		if (f->cacm.v <= 0)
			server_fix(fd, f, "ClientAliveCountMax 3", &f->cacm);
		placement_hint(fd, &f->cai);
	}

	if (f->cacm.v == 0 && f->cai.v > 0) {
		int new_sem = f->smajor < 0 || f->smajor > 8 || (f->smajor == 8 && f->sminor >= 2);
		fd = report_add(r, SEV_WARNING, "server.clientalive-countmax-zero",
				"ClientAliveCountMax 0 %s", f->smajor < 0
				? "means 'never disconnect' since OpenSSH 8.2 and 'disconnect at the first "
				  "probe' before: the version is unknown"
				: new_sem ? "on OpenSSH >= 8.2 means keepalives are sent but a dead client is "
					    "never disconnected"
					  : "on OpenSSH < 8.2 disconnects every session idle for "
					    "ClientAliveInterval seconds");
		finding_evidence(fd, "ClientAliveCountMax 0 (%s); sshd %s", or_default(f->cacm.origin),
				 f->server_version[0] ? f->server_version : "version unknown");
		server_fix(fd, f, "ClientAliveCountMax 3", &f->cacm);
	}

	if (f->usedns.v == 1) {
		fd = report_add(r, SEV_WARNING, "server.usedns",
				"UseDNS yes: every login waits for reverse DNS of the client (hangs at login "
				"when DNS is slow)");
		finding_evidence(fd, "UseDNS yes (%s)", or_default(f->usedns.origin));
		server_fix(fd, f, "UseDNS no", &f->usedns);
	} else {
		report_add(r, SEV_OK, "server.usedns.ok", "UseDNS no: logins do not wait for DNS");
	}

	if (f->ms_start.v >= 0 && f->ms_start.v < 10) {
		fd = report_add(r, SEV_WARNING, "server.maxstartups",
				"MaxStartups %ld:%ld:%ld is below the default: a few unauthenticated "
				"connections already make sshd drop new ones", f->ms_start.v, f->ms_rate.v,
				f->ms_full.v);
		finding_evidence(fd, "MaxStartups %ld:%ld:%ld (%s)", f->ms_start.v, f->ms_rate.v,
				 f->ms_full.v, or_default(f->ms_start.origin));
		server_fix(fd, f, "MaxStartups 10:30:100", &f->ms_start);
	} else if (f->ms_start.v == 10 && f->ms_rate.v == 30 && f->ms_full.v == 100 && f->exposed) {
		fd = report_add(r, SEV_INFO, "server.maxstartups",
				"MaxStartups is the default 10:30:100 on a host listening on all addresses: "
				"under scanning, random logins get 'Connection reset' from the 11th "
				"unauthenticated connection on");
		finding_evidence(fd, "MaxStartups 10:30:100 (%s); listening on a non-loopback address",
				 or_default(f->ms_start.origin));
		server_fix(fd, f, "MaxStartups 30:30:100", &f->ms_start);
	} else {
		report_add(r, SEV_OK, "server.maxstartups.ok", "MaxStartups %ld:%ld:%ld", f->ms_start.v,
			   f->ms_rate.v, f->ms_full.v);
	}

	if (f->logingrace.v == 0) {
		fd = report_add(r, SEV_WARNING, "server.logingracetime",
				"LoginGraceTime 0: unauthenticated connections are never cut and fill "
				"MaxStartups");
		finding_evidence(fd, "LoginGraceTime 0 (%s)", or_default(f->logingrace.origin));
		server_fix(fd, f, "LoginGraceTime 120", &f->logingrace);
	} else if (f->logingrace.v > 0 && f->logingrace.v < 30) {
		fd = report_add(r, SEV_WARNING, "server.logingracetime",
				"LoginGraceTime %lds is short: slow links, jump hosts or 2FA prompts are cut "
				"('Timeout before authentication')", f->logingrace.v);
		finding_evidence(fd, "LoginGraceTime %ld (%s)", f->logingrace.v,
				 or_default(f->logingrace.origin));
		server_fix(fd, f, "LoginGraceTime 60", &f->logingrace);
	} else {
		report_add(r, SEV_OK, "server.logingracetime.ok", "LoginGraceTime %lds", f->logingrace.v);
	}
}

static void analyse_kernel(const struct audit_facts *f, struct report *r, long p)
{
	int client_ok = f->sai.v > 0 && f->sai.v < f->idle_s;
	int server_ok = f->server_known && f->cai.v > 0 && f->cai.v < f->idle_s;
	int tcpka = f->c_tcpka.v == 1 || (f->server_known && f->s_tcpka.v == 1);
	struct finding *fd;
	if (!f->kernel_known)
		return;
	if (f->ka_time >= f->idle_s && !client_ok && !server_ok) {
		fd = report_add(r, SEV_WARNING, "kernel.tcp-keepalive.too-long",
				"TCPKeepAlive is the only protection left%s and the kernel waits %lds before "
				"its first probe: the path forgets the session after %lds",
				tcpka ? "" : " (and it is off)", f->ka_time, f->idle_s);
		finding_evidence(fd, "net.ipv4.tcp_keepalive_time=%ld intvl=%ld probes=%ld",
				 f->ka_time, f->ka_intvl, f->ka_probes);
		struct fix *x = finding_fix(fd, "/etc/sysctl.d/90-sshdoctor-keepalive.conf");
		fix_line(x, "net.ipv4.tcp_keepalive_time = %ld", p);
		fix_line(x, "net.ipv4.tcp_keepalive_intvl = %ld", p < 30 ? p : 30);
		fix_line(x, "net.ipv4.tcp_keepalive_probes = 5");
	} else {
		fd = report_add(r, SEV_OK, "kernel.tcp-keepalive.ok", f->ka_time < f->idle_s
				? "kernel TCP keepalive (%lds) beats the idle timeout"
				: "kernel TCP keepalive waits %lds, but SSH keepalives cover the idle timeout",
				f->ka_time);
		finding_evidence(fd, "net.ipv4.tcp_keepalive_time=%ld intvl=%ld probes=%ld",
				 f->ka_time, f->ka_intvl, f->ka_probes);
	}
}

static struct json_object *jlong(long v)
{
	return v < 0 ? NULL : json_object_new_int64(v);
}

static struct json_object *jbool(long v)
{
	return v < 0 ? NULL : json_object_new_boolean(v == 1);
}

static void origin_json(struct json_object *o, const char *key, const struct audit_val *v)
{
	json_object_object_add(o, key, json_object_new_string(or_default(v->origin)));
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v = o ? json_object_object_get(o, key) : NULL;
	return v ? json_object_get_string(v) : "-";
}

static void audit_text(FILE *out, struct json_object *m, int color)
{
	(void)color;
	struct json_object *c = json_object_object_get(m, "client");
	struct json_object *s = json_object_object_get(m, "server");
	struct json_object *k = json_object_object_get(m, "kernel");
	struct json_object *d = json_object_object_get(m, "detection_s");
#define G(o, key) jstr(o, key)
	fprintf(out, "idle timeout to beat: %ss (%s)\n", G(m, "idle_timeout_s"), G(m, "idle_timeout_source"));
	fprintf(out, "client (%s): ServerAliveInterval %s, ServerAliveCountMax %s, TCPKeepAlive %s;"
		" detection %s\n", G(c, "version"), G(c, "serveraliveinterval"),
		G(c, "serveralivecountmax"), G(c, "tcpkeepalive"),
		json_object_object_get(d, "client") ? G(d, "client") : "never");
	if (s)
		fprintf(out, "server (%s, %s): ClientAliveInterval %s, ClientAliveCountMax %s, "
			"TCPKeepAlive %s, UseDNS %s, MaxStartups %s, LoginGraceTime %s; detection %s\n",
			G(s, "source"), G(s, "version"), G(s, "clientaliveinterval"),
			G(s, "clientalivecountmax"), G(s, "tcpkeepalive"), G(s, "usedns"),
			G(s, "maxstartups"), G(s, "logingracetime"),
			json_object_object_get(d, "server") ? G(d, "server") : "never");
	else
		fputs("server: not audited (no sshd_config here; --server-config FILE or --remote)\n", out);
	fprintf(out, "kernel: tcp_keepalive_time %s, intvl %s, probes %s, tcp_retries2 %s, "
		"tcp_mtu_probing %s\n", G(k, "tcp_keepalive_time"), G(k, "tcp_keepalive_intvl"),
		G(k, "tcp_keepalive_probes"), G(k, "tcp_retries2"), G(k, "tcp_mtu_probing"));
#undef G
}

void audit_analyse(const struct audit_facts *f, struct report *r)
{
	long p = audit_prescribed_interval(f->idle_s);
	struct audit_facts g = *f;
	if (!g.server_known)
		g.maxauthtries.v = 6;	/* sshd's default when we cannot see the server */
	analyse_client(&g, r, p);
	if (g.server_known)
		analyse_server(&g, r, p);
	if (g.policy.read) {	/* ClientAlive* stay analyse_server's */
		g.policy.cai = g.policy.cacm = -1;
		snprintf(g.policy.config, sizeof(g.policy.config), "%s", f->server_config);
		srvpolicy_judge(&g.policy, NULL, r);
	}
	analyse_kernel(&g, r, p);
	if (!strcmp(f->idle_source, "assumed")) {
		struct finding *fd = report_add(r, SEV_INFO, "audit.idle-timeout.assumed",
						"idle timeout of the path assumed to be %lds (the "
						"shortest common cloud default)", f->idle_s);
		finding_evidence(fd, "measure it with 'sshdoctor idle TARGET', or give --idle-timeout");
	}

	struct json_object *m = json_object_new_object();
	struct json_object *c = json_object_new_object();
	json_object_object_add(c, "version", f->client_version[0] ? json_object_new_string(f->client_version) : NULL);
	json_object_object_add(c, "host", json_object_new_string(f->client_host));
	json_object_object_add(c, "config", json_object_new_string(f->client_config));
	json_object_object_add(c, "serveraliveinterval", jlong(f->sai.v));
	json_object_object_add(c, "serveralivecountmax", jlong(f->sacm.v));
	json_object_object_add(c, "tcpkeepalive", jbool(f->c_tcpka.v));
	json_object_object_add(c, "identitiesonly", jbool(f->identities_only.v));
	json_object_object_add(c, "keys_offered", json_object_new_int(f->nkeys));
	struct json_object *co = json_object_new_object();
	origin_json(co, "serveraliveinterval", &f->sai);
	origin_json(co, "serveralivecountmax", &f->sacm);
	origin_json(co, "tcpkeepalive", &f->c_tcpka);
	json_object_object_add(c, "origin", co);
	json_object_object_add(m, "client", c);

	if (f->server_known) {
		struct json_object *s = json_object_new_object();
		char ms[64];
		json_object_object_add(s, "source", json_object_new_string(f->server_source));
		json_object_object_add(s, "config", json_object_new_string(f->server_config));
		json_object_object_add(s, "version", f->server_version[0] ? json_object_new_string(f->server_version) : NULL);
		json_object_object_add(s, "clientaliveinterval", jlong(f->cai.v));
		json_object_object_add(s, "clientalivecountmax", jlong(f->cacm.v));
		json_object_object_add(s, "tcpkeepalive", jbool(f->s_tcpka.v));
		json_object_object_add(s, "usedns", jbool(f->usedns.v));
		snprintf(ms, sizeof(ms), "%ld:%ld:%ld", f->ms_start.v, f->ms_rate.v, f->ms_full.v);
		json_object_object_add(s, "maxstartups", json_object_new_string(ms));
		json_object_object_add(s, "logingracetime", jlong(f->logingrace.v));
		json_object_object_add(s, "maxauthtries", jlong(f->maxauthtries.v));
		json_object_object_add(s, "exposed", json_object_new_boolean(f->exposed));
		struct json_object *so = json_object_new_object();
		origin_json(so, "clientaliveinterval", &f->cai);
		origin_json(so, "clientalivecountmax", &f->cacm);
		origin_json(so, "tcpkeepalive", &f->s_tcpka);
		origin_json(so, "usedns", &f->usedns);
		origin_json(so, "maxstartups", &f->ms_start);
		origin_json(so, "logingracetime", &f->logingrace);
		origin_json(so, "maxauthtries", &f->maxauthtries);
		json_object_object_add(s, "origin", so);
		/* the Match block each value comes from, for the connection sshd was asked about */
		struct json_object *mb = json_object_new_object();
		const struct audit_val *bv[] = { &f->cai, &f->cacm, &f->s_tcpka, &f->usedns,
						 &f->ms_start, &f->logingrace, &f->maxauthtries };
		const char *bk[] = { "clientaliveinterval", "clientalivecountmax", "tcpkeepalive",
				     "usedns", "maxstartups", "logingracetime", "maxauthtries" };
		for (size_t i = 0; i < ARRAY_SIZE(bv); i++)
			if (bv[i]->block[0])
				json_object_object_add(mb, bk[i], json_object_new_string(bv[i]->block));
		json_object_object_add(s, "match", mb);
		json_object_object_add(s, "connection", f->server_user[0]
				       ? json_object_new_string(f->server_user) : NULL);
		json_object_object_add(m, "server", s);
	} else {
		json_object_object_add(m, "server", NULL);
	}
	struct json_object *k = json_object_new_object();
	json_object_object_add(k, "tcp_keepalive_time", jlong(f->ka_time));
	json_object_object_add(k, "tcp_keepalive_intvl", jlong(f->ka_intvl));
	json_object_object_add(k, "tcp_keepalive_probes", jlong(f->ka_probes));
	json_object_object_add(k, "tcp_retries2", jlong(f->retries2));
	json_object_object_add(k, "tcp_mtu_probing", jlong(f->mtu_probing));
	json_object_object_add(m, "kernel", k);
	json_object_object_add(m, "idle_timeout_s", json_object_new_int64(f->idle_s));
	json_object_object_add(m, "idle_timeout_source", json_object_new_string(f->idle_source));
	struct json_object *d = json_object_new_object();
	long dc = audit_detection(f->sai.v, f->sacm.v, 0, f->cmajor, f->cminor);
	long ds = f->server_known ? audit_detection(f->cai.v, f->cacm.v, 1, f->smajor, f->sminor) : -1;
	json_object_object_add(d, "client", jlong(dc));
	json_object_object_add(d, "server", jlong(ds));
	json_object_object_add(m, "detection_s", d);
	json_object_object_add(m, "prescribed_interval_s", json_object_new_int64(p));
	report_measure(r, "audit", m, audit_text);
}
