/* fileio.c - atomic writes, backups, change sets and undo (see fileio.h). */
#include "fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "state.h"

#define MAX_BYTES (16 * 1024 * 1024)
#define MAX_SETS 10000

static int set_err(char **err, const char *fmt, ...) PRINTF_LIKE(2, 3);
static int set_err(char **err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *m = xvasprintf(fmt, ap);
	va_end(ap);
	if (err && !*err)
		*err = m;
	else
		free(m);
	return -1;
}

static int read_all(int fd, struct strbuf *sb)
{
	char buf[8192];
	ssize_t r;
	sb_add(sb, "", 0);
	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		if (sb->len + (size_t)r > MAX_BYTES) {
			errno = EFBIG;
			return -1;
		}
		sb_add(sb, buf, (size_t)r);
	}
	return r < 0 ? -1 : 0;
}

int file_snap_read(struct file_snap *s, const char *path, char **err)
{
	struct stat st;
	struct strbuf sb = { 0 };
	memset(s, 0, sizeof(*s));
	s->path = xstrdup(path);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ELOOP) {
		/* A symlinked config: we edit the file it points to, keeping the link. */
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0) {
		if (errno == ENOENT) {
			s->data = xstrdup("");
			return 0;
		}
		return set_err(err, "%s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return set_err(err, "%s: not a regular file", path);
	}
	if (read_all(fd, &sb) < 0) {
		int e = errno;
		close(fd);
		sb_free(&sb);
		return set_err(err, "%s: %s", path, strerror(e));
	}
	close(fd);
	s->exists = 1;
	s->data = sb.buf;
	s->len = sb.len;
	s->mode = st.st_mode & 07777;
	s->uid = st.st_uid;
	s->gid = st.st_gid;
	return 0;
}

void file_snap_free(struct file_snap *s)
{
	free(s->path);
	free(s->data);
	memset(s, 0, sizeof(*s));
}

int file_snap_changed(const struct file_snap *s)
{
	struct file_snap now;
	char *err = NULL;
	if (file_snap_read(&now, s->path, &err) < 0) {
		free(err);
		return 1;
	}
	int changed = now.exists != s->exists || now.len != s->len ||
		      memcmp(now.data, s->data, s->len) != 0;
	file_snap_free(&now);
	return changed;
}

/* The real file behind path (a symlinked config stays a symlink). */
static char *real_target(const char *path)
{
	char *r = realpath(path, NULL);
	return r ? r : xstrdup(path);
}

static int mkdirs(const char *dir, mode_t mode)
{
	char *p = xstrdup(dir);
	int rc = 0;
	for (char *s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			rc = -1;
		*s = c;
		if (!c || rc)
			break;
	}
	free(p);
	return rc;
}

