/* fileio.c - snapshots, atomic writes, diffs and digests (see fileio.h). */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "log.h"

#define MAX_BYTES (16 * 1024 * 1024)

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

/* Follows path's own symlinks (at most 40 hops) to the file to read and write;
 * a dangling link gives its would-be target, so it stays a link. As root, a link
 * is followed only when it has the owner of what it points to (the target's
 * directory when the target does not exist yet): dotfile managers link your
 * files to your files, nobody else's. */
static int resolve_links(const char *path, char **target, int *is_link, char **err)
{
	char *cur = xstrdup(path);
	uid_t owners[40];
	char *links[40];
	int n = 0, rc = 0;
	*is_link = 0;
	for (;;) {
		struct stat st;
		if (lstat(cur, &st) < 0 || !S_ISLNK(st.st_mode))
			break;
		char buf[4096];
		ssize_t r = n < 40 ? readlink(cur, buf, sizeof(buf) - 1) : -1;
		if (r < 0) {
			rc = err_set(err, "%s: %s", path, n < 40 ? strerror(errno) : "too many symlinks");
			break;
		}
		buf[r] = '\0';
		char *copy = xstrdup(cur);
		char *next = buf[0] == '/' ? xstrdup(buf) : xasprintf("%s/%s", dirname(copy), buf);
		free(copy);
		owners[n] = st.st_uid;
		links[n++] = cur;
		cur = next;
		*is_link = 1;
	}
	if (rc == 0 && n && geteuid() == 0) {
		struct stat ts;
		char *copy = xstrdup(cur);
		int have = stat(cur, &ts) == 0 || stat(dirname(copy), &ts) == 0;
		free(copy);
		for (int i = 0; rc == 0 && i < n; i++)
			if (!have || owners[i] != ts.st_uid)
				rc = err_set(err, "%s is a symlink (owner uid %u) to %s (owner %s%u): "
					     "as root, sshdoctor follows a link only to a file of the "
					     "link's owner; edit the target itself or fix the link",
					     links[i], (unsigned)owners[i], cur,
					     have ? "uid " : "unknown ", have ? (unsigned)ts.st_uid : 0);
	}
	for (int i = 0; i < n; i++)
		free(links[i]);
	if (rc < 0) {
		free(cur);
		return -1;
	}
	*target = cur;
	return 0;
}

int file_snap_read(struct file_snap *s, const char *path, char **err)
{
	struct stat st;
	struct strbuf sb = { 0 };
	memset(s, 0, sizeof(*s));
	s->path = xstrdup(path);
	if (resolve_links(path, &s->target, &s->is_link, err) < 0) {
		free(s->path);
		s->path = NULL;
		return -1;
	}
	int fd = open(s->target, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT) {
			s->data = xstrdup("");
			return 0;
		}
		int e = errno;
		file_snap_free(s);
		return err_set(err, "%s: %s", path, strerror(e));
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		file_snap_free(s);
		return err_set(err, "%s: not a regular file", path);
	}
	if (read_all(fd, &sb) < 0) {
		int e = errno;
		close(fd);
		sb_free(&sb);
		file_snap_free(s);
		return err_set(err, "%s: %s", path, strerror(e));
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
	free(s->target);
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
		err_set(err, "%s: cannot create a temporary file: %s", path, strerror(errno));
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
	/* Owner first: fchown clears setuid/setgid, so the mode must come after it. */
	if (ok && chown_it && (uid != geteuid() || gid != getegid()) && fchown(fd, uid, gid) < 0)
		ok = 0;
	if (ok && fchmod(fd, mode) < 0)
		ok = 0;
	if (ok && fsync(fd) < 0)
		ok = 0;
	if (close(fd) < 0)
		ok = 0;
	if (!ok) {
		err_set(err, "%s: writing %s: %s", path, tmp, strerror(errno));
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
	/* The link's target is written, the link stays (also a dangling one). */
	char *target = xstrdup(s->target ? s->target : s->path);
	char *copy = xstrdup(target);
	char *dir = dirname(copy);
	/* ~/.ssh must stay private; other directories get the usual 0755. */
	mode_t dmode = strstr(dir, "/.ssh") ? 0700 : 0755;
	int rc = -1;
	if (mkdirs(dir, dmode) < 0) {
		err_set(err, "%s: %s", dir, strerror(errno));
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
		err_set(err, "%s changed since it was read; nothing written (run again)", s->path);
		goto out;
	}
	if (rename(tmp, target) < 0) {
		err_set(err, "%s: rename: %s", target, strerror(errno));
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

void fileio_hash(const char *data, size_t len, char out[FILEIO_HASH_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) || n != 32)
		abort();	/* SHA-256 is always in libcrypto */
	for (unsigned int i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
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
