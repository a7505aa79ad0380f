/* Unit tests: atomic replacement, change sets and undo never lose a byte. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/sshdoctor-test-fileio-XXXXXX");
	assert_non_null(mkdtemp(dir));
	char *st = xasprintf("%s/state", dir);
	setenv("XDG_STATE_HOME", st, 1);
	free(st);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char *cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	return 0;
}

static char *put(const char *name, const char *text, mode_t mode)
{
	char *p = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(p, mode);
	return p;
}

static char *slurp(const char *path)
{
	struct file_snap s;
	char *err = NULL;
	assert_int_equal(file_snap_read(&s, path, &err), 0);
	char *d = s.exists ? xstrdup(s.data) : NULL;
	file_snap_free(&s);
	return d;
}

static void test_replace_keeps_mode(void **state)
{
	(void)state;
	char *p = put("a", "one\n", 0640);
	struct file_snap s;
	char *err = NULL;
	assert_int_equal(file_snap_read(&s, p, &err), 0);
	assert_true(s.exists);
	assert_int_equal(s.mode, 0640);
	assert_int_equal(fileio_replace(&s, "two\n", 4, 0600, &err), 0);
	char *d = slurp(p);
	assert_string_equal(d, "two\n");
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	free(d);
	file_snap_free(&s);
	free(p);
}

/* fchown clears setuid/setgid: the owner is set first, then the mode. */
static void test_replace_keeps_setid_and_owner(void **state)
{
	(void)state;
	assert_int_equal(geteuid(), 0);	/* chown to another user needs root */
	char *p = put("sid", "one\n", 0600);
	assert_int_equal(chown(p, 65534, 65534), 0);
	assert_int_equal(chmod(p, 06755), 0);
	struct file_snap s;
	char *err = NULL;
	assert_int_equal(file_snap_read(&s, p, &err), 0);
	assert_int_equal(fileio_replace(&s, "two\n", 4, 0600, &err), 0);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 06755);
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(st.st_gid, 65534);
	file_snap_free(&s);
	free(p);
}

static void test_abort_when_changed(void **state)
{
	(void)state;
	char *p = put("b", "original\n", 0600);
	struct file_snap s;
	char *err = NULL;
	assert_int_equal(file_snap_read(&s, p, &err), 0);
	free(put("b", "someone else\n", 0600));	/* an edit between read and write */
	assert_int_equal(fileio_replace(&s, "ours\n", 5, 0600, &err), -1);
	assert_non_null(strstr(err, "changed since it was read"));
	free(err);
	char *d = slurp(p);
	assert_string_equal(d, "someone else\n");
	free(d);
	file_snap_free(&s);
	free(p);
	/* and no temp file is left behind */
	char *cmd = xasprintf("ls %s | grep -c sshdoctor- >/dev/null", dir);
	assert_int_not_equal(system(cmd), 0);
	free(cmd);
}

