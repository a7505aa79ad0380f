/* audit_fix.c - `audit --fix`: plan minimal edits that make the prescribed
 * keepalive/limit values effective, prove them with ssh -G / sshd -t / sshd -T
 * before and after writing, and write them as one undoable change set. */
#include "audit.h"

#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "proc.h"
#include "sshconf_parse.h"

#define MAX_SET 8
#define HEADER "# sshdoctor audit --fix: keepalive/limits (first value wins: keep this at the top)"
#define DROPIN_NAME "00-sshdoctor.conf"
#define SYSCTL_FILE "/etc/sysctl.d/90-sshdoctor-keepalive.conf"

enum { FF_CLIENT, FF_SERVER, FF_KERNEL };

struct fix_file {
	int kind;
	struct file_snap snap;
	char *text;		/* the new content */
	mode_t mode_new;	/* for a file we create */
};

/* One setting to make effective: "ClientAliveInterval" "60". */
struct setting {
	const char *key;
	char val[256];	/* a PerSourcePenaltyExemptList can be long */
};

static struct fix_file *add_file(struct fixplan *p, int kind)
{
	p->files = xrealloc(p->files, (p->n + 1) * sizeof(*p->files));
	struct fix_file *f = &p->files[p->n++];
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	return f;
}

static struct fix_file *find_file(struct fixplan *p, const char *path)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->files[i].snap.path, path))
			return &p->files[i];
	return NULL;
}

/* The plan's file for path, read on first use (the snapshot --fix compares against). */
static struct fix_file *file_for(struct fixplan *p, int kind, const char *path, mode_t mode_new,
				 char **err)
{
	struct fix_file *f = find_file(p, path);
	if (f)
		return f;
	struct file_snap s;
	if (file_snap_read(&s, path, err) < 0)
		return NULL;
	f = add_file(p, kind);
	f->snap = s;
	f->text = xstrdup(s.data);
	f->mode_new = mode_new;
	return f;
}

/* Replaces line number lineno (1-based) of text with repl, keeping its indentation. */
static char *replace_line(const char *text, int lineno, const char *repl)
{
	struct strbuf sb = { 0 };
	int n = 1;
	sb_add(&sb, "", 0);
	while (*text) {
		const char *nl = strchr(text, '\n');
		size_t len = nl ? (size_t)(nl - text + 1) : strlen(text);
		if (n == lineno) {
			size_t ind = strspn(text, " \t");
			sb_add(&sb, text, ind);
			/* A CRLF line stays CRLF. */
			int cr = nl && nl > text && nl[-1] == '\r';
			sb_addf(&sb, "%s%s", repl, nl ? (cr ? "\r\n" : "\n") : "");
		} else {
			sb_add(&sb, text, len);
		}
		text += len;
		n++;
	}
	return sb.buf;
}

/* Puts new global lines at the very top, where nothing can come before them. */
static char *insert_top(const char *text, const struct strvec *lines)
{
	struct strbuf sb = { 0 };
	sb_add(&sb, "", 0);
	if (!lines->n)
		return xstrdup(text);
	if (!str_startswith(text, HEADER))
		sb_addf(&sb, "%s\n", HEADER);
	else
		text += strlen(HEADER) + (text[strlen(HEADER)] == '\n');
	for (size_t i = 0; i < lines->n; i++)
		sb_addf(&sb, "%s\n", lines->v[i]);
	if (*text)
		sb_adds(&sb, "\n");
	sb_adds(&sb, text);
	return sb.buf;
}

/* Makes each setting effective in c's files: the winning line, when editable, is
 * rewritten in place; otherwise the setting goes to the top of new_home. */
static int place(struct fixplan *p, int kind, const struct sshconf *c, const struct setting *set,
		 size_t nset, const char *new_home, const char *only_file, char **err)
{
	struct strvec top = { 0 };
	for (size_t i = 0; i < nset; i++) {
		const struct sshconf_line *l = sshconf_effective(c, set[i].key);
		char repl[128];
		snprintf(repl, sizeof(repl), "%s %s", set[i].key, set[i].val);
		if (l && l->line > 0 && (!only_file || !strcmp(l->file, only_file))) {
			struct fix_file *f = file_for(p, kind, l->file, 0600, err);
			if (!f) {
				strvec_clear(&top);
				return -1;
			}
			char *t = replace_line(f->text, l->line, repl);
			free(f->text);
			f->text = t;
		} else {
			strvec_push(&top, repl);
		}
	}
	if (top.n) {
		struct fix_file *f = file_for(p, kind, new_home, kind == FF_CLIENT ? 0600 : 0644, err);
		if (!f) {
			strvec_clear(&top);
			return -1;
		}
		char *t = insert_top(f->text, &top);
		free(f->text);
		f->text = t;
	}
	strvec_clear(&top);
	return 0;
}

