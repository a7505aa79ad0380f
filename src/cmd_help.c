/* cmd_help.c - `sshdoctor help [COMMAND]`. */
#include <stdio.h>

#include "cmd.h"

static int help_exec(struct ctx *ctx, int argc, char **argv)
{
	int code = 0;
	int first = opts_parse(ctx, argc, argv, NULL, NULL, NULL, &code);
	if (first < 0)
		return code;
	if (first >= argc) {
		main_print_help(stdout);
		return 0;
	}
	const struct cmd_entry *c = cmd_lookup(argv[first]);
	if (!c) {
		cmd_usage_error(ctx->cmd, "unknown command '%s'", argv[first]);
		return EXIT_USAGE;
	}
	cmd_print_help(stdout, c);
	return 0;
}

const struct cmd_entry cmd_help_entry = {
	.name = "help",
	.summary = "show the commands, or one command's options",
	.synopsis = "[COMMAND]",
	.exec = help_exec,
};
