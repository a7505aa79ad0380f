/* srvside_probe.c - measures, on the server, everything `doctor --server`
 * judges: sshd's process and the sockets it really holds (/proc/net/tcp{,6}
 * inodes matched against /proc/PID/fd, this network namespace only), sshd -T
 * and -t, systemd's unit state, TCP wrappers, fail2ban, nftables/iptables,
 * conntrack, load, and the client's lines in sshd's and the kernel's logs
 * (srvside_logs.c). Never fails: what it cannot read is noted in o->unreadable. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "proc.h"
#include "srvside.h"

#define CMD_TIMEOUT_MS 5000
#define MAX_PROCS 65536

void srv_obs_init(struct srv_obs *o)
{
	memset(o, 0, sizeof(*o));
	o->dest_port = 22;
	o->sshd_pid = -1;
	o->sshd_start_wall_ms = o->config_mtime_ms = -1;
	o->sshd_t_rc = -1;
	o->libwrap = -1;
	o->ct_count = o->ct_max = -1;
	o->load1 = -1;
	o->mem_avail_kb = o->mem_total_kb = -1;
	o->mem_psi_some10 = -1;
	o->threads = o->pid_max = o->files = o->files_max = -1;
	o->log_free_kb = -1;
	o->startups = o->startups_begin = -1;
}

void srv_obs_free(struct srv_obs *o)
{
	strvec_clear(&o->unreadable);
	strvec_clear(&o->groups);
	free(o->sshd_T);
	free(o->hosts_allow);
	free(o->hosts_deny);
	free(o->f2b_status);
	free(o->nft_json);
	free(o->iptables_save);
	memset(o, 0, sizeof(*o));
}

/* The whole file, bounded; NULL with errno set. */
static char *slurp_n(const char *path, size_t max, size_t *lenp)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	struct strbuf sb = { 0 };
	char buf[8192];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0 && sb.len < max)
		sb_add(&sb, buf, n);
	fclose(f);
	sb_add(&sb, "", 0);
	if (lenp)
		*lenp = sb.len;
	return sb.buf;
}

char *srv_slurp(const char *path, size_t max) { return slurp_n(path, max, NULL); }

static long read_long(const char *path)
{
	char *t = srv_slurp(path, 64);
	long v = t ? strtol(t, NULL, 10) : -1;
	free(t);
	return v;
}

void srv_note(struct srv_obs *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = xvasprintf(fmt, ap);
	va_end(ap);
	if (o->unreadable.n < 32)
		strvec_push(&o->unreadable, s);
	free(s);
}

/* Runs argv; 0 with out filled when it ran (rc in *rc), -1 when it could not. */
static int run(char *const argv[], struct strbuf *out, struct strbuf *err, int *rc)
{
	return proc_capture(argv, NULL, out, err, CMD_TIMEOUT_MS, rc);
}

void srv_first_line(char *dst, size_t n, const char *s)
{
	while (s && *s && isspace((unsigned char)*s))
		s++;
	size_t l = s ? strcspn(s, "\n") : 0;
	snprintf(dst, n, "%.*s", (int)(l < n ? l : n - 1), s ? s : "");
}