/* --- client ------------------------------------------------------------------ */

/* 1 when the ssh options given to us set key with -o (that beats every file). */
static int cmdline_sets(const struct audit_opts *o, const char *key)
{
	size_t kl = strlen(key);
	for (size_t i = 0; o->so && i + 1 < o->so->args.n; i++) {
		const char *a = o->so->args.v[i], *v = o->so->args.v[i + 1];
		if (!strcmp(a, "-o") && !strncasecmp(v, key, kl) && (v[kl] == '=' || v[kl] == ' '))
			return 1;
	}
	return 0;
}

static int plan_client(const struct audit_opts *o, const struct audit_facts *f, struct fixplan *p,
		       char **err)
{
	int iv_ok = f->sai.v > 0 && f->sai.v < f->idle_s;
	long iv = iv_ok ? f->sai.v : p->interval;
	if (iv_ok && !audit_client_countmax_low(f->sai.v, f->sacm.v))
		return 0;
	struct setting set[2];
	size_t n = 0;
	if (!iv_ok) {
		set[n].key = "ServerAliveInterval";
		snprintf(set[n++].val, sizeof(set[0].val), "%ld", iv);
	}
	if (f->sacm.v < 1 || audit_client_countmax_low(iv, f->sacm.v)) {
		set[n].key = "ServerAliveCountMax";
		snprintf(set[n++].val, sizeof(set[0].val), "%ld", audit_prescribed_countmax(iv));
	}
	const char *path = f->client_config;
	if (cmdline_sets(o, "ServerAliveInterval")) {
		strvec_push(&p->notes, "client: -o ServerAliveInterval on the command line wins over "
			    "any file: the client config is not edited");
		return 0;
	}
	struct sshconf c = { 0 };
	const char *home = audit_home_dir();
	const char *env_home = getenv("HOME");
	if (!(o->so && o->so->config) && env_home && strcmp(env_home, home))
		strvec_pushf(&p->notes, "client: editing %s, the file ssh reads (ssh takes ~ from the "
			     "passwd entry, %s, not from $HOME=%s)", path, home, env_home);
	const char *croot = o->so && o->so->config ? NULL : o->root;
	char *rhome = audit_rooted(croot, home);
	struct sshconf_ctx x = { .root = croot, .home = rhome, .host = f->client_host,
				 .user = o->target ? o->target->user : NULL,
				 .localuser = getenv("USER") };
	int rc = 0;
	if (access(path, F_OK) == 0 && sshconf_parse_file(&c, SSHCONF_CLIENT, path, &x, err) < 0)
		rc = -1;
	/* Only the user's own file is edited: a winning line elsewhere (an Include,
	 * the system file) is beaten by a line at the top of it. */
	if (rc == 0)
		rc = place(p, FF_CLIENT, &c, set, n, path, path, err);
	sshconf_free(&c);
	free(rhome);
	return rc;
}

/* --- server ------------------------------------------------------------------ */

static int includes_dropin(const char *text, const char *root, const char *dropin)
{
	int found = 0;
	char *copy = xstrdup(text);
	for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l && !found;
	     l = strtok_r(NULL, "\n", &save)) {
		char *a[16];
		const char *why;
		int n = sshconf_split(l, a, 16, &why);
		if (n > 0 && !strcasecmp(a[0], "match")) {
			for (int i = 0; i < n; i++)
				free(a[i]);
			break;	/* an Include inside a Match is not global */
		}
		for (int i = 1; n > 1 && !strcasecmp(a[0], "include") && i < n; i++) {
			char *pat = a[i][0] == '/' ? audit_rooted(root, a[i])
						   : audit_rooted(root, "/etc/ssh/") ;
			if (a[i][0] != '/') {
				char *full = xasprintf("%s%s", pat, a[i]);
				free(pat);
				pat = full;
			}
			found |= sshconf_match_pattern(dropin, pat, 0);
			free(pat);
		}
		for (int i = 0; i < n; i++)
			free(a[i]);
	}
	free(copy);
	return found;
}

