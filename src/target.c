/* target.c - parse what the user typed the way ssh would, then ask ssh -G. */
#include "target.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "askpass.h"
#include "log.h"
#include "proc.h"

int sshopts_add(struct sshopts *so, int id, const char *arg)
{
	long n;
	switch (id) {
	case 'p':
		if (parse_int(arg, 1, 65535, &n))
			return -1;
		so->port = n;
		return 0;
	case 'l':
		if (!*arg || *arg == '-')
			return -1;
		free(so->user);
		so->user = xstrdup(arg);
		return 0;
	case 'F':
		free(so->config);
		so->config = xstrdup(arg);
		/* fall through */
	case 'i':
	case 'J':
	case 'o':
		if (!*arg)
			return -1;
		strvec_pushf(&so->args, "-%c", id);
		strvec_push(&so->args, arg);
		return 0;
	case '4':
	case '6':
		so->family = id - '0';
		strvec_pushf(&so->args, "-%c", id);
		return 0;
	}
	return -1;
}

void sshopts_free(struct sshopts *so)
{
	strvec_clear(&so->args);
	free(so->config);
	free(so->user);
	memset(so, 0, sizeof(*so));
}

static int valid_host(const char *h)
{
	if (!*h || *h == '-' || strlen(h) > 1024)
		return 0;
	for (; *h; h++)
		if (isspace((unsigned char)*h) || iscntrl((unsigned char)*h) || *h == '/' ||
		    *h == '@' || *h == '\'' || *h == '"')
			return 0;
	return 1;
}

static int fail(char **err, const char *spec, const char *why)
{
	*err = xasprintf("target '%s': %s", spec, why);
	return -1;
}

/* Splits "host", "host:port", "[v6]", "[v6]:port", "v6" into host and port. */
static int split_host_port(char *hp, char **host, long *port, int allow_port)
{
	char *colon;
	*port = 0;
	if (*hp == '[') {
		char *close = strchr(hp, ']');
		if (!close)
			return -1;
		*close = '\0';
		*host = hp + 1;
		if (close[1] == '\0')
			return 0;
		if (close[1] != ':' || !allow_port)
			return -1;
		return parse_int(close + 2, 1, 65535, port);
	}
	colon = strchr(hp, ':');
	if (colon && strchr(colon + 1, ':')) {	/* bare IPv6 literal: no port */
		*host = hp;
		return 0;
	}
	if (colon) {
		*colon = '\0';
		if (!allow_port || parse_int(colon + 1, 1, 65535, port))
			return -1;
	}
	*host = hp;
	return 0;
}

int target_parse(struct target *t, const char *spec, const struct sshopts *so, char **err)
{
	memset(t, 0, sizeof(*t));
	*err = NULL;
	if (!spec || !*spec)
		return fail(err, "", "empty target");
	char *copy = xstrdup(spec);
	char *rest = copy, *host = NULL, *at;
	long port = 0;
	int rc = 0;

	if (str_startswith(rest, "ssh://")) {
		rest += 6;
		size_t n = strlen(rest);
		if (n && rest[n - 1] == '/')
			rest[n - 1] = '\0';
	}
	at = strrchr(rest, '@');
	if (at) {
		*at = '\0';
		if (!*rest || *rest == '-') {
			rc = fail(err, spec, "empty or invalid user name");
			goto out;
		}
		t->user = xstrdup(rest);
		rest = at + 1;
	}
	if (split_host_port(rest, &host, &port, 1)) {
		rc = fail(err, spec, "expected [user@]host[:port], ssh://[user@]host[:port] or [v6addr]:port");
		goto out;
	}
	if (!valid_host(host)) {
		rc = fail(err, spec, "invalid host name");
		goto out;
	}
	t->spec = xstrdup(spec);
	t->host = xstrdup(host);
	t->port = (int)port;
	if (so && so->port && !t->port)
		t->port = (int)so->port;
	if (so && so->user && !t->user)
		t->user = xstrdup(so->user);
out:
	free(copy);
	if (rc)
		target_free(t);
	return rc;
}

void target_free(struct target *t)
{
	free(t->spec);
	free(t->host);
	free(t->user);
	free(t->hostname);
	free(t->euser);
	kv_free(&t->cfg);
	memset(t, 0, sizeof(*t));
}

void target_ssh_args(const struct target *t, const struct sshopts *so, struct strvec *argv)
{
	if (so)
		strvec_pushv(argv, &so->args);
	if (t->port) {
		strvec_push(argv, "-p");
		strvec_pushf(argv, "%d", t->port);
	}
	if (t->user) {
		strvec_push(argv, "-l");
		strvec_push(argv, t->user);
	}
	strvec_push(argv, t->host);
}

void target_ssh_session_opts(struct strvec *argv, const char *const *extra, size_t nextra)
{
	askpass_ssh_opts(argv);	/* BatchMode=yes, or the password typed once */
	static const char *const common[] = { "ControlMaster=no", "ControlPath=none",
					      "ClearAllForwardings=yes", "PermitLocalCommand=no",
					      "RequestTTY=no" };
	for (size_t i = 0; i < ARRAY_SIZE(common) + nextra; i++) {
		strvec_push(argv, "-o");
		strvec_push(argv, i < ARRAY_SIZE(common) ? common[i] : extra[i - ARRAY_SIZE(common)]);
	}
}

int target_ssh_user_keepalive_opts(const struct target *t, const struct sshopts *so,
				   struct strvec *argv, char **err)
{
	struct target now = { .host = t->host, .user = t->user, .port = t->port };
	if (target_resolve(&now, so, err) < 0) {
		kv_free(&now.cfg);
		free(now.hostname);
		free(now.euser);
		return -1;
	}
	strvec_push(argv, "-o");
	strvec_pushf(argv, "ServerAliveInterval=%ld", kv_get_long(&now.cfg, "serveraliveinterval", 0));
	strvec_push(argv, "-o");
	strvec_pushf(argv, "ServerAliveCountMax=%ld", kv_get_long(&now.cfg, "serveralivecountmax", 3));
	kv_free(&now.cfg);
	free(now.hostname);
	free(now.euser);
	return 0;
}

int target_resolve(struct target *t, const struct sshopts *so, char **err)
{
	struct strvec argv = { 0 };
	struct strbuf out = { 0 }, errb = { 0 };
	int status = -1, rc = -1;

	*err = NULL;
	strvec_push(&argv, "ssh");
	strvec_push(&argv, "-G");
	target_ssh_args(t, so, &argv);
	debug("running ssh -G for %s", t->host);
	if (proc_capture(argv.v, NULL, &out, &errb, 10000, &status) < 0 || status != 0) {
		char *line = errb.buf ? strtok(errb.buf, "\n") : NULL;
		*err = xasprintf("ssh -G %s failed: %s", t->host,
				 line ? line : "could not run ssh (is openssh-client installed?)");
		goto out;
	}
	kv_free(&t->cfg);
	kv_parse(&t->cfg, out.buf);
	const char *hn = kv_get(&t->cfg, "hostname");
	const char *user = kv_get(&t->cfg, "user");
	long port = kv_get_long(&t->cfg, "port", 22);
	if (!hn || !user) {
		*err = xasprintf("ssh -G %s printed no hostname/user", t->host);
		goto out;
	}
	free(t->hostname);
	free(t->euser);
	t->hostname = xstrdup(hn);
	t->euser = xstrdup(user);
	t->eport = (int)port;
	rc = 0;
out:
	strvec_clear(&argv);
	sb_free(&out);
	sb_free(&errb);
	return rc;
}
