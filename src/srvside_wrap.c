/* srvside_wrap.c - TCP wrappers as libwrap decides (hosts_access(5)): the first
 * matching line of hosts.allow grants, then the first of hosts.deny refuses,
 * else granted. Daemon and client lists with ALL, EXCEPT, "a.b.c." prefixes,
 * "net/mask" and "net/len", [v6]/len, wildcards; the options field's allow/deny
 * (Debian builds with PROCESS_OPTIONS). Name patterns (.example.com, LOCAL,
 * KNOWN, @netgroup) need a lookup: they never match here. Untrusted bytes:
 * every line bounded, fuzzed by fuzz/fuzz_srvwrap.c. */
#include <arpa/inet.h>
#include <ctype.h>
#include <fnmatch.h>
#include <string.h>

#include "srvside.h"

#define WRAP_LINE 4096
#define WRAP_TOKS 256

static int parse_ip(const char *s, unsigned char *b, int *fam)
{
	char tmp[64];
	size_t n = strlen(s);
	if (n >= sizeof(tmp) || !n)
		return -1;
	memcpy(tmp, s, n + 1);
	if (tmp[0] == '[' && tmp[n - 1] == ']') {
		tmp[n - 1] = '\0';
		memmove(tmp, tmp + 1, n - 1);
	}
	if (inet_pton(AF_INET, tmp, b) == 1)
		return *fam = 4, 0;
	if (inet_pton(AF_INET6, tmp, b) == 1)
		return *fam = 6, 0;
	return -1;
}

int srv_addr_in(const char *addr, const char *pattern)
{
	unsigned char a[16], p[16], m[16];
	int fa, fp, fm;
	char net[64];
	const char *slash = strchr(pattern, '/');
	size_t nl = slash ? (size_t)(slash - pattern) : strlen(pattern);
	if (nl >= sizeof(net))
		return -1;
	memcpy(net, pattern, nl);
	net[nl] = '\0';
	if (parse_ip(net, p, &fp) < 0)
		return -1;
	if (parse_ip(addr, a, &fa) < 0 || fa != fp)
		return 0;
	size_t len = fa == 4 ? 4 : 16;
	memset(m, 0xff, sizeof(m));
	if (slash) {
		long bits;
		if (parse_ip(slash + 1, m, &fm) == 0) {
			if (fm != fp)
				return -1;
		} else if (parse_int(slash + 1, 0, (long)len * 8, &bits) == 0) {
			memset(m, 0, sizeof(m));
			for (long i = 0; i < bits; i++)
				m[i / 8] |= (unsigned char)(0x80 >> (i % 8));
		} else {
			return -1;
		}
	}
	for (size_t i = 0; i < len; i++)
		if ((a[i] & m[i]) != (p[i] & m[i]))
			return 0;
	return 1;
}

static int tok_eq(const char *a, const char *b) { return !strcasecmp(a, b); }

static int daemon_match(const char *tok, const char *daemon)
{
	if (tok_eq(tok, "ALL"))
		return 1;
	char d[128];
	size_t n = strcspn(tok, "@");	/* "sshd@host": the server address part is not ours to know */
	if (n >= sizeof(d))
		return 0;
	memcpy(d, tok, n);
	d[n] = '\0';
	return !strcmp(d, daemon) || (strpbrk(d, "*?") && !fnmatch(d, daemon, 0));
}

static int client_match(const char *tok, const char *addr)
{
	if (tok_eq(tok, "ALL"))
		return 1;
	if (!*addr)
		return 0;
	size_t n = strlen(tok);
	if (strchr(tok, '@') || tok[0] == '.' || tok_eq(tok, "LOCAL") || tok_eq(tok, "KNOWN") ||
	    tok_eq(tok, "UNKNOWN") || tok_eq(tok, "PARANOID"))
		return 0;
	if (tok[n - 1] == '.' && strchr(addr, '.'))	/* "192.0.2." prefix */
		return !strncmp(tok, addr, n);
	if (strpbrk(tok, "*?"))
		return !fnmatch(tok, addr, 0);
	return srv_addr_in(addr, tok) == 1;
}

/* libwrap's list_match: the first part matches and the EXCEPT part does not. */
static int list_match(char **tok, int n, int daemon, const char *what)
{
	int i = 0;
	for (; i < n && !tok_eq(tok[i], "EXCEPT"); i++) {
		if (daemon ? daemon_match(tok[i], what) : client_match(tok[i], what)) {
			while (i < n && !tok_eq(tok[i], "EXCEPT"))
				i++;
			return i >= n ? 1 : !list_match(tok + i + 1, n - i - 1, daemon, what);
		}
	}
	return 0;
}