static size_t server_settings(const struct audit_facts *f, long interval, struct setting *set)
{
	size_t n = 0;
	if (f->ngiven) {
		for (; n < f->ngiven && n < MAX_SET; n++) {
			set[n].key = f->given[n].key;
			snprintf(set[n].val, sizeof(set[0].val), "%s", f->given[n].val);
		}
		return n;
	}
	if (f->cai.v <= 0 || f->cai.v >= f->idle_s) {
		set[n].key = "ClientAliveInterval";
		snprintf(set[n++].val, sizeof(set[0].val), "%ld", interval);
	}
	if (f->cacm.v <= 0) {
		set[n].key = "ClientAliveCountMax";
		snprintf(set[n++].val, sizeof(set[0].val), "3");
	}
	if (f->usedns.v == 1) {
		set[n].key = "UseDNS";
		snprintf(set[n++].val, sizeof(set[0].val), "no");
	}
	if (f->logingrace.v == 0 || (f->logingrace.v > 0 && f->logingrace.v < 30)) {
		set[n].key = "LoginGraceTime";
		snprintf(set[n++].val, sizeof(set[0].val), "%s", f->logingrace.v == 0 ? "120" : "60");
	}
	if (f->ms_start.v >= 0 && f->ms_start.v < 10) {
		set[n].key = "MaxStartups";
		snprintf(set[n++].val, sizeof(set[0].val), "10:30:100");
	}
	return n;
}

/* --server-config names a real file (read as `sshd -f FILE` would): no root. */
static const char *server_root(const struct audit_opts *o)
{
	return o->server_config ? NULL : o->root;
}

static char *server_main(const struct audit_opts *o)
{
	return o->server_config ? xstrdup(o->server_config)
				: audit_rooted(o->root, "/etc/ssh/sshd_config");
}

static int plan_server(const struct audit_opts *o, const struct audit_facts *f, struct fixplan *p,
		       char **err)
{
	struct setting set[MAX_SET];
	size_t n = server_settings(f, p->interval, set);
	if (!n || !f->server_known)
		return 0;
	if (o->remote) {
		strvec_push(&p->notes, "--remote: the server is not edited from here; run "
			    "'sshdoctor audit --fix' on it (the fix lines above are exact)");
		return 0;
	}
	char *main_path = server_main(o);
	char *dropin = audit_rooted(o->root, "/etc/ssh/sshd_config.d/" DROPIN_NAME);
	struct sshconf c;
	struct sshconf_ctx x = { .root = server_root(o) };
	audit_server_ctx(f, &x);	/* the line that wins for the diagnosed user */
	struct file_snap ms;
	int rc = -1;
	if (file_snap_read(&ms, main_path, err) < 0)
		goto out;
	if (sshconf_parse_file(&c, SSHCONF_SERVER, main_path, &x, err) < 0) {
		file_snap_free(&ms);
		goto out;
	}
	/* A drop-in only for the system's own file; a --server-config copy is edited itself. */
	const char *home = !o->server_config && includes_dropin(ms.data, o->root, dropin)
			   ? dropin : main_path;
	rc = place(p, FF_SERVER, &c, set, n, home, NULL, err);
	sshconf_free(&c);
	file_snap_free(&ms);
out:
	free(main_path);
	free(dropin);
	return rc;
}

/* --- kernel -------------------------------------------------------------------- */

/* 1 when the plan writes key in a file of kind (so it is fixed after --fix). */
static int plan_sets(const struct fixplan *p, int kind, const char *key)
{
	for (size_t i = 0; i < p->n; i++) {
		if (p->files[i].kind != kind)
			continue;
		char *copy = xstrdup(p->files[i].text);
		int found = 0;
		for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l && !found;
		     l = strtok_r(NULL, "\n", &save)) {
			l += strspn(l, " \t");
			found = !strncasecmp(l, key, strlen(key)) && strchr(" \t=", l[strlen(key)]);
		}
		free(copy);
		if (found && !(p->files[i].snap.exists && !strcmp(p->files[i].text, p->files[i].snap.data)))
			return 1;
	}
	return 0;
}

