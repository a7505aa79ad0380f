/* cmd_path.c - `sshdoctor path`: options in, path_run(), report out. */
#include <stdlib.h>

#include "cmd.h"
#include "path.h"

enum { O_COUNT = 1, O_DURATION, O_BULK };

static const struct optdef path_opts_def[] = {
	{ "count", 'c', 1, O_COUNT, "N", "probes per method (1-1000, default 20)" },
	{ "duration", 0, 1, O_DURATION, "DURATION", "time budget for the whole run (default 2m)" },
	{ "bulk", 0, 1, O_BULK, "SIZE", "bytes echoed through the session under load (default 512K, 0: none)" },
	{ 0 }
};

extern const struct cmd_entry cmd_path_entry;

static int path_opt(void *state, int id, const char *arg)
{
	struct path_opts *o = state;
	long n;
	long long sz;
	switch (id) {
	case O_COUNT:
		if (parse_int(arg, 1, PATH_MAX_COUNT, &n)) {
			cmd_usage_error(&cmd_path_entry, "--count: '%s' is not a number from 1 to %d",
					arg, PATH_MAX_COUNT);
			return EXIT_USAGE;
		}
		o->count = (int)n;
		return 0;
	case O_DURATION:
		o->duration_ms = opt_duration(&cmd_path_entry, "--duration", arg, 10000, 600000);
		return o->duration_ms < 0 ? EXIT_USAGE : 0;
	case O_BULK:
		sz = path_parse_size(arg);
		if (sz < 0 || sz > (64LL << 20)) {
			cmd_usage_error(&cmd_path_entry, "--bulk: '%s' is not a size from 0 to 64M", arg);
			return EXIT_USAGE;
		}
		o->bulk = (long)sz;
		return 0;
	}
	return EXIT_USAGE;
}

static int path_exec(struct ctx *ctx, int argc, char **argv)
{
	struct path_opts o = { .count = 20, .duration_ms = 120000, .bulk = 512 * 1024 };
	struct sshopts so = { 0 };
	int code = 0;
	int first = opts_parse(ctx, argc, argv, &so, path_opt, &o, &code);
	if (first < 0)
		goto out;
	struct target t;
	code = cmd_one_target(ctx->cmd, argc, argv, first, &so, &t);
	if (code)
		goto out;
	struct report r;
	report_init(&r, "path");
	path_run(&o, &t, &so, &r);
	code = cmd_finish(ctx, &r);
	report_free(&r);
	target_free(&t);
out:
	sshopts_free(&so);
	return code;
}

const struct cmd_entry cmd_path_entry = {
	.name = "path",
	.summary = "measure loss, jitter, latency and MTU black holes on the SSH path",
	.synopsis = "[ssh options] TARGET [--count N] [--duration DURATION] [--bulk SIZE]",
	.opts = path_opts_def,
	.flags = CMD_SSH_OPTS,
	.exec = path_exec,
};
