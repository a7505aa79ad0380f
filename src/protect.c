/* protect.c - the "protect the work" probe and advice (see protect.h). */
#include "protect.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "proc.h"

/* Each found program prints its path on a line; the marker proves the answer
 * is ours and complete (a login banner or motd cannot fake the last line). */
const char protect_remote_cmd[] =
	"for p in tmux screen mosh-server; do c=$(command -v \"$p\" 2>/dev/null) && "
	"echo \"@@have $p $c\"; done; echo @@done";

void protect_parse(const char *out, struct protect_facts *p)
{
	memset(p, 0, sizeof(*p));
	if (!out)
		return;
	const char *l = out;
	while (*l) {
		size_t n = strcspn(l, "\n");
		char name[32], path[256];
		char line[600];
		if (n < sizeof(line)) {
			memcpy(line, l, n);
			line[n] = '\0';
			if (!strcmp(line, "@@done")) {
				p->known = 1;
			} else if (sscanf(line, "@@have %31s %255s", name, path) == 2 && path[0] == '/') {
				char *dst = !strcmp(name, "tmux") ? p->tmux
					    : !strcmp(name, "screen") ? p->screen
					    : !strcmp(name, "mosh-server") ? p->mosh : NULL;
				if (dst)
					snprintf(dst, 256, "%s", path);
			}
		}
		l += n + (l[n] == '\n');
	}
	if (!p->known)
		snprintf(p->why, sizeof(p->why), "the server's answer was incomplete");
}

int protect_probe(const struct target *t, const struct sshopts *so, struct protect_facts *p)
{
	static const char *const ours[] = { "ConnectTimeout=10" };
	struct strvec argv = { 0 };
	struct strbuf out = { 0 }, err = { 0 };
	int st = -1;
	strvec_push(&argv, "ssh");
	target_ssh_session_opts(&argv, ours, ARRAY_SIZE(ours));
	target_ssh_args(t, so, &argv);
	strvec_push(&argv, protect_remote_cmd);
	int rc = proc_capture(argv.v, NULL, &out, &err, 15000, &st);
	protect_parse(rc == 0 ? out.buf : NULL, p);
	if (!p->known) {
		const char *e = err.buf ? err.buf : "";
		snprintf(p->why, sizeof(p->why), "ssh did not answer: %.*s", (int)strcspn(e, "\r\n"),
			 *e ? e : "no output");
	}
	debug("protect: tmux '%s' screen '%s' mosh-server '%s' (%s)", p->tmux, p->screen, p->mosh,
	      p->known ? "known" : p->why);
	strvec_clear(&argv);
	sb_free(&out);
	sb_free(&err);
	return p->known ? 0 : -1;
}

struct finding *protect_advice(struct report *r, const struct protect_facts *p, const char *host)
{
	struct finding *f = report_add(r, SEV_INFO, PROTECT_FINDING,
				       "Keepalives cannot prevent these drops: keep the work alive "
				       "across them");
	struct fix *x;
	if (!p->known)
		finding_evidence(f, "what the server has installed is unknown (%s)", p->why);
	if (p->tmux[0]) {
		finding_evidence(f, "tmux is installed on the server (%s)", p->tmux);
		x = finding_fix(f, "terminal multiplexer on the server (tmux): log in with, and "
			       "after a drop run the same line to reattach");
		fix_line(x, "ssh -t %s tmux new -A -s main", host);
	} else if (p->screen[0]) {
		finding_evidence(f, "screen is installed on the server (%s), tmux is not", p->screen);
		x = finding_fix(f, "terminal multiplexer on the server (screen): log in with, and "
			       "after a drop run the same line to reattach");
		fix_line(x, "ssh -t %s screen -dR", host);
	} else {
		if (p->known)
			finding_evidence(f, "neither tmux nor screen is installed on the server");
		x = finding_fix(f, "terminal multiplexer on the server: install tmux there, then log "
			       "in with (and after a drop reattach with the same line)");
		fix_line(x, "sudo apt install tmux    # on the server");
		fix_line(x, "ssh -t %s tmux new -A -s main", host);
	}
	if (p->mosh[0]) {
		finding_evidence(f, "mosh-server is installed on the server (%s)", p->mosh);
		x = finding_fix(f, "mosh (survives roaming, suspend and loss; needs UDP 60000-61000 "
			       "to the server let through)");
		fix_line(x, "mosh %s", host);
	} else {
		if (p->known)
			finding_evidence(f, "mosh-server is not installed on the server");
		x = finding_fix(f, "mosh (survives roaming, suspend and loss) where the path lets UDP "
			       "60000-61000 through: install it on both ends, then");
		fix_line(x, "sudo apt install mosh    # on the server and here");
		fix_line(x, "mosh %s", host);
	}
	x = finding_fix(f, "unattended work (tunnels, long jobs): a supervisor that reconnects; "
		       "'sshdoctor keep' will do it, today");
	fix_line(x, "autossh -M 0 -o ServerAliveInterval=15 -o ServerAliveCountMax=3 -N %s", host);
	return f;
}
