/* changeset.c - change sets: backups and a manifest per --fix, rollback, and
 * undo (by id or the last), with the trust checks a root user needs (see
 * fileio.h). The atomic file primitives are in fileio.c. */
#include "fileio.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "state.h"

#define MAX_SETS 10000

/* --- change sets ------------------------------------------------------------- */

static const char *jstr(struct json_object *o, const char *k)
{
	struct json_object *v;
	return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
	       ? json_object_get_string(v) : NULL;
}

static int jbool(struct json_object *o, const char *k)
{
	struct json_object *v;
	return json_object_object_get_ex(o, k, &v) && json_object_get_boolean(v);
}

static int ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && !strcmp(s + a - b, suf);
}

int fileio_path_plausible(const char *role, int explicit_file, const char *path)
{
	if (!role || !path || path[0] != '/' || strstr(path, "/../") || strstr(path, "/./") ||
	    strstr(path, "//") || ends_with(path, "/..") || ends_with(path, "/."))
		return 0;
	if (!strcmp(role, "kernel"))
		return ends_with(path, "/etc/sysctl.d/90-sshdoctor-keepalive.conf");
	if (explicit_file)	/* named by -F / --server-config */
		return !strcmp(role, "client") || !strcmp(role, "server");
	if (!strcmp(role, "client"))
		return ends_with(path, "/.ssh/config");
	if (!strcmp(role, "server"))
		return strstr(path, "/etc/ssh/") != NULL;
	return 0;
}

/* As root, a set directory, manifest or backup must be root's, no symlink, and
 * writable by nobody else: anyone else could have made it say anything. */
static int trusted_entry(const char *path, char **err)
{
	struct stat st;
	if (geteuid() != 0)
		return 0;
	if (lstat(path, &st) < 0)
		return err_set(err, "%s: %s", path, strerror(errno));
	if (S_ISLNK(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022))
		return err_set(err, "%s is %s: as root, sshdoctor does not trust it", path,
			       S_ISLNK(st.st_mode) ? "a symlink" : st.st_uid ? "not owned by root"
			       : "writable by others");
	return 0;
}

/* $XDG_STATE_HOME/sshdoctor/fix/, checked as root (see state_trusted). */
static char *fix_base(char **err)
{
	char *base = state_path("fix", "");
	if (!base) {
		err_set(err, "no state directory (set HOME or XDG_STATE_HOME)");
		return NULL;
	}
	char *e = NULL;
	if (geteuid() == 0 && state_trusted(base, &e) < 0) {
		err_set(err, "%s", e);
		free(e);
		free(base);
		return NULL;
	}
	return base;
}

static int save_manifest(struct changeset *cs, char **err)
{
	char *path = xasprintf("%s/manifest.json", cs->dir);
	struct file_snap s;
	int rc = file_snap_read(&s, path, err);
	if (rc == 0) {
		const char *text = json_object_to_json_string_ext(cs->manifest, JSON_C_TO_STRING_PRETTY);
		rc = fileio_replace(&s, text, strlen(text), 0600, err);
		file_snap_free(&s);
	}
	free(path);
	return rc;
}

int changeset_begin(struct changeset *cs, const char *command, char **err)
{
	memset(cs, 0, sizeof(*cs));
	char *base = fix_base(err);
	if (!base)
		return -1;
	/* Ids sort by time, so "the last set" is the greatest name. */
	cs->id = xasprintf("%013lld-%06d", (long long)wall_ms(), (int)getpid());
	cs->dir = xasprintf("%s%s", base, cs->id);
	free(base);
	if (mkdir(cs->dir, 0700) < 0) {
		err_set(err, "%s: %s", cs->dir, strerror(errno));
		changeset_free(cs);
		return -1;
	}
	cs->manifest = json_object_new_object();
	json_object_object_add(cs->manifest, "id", json_object_new_string(cs->id));
	json_object_object_add(cs->manifest, "time", json_object_new_int64(wall_ms() / 1000));
	json_object_object_add(cs->manifest, "command", json_object_new_string(command));
	json_object_object_add(cs->manifest, "complete", json_object_new_boolean(0));
	json_object_object_add(cs->manifest, "undone", json_object_new_boolean(0));
	json_object_object_add(cs->manifest, "files", json_object_new_array());
	if (save_manifest(cs, err) < 0) {
		changeset_free(cs);
		return -1;
	}
	return 0;
}

int changeset_write(struct changeset *cs, const struct file_snap *s, const char *data,
		    size_t len, mode_t mode_new, char **err)
{
	return changeset_write_as(cs, s, data, len, mode_new, "client", 1, err);
}