/* Planned last: the kernel is changed only when, after the client and server
 * edits of this plan, TCPKeepAlive is really the only protection left. */
static int plan_kernel(const struct audit_opts *o, const struct audit_facts *f, struct fixplan *p,
		       char **err)
{
	int client_ok = (f->sai.v > 0 && f->sai.v < f->idle_s) ||
			plan_sets(p, FF_CLIENT, "ServerAliveInterval");
	int server_ok = (f->server_known && f->cai.v > 0 && f->cai.v < f->idle_s) ||
			plan_sets(p, FF_SERVER, "ClientAliveInterval");
	if (!f->kernel_known || f->ka_time < f->idle_s || client_ok || server_ok)
		return 0;
	if (o->no_kernel_fix) {
		strvec_push(&p->notes, "kernel: tcp_keepalive_* left alone (machine-wide); the SSH "
			    "keepalives protect the session");
		return 0;
	}
	if (o->remote) {
		strvec_push(&p->notes, "--remote: the server's kernel is not changed from here");
		return 0;
	}
	char *path = audit_rooted(o->root, SYSCTL_FILE);
	struct fix_file *ff = file_for(p, FF_KERNEL, path, 0644, err);
	free(path);
	if (!ff)
		return -1;
	free(ff->text);
	long i = p->interval;
	ff->text = xasprintf("# sshdoctor audit --fix: TCP keepalive below the path's idle timeout\n"
			     "net.ipv4.tcp_keepalive_time = %ld\n"
			     "net.ipv4.tcp_keepalive_intvl = %ld\n"
			     "net.ipv4.tcp_keepalive_probes = 5\n", i, i < 30 ? i : 30);
	return 0;
}

/* --relay: the flight recorder's lines at the end of the user's own file. */
static int plan_relay(const struct audit_opts *o, const struct audit_facts *f, struct fixplan *p,
		      char **err)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		*err = xasprintf("cannot find sshdoctor's own path: %s", strerror(errno));
		return -1;
	}
	self[n] = '\0';
	const char *host = o->target ? o->target->host : NULL;
	p->relay = 1;
	snprintf(p->relay_host, sizeof(p->relay_host), "%s", host ? host : "");
	const char *home = audit_home_dir();
	const char *croot = o->so && o->so->config ? NULL : o->root;
	char *rhome = audit_rooted(croot, home);
	struct sshconf_ctx x = { .root = croot, .home = rhome, .host = host,
				 .user = o->target ? o->target->user : NULL,
				 .localuser = getenv("USER") };
	struct strbuf block = { 0 };
	int rc = audit_relay_block(f->client_config, &x, host, self, &block, &p->notes, err);
	free(rhome);
	if (rc > 0) {
		struct fix_file *ff = file_for(p, FF_CLIENT, f->client_config, 0600, err);
		if (!ff) {
			rc = -1;
		} else {
			struct strbuf t = { 0 };
			sb_adds(&t, ff->text);
			if (t.len && t.buf[t.len - 1] != '\n')
				sb_adds(&t, "\n");
			sb_adds(&t, block.buf);
			free(ff->text);
			ff->text = t.buf;
		}
	}
	sb_free(&block);
	return rc < 0 ? -1 : 0;
}

int audit_fix_plan(const struct audit_opts *o, const struct audit_facts *f, struct fixplan *p,
		   char **err)
{
	memset(p, 0, sizeof(*p));
	*err = NULL;
	p->interval = audit_prescribed_interval(f->idle_s);
	p->facts = f;
	if (o->relay) {
		if (plan_relay(o, f, p, err) < 0)
			return -1;
	} else if ((!o->server_only && plan_client(o, f, p, err) < 0) ||
		   plan_server(o, f, p, err) < 0 ||
		   (!o->server_only && plan_kernel(o, f, p, err) < 0))
		return -1;
	/* Drop files whose content would not change. */
	for (size_t i = 0; i < p->n;) {
		if (p->files[i].snap.exists && !strcmp(p->files[i].text, p->files[i].snap.data)) {
			file_snap_free(&p->files[i].snap);
			free(p->files[i].text);
			p->files[i] = p->files[--p->n];
		} else {
			i++;
		}
	}
	return 0;
}

