/* cmd_common.c - what every command does at the end: render and pick the exit code. */
#include <stdlib.h>

#include "cmd.h"
#include "log.h"
#include "render_html.h"
#include "render_metrics.h"

int cmd_finish(struct ctx *ctx, struct report *r)
{
	if (ctx->json)
		render_json(stdout, r);
	else if (ctx->metrics)
		render_metrics(stdout, r);
	else
		render_text(stdout, r, ctx->color);
	if (ctx->textfile) {
		char *err = NULL;
		if (metrics_textfile_write(ctx->textfile, r, &err) < 0) {
			fprintf(stderr, "sshdoctor %s: %s\n", r->command, err);
			free(err);
			return EXIT_IOERR;
		}
	}
	if (ctx->report) {
		char *err = NULL;
		struct html_meta m = { ctx->argc, ctx->argv, 0 };
		if (render_html_write(ctx->report, r, &m, &err) < 0) {
			fprintf(stderr, "sshdoctor %s: %s\n", r->command, err);
			free(err);
			return EXIT_IOERR;
		}
		info("report written to %s", ctx->report);
	}
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