int changeset_write_as(struct changeset *cs, const struct file_snap *s, const char *data,
		       size_t len, mode_t mode_new, const char *role, int explicit_file, char **err)
{
	const char *target = s->target ? s->target : s->path;
	if (geteuid() == 0 && !fileio_path_plausible(role, explicit_file, s->path))
		return err_set(err, "%s: not a file sshdoctor --fix edits as root (%s)", s->path, role);
	struct json_object *f = json_object_new_object();
	char hash[FILEIO_HASH_HEX];
	json_object_object_add(f, "path", json_object_new_string(s->path));
	json_object_object_add(f, "target", json_object_new_string(target));
	json_object_object_add(f, "role", json_object_new_string(role));
	json_object_object_add(f, "explicit", json_object_new_boolean(explicit_file));
	json_object_object_add(f, "existed", json_object_new_boolean(s->exists));
	if (s->exists) {
		char *bname = xasprintf("%zu.orig", cs->nfiles);
		char *bpath = xasprintf("%s/%s", cs->dir, bname);
		struct file_snap b;
		int rc = file_snap_read(&b, bpath, err);
		if (rc == 0)
			rc = fileio_replace(&b, s->data, s->len, 0600, err);
		if (rc == 0)
			file_snap_free(&b);
		free(bpath);
		if (rc < 0) {
			free(bname);
			json_object_put(f);
			return -1;
		}
		json_object_object_add(f, "backup", json_object_new_string(bname));
		free(bname);
		json_object_object_add(f, "mode", json_object_new_int((int)s->mode));
		json_object_object_add(f, "uid", json_object_new_int((int)s->uid));
		json_object_object_add(f, "gid", json_object_new_int((int)s->gid));
		fileio_hash(s->data, s->len, hash);
		json_object_object_add(f, "original_sha256", json_object_new_string(hash));
	} else {
		/* Directories we are about to create go away again on undo. */
		struct json_object *dirs = json_object_new_array();
		char *d = xstrdup(target);
		for (int depth = 0; depth < 64; depth++) {
			char *slash = strrchr(d, '/');
			if (!slash || slash == d)
				break;
			*slash = '\0';
			if (access(d, F_OK) == 0)
				break;
			json_object_array_add(dirs, json_object_new_string(d));
		}
		free(d);
		json_object_object_add(f, "created_dirs", dirs);
	}
	fileio_hash(data, len, hash);
	json_object_object_add(f, "written_sha256", json_object_new_string(hash));
	json_object_object_add(f, "written_len", json_object_new_int64((int64_t)len));
	/* "written" turns true only after the rename: an interrupted run leaves an
	 * entry undo can tell apart (the file still has its original bytes). */
	json_object_object_add(f, "written", json_object_new_boolean(0));
	json_object_array_add(json_object_object_get(cs->manifest, "files"), f);
	cs->nfiles++;
	if (save_manifest(cs, err) < 0)
		return -1;
	if (fileio_replace(s, data, len, mode_new, err) < 0) {
		/* Not written: a rollback must not "restore" (or delete) what is there now. */
		struct json_object *files = json_object_object_get(cs->manifest, "files");
		json_object_array_del_idx(files, json_object_array_length(files) - 1, 1);
		save_manifest(cs, NULL);
		return -1;
	}
	json_object_object_add(f, "written", json_object_new_boolean(1));
	return save_manifest(cs, err);
}

int changeset_record_sysctl(struct changeset *cs, const char *name, const char *before,
			    const char *after, char **err)
{
	struct json_object *a = json_object_object_get(cs->manifest, "sysctl");
	if (!a) {
		a = json_object_new_array();
		json_object_object_add(cs->manifest, "sysctl", a);
	}
	struct json_object *e = json_object_new_object();
	json_object_object_add(e, "name", json_object_new_string(name));
	json_object_object_add(e, "before", json_object_new_string(before));
	json_object_object_add(e, "after", json_object_new_string(after));
	json_object_array_add(a, e);
	return save_manifest(cs, err);
}

/* 1: the file is as sshdoctor wrote it; 0: as it was before (an entry whose
 * write never happened, or was already put back); -1: neither (someone's edit). */
static int entry_state(struct json_object *f, const struct file_snap *cur)
{
	char hash[FILEIO_HASH_HEX];
	const char *want = jstr(f, "written_sha256"), *orig = jstr(f, "original_sha256");
	fileio_hash(cur->data, cur->len, hash);
	if (cur->exists && want && !strcmp(hash, want))
		return 1;
	int existed = jbool(f, "existed");
	if (!existed && !cur->exists)
		return 0;
	if (existed && cur->exists && orig && !strcmp(hash, orig))
		return 0;
	return -1;
}