char *audit_fix_diff(const struct fixplan *p)
{
	struct strbuf sb = { 0 };
	sb_add(&sb, "", 0);
	for (size_t i = 0; i < p->n; i++) {
		char *d = fileio_diff(p->files[i].snap.path, p->files[i].snap.data, p->files[i].text);
		if (!p->files[i].snap.exists)
			sb_addf(&sb, "# new file %s\n", p->files[i].snap.path);
		sb_adds(&sb, d);
		free(d);
	}
	return sb.buf;
}

int audit_fix_run(const struct audit_opts *o, const struct audit_facts *f, int yes, int reload,
		  struct json_object **out, char **err)
{
	struct json_object *m = json_object_new_object();
	struct fixplan p;
	int rc = audit_fix_plan(o, f, &p, err);
	*out = m;
	if (rc == 0) {
		struct json_object *notes = json_object_new_array();
		for (size_t i = 0; i < p.notes.n; i++)
			json_object_array_add(notes, json_object_new_string(p.notes.v[i]));
		json_object_object_add(m, "notes", notes);
		char *diff = audit_fix_diff(&p);
		json_object_object_add(m, "diff", json_object_new_string(diff));
		free(diff);
	}
	if (rc == 0 && yes) {
		struct strbuf log = { 0 };
		sb_adds(&log, "");
		rc = audit_fix_apply(o, &p, reload, &log, err);
		json_object_object_add(m, "log", json_object_new_string(log.buf));
		sb_free(&log);
	}
	json_object_object_add(m, "applied", json_object_new_boolean(rc == 0 && yes && p.n > 0));
	if (rc < 0)
		json_object_object_add(m, "error", json_object_new_string(*err));
	audit_fix_free(&p);
	return rc;
}

void audit_fix_free(struct fixplan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		file_snap_free(&p->files[i].snap);
		free(p->files[i].text);
	}
	free(p->files);
	strvec_clear(&p->notes);
	memset(p, 0, sizeof(*p));
}

/* --- checks ------------------------------------------------------------------- */

/* The written (or candidate) config must now pass the audit's own client rules. */
static int check_client(const struct audit_opts *o, const char *cfg, const struct fixplan *p,
			char **err)
{
	struct kvlist kv = { 0 };
	if (audit_ssh_g(o, cfg, &kv, err) < 0)
		return -1;
	if (p->relay) {	/* ssh itself must now name the relay, with fd passing */
		const char *pc = kv_get(&kv, "proxycommand");
		const char *fd = kv_get(&kv, "proxyusefdpass");
		int good = pc && strstr(pc, " relay ") && fd && !strcmp(fd, "yes");
		if (!good)
			*err = xasprintf("ssh -G reports ProxyCommand %s, ProxyUseFdpass %s with the "
					 "%s config: nothing changed", pc ? pc : "none",
					 fd ? fd : "no", cfg ? "new" : "written");
		kv_free(&kv);
		return good ? 0 : -1;
	}
	long got = kv_get_long(&kv, "serveraliveinterval", 0);
	long cm = kv_get_long(&kv, "serveralivecountmax", 3);
	kv_free(&kv);
	long idle = p->facts ? p->facts->idle_s : p->interval + 1;
	if (got <= 0 || got >= idle || audit_client_countmax_low(got, cm)) {
		*err = xasprintf("ssh -G reports ServerAliveInterval %ld, ServerAliveCountMax %ld "
				 "with the %s config: nothing changed", got, cm, cfg ? "new" : "written");
		return -1;
	}
	return 0;
}

/* Flattens the server config (with the plan's candidates when use_plan) into a
 * temp file and runs sshd -t and sshd -T on it; the values must be the plan's. */
