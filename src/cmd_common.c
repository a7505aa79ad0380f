/* cmd_common.c - what every command does at the end: render and pick the exit code. */
#include "cmd.h"

int cmd_finish(struct ctx *ctx, struct report *r)
{
	if (ctx->json)
		render_json(stdout, r);
	else
		render_text(stdout, r, ctx->color);
	return (int)report_status(r);
}
