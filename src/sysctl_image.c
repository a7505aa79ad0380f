/* sysctl_image.c - what an image's kernel settings are: its own /proc/sys when
 * it has one, else what they will be at boot: its sysctl.d files and /etc/sysctl.conf, read the way systemd-sysctl / `sysctl
 * --system` apply them, and the kernel's defaults for what they leave unset.
 * Under --root the live kernel of this machine says nothing about the image. */
#include "audit.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILES 512

static const char *const dirs[] = { "/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d",
				    "/usr/lib/sysctl.d", "/lib/sysctl.d" };

static int cmp_base(const void *a, const void *b)
{
	const char *x = strrchr(*(char *const *)a, '/'), *y = strrchr(*(char *const *)b, '/');
	return strcmp(x, y);
}

/* The value of key ("net.ipv4.tcp_keepalive_time") the file sets last, if any. */
static void scan_file(const char *path, const char *key, long *v)
{
	FILE *fp = fopen(path, "re");
	char line[1024];
	while (fp && fgets(line, sizeof(line), fp)) {
		char *l = line + strspn(line, " \t-");
		if (*l == '#' || *l == ';')
			continue;
		char *eq = strchr(l, '=');
		if (!eq)
			continue;
		char *end = eq;
		while (end > l && strchr(" \t", end[-1]))
			end--;
		size_t kl = (size_t)(end - l);
		if (kl != strlen(key))
			continue;
		int same = 1;
		for (size_t i = 0; i < kl && same; i++)	/* "net/ipv4/x" is the same key */
			same = l[i] == key[i] || (l[i] == '/' && key[i] == '.');
		char *num;
		long n = strtol(eq + 1, &num, 10);
		if (same && num != eq + 1 && (*num == '\0' || strchr(" \t\r\n#", *num)))
			*v = n;
	}
	if (fp)
		fclose(fp);
}

/* The image's own /proc/sys (a container's, or one captured with the image). */
static int proc_value(const char *root, const char *name, long *v)
{
	char *rel = xasprintf("/proc/sys/net/ipv4/%s", name);
	char *path = audit_rooted(root, rel);
	FILE *fp = fopen(path, "re");
	int ok = fp && fscanf(fp, "%ld", v) == 1;
	if (fp)
		fclose(fp);
	free(path);
	free(rel);
	return ok;
}

long audit_image_sysctl(const char *root, const char *name, long kernel_default)
{
	long pv;
	if (proc_value(root, name, &pv))
		return pv;
	struct strvec files = { 0 };
	for (size_t d = 0; d < ARRAY_SIZE(dirs); d++) {
		char *dir = audit_rooted(root, dirs[d]);
		DIR *dp = opendir(dir);
		struct dirent *e;
		while (dp && (e = readdir(dp)) && files.n < MAX_FILES) {
			size_t n = strlen(e->d_name);
			if (n < 6 || strcmp(e->d_name + n - 5, ".conf"))
				continue;
			/* the same name in an earlier directory masks the later one */
			int masked = 0;
			for (size_t i = 0; i < files.n && !masked; i++)
				masked = !strcmp(strrchr(files.v[i], '/') + 1, e->d_name);
			if (!masked)
				strvec_pushf(&files, "%s/%s", dir, e->d_name);
		}
		if (dp)
			closedir(dp);
		free(dir);
	}
	if (files.n)
		qsort(files.v, files.n, sizeof(char *), cmp_base);
	char *key = xasprintf("net.ipv4.%s", name);
	long v = kernel_default;
	for (size_t i = 0; i < files.n; i++)
		scan_file(files.v[i], key, &v);
	char *conf = audit_rooted(root, "/etc/sysctl.conf");	/* read last, as sysctl --system */
	scan_file(conf, key, &v);
	free(conf);
	free(key);
	strvec_clear(&files);
	return v;
}