static int check_server(const struct audit_opts *o, const struct fixplan *p,
			const struct audit_facts *f, int use_plan, char **err)
{
	const char *paths[16], *texts[16];
	size_t nover = 0;
	for (size_t i = 0; use_plan && i < p->n && nover < 16; i++)
		if (p->files[i].kind == FF_SERVER) {
			paths[nover] = p->files[i].snap.path;
			texts[nover++] = p->files[i].text;
		}
	if (use_plan && !nover)
		return 0;
	char *main_path = server_main(o);
	struct sshconf c;
	struct sshconf_ctx x = { .root = server_root(o), .over_path = paths, .over_text = texts,
				 .nover = nover };
	int rc = -1;
	if (sshconf_parse_file(&c, SSHCONF_SERVER, main_path, &x, err) < 0) {
		free(main_path);
		return -1;
	}
	char *flat = sshconf_flatten(&c, server_root(o));
	sshconf_free(&c);
	char dir[] = "/tmp/sshdoctor-fix-XXXXXX";
	if (!mkdtemp(dir)) {
		*err = xasprintf("mkdtemp: %s", strerror(errno));
		goto out;
	}
	char *tmp = xasprintf("%s/sshd_config", dir);
	char *hk = xasprintf("%s/hostkey", dir);
	/* The check is about the config, not about this machine's host keys (an
	 * image may have none yet): one throwaway key makes sshd -t able to run. */
	char *kg[] = { (char *)"ssh-keygen", (char *)"-q", (char *)"-N", (char *)"", (char *)"-t",
		       (char *)"ed25519", (char *)"-f", hk, NULL };
	struct strbuf ko = { 0 }, ke = { 0 };
	int kst = -1;
	if (proc_capture(kg, NULL, &ko, &ke, 10000, &kst) < 0 || kst != 0)
		verbose("ssh-keygen for the check failed: %s", ke.buf ? ke.buf : "");
	sb_free(&ko);
	sb_free(&ke);
	FILE *fp = fopen(tmp, "we");
	if (fp && kst == 0)
		fprintf(fp, "HostKey \"%s\"\n", hk);
	int wok = fp && fputs(flat, fp) >= 0;
	if (fp && fclose(fp) != 0)
		wok = 0;
	if (!wok) {
		*err = xasprintf("%s: cannot write", tmp);
	} else {
		char *t[] = { (char *)audit_sshd_binary(), (char *)"-t", (char *)"-f", tmp, NULL };
		char *spec = (char *)f->server_user;	/* as the diagnosed user sees it */
		char *T[] = { (char *)audit_sshd_binary(), (char *)"-T", (char *)"-f", tmp,
			      *spec ? (char *)"-C" : NULL, spec, NULL };
		struct strbuf out = { 0 }, e = { 0 };
		int st = -1;
		if (proc_capture(t, NULL, &out, &e, 10000, &st) < 0 || st != 0) {
			char *l = xstrndup(e.buf ? e.buf : "", strcspn(e.buf ? e.buf : "", "\n"));
			*err = xasprintf("sshd -t rejects the %s server config (%s): nothing changed",
					 use_plan ? "new" : "written", *l ? l : "no message");
			free(l);
		} else {
			sb_reset(&out);
			sb_reset(&e);
			if (proc_capture(T, NULL, &out, &e, 10000, &st) == 0 && st == 0) {
				struct kvlist kv = { 0 };
				struct setting set[MAX_SET];
				size_t n = server_settings(f, p->interval, set);
				kv_parse(&kv, out.buf);
				rc = 0;
				for (size_t i = 0; i < n && rc == 0; i++) {
					const char *got = kv_get(&kv, set[i].key);
					long want_t = sshconf_time(set[i].val);
					long got_t = got ? sshconf_time(got) : -2;
					if (!got || (strcasecmp(got, set[i].val) && want_t != got_t)) {
						*err = xasprintf("sshd -T reports %s %s, not %s: nothing changed",
								 set[i].key, got ? got : "(none)", set[i].val);
						rc = -1;
					}
				}
				kv_free(&kv);
			} else {
				*err = xasprintf("sshd -T failed on the new server config");
			}
		}
		sb_free(&out);
		sb_free(&e);
	}
	unlink(tmp);
	unlink(hk);
	char *hkpub = xasprintf("%s.pub", hk);
	unlink(hkpub);
	free(hkpub);
	free(hk);
	rmdir(dir);
	free(tmp);
out:
	free(flat);
	free(main_path);
	return rc;
}

/* --- apply -------------------------------------------------------------------- */

static int has_kind(const struct fixplan *p, int kind)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->files[i].kind == kind)
			return 1;
	return 0;
}

