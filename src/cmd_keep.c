/* cmd_keep.c - `sshdoctor keep`: options in, keep_run / keep_status / the unit. */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "keep.h"

enum { O_NAME = 1, O_MAX_TRIES, O_BACKOFF_MAX, O_STABLE, O_ALIVE_I, O_ALIVE_C, O_CHECK,
       O_CHECK_INT, O_CHECK_TIMEOUT, O_AUTH_RETRIES, O_AUTH_WAIT, O_STATUS, O_INSTALL, O_UNINSTALL, O_NO_RELAY };

static const struct optdef keep_opts_def[] = {
	{ "name", 0, 1, O_NAME, "NAME", "the tunnel's name (state file, unit; default from target and forwards)" },
	{ "max-tries", 0, 1, O_MAX_TRIES, "N", "give up after N failed attempts in a row (default: never)" },
	{ "backoff-max", 0, 1, O_BACKOFF_MAX, "DURATION", "longest wait between retries (default 15s)" },
	{ "stable", 0, 1, O_STABLE, "DURATION", "up this long, the backoff starts over (default 60s)" },
	{ "alive-interval", 0, 1, O_ALIVE_I, "SECONDS",
	  "ServerAliveInterval (default: from the path's measured idle timeout, at most 15)" },
	{ "alive-count", 0, 1, O_ALIVE_C, "N", "ServerAliveCountMax (default 3, more for short intervals)" },
	{ "check", 0, 1, O_CHECK, "tcp:HOST:PORT",
	  "health check through a local forward: a byte must arrive (a service that speaks first)" },
	{ "check-interval", 0, 1, O_CHECK_INT, "DURATION", "how often to check (default 30s)" },
	{ "check-timeout", 0, 1, O_CHECK_TIMEOUT, "DURATION", "how long a check waits for its byte (default 5s)" },
	{ "auth-retries", 0, 1, O_AUTH_RETRIES, "N",
	  "slow tries after 'auth refused' if the tunnel was up before (default 3; never before it was up)" },
	{ "auth-wait", 0, 1, O_AUTH_WAIT, "DURATION", "the first of those waits (default 10s, then x3)" },
	{ "no-relay", 0, 0, O_NO_RELAY, NULL, "let ssh connect by itself, not through `sshdoctor relay "
	  "--wait-path` (used unless the host has its own proxy)" },
	{ "status", 0, 0, O_STATUS, NULL, "show the tunnels of this user (with --json: as JSON)" },
	{ "install-unit", 0, 1, O_INSTALL, "NAME", "write a systemd unit that runs this keep command" },
	{ "uninstall-unit", 0, 1, O_UNINSTALL, "NAME", "remove a unit --install-unit wrote" },
	{ 0 }
};

struct keep_cli {
	const struct cmd_entry *cmd;
	struct keep_opts o;
	int status;
	const char *install, *uninstall;
};

static int num(struct keep_cli *c, const char *opt, const char *arg, long lo, long hi, int *out)
{
	long n;
	if (parse_int(arg, lo, hi, &n)) {
		cmd_usage_error(c->cmd, "%s: '%s' is not a number from %ld to %ld", opt, arg, lo, hi);
		return EXIT_USAGE;
	}
	*out = (int)n;
	return 0;
}

static int dur(struct keep_cli *c, const char *opt, const char *arg, int64_t lo, int64_t hi,
	       int64_t *out)
{
	*out = opt_duration(c->cmd, opt, arg, lo, hi);
	return *out < 0 ? EXIT_USAGE : 0;
}

