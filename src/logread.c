/* logread.c - log sources for the logs engine: files (plain or gzip, both read
 * through zlib, which passes plain bytes through), stdin, the systemd journal. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <unistd.h>
#include <zlib.h>

#include "logread.h"

#define READ_BLOCK (1024 * 1024)

/* Splits buf[0..*have) into lines; keeps the unfinished tail at the front.
 * *skipping: inside a too-long line, dropped up to its newline. */
static void split_lines(struct logs_state *st, char *buf, size_t *have, int *skipping)
{
	char *p = buf, *end = buf + *have;
	char *nl;
	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if (*skipping)
			*skipping = 0;
		else if ((size_t)(nl - p) >= LOGREAD_MAX_LINE)
			logs_source_note(st, "long_lines");
		else
			logs_line(st, p, (size_t)(nl - p));
		p = nl + 1;
	}
	size_t rest = (size_t)(end - p);
	if (rest >= LOGREAD_MAX_LINE) {
		if (!*skipping)
			logs_source_note(st, "long_lines");
		*skipping = 1;
		rest = 0;
	}
	memmove(buf, p, rest);
	*have = rest;
}

static int read_gz(struct logs_state *st, gzFile gz, char **err)
{
	char *buf = xmalloc(READ_BLOCK + LOGREAD_MAX_LINE);
	size_t have = 0;
	int skipping = 0, got = 0;
	gzbuffer(gz, 256 * 1024);
	for (;;) {	/* bounded by the input: each round consumes bytes or ends */
		int n = gzread(gz, buf + have, (unsigned)(READ_BLOCK + LOGREAD_MAX_LINE - have));
		if (n <= 0)
			break;
		got = 1;
		have += (size_t)n;
		split_lines(st, buf, &have, &skipping);
	}
	if (have && !skipping)
		logs_line(st, buf, have);
	int zerr = Z_OK;
	const char *m = gzerror(gz, &zerr);
	if (zerr != Z_OK && zerr != Z_STREAM_END)
		*err = xasprintf("%s%s", zerr == Z_ERRNO ? strerror(errno) : m,
				 got ? " (read up to there)" : "");
	free(buf);
	return got || !*err ? 0 : -1;
}