static void reload_sshd(const struct audit_opts *o, struct strbuf *log)
{
	char *main_path = server_main(o);
	char *argv[] = { (char *)audit_sshd_binary(), (char *)"-T", (char *)"-f", main_path, NULL };
	struct strbuf out = { 0 }, e = { 0 };
	int st;
	if (proc_capture(argv, NULL, &out, &e, 10000, &st) == 0 && st == 0) {
		struct kvlist kv = { 0 };
		kv_parse(&kv, out.buf);
		const char *pidfile = kv_get(&kv, "pidfile");
		FILE *fp = pidfile ? fopen(pidfile, "re") : NULL;
		long pid = 0;
		if (fp && fscanf(fp, "%ld", &pid) == 1 && pid > 1 && kill((pid_t)pid, SIGHUP) == 0)
			sb_addf(log, "reloaded sshd (pid %ld, SIGHUP)\n", pid);
		else
			sb_addf(log, "sshd not reloaded: no running sshd found via %s\n",
				pidfile ? pidfile : "its PidFile");
		if (fp)
			fclose(fp);
		kv_free(&kv);
	}
	sb_free(&out);
	sb_free(&e);
	free(main_path);
}

static const char *const ka_names[] = { "tcp_keepalive_time", "tcp_keepalive_intvl",
					"tcp_keepalive_probes" };

static void read_live(const char *name, char *out, size_t n)
{
	char *path = xasprintf("/proc/sys/net/ipv4/%s", name);
	FILE *fp = fopen(path, "re");
	out[0] = '\0';
	if (fp) {
		if (!fgets(out, (int)n, fp))
			out[0] = '\0';
		fclose(fp);
	}
	out[strcspn(out, "\n")] = '\0';
	free(path);
}

/* sysctl -p of our file; the live values it changed go into the manifest so
 * --undo can put them back. */
static void apply_sysctl(const struct fixplan *p, struct changeset *cs, struct strbuf *log)
{
	for (size_t i = 0; i < p->n; i++) {
		if (p->files[i].kind != FF_KERNEL)
			continue;
		char before[3][32], after[32];
		for (int k = 0; k < 3; k++)
			read_live(ka_names[k], before[k], sizeof(before[k]));
		char *argv[] = { (char *)"sysctl", (char *)"-q", (char *)"-p", p->files[i].snap.path, NULL };
		struct strbuf out = { 0 }, e = { 0 };
		int st = -1;
		if (proc_capture(argv, NULL, &out, &e, 10000, &st) == 0 && st == 0)
			sb_addf(log, "applied %s\n", p->files[i].snap.path);
		else
			sb_addf(log, "could not apply %s (sysctl -p): %s", p->files[i].snap.path,
				e.buf && *e.buf ? e.buf : "\n");
		for (int k = 0; k < 3; k++) {
			read_live(ka_names[k], after, sizeof(after));
			char *name = xasprintf("net.ipv4.%s", ka_names[k]);
			char *err = NULL;
			if (*before[k] && strcmp(before[k], after) &&
			    changeset_record_sysctl(cs, name, before[k], after, &err) < 0) {
				sb_addf(log, "warning: could not record %s = %s for --undo: %s\n", name,
					before[k], err);
			}
			free(err);
			free(name);
		}
		sb_free(&out);
		sb_free(&e);
	}
}

static const char *role_of(int kind)
{
	return kind == FF_CLIENT ? "client" : kind == FF_SERVER ? "server" : "kernel";
}

/* A file the user named (-F, --server-config) rather than one --fix found. */
static int explicit_file(const struct audit_opts *o, const struct fix_file *ff)
{
	if (ff->kind == FF_CLIENT)
		return o->so && o->so->config && !strcmp(ff->snap.path, o->so->config);
	if (ff->kind == FF_SERVER)
		return o->server_config && !strcmp(ff->snap.path, o->server_config);
	return 0;
}

/* Rolls the set back; says exactly what is left when that fails. */
static void rollback(struct changeset *cs, struct strbuf *log)
{
	char *e2 = NULL;
	struct strbuf rl = { 0 };
	sb_adds(&rl, "");
	if (changeset_rollback(cs, &rl, &e2) == 0)
		sb_adds(log, "rolled back: every file is as it was\n");
	else
		sb_addf(log, "%sROLLBACK INCOMPLETE: %s; run 'sshdoctor audit --undo %s' after "
			"fixing the cause\n", rl.buf, e2 ? e2 : "?", cs->id);
	sb_free(&rl);
	free(e2);
	changeset_free(cs);
}

