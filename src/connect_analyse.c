/* connect_analyse.c - measurements of `connect` -> findings. Pure: no network,
 * no processes, so every verdict is unit-tested (tests/unit/test_connect.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connect.h"

static char *joined(const struct strvec *sv, size_t max)
{
	struct strbuf sb = { 0 };
	sb_adds(&sb, "");
	for (size_t i = 0; i < sv->n && i < max; i++)
		sb_addf(&sb, "%s%s", i ? "," : "", sv->v[i]);
	if (sv->n > max)
		sb_addf(&sb, ",... (%zu in all)", sv->n);
	return sb.buf;
}

/* One category: 0 when it matches, 1 after adding kex.no-match. */
static int category(struct report *r, const char *label, const char *what, const char *keyword,
		    const struct strvec *client, const struct strvec *server,
		    const struct strvec *supported)
{
	if (wire_negotiate(client, server))
		return 0;
	struct finding *f = report_add(r, SEV_CRITICAL, "kex.no-match",
				       "%s%sno matching %s found: ssh will fail before login",
				       label ? label : "", label ? ": " : "", what);
	char *c = joined(client, 40), *s = joined(server, 40);
	finding_evidence(f, "server offers: %s", s[0] ? s : "(nothing)");
	finding_evidence(f, "client offers: %s", c);
	/* Can the client be told to offer one of the server's? */
	const char *usable = NULL;
	for (size_t i = 0; supported && i < server->n && !usable; i++)
		for (size_t j = 0; j < supported->n; j++)
			if (strcmp(server->v[i], supported->v[j]) == 0) {
				usable = server->v[i];
				break;
			}
	if (usable) {
		finding_evidence(f, "your ssh supports %s (ssh -Q) but does not offer it", usable);
		struct fix *x = finding_fix(f, "~/.ssh/config");
		fix_line(x, "%s +%s", keyword, usable);
	} else if (supported) {
		finding_evidence(f, "your ssh supports none of the server's (ssh -Q): "
				    "the server's sshd_config must allow a current one");
		struct fix *x = finding_fix(f, "/etc/ssh/sshd_config (server)");
		fix_line(x, "%s +%s", keyword, client->n ? client->v[0] : "?");
	}
	free(c);
	free(s);
	return 1;
}

int connect_analyse_kex(struct report *r, const char *label, const struct kex_side *client,
			const struct kex_side *server, const struct kex_side *supported)
{
	int bad = 0;
	bad += category(r, label, "key exchange method", "KexAlgorithms", &client->kex,
			&server->kex, supported ? &supported->kex : NULL);
	bad += category(r, label, "host key type", "HostKeyAlgorithms", &client->hostkey,
			&server->hostkey, supported ? &supported->hostkey : NULL);
	bad += category(r, label, "cipher", "Ciphers", &client->ciphers, &server->ciphers,
			supported ? &supported->ciphers : NULL);
	/* With an AEAD cipher (chacha20-poly1305, AES-GCM) no MAC is negotiated. */
	const char *cipher = wire_negotiate(&client->ciphers, &server->ciphers);
	if (!cipher || !wire_cipher_is_aead(cipher))
		bad += category(r, label, "MAC", "MACs", &client->macs, &server->macs,
				supported ? &supported->macs : NULL);
	if (!bad) {
		struct finding *f = report_add(r, SEV_OK, "kex.ok",
					       "%s%salgorithms match", label ? label : "",
					       label ? ": " : "");
		const char *k = wire_negotiate(&client->kex, &server->kex);
		const char *h = wire_negotiate(&client->hostkey, &server->hostkey);
		const char *m = cipher && wire_cipher_is_aead(cipher)
				? "<implicit>" : wire_negotiate(&client->macs, &server->macs);
		finding_evidence(f, "would use kex %s, host key %s, cipher %s, MAC %s", k, h,
				 cipher, m);
	}
	return bad;
}

static struct finding *stall_finding(struct report *r, const char *label, enum severity sev,
				     const struct sshvlog *v, int64_t timeout_ms);

static const char *L(const char *label)
{
	return label ? label : "";
}

static const char *SEP(const char *label)
{
	return label ? ": " : "";
}

