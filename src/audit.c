/* audit.c - probes (ssh -G, sshd -T, our parser, sysctls, stored idle result)
 * and the pure analyser that turns them into findings. */
#include "audit.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "idle.h"
#include "log.h"
#include "proc.h"
#include "sshconf_parse.h"
#include "state.h"

#define GENERIC_HOST "sshdoctor-generic-host"
#define MAX_IDENTITY_FILES 64

static void set_val(struct audit_val *a, long v, const char *origin)
{
	a->v = v;
	snprintf(a->origin, sizeof(a->origin), "%s", origin);
}

/* "yes"/"no" and friends as 1/0; -1 when it is neither. */
static long yesno(const char *s)
{
	if (!s)
		return -1;
	if (!strcasecmp(s, "yes") || !strcasecmp(s, "true"))
		return 1;
	if (!strcasecmp(s, "no") || !strcasecmp(s, "false"))
		return 0;
	return -1;
}

/* "OpenSSH_9.2p1 Debian..." -> 9, 2 (both -1 when not found). */
static void parse_version(const char *s, int *major, int *minor)
{
	const char *p = s ? strstr(s, "OpenSSH_") : NULL;
	*major = *minor = -1;
	if (p && sscanf(p + 8, "%d.%d", major, minor) != 2)
		*major = *minor = -1;
}

static char *first_line(const char *s)
{
	return xstrndup(s, strcspn(s, "\r\n"));
}

char *audit_rooted(const char *root, const char *path)
{
	if (!root || !*root || !strcmp(root, "/"))
		return xstrdup(path);
	return xasprintf("%s%s", root, path);
}

const char *audit_sshd_binary(void)
{
	return access("/usr/sbin/sshd", X_OK) == 0 ? "/usr/sbin/sshd" : "sshd";
}

static char *tool_version(const char *tool)
{
	char *argv[] = { (char *)tool, (char *)"-V", NULL };
	struct strbuf out = { 0 }, err = { 0 };
	int st;
	char *v = NULL;
	if (proc_capture(argv, NULL, &out, &err, 5000, &st) == 0) {
		const char *text = err.len ? err.buf : out.buf;
		const char *p = text ? strstr(text, "OpenSSH_") : NULL;
		if (p)
			v = first_line(p);
	}
	sb_free(&out);
	sb_free(&err);
	return v;
}

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

/* --- client ------------------------------------------------------------------ */

static const char *home_dir(void)
{
	const char *h = getenv("HOME");
	return h && *h ? h : "/";
}

/* The file --fix edits: -F, else ~/.ssh/config (under --root). */
char *audit_client_config_path(const struct audit_opts *o)
{
	if (o->so && o->so->config)
		return xstrdup(o->so->config);
	char *p = xasprintf("%s/.ssh/config", home_dir());
	char *r = audit_rooted(o->root, p);
	free(p);
	return r;
}

/* argv of `ssh -G` for the audited host, with cfg in place of the user's config
 * when given (the candidate file during --fix). */
static void audit_ssh_g_argv(const struct audit_opts *o, const char *cfg, struct strvec *argv)
{
	char *path = audit_client_config_path(o);
	strvec_push(argv, "ssh");
	strvec_push(argv, "-G");
	const char *use = cfg;
	/* Under --root the real ~/.ssh/config must not be read. */
	if (!use && o->root && !(o->so && o->so->config))
		use = access(path, F_OK) == 0 ? path : "/dev/null";
	if (use) {
		strvec_push(argv, "-F");
		strvec_push(argv, use);
	}
	if (o->so) {
		for (size_t i = 0; i < o->so->args.n; i++) {
			/* a replaced -F is dropped with its argument */
			if (use && !strcmp(o->so->args.v[i], "-F") && i + 1 < o->so->args.n) {
				i++;
				continue;
			}
			strvec_push(argv, o->so->args.v[i]);
		}
	}
	if (o->target) {
		if (o->target->port) {
			strvec_push(argv, "-p");
			strvec_pushf(argv, "%d", o->target->port);
		}
		if (o->target->user) {
			strvec_push(argv, "-l");
			strvec_push(argv, o->target->user);
		}
		strvec_push(argv, o->target->host);
	} else {
		strvec_push(argv, GENERIC_HOST);
	}
	free(path);
}

