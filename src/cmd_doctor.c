/* cmd_doctor.c - `sshdoctor doctor`: the one command a user runs (doctor.c). */
#include <stdlib.h>
#include <unistd.h>

#include "cmd.h"
#include "doctor.h"
#include "log.h"

enum { O_IDLE_MAX = 1, O_QUICK, O_FIX, O_YES, O_VERIFY, O_REMOTE, O_NO_PATH, O_SERVER_LOG };

static const struct optdef doctor_opts_def[] = {
	{ "idle-max", 0, 1, O_IDLE_MAX, "DURATION", "longest idle time tested (default 10m; --quick: 2m)" },
	{ "quick", 0, 0, O_QUICK, NULL, "a faster, coarser check (idle up to 2m, fewer path probes)" },
	{ "fix", 0, 0, O_FIX, NULL, "show the change that cures it (audit --fix); with --yes apply it" },
	{ "yes", 'y', 0, O_YES, NULL, "with --fix: apply the change (backed up, undo with audit --undo)" },
	{ "verify", 0, 0, O_VERIFY, NULL, "prove it: hold a session idle 1.5 x the timeout, report survival" },
	{ "remote", 0, 0, O_REMOTE, NULL, "also audit the server's sshd and kernel over ssh" },
	{ "no-path", 0, 0, O_NO_PATH, NULL, "skip the loss/jitter/MTU probes" },
	{ "server-log", 0, 1, O_SERVER_LOG, "FILE", "a server log readable here (repeatable)" },
	{ 0 }
};

struct doctor_cli {
	const struct cmd_entry *cmd;
	struct doctor_opts o;
	int idle_max_set;
	struct strvec logs;
};

static int doctor_opt(void *state, int id, const char *arg)
{
	struct doctor_cli *c = state;
	switch (id) {
	case O_IDLE_MAX:
		c->o.idle_max_ms = opt_duration(c->cmd, "--idle-max", arg, 5000, 4 * 3600 * 1000LL);
		c->idle_max_set = 1;
		return c->o.idle_max_ms < 0 ? EXIT_USAGE : 0;
	case O_QUICK: c->o.quick = 1; return 0;
	case O_FIX: c->o.fix = 1; return 0;
	case O_YES: c->o.yes = 1; return 0;
	case O_VERIFY: c->o.verify = 1; return 0;
	case O_REMOTE: c->o.remote = 1; return 0;
	case O_NO_PATH: c->o.no_path = 1; return 0;
	case O_SERVER_LOG: strvec_push(&c->logs, arg); return 0;
	}
	return EXIT_USAGE;
}

static int doctor_exec(struct ctx *ctx, int argc, char **argv)
{
	struct doctor_cli c = { .cmd = ctx->cmd };
	struct sshopts so = { 0 };
	struct target t = { 0 };
	int code = 0;
	int first = opts_parse(ctx, argc, argv, &so, doctor_opt, &c, &code);
	if (first < 0)
		goto out;
	code = EXIT_USAGE;
	if (c.o.yes && !c.o.fix) {
		cmd_usage_error(ctx->cmd, "--yes goes with --fix");
		goto out;
	}
	code = cmd_one_target(ctx->cmd, argc, argv, first, &so, &t);
	if (code)
		goto out;
	if (!c.idle_max_set)
		c.o.idle_max_ms = c.o.quick ? 2 * 60000 : 10 * 60000;
	c.o.logs = (const char *const *)c.logs.v;
	c.o.nlogs = c.logs.n;
	c.o.progress = !ctx->json && log_level >= LOG_INFO &&
		       (isatty(STDERR_FILENO) || log_level >= LOG_VERBOSE);
	struct report r;
	report_init(&r, "doctor");
	doctor_run(&c.o, &t, &so, &r);
	code = cmd_finish(ctx, &r);
	report_free(&r);
out:
	strvec_clear(&c.logs);
	target_free(&t);
	sshopts_free(&so);
	return code;
}

const struct cmd_entry cmd_doctor_entry = {
	.name = "doctor",
	.summary = "the main job: find why sessions drop, prove it, fix it, verify the fix",
	.synopsis = "[ssh options] [--idle-max DURATION] [--quick] [--fix [--yes]] [--verify] "
		    "[--remote] [--server-log FILE] TARGET",
	.opts = doctor_opts_def,
	.flags = CMD_SSH_OPTS,
	.exec = doctor_exec,
};