int audit_fix_apply(const struct audit_opts *o, struct fixplan *p, int reload, struct strbuf *log,
		    char **err)
{
	*err = NULL;
	if (!p->n) {
		sb_adds(log, "nothing to change\n");
		return 0;
	}
	/* 0. As root, only files --fix would choose (and undo will accept). */
	for (size_t i = 0; geteuid() == 0 && i < p->n; i++)
		if (!fileio_path_plausible(role_of(p->files[i].kind), explicit_file(o, &p->files[i]),
					   p->files[i].snap.path)) {
			*err = xasprintf("%s: not a file sshdoctor --fix edits as root; nothing changed",
					 p->files[i].snap.path);
			return -1;
		}
	/* 1. Prove the candidates before anything is moved into place. */
	for (size_t i = 0; i < p->n; i++) {
		if (p->files[i].kind != FF_CLIENT)
			continue;
		char *tmp = fileio_temp_beside(p->files[i].snap.path, p->files[i].text,
					       strlen(p->files[i].text), err);
		if (!tmp)
			return -1;
		int rc = check_client(o, tmp, p, err);
		unlink(tmp);
		free(tmp);
		if (rc < 0)
			return -1;
	}
	const struct audit_facts *f = p->facts;
	if (has_kind(p, FF_SERVER) && check_server(o, p, f, 1, err) < 0)
		return -1;

	/* 2. Write everything as one change set. Ctrl-C and SIGTERM wait until the
	 * set is complete or rolled back (they are delivered right after). */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	sigprocmask(SIG_BLOCK, &block, &old);
	int rc = -1;
	struct changeset cs;
	if (changeset_begin(&cs, "audit --fix", err) < 0)
		goto out;
	for (size_t i = 0; i < p->n; i++) {
		struct fix_file *ff = &p->files[i];
		if (changeset_write_as(&cs, &ff->snap, ff->text, strlen(ff->text), ff->mode_new,
				       role_of(ff->kind), explicit_file(o, ff), err) < 0) {
			rollback(&cs, log);
			goto out;
		}
		sb_addf(log, "%s %s\n", ff->snap.exists ? "changed" : "created", ff->snap.path);
	}

	/* 3. Check what is on disk now; anything wrong puts every file back. */
	int bad = 0;
	if (has_kind(p, FF_CLIENT) && check_client(o, NULL, p, err) < 0)
		bad = 1;
	if (!bad && has_kind(p, FF_SERVER) && check_server(o, p, f, 0, err) < 0)
		bad = 1;
	if (bad) {
		rollback(&cs, log);
		goto out;
	}
	sb_addf(log, "verified: %s the new values; undo with 'sshdoctor audit --undo'\n",
		has_kind(p, FF_SERVER) ? (has_kind(p, FF_CLIENT) ? "ssh -G and sshd -T show" : "sshd -T shows")
		: has_kind(p, FF_CLIENT) ? "ssh -G shows" : "the files hold");

	/* 4. Make the kernel use them (recorded in the set for --undo). */
	if (has_kind(p, FF_KERNEL)) {
		if (o->root)
			sb_adds(log, "sysctl not applied under --root\n");
		else
			apply_sysctl(p, &cs, log);
	}
	if (changeset_end(&cs, err) < 0)
		goto out;
	rc = 0;
	/* 5. And a running sshd. */
	if (has_kind(p, FF_SERVER)) {
		if (reload && !server_root(o))
			reload_sshd(o, log);
		else
			sb_addf(log, "sshd not reloaded%s: new sessions get the new values after a "
				"reload (--reload)\n", server_root(o) ? " under --root" : "");
	}
out:
	sigprocmask(SIG_SETMASK, &old, NULL);
	return rc;
}

int audit_undo(const char *id, struct strbuf *log, char **err)
{
	*err = NULL;
	return fileio_undo(id, log, err);
}

int audit_undo_list(struct strbuf *out, char **err)
{
	*err = NULL;
	return fileio_undo_list(out, err);
}