void connect_analyse_login(struct report *r, const char *label, const struct sshvlog *v,
			   int exited, int64_t timeout_ms)
{
	int problems = 0;
	if (connect_kex_stalled(v, exited)) {
		struct finding *f = stall_finding(r, label, SEV_CRITICAL, v, timeout_ms);
		finding_evidence(f, "not proven: an MTU black hole looks like this (packets "
			"above some size vanish without ICMP); if `ssh -o KexAlgorithms="
			"curve25519-sha256%s%s HOST` logs in, it is one", v->hostkey_alg[0]
			? " -o HostKeyAlgorithms=" : "", v->hostkey_alg);
		return;
	}
	/* Keys: rejected ones before the end of publickey, and the server's limit. */
	size_t rejected = 0;
	for (size_t i = 0; i < v->natt; i++)
		if (strcmp(v->att[i].method, "publickey") == 0 && v->att[i].answer == 51)
			rejected++;
	if (v->too_many_failures) {
		struct finding *f = report_add(r, SEV_CRITICAL, "auth.too-many-keys",
			"%s%sthe server disconnected after too many authentication failures",
			L(label), SEP(label));
		finding_evidence(f, "%d key(s) offered, %zu rejected", v->keys_offered, rejected);
		if (v->disconnect[0])
			finding_evidence(f, "%s", v->disconnect);
		finding_evidence(f, "each offered key counts against the server's MaxAuthTries");
		struct fix *x = finding_fix(f, "~/.ssh/config");
		fix_line(x, "IdentitiesOnly yes");
		fix_line(x, "IdentityFile ~/.ssh/THE_KEY_FOR_THIS_HOST");
		problems++;
	} else if (rejected >= 3) {
		struct finding *f = report_add(r, SEV_WARNING, "auth.too-many-keys",
			"%s%s%zu keys were rejected before login", L(label), SEP(label), rejected);
		finding_evidence(f, "%d key(s) offered; servers with MaxAuthTries below that "
				    "will refuse the connection", v->keys_offered);
		struct fix *x = finding_fix(f, "~/.ssh/config");
		fix_line(x, "IdentitiesOnly yes");
		fix_line(x, "IdentityFile ~/.ssh/THE_KEY_FOR_THIS_HOST");
		problems++;
	}
	if (!v->too_many_failures && (v->permission_denied || v->no_more_methods) &&
	    v->authenticated < 0) {
		struct finding *f = report_add(r, SEV_CRITICAL, "auth.failed",
					       "%s%sauthentication failed", L(label), SEP(label));
		if (v->error[0])
			finding_evidence(f, "%s", v->error);
		finding_evidence(f, "%zu authentication request(s), %d key(s) offered",
				 v->natt_total, v->keys_offered);
		problems++;
	}
	/* The slowest answer to an authentication request. */
	size_t slow = SIZE_MAX;
	int64_t worst = 0;
	for (size_t i = 0; i < v->natt; i++) {
		int64_t d = (v->att[i].answered >= 0 ? v->att[i].answered
			     : (exited ? -1 : timeout_ms)) - v->att[i].sent;
		if (d > worst) {
			worst = d;
			slow = i;
		}
	}
	/* A slow first request is the reverse lookup's signature, even when a later
	 * one (10.0's sshd-auth looks the name up again) took a little longer. */
	int first_slow = 0;
	if (v->natt > 0) {
		int64_t d0 = (v->att[0].answered >= 0 ? v->att[0].answered
			      : (exited ? -1 : timeout_ms)) - v->att[0].sent;
		first_slow = d0 >= CONNECT_AUTH_SLOW_MS;
	}
	if (slow != SIZE_MAX && worst >= CONNECT_AUTH_SLOW_MS) {
		const struct vlog_attempt *a = &v->att[slow];
		/* Never answered within the timeout: the login does not happen at all. */
		struct finding *f = report_add(r, a->answered < 0 ? SEV_CRITICAL : SEV_WARNING,
			"auth.slow",
			"%s%sthe server took %s%.1f s to answer an authentication request (%s)",
			L(label), SEP(label), a->answered < 0 ? "more than " : "",
			(double)worst / 1000, a->method);
		if (a->answered < 0)
			finding_evidence(f, "no answer at all before the timeout");
		if (slow == 0 || first_slow) {
			finding_evidence(f, "the first request (\"%s\") is the one sshd answers only "
				"after looking up the client's name: reverse DNS with UseDNS yes "
				"and a slow or dead resolver on the server", v->att[0].method);
			if (slow != 0)
				finding_evidence(f, "request %zu waited too: OpenSSH 10's sshd-auth "
					"looks the name up again", slow + 1);
			struct fix *x = finding_fix(f, "/etc/ssh/sshd_config (server)");
			fix_line(x, "UseDNS no");
		} else {
			finding_evidence(f, "request %zu (%s%s%s) waited %.1f s; earlier ones were "
				"answered quickly: the server's auth backend (PAM, LDAP, "
				"AuthorizedKeysCommand) is slow", slow + 1, a->method,
				a->detail[0] ? " " : "", a->detail, (double)worst / 1000);
		}
		problems++;
	}
	for (size_t i = 0; i < v->nmeth; i++) {
		const struct vlog_method *m = &v->meth[i];
		int64_t d = m->end >= 0 ? m->end - m->start : 0;
		if (str_startswith(m->name, "gssapi") && d >= CONNECT_AUTH_SLOW_MS) {
			struct finding *f = report_add(r, SEV_WARNING, "auth.slow",
				"%s%sGSSAPI authentication attempts took %.1f s", L(label),
				SEP(label), (double)d / 1000);
			finding_evidence(f, "%s from %.1f s to %.1f s after ssh started",
					 m->name, (double)m->start / 1000, (double)m->end / 1000);
			struct fix *x = finding_fix(f, "~/.ssh/config");
			fix_line(x, "GSSAPIAuthentication no");
			problems++;
		}
	}
	if (v->authenticated >= 0) {
		int64_t end = v->first_output >= 0 ? v->first_output : v->exit_status;
		int64_t d = end >= 0 ? end - v->authenticated : -1;
		if (end < 0 && !exited)
			d = timeout_ms - v->authenticated;
		if (d >= CONNECT_SESSION_SLOW_MS) {
			struct finding *f = report_add(r, SEV_WARNING, "login.slow",
				"%s%sthe session took %.1f s to start after authentication",
				L(label), SEP(label), (double)d / 1000);
			finding_evidence(f, "authenticated at %.2f s, %s at %.2f s",
				(double)v->authenticated / 1000,
				end >= 0 ? "first output" : "still nothing",
				(double)(end >= 0 ? end : v->authenticated + d) / 1000);
			finding_evidence(f, "the time goes to the server's session set-up: PAM "
				"session modules, motd/update-motd scripts, the login shell's "
				"start-up files");
			problems++;
		}
		if (!problems) {
			struct finding *f = report_add(r, SEV_OK, "login.ok",
				"%s%slogged in (%s) and ran a command", L(label), SEP(label),
				v->auth_method[0] ? v->auth_method : "?");
			finding_evidence(f, "authenticated %.2f s after ssh started",
					 (double)v->authenticated / 1000);
		}
	} else if (!problems) {
		struct finding *f = report_add(r, SEV_CRITICAL, "auth.failed",
			"%s%sssh did not log in", L(label), SEP(label));
		finding_evidence(f, "%s", v->error[0] ? v->error
				 : exited ? "ssh ended without authenticating"
				 : "ssh did not finish within the timeout");
	}
}

