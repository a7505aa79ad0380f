/* fileio.h - changing a user's files without ever losing one: snapshots, atomic
 * replacement (temp + fsync + rename, owner and mode kept, abort if the file
 * changed since it was read), and change sets with a manifest and backups under
 * $XDG_STATE_HOME/sshdoctor/fix/ so a set can be undone byte for byte
 * (fileio.c: files, diff, digest; changeset.c: change sets and undo). */
#ifndef SSHDOCTOR_FILEIO_H
#define SSHDOCTOR_FILEIO_H

#include <json-c/json.h>
#include <sys/types.h>

#include "util.h"

/* A file as read: its bytes and metadata, or "absent". */
struct file_snap {
	char *path;
	char *target;	/* the file behind path's symlinks (== path without any);
			 * what is read and written: a link stays a link */
	int is_link;
	int exists;
	char *data;	/* NUL-terminated (len excludes it); "" when absent */
	size_t len;
	mode_t mode;	/* permission bits */
	uid_t uid;
	gid_t gid;
};

/* Reads path (absent is not an error), following its symlinks; as root only
 * links with the owner of their target. Returns 0 or -1 with *err. */
int file_snap_read(struct file_snap *s, const char *path, char **err);
void file_snap_free(struct file_snap *s);
/* 1 when the file on disk is no longer what s holds (bytes or existence). */
int file_snap_changed(const struct file_snap *s);

/* Replaces s->path with data atomically. A new file gets mode_new (parent
 * directories created 0755, or 0700 under a home's .ssh). Fails without touching
 * anything when the file changed since s was read. */
int fileio_replace(const struct file_snap *s, const char *data, size_t len, mode_t mode_new,
		   char **err);
/* Writes data to a fresh temp file next to path (same filesystem), or in $TMPDIR
 * when path's directory does not exist yet (a check creates nothing); returns
 * its name (caller unlinks). */
char *fileio_temp_beside(const char *path, const char *data, size_t len, char **err);

/* Unified diff of old -> new (labels a/PATH b/PATH), "" when equal. Caller frees. */
char *fileio_diff(const char *path, const char *old, const char *new_text);

#define FILEIO_HASH_HEX 65
/* SHA-256 of the bytes (libcrypto), as 64 hex digits. */
void fileio_hash(const char *data, size_t len, char out[FILEIO_HASH_HEX]);

/* 1 when path is a file --fix could have chosen for role ("client": a
 * .ssh/config, "server": under /etc/ssh/, "kernel": our sysctl.d file; or a
 * file named by -F / --server-config when explicit_file). */
int fileio_path_plausible(const char *role, int explicit_file, const char *path);

/* A change set: every file changed by one --fix, restorable as a whole. */
struct changeset {
	char *dir;			/* state dir fix/<id> */
	char *id;
	struct json_object *manifest;	/* {"id","time","command","complete","undone","files":[...]} */
	size_t nfiles;
};

/* Starts a set (creates its directory and manifest). */
int changeset_begin(struct changeset *cs, const char *command, char **err);
/* Backs up the original (when it exists), records it in the manifest (saved
 * before the write, "written" set only after the rename), then replaces. As
 * root, refuses a path that is not plausible for role. */
int changeset_write_as(struct changeset *cs, const struct file_snap *s, const char *data,
		       size_t len, mode_t mode_new, const char *role, int explicit_file, char **err);
/* changeset_write_as with role "client", explicit (a file named by the user). */
int changeset_write(struct changeset *cs, const struct file_snap *s, const char *data,
		    size_t len, mode_t mode_new, char **err);
/* Records a live kernel value the set changed, for undo to put back. */
int changeset_record_sysctl(struct changeset *cs, const char *name, const char *before,
			    const char *after, char **err);
/* Puts every file of this set back (used when a check after writing fails);
 * marked undone only when every file is back, else each file left is named in
 * log and *err. */
int changeset_rollback(struct changeset *cs, struct strbuf *log, char **err);
/* Marks the set complete and frees it (the files stay changed). */
int changeset_end(struct changeset *cs, char **err);
void changeset_free(struct changeset *cs);

/* Restores change set id (NULL: the most recent not yet undone), byte for byte
 * (mode and owner too), and the live sysctl values it changed; skips entries
 * never written; refuses a file changed since sshdoctor wrote it. As root,
 * refuses state, manifests and backups another user could have written, and
 * paths --fix would never choose. Appends one line per file to log. Returns 0,
 * 1 when there is nothing to undo, -1 with *err. */
int fileio_undo(const char *id, struct strbuf *log, char **err);
int fileio_undo_last(struct strbuf *log, char **err);
/* One line per change set, newest first: id, time, command, status, files. */
int fileio_undo_list(struct strbuf *out, char **err);

#endif
