/* cmd_connect.c - `sshdoctor connect`: options and targets; the work is in connect.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "connect.h"

#define MAX_TARGETS 10000
#define DEFAULT_TIMEOUT_MS 10000

enum { O_TIMEOUT = 1, O_NO_LOGIN, O_FILE, O_PARALLEL };

static const struct optdef connect_opts_def[] = {
	{ "timeout", 0, 1, O_TIMEOUT, "DURATION", "limit per target for each of probe and login (default 10s)" },
	{ "no-login", 0, 0, O_NO_LOGIN, NULL, "stop after the key exchange offer (no ssh -vvv login)" },
	{ "file", 'f', 1, O_FILE, "FILE", "read targets from FILE, one per line (# comments)" },
	{ "parallel", 0, 1, O_PARALLEL, "N", "probe at most N targets at once (default 1024)" },
	{ 0 }
};

struct state {
	struct ctx *ctx;
	struct connect_opts o;
	struct strvec specs;
	int bad;
};

static int read_targets(struct state *st, const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (!f) {
		cmd_usage_error(st->ctx->cmd, "-f %s: %s", path, strerror(errno));
		return EXIT_USAGE;
	}
	char line[1024];
	while (fgets(line, sizeof(line), f)) {
		char *s = str_trim(line);
		if (!*s || *s == '#')
			continue;
		s[strcspn(s, " \t#")] = '\0';
		if (st->specs.n >= MAX_TARGETS) {
			cmd_usage_error(st->ctx->cmd, "-f %s: more than %d targets", path, MAX_TARGETS);
			if (f != stdin)
				fclose(f);
			return EXIT_USAGE;
		}
		strvec_push(&st->specs, s);
	}
	if (f != stdin)
		fclose(f);
	return 0;
}

static int handler(void *arg, int id, const char *val)
{
	struct state *st = arg;
	switch (id) {
	case O_TIMEOUT:
		st->o.timeout_ms = opt_duration(st->ctx->cmd, "--timeout", val, 100, 3600000);
		return st->o.timeout_ms < 0 ? EXIT_USAGE : 0;
	case O_NO_LOGIN:
		st->o.no_login = 1;
		return 0;
	case O_FILE:
		return read_targets(st, val);
	case O_PARALLEL: {
		char *end = NULL;
		errno = 0;
		long v = strtol(val, &end, 10);
		if (errno || end == val || *end || v < 1 || v > CONNECT_PARALLEL_MAX) {
			cmd_usage_error(st->ctx->cmd, "--parallel %s: not a number from 1 to %d", val,
					CONNECT_PARALLEL_MAX);
			return EXIT_USAGE;
		}
		st->o.parallel = (int)v;
		return 0;
	}
	}
	return EXIT_USAGE;
}

static int connect_exec(struct ctx *ctx, int argc, char **argv)
{
	struct state st = { .ctx = ctx, .o = { .timeout_ms = DEFAULT_TIMEOUT_MS } };
	struct sshopts so = { 0 };
	int code = 0;
	int first = opts_parse(ctx, argc, argv, &so, handler, &st, &code);
	if (first < 0)
		goto out;
	for (int i = first; i < argc; i++) {
		if (st.specs.n >= MAX_TARGETS)
			break;
		strvec_push(&st.specs, argv[i]);
	}
	if (!st.specs.n) {
		cmd_usage_error(ctx->cmd, "no target given");
		code = EXIT_USAGE;
		goto out;
	}
	struct target *t = xcalloc(st.specs.n, sizeof(*t));
	size_t n = 0;
	for (size_t i = 0; i < st.specs.n; i++) {
		char *err = NULL;
		if (target_parse(&t[n], st.specs.v[i], &so, &err) < 0) {
			cmd_usage_error(ctx->cmd, "%s", err);
			free(err);
			code = EXIT_USAGE;
			break;
		}
		n++;
	}
	if (!code) {
		struct report r;
		report_init(&r, "connect");
		connect_run(&st.o, t, n, &so, &r);
		code = cmd_finish(ctx, &r);
		report_free(&r);
	}
	for (size_t i = 0; i < n; i++)
		target_free(&t[i]);
	free(t);
out:
	strvec_clear(&st.specs);
	sshopts_free(&so);
	return code;
}

const struct cmd_entry cmd_connect_entry = {
	.name = "connect",
	.summary = "why an SSH connection is slow or never established, phase by phase",
	.synopsis = "[ssh options] TARGET... [-f FILE] [--parallel N] [--timeout DURATION] [--no-login]",
	.opts = connect_opts_def,
	.flags = CMD_SSH_OPTS,
	.exec = connect_exec,
};
