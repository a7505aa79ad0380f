/* opts.c - getopt_long driven by each command's declarative option table. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "log.h"
#include "render_html.h"
#include "render_metrics.h"

enum { G_JSON = 1000, G_COLOR, G_HELP, G_VERBOSE, G_QUIET, G_FORMAT, G_TEXTFILE, G_REPORT };

static const struct optdef global_opts[] = {
	{ "json", 0, 0, G_JSON, NULL, "print the result as JSON (see sshdoctor(1))" },
	{ "format", 0, 1, G_FORMAT, "FMT", "text (default), json, or openmetrics (Prometheus)" },
	{ "textfile", 0, 1, G_TEXTFILE, "DIR", "also write metrics to DIR/sshdoctor_*.prom" },
	{ "report", 0, 1, G_REPORT, "FILE", "also write an HTML report with charts to FILE" },
	{ "color", 0, 2, G_COLOR, "WHEN", "colour: auto (default), always, never" },
	{ "verbose", 'v', 0, G_VERBOSE, NULL, "more diagnostics on stderr (repeatable)" },
	{ "quiet", 'q', 0, G_QUIET, NULL, "only errors on stderr" },
	{ "help", 'h', 0, G_HELP, NULL, "show this help" },
	{ 0 }
};

static const struct optdef ssh_opts[] = {
	{ NULL, 'p', 1, 'p', "PORT", "port to connect to (as ssh -p)" },
	{ NULL, 'l', 1, 'l', "USER", "user to log in as (as ssh -l)" },
	{ NULL, 'i', 1, 'i', "FILE", "identity file (as ssh -i)" },
	{ NULL, 'F', 1, 'F', "FILE", "ssh client config file (as ssh -F)" },
	{ NULL, 'J', 1, 'J', "JUMP", "jump host (as ssh -J)" },
	{ NULL, 'o', 1, 'o', "KEY=VALUE", "ssh option, repeatable (as ssh -o)" },
	{ NULL, '4', 0, '4', NULL, "IPv4 only" },
	{ NULL, '6', 0, '6', NULL, "IPv6 only" },
	{ 0 }
};

static size_t optdef_count(const struct optdef *d)
{
	size_t n = 0;
	while (d && (d[n].lname || d[n].sname))
		n++;
	return n;
}

static void print_opts(FILE *out, const struct optdef *d)
{
	for (; d && (d->lname || d->sname); d++) {
		char head[64];
		int n = 0;
		if (d->sname && d->lname)
			n = snprintf(head, sizeof(head), "-%c, --%s", d->sname, d->lname);
		else if (d->sname)
			n = snprintf(head, sizeof(head), "-%c", d->sname);
		else
			n = snprintf(head, sizeof(head), "    --%s", d->lname);
		if (d->argname && n > 0 && (size_t)n < sizeof(head))
			snprintf(head + n, sizeof(head) - (size_t)n,
				 d->has_arg == 2 ? "[=%s]" : (d->lname ? "=%s" : " %s"), d->argname);
		fprintf(out, "  %-26s %s\n", head, d->help);
	}
}

void cmd_print_help(FILE *out, const struct cmd_entry *cmd)
{
	fprintf(out, "usage: sshdoctor %s %s\n\n%s\n", cmd->name, cmd->synopsis, cmd->summary);
	if (optdef_count(cmd->opts)) {
		fputs("\noptions:\n", out);
		print_opts(out, cmd->opts);
	}
	if (cmd->flags & CMD_SSH_OPTS) {
		fputs("\nssh options (handed to every ssh the tool runs):\n", out);
		print_opts(out, ssh_opts);
	}
	fputs("\nglobal options:\n", out);
	print_opts(out, global_opts);
	fprintf(out, "\nexit: 0 ok, 1 warning, 2 critical, 3 unknown, 64 usage error."
		     " See sshdoctor(1).\n");
}

void cmd_usage_error(const struct cmd_entry *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "sshdoctor %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: sshdoctor %s %s  (see 'sshdoctor help %s')\n", cmd->name,
		cmd->synopsis, cmd->name);
}

int64_t opt_duration(const struct cmd_entry *cmd, const char *opt, const char *arg,
		     int64_t min_ms, int64_t max_ms)
{
	int64_t ms = parse_duration_ms(arg);
	if (ms < 0) {
		cmd_usage_error(cmd, "%s: '%s' is not a duration (e.g. 90, 90s, 5m, 2h)", opt, arg);
		return -1;
	}
	if (ms < min_ms || ms > max_ms) {
		char lo[32], hi[32];
		format_duration(lo, sizeof(lo), min_ms);
		format_duration(hi, sizeof(hi), max_ms);
		cmd_usage_error(cmd, "%s: %s is out of range (%s to %s)", opt, arg, lo, hi);
		return -1;
	}
	return ms;
}

int ctx_set_format(struct ctx *ctx, const char *fmt)
{
	if (!strcmp(fmt, "text"))
		ctx->json = ctx->metrics = 0;
	else if (!strcmp(fmt, "json"))
		ctx->json = 1, ctx->metrics = 0;
	else if (!strcmp(fmt, "openmetrics") || !strcmp(fmt, "prometheus"))
		ctx->json = 0, ctx->metrics = 1;
	else
		return -1;
	return 0;
}

static int global_opt(struct ctx *ctx, int id, const char *arg)
{
	switch (id) {
	case G_JSON:
		ctx_set_format(ctx, "json");
		return 0;
	case G_FORMAT:
		if (ctx_set_format(ctx, arg) < 0) {
			cmd_usage_error(ctx->cmd, "--format: '%s' is not text, json or openmetrics", arg);
			return EXIT_USAGE;
		}
		return 0;
	case G_TEXTFILE: {
		char *err = NULL;
		if (metrics_textfile_check(arg, &err) < 0) {
			fprintf(stderr, "sshdoctor %s: %s\n", ctx->cmd->name, err);
			free(err);
			return EXIT_IOERR;
		}
		ctx->textfile = arg;
		return 0;
	}
	case G_REPORT: {
		char *err = NULL;
		if (render_html_check(arg, &err) < 0) {	/* now, not after the run */
			fprintf(stderr, "sshdoctor %s: %s\n", ctx->cmd->name, err);
			free(err);
			return EXIT_IOERR;
		}
		ctx->report = arg;
		return 0;
	}
	case G_VERBOSE:
		log_more();
		return 0;
	case G_QUIET:
		log_level = LOG_QUIET;
		return 0;
	case G_COLOR:
		if (!arg || strcmp(arg, "always") == 0)
			ctx->color = 1;
		else if (strcmp(arg, "never") == 0)
			ctx->color = 0;
		else if (strcmp(arg, "auto") == 0)
			ctx->color = ctx->tty && !getenv("NO_COLOR");
		else {
			cmd_usage_error(ctx->cmd, "--color: '%s' is not auto, always or never", arg);
			return EXIT_USAGE;
		}
		return 0;
	}
	return EXIT_USAGE;
}

