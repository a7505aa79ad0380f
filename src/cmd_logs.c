/* cmd_logs.c - `sshdoctor logs`: options in, logs_run() does the work (logs.c). */
#include <string.h>

#include "cmd.h"
#include "logs.h"

enum { O_JOURNAL = 1, O_SINCE, O_UNTIL, O_HOST, O_SESSIONS, O_UNRECOGNIZED };

static const struct optdef logs_opts_def[] = {
	{ "journal", 0, 0, O_JOURNAL, NULL, "read the systemd journal (sshd units and the kernel)" },
	{ "since", 0, 1, O_SINCE, "TIME", "only lines at or after TIME (RFC 3339, YYYY-MM-DD[ HH:MM], or 2h = 2 hours ago)" },
	{ "until", 0, 1, O_UNTIL, "TIME", "only lines at or before TIME" },
	{ "host", 0, 1, O_HOST, "ADDR", "only connections from ADDR (or lines of log host ADDR)" },
	{ "sessions", 0, 0, O_SESSIONS, NULL, "list every session (address, port, start, duration, ending)" },
	{ "unrecognized", 0, 0, O_UNRECOGNIZED, NULL, "list the ssh lines no rule understood (the first 20, and how many more)" },
	{ 0 }
};

struct logs_cli {
	const struct cmd_entry *cmd;
	struct logs_opts o;
};

static int logs_opt(void *state, int id, const char *arg)
{
	struct logs_cli *c = state;
	switch (id) {
	case O_JOURNAL:
		c->o.journal = 1;
		return 0;
	case O_SINCE:
	case O_UNTIL: {
		int64_t t = logscan_parse_time(arg, wall_ms());
		if (t < 0) {
			cmd_usage_error(c->cmd, "--%s: '%s' is not a time (e.g. 2026-11-21T10:00:00Z, 2026-11-21, 2h)",
					id == O_SINCE ? "since" : "until", arg);
			return EXIT_USAGE;
		}
		*(id == O_SINCE ? &c->o.since_ms : &c->o.until_ms) = t;
		return 0;
	}
	case O_HOST:
		c->o.host = arg;
		return 0;
	case O_SESSIONS:
		c->o.sessions = 1;
		return 0;
	case O_UNRECOGNIZED:
		c->o.unrecognized = 1;
		return 0;
	}
	return EXIT_USAGE;
}

static int logs_exec(struct ctx *ctx, int argc, char **argv)
{
	struct logs_cli c = { .cmd = ctx->cmd, .o = { .since_ms = -1, .until_ms = -1 } };
	int code = 0;
	int first = opts_parse(ctx, argc, argv, NULL, logs_opt, &c, &code);
	if (first < 0)
		return code;
	c.o.files = (const char *const *)argv + first;
	c.o.nfiles = (size_t)(argc - first);
	struct report r;
	report_init(&r, "logs");
	logs_run(&c.o, &r);
	code = cmd_finish(ctx, &r);
	report_free(&r);
	return code;
}

const struct cmd_entry cmd_logs_entry = {
	.name = "logs",
	.summary = "read sshd, ssh and kernel logs: explain every disconnect",
	.synopsis = "[FILE|-]... [--journal] [--since TIME] [--until TIME] [--host ADDR] [--sessions] [--unrecognized]",
	.opts = logs_opts_def,
	.exec = logs_exec,
};
