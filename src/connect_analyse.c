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
		if (slow == 0) {
			finding_evidence(f, "the first request (\"%s\") is the one sshd answers only "
				"after looking up the client's name: reverse DNS with UseDNS yes "
				"and a slow or dead resolver on the server", a->method);
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
