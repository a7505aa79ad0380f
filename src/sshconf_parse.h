/* sshconf_parse.h - our own reader of sshd_config and ssh_config files, the
 * fallback when `sshd -T` / `ssh -G` cannot run (a copy from another machine, a
 * --root image) and the source of "where does this value come from" (file:line),
 * which OpenSSH does not print. Include, Match/Host, first-value-wins and quoting
 * follow OpenSSH (servconf.c / readconf.c); malformed input gives one
 * "file:line: message" error, never a crash. */
#ifndef SSHDOCTOR_SSHCONF_PARSE_H
#define SSHDOCTOR_SSHCONF_PARSE_H

#include <stddef.h>

enum sshconf_kind { SSHCONF_SERVER, SSHCONF_CLIENT };

/* Who is connecting: decides which Match/Host blocks apply. */
struct sshconf_ctx {
	const char *root;	/* prefix for absolute paths (--root), NULL or "/" for none */
	const char *home;	/* client: where "~" and relative Includes (~/.ssh) point */
	int match;		/* server: evaluate Match blocks (sshd -T -C); 0 = ignore them */
	const char *user;	/* server: user= (Match User, and Group from this machine's
				 * user database)  client: remote user (Match user) */
	const char *host;	/* server: host=  client: the host name as typed */
	const char *addr;	/* server: addr= */
	const char *laddr;	/* server: laddr= */
	int lport;		/* server: lport= (0 unknown) */
	const char *localuser;	/* client: Match localuser */
	int no_include;		/* Include lines are kept but not followed (a remote file) */
	/* Files replaced by in-memory text (the candidate of --fix), by full path;
	 * an override also joins an Include glob it matches when not on disk yet. */
	const char *const *over_path;
	const char *const *over_text;
	size_t nover;
};

/* One directive line as read (Include expanded), in file order. */
struct sshconf_line {
	char *key;	/* lower case */
	char *val;	/* arguments, unquoted, joined by one space */
	char *file;	/* path as opened (with the root prefix) */
	int line;
	int block;	/* 0 = global; n = inside the n-th Match/Host block header seen */
	int active;	/* applies for this ctx */
	int header;	/* a Match/Host line (key "match"/"host"), kept for sshconf_flatten */
	int late;	/* client: in a "Match final/canonical" block, applied by ssh's second pass */
	char *raw;	/* the line as written */
};

struct sshconf {
	enum sshconf_kind kind;
	struct sshconf_line *v;
	size_t n, cap;
	size_t nfiles;	/* files read (main + includes) */
	int match;	/* parsed with ctx->match (sshd -T -C semantics) */
};

/* Parses path (already root-prefixed when it should be) into c. Returns 0, or
 * -1 with *err = "file:line: message" (caller frees) and c left empty. */
int sshconf_parse_file(struct sshconf *c, enum sshconf_kind kind, const char *path,
		       const struct sshconf_ctx *ctx, char **err);
/* The same for text held in memory; name is what errors call the file. */
int sshconf_parse_text(struct sshconf *c, enum sshconf_kind kind, const char *name,
		       const char *text, const struct sshconf_ctx *ctx, char **err);
void sshconf_free(struct sshconf *c);

/* The line whose value is effective for key (first active global line; for the
 * server an active Match line overrides it, as sshd does), or NULL for the default. */
const struct sshconf_line *sshconf_effective(const struct sshconf *c, const char *key);

/* The Match/Host line that opened the block l sits in, NULL for a global line. */
const struct sshconf_line *sshconf_block_header(const struct sshconf *c,
						const struct sshconf_line *l);

/* One self-contained sshd_config equivalent to c (Include expanded, the Match
 * state restored after each included file as sshd does). With root, HostKey and
 * HostCertificate paths get the prefix, and the root's default host keys are
 * named when the config has none, so `sshd -t -f` can check an image. */
char *sshconf_flatten(const struct sshconf *c, const char *root);

/* Splits one config line into at most max arguments the way OpenSSH does
 * ("Key=value", quotes, '#' comments). Returns the count, or -1 with *why set. */
int sshconf_split(const char *line, char **args, int max, const char **why);

/* sshd's time format ("90", "1m30", "2h") in seconds, -1 when invalid. */
long sshconf_time(const char *s);
/* OpenSSH pattern lists ("a*,!b?") against s; 1 match, 0 not (negation wins). */
int sshconf_match_list(const char *s, const char *list, int nocase);
/* Shell-style '*' and '?' pattern match. */
int sshconf_match_pattern(const char *s, const char *pat, int nocase);

#endif
