/* cmd_audit.c - `sshdoctor audit`: options -> audit core -> report; --fix, --undo. */
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cmd.h"
#include "log.h"

enum { O_IDLE = 1, O_SERVER_CONFIG, O_REMOTE, O_FIX, O_YES, O_RELOAD, O_UNDO, O_ROOT, O_LIST, O_RELAY };

static const struct optdef audit_opts_def[] = {
	{ "idle-timeout", 0, 1, O_IDLE, "DURATION", "the path's idle timeout to beat (default: the "
	  "stored 'idle' result, else 240s assumed)" },
	{ "server-config", 0, 1, O_SERVER_CONFIG, "FILE", "audit this sshd_config (a copy) instead "
	  "of /etc/ssh/sshd_config" },
	{ "remote", 0, 0, O_REMOTE, NULL, "audit TARGET's sshd and kernel over ssh" },
	{ "fix", 0, 0, O_FIX, NULL, "show the diff that fixes what was found (--yes writes it)" },
	{ "yes", 'y', 0, O_YES, NULL, "with --fix: write the changes (backup, undoable)" },
	{ "relay", 0, 0, O_RELAY, NULL, "with --fix: only route TARGET (or every host) through "
	  "the flight recorder's relay" },
	{ "reload", 0, 0, O_RELOAD, NULL, "with --fix --yes: reload sshd afterwards" },
	{ "undo", 0, 0, O_UNDO, NULL, "restore the files of the last --fix (or of change set ID: "
	  "--undo ID), byte for byte, and the live sysctls it changed" },
	{ "list", 0, 0, O_LIST, NULL, "with --undo: list every change set" },
	{ "root", 0, 1, O_ROOT, "DIR", "read and change files under DIR instead of / (images, tests)" },
	{ 0 }
};

struct audit_cli {
	const struct cmd_entry *cmd;
	long idle_s;
	const char *server_config, *root;
	int remote, fix, yes, reload, undo, list, relay;
};

static int audit_opt(void *state, int id, const char *arg)
{
	struct audit_cli *c = state;
	int64_t ms;
	switch (id) {
	case O_IDLE:
		ms = opt_duration(c->cmd, "--idle-timeout", arg, 1000, 7LL * 24 * 3600 * 1000);
		if (ms < 0)
			return EXIT_USAGE;
		c->idle_s = (long)(ms / 1000);
		return 0;
	case O_SERVER_CONFIG: c->server_config = arg; return 0;
	case O_ROOT:
		if (arg[0] != '/') {
			cmd_usage_error(c->cmd, "--root: '%s' must be an absolute path", arg);
			return EXIT_USAGE;
		}
		c->root = strcmp(arg, "/") ? arg : NULL;
		return 0;
	case O_REMOTE: c->remote = 1; return 0;
	case O_FIX: c->fix = 1; return 0;
	case O_YES: c->yes = 1; return 0;
	case O_RELOAD: c->reload = 1; return 0;
	case O_UNDO: c->undo = 1; return 0;
	case O_LIST: c->list = 1; return 0;
	case O_RELAY: c->relay = 1; return 0;
	}
	return EXIT_USAGE;
}

static void fix_text(FILE *out, struct json_object *m, int color)
{
	(void)color;
	struct json_object *v;
	if (json_object_object_get_ex(m, "diff", &v) && *json_object_get_string(v))
		fprintf(out, "--fix would change (run again with --yes to write it):\n%s",
			json_object_get_string(v));
	else if (json_object_object_get_ex(m, "applied", &v) && !json_object_get_boolean(v))
		fputs("--fix: nothing to change\n", out);
	if (json_object_object_get_ex(m, "log", &v))
		fputs(json_object_get_string(v), out);
	struct json_object *notes = json_object_object_get(m, "notes");
	for (size_t i = 0; notes && i < json_object_array_length(notes); i++)
		fprintf(out, "note: %s\n", json_object_get_string(json_object_array_get_idx(notes, i)));
}

static int do_undo(struct ctx *ctx, const char *id, int list)
{
	struct strbuf log = { 0 };
	char *err = NULL;
	sb_adds(&log, "");
	int rc = list ? audit_undo_list(&log, &err) : audit_undo(id, &log, &err);
	if (rc < 0) {
		fputs(log.buf, stderr);	/* what was done, and what is left how */
		fprintf(stderr, "sshdoctor audit --undo: %s\n", err);
		free(err);
		sb_free(&log);
		return EXIT_IOERR;
	}
	if (ctx->json) {
		struct report r;
		report_init(&r, "audit");
		struct json_object *m = json_object_new_object();
		if (!list)
			json_object_object_add(m, "undone", json_object_new_boolean(rc == 0));
		json_object_object_add(m, list ? "list" : "log", json_object_new_string(log.buf));
		report_measure(&r, "undo", m, NULL);
		render_json(stdout, &r);
		report_free(&r);
	} else {
		fputs(rc == 1 ? "nothing to undo\n" : log.buf, stdout);
	}
	sb_free(&log);
	return 0;
}

