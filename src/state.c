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