static void test_changeset_undo(void **state)
{
	(void)state;
	char *p1 = put("c1", "alpha\nbeta", 0604);	/* no final newline: bytes, not lines */
	char *p2 = xasprintf("%s/new/sub/c2", dir);
	struct file_snap s1, s2;
	char *err = NULL;
	assert_int_equal(file_snap_read(&s1, p1, &err), 0);
	assert_int_equal(file_snap_read(&s2, p2, &err), 0);
	assert_false(s2.exists);
	struct changeset cs;
	assert_int_equal(changeset_begin(&cs, "test", &err), 0);
	assert_int_equal(changeset_write(&cs, &s1, "changed\n", 8, 0600, &err), 0);
	assert_int_equal(changeset_write(&cs, &s2, "created\n", 8, 0644, &err), 0);
	assert_int_equal(changeset_end(&cs, &err), 0);
	char *d = slurp(p2);
	assert_string_equal(d, "created\n");
	free(d);

	struct strbuf log = { 0 };
	assert_int_equal(fileio_undo_last(&log, &err), 0);
	d = slurp(p1);
	assert_string_equal(d, "alpha\nbeta");
	free(d);
	struct stat st;
	assert_int_equal(stat(p1, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0604);
	assert_int_not_equal(access(p2, F_OK), 0);
	char *nd = xasprintf("%s/new", dir);
	assert_int_not_equal(access(nd, F_OK), 0);	/* created directories go too */
	free(nd);
	assert_non_null(strstr(log.buf, "restored"));
	/* the set is used up */
	sb_reset(&log);
	assert_int_equal(fileio_undo_last(&log, &err), 1);
	sb_free(&log);
	file_snap_free(&s1);
	file_snap_free(&s2);
	free(p1);
	free(p2);
}

static void test_undo_refuses_foreign_edit(void **state)
{
	(void)state;
	char *p = put("d", "mine\n", 0600);
	struct file_snap s;
	char *err = NULL;
	assert_int_equal(file_snap_read(&s, p, &err), 0);
	struct changeset cs;
	assert_int_equal(changeset_begin(&cs, "test", &err), 0);
	assert_int_equal(changeset_write(&cs, &s, "fixed\n", 6, 0600, &err), 0);
	assert_int_equal(changeset_end(&cs, &err), 0);
	free(put("d", "user edited after the fix\n", 0600));
	struct strbuf log = { 0 };
	assert_int_equal(fileio_undo_last(&log, &err), -1);
	assert_non_null(strstr(err, "changed after sshdoctor wrote it"));
	free(err);
	char *d = slurp(p);
	assert_string_equal(d, "user edited after the fix\n");
	free(d);
	sb_free(&log);
	file_snap_free(&s);
	free(p);
}

static void test_rollback(void **state)
{
	(void)state;
	char *p = put("e", "before\n", 0600);
	struct file_snap s;
	char *err = NULL;
	assert_int_equal(file_snap_read(&s, p, &err), 0);
	struct changeset cs;
	assert_int_equal(changeset_begin(&cs, "test", &err), 0);
	assert_int_equal(changeset_write(&cs, &s, "after\n", 6, 0600, &err), 0);
	assert_int_equal(changeset_rollback(&cs, NULL, &err), 0);
	changeset_free(&cs);
	char *d = slurp(p);
	assert_string_equal(d, "before\n");
	free(d);
	file_snap_free(&s);
	free(p);
}

/* A file that appeared between read and write is theirs: the write fails and a
 * rollback of the set does not delete it. */
static void test_failed_write_not_rolled_back(void **state)
{
	(void)state;
	char *p = xasprintf("%s/late", dir);
	struct file_snap s;
	char *err = NULL;
	assert_int_equal(file_snap_read(&s, p, &err), 0);
	assert_false(s.exists);
	free(put("late", "someone else's\n", 0600));
	struct changeset cs;
	assert_int_equal(changeset_begin(&cs, "test", &err), 0);
	assert_int_equal(changeset_write(&cs, &s, "ours\n", 5, 0600, &err), -1);
	free(err);
	err = NULL;
	assert_int_equal(changeset_rollback(&cs, NULL, &err), 0);
	changeset_free(&cs);
	char *d = slurp(p);
	assert_string_equal(d, "someone else's\n");
	free(d);
	file_snap_free(&s);
	free(p);
}

static void test_diff(void **state)
{
	(void)state;
	char *d = fileio_diff("/x/cfg", "a\nb\nc\nd\ne\nf\ng\n", "a\nb\nc\nNEW\nd\ne\nf\ng\n");
	assert_string_equal(d, "--- a/x/cfg\n+++ b/x/cfg\n@@ -1,6 +1,7 @@\n a\n b\n c\n+NEW\n d\n e\n f\n");
	free(d);
	d = fileio_diff("/n", "", "x\n");
	assert_string_equal(d, "--- a/n\n+++ b/n\n@@ -0,0 +1,1 @@\n+x\n");
	free(d);
	d = fileio_diff("/same", "q\n", "q\n");
	assert_string_equal(d, "");
	free(d);
	char h1[FILEIO_HASH_HEX], h2[FILEIO_HASH_HEX];
	fileio_hash("abc", 3, h1);
	fileio_hash("abd", 3, h2);
	assert_string_not_equal(h1, h2);
}

/* What an interrupted run leaves: an entry recorded, its file never written
 * ("written": false, the original bytes still there). Undo skips it and
 * restores the rest instead of refusing the whole set. */
static void test_undo_skips_unwritten(void **state)
{
	(void)state;
	char *p1 = put("u1", "one\n", 0600);
	char *p2 = put("u2", "two\n", 0600);
	struct file_snap s1, s2;
	char *err = NULL;
	assert_int_equal(file_snap_read(&s1, p1, &err), 0);
	assert_int_equal(file_snap_read(&s2, p2, &err), 0);
	struct changeset cs;
	assert_int_equal(changeset_begin(&cs, "test", &err), 0);
	assert_int_equal(changeset_write(&cs, &s1, "ONE\n", 4, 0600, &err), 0);
	assert_int_equal(changeset_write(&cs, &s2, "TWO\n", 4, 0600, &err), 0);
	/* the second write "never happened": original bytes, entry unwritten */
	free(put("u2", "two\n", 0600));
	struct json_object *files = json_object_object_get(cs.manifest, "files");
	json_object_object_add(json_object_array_get_idx(files, 1), "written",
			       json_object_new_boolean(0));
	char *mpath = xasprintf("%s/manifest.json", cs.dir);
	assert_int_equal(json_object_to_file_ext(mpath, cs.manifest, JSON_C_TO_STRING_PRETTY), 0);
	free(mpath);
	changeset_free(&cs);	/* interrupted: never marked complete */

	struct strbuf log = { 0 };
	assert_int_equal(fileio_undo_last(&log, &err), 0);
	char *d = slurp(p1);
	assert_string_equal(d, "one\n");
	free(d);
	d = slurp(p2);
	assert_string_equal(d, "two\n");
	free(d);
	assert_non_null(strstr(log.buf, "skipped"));
	sb_free(&log);
	file_snap_free(&s1);
	file_snap_free(&s2);
	free(p1);
	free(p2);
}

/* A rollback that cannot put a file back is not "undone": it says which file
 * is left how, and --undo can still finish it later. */
static void test_failed_rollback_not_undone(void **state)
{
	(void)state;
	char *p = put("f", "orig\n", 0600);
	struct file_snap s;
	char *err = NULL;
	assert_int_equal(file_snap_read(&s, p, &err), 0);
	struct changeset cs;
	assert_int_equal(changeset_begin(&cs, "test", &err), 0);
	assert_int_equal(changeset_write(&cs, &s, "new\n", 4, 0600, &err), 0);
	char *backup = xasprintf("%s/0.orig", cs.dir);
	char *hidden = xasprintf("%s/0.hidden", cs.dir);
	assert_int_equal(rename(backup, hidden), 0);	/* the backup is gone */
	struct strbuf log = { 0 };
	sb_adds(&log, "");
	assert_int_equal(changeset_rollback(&cs, &log, &err), -1);
	assert_non_null(strstr(err, p));
	assert_non_null(strstr(log.buf, "left as sshdoctor wrote it"));
	free(err);
	err = NULL;
	assert_false(json_object_get_boolean(json_object_object_get(cs.manifest, "undone")));
	changeset_free(&cs);
	/* with the backup back, undo finishes the job */
	assert_int_equal(rename(hidden, backup), 0);
	sb_reset(&log);
	assert_int_equal(fileio_undo_last(&log, &err), 0);
	char *d = slurp(p);
	assert_string_equal(d, "orig\n");
	free(d);
	sb_free(&log);
	free(backup);
	free(hidden);
	file_snap_free(&s);
	free(p);
}

/* A real digest: SHA-256 of "abc" (FIPS 180-2 test vector). */
static void test_sha256(void **state)
{
	(void)state;
	char h[FILEIO_HASH_HEX];
	fileio_hash("abc", 3, h);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* The paths --fix can choose, and nothing else. */
static void test_path_plausible(void **state)
{
	(void)state;
	assert_true(fileio_path_plausible("client", 0, "/root/.ssh/config"));
	assert_true(fileio_path_plausible("client", 0, "/img/home/a/.ssh/config"));
	assert_false(fileio_path_plausible("client", 0, "/etc/passwd"));
	assert_false(fileio_path_plausible("client", 0, "/root/.ssh/../../etc/.ssh/config"));
	assert_true(fileio_path_plausible("client", 1, "/srv/cfgB"));
	assert_true(fileio_path_plausible("server", 0, "/etc/ssh/sshd_config"));
	assert_true(fileio_path_plausible("server", 0, "/etc/ssh/sshd_config.d/00-sshdoctor.conf"));
	assert_false(fileio_path_plausible("server", 0, "/etc/shadow"));
	assert_true(fileio_path_plausible("kernel", 0, "/etc/sysctl.d/90-sshdoctor-keepalive.conf"));
	assert_false(fileio_path_plausible("kernel", 1, "/etc/sysctl.d/99-other.conf"));
	assert_false(fileio_path_plausible("other", 1, "/etc/ssh/sshd_config"));
	assert_false(fileio_path_plausible("client", 1, "relative/config"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replace_keeps_mode),
		cmocka_unit_test(test_replace_keeps_setid_and_owner),
		cmocka_unit_test(test_abort_when_changed),
		cmocka_unit_test(test_changeset_undo),
		cmocka_unit_test(test_undo_refuses_foreign_edit),
		cmocka_unit_test(test_rollback),
		cmocka_unit_test(test_failed_write_not_rolled_back),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_undo_skips_unwritten),
		cmocka_unit_test(test_failed_rollback_not_undone),
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_path_plausible),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
