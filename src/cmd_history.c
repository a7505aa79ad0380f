/* cmd_history.c - `sshdoctor history`: the flight recorder's sessions read
 * (history_read.c) and judged (history_judge.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "history_judge.h"
#include "history_keep.h"
#include "history_read.h"
#include "log.h"

enum { O_SINCE = 1, O_NETWORK, O_SESSIONS };

static const struct optdef history_opts_def[] = {
	{ "since", 0, 1, O_SINCE, "TIME", "only sessions started at or after TIME (2h, 3d, 2026-11-21, RFC 3339)" },
	{ "network", 0, 1, O_NETWORK, "ID", "only sessions on that network (its id, as history lists it)" },
	{ "sessions", 0, 0, O_SESSIONS, NULL, "list every session (start, target, network, duration, ending)" },
	{ 0 }
};

struct history_cli {
	const struct cmd_entry *cmd;
	int64_t since_ms;
	const char *network;
	int sessions;
};

static int history_opt(void *state, int id, const char *arg)
{
	struct history_cli *c = state;
	switch (id) {
	case O_SINCE:
		c->since_ms = hist_parse_since(arg, wall_ms());
		if (c->since_ms < 0) {
			cmd_usage_error(c->cmd, "--since: '%s' is not a past time (e.g. 2h, 3d, 2026-11-21, "
					"2026-11-21T10:00:00Z)", arg);
			return EXIT_USAGE;
		}
		return 0;
	case O_NETWORK:
		if (!*arg || strlen(arg) >= sizeof(((struct hist_net *)0)->id)) {
			cmd_usage_error(c->cmd, "--network: '%s' is not a network id", arg);
			return EXIT_USAGE;
		}
		c->network = arg;
		return 0;
	case O_SESSIONS:
		c->sessions = 1;
		return 0;
	}
	return EXIT_USAGE;
}

static int history_exec(struct ctx *ctx, int argc, char **argv)
{
	struct history_cli c = { .cmd = ctx->cmd };
	struct sshopts so = { 0 };
	struct target t = { 0 };
	struct hist_data d = { 0 };
	char err[512] = "", port[16] = "";
	int code = 0;
	int first = opts_parse(ctx, argc, argv, NULL, history_opt, &c, &code);
	if (first < 0)
		return code;
	if (argc - first > 1) {
		cmd_usage_error(ctx->cmd, "unexpected argument '%s'", argv[first + 1]);
		return EXIT_USAGE;
	}
	const char *names[2] = { NULL, NULL };
	struct hist_sel sel = { .network = c.network, .since_wall_ms = c.since_ms };
	if (first < argc) {
		char *perr = NULL;
		if (target_parse(&t, argv[first], &so, &perr) < 0) {
			cmd_usage_error(ctx->cmd, "%s", perr);
			free(perr);
			return EXIT_USAGE;
		}
		/* the relay records ssh's %h, the HostName after ssh_config: match both */
		names[0] = t.host;
		if (target_resolve(&t, &so, &perr) == 0 && t.hostname && strcmp(t.hostname, t.host))
			names[1] = t.hostname;
		free(perr);
		sel.names = names;
		sel.nnames = names[1] ? 2 : 1;
		if (t.port > 0)
			snprintf(port, sizeof(port), "%d", t.port);
		sel.port = port;
	}
	if (hist_read(&sel, &d, err, sizeof(err)) < 0) {
		fprintf(stderr, "sshdoctor history: %s\n", err);
		code = STATUS_UNKNOWN;
		goto out;
	}
	struct report r;
	struct hist_summary sum;
	report_init(&r, "history");
	if (first < argc)	/* metrics and the textfile name carry it */
		report_set_target(&r, t.hostname ? t.hostname : t.host,
				  t.eport > 0 ? t.eport : t.port > 0 ? t.port : 22, t.euser);
	hist_analyse(d.s, d.ns, d.g, d.ng, &sum);
	hist_judge(&sum, c.sessions ? d.s : NULL, c.sessions ? d.ns : 0,
		   first < argc ? argv[first] : NULL, &r);
	struct json_object *m = json_object_object_get(r.measurements, "history");
	json_object_object_add(m, "store", json_object_new_string(d.path));
	if (d.truncated)
		json_object_object_add(m, "truncated", json_object_new_boolean(1));
	/* keep's tunnels, by the name keep was given (the store exists: hist_read saw it) */
	if (!d.no_store && history_keep_report(d.path, first < argc ? argv[first] : NULL,
					       c.since_ms, &r, m, err, sizeof(err)) < 0)
		verbose("history: tunnel events: %s", err);
	if (d.truncated && r.n)
		finding_evidence(&r.findings[0], "only the newest %d sessions and %d idle gaps were read",
				 HIST_READ_MAX_SESSIONS, HIST_READ_MAX_GAPS);
	code = cmd_finish(ctx, &r);
	hist_summary_free(&sum);
	report_free(&r);
out:
	hist_data_free(&d);
	target_free(&t);
	sshopts_free(&so);
	return code;
}

const struct cmd_entry cmd_history_entry = {
	.name = "history",
	.summary = "the flight recorder: your sessions, how they died, what the path's idle timeout is",
	.synopsis = "[TARGET] [--since TIME] [--network ID] [--sessions]",
	.opts = history_opts_def,
	.exec = history_exec,
};
