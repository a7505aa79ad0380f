/* main.c - global options, the command table, dispatch, and the exit path. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "askpass.h"
#include "cmd.h"
#include "log.h"
#include "proc.h"
#include "render_html.h"
#include "render_metrics.h"
#include "version.h"

/* A result nobody received is a failure: report write errors on stdout. */
static int finish_stdout(int code)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "sshdoctor: error writing output: %s\n", strerror(errno));
		return EXIT_IOERR;
	}
	return code;
}

static void on_fatal_signal(int sig)
{
	askpass_wipe();
	proc_kill_all();
	signal(sig, SIG_DFL);
	raise(sig);
}

int main(int argc, char **argv)
{
	struct ctx ctx = { 0 };
	int i;

	signal(SIGPIPE, SIG_IGN);	/* EPIPE on stdout is reported, not fatal */
	signal(SIGINT, on_fatal_signal);
	signal(SIGTERM, on_fatal_signal);
	signal(SIGHUP, on_fatal_signal);
	atexit(proc_kill_all);
	atexit(askpass_wipe);
	/* ssh runs SSH_ASKPASS (ourselves) with the prompt as the only argument */
	if (argc == 2 && getenv(ASKPASS_ENV) && !cmd_lookup(argv[1]))
		return askpass_client(argv[1]);
	ctx.tty = isatty(STDOUT_FILENO);
	ctx.argc = argc;
	ctx.argv = argv;
	ctx.color = ctx.tty && !getenv("NO_COLOR") && !(getenv("TERM") && !strcmp(getenv("TERM"), "dumb"));

	/* Global options before the command; the command's parser accepts them too. */
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--json"))
			ctx_set_format(&ctx, "json");
		else if (str_startswith(a, "--format=") || (!strcmp(a, "--format") && i + 1 < argc)) {
			const char *f = a[8] ? a + 9 : argv[++i];
			if (ctx_set_format(&ctx, f) < 0) {
				fprintf(stderr, "sshdoctor: --format: '%s' is not text, json or openmetrics\n", f);
				return EXIT_USAGE;
			}
		} else if (str_startswith(a, "--textfile=") || (!strcmp(a, "--textfile") && i + 1 < argc)) {
			char *err = NULL;
			ctx.textfile = a[10] ? a + 11 : argv[++i];
			if (metrics_textfile_check(ctx.textfile, &err) < 0) {	/* now, not after the run */
				fprintf(stderr, "sshdoctor: %s\n", err);
				free(err);
				return EXIT_IOERR;
			}
		} else if (str_startswith(a, "--report=") || (!strcmp(a, "--report") && i + 1 < argc)) {
			char *err = NULL;
			ctx.report = a[8] ? a + 9 : argv[++i];
			if (render_html_check(ctx.report, &err) < 0) {
				fprintf(stderr, "sshdoctor: %s\n", err);
				free(err);
				return EXIT_IOERR;
			}
		}
		else if (!strcmp(a, "--color=always") || !strcmp(a, "--color"))
			ctx.color = 1;
		else if (!strcmp(a, "--color=never"))
			ctx.color = 0;
		else if (!strcmp(a, "--color=auto"))
			;
		else if (a[1] == 'v' && strspn(a + 1, "v") == strlen(a + 1))
			for (size_t k = 1; a[k]; k++)
				log_more();
		else if (!strcmp(a, "--verbose"))
			log_more();
		else if (!strcmp(a, "-q") || !strcmp(a, "--quiet"))
			log_level = LOG_QUIET;
		else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			main_print_help(stdout);
			return finish_stdout(0);
		} else if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
			argv[i] = (char *)"version";
			break;
		} else {
			fprintf(stderr, "sshdoctor: unknown option '%s'\n", a);
			main_usage_hint();
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		fputs("sshdoctor: no command given\n", stderr);
		main_usage_hint();
		return EXIT_USAGE;
	}
	ctx.cmd = cmd_lookup(argv[i]);
	if (!ctx.cmd) {
		const char *near = cmd_closest(argv[i]);
		if (near)
			fprintf(stderr, "sshdoctor: unknown command '%s'; did you mean '%s'?\n", argv[i], near);
		else
			fprintf(stderr, "sshdoctor: unknown command '%s'\n", argv[i]);
		main_usage_hint();
		return EXIT_USAGE;
	}
	int code = ctx.cmd->exec(&ctx, argc - i, argv + i);
	return finish_stdout(code);
}
