/* cmd_doctor.c - `sshdoctor doctor`: the one command a user runs (doctor.c). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "doctor.h"
#include "log.h"
#include "srvside.h"

enum { O_IDLE_MAX = 1, O_QUICK, O_FIX, O_YES, O_VERIFY, O_REMOTE, O_NO_PATH, O_SERVER_LOG,
       O_SERVER, O_USER, O_DEST, O_SSHD_CONFIG, O_SSHD };

static const struct optdef doctor_opts_def[] = {
	{ "idle-max", 0, 1, O_IDLE_MAX, "DURATION", "longest idle time tested (default 10m; --quick: 2m)" },
	{ "quick", 0, 0, O_QUICK, NULL, "a faster, coarser check (idle up to 2m, fewer path probes)" },
	{ "fix", 0, 0, O_FIX, NULL, "show the change that cures it (audit --fix); with --yes apply it" },
	{ "yes", 'y', 0, O_YES, NULL, "with --fix: apply the change (backed up, undo with audit --undo)" },
	{ "verify", 0, 0, O_VERIFY, NULL, "prove it: hold a session idle past the old timeout (1.5 x it, and past the bracket), report survival" },
	{ "remote", 0, 0, O_REMOTE, NULL, "also audit the server's sshd and kernel over ssh" },
	{ "no-path", 0, 0, O_NO_PATH, NULL, "skip the loss/jitter/MTU probes" },
	{ "server-log", 0, 1, O_SERVER_LOG, "FILE", "a server log readable here (repeatable)" },
	{ "server", 0, 2, O_SERVER, "CLIENT-ADDR", "run on the server: why CLIENT-ADDR cannot get in" },
	{ "user", 0, 1, O_USER, "USER", "with --server: the user logging in (AllowUsers, DenyUsers ...)" },
	{ "dest", 0, 1, O_DEST, "ADDR[:PORT]", "with --server: where the client connects (default any:22)" },
	{ "sshd-config", 0, 1, O_SSHD_CONFIG, "FILE", "with --server: sshd's config (default: the running one's)" },
	{ "sshd", 0, 1, O_SSHD, "BIN", "with --server: the sshd binary (default: the running one)" },
	{ 0 }
};

struct doctor_cli {
	const struct cmd_entry *cmd;
	struct doctor_opts o;
	int idle_max_set;
	struct strvec logs;
	int server;
	struct srvside_opts so;
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
	case O_SERVER: c->server = 1; c->so.client = arg; return 0;
	case O_USER: c->so.user = arg; return 0;
	case O_DEST: c->so.dest = arg; return 0;
	case O_SSHD_CONFIG: c->so.sshd_config = arg; return 0;
	case O_SSHD: c->so.sshd = arg; return 0;
	}
	return EXIT_USAGE;
}

/* --server [CLIENT-ADDR]: the server's side (srvside.c); no TARGET. */
static int doctor_server(struct ctx *ctx, struct doctor_cli *c, int argc, char **argv, int first)
{
	unsigned char b[16];
	if (first < argc && !c->so.client)
		c->so.client = argv[first++];
	if (first < argc) {
		cmd_usage_error(ctx->cmd, "unexpected argument '%s'", argv[first]);
		return EXIT_USAGE;
	}
	if (c->so.client && inet_pton(AF_INET, c->so.client, b) != 1 && inet_pton(AF_INET6, c->so.client, b) != 1) {
		cmd_usage_error(ctx->cmd, "--server: '%s' is not a numeric IPv4 or IPv6 address", c->so.client);
		return EXIT_USAGE;
	}
	if (c->so.dest) {
		/* ADDR, ADDR:PORT, [V6] or [V6]:PORT (a bare V6 has no port) */
		const char *d = c->so.dest, *e = d[0] == '[' ? strchr(d, ']') : NULL;
		const char *p = d[0] == '[' ? (e && e[1] == ':' ? e + 1 : NULL)
					    : strchr(d, ':') == strrchr(d, ':') ? strchr(d, ':') : NULL;
		long port;
		if ((d[0] == '[' && !e) || (p && parse_int(p + 1, 1, 65535, &port))) {
			cmd_usage_error(ctx->cmd, "--dest: '%s' has no valid port (1-65535)", c->so.dest);
			return EXIT_USAGE;
		}
	}
	if (c->so.user && (!*c->so.user || strlen(c->so.user) > 63 || strpbrk(c->so.user, ",= \t"))) {
		cmd_usage_error(ctx->cmd, "--user: '%s' is not a user name", c->so.user);
		return EXIT_USAGE;
	}
	c->so.logs = (const char *const *)c->logs.v;
	c->so.nlogs = c->logs.n;
	c->so.fix = c->o.fix;
	c->so.yes = c->o.yes;
	struct report r;
	report_init(&r, "doctor");
	srvside_run(&c->so, &r);
	int code = cmd_finish(ctx, &r);
	report_free(&r);
	return code;
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
	if (c.server) {
		code = doctor_server(ctx, &c, argc, argv, first);
		goto out;
	}
	if (c.so.user || c.so.dest || c.so.sshd_config || c.so.sshd) {
		cmd_usage_error(ctx->cmd, "--user, --dest, --sshd-config and --sshd go with --server");
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
		    "[--remote] [--server-log FILE] TARGET\n"
		    "       sshdoctor doctor --server [CLIENT-ADDR] [--user USER] [--dest ADDR[:PORT]] "
		    "[--sshd-config FILE] [--sshd BIN] [--server-log FILE]",
	.opts = doctor_opts_def,
	.flags = CMD_SSH_OPTS,
	.exec = doctor_exec,
};