/* Checks an entry before anything is restored: a plausible path (as root), and
 * the file as we wrote it (or untouched). Returns entry_state, or -2 with *err. */
static int entry_check(const char *dir, struct json_object *f, char **err)
{
	const char *path = jstr(f, "path");
	const char *role = jstr(f, "role");
	struct file_snap cur;
	if (!path)
		return err_set(err, "%s: manifest entry without a path", dir) - 1;
	if (geteuid() == 0 && !fileio_path_plausible(role ? role : "", jbool(f, "explicit"), path))
		return err_set(err, "%s: the manifest in %s names a file sshdoctor --fix never "
			       "edits (%s); refusing it as root", path, dir, role ? role : "no role") - 1;
	if (!jstr(f, "written_sha256"))
		return err_set(err, "%s: the manifest in %s is from an older sshdoctor (no SHA-256); "
			       "restore it by hand from the backups there", path, dir) - 1;
	if (file_snap_read(&cur, path, err) < 0)
		return -2;
	const char *t = jstr(f, "target");
	if (t && cur.target && strcmp(t, cur.target)) {
		err_set(err, "%s now leads to %s, not %s as when sshdoctor wrote it", path,
			cur.target, t);
		file_snap_free(&cur);
		return -2;
	}
	int st = entry_state(f, &cur);
	file_snap_free(&cur);
	return st;
}

/* Restores one checked entry (state 1). Appends what happened to log. */
static int restore_one(const char *dir, struct json_object *f, struct strbuf *log, char **err)
{
	const char *path = jstr(f, "path");
	struct file_snap cur;
	int rc;
	if (file_snap_read(&cur, path, err) < 0)
		return -1;
	if (!jbool(f, "existed")) {
		const char *t = cur.target ? cur.target : path;
		rc = cur.exists && unlink(t) < 0 ? err_set(err, "%s: %s", t, strerror(errno)) : 0;
		if (rc == 0 && log)
			sb_addf(log, cur.is_link ? "removed %s (sshdoctor had created it; the symlink "
				"%s stays)\n" : "removed %s (sshdoctor had created it)%.0s\n", t, path);
		struct json_object *dirs = json_object_object_get(f, "created_dirs");
		for (size_t i = 0; rc == 0 && dirs && i < json_object_array_length(dirs); i++)
			rmdir(json_object_get_string(json_object_array_get_idx(dirs, i)));
	} else {
		const char *bname = jstr(f, "backup");
		char *bpath = xasprintf("%s/%s", dir, bname ? bname : "");
		struct file_snap b = { 0 };
		char hash[FILEIO_HASH_HEX];
		rc = !bname || strchr(bname, '/') ? err_set(err, "%s: bad backup name", dir) : 0;
		if (rc == 0)
			rc = trusted_entry(bpath, err);
		if (rc == 0)
			rc = file_snap_read(&b, bpath, err);
		if (rc == 0 && !b.exists)
			rc = err_set(err, "%s: backup missing", bpath);
		if (rc == 0) {
			fileio_hash(b.data, b.len, hash);
			const char *orig = jstr(f, "original_sha256");
			if (!orig || strcmp(orig, hash))
				rc = err_set(err, "%s: backup does not match the original's SHA-256", bpath);
		}
		if (rc == 0) {
			/* Put the original mode and owner back along with the bytes. */
			cur.mode = (mode_t)json_object_get_int(json_object_object_get(f, "mode")) & 07777;
			cur.uid = (uid_t)json_object_get_int(json_object_object_get(f, "uid"));
			cur.gid = (gid_t)json_object_get_int(json_object_object_get(f, "gid"));
			rc = fileio_replace(&cur, b.data, b.len, cur.mode, err);
		}
		if (rc == 0 && log)
			sb_addf(log, "restored %s\n", path);
		file_snap_free(&b);
		free(bpath);
	}
	file_snap_free(&cur);
	return rc;
}

/* Restores a whole set: every entry is checked first (a set is restored whole or
 * not at all), entries never written are skipped, then newest first. A file that
 * cannot be put back is named in log and *err, and the rest still restored. */
