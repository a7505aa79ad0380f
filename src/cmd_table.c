/* cmd_table.c - the static command table (one line per cmd_<name>.c) and lookup. */
#include <string.h>

#include "cmd.h"

extern const struct cmd_entry cmd_help_entry, cmd_version_entry;
extern const struct cmd_entry cmd_doctor_entry;
extern const struct cmd_entry cmd_idle_entry, cmd_echo_server_entry;
extern const struct cmd_entry cmd_audit_entry;
extern const struct cmd_entry cmd_connect_entry;
extern const struct cmd_entry cmd_path_entry, cmd_relay_entry;
extern const struct cmd_entry cmd_logs_entry;
extern const struct cmd_entry cmd_keep_entry;
extern const struct cmd_entry cmd_history_entry;
extern const struct cmd_entry cmd_askpass_entry;

/* One line per command; each cmd_<name>.c exports its entry. */
const struct cmd_entry *const cmd_table[] = {
	&cmd_doctor_entry,
	&cmd_idle_entry,
	&cmd_audit_entry,
	&cmd_connect_entry,
	&cmd_logs_entry,
	&cmd_history_entry,
	&cmd_path_entry,
	&cmd_keep_entry,
	&cmd_echo_server_entry,
	&cmd_relay_entry,
	&cmd_askpass_entry,
	&cmd_help_entry,
	&cmd_version_entry,
	NULL
};

const struct cmd_entry *cmd_lookup(const char *name)
{
	for (size_t i = 0; cmd_table[i]; i++)
		if (strcmp(cmd_table[i]->name, name) == 0)
			return cmd_table[i];
	return NULL;
}

const char *cmd_closest(const char *name)
{
	const char *best = NULL;
	size_t bestd = 3;	/* suggest only near misses */
	for (size_t i = 0; cmd_table[i]; i++) {
		size_t d = edit_distance(name, cmd_table[i]->name);
		if (d < bestd || (str_startswith(cmd_table[i]->name, name) && strlen(name) >= 2)) {
			bestd = d < bestd ? d : bestd;
			best = cmd_table[i]->name;
		}
	}
	return best;
}

void main_usage_hint(void)
{
	fputs("usage: sshdoctor [--json] [--color=WHEN] [-v|-q] COMMAND [args]"
	      "  (see 'sshdoctor help')\n", stderr);
}

void main_print_help(FILE *out)
{
	fputs("usage: sshdoctor [global options] COMMAND [args]\n\n"
	      "Finds out why SSH sessions drop or hang, proves it, and stops it.\n\n"
	      "commands:\n", out);
	for (size_t i = 0; cmd_table[i]; i++)
		if (!(cmd_table[i]->flags & CMD_HIDDEN))
			fprintf(out, "  %-12s %s\n", cmd_table[i]->name, cmd_table[i]->summary);
	fputs("\nglobal options:\n"
	      "  --json          print the result as JSON (see sshdoctor(1))\n"
	      "  --format=FMT    text (default), json, openmetrics (Prometheus text format)\n"
	      "  --textfile DIR  also write metrics to DIR/sshdoctor_*.prom (node_exporter)\n"
	      "  --report FILE   also write a self-contained HTML report (charts) to FILE\n"
	      "  --color=WHEN    colour: auto (default; honours NO_COLOR), always, never\n"
	      "  -v, --verbose   more diagnostics on stderr (repeatable)\n"
	      "  -q, --quiet     only errors on stderr\n"
	      "  -h, --help      this help; 'sshdoctor help COMMAND' for a command\n"
	      "  --version       print the version\n"
	      "\nexit: 0 ok, 1 warning, 2 critical, 3 unknown, 64 usage error, 74 output error.\n",
	      out);
}