int audit_ssh_g(const struct audit_opts *o, const char *cfg, struct kvlist *kv, char **err)
{
	struct strvec argv = { 0 };
	struct strbuf out = { 0 }, e = { 0 };
	int st = -1, rc = 0;
	audit_ssh_g_argv(o, cfg, &argv);
	if (proc_capture(argv.v, NULL, &out, &e, 10000, &st) < 0 || st != 0) {
		char *l = first_line(e.buf ? e.buf : "");
		*err = xasprintf("ssh -G failed: %s", *l ? l : "could not run ssh");
		free(l);
		rc = -1;
	} else {
		kv_parse(kv, out.buf);
	}
	strvec_clear(&argv);
	sb_free(&out);
	sb_free(&e);
	return rc;
}

/* Our parser over the files ssh -G read, for file:line origins. */
static void client_origins(const struct audit_opts *o, struct audit_facts *f, const struct kvlist *kv)
{
	struct sshconf c[2];
	int nc = 0;
	/* -F names a real file whose Includes ssh reads literally: no root then. */
	const char *croot = o->so && o->so->config ? NULL : o->root;
	char *home = audit_rooted(croot, home_dir());
	struct sshconf_ctx x = { .root = croot, .home = home, .host = f->client_host,
				 .user = o->target ? o->target->user : NULL,
				 .localuser = getenv("USER") };
	char *err = NULL;
	if (access(f->client_config, R_OK) == 0) {
		if (sshconf_parse_file(&c[nc], SSHCONF_CLIENT, f->client_config, &x, &err) == 0)
			nc++;
		else
			verbose("%s", err);
		free(err);
		err = NULL;
	}
	if (!(o->so && o->so->config) && !o->root) {
		if (sshconf_parse_file(&c[nc], SSHCONF_CLIENT, "/etc/ssh/ssh_config", &x, &err) == 0)
			nc++;
		free(err);
	}
	struct { const char *key; struct audit_val *v; } keys[] = {
		{ "serveraliveinterval", &f->sai }, { "serveralivecountmax", &f->sacm },
		{ "tcpkeepalive", &f->c_tcpka }, { "identitiesonly", &f->identities_only },
	};
	for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
		const struct sshconf_line *l = NULL;
		for (int i = 0; i < nc && !l; i++)
			l = sshconf_effective(&c[i], keys[k].key);
		const char *eff = kv_get(kv, keys[k].key);
		if (l && eff && !strcasecmp(l->val, eff))
			snprintf(keys[k].v->origin, sizeof(keys[k].v->origin), "%s:%d", l->file, l->line);
		else if (l)	/* our reading disagrees (e.g. -o on the command line) */
			snprintf(keys[k].v->origin, sizeof(keys[k].v->origin), "ssh -G");
	}
	for (int i = 0; i < nc; i++)
		sshconf_free(&c[i]);
	free(home);
}

/* "SHA256:..." fingerprints, one per line of `ssh-add -l` / `ssh-keygen -lf`. */
static void fingerprints(char *const argv[], struct strvec *fps)
{
	struct strbuf out = { 0 }, e = { 0 };
	int st;
	if (proc_capture(argv, NULL, &out, &e, 5000, &st) == 0 && st == 0 && out.buf) {
		char *save = NULL;
		for (char *l = strtok_r(out.buf, "\n", &save); l && fps->n < 1000;
		     l = strtok_r(NULL, "\n", &save)) {
			char fp[128];
			if (sscanf(l, "%*d %127s", fp) == 1)
				strvec_push(fps, fp);
		}
	}
	sb_free(&out);
	sb_free(&e);
}