/* ---- key exchange stalls: MTU black hole or not ---- */

/* Bytes of the key shares (client's, server's) of each key exchange: the public
 * values of RFC 8731 (X25519), SEC1 (NIST curves), the MODP groups, sntrup761
 * (1158-byte key, 1039-byte ciphertext) and ML-KEM-768 (1184, 1088), each of
 * the hybrids plus 32 bytes of X25519. 0: not known (group exchange). */
static void kex_share_bytes(const char *kex, int *cl, int *sv)
{
	static const struct { const char *prefix; int cl, sv; } t[] = {
		{ "sntrup761x25519", 1190, 1071 }, { "mlkem768x25519", 1216, 1120 },
		{ "mlkem768nistp256", 1249, 1153 }, { "mlkem1024nistp384", 1665, 1665 },
		{ "curve25519", 32, 32 }, { "ecdh-sha2-nistp256", 65, 65 },
		{ "ecdh-sha2-nistp384", 97, 97 }, { "ecdh-sha2-nistp521", 133, 133 },
		{ "diffie-hellman-group1-", 128, 128 }, { "diffie-hellman-group14-", 256, 256 },
		{ "diffie-hellman-group16-", 512, 512 }, { "diffie-hellman-group18-", 1024, 1024 },
	};
	*cl = *sv = 0;
	for (size_t i = 0; kex && i < ARRAY_SIZE(t); i++)
		if (str_startswith(kex, t[i].prefix)) {
			*cl = t[i].cl;
			*sv = t[i].sv;
			return;
		}
}