static void probe_listeners(struct srv_obs *o)
{
	static const char *const files[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	for (int v6 = 0; v6 < 2; v6++) {
		char *t = srv_slurp(files[v6], SRV_TEXT_MAX);
		if (!t) {
			if (!v6)
				srv_note(o, "%s: %s", files[v6], strerror(errno));
			continue;
		}
		o->nlisten += srv_parse_proc_tcp(t, v6, o->listen + o->nlisten, SRV_MAX_SOCK - o->nlisten);
		free(t);
	}
}

static int64_t boot_wall_ms(void)
{
	char *t = srv_slurp("/proc/stat", 1 << 20);
	const char *b = t ? strstr(t, "\nbtime ") : NULL;
	int64_t v = b ? strtoll(b + 7, NULL, 10) * 1000 : -1;
	free(t);
	return v;
}

static void probe_sshd_proc(struct srv_obs *o, long pid)
{
	char p[64];
	o->sshd_pid = pid;
	snprintf(p, sizeof(p), "/proc/%ld/exe", pid);
	ssize_t n = readlink(p, o->sshd_exe, sizeof(o->sshd_exe) - 1);
	o->sshd_exe[n > 0 ? n : 0] = '\0';
	snprintf(p, sizeof(p), "/proc/%ld/cmdline", pid);
	char *cl = srv_slurp(p, 8192);
	if (cl) {
		/* NUL-separated argv: "-f FILE"; or one string (sshd rewrites its proctitle) */
		char *end = cl + strlen(cl);
		for (char *a = cl; a < end || (a == cl && *a); a += strlen(a) + 1) {
			if (!strcmp(a, "-f") && a + 3 < end + 1)
				snprintf(o->sshd_config, sizeof(o->sshd_config), "%s", a + 3);
			if (a + strlen(a) >= end)
				break;
		}
		char *f = strstr(cl, " -f ");
		if (!o->sshd_config[0] && f)
			snprintf(o->sshd_config, sizeof(o->sshd_config), "%.*s", (int)strcspn(f + 4, " "), f + 4);
		char *l = strstr(cl, "[listener] ");
		if (l)
			sscanf(l + 11, "%ld of %ld", &o->startups, &o->startups_begin);
		srv_first_line(o->proctitle, sizeof(o->proctitle), cl);
		free(cl);
	}
	snprintf(p, sizeof(p), "/proc/%ld/stat", pid);
	char *st = srv_slurp(p, 4096);
	char *rp = st ? strrchr(st, ')') : NULL;
	if (rp) {
		unsigned long long start = 0;
		int field = 2;
		for (char *q = rp + 1; *q; q++)
			if (*q == ' ' && ++field == 22) {
				start = strtoull(q + 1, NULL, 10);
				break;
			}
		int64_t bt = boot_wall_ms();
		long hz = sysconf(_SC_CLK_TCK);
		if (bt > 0 && hz > 0 && start)
			o->sshd_start_wall_ms = bt + (int64_t)(start * 1000 / (unsigned long long)hz);
	}
	free(st);
	snprintf(p, sizeof(p), "/proc/%ld/maps", pid);
	char *maps = srv_slurp(p, SRV_TEXT_MAX);
	if (maps)
		o->libwrap = strstr(maps, "libwrap") != NULL;
	free(maps);
}

/* Owners of the listening sockets: processes in this network namespace whose
 * fds are the sockets' inodes. */
static void probe_owners(struct srv_obs *o)
{
	struct stat self;
	if (stat("/proc/self/ns/net", &self) < 0)
		return;
	DIR *d = opendir("/proc");
	if (!d) {
		srv_note(o, "/proc: %s", strerror(errno));
		return;
	}
	struct dirent *e;
	int denied = 0, scanned = 0;
	o->root = geteuid() == 0;
	long sshd = -1;
	while ((e = readdir(d)) && scanned < MAX_PROCS) {
		long pid;
		if (parse_int(e->d_name, 1, INT_MAX, &pid))
			continue;
		scanned++;
		char p[64];
		struct stat ns;
		snprintf(p, sizeof(p), "/proc/%ld/ns/net", pid);
		if (stat(p, &ns) < 0) {
			denied += errno == EACCES;
			continue;
		}
		if (ns.st_ino != self.st_ino || ns.st_dev != self.st_dev)
			continue;
		snprintf(p, sizeof(p), "/proc/%ld/fd", pid);
		DIR *fd = opendir(p);
		if (!fd) {
			denied += errno == EACCES;
			continue;
		}
		char comm[32] = "";
		snprintf(p, sizeof(p), "/proc/%ld/comm", pid);
		char *c = srv_slurp(p, 64);
		if (c)
			srv_first_line(comm, sizeof(comm), c);
		free(c);
		struct dirent *f;
		int nfd = 0;
		while ((f = readdir(fd)) && nfd++ < 65536) {
			char lp[320], lk[64];
			snprintf(lp, sizeof(lp), "/proc/%ld/fd/%s", pid, f->d_name);
			ssize_t n = readlink(lp, lk, sizeof(lk) - 1);
			if (n <= 8)
				continue;
			lk[n] = '\0';
			unsigned long ino;
			if (sscanf(lk, "socket:[%lu]", &ino) != 1)
				continue;
			for (int i = 0; i < o->nlisten; i++) {
				if (o->listen[i].inode != ino || o->listen[i].pid > 0)
					continue;
				o->listen[i].pid = pid;
				snprintf(o->listen[i].comm, sizeof(o->listen[i].comm), "%s", comm);
				if (!strcmp(comm, "sshd") && (sshd < 0 || pid < sshd))
					sshd = pid;
			}
		}
		closedir(fd);
	}
	closedir(d);
	if (denied)
		srv_note(o, "the owners of listening sockets: /proc/PID/fd of %d process%s: permission denied%s", denied,
		     denied == 1 ? "" : "es", o->root ? "" : " (not root)");
	if (sshd > 0)
		probe_sshd_proc(o, sshd);
}

/* Does the binary name the string (a library in its dynamic section)? -1 unreadable. */
static int bin_has(const char *path, const char *what)
{
	struct stat st;
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (16 << 20))
		return -1;
	size_t n = 0;
	char *bin = slurp_n(path, (size_t)st.st_size, &n);
	if (!bin)
		return -1;
	int r = memmem(bin, n, what, strlen(what)) != NULL;
	free(bin);
	return r;
}

