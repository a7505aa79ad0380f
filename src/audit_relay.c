/* audit_relay.c - the lines `audit --fix --relay [TARGET]` appends to the user's
 * ssh config so every session goes through the flight recorder's relay.
 * ssh takes the first value it obtains, so a block at the end of the file
 * never overrides a host's own ProxyCommand or ProxyJump; but ProxyUseFdpass
 * would still reach such a host and break its proxy, so for `Host *` every
 * Host pattern that sets a proxy is negated, and a Match block that sets one
 * (which cannot be negated) makes us refuse and say so. */
#include <string.h>
#include <strings.h>

#include "audit.h"
#include "sshconf_parse.h"
#include "util.h"

/* A pattern or path we can write on a config line without quoting games. */
static int plain_word(const char *s)
{
	return *s && !strpbrk(s, " \t\"'%#\\\n");
}

static const char *lt(const char *s)
{
	return s + strspn(s, " \t");
}

/* The patterns of a Host header line, as written after the keyword. */
static char *host_patterns(const struct sshconf_line *h)
{
	const char *s = h->val && *h->val ? h->val : h->raw;
	if (s == h->raw) {
		s += strspn(s, " \t");
		s += strcspn(s, " \t=");
		s += strspn(s, " \t=");
	}
	char *p = xstrdup(s);
	p[strcspn(p, "#\n")] = '\0';
	return p;
}

/* Host * (or a list holding *): a proxy for every host. */
static int all_hosts(const struct sshconf_line *h)
{
	char *copy = host_patterns(h), *save = NULL;
	int star = 0;
	for (char *p = strtok_r(copy, " \t", &save); p; p = strtok_r(NULL, " \t", &save))
		star |= !strcmp(p, "*");
	free(copy);
	return star;
}

int audit_relay_block(const char *path, const struct sshconf_ctx *x, const char *host,
		      const char *self, struct strbuf *block, struct strvec *notes, char **err)
{
	struct sshconf c = { 0 };
	*err = NULL;
	if (!plain_word(self)) {
		*err = xasprintf("sshdoctor's path '%s' cannot be written in a ProxyCommand line "
				 "(spaces, quotes or %%): install it elsewhere", self);
		return -1;
	}
	if (host && !plain_word(host)) {
		*err = xasprintf("'%s' is not a plain host name", host);
		return -1;
	}
	struct sshconf_ctx nx = *x;
	nx.host = host ? host : "sshdoctor-relay.invalid";
	if (sshconf_parse_file(&c, SSHCONF_CLIENT, path, &nx, err) < 0) {
		if (!strstr(*err, "No such file"))
			return -1;
		free(*err);	/* no config yet: the block is the whole file */
		*err = NULL;
	}
	struct strvec neg = { 0 };
	int rc = 1;
	for (size_t i = 0; i < c.n && rc > 0; i++) {
		const struct sshconf_line *l = &c.v[i];
		if (!strcmp(l->key, "proxycommand") && strstr(l->val, " relay ") &&
		    strstr(l->val, "sshdoctor")) {
			strvec_pushf(notes, "relay: already installed (%s:%d)", l->file, l->line);
			rc = 0;
			break;
		}
		if (strcmp(l->key, "proxycommand") && strcmp(l->key, "proxyjump"))
			continue;
		const struct sshconf_line *h = sshconf_block_header(&c, l);
		if (!h) {
			*err = xasprintf("%s:%d sets %s for every host: the relay would never be "
					 "used; nothing changed", l->file, l->line, lt(l->raw));
			rc = -1;
		} else if (host) {	/* the TARGET's own proxy wins over ours: leave it */
			if (l->active) {
				strvec_pushf(notes, "relay: %s has its own proxy (%s:%d, %s): left alone",
					     host, l->file, l->line, lt(l->raw));
				rc = 0;
			}
		} else if (!strcmp(h->key, "match")) {
			*err = xasprintf("%s:%d: '%s' sets a proxy inside '%s', which a "
					 "Host * line cannot leave out: name a TARGET "
					 "(audit --fix --relay TARGET); nothing changed",
					 l->file, l->line, lt(l->raw), lt(h->raw));
			rc = -1;
		} else {
			/* Host a b !c: each positive pattern left out of ours */
			char *copy = host_patterns(h), *save = NULL;
			for (char *p = strtok_r(copy, " \t", &save); p; p = strtok_r(NULL, " \t", &save))
				if (*p != '!' && strcmp(p, "*") && plain_word(p)) {
					int dup = 0;
					for (size_t k = 0; k < neg.n; k++)
						dup |= !strcmp(neg.v[k] + 1, p);
					if (!dup)
						strvec_pushf(&neg, "!%s", p);
				}
			if (all_hosts(h)) {
				*err = xasprintf("%s:%d: '%s' sets a proxy for every host (%s): the "
						 "relay would never be used; nothing changed",
						 l->file, l->line, lt(l->raw), lt(h->raw));
				rc = -1;
			}
			free(copy);
			char *pats = host_patterns(h);
			strvec_pushf(notes, "relay: hosts matching '%s' keep their own proxy (%s:%d, %s): "
				     "left alone", pats, l->file, l->line, lt(l->raw));
			free(pats);
		}
	}
	if (rc > 0) {
		sb_adds(block, "\n# sshdoctor relay: the flight recorder (sshdoctor history); "
			"undo: sshdoctor audit --undo\n");
		sb_addf(block, "Host %s", host ? host : "*");
		for (size_t k = 0; k < neg.n; k++)
			sb_addf(block, " %s", neg.v[k]);
		sb_addf(block, "\n    ProxyCommand %s relay -l %%r %%h %%p\n    ProxyUseFdpass yes\n",
			self);
	}
	strvec_clear(&neg);
	sshconf_free(&c);
	return rc;
}