static const char *kex_packet_name(int type)
{
	return type == 30 ? "KEX_ECDH_INIT" : type == 32 ? "KEX_DH_GEX_INIT"
	       : type == 34 ? "KEX_DH_GEX_REQUEST" : "KEXINIT";
}

int connect_kex_stalled(const struct sshvlog *v, int exited)
{
	if (v->kexinit_sent < 0 || v->newkeys_in >= 0 || v->authenticated >= 0 || v->natt_total)
		return 0;
	/* ssh gave up by itself: only its own timeout counts as "nothing arrived" */
	if (exited && !strstr(v->error, "timed out"))
		return 0;
	/* something of ours is waiting for an answer that never came */
	return v->last_sent >= 0 && v->last_received <= v->last_sent;
}

int connect_kex_retry_opts(const struct sshvlog *v, const struct strvec *server_kex,
			   struct strvec *opts)
{
	int cl, sv;
	kex_share_bytes(v->kex_alg[0] ? v->kex_alg : NULL, &cl, &sv);
	if (!server_kex || (cl && cl <= 200 && sv <= 200))
		return 0;	/* unknown offer, or the kex was small already: nothing to compare */
	const char *small = NULL;
	for (size_t i = 0; i < server_kex->n && !small; i++)
		if (!strcmp(server_kex->v[i], "curve25519-sha256"))
			small = server_kex->v[i];
	for (size_t i = 0; i < server_kex->n && !small; i++)
		if (!strcmp(server_kex->v[i], "curve25519-sha256@libssh.org"))
			small = server_kex->v[i];
	if (!small)
		return 0;
	strvec_pushf(opts, "KexAlgorithms=%s", small);
	/* ssh's own KEXINIT carries its whole host key list (~1.5 KB in all by default):
	 * the algorithm it negotiated anyway keeps that packet small too. */
	if (v->hostkey_alg[0])
		strvec_pushf(opts, "HostKeyAlgorithms=%s", v->hostkey_alg);
	return 1;
}

/* The stall as seen in the transcript: the finding's first lines. */
static struct finding *stall_finding(struct report *r, const char *label, enum severity sev,
				     const struct sshvlog *v, int64_t timeout_ms)
{
	int64_t last = v->last_sent >= 0 ? v->last_sent : v->kexinit_sent;
	struct finding *f = report_add(r, sev, "login.kex-stalled",
		"%s%sthe login hung in the key exchange: ssh sent its %s and nothing came back "
		"for %.1f s", L(label), SEP(label),
		v->kex_sent >= 0 ? "key share" : "KEXINIT", (double)(timeout_ms - last) / 1000);
	if (v->expecting[0])
		finding_evidence(f, "ssh -vvv stops at: expecting SSH2_MSG_%s", v->expecting);
	finding_evidence(f, "banner %s, the server's KEXINIT %s; ssh's %s sent at %.2f s, "
			 "then no packet at all", v->remote_version >= 0 ? "received" : "missing",
			 v->kexinit_in >= 0 ? "received" : "never arrived",
			 kex_packet_name(v->kex_sent >= 0 ? v->kex_sent_type : 20),
			 (double)(v->kex_sent >= 0 ? v->kex_sent : v->kexinit_sent) / 1000);
	int cl, sv;
	kex_share_bytes(v->kex_alg[0] ? v->kex_alg : NULL, &cl, &sv);
	if (cl)
		finding_evidence(f, "kex %s: ssh's key share is %d bytes, the server's reply %d "
				 "bytes plus host key and signature: packets of full size",
				 v->kex_alg, cl, sv);
	else if (v->kex_alg[0])
		finding_evidence(f, "kex %s", v->kex_alg);
	finding_evidence(f, "not an authentication failure: no authentication request was "
			 "ever sent");
	return f;
}