static void probe_sshd_config(const struct srvside_opts *so, struct srv_obs *o)
{
	const char *exe = so->sshd ? so->sshd : o->sshd_exe[0] ? o->sshd_exe : "/usr/sbin/sshd";
	if (so->sshd_config)
		snprintf(o->sshd_config, sizeof(o->sshd_config), "%s", so->sshd_config);
	else if (!o->sshd_config[0])
		snprintf(o->sshd_config, sizeof(o->sshd_config), "/etc/ssh/sshd_config");
	if (!o->sshd_exe[0])
		snprintf(o->sshd_exe, sizeof(o->sshd_exe), "%s", exe);
	struct stat st;
	if (stat(o->sshd_config, &st) == 0)
		o->config_mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
	else
		srv_note(o, "%s: %s", o->sshd_config, strerror(errno));

	struct strbuf out = { 0 }, err = { 0 };
	int rc;
	char *targv[] = { (char *)exe, "-t", "-f", o->sshd_config, NULL };
	if (run(targv, &out, &err, &rc) == 0) {
		o->sshd_t_rc = rc;
		srv_first_line(o->sshd_t_err, sizeof(o->sshd_t_err), err.buf);
		if (rc && !o->root) {
			/* sshd -t loads the host keys: a non-root failure says nothing of the config */
			srv_note(o, "%s -t: %s (not root: the host keys are unreadable)", exe, o->sshd_t_err);
			o->sshd_t_rc = -1;
		}
	} else {
		srv_note(o, "%s -t: could not run", exe);
	}
	sb_reset(&out);
	sb_reset(&err);
	struct strbuf spec = { 0 };
	sb_addf(&spec, "user=%s,host=%s,addr=%s", o->user[0] ? o->user : "root",
		o->client[0] ? o->client : "127.0.0.1", o->client[0] ? o->client : "127.0.0.1");
	if (o->dest_addr[0])
		sb_addf(&spec, ",laddr=%s", o->dest_addr);
	sb_addf(&spec, ",lport=%d", o->dest_port);
	char *Targv[] = { (char *)exe, "-T", "-f", o->sshd_config, "-C", spec.buf, NULL };
	if (run(Targv, &out, &err, &rc) == 0 && rc == 0 && out.len) {
		o->sshd_T = xstrdup(out.buf);
	} else {
		srv_first_line(o->sshd_T_err, sizeof(o->sshd_T_err), err.len ? err.buf : "could not run");
		srv_note(o, "%s -T: %s", exe, o->sshd_T_err);
	}
	sb_free(&spec);
	sb_free(&out);
	sb_free(&err);
	/* 9.2 links libwrap into sshd, 10.0 into sshd-session: either counts */
	if (o->libwrap != 1) {
		int w = bin_has(exe, "libwrap.so");
		const char *sp = o->sshd_T ? strstr(o->sshd_T, "\nsshdsessionpath ") : NULL;
		char sess[256] = "/usr/lib/openssh/sshd-session";
		if (sp)
			srv_first_line(sess, sizeof(sess), sp + 17);
		int ws = bin_has(sess, "libwrap.so");
		o->libwrap = w == 1 || ws == 1 ? 1 : (w == 0 || o->libwrap == 0) ? 0 : -1;
	}
}