static void fsync_dir(const char *path)
{
	char *copy = xstrdup(path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

/* Writes a temp file in dir of path with the given bytes, mode and owner, fsynced. */
static char *write_temp(const char *path, const char *data, size_t len, mode_t mode, int chown_it,
			uid_t uid, gid_t gid, char **err)
{
	char *tmp = xasprintf("%s.sshdoctor-XXXXXX", path);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		set_err(err, "%s: cannot create a temporary file: %s", path, strerror(errno));
		free(tmp);
		return NULL;
	}
	size_t off = 0;
	int ok = 1;
	while (ok && off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			ok = 0;
		else
			off += (size_t)w;
	}
	if (ok && fchmod(fd, mode) < 0)
		ok = 0;
	if (ok && chown_it && (uid != geteuid() || gid != getegid()) && fchown(fd, uid, gid) < 0)
		ok = 0;
	if (ok && fsync(fd) < 0)
		ok = 0;
	if (close(fd) < 0)
		ok = 0;
	if (!ok) {
		set_err(err, "%s: writing %s: %s", path, tmp, strerror(errno));
		unlink(tmp);
		free(tmp);
		return NULL;
	}
	return tmp;
}

char *fileio_temp_beside(const char *path, const char *data, size_t len, char **err)
{
	char *copy = xstrdup(path);
	char *dir = dirname(copy);
	char *r;
	if (access(dir, W_OK) == 0) {
		r = write_temp(path, data, len, 0600, 0, 0, 0, err);
	} else {
		/* No directory yet: a check must not create one, so use the temp dir. */
		const char *t = getenv("TMPDIR");
		char *alt = xasprintf("%s/candidate", t && *t == '/' ? t : "/tmp");
		r = write_temp(alt, data, len, 0600, 0, 0, 0, err);
		free(alt);
	}
	free(copy);
	return r;
}

int fileio_replace(const struct file_snap *s, const char *data, size_t len, mode_t mode_new,
		   char **err)
{
	char *target = real_target(s->path);
	char *copy = xstrdup(target);
	char *dir = dirname(copy);
	/* ~/.ssh must stay private; other directories get the usual 0755. */
	mode_t dmode = strstr(dir, "/.ssh") ? 0700 : 0755;
	int rc = -1;
	if (mkdirs(dir, dmode) < 0) {
		set_err(err, "%s: %s", dir, strerror(errno));
		goto out;
	}
	char *tmp = write_temp(target, data, len, s->exists ? s->mode : mode_new, s->exists,
			       s->uid, s->gid, err);
	if (!tmp)
		goto out;
	/* Last check before the switch: someone else's edit is never overwritten. */
	if (file_snap_changed(s)) {
		unlink(tmp);
		free(tmp);
		set_err(err, "%s changed since it was read; nothing written (run again)", s->path);
		goto out;
	}
	if (rename(tmp, target) < 0) {
		set_err(err, "%s: rename: %s", target, strerror(errno));
		unlink(tmp);
		free(tmp);
		goto out;
	}
	free(tmp);
	fsync_dir(target);
	rc = 0;
out:
	free(copy);
	free(target);
	return rc;
}

void fileio_hash(const char *data, size_t len, char out[17])
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)data[i];
		h *= 1099511628211ULL;
	}
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* --- diff -------------------------------------------------------------------- */

struct lines {
	const char **p;
	size_t *len;
	size_t n;
};

static void split_lines(const char *s, struct lines *l)
{
	size_t cap = 16;
	l->p = xmalloc(cap * sizeof(*l->p));
	l->len = xmalloc(cap * sizeof(*l->len));
	l->n = 0;
	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s + 1) : strlen(s);
		if (l->n == cap) {
			cap *= 2;
			l->p = xrealloc(l->p, cap * sizeof(*l->p));
			l->len = xrealloc(l->len, cap * sizeof(*l->len));
		}
		l->p[l->n] = s;
		l->len[l->n++] = n;
		s += n;
	}
}

static int line_eq(const struct lines *a, size_t i, const struct lines *b, size_t j)
{
	return a->len[i] == b->len[j] && memcmp(a->p[i], b->p[j], a->len[i]) == 0;
}

static void diff_line(struct strbuf *sb, char tag, const char *p, size_t n)
{
	sb_add(sb, &tag, 1);
	sb_add(sb, p, n);
	if (!n || p[n - 1] != '\n')
		sb_adds(sb, "\n\\ No newline at end of file\n");
}

/* One hunk around the changed middle (common prefix and suffix trimmed): always a
 * correct patch, minimal for the localized edits --fix makes. */
