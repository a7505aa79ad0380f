/* cmd_echo_server.c - `sshdoctor echo-server`: the far end for `idle --via tcp`. */
#include "cmd.h"
#include "echo.h"

enum { O_LISTEN = 1, O_FOR };

static const struct optdef echo_opts_def[] = {
	{ "listen", 0, 1, O_LISTEN, "ADDR:PORT", "where to listen (default " ECHO_DEFAULT_LISTEN ")" },
	{ "for", 0, 1, O_FOR, "DURATION", "stop after this long (default: until Ctrl-C)" },
	{ 0 }
};

struct echo_cli {
	const struct cmd_entry *cmd;
	const char *listen;
	int64_t run_ms;
};

static int echo_opt(void *state, int id, const char *arg)
{
	struct echo_cli *c = state;
	if (id == O_LISTEN) {
		c->listen = arg;
		return 0;
	}
	c->run_ms = opt_duration(c->cmd, "--for", arg, 1000, 7 * 24 * 3600 * 1000LL);
	return c->run_ms < 0 ? EXIT_USAGE : 0;
}

static int echo_exec(struct ctx *ctx, int argc, char **argv)
{
	struct echo_cli c = { ctx->cmd, ECHO_DEFAULT_LISTEN, 0 };
	int code = 0;
	int first = opts_parse(ctx, argc, argv, NULL, echo_opt, &c, &code);
	if (first < 0)
		return code;
	if (first < argc) {
		cmd_usage_error(ctx->cmd, "unexpected argument '%s'", argv[first]);
		return EXIT_USAGE;
	}
	struct report r;
	char err[300];
	report_init(&r, "echo-server");
	if (echo_serve(c.listen, c.run_ms, &r, err, sizeof(err)) < 0) {
		fprintf(stderr, "sshdoctor echo-server: %s\n", err);
		report_free(&r);
		return EXIT_USAGE;
	}
	code = cmd_finish(ctx, &r);
	report_free(&r);
	return code;
}

const struct cmd_entry cmd_echo_server_entry = {
	.name = "echo-server",
	.summary = "echo every byte back: the far end for 'idle --via tcp'",
	.synopsis = "[--listen ADDR:PORT] [--for DURATION]",
	.opts = echo_opts_def,
	.exec = echo_exec,
};
