/* state.c - where the tool remembers things between runs. */
#include "state.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#include <limits.h>

static int mkdir_p(const char *path, mode_t mode)
{
	char *p = xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST) {
			free(p);
			return -1;
		}
		*s = '/';
	}
	int rc = mkdir(p, mode) < 0 && errno != EEXIST ? -1 : 0;
	free(p);
	return rc;
}

char *state_dir(void)
{
	const char *x = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	char *dir;
	if (x && *x == '/')
		dir = xasprintf("%s/sshdoctor", x);
	else if (home && *home)
		dir = xasprintf("%s/.local/state/sshdoctor", home);
	else
		return NULL;
	if (mkdir_p(dir, 0700) < 0) {
		free(dir);
		return NULL;
	}
	return dir;
}

char *state_path(const char *sub, const char *name)
{
	char *dir = state_dir();
	if (!dir)
		return NULL;
	char *subdir = xasprintf("%s/%s", dir, sub);
	free(dir);
	if (mkdir_p(subdir, 0700) < 0) {
		free(subdir);
		return NULL;
	}
	char *p = xasprintf("%s/%s", subdir, name);
	free(subdir);
	return p;
}

char *state_key(const char *host, int port, const char *user)
{
	char *k = xasprintf("%s@%s_%d", user ? user : "", host ? host : "", port);
	for (char *s = k; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("@._-", *s))
			*s = '_';
	return k;
}

int state_save_json(const char *sub, const char *name, struct json_object *obj)
{
	char *path = state_path(sub, name);
	if (!path)
		return -1;
	char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	const char *text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY);
	int rc = -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		size_t n = strlen(text);
		if (write(fd, text, n) == (ssize_t)n && fsync(fd) == 0)
			rc = 0;
		close(fd);
		if (rc == 0 && rename(tmp, path) < 0)
			rc = -1;
		if (rc)
			unlink(tmp);
	}
	free(tmp);
	free(path);
	return rc;
}

struct json_object *state_load_json(const char *sub, const char *name)
{
	char *path = state_path(sub, name);
	if (!path)
		return NULL;
	struct json_object *o = json_object_from_file(path);
	free(path);
	if (o && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* As root, state another user could write is not ours to trust: every directory
 * from / down to path (after symlinks) must be root's and writable by nobody
 * else; a sticky world-writable ancestor (/tmp) is fine, its entries are not. */
int state_trusted(const char *path, char **err)
{
	char *real = realpath(path, NULL);
	if (!real) {
		*err = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	size_t len = strlen(real);
	int rc = 0;
	for (size_t end = len;;) {
		char c = real[end];
		real[end] = '\0';
		struct stat st;
		const char *p = *real ? real : "/";
		if (lstat(p, &st) < 0) {
			*err = xasprintf("%s: %s", p, strerror(errno));
			rc = -1;
		} else if (st.st_uid != 0) {
			*err = xasprintf("%s is owned by uid %u, not root: as root, sshdoctor keeps and "
					 "trusts change sets only in root's own directories (HOME or "
					 "XDG_STATE_HOME points at another user's files; use root's "
					 "environment, e.g. sudo -H or sudo -i)", p, (unsigned)st.st_uid);
			rc = -1;
		} else if ((st.st_mode & 022) && !(end < len && (st.st_mode & S_ISVTX))) {
			*err = xasprintf("%s is writable by %s: as root, sshdoctor does not trust "
					 "change sets kept there", p,
					 st.st_mode & 002 ? "everyone" : "its group");
			rc = -1;
		}
		real[end] = c;
		if (rc || end == 0)
			break;
		/* up one component */
		while (end > 0 && real[end - 1] != '/')
			end--;
		if (end > 0)
			end--;
	}
	free(real);
	return rc;
}