/* Plain files skip zlib's extra copy: read() straight into the line buffer. */
static int read_plain(struct logs_state *st, int fd, char **err)
{
	char *buf = xmalloc(READ_BLOCK + LOGREAD_MAX_LINE);
	size_t have = 0;
	int skipping = 0, got = 0;
	for (;;) {	/* bounded by the file: each round consumes bytes or ends */
		ssize_t n = read(fd, buf + have, READ_BLOCK + LOGREAD_MAX_LINE - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			*err = xasprintf("%s%s", strerror(errno), got ? " (read up to there)" : "");
		if (n <= 0)
			break;
		got = 1;
		have += (size_t)n;
		split_lines(st, buf, &have, &skipping);
	}
	if (have && !skipping)
		logs_line(st, buf, have);
	free(buf);
	return got || !*err ? 0 : -1;
}

/* ---- plain files, two threads ----
 * A plain file bigger than a block is read in a pipeline: the main thread
 * reads blocks and feeds parsed lines to the engine in order (logs_commit); a
 * worker splits and parses the block before (logs_prepare: header, classify).
 * SLOTS blocks rotate: free -> filled (main) -> parsed (worker) -> free (main).
 * Memory stays bounded: SLOTS blocks and their records. */
#define SLOTS 3
#define REC_CAP 16384	/* records a block; more lines (tiny ones) are parsed by main */

enum { S_FREE, S_FILLED, S_PARSED };

struct slot {
	char *buf;
	size_t skip, n;		/* complete lines in [skip, n) */
	size_t done;		/* the worker parsed [skip, done) */
	struct logs_rec *rec;
	size_t nrec;
	int state;
};

struct mt {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct slot s[SLOTS];
	struct logclock clk;	/* the worker's copy */
	int quit;
};

static void *mt_worker(void *arg)
{
	struct mt *m = arg;
	for (size_t k = 0;; k++) {	/* one block a round, until told to stop */
		struct slot *sl = &m->s[k % SLOTS];
		pthread_mutex_lock(&m->mu);
		while (sl->state != S_FILLED && !m->quit)
			pthread_cond_wait(&m->cv, &m->mu);
		int quit = sl->state != S_FILLED;
		pthread_mutex_unlock(&m->mu);
		if (quit)
			return NULL;
		char *p = sl->buf + sl->skip, *end = sl->buf + sl->n;
		size_t nrec = 0;
		while (p < end && nrec < REC_CAP) {
			char *nl = memchr(p, '\n', (size_t)(end - p));	/* the block ends with one */
			struct logs_rec *r = &sl->rec[nrec++];
			if ((size_t)(nl - p) >= LOGREAD_MAX_LINE)
				r->kind = LREC_LONG;
			else
				logs_prepare(&m->clk, p, (size_t)(nl - p), r);
			p = nl + 1;
		}
		pthread_mutex_lock(&m->mu);
		sl->nrec = nrec;
		sl->done = (size_t)(p - sl->buf);
		sl->state = S_PARSED;
		pthread_cond_broadcast(&m->cv);
		pthread_mutex_unlock(&m->mu);
	}
}

/* Waits for the slot to be parsed, feeds it to the engine, frees it. */
static void mt_commit(struct logs_state *st, struct mt *m, struct slot *sl)
{
	pthread_mutex_lock(&m->mu);
	while (sl->state != S_PARSED)
		pthread_cond_wait(&m->cv, &m->mu);
	pthread_mutex_unlock(&m->mu);
	for (size_t i = 0; i < sl->nrec; i++)
		logs_commit(st, &sl->rec[i]);
	size_t have = sl->n - sl->done;	/* past REC_CAP: the rest here */
	int skipping = 0;
	if (have) {
		memmove(sl->buf, sl->buf + sl->done, have);
		split_lines(st, sl->buf, &have, &skipping);
	}
	pthread_mutex_lock(&m->mu);
	sl->state = S_FREE;
	pthread_mutex_unlock(&m->mu);
}

static int read_plain_mt(struct logs_state *st, int fd, char **err)
{
	struct mt *m = xcalloc(1, sizeof(*m));
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->cv, NULL);
	m->clk = *logs_clock(st);
	for (int i = 0; i < SLOTS; i++) {
		m->s[i].buf = xmalloc(READ_BLOCK + LOGREAD_MAX_LINE);
		m->s[i].rec = xmalloc(REC_CAP * sizeof(struct logs_rec));
	}
	char *carry = xmalloc(LOGREAD_MAX_LINE);
	size_t ncarry = 0, fill = 0, commit = 0;
	int skipping = 0, got = 0;
	pthread_t th;
	if (pthread_create(&th, NULL, mt_worker, m) != 0) {
		free(carry);
		for (int i = 0; i < SLOTS; i++) {
			free(m->s[i].buf);
			free(m->s[i].rec);
		}
		free(m);
		return -2;	/* the caller reads it in one thread */
	}
	for (;;) {	/* bounded by the file: each round consumes bytes or ends */
		struct slot *sl = &m->s[fill % SLOTS];
		while (commit < fill && commit + SLOTS <= fill)	/* the slot's block is not fed yet */
			mt_commit(st, m, &m->s[commit++ % SLOTS]);
		memcpy(sl->buf, carry, ncarry);
		size_t have = ncarry;
		ssize_t n;
		do
			n = read(fd, sl->buf + have, READ_BLOCK);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			*err = xasprintf("%s%s", strerror(errno), got ? " (read up to there)" : "");
		if (n <= 0)
			break;
		got = 1;
		have += (size_t)n;
		size_t skip = 0;
		if (skipping) {	/* the rest of a too-long line */
			char *nl = memchr(sl->buf, '\n', have);
			if (!nl) {
				ncarry = 0;
				continue;
			}
			skip = (size_t)(nl + 1 - sl->buf);
			skipping = 0;
		}
		char *last = memrchr(sl->buf + skip, '\n', have - skip);
		size_t cut = last ? (size_t)(last + 1 - sl->buf) : skip;
		ncarry = have - cut;
		if (ncarry >= LOGREAD_MAX_LINE) {
			logs_source_note(st, "long_lines");
			skipping = 1;
			ncarry = 0;
		}
		memcpy(carry, sl->buf + cut, ncarry);
		if (cut == skip)
			continue;	/* no complete line in this block */
		sl->skip = skip;
		sl->n = cut;
		pthread_mutex_lock(&m->mu);
		sl->state = S_FILLED;
		pthread_cond_broadcast(&m->cv);
		pthread_mutex_unlock(&m->mu);
		fill++;
	}
	while (commit < fill)
		mt_commit(st, m, &m->s[commit++ % SLOTS]);
	pthread_mutex_lock(&m->mu);
	m->quit = 1;
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
	pthread_join(th, NULL);
	if (ncarry && !skipping)
		logs_line(st, carry, ncarry);	/* the last line, without its newline */
	free(carry);
	for (int i = 0; i < SLOTS; i++) {
		free(m->s[i].buf);
		free(m->s[i].rec);
	}
	pthread_mutex_destroy(&m->mu);
	pthread_cond_destroy(&m->cv);
	free(m);
	return got || !*err ? 0 : -1;
}