static int restore_set(const char *dir, struct json_object *m, struct strbuf *log, char **err)
{
	struct json_object *files = json_object_object_get(m, "files");
	size_t n = files && json_object_is_type(files, json_type_array)
		   ? json_object_array_length(files) : 0;
	int *st = xcalloc(n ? n : 1, sizeof(*st));
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct json_object *f = json_object_array_get_idx(files, i);
		st[i] = entry_check(dir, f, err);
		if (st[i] == -2)
			rc = -1;
		else if (st[i] < 0)
			rc = err_set(err, "%s was changed after sshdoctor wrote it; nothing restored "
				     "(the originals are in %s)", jstr(f, "path"), dir);
	}
	struct strbuf failed = { 0 };
	for (size_t i = n; rc == 0 && i-- > 0;) {	/* newest first */
		struct json_object *f = json_object_array_get_idx(files, i);
		char *e = NULL;
		if (st[i] == 0) {
			if (log)
				sb_addf(log, "skipped %s (never written by this set: as it was)\n",
					jstr(f, "path"));
		} else if (restore_one(dir, f, log, &e) < 0) {
			if (log)
				sb_addf(log, "NOT restored: %s is left as sshdoctor wrote it (%s); the "
					"original is in %s\n", jstr(f, "path"), e ? e : "?", dir);
			sb_addf(&failed, "%s%s", failed.len ? ", " : "", jstr(f, "path"));
		}
		free(e);
	}
	if (rc == 0 && failed.len)
		rc = err_set(err, "could not restore %s (left as sshdoctor wrote it; originals in %s)",
			     failed.buf, dir);
	sb_free(&failed);
	free(st);
	return rc;
}

int changeset_rollback(struct changeset *cs, struct strbuf *log, char **err)
{
	int rc = restore_set(cs->dir, cs->manifest, log, err);
	/* A failed rollback is never marked undone: --undo can still try again. */
	if (rc == 0) {
		json_object_object_add(cs->manifest, "undone", json_object_new_boolean(1));
		json_object_object_add(cs->manifest, "rolled_back", json_object_new_boolean(1));
	} else {
		json_object_object_add(cs->manifest, "rollback_failed", json_object_new_boolean(1));
	}
	save_manifest(cs, NULL);
	return rc;
}

int changeset_end(struct changeset *cs, char **err)
{
	json_object_object_add(cs->manifest, "complete", json_object_new_boolean(1));
	int rc = save_manifest(cs, err);
	changeset_free(cs);
	return rc;
}

void changeset_free(struct changeset *cs)
{
	free(cs->dir);
	free(cs->id);
	if (cs->manifest)
		json_object_put(cs->manifest);
	memset(cs, 0, sizeof(*cs));
}

/* --- undo -------------------------------------------------------------------- */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int valid_id(const char *id)
{
	return *id && strlen(id) < 64 && strspn(id, "0123456789-") == strlen(id);
}

static void list_ids(const char *base, struct strvec *names)
{
	DIR *d = opendir(base);
	struct dirent *e;
	while (d && (e = readdir(d)) && names->n < MAX_SETS)
		if (valid_id(e->d_name))
			strvec_push(names, e->d_name);
	if (d)
		closedir(d);
	if (names->n)
		qsort(names->v, names->n, sizeof(char *), cmp_names);
}

/* The manifest of set id, checked (as root: root's, writable by nobody else). */
static struct json_object *load_set(const char *base, const char *id, char **err)
{
	char *dir = xasprintf("%s%s", base, id);
	char *mpath = xasprintf("%s/manifest.json", dir);
	struct json_object *m = NULL;
	if (trusted_entry(dir, err) == 0 && trusted_entry(mpath, err) == 0) {
		m = json_object_from_file(mpath);
		if (!m || !json_object_is_type(m, json_type_object) || !jstr(m, "id") ||
		    strcmp(jstr(m, "id"), id)) {
			if (m)
				json_object_put(m);
			m = NULL;
			err_set(err, "%s: not a readable sshdoctor manifest", mpath);
		}
	}
	free(mpath);
	free(dir);
	return m;
}

/* Puts the live kernel values back that the set changed, unless someone else
 * changed them since. */
static void restore_sysctls(struct json_object *m, struct strbuf *log)
{
	struct json_object *a = json_object_object_get(m, "sysctl");
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		struct json_object *e = json_object_array_get_idx(a, i);
		const char *name = jstr(e, "name"), *before = jstr(e, "before"), *after = jstr(e, "after");
		if (!name || !before || !after || !str_startswith(name, "net.ipv4.tcp_keepalive_") ||
		    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789._") != strlen(name) ||
		    strspn(before, "0123456789") != strlen(before) || !*before)
			continue;
		char *path = xasprintf("/proc/sys/%s", name);
		for (char *c = path + 10; *c; c++)
			if (*c == '.')
				*c = '/';
		char cur[64] = "";
		FILE *fp = fopen(path, "re");
		if (fp) {
			if (!fgets(cur, sizeof(cur), fp))
				cur[0] = '\0';
			fclose(fp);
		}
		cur[strcspn(cur, "\n")] = '\0';
		if (strcmp(cur, after)) {
			sb_addf(log, "left live %s = %s (not %s, the value sshdoctor set)\n", name,
				*cur ? cur : "?", after);
		} else if ((fp = fopen(path, "we")) && fprintf(fp, "%s\n", before) > 0 &&
			   fclose(fp) == 0) {
			sb_addf(log, "restored live %s = %s\n", name, before);
			fp = NULL;
		} else {
			sb_addf(log, "could not restore live %s = %s: %s\n", name, before, strerror(errno));
			if (fp)
				fclose(fp);
		}
		free(path);
	}
}