void connect_analyse_kex_retry(struct report *r, const char *label, const char *host,
			       const struct sshvlog *first, const struct sshvlog *retry,
			       int retry_exited, int64_t timeout_ms, const struct strvec *opts)
{
	struct strbuf o = { 0 };
	sb_adds(&o, "");
	for (size_t i = 0; i < opts->n; i++)
		sb_addf(&o, "%s-o %s", i ? " " : "", opts->v[i]);
	int proven = retry->newkeys_in >= 0;
	struct finding *f = stall_finding(r, label, proven ? SEV_WARNING : SEV_CRITICAL, first,
					  timeout_ms);
	if (!proven) {
		finding_evidence(f, "retried with %s: %s", o.buf,
				 connect_kex_stalled(retry, retry_exited)
				 ? "it hung the same way" : retry->error[0] ? retry->error
				 : "no key exchange either");
		finding_evidence(f, "cause unknown: not the size of the key exchange. An MTU black "
			"hole below even these packets (a few hundred bytes), a middlebox that "
			"stops SSH after the KEXINIT (DPI, IPS), or an sshd that stalls (overloaded, "
			"blocked on entropy) look alike from here");
		finding_evidence(f, "what tells them apart: `ping -M do -s 1200 HOST` (and smaller) "
			"for the path; sshd's log (LogLevel DEBUG) showing the key exchange "
			"received; a login from another network");
		sb_free(&o);
		return;
	}
	finding_evidence(f, "retried with %s: the key exchange completed in %.2f s", o.buf,
			 (double)(retry->newkeys_in - (retry->kexinit_sent >= 0 ? retry->kexinit_sent
						       : 0)) / 1000);
	struct finding *b = report_add(r, SEV_CRITICAL, "login.mtu-blackhole",
		"%s%sMTU black hole: the default key exchange's large packets never arrive, a "
		"small key exchange gets through", L(label), SEP(label));
	int cl, sv, cl2, sv2;
	kex_share_bytes(first->kex_alg[0] ? first->kex_alg : NULL, &cl, &sv);
	kex_share_bytes(retry->kex_alg[0] ? retry->kex_alg : opts->n ? opts->v[0] + 14 : NULL,
			&cl2, &sv2);
	if (cl)
		finding_evidence(b, "%s (key shares of %d and %d bytes): nothing came back in "
				 "%.1f s", first->kex_alg, cl, sv, (double)timeout_ms / 1000);
	else
		finding_evidence(b, "%s: nothing came back in %.1f s",
				 first->kex_alg[0] ? first->kex_alg : "the default key exchange",
				 (double)timeout_ms / 1000);
	finding_evidence(b, "%s (key shares of %d bytes), ssh's offer cut to %s: key "
			 "exchange done at %.2f s%s", retry->kex_alg[0] ? retry->kex_alg
			 : "curve25519", cl2, o.buf, (double)retry->newkeys_in / 1000,
			 retry->authenticated >= 0 ? ", logged in" : "");
	finding_evidence(b, "same server, same path, same moment: only the size of the packets "
			 "differs. Packets above some size vanish and no ICMP "
			 "fragmentation-needed comes back, so TCP resends them forever");
	finding_evidence(b, "large output and scp will hang the same way; the interim line only "
			 "gets the login through");
	struct fix *x = finding_fix(b, "~/.ssh/config (interim, until the path is fixed)");
	fix_line(x, "Host %s", host && *host ? host : "THE_HOST");
	for (size_t i = 0; i < opts->n; i++) {
		const char *eq = strchr(opts->v[i], '=');
		if (eq)
			fix_line(x, "    %.*s %s", (int)(eq - opts->v[i]), opts->v[i], eq + 1);
	}
	x = finding_fix(b, "the router or firewall on the path (MSS clamping)");
	fix_line(x, "nft add rule inet filter forward tcp flags syn tcp option maxseg size set rt mtu");
	fix_line(x, "iptables -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu");
	x = finding_fix(b, "the router or firewall on the path (let path MTU discovery work)");
	fix_line(x, "nft add rule inet filter forward icmp type destination-unreachable icmp code frag-needed accept");
	fix_line(x, "nft add rule inet filter forward icmpv6 type packet-too-big accept");
	x = finding_fix(b, "/etc/sysctl.d/90-sshdoctor.conf (client; also on the server)");
	fix_line(x, "net.ipv4.tcp_mtu_probing=1");
	x = finding_fix(b, "client interface MTU (as root; N = the path MTU `sshdoctor path` finds)");
	fix_line(x, "ip link set dev IFACE mtu N");
	sb_free(&o);
	/* The retry's own login: what the user gets with the interim line. */
	char *l2 = xasprintf("%s%swith the small key exchange", L(label), SEP(label));
	connect_analyse_login(r, l2, retry, retry_exited, timeout_ms);
	free(l2);
}