/* Distinct keys ssh would offer: agent keys plus IdentityFiles that exist. */
static int count_keys(const struct kvlist *kv)
{
	struct strvec fps = { 0 };
	char *agent[] = { (char *)"ssh-add", (char *)"-l", NULL };
	if (getenv("SSH_AUTH_SOCK") && yesno(kv_get(kv, "identitiesonly")) != 1)
		fingerprints(agent, &fps);
	size_t files = 0;
	for (size_t i = 0; i < kv->keys.n && files < MAX_IDENTITY_FILES; i++) {
		if (strcmp(kv->keys.v[i], "identityfile"))
			continue;
		const char *v = kv->vals.v[i];
		char *path = v[0] == '~' ? xasprintf("%s%s", home_dir(), v + 1) : xstrdup(v);
		if (access(path, R_OK) == 0) {
			struct strvec one = { 0 };
			char *pub = xasprintf("%s.pub", path);
			char *kg[] = { (char *)"ssh-keygen", (char *)"-lf",
				       access(pub, R_OK) == 0 ? pub : path, NULL };
			fingerprints(kg, &one);
			int dup = 0;
			for (size_t k = 0; one.n && k < fps.n; k++)
				dup |= !strcmp(fps.v[k], one.v[0]);
			if (!dup)
				strvec_push(&fps, one.n ? one.v[0] : path);
			strvec_clear(&one);
			free(pub);
			files++;
		}
		free(path);
	}
	int n = (int)fps.n;
	strvec_clear(&fps);
	return n;
}

static int gather_client(const struct audit_opts *o, struct audit_facts *f, char **err)
{
	struct kvlist kv = { 0 };
	char *p = audit_client_config_path(o);
	snprintf(f->client_config, sizeof(f->client_config), "%s", p);
	free(p);
	snprintf(f->client_host, sizeof(f->client_host), "%s", o->target ? o->target->host : GENERIC_HOST);
	char *v = tool_version("ssh");
	if (v) {
		snprintf(f->client_version, sizeof(f->client_version), "%s", v);
		parse_version(v, &f->cmajor, &f->cminor);
		free(v);
	}
	if (audit_ssh_g(o, NULL, &kv, err) < 0)
		return -1;
	f->client_known = 1;
	set_val(&f->sai, kv_get_long(&kv, "serveraliveinterval", 0), "default");
	set_val(&f->sacm, kv_get_long(&kv, "serveralivecountmax", 3), "default");
	set_val(&f->c_tcpka, yesno(kv_get(&kv, "tcpkeepalive")), "default");
	set_val(&f->identities_only, yesno(kv_get(&kv, "identitiesonly")) == 1, "default");
	client_origins(o, f, &kv);
	f->nkeys = count_keys(&kv);
	kv_free(&kv);
	return 0;
}

/* --- server ------------------------------------------------------------------ */

static void server_from_kv(struct audit_facts *f, const struct kvlist *kv, const char *origin)
{
	long a = 10, b = 30, c = 100;
	const char *ms = kv_get(kv, "maxstartups");
	if (ms && sscanf(ms, "%ld:%ld:%ld", &a, &b, &c) != 3)
		a = b = c = -1;
	set_val(&f->cai, kv_get_long(kv, "clientaliveinterval", 0), origin);
	set_val(&f->cacm, kv_get_long(kv, "clientalivecountmax", 3), origin);
	set_val(&f->s_tcpka, kv_get(kv, "tcpkeepalive") ? yesno(kv_get(kv, "tcpkeepalive")) : 1, origin);
	set_val(&f->usedns, kv_get(kv, "usedns") ? yesno(kv_get(kv, "usedns")) : 0, origin);
	set_val(&f->logingrace, kv_get_long(kv, "logingracetime", 120), origin);
	set_val(&f->maxauthtries, kv_get_long(kv, "maxauthtries", 6), origin);
	set_val(&f->ms_start, a, origin);
	set_val(&f->ms_rate, b, origin);
	set_val(&f->ms_full, c, origin);
	f->exposed = 0;
	for (size_t i = 0; i < kv->keys.n; i++)
		if (!strcmp(kv->keys.v[i], "listenaddress") &&
		    !str_startswith(kv->vals.v[i], "127.") && !str_startswith(kv->vals.v[i], "[::1]") &&
		    !str_startswith(kv->vals.v[i], "::1") && !str_startswith(kv->vals.v[i], "localhost"))
			f->exposed = 1;
	if (!kv_get(kv, "listenaddress"))
		f->exposed = 1;	/* no ListenAddress: every address */
	f->server_known = 1;
}

