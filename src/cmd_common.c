/* cmd_common.c - what every command does at the end: render and pick the exit code. */
#include <stdlib.h>

#include "cmd.h"

int cmd_finish(struct ctx *ctx, struct report *r)
{
	if (ctx->json)
		render_json(stdout, r);
	else
		render_text(stdout, r, ctx->color);
	return (int)report_status(r);
}

int cmd_one_target(const struct cmd_entry *cmd, int argc, char **argv, int first,
		   const struct sshopts *so, struct target *t)
{
	char *err = NULL;
	if (first >= argc) {
		cmd_usage_error(cmd, "missing TARGET");
		return EXIT_USAGE;
	}
	if (first != argc - 1) {
		cmd_usage_error(cmd, "unexpected argument '%s'", argv[first + 1]);
		return EXIT_USAGE;
	}
	if (target_parse(t, argv[first], so, &err) < 0) {
		cmd_usage_error(cmd, "%s", err);
		free(err);
		return EXIT_USAGE;
	}
	return 0;
}
