/* cmd_relay.c - `sshdoctor relay`: the ProxyCommand of the flight recorder
 * (ProxyUseFdpass: the socket is handed to ssh, a watcher records the session),
 * and with --report the internal pump relay `path` gives ssh. */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "relay.h"

enum { O_REPORT = 1, O_V4, O_V6, O_CTIMEOUT, O_KEEPALIVE, O_UTIMEOUT, O_USER, O_HISTORY,
       O_FDPASS, O_PUMP, O_NOSSHCFG, O_WAITPATH };

static const struct optdef relay_opts_def[] = {
	{ "report", 0, 1, O_REPORT, "NAME", "(path) pump, and hand the socket to this abstract "
	  "unix socket" },
	{ NULL, '4', 0, O_V4, NULL, "IPv4 only (as ssh -4 / AddressFamily inet)" },
	{ NULL, '6', 0, O_V6, NULL, "IPv6 only" },
	{ "connect-timeout", 0, 1, O_CTIMEOUT, "DURATION", "give up connecting after this "
	  "(ssh's ConnectTimeout; default: the kernel's)" },
	{ "keepalive", 0, 1, O_KEEPALIVE, "auto|off|IDLE[,INTVL[,CNT]]", "per-socket TCP "
	  "keepalive (auto: half the stored idle timeout, else 60s; seconds)" },
	{ "user-timeout", 0, 1, O_UTIMEOUT, "DURATION|off", "TCP_USER_TIMEOUT (default: keepidle "
	  "+ intvl x cnt)" },
	{ "user", 'l', 1, O_USER, "USER", "the remote user (%r), to find the stored idle result" },
	{ "history", 0, 1, O_HISTORY, "FILE", "the history store (default "
	  "$XDG_STATE_HOME/sshdoctor/history.db)" },
	{ "fdpass", 0, 0, O_FDPASS, NULL, "hand the socket over stdout (default when stdout is a "
	  "unix socket)" },
	{ "pump", 0, 0, O_PUMP, NULL, "carry the bytes over stdin/stdout instead" },
	{ "wait-path", 0, 1, O_WAITPATH, "DURATION|auto", "while the path is down, keep opening "
	  "fresh connections (0.5 s apart at first) this long; auto: ssh's ConnectTimeout, else 10s" },
	{ "no-ssh-config", 0, 0, O_NOSSHCFG, NULL, "do not take AddressFamily and ConnectTimeout "
	  "from the ssh that runs the relay (ssh -G)" },
	{ 0 }
};

struct relay_args {
	const struct cmd_entry *cmd;
	const char *report;
	struct relay_public_opts o;
};

static int parse_ka(struct relay_args *a, const char *arg)
{
	if (!strcmp(arg, "auto")) {
		a->o.keepalive = 1;
		return 0;
	}
	if (!strcmp(arg, "off")) {
		a->o.keepalive = 0;
		return 0;
	}
	long v[3] = { 0, 0, 0 };
	char *copy = strdup(arg), *save = NULL;
	int n = 0, bad = !copy;
	for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && !bad; t = strtok_r(NULL, ",", &save)) {
		long max = n == 2 ? 127 : 32767;
		if (n >= 3 || parse_int(t, 1, max, &v[n]) < 0)
			bad = 1;
		n++;
	}
	free(copy);
	if (bad || n == 0) {
		cmd_usage_error(a->cmd, "--keepalive: '%s' is not auto, off or IDLE[,INTVL[,CNT]] "
				"(seconds)", arg);
		return EXIT_USAGE;
	}
	a->o.keepalive = 2;
	a->o.ka_idle_s = (int)v[0];
	a->o.ka_intvl_s = (int)v[1];
	a->o.ka_cnt = (int)v[2];
	return 0;
}

static int relay_opt(void *state, int id, const char *arg)
{
	struct relay_args *a = state;
	int64_t ms;
	switch (id) {
	case O_REPORT: a->report = arg; return 0;
	case O_V4: a->o.family = 4; a->o.family_set = 1; return 0;
	case O_V6: a->o.family = 6; a->o.family_set = 1; return 0;
	case O_CTIMEOUT:
		if ((ms = opt_duration(a->cmd, "--connect-timeout", arg, 1000, 3600 * 1000LL)) < 0)
			return EXIT_USAGE;
		a->o.connect_timeout_s = (int)(ms / 1000);
		a->o.ctimeout_set = 1;
		return 0;
	case O_KEEPALIVE: return parse_ka(a, arg);
	case O_UTIMEOUT:
		if (!strcmp(arg, "off")) {
			a->o.user_timeout_ms = 0;
			return 0;
		}
		if ((ms = opt_duration(a->cmd, "--user-timeout", arg, 1000, 24 * 3600 * 1000LL)) < 0)
			return EXIT_USAGE;
		a->o.user_timeout_ms = (int)ms;
		return 0;
	case O_USER: a->o.user = arg; return 0;
	case O_HISTORY: a->o.db = arg; return 0;
	case O_FDPASS: a->o.mode = 1; return 0;
	case O_PUMP: a->o.mode = 2; return 0;
	case O_NOSSHCFG: a->o.no_ssh_config = 1; return 0;
	case O_WAITPATH:
		if (!strcmp(arg, "auto")) {
			a->o.wait_path_ms = -1;
			return 0;
		}
		if ((ms = opt_duration(a->cmd, "--wait-path", arg, 1000, 3600 * 1000LL)) < 0)
			return EXIT_USAGE;
		a->o.wait_path_ms = (int)ms;
		return 0;
	}
	return EXIT_USAGE;
}

static int relay_exec(struct ctx *ctx, int argc, char **argv)
{
	struct relay_args a = { .cmd = ctx->cmd, .o = { .keepalive = 1, .user_timeout_ms = -1 } };
	int code = 0;
	int first = opts_parse(ctx, argc, argv, NULL, relay_opt, &a, &code);
	if (first < 0)
		return code;
	if (argc - first != 2) {
		cmd_usage_error(ctx->cmd, "expected HOST PORT");
		return EXIT_USAGE;
	}
	if (a.report)
		return relay_main(argv[first], argv[first + 1], a.o.family, a.report);
	return relay_public_main(argv[first], argv[first + 1], &a.o);
}

const struct cmd_entry cmd_relay_entry = {
	.name = "relay",
	.summary = "ProxyCommand for ssh_config (with ProxyUseFdpass yes): per-socket keepalive, "
		   "and every session recorded in the history",
	.synopsis = "[-4|-6] [--connect-timeout DURATION] [--keepalive auto|off|IDLE[,INTVL[,CNT]]] "
		    "[--user-timeout DURATION|off] [-l USER] [--history FILE] [--fdpass|--pump] "
		    "[--wait-path DURATION|auto] [--no-ssh-config] "
		    "[--report NAME] HOST PORT",
	.opts = relay_opts_def,
	.exec = relay_exec,
};