/* The parser's lines as a kvlist in `sshd -T` form (defaults filled, times in seconds). */
static void sshconf_to_kv(const struct sshconf *c, struct kvlist *kv)
{
	static const char *const keys[] = { "clientaliveinterval", "clientalivecountmax", "tcpkeepalive",
					    "usedns", "logingracetime", "maxauthtries", "maxstartups" };
	for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
		const struct sshconf_line *l = sshconf_effective(c, keys[k]);
		if (!l)
			continue;
		char *v = xstrndup(l->val, strcspn(l->val, " "));
		if (!strcmp(keys[k], "clientaliveinterval") || !strcmp(keys[k], "logingracetime")) {
			char *n = xasprintf("%ld", sshconf_time(v));
			free(v);
			v = n;
		} else if (!strcmp(keys[k], "maxstartups") && !strchr(v, ':')) {
			char *n = xasprintf("%s:30:%s", v, v);	/* sshd: "N" means N:30:N */
			free(v);
			v = n;
		}
		kv_add(kv, keys[k], v);
		free(v);
	}
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].active && c->v[i].block == 0 && !strcmp(c->v[i].key, "listenaddress"))
			kv_add(kv, "listenaddress", c->v[i].val);
}

/* file:line for every value our parser can place. */
static void server_origins(struct audit_facts *f, const struct sshconf *c)
{
	struct { const char *key; struct audit_val *v; } keys[] = {
		{ "clientaliveinterval", &f->cai }, { "clientalivecountmax", &f->cacm },
		{ "tcpkeepalive", &f->s_tcpka }, { "usedns", &f->usedns },
		{ "logingracetime", &f->logingrace }, { "maxauthtries", &f->maxauthtries },
		{ "maxstartups", &f->ms_start },
	};
	for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
		const struct sshconf_line *l = sshconf_effective(c, keys[k].key);
		if (l)
			snprintf(keys[k].v->origin, sizeof(keys[k].v->origin), "%s:%d", l->file, l->line);
		else
			snprintf(keys[k].v->origin, sizeof(keys[k].v->origin), "default");
	}
}

static int gather_server_local(const struct audit_opts *o, struct audit_facts *f, char **err)
{
	char *path = o->server_config ? xstrdup(o->server_config)
				      : audit_rooted(o->root, "/etc/ssh/sshd_config");
	snprintf(f->server_config, sizeof(f->server_config), "%s", path);
	if (!o->server_config && access(path, R_OK) != 0) {
		verbose("%s not readable: no local sshd to audit", path);
		free(path);
		return 0;
	}
	struct sshconf c;
	/* --server-config names a real file, read as `sshd -f FILE` would. */
	const char *sroot = o->server_config ? NULL : o->root;
	struct sshconf_ctx x = { .root = sroot };
	char *perr = NULL;
	int parsed = sshconf_parse_file(&c, SSHCONF_SERVER, path, &x, &perr) == 0;
	char *v = tool_version(audit_sshd_binary());
	if (v) {
		snprintf(f->server_version, sizeof(f->server_version), "%s", v);
		parse_version(v, &f->smajor, &f->sminor);
		free(v);
	}
	/* sshd itself is the authority, but under --root it would read this
	 * machine's Include files, so there only our parser is right. */
	int done = 0;
	if (!sroot) {
		char *argv[] = { (char *)audit_sshd_binary(), (char *)"-T", (char *)"-f", path, NULL };
		struct strbuf out = { 0 }, e = { 0 };
		int st;
		if (proc_capture(argv, NULL, &out, &e, 10000, &st) == 0 && st == 0) {
			struct kvlist kv = { 0 };
			kv_parse(&kv, out.buf);
			server_from_kv(f, &kv, "sshd -T");
			kv_free(&kv);
			snprintf(f->server_source, sizeof(f->server_source), "sshd -T");
			done = 1;
		} else {
			char *l = first_line(e.buf ? e.buf : "");
			verbose("sshd -T -f %s failed (%s): using our own parser", path, l);
			free(l);
		}
		sb_free(&out);
		sb_free(&e);
	}
	if (!done && !parsed) {
		*err = perr;
		free(path);
		return -1;
	}
	if (!done) {
		struct kvlist kv = { 0 };
		sshconf_to_kv(&c, &kv);
		server_from_kv(f, &kv, "default");
		kv_free(&kv);
		snprintf(f->server_source, sizeof(f->server_source), "file");
	}
	if (parsed) {
		server_origins(f, &c);
		sshconf_free(&c);
	} else {
		verbose("%s", perr);
	}
	free(perr);
	free(path);
	return 0;
}

