/* audit.c - the probes of audit: ssh -G, sshd -T [-C], our parser, sysctls, the
 * stored idle result, the --remote script. audit_judge.c turns them into findings. */
#include "audit.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <netdb.h>
#include <sys/socket.h>

#include "askpass.h"
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

/* The sshd that audit and --fix ask (-T, -t): the one serving the config when
 * a running listener names it, so a second OpenSSH on the machine (built from
 * source, a backport) judges its own config; else the system's. */
static char sshd_bin[PATH_MAX];

/* True when the running process pid is an sshd listener reading cfg. */
static int serves_config(pid_t pid, const char *cfg_real, char *exe, size_t exelen)
{
	char p[64], buf[4096];
	snprintf(p, sizeof(p), "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(p, exe, exelen - 1);
	if (n <= 0)
		return 0;
	exe[n] = 0;
	char *del = strstr(exe, " (deleted)");
	if (del)
		*del = 0;
	const char *base = strrchr(exe, '/');
	if (!base || strcmp(base + 1, "sshd") != 0)
		return 0;
	snprintf(p, sizeof(p), "/proc/%d/cmdline", (int)pid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	/* The listener rewrites its argv (setproctitle) into one string such as
	 * "sshd: /usr/sbin/sshd -f CFG [listener] ...": split on NUL and space. */
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == ' ')
			buf[i] = 0;
	const char *f = "/etc/ssh/sshd_config";	/* sshd's default without -f */
	for (char *a = buf; a < buf + n; a += strlen(a) + 1) {
		if (strcmp(a, "-f") == 0 && a + strlen(a) + 1 < buf + n)
			f = a + strlen(a) + 1;
		else if (strncmp(a, "-f", 2) == 0 && a[2])
			f = a + 2;
	}
	char fr[PATH_MAX];
	return realpath(f, fr) && strcmp(fr, cfg_real) == 0;
}

void audit_sshd_select(const char *config_path)
{
	snprintf(sshd_bin, sizeof(sshd_bin), "%s",
		 access("/usr/sbin/sshd", X_OK) == 0 ? "/usr/sbin/sshd" : "sshd");
	char cr[PATH_MAX];
	DIR *d;
	if (!config_path || !realpath(config_path, cr) || !(d = opendir("/proc")))
		return;
	struct dirent *e;
	char exe[PATH_MAX];
	int seen = 0;
	while ((e = readdir(d)) && seen < 100000) {
		seen++;
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 1)
			continue;
		if (serves_config((pid_t)pid, cr, exe, sizeof(exe)) && access(exe, X_OK) == 0) {
			if (strcmp(exe, sshd_bin) != 0)
				verbose("%s is served by %s (pid %ld): asking that sshd", config_path, exe, pid);
			snprintf(sshd_bin, sizeof(sshd_bin), "%s", exe);
			break;
		}
	}
	closedir(d);
}

