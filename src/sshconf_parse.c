/* sshconf_parse.c - sshd_config / ssh_config reader (see sshconf_parse.h). */
#include "sshconf_parse.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <pwd.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define MAX_DEPTH 16		/* OpenSSH's own Include limit */
#define MAX_ARGS 256
#define MAX_LINE (64 * 1024)
#define MAX_FILE (16 * 1024 * 1024)
#define MAX_LINES 1000000
#define MAX_FILES 4096

struct pstate {
	struct sshconf *c;
	const struct sshconf_ctx *ctx;
	char *err;
	int nblocks;
	size_t nlines;
	struct strvec headers;	/* raw header line of block n at index n-1 */
	int late;		/* the current block only applies in ssh's final pass */
};

/* --- tokenizing -------------------------------------------------------------- */

static void free_args(char **args, int n)
{
	for (int i = 0; i < n; i++)
		free(args[i]);
}

int sshconf_split(const char *s, char **args, int max, const char **why)
{
	int n = 0;
	struct strbuf tok = { 0 };

	*why = NULL;
	while (isspace((unsigned char)*s))
		s++;
	if (!*s || *s == '#')
		return 0;
	/* The keyword ends at whitespace or '='; "Key=value" and "Key = value" both work. */
	const char *k = s;
	while (*s && !isspace((unsigned char)*s) && *s != '=')
		s++;
	args[n++] = xstrndup(k, (size_t)(s - k));
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '=') {
		s++;
		while (isspace((unsigned char)*s))
			s++;
	}
	while (*s) {
		if (isspace((unsigned char)*s)) {
			s++;
			continue;
		}
		if (*s == '#')	/* a comment starts at a token boundary */
			break;
		if (n >= max) {
			*why = "too many arguments";
			goto fail;
		}
		sb_reset(&tok);
		sb_add(&tok, "", 0);
		char quote = 0;
		while (*s && (quote || !isspace((unsigned char)*s))) {
			if (!quote && (*s == '"' || *s == '\'')) {
				quote = *s++;
				continue;
			}
			if (quote && *s == quote) {
				quote = 0;
				s++;
				continue;
			}
			if (*s == '\\' && (s[1] == '"' || s[1] == '\'' || s[1] == '\\')) {
				s++;
			}
			sb_add(&tok, s, 1);
			s++;
		}
		if (quote) {
			*why = "unterminated quote";
			goto fail;
		}
		args[n++] = xstrdup(tok.buf);
	}
	sb_free(&tok);
	return n;
fail:
	sb_free(&tok);
	free_args(args, n);
	return -1;
}

/* --- patterns ---------------------------------------------------------------- */

