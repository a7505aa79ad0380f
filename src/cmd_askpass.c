/* cmd_askpass.c - `sshdoctor askpass PROMPT`: the SSH_ASKPASS program the tool
 * gives its own ssh children (ssh runs it with the prompt as the only argument).
 * It asks the sshdoctor that started this ssh, over the socket named by
 * SSHDOCTOR_ASKPASS, and prints the answer; the secret is never in argv,
 * the environment or a file. */
#include <string.h>

#include "askpass.h"
#include "cmd.h"

static int askpass_exec(struct ctx *ctx, int argc, char **argv)
{
	int code = 0;
	if (argc == 2 && argv[1][0] != '-')	/* a prompt may look like anything else */
		return askpass_client(argv[1]);
	int first = opts_parse(ctx, argc, argv, NULL, NULL, NULL, &code);
	if (first < 0)
		return code;
	if (argc - first != 1) {
		cmd_usage_error(ctx->cmd, "expected one PROMPT");
		return EXIT_USAGE;
	}
	return askpass_client(argv[first]);
}

const struct cmd_entry cmd_askpass_entry = {
	.name = "askpass",
	.summary = "(internal) SSH_ASKPASS for the tool's own ssh: the password typed once",
	.synopsis = "PROMPT",
	.opts = NULL,
	.flags = CMD_HIDDEN,
	.exec = askpass_exec,
};
