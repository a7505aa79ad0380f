/* cmd_version.c - `sshdoctor version`: ours, and the OpenSSH we drive. */
#include <string.h>

#include "cmd.h"
#include "proc.h"
#include "version.h"

static void version_text(FILE *out, struct json_object *m, int color)
{
	(void)color;
	fprintf(out, "sshdoctor %s\n", json_object_get_string(json_object_object_get(m, "sshdoctor")));
	struct json_object *ssh = json_object_object_get(m, "openssh_client");
	fprintf(out, "ssh: %s\n", ssh ? json_object_get_string(ssh) : "not found");
}

/* `ssh -V` prints e.g. "OpenSSH_9.2p1 Debian-2+deb12u6, OpenSSL ..." on stderr. */
static char *ssh_version(void)
{
	char *argv[] = { (char *)"ssh", (char *)"-V", NULL };
	struct strbuf out = { 0 }, err = { 0 };
	int st;
	char *v = NULL;
	if (proc_capture(argv, NULL, &out, &err, 5000, &st) == 0 && err.len) {
		err.buf[strcspn(err.buf, "\n")] = '\0';
		v = xstrdup(err.buf);
	}
	sb_free(&out);
	sb_free(&err);
	return v;
}

static int version_exec(struct ctx *ctx, int argc, char **argv)
{
	int code = 0;
	int first = opts_parse(ctx, argc, argv, NULL, NULL, NULL, &code);
	if (first < 0)
		return code;
	if (first < argc) {
		cmd_usage_error(ctx->cmd, "unexpected argument '%s'", argv[first]);
		return EXIT_USAGE;
	}
	struct report r;
	report_init(&r, "version");
	struct json_object *m = json_object_new_object();
	json_object_object_add(m, "sshdoctor", json_object_new_string(SSHDOCTOR_VERSION));
	char *ssh = ssh_version();
	json_object_object_add(m, "openssh_client", ssh ? json_object_new_string(ssh) : NULL);
	free(ssh);
	report_measure(&r, "version", m, version_text);
	if (ctx->json)
		render_json(stdout, &r);
	else
		version_text(stdout, m, ctx->color);
	report_free(&r);
	return 0;
}

const struct cmd_entry cmd_version_entry = {
	.name = "version",
	.summary = "print the versions of sshdoctor and of the OpenSSH it drives",
	.synopsis = "",
	.exec = version_exec,
};