int sshconf_match_pattern(const char *s, const char *p, int nocase)
{
	/* Iterative '*' backtracking: linear in practice, never recursive. */
	const char *star = NULL, *ss = NULL;
	while (*s) {
		if (*p == '*') {
			star = p++;
			ss = s;
		} else if (*p == '?' || (nocase ? tolower((unsigned char)*p) == tolower((unsigned char)*s)
						: *p == *s)) {
			if (!*p)
				break;
			p++;
			s++;
		} else if (star) {
			p = star + 1;
			s = ++ss;
		} else {
			return 0;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0' && *s == '\0';
}

static int cidr_match(const char *addr, const char *cidr)
{
	char net[64];
	const char *slash = strchr(cidr, '/');
	long bits;
	unsigned char a[16], b[16];
	int fam, len;

	if (!slash || (size_t)(slash - cidr) >= sizeof(net))
		return 0;
	memcpy(net, cidr, (size_t)(slash - cidr));
	net[slash - cidr] = '\0';
	fam = strchr(net, ':') ? AF_INET6 : AF_INET;
	len = fam == AF_INET6 ? 16 : 4;
	if (parse_int(slash + 1, 0, len * 8, &bits) || inet_pton(fam, net, b) != 1 ||
	    inet_pton(fam, addr, a) != 1)
		return 0;
	for (int i = 0; i < len && bits > 0; i++, bits -= 8) {
		unsigned char m = bits >= 8 ? 0xff : (unsigned char)(0xff << (8 - bits));
		if ((a[i] & m) != (b[i] & m))
			return 0;
	}
	return 1;
}

static int match_list(const char *s, const char *list, int nocase, int addr)
{
	int got = 0;
	char *copy = xstrdup(list);
	for (char *save = NULL, *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		int neg = *p == '!';
		if (neg)
			p++;
		int m = addr && strchr(p, '/') ? cidr_match(s, p) : sshconf_match_pattern(s, p, nocase);
		if (m && neg) {
			free(copy);
			return 0;
		}
		if (m)
			got = 1;
	}
	free(copy);
	return got;
}

int sshconf_match_list(const char *s, const char *list, int nocase)
{
	return match_list(s, list, nocase, 0);
}

long sshconf_time(const char *s)
{
	long total = 0;
	if (!s || !*s)
		return -1;
	while (*s) {
		if (!isdigit((unsigned char)*s))
			return -1;
		long n = 0;
		while (isdigit((unsigned char)*s)) {
			if (n > (LONG_MAX - 9) / 10)
				return -1;
			n = n * 10 + (*s++ - '0');
		}
		long mul = 1;
		switch (*s) {
		case '\0': break;
		case 's': case 'S': s++; break;
		case 'm': case 'M': mul = 60; s++; break;
		case 'h': case 'H': mul = 3600; s++; break;
		case 'd': case 'D': mul = 86400; s++; break;
		case 'w': case 'W': mul = 604800; s++; break;
		default: return -1;
		}
		if (n > (INT_MAX - total) / mul)
			return -1;	/* sshd keeps these in an int */
		total += n * mul;
	}
	return total;
}

/* --- block headers ----------------------------------------------------------- */

#define MAX_GROUPS 1024

/* sshd's Match Group (groupaccess.c ga_match_pattern_list): the user's groups from
 * this machine's user database; a negated pattern matching any group wins. */
static int group_match(const char *user, const char *list)
{
	struct passwd *pw = user ? getpwnam(user) : NULL;
	gid_t gids[MAX_GROUPS];
	int ng = MAX_GROUPS, found = 0;
	if (!pw)
		return 0;	/* sshd: an unknown user is in no group */
	if (getgrouplist(user, pw->pw_gid, gids, &ng) < 0)
		ng = MAX_GROUPS;
	char *copy = xstrdup(list);
	for (int g = 0; g < ng; g++) {
		struct group *gr = getgrgid(gids[g]);
		if (!gr)
			continue;
		for (char *save = NULL, *q = strcpy(copy, list), *pt = strtok_r(q, ",", &save); pt;
		     pt = strtok_r(NULL, ",", &save)) {
			int neg = *pt == '!';
			if (sshconf_match_pattern(gr->gr_name, pt + neg, 0)) {
				if (neg) {
					free(copy);
					return 0;
				}
				found = 1;
			}
		}
	}
	free(copy);
	return found;
}

static const char *last_value(struct pstate *p, const char *key)
{
	for (size_t i = 0; i < p->c->n; i++)
		if (p->c->v[i].active && strcmp(p->c->v[i].key, key) == 0)
			return p->c->v[i].val;
	return NULL;
}

/* sshd's Match: "all" or criterion/pattern pairs; all criteria must match. */
static int server_match(struct pstate *p, char **a, int n, const char **why)
{
	const struct sshconf_ctx *x = p->ctx;
	int result = 1;
	if (n == 1) {
		*why = "Match: missing criteria";
		return -1;
	}
	/* "Match all" applies even without -C: sshd's startup parse takes it in. */
	if (n == 2 && strcasecmp(a[1], "all") == 0)
		return 1;
	for (int i = 1; i < n; i += 2) {
		const char *c = a[i];
		if (strcasecmp(c, "all") == 0) {
			*why = "Match: 'all' cannot be combined with other criteria";
			return -1;
		}
		if (i + 1 >= n) {
			*why = "Match: missing argument for a criterion";
			return -1;
		}
		const char *v = a[i + 1], *have = NULL;
		int addr = 0;
		char port[16];
		if (!strcasecmp(c, "user"))
			have = x->user;
		else if (!strcasecmp(c, "host"))
			have = x->host;
		else if (!strcasecmp(c, "address"))
			have = x->addr, addr = 1;
		else if (!strcasecmp(c, "localaddress"))
			have = x->laddr, addr = 1;
		else if (!strcasecmp(c, "localport")) {
			snprintf(port, sizeof(port), "%d", x->lport);
			have = x->lport ? port : NULL;
		} else if (!strcasecmp(c, "group")) {
			if (!group_match(x->user, v))
				result = 0;
			continue;
		} else if (!strcasecmp(c, "rdomain"))
			have = NULL;	/* needs the routing domain: no match */
		else {
			*why = "Match: unsupported criterion";
			return -1;
		}
		if (!have || !match_list(have, v, strcasecmp(c, "user") != 0, addr))
			result = 0;
	}
	return x->match && result;
}

/* ssh_config's Host: any pattern matches and no negated one does. */
static int client_host(struct pstate *p, char **a, int n)
{
	const char *h = p->ctx->host ? p->ctx->host : "";
	int got = 0;
	for (int i = 1; i < n; i++) {
		const char *pat = a[i];
		int neg = *pat == '!';
		if (sshconf_match_pattern(h, pat + neg, 1)) {
			if (neg)
				return 0;
			got = 1;
		}
	}
	return got;
}

static int client_match(struct pstate *p, char **a, int n, const char **why)
{
	const struct sshconf_ctx *x = p->ctx;
	int result = 1;
	if (n == 1) {
		*why = "Match: missing criteria";
		return -1;
	}
	for (int i = 1; i < n; i++) {
		const char *c = a[i];
		int neg = *c == '!';
		c += neg;
		int m;
		if (!strcasecmp(c, "all")) {
			m = 1;
		} else if (!strcasecmp(c, "canonical") || !strcasecmp(c, "final")) {
			/* ssh re-reads the config in a final pass when such a block
			 * exists: these lines come after everything of the first pass */
			m = 1;
			if (!neg)
				p->late = 1;
		} else {
			if (i + 1 >= n) {
				*why = "Match: missing argument for a criterion";
				return -1;
			}
			const char *v = a[++i], *have = NULL;
			if (!strcasecmp(c, "host")) {
				have = last_value(p, "hostname");
				if (!have)
					have = x->host;
			} else if (!strcasecmp(c, "originalhost")) {
				have = x->host;
			} else if (!strcasecmp(c, "user")) {
				have = last_value(p, "user");
				if (!have)
					have = x->user ? x->user : x->localuser;
			} else if (!strcasecmp(c, "localuser")) {
				have = x->localuser;
			} else if (!strcasecmp(c, "exec") || !strcasecmp(c, "localnetwork") ||
				   !strcasecmp(c, "tagged")) {
				have = NULL;	/* we do not run commands: treated as no match */
			} else {
				*why = "Match: unsupported criterion";
				return -1;
			}
			m = have && match_list(have, v, strcasecmp(c, "user") && strcasecmp(c, "localuser"), 0);
		}
		if (m == neg)
			result = 0;
	}
	return result;
}

/* --- files ------------------------------------------------------------------- */

static int fail(struct pstate *p, const char *file, int line, const char *fmt, ...)
	PRINTF_LIKE(4, 5);
static int fail(struct pstate *p, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *m = xvasprintf(fmt, ap);
	va_end(ap);
	if (!p->err)
		p->err = line > 0 ? xasprintf("%s:%d: %s", file, line, m) : xasprintf("%s: %s", file, m);
	free(m);
	return -1;
}

static void add_line(struct pstate *p, char **a, int n, const char *file, int line, int block,
		     int active, const char *raw)
{
	struct sshconf *c = p->c;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 32;
		c->v = xrealloc(c->v, c->cap * sizeof(*c->v));
	}
	struct sshconf_line *l = &c->v[c->n++];
	struct strbuf val = { 0 };
	sb_add(&val, "", 0);
	for (int i = 1; i < n; i++) {
		if (i > 1)
			sb_adds(&val, " ");
		sb_adds(&val, a[i]);
	}
	l->key = xstrdup(a[0]);
	str_lower(l->key);
	l->val = val.buf;
	l->file = xstrdup(file);
	l->line = line;
	l->block = block;
	l->active = active;
	l->header = 0;
	l->late = p->late;
	l->raw = xstrdup(raw);
}

/* After an included file that opened its own block: the includer's block again. */
static void add_restore(struct pstate *p, const char *file, int block, int active)
{
	char *a[1] = { (char *)"match" };
	const char *raw = block > 0 && (size_t)block <= p->headers.n ? p->headers.v[block - 1]
								      : "Match all";
	add_line(p, a, 1, file, 0, block, active, raw);
	p->c->v[p->c->n - 1].header = 1;
}

static int parse_text(struct pstate *p, const char *name, const char *text, int depth,
		      int *active, int *block);

static char *read_file(const char *path, const char **why)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct strbuf sb = { 0 };
	char buf[8192];
	ssize_t r;
	if (fd < 0) {
		*why = strerror(errno);
		return NULL;
	}
	sb_add(&sb, "", 0);
	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		if (sb.len + (size_t)r > MAX_FILE) {
			*why = "file too large";
			close(fd);
			sb_free(&sb);
			return NULL;
		}
		sb_add(&sb, buf, (size_t)r);
	}
	close(fd);
	if (r < 0) {
		*why = strerror(errno);
		sb_free(&sb);
		return NULL;
	}
	if (memchr(sb.buf, '\0', sb.len)) {
		*why = "binary file (NUL byte)";
		sb_free(&sb);
		return NULL;
	}
	return sb.buf;
}

