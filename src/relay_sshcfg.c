/* relay_sshcfg.c - what the ssh that runs us would connect with: AddressFamily
 * and ConnectTimeout from `ssh -G` run with that ssh's own binary and argv. */
#include "relay_sshcfg.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc.h"
#include "sshcfg.h"
#include "util.h"

#define SSHCFG_MAX_ARGS 4096
#define SSHCFG_MAX_CMDLINE (256 * 1024)

/* The lines are split by the project's ssh -G reader (sshcfg.c); unlike
 * kv_get, a value ssh would not print is skipped and the next one taken. */
int relay_sshcfg_parse_g(const char *buf, size_t len, struct relay_sshcfg *c)
{
	if (memchr(buf, 0, len))	/* ssh -G never prints a NUL: not its output */
		return 0;
	char *text = xstrndup(buf, len);
	struct kvlist kv = { 0 };
	kv_parse(&kv, text);
	free(text);
	int found = 0;
	for (size_t i = 0; i < kv.keys.n; i++) {
		const char *key = kv.keys.v[i], *val = kv.vals.v[i];
		if (!strcmp(key, "addressfamily") && c->family < 0) {
			int f = !strcasecmp(val, "any") ? 0 : !strcasecmp(val, "inet") ? 4 :
				!strcasecmp(val, "inet6") ? 6 : -1;
			if (f >= 0) {	/* ssh: the first value wins */
				c->family = f;
				found++;
			}
		} else if (!strcmp(key, "connecttimeout") && c->connect_timeout_s < 0) {
			long t;
			if (!strcasecmp(val, "none"))
				t = 0;
			else if (parse_int(val, 0, INT_MAX / 1000, &t) < 0)
				continue;
			c->connect_timeout_s = (int)t;
			found++;
		}
	}
	kv_free(&kv);
	return found;
}

int relay_sshcfg_argv(const char *buf, size_t len, char ***argvp)
{
	*argvp = NULL;
	if (len && buf[len - 1] == 0)
		len--;
	if (len == 0)
		return -1;
	size_t n = 1;
	for (size_t i = 0; i < len; i++)
		if (buf[i] == 0 && ++n > SSHCFG_MAX_ARGS)
			return -1;
	char **argv = xcalloc(n + 1, sizeof(*argv));
	size_t a = 0, start = 0;
	for (size_t i = 0; i <= len; i++)
		if (i == len || buf[i] == 0) {
			argv[a++] = xstrndup(buf + start, i - start);
			start = i + 1;
		}
	*argvp = argv;
	return (int)n;
}

void relay_sshcfg_argv_free(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

static int read_all(const char *path, struct strbuf *sb, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char tmp[4096];
	ssize_t n;
	while ((n = read(fd, tmp, sizeof(tmp))) > 0 && sb->len < max)
		sb_add(sb, tmp, (size_t)n);
	close(fd);
	return n < 0 ? -1 : 0;
}

int relay_sshcfg_read(pid_t pid, int timeout_ms, struct relay_sshcfg *c, char *err, size_t errlen)
{
	c->family = -1;
	c->connect_timeout_s = -1;
	char dir[64], exe[64], target[PATH_MAX];
	snprintf(dir, sizeof(dir), "/proc/%d", (int)pid);
	snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)pid);
	struct stat st;
	if (pid <= 1 || stat(dir, &st) < 0) {
		snprintf(err, errlen, "no process %d", (int)pid);
		return -1;
	}
	if (st.st_uid != getuid()) {	/* never run another user's program */
		snprintf(err, errlen, "process %d is not ours", (int)pid);
		return -1;
	}
	ssize_t tl = readlink(exe, target, sizeof(target) - 1);
	if (tl <= 0) {
		snprintf(err, errlen, "%s: %s", exe, tl < 0 ? strerror(errno) : "empty");
		return -1;
	}
	target[tl] = 0;
	const char *base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (strcmp(base, "ssh") != 0) {	/* a wrapper (sh -c without exec, ...): not ssh */
		snprintf(err, errlen, "the parent (%s) is not ssh", target);
		return -1;
	}
	struct strbuf cl = { 0 };
	char clpath[64];
	snprintf(clpath, sizeof(clpath), "/proc/%d/cmdline", (int)pid);
	char **argv = NULL;
	int argc = -1;
	if (read_all(clpath, &cl, SSHCFG_MAX_CMDLINE) == 0 && cl.len <= SSHCFG_MAX_CMDLINE)
		argc = relay_sshcfg_argv(cl.buf ? cl.buf : "", cl.len, &argv);
	sb_free(&cl);
	if (argc < 1) {
		snprintf(err, errlen, "%s: unreadable", clpath);
		return -1;
	}
	/* /proc/PID/exe: the very binary that runs, even if the file was replaced */
	struct strvec av = { 0 };
	strvec_push(&av, exe);
	strvec_push(&av, "-G");
	for (int i = 1; i < argc; i++)
		strvec_push(&av, argv[i]);
	relay_sshcfg_argv_free(argv);
	struct strbuf out = { 0 };
	int status = -1;
	int rc = proc_capture(av.v, NULL, &out, NULL, timeout_ms, &status);
	strvec_clear(&av);
	if (rc < 0 || status != 0) {
		snprintf(err, errlen, "ssh -G %s", rc < 0 ? "did not answer in time" : "failed");
		sb_free(&out);
		return -1;
	}
	int found = relay_sshcfg_parse_g(out.buf ? out.buf : "", out.len, c);
	sb_free(&out);
	if (found == 0) {
		snprintf(err, errlen, "ssh -G printed neither addressfamily nor connecttimeout");
		return -1;
	}
	return 0;
}