static int undo_set(const char *base, const char *id, struct json_object *m, struct strbuf *log,
		    char **err)
{
	char *dir = xasprintf("%s%s", base, id);
	int rc = restore_set(dir, m, log, err);
	if (rc == 0) {
		struct changeset cs = { .dir = dir, .manifest = m };
		restore_sysctls(m, log);
		json_object_object_add(m, "undone", json_object_new_boolean(1));
		rc = save_manifest(&cs, err);
		struct json_object *files = json_object_object_get(m, "files");
		int server = 0;
		for (size_t i = 0; files && i < json_object_array_length(files); i++) {
			const char *role = jstr(json_object_array_get_idx(files, i), "role");
			server |= role && !strcmp(role, "server");
		}
		if (log && server)
			sb_adds(log, "a running sshd keeps the fixed values until it is reloaded "
				"(systemctl reload ssh, or kill -HUP its pid)\n");
		if (log)
			sb_addf(log, "undid change set %s\n", id);
	}
	free(dir);
	return rc;
}

int fileio_undo(const char *id, struct strbuf *log, char **err)
{
	if (id && !valid_id(id))
		return err_set(err, "'%s' is not a change set id (see --undo --list)", id);
	char *base = fix_base(err);
	if (!base)
		return -1;
	int rc = 1;
	if (id) {
		struct json_object *m = load_set(base, id, err);
		if (!m)
			rc = -1;
		else if (jbool(m, "undone"))
			rc = err_set(err, "change set %s is already undone", id);
		else
			rc = undo_set(base, id, m, log, err);
		if (m)
			json_object_put(m);
		free(base);
		return rc;
	}
	struct strvec names = { 0 };
	list_ids(base, &names);
	for (size_t i = names.n; i-- > 0;) {
		struct json_object *m = load_set(base, names.v[i], err);
		if (!m) {
			rc = -1;	/* an untrusted or broken set is not skipped silently */
			break;
		}
		if (!jbool(m, "undone")) {
			rc = undo_set(base, names.v[i], m, log, err);
			json_object_put(m);
			break;
		}
		json_object_put(m);
	}
	strvec_clear(&names);
	free(base);
	return rc;
}

int fileio_undo_last(struct strbuf *log, char **err)
{
	return fileio_undo(NULL, log, err);
}

int fileio_undo_list(struct strbuf *out, char **err)
{
	char *base = fix_base(err);
	if (!base)
		return -1;
	struct strvec names = { 0 };
	list_ids(base, &names);
	int rc = 0;
	for (size_t i = names.n; i-- > 0;) {
		char *e = NULL;
		struct json_object *m = load_set(base, names.v[i], &e);
		if (!m) {
			sb_addf(out, "%s  (not usable: %s)\n", names.v[i], e ? e : "?");
			free(e);
			continue;
		}
		time_t t = (time_t)json_object_get_int64(json_object_object_get(m, "time"));
		char when[32];
		struct tm tm;
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
		const char *status = jbool(m, "rolled_back") ? "rolled back"
				     : jbool(m, "undone") ? "undone"
				     : jbool(m, "rollback_failed") ? "rollback failed: undo it"
				     : jbool(m, "complete") ? "applied" : "interrupted: undo it";
		sb_addf(out, "%s  %s  %s  %s:", names.v[i], when, jstr(m, "command") ? jstr(m, "command")
			: "?", status);
		struct json_object *files = json_object_object_get(m, "files");
		for (size_t k = 0; files && k < json_object_array_length(files); k++) {
			struct json_object *f = json_object_array_get_idx(files, k);
			sb_addf(out, " %s%s", jstr(f, "path") ? jstr(f, "path") : "?",
				jbool(f, "written") ? "" : " (not written)");
		}
		if (!files || !json_object_array_length(files))
			sb_adds(out, " no files");
		sb_adds(out, "\n");
		json_object_put(m);
	}
	if (!names.n)
		sb_adds(out, "no change sets\n");
	strvec_clear(&names);
	free(base);
	return rc;
}