static int parse_path(struct pstate *p, const char *path, int depth, int *active, int *block)
{
	const char *why = NULL;
	if (++p->c->nfiles > MAX_FILES)
		return fail(p, path, 0, "too many files");
	for (size_t i = 0; i < p->ctx->nover; i++)
		if (!strcmp(p->ctx->over_path[i], path))
			return parse_text(p, path, p->ctx->over_text[i], depth, active, block);
	char *text = read_file(path, &why);
	if (!text)
		return fail(p, path, 0, "%s", why);
	int rc = parse_text(p, path, text, depth, active, block);
	free(text);
	return rc;
}

/* Where a relative or ~ Include points, with the --root prefix applied. */
static char *include_path(struct pstate *p, const char *arg)
{
	const struct sshconf_ctx *x = p->ctx;
	const char *root = x->root && strcmp(x->root, "/") ? x->root : "";
	if (p->c->kind == SSHCONF_CLIENT && arg[0] == '~' && arg[1] == '/')
		return xasprintf("%s%s", x->home ? x->home : "", arg + 1);
	if (arg[0] == '/')
		return xasprintf("%s%s", root, arg);
	if (p->c->kind == SSHCONF_CLIENT)
		return xasprintf("%s/.ssh/%s", x->home ? x->home : "", arg);
	return xasprintf("%s/etc/ssh/%s", root, arg);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files an Include pattern names, sorted as glob(3) does, plus overrides. */
static int expand(struct pstate *p, const char *pat, struct strvec *out)
{
	glob_t g;
	const char *root = p->ctx->root;
	/* Under --root an Include must not climb out of the image. */
	if (root && *root && strcmp(root, "/") && (strstr(pat, "/../") || (strlen(pat) >= 3 &&
	    !strcmp(pat + strlen(pat) - 3, "/.."))))
		return 0;
	int r = glob(pat, 0, NULL, &g);
	if (r != 0 && r != GLOB_NOMATCH)
		return -1;
	for (size_t k = 0; r == 0 && k < g.gl_pathc; k++)
		strvec_push(out, g.gl_pathv[k]);
	if (r == 0)
		globfree(&g);
	for (size_t i = 0; i < p->ctx->nover; i++) {
		int have = 0;
		for (size_t k = 0; k < out->n; k++)
			have |= !strcmp(out->v[k], p->ctx->over_path[i]);
		if (!have && sshconf_match_pattern(p->ctx->over_path[i], pat, 0))
			strvec_push(out, p->ctx->over_path[i]);
	}
	if (out->n)
		qsort(out->v, out->n, sizeof(char *), cmp_str);
	return 0;
}

static int do_include(struct pstate *p, char **a, int n, const char *file, int line, int depth,
		      int *active, int *block)
{
	if (n < 2)
		return fail(p, file, line, "Include: missing argument");
	if (depth + 1 > MAX_DEPTH)
		return fail(p, file, line, "Include nested too deeply");
	if (p->ctx->no_include)
		return 0;
	for (int i = 1; i < n; i++) {
		char *pat = include_path(p, a[i]);
		struct strvec files = { 0 };
		if (expand(p, pat, &files) < 0) {
			free(pat);
			return fail(p, file, line, "Include: cannot expand '%s'", a[i]);
		}
		for (size_t k = 0; k < files.n; k++) {
			/* Included files start with the includer's block state and cannot
			 * change it for the lines after the Include. */
			int inner_active = *active, inner_block = *block;
			struct stat st;
			if (stat(files.v[k], &st) == 0 && S_ISDIR(st.st_mode))
				continue;
			if (parse_path(p, files.v[k], depth + 1, &inner_active, &inner_block) < 0) {
				strvec_clear(&files);
				free(pat);
				return -1;
			}
			if (inner_block != *block)
				add_restore(p, file, *block, *active);
		}
		strvec_clear(&files);
		free(pat);
	}
	return 0;
}

static int parse_text(struct pstate *p, const char *name, const char *text, int depth,
		      int *active, int *block)
{
	int lineno = 0;
	int outer_active = *active;	/* an included file inside an inactive block stays inactive */
	while (*text) {
		const char *nl = strchr(text, '\n');
		size_t len = nl ? (size_t)(nl - text) : strlen(text);
		lineno++;
		if (len > MAX_LINE)
			return fail(p, name, lineno, "line too long");
		if (++p->nlines > MAX_LINES)
			return fail(p, name, lineno, "too many lines");
		char *line = xstrndup(text, len);
		text = nl ? nl + 1 : text + len;
		if (len && line[len - 1] == '\r')
			line[len - 1] = '\0';
		char *a[MAX_ARGS];
		const char *why;
		int n = sshconf_split(line, a, MAX_ARGS, &why);
		if (n <= 0) {
			free(line);
			if (n < 0)
				return fail(p, name, lineno, "%s", why);
			continue;
		}
		int rc = 0;
		const char *k = a[0];
		if (!*k) {
			rc = fail(p, name, lineno, "missing keyword");
		} else if (!strcasecmp(k, "include")) {
			rc = do_include(p, a, n, name, lineno, depth, active, block);
		} else if (!strcasecmp(k, "match") ||
			   (p->c->kind == SSHCONF_CLIENT && !strcasecmp(k, "host"))) {
			int m;
			why = NULL;
			p->late = 0;
			if (p->c->kind == SSHCONF_SERVER)
				m = server_match(p, a, n, &why);
			else if (!strcasecmp(k, "host"))
				m = n < 2 ? (why = "Host: missing argument", -1) : client_host(p, a, n);
			else
				m = client_match(p, a, n, &why);
			if (m < 0)
				rc = fail(p, name, lineno, "%s", why);
			*block = ++p->nblocks;
			*active = m > 0 && outer_active;
			strvec_push(&p->headers, line);
			add_line(p, a, 1, name, lineno, *block, *active, line);
			p->c->v[p->c->n - 1].header = 1;
		} else if (n < 2) {
			rc = fail(p, name, lineno, "%s: missing argument", k);
		} else {
			add_line(p, a, n, name, lineno, *block, *active, line);
		}
		free(line);
		free_args(a, n);
		if (rc)
			return -1;
	}
	return 0;
}

int sshconf_parse_text(struct sshconf *c, enum sshconf_kind kind, const char *name,
		       const char *text, const struct sshconf_ctx *ctx, char **err)
{
	static const struct sshconf_ctx none = { 0 };
	struct pstate p = { .c = c, .ctx = ctx ? ctx : &none };
	int active = 1, block = 0;
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->nfiles = 1;
	c->match = p.ctx->match;
	*err = NULL;
	int rc = parse_text(&p, name, text, 0, &active, &block);
	strvec_clear(&p.headers);
	if (rc < 0) {
		sshconf_free(c);	/* nothing half-parsed escapes */
		c->kind = kind;
		*err = p.err;
		return -1;
	}
	return 0;
}

int sshconf_parse_file(struct sshconf *c, enum sshconf_kind kind, const char *path,
		       const struct sshconf_ctx *ctx, char **err)
{
	const char *why = NULL;
	for (size_t i = 0; ctx && i < ctx->nover; i++)
		if (!strcmp(ctx->over_path[i], path))
			return sshconf_parse_text(c, kind, path, ctx->over_text[i], ctx, err);
	char *text = read_file(path, &why);
	if (!text) {
		memset(c, 0, sizeof(*c));
		c->kind = kind;
		*err = xasprintf("%s: %s", path, why);
		return -1;
	}
	int rc = sshconf_parse_text(c, kind, path, text, ctx, err);
	free(text);
	return rc;
}

void sshconf_free(struct sshconf *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].key);
		free(c->v[i].val);
		free(c->v[i].file);
		free(c->v[i].raw);
	}
	free(c->v);
	memset(c, 0, sizeof(*c));
}