char *fileio_diff(const char *path, const char *old, const char *new_text)
{
	struct lines a, b;
	struct strbuf sb = { 0 };
	sb_add(&sb, "", 0);
	if (strcmp(old, new_text) == 0)
		return sb.buf;
	split_lines(old, &a);
	split_lines(new_text, &b);
	size_t pre = 0, suf = 0;
	while (pre < a.n && pre < b.n && line_eq(&a, pre, &b, pre))
		pre++;
	while (suf < a.n - pre && suf < b.n - pre && line_eq(&a, a.n - 1 - suf, &b, b.n - 1 - suf))
		suf++;
	size_t ctx_before = pre < 3 ? pre : 3, ctx_after = suf < 3 ? suf : 3;
	size_t as = pre - ctx_before, bs = pre - ctx_before;
	size_t alen = a.n - pre - suf + ctx_before + ctx_after;
	size_t blen = b.n - pre - suf + ctx_before + ctx_after;
	const char *p = path[0] == '/' ? path + 1 : path;
	sb_addf(&sb, "--- a/%s\n+++ b/%s\n", p, p);
	sb_addf(&sb, "@@ -%zu,%zu +%zu,%zu @@\n", alen ? as + 1 : as, alen, blen ? bs + 1 : bs, blen);
	for (size_t i = as; i < pre; i++)
		diff_line(&sb, ' ', a.p[i], a.len[i]);
	for (size_t i = pre; i < a.n - suf; i++)
		diff_line(&sb, '-', a.p[i], a.len[i]);
	for (size_t i = pre; i < b.n - suf; i++)
		diff_line(&sb, '+', b.p[i], b.len[i]);
	for (size_t i = a.n - suf; i < a.n - suf + ctx_after; i++)
		diff_line(&sb, ' ', a.p[i], a.len[i]);
	free(a.p);
	free(a.len);
	free(b.p);
	free(b.len);
	return sb.buf;
}

