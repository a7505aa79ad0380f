/* cmd_idle.c - `sshdoctor idle`: options in, idle_run, report out. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "idle.h"

enum { O_MAX = 1, O_RES, O_CONNS, O_VIA, O_METHOD, O_NO_SAVE };

static const struct optdef idle_opts_def[] = {
	{ "max", 0, 1, O_MAX, "DURATION", "longest idle time to test (default 30m, up to 4h)" },
	{ "resolution", 0, 1, O_RES, "DURATION",
	  "bracket width wanted: max(this, 1% of T) (default 1s)" },
	{ "connections", 0, 1, O_CONNS, "N", "idle connections open at once (default 32)" },
	{ "via", 0, 1, O_VIA, "ssh|tcp|preauth",
	  "ssh sessions (default), raw TCP to 'sshdoctor echo-server', or no login" },
	{ "method", 0, 1, O_METHOD, "fast|naive|minute",
	  "baselines for benchmarks: naive doubles the idle, then bisects, one connection; "
	  "minute probes one connection per minute of idle (1-minute resolution)" },
	{ "no-save", 0, 0, O_NO_SAVE, NULL, "do not remember the result for audit and doctor" },
	{ 0 }
};

struct idle_cli {
	const struct cmd_entry *cmd;
	struct idle_opts o;
};

static int idle_opt(void *state, int id, const char *arg)
{
	struct idle_cli *c = state;
	long n;
	switch (id) {
	case O_MAX:
		c->o.max_ms = opt_duration(c->cmd, "--max", arg, 2000, 4 * 3600 * 1000LL);
		return c->o.max_ms < 0 ? EXIT_USAGE : 0;
	case O_RES:
		c->o.res_ms = opt_duration(c->cmd, "--resolution", arg, 100, 3600 * 1000LL);
		return c->o.res_ms < 0 ? EXIT_USAGE : 0;
	case O_CONNS:
		if (parse_int(arg, 1, ISC_MAX_CONNS, &n)) {
			cmd_usage_error(c->cmd, "--connections: '%s' is not a number from 1 to %d", arg,
					ISC_MAX_CONNS);
			return EXIT_USAGE;
		}
		c->o.connections = (int)n;
		return 0;
	case O_VIA:
		if (idle_via_parse(arg, &c->o.via) < 0) {
			cmd_usage_error(c->cmd, "--via: '%s' is not ssh, tcp or preauth", arg);
			return EXIT_USAGE;
		}
		c->o.via_explicit = 1;
		return 0;
	case O_METHOD:
		if (strcmp(arg, "fast") && strcmp(arg, "naive") && strcmp(arg, "minute")) {
			cmd_usage_error(c->cmd, "--method: '%s' is not fast, naive or minute", arg);
			return EXIT_USAGE;
		}
		c->o.naive = arg[0] == 'n';
		c->o.minute = arg[0] == 'm';
		return 0;
	case O_NO_SAVE:
		c->o.save = 0;
		return 0;
	}
	return EXIT_USAGE;
}

static int idle_exec(struct ctx *ctx, int argc, char **argv)
{
	struct idle_cli c = { ctx->cmd, { .via = VIA_SSH, .max_ms = 30 * 60 * 1000LL, .res_ms = 1000,
					  .connections = 32, .save = 1 } };
	struct sshopts so = { 0 };
	struct target t = { 0 };
	struct report r;
	int code = 0;
	int first = opts_parse(ctx, argc, argv, &so, idle_opt, &c, &code);
	if (first < 0)
		goto out;
	code = cmd_one_target(ctx->cmd, argc, argv, first, &so, &t);
	if (code)
		goto out;
	c.o.progress = ctx->tty && !ctx->json && isatty(STDERR_FILENO);
	report_init(&r, "idle");
	idle_run(&c.o, &t, &so, &r);
	code = cmd_finish(ctx, &r);
	report_free(&r);
out:
	target_free(&t);
	sshopts_free(&so);
	return code;
}

const struct cmd_entry cmd_idle_entry = {
	.name = "idle",
	.summary = "measure how long the path lets an idle SSH connection live, and how it dies",
	.synopsis = "[ssh options] [--max DURATION] [--resolution DURATION] [--connections N] "
		    "[--via ssh|tcp|preauth] TARGET",
	.opts = idle_opts_def,
	.flags = CMD_SSH_OPTS,
	.exec = idle_exec,
};
