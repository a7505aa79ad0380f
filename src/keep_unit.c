/* keep_unit.c - `keep --status` (the state files each keep process writes) and
 * `keep --install-unit` / `--uninstall-unit` (a systemd unit, written
 * atomically, never over a unit sshdoctor did not write). */
#include "keep.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "finding.h"
#include "fileio.h"
#include "log.h"
#include "state.h"

#define UNIT_MARK "# sshdoctor-keep-unit 1: written by 'sshdoctor keep --install-unit'"

/* --- status --------------------------------------------------------------------- */

/* Is pid a live sshdoctor? (A stale file's pid may have been reused.) */
static int pid_is_keep(int pid)
{
	if (pid <= 0 || (kill(pid, 0) < 0 && errno != EPERM))
		return 0;
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (!buf[i])
			buf[i] = ' ';
	return strstr(buf, "sshdoctor") && strstr(buf, "keep");
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *jstr(struct json_object *o, const char *k)
{
	struct json_object *v;
	return json_object_object_get_ex(o, k, &v) && v ? json_object_get_string(v) : NULL;
}

static int64_t jint(struct json_object *o, const char *k, int64_t dflt)
{
	struct json_object *v;
	return json_object_object_get_ex(o, k, &v) && v ? json_object_get_int64(v) : dflt;
}

int keep_status(int json)
{
	char *dir = state_dir();
	char *kdir = dir ? xasprintf("%s/keep", dir) : NULL;
	struct strvec names = { 0 };
	DIR *d = kdir ? opendir(kdir) : NULL;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l > 5 && strcmp(e->d_name + l - 5, ".json") == 0 && e->d_name[0] != '.')
			strvec_push(&names, e->d_name);
	}
	if (d)
		closedir(d);
	if (names.n)
		qsort(names.v, names.n, sizeof(char *), name_cmp);
	struct json_object *all = json_object_new_array();
	int64_t now = wall_ms() / 1000;
	for (size_t i = 0; i < names.n; i++) {
		struct json_object *t = state_load_json("keep", names.v[i]);
		if (!t || !json_object_is_type(t, json_type_object)) {
			if (t)
				json_object_put(t);
			continue;
		}
		int alive = pid_is_keep((int)jint(t, "pid", 0));
		const char *st = jstr(t, "state");
		if (!alive && st && strcmp(st, "stopped") != 0)
			json_object_object_add(t, "state", json_object_new_string("dead"));
		int64_t up = jint(t, "up_since", 0);
		json_object_object_add(t, "uptime_s", alive && up ? json_object_new_int64(now - up) : NULL);
		int64_t down = jint(t, "down_since", 0);
		json_object_object_add(t, "downtime_s",
				       alive && !up && down ? json_object_new_int64(now - down) : NULL);
		json_object_array_add(all, t);
	}
	if (json) {
		struct json_object *root = json_object_new_object();
		json_object_object_add(root, "tunnels", all);
		puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY));
		json_object_put(root);
	} else {
		size_t n = json_object_array_length(all);
		if (!n)
			puts("no tunnels (none running under 'sshdoctor keep' for this user)");
		for (size_t i = 0; i < n; i++) {
			struct json_object *t = json_object_array_get_idx(all, i), *fw, *falls;
			char dur[32] = "";
			int64_t u = jint(t, "uptime_s", -1), dn = jint(t, "downtime_s", -1);
			if (u >= 0)
				format_duration(dur, sizeof(dur), u * 1000);
			else if (dn >= 0)
				format_duration(dur, sizeof(dur), dn * 1000);
			printf("%s  %s  %s%s%s  restarts %lld\n", jstr(t, "name"), jstr(t, "target"),
			       jstr(t, "state"), dur[0] ? " for " : "", dur, (long long)jint(t, "restarts", 0));
			if (json_object_object_get_ex(t, "forwards", &fw))
				for (size_t j = 0; j < json_object_array_length(fw); j++)
					printf("    forward %s\n", json_object_get_string(json_object_array_get_idx(fw, j)));
			if (json_object_object_get_ex(t, "falls", &falls) && json_object_array_length(falls)) {
				struct json_object *f = json_object_array_get_idx(falls, 0);
				int64_t dt = jint(f, "downtime_ms", -1);
				char dd[32] = "still down";
				if (dt >= 0) {
					snprintf(dd, sizeof(dd), "down ");
					format_duration(dd + 5, sizeof(dd) - 5, dt);
				}
				printf("    last fall: %s (%s): %s\n", jstr(f, "cause"), dd, jstr(f, "detail"));
			} else if (jstr(t, "last_detail")) {
				printf("    last: %s: %s\n", jstr(t, "last_cause"), jstr(t, "last_detail"));
			}
		}
		json_object_put(all);
	}
	strvec_clear(&names);
	free(kdir);
	free(dir);
	return fflush(stdout) == 0 && !ferror(stdout) ? 0 : EXIT_IOERR;
}

/* --- systemd unit ------------------------------------------------------------------ */

char *keep_unit_quote(const char *w)
{
	struct strbuf sb = { 0 };
	sb_adds(&sb, "\"");
	for (const char *p = w; *p; p++) {
		if (*p == '"' || *p == '\\')
			sb_addf(&sb, "\\%c", *p);
		else if (*p == '%')
			sb_adds(&sb, "%%");	/* systemd specifiers */
		else if (*p == '$')
			sb_adds(&sb, "$$");	/* environment expansion */
		else if ((unsigned char)*p < 0x20)
			sb_addf(&sb, "\\x%02x", (unsigned char)*p);
		else
			sb_add(&sb, p, 1);
	}
	sb_adds(&sb, "\"");
	return sb.buf;
}