/* --- change sets ------------------------------------------------------------- */

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
	char *base = state_path("fix", "");
	if (!base)
		return set_err(err, "no state directory (set HOME or XDG_STATE_HOME)");
	/* Ids sort by time, so "the last set" is the greatest name. */
	cs->id = xasprintf("%013lld-%06d", (long long)wall_ms(), (int)getpid());
	cs->dir = xasprintf("%s%s", base, cs->id);
	free(base);
	if (mkdir(cs->dir, 0700) < 0) {
		set_err(err, "%s: %s", cs->dir, strerror(errno));
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
	struct json_object *f = json_object_new_object();
	char hash[17];
	json_object_object_add(f, "path", json_object_new_string(s->path));
	json_object_object_add(f, "existed", json_object_new_boolean(s->exists));
	if (s->exists) {
		char *bname = xasprintf("%zu.orig", cs->nfiles);
		char *bpath = xasprintf("%s/%s", cs->dir, bname);
		struct file_snap b;
		int rc = file_snap_read(&b, bpath, err);
		if (rc == 0)
			rc = fileio_replace(&b, s->data, s->len, 0600, err);
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
		json_object_object_add(f, "original_sha", json_object_new_string(hash));
	}
	if (!s->exists) {
		/* Directories we are about to create go away again on undo. */
		struct json_object *dirs = json_object_new_array();
		char *d = xstrdup(s->path);
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
	json_object_object_add(f, "written_hash", json_object_new_string(hash));
	json_object_object_add(f, "written_len", json_object_new_int64((int64_t)len));
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
	return 0;
}

/* Restores one manifest entry; refuses when the file is not what we wrote. */
static int restore_one(const char *dir, struct json_object *f, int check, struct strbuf *log,
		       char **err)
{
	const char *path = json_object_get_string(json_object_object_get(f, "path"));
	int existed = json_object_get_boolean(json_object_object_get(f, "existed"));
	const char *want = json_object_get_string(json_object_object_get(f, "written_hash"));
	struct file_snap cur;
	char hash[17];
	if (!path)
		return set_err(err, "%s: manifest entry without a path", dir);
	if (file_snap_read(&cur, path, err) < 0)
		return -1;
	fileio_hash(cur.data, cur.len, hash);
	if (check && (!cur.exists || !want || strcmp(hash, want) != 0)) {
		file_snap_free(&cur);
		return set_err(err, "%s was changed after sshdoctor wrote it; not restoring it "
			       "(the original is in %s)", path, dir);
	}
	int rc;
	if (!existed) {
		rc = cur.exists && unlink(path) < 0 ? set_err(err, "%s: %s", path, strerror(errno)) : 0;
		if (rc == 0 && log)
			sb_addf(log, "removed %s (sshdoctor had created it)\n", path);
		struct json_object *dirs = json_object_object_get(f, "created_dirs");
		for (size_t i = 0; rc == 0 && dirs && i < json_object_array_length(dirs); i++)
			rmdir(json_object_get_string(json_object_array_get_idx(dirs, i)));
	} else {
		const char *bname = json_object_get_string(json_object_object_get(f, "backup"));
		char *bpath = xasprintf("%s/%s", dir, bname ? bname : "");
		struct file_snap b;
		rc = file_snap_read(&b, bpath, err);
		if (rc == 0 && !b.exists)
			rc = set_err(err, "%s: backup missing", bpath);
		if (rc == 0) {
			/* Put the original mode and owner back along with the bytes. */
			cur.mode = (mode_t)json_object_get_int(json_object_object_get(f, "mode"));
			cur.uid = (uid_t)json_object_get_int(json_object_object_get(f, "uid"));
			cur.gid = (gid_t)json_object_get_int(json_object_object_get(f, "gid"));
			cur.exists = 1;
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

static int restore_set(const char *dir, struct json_object *m, int check, struct strbuf *log,
		       char **err)
{
	struct json_object *files = json_object_object_get(m, "files");
	size_t n = files ? json_object_array_length(files) : 0;
	int rc = 0;
	/* Check every file first: a set is restored whole or not at all. */
	for (size_t i = 0; check && i < n; i++) {
		struct json_object *f = json_object_array_get_idx(files, i);
		const char *path = json_object_get_string(json_object_object_get(f, "path"));
		const char *want = json_object_get_string(json_object_object_get(f, "written_hash"));
		struct file_snap cur;
		char hash[17];
		if (!path || file_snap_read(&cur, path, err) < 0)
			return set_err(err, "%s: unreadable manifest entry", dir);
		fileio_hash(cur.data, cur.len, hash);
		int same = cur.exists && want && strcmp(hash, want) == 0;
		file_snap_free(&cur);
		if (!same)
			return set_err(err, "%s was changed after sshdoctor wrote it; nothing "
				       "restored (the originals are in %s)", path, dir);
	}
	for (size_t i = n; i-- > 0;)	/* newest first */
		if (restore_one(dir, json_object_array_get_idx(files, i), 0, log, err) < 0)
			rc = -1;
	return rc;
}

int changeset_rollback(struct changeset *cs, char **err)
{
	int rc = restore_set(cs->dir, cs->manifest, 0, NULL, err);
	json_object_object_add(cs->manifest, "undone", json_object_new_boolean(1));
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

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int fileio_undo_last(struct strbuf *log, char **err)
{
	char *base = state_path("fix", "");
	if (!base)
		return set_err(err, "no state directory (set HOME or XDG_STATE_HOME)");
	DIR *d = opendir(base);
	struct strvec names = { 0 };
	struct dirent *e;
	int rc = 1;
	while (d && (e = readdir(d)) && names.n < MAX_SETS)
		if (e->d_name[0] != '.')
			strvec_push(&names, e->d_name);
	if (d)
		closedir(d);
	if (names.n)
		qsort(names.v, names.n, sizeof(char *), cmp_names);
	for (size_t i = names.n; i-- > 0;) {
		char *dir = xasprintf("%s%s", base, names.v[i]);
		char *mpath = xasprintf("%s/manifest.json", dir);
		struct json_object *m = json_object_from_file(mpath);
		if (m && json_object_is_type(m, json_type_object) &&
		    !json_object_get_boolean(json_object_object_get(m, "undone"))) {
			rc = restore_set(dir, m, 1, log, err);
			if (rc == 0) {
				struct changeset cs = { .dir = dir, .manifest = m };
				json_object_object_add(m, "undone", json_object_new_boolean(1));
				rc = save_manifest(&cs, err);
				if (log)
					sb_addf(log, "undid change set %s\n", names.v[i]);
			}
			json_object_put(m);
			free(mpath);
			free(dir);
			break;
		}
		if (m)
			json_object_put(m);
		free(mpath);
		free(dir);
	}
	strvec_clear(&names);
	free(base);
	return rc;
}