static int split_list(char *s, char **tok, int max)
{
	int n = 0;
	for (char *t = strtok(s, " \t,"); t && n < max; t = strtok(NULL, " \t,"))
		tok[n++] = t;
	return n;
}

/* Splits on ':' outside [...]; returns the number of fields (at most 3; the
 * rest stays in the third). */
static int split_fields(char *s, char **f)
{
	int n = 1, br = 0;
	f[0] = s;
	for (char *p = s; *p && n < 3; p++) {
		if (*p == '[')
			br = 1;
		else if (*p == ']')
			br = 0;
		else if (*p == ':' && !br) {
			*p = '\0';
			f[n++] = p + 1;
		}
	}
	return n;
}

/* Scans one file; 1 when a line matched (hit filled, *opt_verdict = -1 none,
 * 0 allow, 1 deny from the options field). */
static int scan_file(const char *text, const char *daemon, const char *addr, const char *name,
		     struct wrap_hit *hit, int *opt_verdict)
{
	char line[WRAP_LINE], work[WRAP_LINE];
	const char *p = text;
	int lineno = 0;
	while (p && *p) {
		size_t len = 0;
		int first = lineno + 1, trunc = 0;
		/* one logical line: backslash-newline joins */
		for (;;) {
			const char *nl = strchr(p, '\n');
			size_t l = nl ? (size_t)(nl - p) : strlen(p);
			lineno++;
			int cont = l > 0 && p[l - 1] == '\\';
			size_t take = cont ? l - 1 : l;
			if (len + take >= sizeof(line)) {
				take = sizeof(line) - 1 - len;
				trunc = 1;
			}
			memcpy(line + len, p, take);
			len += take;
			p = nl ? nl + 1 : p + l;
			if (!cont || !nl)
				break;
		}
		line[len] = '\0';
		if (trunc)
			continue;	/* libwrap refuses over-long lines too ("line too long") */
		char *s = line;
		while (isspace((unsigned char)*s))
			s++;
		if (!*s || *s == '#')
			continue;
		memcpy(work, s, strlen(s) + 1);
		char *f[3] = { 0 };
		if (split_fields(work, f) < 2)
			continue;	/* malformed: libwrap skips it with a warning */
		char *dt[WRAP_TOKS], *ct[WRAP_TOKS];
		int nd = split_list(f[0], dt, WRAP_TOKS);
		if (!list_match(dt, nd, 1, daemon))
			continue;
		int nc = split_list(f[1], ct, WRAP_TOKS);
		if (!list_match(ct, nc, 0, addr))
			continue;
		*opt_verdict = -1;
		if (f[2]) {
			/* the last option word decides when it is allow or deny */
			char *o = f[2], *last = NULL;
			for (char *t = strtok(o, " \t:"); t; t = strtok(NULL, " \t:"))
				last = t;
			if (last && tok_eq(last, "allow"))
				*opt_verdict = 0;
			else if (last && tok_eq(last, "deny"))
				*opt_verdict = 1;
		}
		hit->line = first;
		snprintf(hit->file, sizeof(hit->file), "%s", name);
		size_t tl = strlen(s) < sizeof(hit->text) ? strlen(s) : sizeof(hit->text) - 1;
		memcpy(hit->text, s, tl);	/* shown, so cut rather than refused */
		hit->text[tl] = '\0';
		return 1;
	}
	return 0;
}

void wrap_judge(const char *allow, const char *deny, const char *daemon, const char *addr,
		struct wrap_hit *hit)
{
	memset(hit, 0, sizeof(*hit));
	int opt;
	if (allow && scan_file(allow, daemon, addr ? addr : "", "hosts.allow", hit, &opt)) {
		hit->denied = opt == 1;
		return;
	}
	if (deny && scan_file(deny, daemon, addr ? addr : "", "hosts.deny", hit, &opt)) {
		hit->denied = opt != 0;
		return;
	}
	hit->denied = 0;
}

int f2b_banned(const char *status, const char *addr)
{
	if (!status || !addr || !*addr)
		return 0;
	const char *l = strstr(status, "Banned IP list:");
	if (!l)
		return 0;
	l += strlen("Banned IP list:");
	size_t al = strlen(addr);
	while (*l && *l != '\n') {
		while (*l == ' ' || *l == '\t')
			l++;
		size_t n = strcspn(l, " \t\n");
		if (n == al && !strncmp(l, addr, n))
			return 1;
		l += n;
	}
	return 0;
}