static int audit_exec(struct ctx *ctx, int argc, char **argv)
{
	struct audit_cli c = { .cmd = ctx->cmd };
	struct sshopts so = { 0 };
	struct target t;
	int have_t = 0, code = 0;
	int first = opts_parse(ctx, argc, argv, &so, audit_opt, &c, &code);
	if (first < 0)
		goto out;
	code = EXIT_USAGE;
	if (argc - first > 1) {
		cmd_usage_error(ctx->cmd, "unexpected argument '%s'", argv[first + 1]);
		goto out;
	}
	if ((c.yes || c.reload) && !c.fix) {
		cmd_usage_error(ctx->cmd, "--yes and --reload go with --fix");
		goto out;
	}
	if (c.relay && (!c.fix || c.remote || c.reload)) {
		cmd_usage_error(ctx->cmd, "--relay goes with --fix (the local ssh config), not "
				"--remote or --reload");
		goto out;
	}
	if (c.undo && c.fix) {
		cmd_usage_error(ctx->cmd, "--undo and --fix exclude each other");
		goto out;
	}
	if (c.list && !c.undo) {
		cmd_usage_error(ctx->cmd, "--list goes with --undo");
		goto out;
	}
	if (c.undo) {
		if (c.list && first < argc) {
			cmd_usage_error(ctx->cmd, "--undo --list takes no ID");
			goto out;
		}
		code = do_undo(ctx, first < argc ? argv[first] : NULL, c.list);
		goto out;
	}
	if (first < argc) {
		char *err = NULL;
		if (target_parse(&t, argv[first], &so, &err) < 0) {
			cmd_usage_error(ctx->cmd, "%s", err);
			free(err);
			goto out;
		}
		have_t = 1;
	}
	if (c.remote && !have_t) {
		cmd_usage_error(ctx->cmd, "--remote needs a TARGET");
		goto out;
	}

	struct audit_opts o = { .target = have_t ? &t : NULL, .so = &so, .root = c.root,
				.server_config = c.server_config, .remote = c.remote,
				.idle_timeout_s = c.idle_s, .relay = c.relay };
	struct audit_facts f;
	struct report r;
	char *err = NULL;
	report_init(&r, "audit");
	if (audit_run(&o, &r, &f, &err) < 0) {
		fprintf(stderr, "sshdoctor audit: %s\n", err);
		free(err);
		report_free(&r);
		code = STATUS_UNKNOWN;
		goto out;
	}
	if (c.fix) {
		struct json_object *m;
		if (audit_fix_run(&o, &f, c.yes, c.reload, &m, &err) < 0) {
			struct json_object *log = json_object_object_get(m, "log");
			fprintf(stderr, "sshdoctor audit --fix: %s\n", err);
			if (log)
				fputs(json_object_get_string(log), stderr);
			free(err);
			json_object_put(m);
			report_free(&r);
			code = EXIT_IOERR;
			goto out;
		}
		if (c.yes) {
			json_object_object_del(m, "diff");	/* --yes reports what it did: the log */
			/* Show the state after the fix, measured again. */
			report_free(&r);
			report_init(&r, "audit");
			if (audit_run(&o, &r, &f, &err) < 0) {
				verbose("%s", err);
				free(err);
				r.unknown = 1;
			}
		}
		report_measure(&r, "fix", m, fix_text);
	}
	if (have_t && f.ehost[0])	/* the effective values, as ssh -G says */
		report_set_target(&r, f.ehost, f.eport, f.euser);
	code = cmd_finish(ctx, &r);
	report_free(&r);
out:
	if (have_t)
		target_free(&t);
	sshopts_free(&so);
	return code;
}

const struct cmd_entry cmd_audit_entry = {
	.name = "audit",
	.summary = "check keepalive and limit settings of client, server and kernel; --fix them",
	.synopsis = "[ssh options] [TARGET] [--idle-timeout DURATION] [--server-config FILE] "
		    "[--remote] [--fix [--yes] [--reload] | --fix --relay [--yes]] [--undo [ID] | --undo --list] "
		    "[--root DIR]",
	.opts = audit_opts_def,
	.flags = CMD_SSH_OPTS,
	.exec = audit_exec,
};