static int is_gzip(int fd)
{
	unsigned char m[2];
	return pread(fd, m, 2, 0) == 2 && m[0] == 0x1f && m[1] == 0x8b;
}

int logread_file(struct logs_state *st, const char *path)
{
	int stdin_src = strcmp(path, "-") == 0;
	int fd = stdin_src ? dup(0) : open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	int64_t mtime = 0;
	if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))
		mtime = (int64_t)sb.st_mtime * 1000;
	logs_source_begin(st, stdin_src ? "(stdin)" : path, mtime);
	if (fd < 0) {
		logs_source_end(st, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		close(fd);
		logs_source_end(st, "is a directory");
		return -1;
	}
	char *err = NULL;
	if (!stdin_src && S_ISREG(sb.st_mode) && !is_gzip(fd)) {
		int rc = sb.st_size > READ_BLOCK ? read_plain_mt(st, fd, &err) : -2;
		if (rc == -2)
			rc = read_plain(st, fd, &err);
		close(fd);
		logs_source_end(st, err);
		free(err);
		return rc;
	}
	gzFile gz = gzdopen(fd, "rb");
	if (!gz) {
		close(fd);
		logs_source_end(st, "cannot open");
		return -1;
	}
	int rc = read_gz(st, gz, &err);
	gzclose(gz);
	logs_source_end(st, err);
	free(err);
	return rc;
}

/* ---- journal ---- */

static int jfield(sd_journal *j, const char *field, char *dst, size_t cap)
{
	const void *d;
	size_t n, fl = strlen(field);
	dst[0] = '\0';
	if (sd_journal_get_data(j, field, &d, &n) < 0 || n <= fl + 1)
		return -1;
	n -= fl + 1;
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, (const char *)d + fl + 1, n);
	dst[n] = '\0';
	return 0;
}