/* --- kernel ------------------------------------------------------------------- */

static long read_sysctl(const char *root, const char *name)
{
	char *rel = xasprintf("/proc/sys/net/ipv4/%s", name);
	char *path = audit_rooted(root, rel);
	if (access(path, R_OK) != 0) {	/* an image usually has no /proc: read ours */
		free(path);
		path = xstrdup(rel);
	}
	FILE *fp = fopen(path, "re");
	long v = -1;
	if (fp) {
		if (fscanf(fp, "%ld", &v) != 1)
			v = -1;
		fclose(fp);
	}
	free(path);
	free(rel);
	return v;
}

static void gather_kernel(const struct audit_opts *o, struct audit_facts *f)
{
	f->ka_time = read_sysctl(o->root, "tcp_keepalive_time");
	f->ka_intvl = read_sysctl(o->root, "tcp_keepalive_intvl");
	f->ka_probes = read_sysctl(o->root, "tcp_keepalive_probes");
	f->retries2 = read_sysctl(o->root, "tcp_retries2");
	f->mtu_probing = read_sysctl(o->root, "tcp_mtu_probing");
	f->kernel_known = f->ka_time >= 0;
}

/* --- remote -------------------------------------------------------------------- */

/* Runs on TARGET through `sh -s`: everything in one ssh connection. */
static const char remote_script[] =
	"S=$(command -v sshd 2>/dev/null || echo /usr/sbin/sshd); [ -x \"$S\" ] || S=/usr/sbin/sshd\n"
	"F=\"$SSHDOCTOR_CFG\"\n"
	"A=${SSH_CLIENT%% *}; U=$(id -un)\n"
	"echo \"@@version $($S -V 2>&1 | grep OpenSSH | head -n 1)\"\n"
	"for k in tcp_keepalive_time tcp_keepalive_intvl tcp_keepalive_probes tcp_retries2 "
	"tcp_mtu_probing; do echo \"@@sysctl $k $(cat /proc/sys/net/ipv4/$k 2>/dev/null)\"; done\n"
	"if [ \"$(id -u)\" = 0 ]; then P=; elif sudo -n true </dev/null 2>/dev/null; then P='sudo -n'; else P=no; fi\n"
	"if [ \"$P\" != no ]; then echo \"@@sshdT $P\"; $P $S -T -f \"$F\" -C \"user=$U,host=$A,addr=$A\" </dev/null 2>&1;"
	" echo \"@@rc $?\"; fi\n"
	"if [ -r \"$F\" ]; then echo @@file; cat \"$F\"; else echo \"@@nofile $F\"; fi\n";