static int keep_opt(void *state, int id, const char *arg)
{
	struct keep_cli *c = state;
	switch (id) {
	case O_NAME:
		if (!keep_name_valid(arg)) {
			cmd_usage_error(c->cmd, "--name: '%s' is not 1-64 of A-Z a-z 0-9 _ . @ -", arg);
			return EXIT_USAGE;
		}
		c->o.name = arg;
		return 0;
	case O_MAX_TRIES:
		return num(c, "--max-tries", arg, 1, 1000000, &c->o.max_tries);
	case O_BACKOFF_MAX:
		return dur(c, "--backoff-max", arg, 1000, 3600 * 1000LL, &c->o.backoff_max_ms);
	case O_STABLE:
		return dur(c, "--stable", arg, 1000, 24 * 3600 * 1000LL, &c->o.stable_ms);
	case O_ALIVE_I:
		return num(c, "--alive-interval", arg, 1, 3600, &c->o.alive_interval);
	case O_ALIVE_C:
		return num(c, "--alive-count", arg, 1, 100, &c->o.alive_count);
	case O_CHECK:
		c->o.check = arg;
		return 0;
	case O_CHECK_INT:
		return dur(c, "--check-interval", arg, 500, 3600 * 1000LL, &c->o.check_interval_ms);
	case O_CHECK_TIMEOUT:
		return dur(c, "--check-timeout", arg, 100, 600 * 1000LL, &c->o.check_timeout_ms);
	case O_AUTH_RETRIES:
		return num(c, "--auth-retries", arg, 0, 100, &c->o.auth_retries);
	case O_AUTH_WAIT:
		return dur(c, "--auth-wait", arg, 1000, 3600 * 1000LL, &c->o.auth_wait_ms);
	case O_STATUS:
		c->status = 1;
		return 0;
	case O_NO_RELAY:
		c->o.no_relay = 1;
		return 0;
	case O_INSTALL:
	case O_UNINSTALL:
		if (!keep_name_valid(arg)) {
			cmd_usage_error(c->cmd, "%s: '%s' is not 1-64 of A-Z a-z 0-9 _ . @ -",
					id == O_INSTALL ? "--install-unit" : "--uninstall-unit", arg);
			return EXIT_USAGE;
		}
		*(id == O_INSTALL ? &c->install : &c->uninstall) = arg;
		return 0;
	}
	return EXIT_USAGE;
}

static int keep_exec(struct ctx *ctx, int argc, char **argv)
{
	struct keep_cli c = { .cmd = ctx->cmd };
	keep_opts_init(&c.o);
	struct sshopts so = { 0 };
	struct target t = { 0 };
	int code = 0, dd = argc;
	/* "--": everything after it is ssh's (forwards, -N, a command) */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			dd = i;
			break;
		}
	/* keep's own words as typed, for the unit's ExecStart (opts_parse reorders argv) */
	char **orig = xcalloc((size_t)argc + 1, sizeof(char *));
	for (int i = 0; i < argc; i++)
		orig[i] = argv[i];
	c.o.argv = orig;
	c.o.argc = argc;
	for (int i = dd + 1; i < argc; i++)
		strvec_push(&c.o.ssh_args, argv[i]);
	int first = opts_parse(ctx, dd, argv, &so, keep_opt, &c, &code);
	if (first < 0)
		goto out;
	if (c.status || c.uninstall) {
		if (first < dd || dd < argc) {
			cmd_usage_error(ctx->cmd, "%s takes no TARGET", c.status ? "--status" : "--uninstall-unit");
			code = EXIT_USAGE;
		} else
			code = c.status ? keep_status(ctx->json) : keep_uninstall_unit(c.uninstall);
		goto out;
	}
	code = cmd_one_target(ctx->cmd, dd, argv, first, &so, &t);
	if (code)
		goto out;
	char *err = NULL;
	if (target_resolve(&t, &so, &err) < 0) {
		fprintf(stderr, "sshdoctor keep: %s\n", err);
		free(err);
		code = KEEP_EXIT_STOPPED;
		goto out;
	}
	c.o.t = &t;
	c.o.so = &so;
	code = c.install ? keep_install_unit(&c.o, c.install) : keep_run(&c.o);
out:
	free(orig);
	strvec_clear(&c.o.ssh_args);
	target_free(&t);
	sshopts_free(&so);
	return code;
}

const struct cmd_entry cmd_keep_entry = {
	.name = "keep",
	.summary = "keep a tunnel or unattended ssh up: restart it by why it fell, and say why",
	.synopsis = "[options] [ssh options] TARGET [-- ssh arguments (-N -L ... -R ...)]"
		    " | --status | --uninstall-unit NAME",
	.opts = keep_opts_def,
	.flags = CMD_SSH_OPTS,
	.exec = keep_exec,
};