char *keep_unit_text(const char *name, const char *target, char *const words[], int nwords,
		     int system)
{
	struct strbuf sb = { 0 };
	sb_addf(&sb, "%s\n# Remove with: sshdoctor keep --uninstall-unit %s\n", UNIT_MARK, name);
	char *desc = keep_unit_quote(target);
	sb_addf(&sb, "[Unit]\nDescription=sshdoctor keep %s: tunnel to %s\n", name, desc);
	free(desc);
	sb_adds(&sb, "Wants=network-online.target\nAfter=network-online.target\n\n[Service]\n"
		     "Type=notify\nNotifyAccess=main\nExecStart=");
	for (int i = 0; i < nwords; i++) {
		char *q = keep_unit_quote(words[i]);
		sb_addf(&sb, "%s%s", i ? " " : "", q);
		free(q);
	}
	/* keep restarts ssh itself; systemd restarts keep only if keep itself failed,
	 * never after keep stopped on purpose (auth refused, host key: exit 2). */
	sb_addf(&sb, "\nRestart=on-failure\nRestartSec=30\nRestartPreventExitStatus=%d %d\n"
		     "WatchdogSec=60\nKillMode=control-group\nTimeoutStopSec=10\n\n[Install]\n"
		     "WantedBy=%s\n",
		KEEP_EXIT_STOPPED, 64, system ? "multi-user.target" : "default.target");
	return sb.buf;
}

static char *unit_path(const char *name, int *system)
{
	*system = geteuid() == 0;
	if (*system)
		return xasprintf("/etc/systemd/system/sshdoctor-keep-%s.service", name);
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	if (xdg && xdg[0] == '/')
		return xasprintf("%s/systemd/user/sshdoctor-keep-%s.service", xdg, name);
	if (!home || home[0] != '/')
		return NULL;
	return xasprintf("%s/.config/systemd/user/sshdoctor-keep-%s.service", home, name);
}

static int is_ours(const struct file_snap *s)
{
	return s->exists && strncmp(s->data, UNIT_MARK, strlen(UNIT_MARK)) == 0;
}

/* The words of ExecStart: this binary (absolute), then keep's own arguments
 * without --install-unit NAME, with --name NAME. */
static void unit_words(const struct keep_opts *o, const char *name, struct strvec *w)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	strvec_push(w, n > 0 ? self : "sshdoctor");
	strvec_push(w, "keep");
	strvec_push(w, "--name");
	strvec_push(w, name);
	for (int i = 1; i < o->argc; i++) {
		const char *a = o->argv[i];
		if (!strcmp(a, "--install-unit") || !strcmp(a, "--name")) {
			i++;
			continue;
		}
		if (!strncmp(a, "--install-unit=", 15) || !strncmp(a, "--name=", 7))
			continue;
		strvec_push(w, a);
	}
}

int keep_install_unit(const struct keep_opts *o, const char *name)
{
	int system;
	char *path = unit_path(name, &system), *err = NULL;
	if (!path) {
		error("keep --install-unit: no HOME to put a user unit in");
		return EXIT_USAGE;
	}
	struct file_snap s = { 0 };
	if (file_snap_read(&s, path, &err) < 0) {
		error("keep --install-unit: %s", err);
		free(err);
		free(path);
		return 1;
	}
	if (s.exists && !is_ours(&s)) {
		error("keep --install-unit: %s exists and was not written by sshdoctor: not touching it", path);
		file_snap_free(&s);
		free(path);
		return 1;
	}
	struct strvec w = { 0 };
	unit_words(o, name, &w);
	char *text = keep_unit_text(name, o->t->spec, w.v, (int)w.n, system);
	int rc = 0;
	if (s.exists && strcmp(s.data, text) == 0) {
		printf("%s is already up to date\n", path);
	} else if (fileio_replace(&s, text, strlen(text), 0644, &err) < 0) {
		error("keep --install-unit: %s", err);
		free(err);
		rc = 1;
	} else {
		const char *sc = system ? "systemctl" : "systemctl --user";
		printf("wrote %s\nstart it with: %s daemon-reload && %s enable --now sshdoctor-keep-%s\n"
		       "undo with:     sshdoctor keep --uninstall-unit %s\n",
		       path, sc, sc, name, name);
	}
	free(text);
	strvec_clear(&w);
	file_snap_free(&s);
	free(path);
	return rc;
}

int keep_uninstall_unit(const char *name)
{
	int system;
	char *path = unit_path(name, &system), *err = NULL;
	if (!path) {
		error("keep --uninstall-unit: no HOME");
		return EXIT_USAGE;
	}
	struct file_snap s = { 0 };
	int rc = 1;
	if (file_snap_read(&s, path, &err) < 0) {
		error("keep --uninstall-unit: %s", err);
		free(err);
	} else if (!s.exists) {
		error("keep --uninstall-unit: %s does not exist", path);
	} else if (!is_ours(&s)) {
		error("keep --uninstall-unit: %s was not written by sshdoctor: not removing it", path);
	} else if (unlink(path) < 0) {
		error("keep --uninstall-unit: %s: %s", path, strerror(errno));
	} else {
		const char *sc = system ? "systemctl" : "systemctl --user";
		printf("removed %s\n(if it was running: %s stop sshdoctor-keep-%s && %s daemon-reload)\n",
		       path, sc, name, sc);
		rc = 0;
	}
	file_snap_free(&s);
	free(path);
	return rc;
}
