/* cmd_relay.c - `sshdoctor relay`: the internal ProxyCommand that `path` gives
 * ssh, so the tool owns (and can inspect) the session's TCP socket. */
#include "cmd.h"
#include "relay.h"

enum { O_REPORT = 1, O_V4, O_V6 };

static const struct optdef relay_opts_def[] = {
	{ "report", 0, 1, O_REPORT, "NAME", "hand the socket to this abstract unix socket" },
	{ NULL, '4', 0, O_V4, NULL, "IPv4 only" },
	{ NULL, '6', 0, O_V6, NULL, "IPv6 only" },
	{ 0 }
};

struct relay_args {
	const char *report;
	int family;
};

static int relay_opt(void *state, int id, const char *arg)
{
	struct relay_args *a = state;
	if (id == O_REPORT)
		a->report = arg;
	else
		a->family = id == O_V4 ? 4 : 6;
	return 0;
}

static int relay_exec(struct ctx *ctx, int argc, char **argv)
{
	struct relay_args a = { 0 };
	int code = 0;
	int first = opts_parse(ctx, argc, argv, NULL, relay_opt, &a, &code);
	if (first < 0)
		return code;
	if (argc - first != 2) {
		cmd_usage_error(ctx->cmd, "expected HOST PORT");
		return EXIT_USAGE;
	}
	return relay_main(argv[first], argv[first + 1], a.family, a.report);
}

const struct cmd_entry cmd_relay_entry = {
	.name = "relay",
	.summary = "(internal) ProxyCommand relay used by 'path': stdin/stdout <-> HOST PORT",
	.synopsis = "[-4|-6] [--report NAME] HOST PORT",
	.opts = relay_opts_def,
	.flags = CMD_HIDDEN,
	.exec = relay_exec,
};