const char *audit_sshd_binary(void)
{
	if (!sshd_bin[0])
		audit_sshd_select(NULL);
	return sshd_bin;
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


/* --- client ------------------------------------------------------------------ */

const char *audit_home_dir(void)
{
	/* ssh takes ~ from getpwuid(getuid())->pw_dir, never from $HOME. */
	static char home[512];
	struct passwd *pw = getpwuid(getuid());
	const char *h = pw && pw->pw_dir && *pw->pw_dir ? pw->pw_dir : getenv("HOME");
	snprintf(home, sizeof(home), "%s", h && *h ? h : "/");
	return home;
}

static const char *home_dir(void)
{
	return audit_home_dir();
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
	/* No line set it, yet ssh -G says 300: Debian's BatchMode default, which no
	 * file shows (ssh_config(5), "Debian-specific"). */
	if (!strcmp(f->sai.origin, "default") && f->sai.v == AUDIT_DEBIAN_BATCHMODE_SAI &&
	    yesno(kv_get(&kv, "batchmode")) == 1)
		set_val(&f->sai, f->sai.v, AUDIT_ORIGIN_BATCHMODE);
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
	/* sshd -T only (the file parser has no defaults for these) */
	const char *ct = kv_get(kv, "channeltimeout"), *uc = kv_get(kv, "unusedconnectiontimeout");
	if (ct || uc) {
		f->policy.read = f->policy.sshd_t = 1;
		snprintf(f->policy.channeltimeout, sizeof(f->policy.channeltimeout), "%s",
			 ct && strcmp(ct, "none") ? ct : "");
		f->policy.unused_s = !uc || !strcmp(uc, "none") ? 0 : srvp_convtime(uc);
	}
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
		const struct sshconf_line *h = sshconf_block_header(c, l);
		if (l)
			snprintf(keys[k].v->origin, sizeof(keys[k].v->origin), "%s:%d", l->file, l->line);
		else
			snprintf(keys[k].v->origin, sizeof(keys[k].v->origin), "default");
		keys[k].v->block[0] = '\0';
		if (h)
			snprintf(keys[k].v->block, sizeof(keys[k].v->block), "%.200s (%s:%d)",
				 h->raw ? str_trim(h->raw) : "Match", h->file, h->line);
	}
}

void audit_server_ctx(const struct audit_facts *f, struct sshconf_ctx *x)
{
	if (!f->server_user[0] || !f->euser[0])
		return;
	x->match = 1;
	x->user = f->euser;
	if (f->caddr[0])
		x->host = x->addr = f->caddr;
}

/* Who sshd would see connecting for TARGET: the effective user, and our own
 * address on the route to its host (host= is the address: UseDNS no). */
