/* cmd.h - the command table entry every cmd_<name>.c exports, and option parsing
 * shared by all of them (global options, ssh-style target options, --help). */
#ifndef SSHDOCTOR_CMD_H
#define SSHDOCTOR_CMD_H

#include "finding.h"
#include "target.h"

struct ctx {
	int json;		/* --json or --format=json */
	int metrics;		/* --format=openmetrics: Prometheus text exposition format */
	const char *textfile;	/* --textfile DIR: metrics also to DIR/sshdoctor_*.prom */
	const char *report;	/* --report FILE: also a self-contained HTML page */
	int argc;		/* the whole command line, for the HTML report */
	char **argv;
	int color;		/* resolved from --color and the terminal */
	int tty;		/* stdout is a terminal: progress lines allowed */
	const struct cmd_entry *cmd;
};

/* One option of a command, declared in a table so help and errors come for free. */
struct optdef {
	const char *lname;	/* long name without "--", or NULL */
	int sname;		/* short letter, or 0 */
	int has_arg;		/* 0: flag, 1: takes an argument */
	int id;			/* handed to the command's handler */
	const char *argname;	/* "DURATION" */
	const char *help;
};

enum cmd_flags {
	CMD_SSH_OPTS = 1 << 0,	/* accepts -p -l -i -F -J -o -4 -6 like ssh */
	CMD_HIDDEN = 1 << 1,	/* internal (e.g. relay): left out of `help` */
};

struct cmd_entry {
	const char *name;
	const char *summary;	/* one line for `sshdoctor help` */
	const char *synopsis;	/* arguments after the name */
	const struct optdef *opts;	/* terminated by an all-zero entry; may be NULL */
	unsigned flags;
	int (*exec)(struct ctx *ctx, int argc, char **argv);
};

/* Handler for a command's own options; returns 0, or EXIT_USAGE after printing why. */
typedef int (*opt_handler)(void *state, int id, const char *arg);

/* Parses argv (argv[0] is the command name). Global options are applied to ctx,
 * ssh options to so (when the command has CMD_SSH_OPTS), the rest to handler.
 * Returns the index of the first positional argument (positionals are moved to
 * the end as getopt does), or -1 with *exit_code set (usage error or --help). */
int opts_parse(struct ctx *ctx, int argc, char **argv, struct sshopts *so,
	       opt_handler handler, void *state, int *exit_code);

void cmd_usage_error(const struct cmd_entry *cmd, const char *fmt, ...) PRINTF_LIKE(2, 3);
void cmd_print_help(FILE *out, const struct cmd_entry *cmd);

/* Exactly one TARGET at argv[first], parsed into t (usage error printed when not).
 * Returns 0 or EXIT_USAGE. */
int cmd_one_target(const struct cmd_entry *cmd, int argc, char **argv, int first,
		   const struct sshopts *so, struct target *t);

/* Prints the report as text or JSON and returns the exit code for its status. */
int cmd_finish(struct ctx *ctx, struct report *r);

/* Durations for options: prints a usage error and returns -1 when invalid. */
int64_t opt_duration(const struct cmd_entry *cmd, const char *opt, const char *arg,
		     int64_t min_ms, int64_t max_ms);

extern const struct cmd_entry *const cmd_table[];
void main_print_help(FILE *out);
void main_usage_hint(void);
/* The command nearest to a mistyped name, or NULL. */
const char *cmd_closest(const char *name);
const struct cmd_entry *cmd_lookup(const char *name);
/* --format=text|json|openmetrics; returns 0 or -1 for an unknown format. */
int ctx_set_format(struct ctx *ctx, const char *fmt);

#endif