const struct sshconf_line *sshconf_effective(const struct sshconf *c, const char *key)
{
	const struct sshconf_line *glob_l = NULL, *late = NULL;
	for (size_t i = 0; i < c->n; i++) {
		const struct sshconf_line *l = &c->v[i];
		if (!l->active || l->header || strcasecmp(l->key, key))
			continue;
		if (c->kind == SSHCONF_CLIENT && l->late) {
			if (!late)
				late = l;
			continue;
		}
		if (c->kind == SSHCONF_CLIENT)
			return l;
		/* sshd -T -C: an applying Match block overrides the global value; without
		 * -C only "Match all" applies and first value wins throughout. */
		if (l->block > 0 && c->match)
			return l;
		if (!glob_l)
			glob_l = l;
	}
	return glob_l ? glob_l : late;
}

const struct sshconf_line *sshconf_block_header(const struct sshconf *c,
						const struct sshconf_line *l)
{
	if (!l || l->block <= 0)
		return NULL;
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].header && c->v[i].block == l->block && c->v[i].line > 0)
			return &c->v[i];
	return NULL;
}

char *sshconf_flatten(const struct sshconf *c, const char *root)
{
	struct strbuf sb = { 0 };
	int rooted = root && *root && strcmp(root, "/");
	int hostkeys = 0;
	sb_add(&sb, "", 0);
	for (size_t i = 0; i < c->n; i++)
		hostkeys |= !strcmp(c->v[i].key, "hostkey");
	if (rooted && !hostkeys) {
		/* sshd's defaults, inside the image */
		static const char *const def[] = { "rsa", "ecdsa", "ed25519" };
		for (size_t k = 0; k < ARRAY_SIZE(def); k++) {
			char *hk = xasprintf("%s/etc/ssh/ssh_host_%s_key", root, def[k]);
			if (access(hk, R_OK) == 0)
				sb_addf(&sb, "HostKey \"%s\"\n", hk);
			free(hk);
		}
	}
	for (size_t i = 0; i < c->n; i++) {
		const struct sshconf_line *l = &c->v[i];
		if (rooted && (!strcmp(l->key, "hostkey") || !strcmp(l->key, "hostcertificate")) &&
		    l->val[0] == '/')
			sb_addf(&sb, "%s \"%s%s\"\n", l->key, root, l->val);
		else
			sb_addf(&sb, "%s\n", l->raw);
	}
	return sb.buf;
}