static void probe_systemd(struct srv_obs *o)
{
	static const char *const units[] = { "ssh.service", "ssh.socket" };
	for (int i = 0; i < 2; i++) {
		struct strbuf out = { 0 }, err = { 0 };
		int rc;
		char *argv[] = { "systemctl", "show", "-p", "ActiveState", "-p", "SubState", "-p", "Listen",
				 (char *)units[i], NULL };
		if (run(argv, &out, &err, &rc) == 0 && rc == 0) {
			char as[32] = "", ss[32] = "";
			const char *a = strstr(out.buf ? out.buf : "", "ActiveState=");
			const char *s = strstr(out.buf ? out.buf : "", "SubState=");
			const char *l = strstr(out.buf ? out.buf : "", "Listen=");
			if (a)
				srv_first_line(as, sizeof(as), a + 12);
			if (s)
				srv_first_line(ss, sizeof(ss), s + 9);
			snprintf(i ? o->socket_state : o->unit_state, sizeof(o->unit_state), "%s/%s", as, ss);
			if (i && l)
				srv_first_line(o->socket_listen, sizeof(o->socket_listen), l + 7);
		} else if (!i) {
			char e[160];
			srv_first_line(e, sizeof(e), err.len ? err.buf : "systemctl not available");
			srv_note(o, "systemd unit state: %s", e);
		}
		sb_free(&out);
		sb_free(&err);
	}
}

static char *capture(struct srv_obs *o, char *const argv[], const char *what)
{
	struct strbuf out = { 0 }, err = { 0 };
	int rc;
	char *res = NULL;
	if (run(argv, &out, &err, &rc) == 0 && rc == 0) {
		sb_add(&out, "", 0);
		res = out.buf;
		out.buf = NULL;
	} else {
		char e[200];
		srv_first_line(e, sizeof(e), err.len ? err.buf : "could not run");
		srv_note(o, "%s: %s", what, e);
	}
	sb_free(&out);
	sb_free(&err);
	return res;
}

static int have(const char *tool)
{
	static const char *const dirs[] = { "/usr/sbin/", "/usr/bin/", "/sbin/", "/bin/" };
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		char p[128];
		snprintf(p, sizeof(p), "%s%s", dirs[i], tool);
		if (access(p, X_OK) == 0)
			return 1;
	}
	return 0;
}