static int has_lname(const struct optdef *d, const char *name)
{
	for (; d && (d->lname || d->sname); d++)
		if (d->lname && !strcmp(d->lname, name))
			return 1;
	return 0;
}

/* Appends a table to the getopt arrays; returns the new count. A long option
 * the command declares itself (mine) is left out: the command's own meaning
 * wins (relay's --report SOCKET is not the global --report FILE). */
static size_t add_defs(const struct optdef *d, struct option *lo, size_t nlo, struct strbuf *so,
		       const struct optdef **byid, size_t *nby, const struct optdef *mine)
{
	for (; d && (d->lname || d->sname); d++) {
		if (mine && d->lname && has_lname(mine, d->lname))
			continue;
		byid[(*nby)++] = d;
		if (d->lname)
			lo[nlo++] = (struct option){ d->lname, d->has_arg, NULL, 0x10000 + d->id };
		if (d->sname) {
			char s[3] = { (char)d->sname, ':', ':' };
			sb_add(so, s, d->has_arg == 0 ? 1 : (size_t)(d->has_arg == 1 ? 2 : 3));
		}
	}
	return nlo;
}

static const struct optdef *def_for(int c, const struct optdef **byid, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (c >= 0x10000 && byid[i]->lname && byid[i]->id == c - 0x10000)
			return byid[i];
		if (c < 0x10000 && byid[i]->sname == c)
			return byid[i];
	}
	return NULL;
}

static int is_global(const struct optdef *d)
{
	return d >= global_opts && d < global_opts + ARRAY_SIZE(global_opts);
}

static int is_ssh(const struct optdef *d)
{
	return d >= ssh_opts && d < ssh_opts + ARRAY_SIZE(ssh_opts);
}

int opts_parse(struct ctx *ctx, int argc, char **argv, struct sshopts *so,
	       opt_handler handler, void *state, int *exit_code)
{
	const struct cmd_entry *cmd = ctx->cmd;
	size_t cap = optdef_count(global_opts) + optdef_count(ssh_opts) +
		     optdef_count(cmd->opts) + 1;
	struct option *lo = xcalloc(cap, sizeof(*lo));
	const struct optdef **byid = xcalloc(cap, sizeof(*byid));
	struct strbuf sopts = { 0 };
	size_t nlo = 0, nby = 0;
	int rc = 0;

	sb_adds(&sopts, ":");	/* report missing arguments as ':' */
	nlo = add_defs(global_opts, lo, nlo, &sopts, byid, &nby, cmd->opts);
	if (cmd->flags & CMD_SSH_OPTS)
		nlo = add_defs(ssh_opts, lo, nlo, &sopts, byid, &nby, NULL);
	nlo = add_defs(cmd->opts, lo, nlo, &sopts, byid, &nby, NULL);

	opterr = 0;
	optind = 1;
	int c;
	while (rc == 0 && (c = getopt_long(argc, argv, sopts.buf, lo, NULL)) != -1) {
		if (c == '?' || c == ':') {
			const char *bad = argv[optind - 1];
			if (c == ':')
				cmd_usage_error(cmd, "option '%s' needs an argument", bad);
			else if (optopt)
				cmd_usage_error(cmd, "unknown option '-%c'", optopt);
			else
				cmd_usage_error(cmd, "unknown option '%s'", bad);
			rc = EXIT_USAGE;
			break;
		}
		const struct optdef *d = def_for(c, byid, nby);
		if (!d) {
			rc = EXIT_USAGE;
		} else if (d->id == G_HELP && is_global(d)) {
			cmd_print_help(stdout, cmd);
			rc = -1;
		} else if (is_global(d)) {
			rc = global_opt(ctx, d->id, optarg);
		} else if (is_ssh(d)) {
			rc = sshopts_add(so, d->id, optarg) ? EXIT_USAGE : 0;
			if (rc)
				cmd_usage_error(cmd, "-%c: '%s' is not valid", d->sname, optarg);
		} else {
			rc = handler ? handler(state, d->id, optarg) : EXIT_USAGE;
		}
	}
	free(lo);
	free(byid);
	sb_free(&sopts);
	if (rc) {
		*exit_code = rc < 0 ? 0 : rc;
		return -1;
	}
	return optind;
}
