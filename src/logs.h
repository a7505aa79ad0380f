/* logs.h - `sshdoctor logs` as a library: read sshd/ssh/kernel logs in one
 * streaming pass, rebuild sessions, correlate, and fill a report. Never prints
 * to stdout, so `doctor` can call it. */
#ifndef SSHDOCTOR_LOGS_H
#define SSHDOCTOR_LOGS_H

#include <stdint.h>

#include "finding.h"
#include "logscan.h"

struct logs_opts {
	const char *const *files;	/* paths; "-" is stdin */
	size_t nfiles;			/* 0 and !journal: the usual places that exist */
	int journal;			/* read the systemd journal (sshd units + kernel) */
	int64_t since_ms, until_ms;	/* wall clock; -1 = unbounded */
	const char *host;		/* only this peer address (or log host name); NULL = all */
	int sessions;			/* add the per-session list to the measurements */
	int unrecognized;		/* add the ssh lines no rule classified (first MAX_UNREC) */
	size_t max_open;		/* open-session table size; 0 = default (4096) */
	int64_t ref_wall_ms;		/* "now" for year inference; 0 = the file's mtime */
};

/* Fills r (findings + measurements.logs). Returns 0, or sets r->unknown when
 * nothing could be read. */
int logs_run(const struct logs_opts *o, struct report *r);

/* The streaming engine, for logs_run, the reader and the tests. */
struct logs_state;
struct logs_state *logs_new(const struct logs_opts *o);
void logs_free(struct logs_state *st);
/* One source at a time: begin, lines, end (error: NULL when read completely). */
void logs_source_begin(struct logs_state *st, const char *name, int64_t ref_wall_ms);
void logs_line(struct logs_state *st, const char *line, size_t len);
/* A line already split (journal entries); text is the example form. */
void logs_entry(struct logs_state *st, const struct logline *l, const char *text, size_t textlen);
void logs_source_note(struct logs_state *st, const char *what);	/* "long line", "binary" ... */
/* logs_line in two halves, for a reader thread: prepare is pure but for its
 * clock (a copy of the engine's, logs_clock, per source) and parses one line;
 * commit feeds it to the engine, in line order, while the line is still there. */
enum { LREC_LINE, LREC_LONG, LREC_DEFER };
struct logs_rec {
	struct logline l;
	struct logevent ev;
	const char *line;
	uint32_t len;
	int8_t r;		/* logscan_classify's answer */
	uint8_t kind, nul;	/* LREC_*; the line holds a NUL */
};
void logs_prepare(struct logclock *clk, const char *line, size_t len, struct logs_rec *rec);
void logs_commit(struct logs_state *st, struct logs_rec *rec);
struct logclock *logs_clock(struct logs_state *st);
void logs_source_end(struct logs_state *st, const char *error);
void logs_report(struct logs_state *st, struct report *r);

#endif