static int gather_remote(const struct audit_opts *o, struct audit_facts *f, char **err)
{
	struct strvec argv = { 0 };
	struct strbuf out = { 0 }, e = { 0 };
	int st = -1;
	const char *cfg = o->server_config ? o->server_config : "/etc/ssh/sshd_config";
	strvec_push(&argv, "ssh");
	strvec_push(&argv, "-o");
	strvec_push(&argv, "BatchMode=yes");
	target_ssh_args(o->target, o->so, &argv);
	strvec_pushf(&argv, "SSHDOCTOR_CFG='%s' exec sh -s", cfg);
	if (strchr(cfg, '\'')) {
		*err = xasprintf("--server-config: quotes are not allowed in a remote path");
		strvec_clear(&argv);
		return -1;
	}
	snprintf(f->server_config, sizeof(f->server_config), "%s:%s", o->target->host, cfg);
	if (proc_capture(argv.v, remote_script, &out, &e, 30000, &st) < 0 || st != 0) {
		char *l = first_line(e.buf ? e.buf : "");
		*err = xasprintf("--remote: ssh %s failed: %s", o->target->host, *l ? l : "no output");
		free(l);
		strvec_clear(&argv);
		sb_free(&out);
		sb_free(&e);
		return -1;
	}
	int rc = audit_parse_remote(out.buf ? out.buf : "", f, err);
	strvec_clear(&argv);
	sb_free(&out);
	sb_free(&e);
	return rc;
}

int audit_parse_remote(const char *text, struct audit_facts *f, char **err)
{
	struct strbuf sshd_t = { 0 }, file = { 0 };
	int section = 0, sshd_rc = -1, have_file = 0;
	sb_add(&sshd_t, "", 0);
	sb_add(&file, "", 0);
	char *copy = xstrdup(text);
	char *save = NULL;
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char name[64];
		long v;
		if (section == 2) {	/* the file comes last: its lines are never markers */
			sb_addf(&file, "%s\n", l);
		} else if (str_startswith(l, "@@version ")) {
			snprintf(f->server_version, sizeof(f->server_version), "%s", l + 10);
			parse_version(l, &f->smajor, &f->sminor);
		} else if (sscanf(l, "@@sysctl %63s %ld", name, &v) == 2) {
			if (!strcmp(name, "tcp_keepalive_time")) f->ka_time = v;
			else if (!strcmp(name, "tcp_keepalive_intvl")) f->ka_intvl = v;
			else if (!strcmp(name, "tcp_keepalive_probes")) f->ka_probes = v;
			else if (!strcmp(name, "tcp_retries2")) f->retries2 = v;
			else if (!strcmp(name, "tcp_mtu_probing")) f->mtu_probing = v;
		} else if (str_startswith(l, "@@sshdT")) {
			section = 1;
		} else if (sscanf(l, "@@rc %d", &sshd_rc) == 1) {
			section = 0;
		} else if (!strcmp(l, "@@file")) {
			section = 2;
			have_file = 1;
		} else if (section == 1) {
			sb_addf(&sshd_t, "%s\n", l);
		}
	}
	free(copy);
	f->kernel_known = f->ka_time >= 0;
	int rc = 0;
	if (sshd_rc == 0) {
		struct kvlist kv = { 0 };
		kv_parse(&kv, sshd_t.buf);
		server_from_kv(f, &kv, "remote sshd -T");
		kv_free(&kv);
		snprintf(f->server_source, sizeof(f->server_source), "remote sshd -T -C");
	}
	/* The file: origins, or the values themselves when sshd -T was not allowed.
	 * Its Include lines name remote files, which we cannot follow from here. */
	struct sshconf c;
	struct sshconf_ctx x = { .no_include = 1 };
	char *perr = NULL;
	if (!have_file) {
		if (sshd_rc != 0) {
			*err = xasprintf("--remote: %s: neither sshd -T (needs root or sudo -n) nor "
					 "the file could be read", f->server_config);
			rc = -1;
		}
	} else if (sshconf_parse_text(&c, SSHCONF_SERVER, f->server_config, file.buf, &x, &perr) == 0) {
		if (sshd_rc != 0) {
			struct kvlist kv = { 0 };
			sshconf_to_kv(&c, &kv);
			server_from_kv(f, &kv, "default");
			kv_free(&kv);
			snprintf(f->server_source, sizeof(f->server_source),
				 "remote file (no sudo; Include not followed)");
		}
		server_origins(f, &c);
		sshconf_free(&c);
	} else if (sshd_rc != 0) {
		*err = perr;
		perr = NULL;
		rc = -1;
	}
	free(perr);
	sb_free(&sshd_t);
	sb_free(&file);
	return rc;
}