static void journal_entry(struct logs_state *st, sd_journal *j, char *msg, char *text)
{
	struct logline l = { .pid = -1, .prog = PROG_NONE };
	char tmp[64];
	uint64_t us;
	if (jfield(j, "MESSAGE", msg, LOGREAD_MAX_LINE) < 0)
		return;
	l.msg = msg;
	l.msglen = strlen(msg);
	l.ts_ms = sd_journal_get_realtime_usec(j, &us) >= 0 ? (int64_t)(us / 1000) : -1;
	if (jfield(j, "_PID", tmp, sizeof(tmp)) == 0)
		l.pid = strtol(tmp, NULL, 10);
	jfield(j, "_HOSTNAME", l.host, sizeof(l.host));
	if (jfield(j, "SYSLOG_IDENTIFIER", tmp, sizeof(tmp)) < 0)
		jfield(j, "_COMM", tmp, sizeof(tmp));
	l.prog = strncmp(tmp, "sshd", 4) == 0 ? PROG_SSHD : strcmp(tmp, "ssh") == 0 ? PROG_SSH :
		 strcmp(tmp, "kernel") == 0 ? PROG_KERNEL : PROG_OTHER;
	if (jfield(j, "_TRANSPORT", tmp, sizeof(tmp)) == 0 && strcmp(tmp, "kernel") == 0)
		l.prog = PROG_KERNEL;
	int n = snprintf(text, 512, "%s %s[%ld]: %.400s", l.host, l.prog == PROG_KERNEL ? "kernel" :
			 "sshd", l.pid, msg);
	logs_entry(st, &l, text, n > 0 ? (size_t)n : 0);
}

int logread_journal(struct logs_state *st, int64_t since_ms, int64_t until_ms)
{
	sd_journal *j;
	logs_source_begin(st, "(journal)", 0);
	int e = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
	if (e < 0) {
		logs_source_end(st, strerror(-e));
		return -1;
	}
	static const char *const matches[] = {
		"SYSLOG_IDENTIFIER=sshd", "SYSLOG_IDENTIFIER=sshd-session", NULL,
		"_SYSTEMD_UNIT=ssh.service", "_SYSTEMD_UNIT=sshd.service", NULL,
		"_TRANSPORT=kernel", NULL,
	};
	for (size_t i = 0; i < ARRAY_SIZE(matches); i++)
		if (matches[i])
			sd_journal_add_match(j, matches[i], 0);
		else
			sd_journal_add_disjunction(j);
	if (since_ms >= 0)
		sd_journal_seek_realtime_usec(j, (uint64_t)since_ms * 1000);
	else
		sd_journal_seek_head(j);
	char *msg = xmalloc(LOGREAD_MAX_LINE), text[512];
	uint64_t us;
	while (sd_journal_next(j) > 0) {	/* bounded by the journal's entries */
		if (until_ms >= 0 && sd_journal_get_realtime_usec(j, &us) >= 0 &&
		    (int64_t)(us / 1000) > until_ms)
			break;
		journal_entry(st, j, msg, text);
	}
	free(msg);
	sd_journal_close(j);
	logs_source_end(st, NULL);
	return 0;
}

/* ---- default places ---- */

static void add_glob(struct strvec *out, const char *pat)
{
	glob_t g;
	if (glob(pat, 0, NULL, &g) != 0)
		return;
	for (size_t i = g.gl_pathc; i > 0; i--)	/* auth.log.4.gz ... auth.log.2.gz: oldest first */
		strvec_push(out, g.gl_pathv[i - 1]);
	globfree(&g);
}

void logread_defaults(struct strvec *out)
{
	static const char *const bases[] = { "/var/log/auth.log", "/var/log/secure",
					     "/var/log/messages", "/var/log/syslog", "/var/log/kern.log" };
	for (size_t i = 0; i < ARRAY_SIZE(bases); i++) {
		char pat[128];
		snprintf(pat, sizeof(pat), "%s.[0-9]*.gz", bases[i]);
		add_glob(out, pat);
		snprintf(pat, sizeof(pat), "%s.1", bases[i]);
		if (access(pat, F_OK) == 0)
			strvec_push(out, pat);
		if (access(bases[i], F_OK) == 0)
			strvec_push(out, bases[i]);
	}
}