static void connection_spec(const struct audit_facts *f, struct sshconf_ctx *x, char *spec,
			    size_t n)
{
	spec[0] = '\0';
	if (!f->euser[0])
		return;
	x->match = 1;
	x->user = f->euser;
	if (f->caddr[0]) {
		x->host = x->addr = f->caddr;
		snprintf(spec, n, "user=%s,host=%s,addr=%s", f->euser, f->caddr, f->caddr);
	} else {
		snprintf(spec, n, "user=%s", f->euser);
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
	char spec[512];
	connection_spec(f, &x, spec, sizeof(spec));
	char *perr = NULL;
	int parsed = sshconf_parse_file(&c, SSHCONF_SERVER, path, &x, &perr) == 0;
	audit_sshd_select(sroot ? NULL : path);
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
		/* -C: the server as the diagnosed user sees it (Match User/Group/Address) */
		char *argv[] = { (char *)audit_sshd_binary(), (char *)"-T", (char *)"-f", path,
				 spec[0] ? (char *)"-C" : NULL, spec, NULL };
		struct strbuf out = { 0 }, e = { 0 };
		int st;
		if (proc_capture(argv, NULL, &out, &e, 10000, &st) == 0 && st == 0) {
			struct kvlist kv = { 0 };
			kv_parse(&kv, out.buf);
			server_from_kv(f, &kv, "sshd -T");
			kv_free(&kv);
			snprintf(f->server_source, sizeof(f->server_source), spec[0] ? "sshd -T -C" : "sshd -T");
			snprintf(f->server_user, sizeof(f->server_user), "%s", spec);
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
		/* our parser evaluated the Match blocks for the same connection */
		snprintf(f->server_user, sizeof(f->server_user), "%s", spec);
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
	if (o->root) {	/* an image: its files, never this machine's kernel */
		f->ka_time = audit_image_sysctl(o->root, "tcp_keepalive_time", 7200);
		f->ka_intvl = audit_image_sysctl(o->root, "tcp_keepalive_intvl", 75);
		f->ka_probes = audit_image_sysctl(o->root, "tcp_keepalive_probes", 9);
		f->retries2 = audit_image_sysctl(o->root, "tcp_retries2", 15);
		f->mtu_probing = audit_image_sysctl(o->root, "tcp_mtu_probing", 0);
		f->kernel_known = 1;
		return;
	}
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
	/* The sshd that serves this very session (walk up from sshd-session or the
	 * privsep child: readable as root), else the one in PATH. */
	"S=; p=$PPID; i=0; while [ $i -lt 6 ] && [ \"${p:-1}\" -gt 1 ]; do"
	" e=$(readlink /proc/$p/exe 2>/dev/null); case \"$e\" in */sshd) S=$e; break;; esac;"
	" p=$(awk '{print $4}' /proc/$p/stat 2>/dev/null); i=$((i+1)); done\n"
	"[ -n \"$S\" ] || S=$(command -v sshd 2>/dev/null || echo /usr/sbin/sshd); [ -x \"$S\" ] || S=/usr/sbin/sshd\n"
	"F=\"$SSHDOCTOR_CFG\"\n"
	"A=${SSH_CLIENT%% *}; U=$(id -un)\n"
	"echo \"@@who $U $A\"\n"
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
	askpass_ssh_opts(&argv);
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
	struct srvpolicy pol;	/* TMOUT and logind: through the login shell */
	char *perr = NULL;
	if (rc == 0 && srvpolicy_read(o->target, o->so, &pol, &perr) == 0) {
		f->policy.read = 1;
		f->policy.tmout_s = pol.tmout_s;
		f->policy.tmout_readonly = pol.tmout_readonly;
		memcpy(f->policy.tmout_src, pol.tmout_src, sizeof(pol.tmout_src));
		f->policy.logind_idle_s = pol.logind_idle_s;
		memcpy(f->policy.logind_src, pol.logind_src, sizeof(pol.logind_src));
	}
	free(perr);
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
	/* strsep, not strtok: empty lines count, or the file's line numbers drift */
	for (char *rest = copy, *l; (l = strsep(&rest, "\n"));) {
		char name[64];
		if (!rest && !*l)
			break;	/* after the final newline */
		long v;
		if (section == 2) {	/* the file comes last: its lines are never markers */
			sb_addf(&file, "%s\n", l);
		} else if (sscanf(l, "@@who %127s %63s", f->euser, f->caddr) >= 1) {
			/* the login user and the address sshd sees us at */
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
	char spec[512];
	connection_spec(f, &x, spec, sizeof(spec));
	if (sshd_rc == 0)
		snprintf(f->server_user, sizeof(f->server_user), "%s", spec);
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

/* The source address this machine uses toward host (a UDP connect sends nothing). */
static void source_addr(const char *host, int port, char *buf, size_t n)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV }, *res;
	char ps[16];
	buf[0] = '\0';
	snprintf(ps, sizeof(ps), "%d", port > 0 ? port : 22);
	if (!host[0] || getaddrinfo(host, ps, &hints, &res) != 0)
		return;
	int fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0 &&
	    getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
	    getnameinfo((struct sockaddr *)&ss, sl, buf, (socklen_t)n, NULL, 0, NI_NUMERICHOST) != 0)
		buf[0] = '\0';
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
}

int audit_gather(const struct audit_opts *o, struct audit_facts *f, char **err)
{
	memset(f, 0, sizeof(*f));
	srvpolicy_init(&f->policy);
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
	if (o->target && !o->remote && !o->root)
		source_addr(f->ehost, f->eport, f->caddr, sizeof(f->caddr));
	gather_idle(o, f, &kv);
	kv_free(&kv);
	if (o->remote)
		return gather_remote(o, f, err);
	gather_kernel(o, f);
	if (o->skip_server)
		return 0;
	return gather_server_local(o, f, err);
}


int audit_run(const struct audit_opts *o, struct report *r, struct audit_facts *f, char **err)
{
	if (audit_gather(o, f, err) < 0)
		return -1;
	audit_analyse(f, r);
	return 0;
}