/* --- idle timeout -------------------------------------------------------------- */

static void gather_idle(const struct audit_opts *o, struct audit_facts *f, const struct kvlist *kv)
{
	if (o->idle_timeout_s > 0) {
		f->idle_s = o->idle_timeout_s;
		f->idle_source = "given";
		return;
	}
	f->idle_s = AUDIT_ASSUMED_IDLE_S;
	f->idle_source = "assumed";
	if (!o->target || !kv)
		return;
	const char *hn = kv_get(kv, "hostname"), *user = kv_get(kv, "user");
	char *key = state_key(hn, (int)kv_get_long(kv, "port", 22), user);
	char *name = xasprintf("%s.json", key);	/* as `sshdoctor idle` stores it */
	struct json_object *j = state_load_json("idle", name);
	free(name);
	free(key);
	struct json_object *found, *lower;
	if (j && json_object_object_get_ex(j, "found", &found) && json_object_get_boolean(found) &&
	    json_object_object_get_ex(j, "lower_s", &lower) && json_object_get_int64(lower) > 0) {
		f->idle_s = (long)json_object_get_int64(lower);
		f->idle_source = "measured";
	}
	if (j)
		json_object_put(j);
}

int audit_gather(const struct audit_opts *o, struct audit_facts *f, char **err)
{
	memset(f, 0, sizeof(*f));
	f->smajor = f->sminor = f->cmajor = f->cminor = -1;
	f->ka_time = f->ka_intvl = f->ka_probes = f->retries2 = f->mtu_probing = -1;
	*err = NULL;
	if (o->remote && !o->target) {
		*err = xstrdup("--remote needs a TARGET");
		return -1;
	}
	if (gather_client(o, f, err) < 0)
		return -1;
	struct kvlist kv = { 0 };
	char *e2 = NULL;
	if (o->target && audit_ssh_g(o, NULL, &kv, &e2) < 0)
		free(e2);
	snprintf(f->ehost, sizeof(f->ehost), "%s", kv_get(&kv, "hostname") ? kv_get(&kv, "hostname") : "");
	snprintf(f->euser, sizeof(f->euser), "%s", kv_get(&kv, "user") ? kv_get(&kv, "user") : "");
	f->eport = (int)kv_get_long(&kv, "port", 22);
	gather_idle(o, f, &kv);
	kv_free(&kv);
	if (o->remote)
		return gather_remote(o, f, err);
	gather_kernel(o, f);
	if (o->skip_server)
		return 0;
	return gather_server_local(o, f, err);
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
	fix_line(x, "ServerAliveCountMax 3");
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
		struct fix *x = finding_fix(fd, f->client_config);
		fix_line(x, "ServerAliveInterval %ld", p);
		fix_line(x, "ServerAliveCountMax 3");
		placement_hint(fd, &f->sai);
		client_instructions(fd, p);
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
	finding_evidence(fd, "ClientAliveInterval %ld (%s), ClientAliveCountMax %ld (%s); source: %s",
			 f->cai.v, or_default(f->cai.origin), f->cacm.v, or_default(f->cacm.origin),
			 f->server_source);
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

int audit_run(const struct audit_opts *o, struct report *r, struct audit_facts *f, char **err)
{
	if (audit_gather(o, f, err) < 0)
		return -1;
	audit_analyse(f, r);
	return 0;
}