static void probe_refusals(struct srv_obs *o)
{
	static const char *const wf[] = { "/etc/hosts.allow", "/etc/hosts.deny" };
	for (int i = 0; i < 2; i++) {
		char *t = srv_slurp(wf[i], 1 << 20);
		if (!t && errno != ENOENT)
			srv_note(o, "%s: %s", wf[i], strerror(errno));
		*(i ? &o->hosts_deny : &o->hosts_allow) = t;
	}
	if (have("fail2ban-client")) {
		char *argv[] = { "fail2ban-client", "status", "sshd", NULL };
		o->f2b_status = capture(o, argv, "fail2ban-client status sshd");
	}
	if (have("nft")) {
		char *argv[] = { "nft", "-j", "list", "ruleset", NULL };
		o->nft_json = capture(o, argv, "nft -j list ruleset");
	}
	if (have("iptables-save")) {
		char *argv[] = { "iptables-save", NULL };
		o->iptables_save = capture(o, argv, "iptables-save");
	}
	o->ct_count = read_long("/proc/sys/net/netfilter/nf_conntrack_count");
	o->ct_max = read_long("/proc/sys/net/netfilter/nf_conntrack_max");
	if (o->user[0]) {
		struct passwd *pw = getpwnam(o->user);
		gid_t g[256];
		int ng = 256;
		if (pw && getgrouplist(o->user, pw->pw_gid, g, &ng) >= 0) {
			for (int i = 0; i < ng; i++) {
				struct group *gr = getgrgid(g[i]);
				if (gr)
					strvec_push(&o->groups, gr->gr_name);
			}
		}
	}
}

static void probe_load(struct srv_obs *o)
{
	char *t = srv_slurp("/proc/loadavg", 256);
	if (t) {
		long run_, tot;
		if (sscanf(t, "%lf %*f %*f %ld/%ld", &o->load1, &run_, &tot) == 3)
			o->threads = tot;
		free(t);
	}
	o->ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	t = srv_slurp("/proc/meminfo", 1 << 16);
	if (t) {
		const char *a = strstr(t, "MemAvailable:"), *m = strstr(t, "MemTotal:");
		if (a)
			o->mem_avail_kb = strtol(a + 13, NULL, 10);
		if (m)
			o->mem_total_kb = strtol(m + 9, NULL, 10);
		free(t);
	}
	t = srv_slurp("/proc/pressure/memory", 1024);
	const char *s = t ? strstr(t, "some avg10=") : NULL;
	if (s)
		o->mem_psi_some10 = strtod(s + 11, NULL);
	free(t);
	o->pid_max = read_long("/proc/sys/kernel/pid_max");
	t = srv_slurp("/proc/sys/fs/file-nr", 256);
	if (t) {
		long a, b, c;
		if (sscanf(t, "%ld %ld %ld", &a, &b, &c) == 3)
			o->files = a - b, o->files_max = c;
		free(t);
	}
	struct statvfs v;
	if (statvfs(o->log_dir, &v) == 0)
		o->log_free_kb = (long long)v.f_bavail * (long long)v.f_frsize / 1024;
}

void srvside_probe(const struct srvside_opts *so, struct srv_obs *o)
{
	o->root = geteuid() == 0;
	if (so->client)
		snprintf(o->client, sizeof(o->client), "%s", so->client);
	if (so->user)
		snprintf(o->user, sizeof(o->user), "%s", so->user);
	if (so->dest) {
		/* ADDR, ADDR:PORT, [V6]:PORT or :PORT */
		const char *d = so->dest, *c = strrchr(d, ':');
		if (d[0] == '[') {
			const char *e = strchr(d, ']');
			snprintf(o->dest_addr, sizeof(o->dest_addr), "%.*s", e ? (int)(e - d - 1) : 0, d + 1);
			c = e && e[1] == ':' ? e + 1 : NULL;
		} else if (c && strchr(d, ':') == c) {
			snprintf(o->dest_addr, sizeof(o->dest_addr), "%.*s", (int)(c - d), d);
		} else {
			snprintf(o->dest_addr, sizeof(o->dest_addr), "%s", d);
			c = NULL;
		}
		if (c)
			o->dest_port = atoi(c + 1);
	}
	if (!o->root)
		srv_note(o, "not root: sshd's sockets, sshd -T, the firewall and the kernel log may be unreadable");
	probe_listeners(o);
	probe_owners(o);
	probe_sshd_config(so, o);
	probe_systemd(o);
	probe_refusals(o);
	srvside_probe_logs(so, o);
	probe_load(o);
}
