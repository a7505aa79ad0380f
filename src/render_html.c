/* render_html.c - the report as one self-contained HTML page (render_html.h):
 * the same findings as render_text, in the same order, plus the charts of
 * render_html_charts.c and the raw measurements. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "render_html.h"
#include "svg.h"
#include "version.h"

/* Colours carry meaning twice (class and text), so print and colour-blind
 * readers lose nothing. */
static const char css[] =
	"body{font:15px/1.45 system-ui,sans-serif;color:#1b1f24;background:#fff;margin:0 auto;"
	"max-width:820px;padding:18px}\n"
	"h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:26px 0 8px;"
	"border-bottom:1px solid #d0d7de}\n"
	".meta{color:#57606a;font-size:13px}.meta td{padding:0 12px 0 0;vertical-align:top}\n"
	".verdict{padding:12px 16px;border-radius:6px;margin:14px 0;font-size:17px}\n"
	".st-ok{background:#dafbe1;border-left:6px solid #1a7f37}"
	".st-warning{background:#fff8c5;border-left:6px solid #bf8700}\n"
	".st-critical{background:#ffebe9;border-left:6px solid #cf222e}"
	".st-unknown{background:#fbefff;border-left:6px solid #8250df}\n"
	".finding{border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;margin:8px 0}\n"
	".sev{display:inline-block;font-weight:600;font-size:12px;padding:1px 6px;border-radius:4px;"
	"margin-right:6px}\n"
	".sev-ok{background:#dafbe1}.sev-info{background:#ddf4ff}.sev-warning{background:#fff8c5}"
	".sev-critical{background:#ffebe9;color:#a40e26}\n"
	".id{color:#57606a;font-family:monospace;font-size:12px}\n"
	"ul{margin:4px 0;padding-left:22px}pre{background:#f6f8fa;padding:8px;overflow-x:auto;"
	"font-size:12.5px;white-space:pre-wrap;word-break:break-word}\n"
	"pre.fix{background:#dafbe1;border-left:4px solid #1a7f37}\n"
	"figure{margin:14px 0}figcaption{font-weight:600;margin-bottom:4px}\n"
	"svg.chart{max-width:100%;height:auto;background:#fcfcfd;border:1px solid #e5e8eb}\n"
	"svg .axis{stroke:#57606a;stroke-width:1}svg .grid{stroke:#e5e8eb;stroke-width:1}\n"
	"svg text{font:11px sans-serif;fill:#1b1f24}svg .caption,svg .legend{font-size:12px}\n"
	"svg .tick{fill:#57606a}svg .bracket{fill:#cf222e;fill-opacity:.15}\n"
	"svg .bracket-edge,svg .limit{stroke:#cf222e;stroke-width:1.5;stroke-dasharray:4 3}\n"
	"svg .bracket-label{fill:#a40e26;font-weight:600;font-size:12px}\n"
	"svg .p-alive{fill:#1a7f37}svg .p-silent{fill:#fff;stroke:#bc4c00;stroke-width:2}\n"
	"svg .p-reset{fill:#cf222e}svg .p-closed{fill:#8250df}\n"
	"svg .bar{fill:#2f81f7}svg .bar-slow{fill:#bf8700}svg .bar-bad{fill:#cf222e}\n"
	"svg .s-tcp{fill:#2f81f7}svg .s-icmp{fill:#8250df}svg .s-echo{fill:#1a7f37}\n"
	"svg .median{stroke:#57606a;stroke-dasharray:2 3}\n"
	"footer{margin-top:30px;color:#57606a;font-size:12px}\n";

/* --- secrets ------------------------------------------------------------------ */

/* Key files are named, never located: every path found in a key field of the
 * measurements or after -i on the command line is shown as its last part. */
static int is_key_field(const char *k)
{
	return !strcmp(k, "key") || !strcmp(k, "keys") || !strcmp(k, "identity") ||
	       !strcmp(k, "identityfile") || !strcmp(k, "identity_file") ||
	       !strcmp(k, "identity_files") || !strcmp(k, "certificate");
}

static void add_path(struct strvec *paths, const char *s)
{
	if (s && strchr(s, '/') && strlen(s) > 1)
		strvec_push(paths, s);
}

static void collect_keys(struct json_object *o, int in_key, struct strvec *paths, int depth)
{
	if (!o || depth > 32)
		return;
	switch (json_object_get_type(o)) {
	case json_type_object: {
		json_object_object_foreach(o, k, v)
			collect_keys(v, is_key_field(k), paths, depth + 1);
		break;
	}
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(o); i++)
			collect_keys(json_object_array_get_idx(o, i), in_key, paths, depth + 1);
		break;
	case json_type_string:
		if (in_key)
			add_path(paths, json_object_get_string(o));
		break;
	default:
		break;
	}
}

static void collect_argv_keys(const struct html_meta *m, struct strvec *paths)
{
	for (int i = 1; m && i < m->argc; i++) {
		const char *a = m->argv[i];
		if (!strcmp(a, "-i") && i + 1 < m->argc)
			add_path(paths, m->argv[i + 1]);
		else if (!strncmp(a, "-i", 2))
			add_path(paths, a + 2);
		const char *eq = strcasestr(a, "identityfile=");
		if (!eq)
			eq = strcasestr(a, "certificatefile=");
		if (eq)
			add_path(paths, strchr(eq, '=') + 1);
		if ((!strcmp(a, "-o") && i + 1 < m->argc) &&
		    (eq = strcasestr(m->argv[i + 1], "identityfile")) != NULL) {
			eq += strlen("identityfile");
			add_path(paths, eq + strspn(eq, " =\t"));
		}
	}
}

/* Length of a path at p that names a key file by its looks (a last part
 * id_*, *.pem, *.key, *.ppk), 0 when it does not: for key paths that reach
 * a finding's text without a key field. */
static size_t keyish_path(const char *p)
{
	if (*p != '/' && !(p[0] == '~' && p[1] == '/'))
		return 0;
	size_t n = strcspn(p, " \t\n\"',;()[]<>");
	while (n && (p[n - 1] == '.' || p[n - 1] == ':'))
		n--;	/* sentence punctuation */
	const char *base = p;
	for (size_t i = 0; i < n; i++)
		if (p[i] == '/')
			base = p + i + 1;
	size_t bl = (size_t)(p + n - base);
	int key = (bl > 3 && !strncmp(base, "id_", 3));
	static const char *const ext[] = { ".pem", ".key", ".ppk" };
	for (size_t i = 0; i < ARRAY_SIZE(ext); i++) {
		size_t el = strlen(ext[i]);
		if (bl > el && !strncmp(base + bl - el, ext[i], el))
			key = 1;
	}
	return key ? n : 0;
}

/* s with every listed path, and every path that looks like a key file's,
 * replaced by its last component. Caller frees. */
static char *scrub(const struct strvec *paths, const char *s)
{
	struct strbuf sb = { 0 };
	const char *p = s ? s : "";
	const char *start = p;
	while (*p) {
		size_t best = 0, bi = 0;
		for (size_t i = 0; i < paths->n; i++) {
			size_t l = strlen(paths->v[i]);
			if (l > best && !strncmp(p, paths->v[i], l))
				best = l, bi = i;
		}
		size_t k = p == start || strchr(" \t\n\"'=,;:(", p[-1]) ? keyish_path(p) : 0;
		if (best) {
			const char *base = strrchr(paths->v[bi], '/');
			sb_adds(&sb, base[1] ? base + 1 : "(key)");
			p += best;
		} else if (k) {
			const char *base = p;
			for (size_t i = 0; i < k; i++)
				if (p[i] == '/')
					base = p + i + 1;
			sb_add(&sb, base, (size_t)(p + k - base));
			p += k;
		} else {
			sb_add(&sb, p++, 1);
		}
	}
	sb_add(&sb, "", 0);
	return sb.buf ? sb.buf : xstrdup("");
}

/* Escaped and scrubbed: the only way text reaches the page. */
static void put(struct strbuf *sb, const struct strvec *paths, const char *s)
{
	char *c = scrub(paths, s);
	html_esc(sb, c);
	free(c);
}

/* --- sections ----------------------------------------------------------------- */

static const char *sev_label(enum severity s)
{
	static const char *const t[] = { "ok", "info", "warning", "critical" };
	return t[s];
}

static void header(struct strbuf *sb, const struct report *r, const struct html_meta *m,
		   const struct strvec *paths)
{
	int64_t ms = m && m->time_ms ? m->time_ms : wall_ms();
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char when[64] = "";
	if (gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	sb_adds(sb, "<h1>sshdoctor ");
	put(sb, paths, r->command);
	if (r->target) {
		sb_adds(sb, ": ");
		put(sb, paths, r->target->user);
		sb_adds(sb, "@");
		put(sb, paths, r->target->host);
		sb_addf(sb, " port %d", r->target->port);
	}
	sb_adds(sb, "</h1>\n<table class=\"meta\">\n<tr><td>time</td><td>");
	html_esc(sb, when);
	sb_adds(sb, "</td></tr>\n<tr><td>command</td><td><code>sshdoctor");
	for (int i = 1; m && i < m->argc; i++) {
		sb_adds(sb, " ");
		put(sb, paths, m->argv[i]);
	}
	sb_adds(sb, "</code></td></tr>\n<tr><td>sshdoctor</td><td>" SSHDOCTOR_VERSION "</td></tr>\n");
	struct json_object *audit = NULL, *client = NULL, *v = NULL, *c = NULL;
	if (json_object_object_get_ex(r->measurements, "audit", &audit) &&
	    json_object_object_get_ex(audit, "client", &client) &&
	    json_object_object_get_ex(client, "version", &v) && json_object_get_string(v)) {
		sb_adds(sb, "<tr><td>client ssh</td><td>");
		put(sb, paths, json_object_get_string(v));
		sb_adds(sb, "</td></tr>\n");
	}
	if (json_object_object_get_ex(r->measurements, "connect", &c) &&
	    json_object_is_type(c, json_type_array))
		c = json_object_array_length(c) ? json_object_array_get_idx(c, 0) : NULL;
	if (c && json_object_object_get_ex(c, "banner", &v) && json_object_get_string(v)) {
		sb_adds(sb, "<tr><td>server</td><td>");
		put(sb, paths, json_object_get_string(v));	/* the server's own bytes */
		sb_adds(sb, "</td></tr>\n");
	}
	sb_adds(sb, "</table>\n");
}

static void verdict(struct strbuf *sb, const struct report *r, const struct strvec *paths)
{
	enum status st = report_status(r);
	const struct finding *top = NULL;
	for (size_t i = 0; i < r->n; i++)
		if (!top || r->findings[i].sev > top->sev)
			top = &r->findings[i];
	sb_addf(sb, "<div class=\"verdict st-%s\" id=\"verdict\"><strong>%s</strong>",
		status_name(st), status_name(st));
	if (top && top->sev >= SEV_WARNING) {
		sb_adds(sb, ": ");
		put(sb, paths, top->title);
	} else if (st == STATUS_UNKNOWN) {
		sb_adds(sb, ": could not determine the answer");
	}
	sb_adds(sb, "</div>\n");
	if (r->summary) {
		sb_adds(sb, "<p id=\"summary\">");
		put(sb, paths, r->summary);
		sb_adds(sb, "</p>\n");
	}
}

static void str_list(struct strbuf *sb, struct json_object *a, const struct strvec *paths)
{
	if (!a || !json_object_is_type(a, json_type_array) || !json_object_array_length(a))
		return;
	sb_adds(sb, "<ul>\n");
	for (size_t i = 0; i < json_object_array_length(a) && i < 200; i++) {
		sb_adds(sb, "<li>");
		put(sb, paths, json_object_get_string(json_object_array_get_idx(a, i)));
		sb_adds(sb, "</li>\n");
	}
	sb_adds(sb, "</ul>\n");
}

/* doctor's ranked causes and what it could not check. */
static void causes(struct strbuf *sb, struct json_object *doc, const struct strvec *paths)
{
	struct json_object *cs = NULL, *nc = NULL, *v;
	if (json_object_object_get_ex(doc, "causes", &cs) && json_object_is_type(cs, json_type_array) &&
	    json_object_array_length(cs)) {
		sb_adds(sb, "<h2>Causes, most likely first</h2>\n<ol id=\"causes\">\n");
		for (size_t i = 0; i < json_object_array_length(cs) && i < 50; i++) {
			struct json_object *c = json_object_array_get_idx(cs, i);
			sb_adds(sb, "<li><strong>");
			put(sb, paths, json_object_object_get_ex(c, "title", &v) ? json_object_get_string(v) : "");
			sb_adds(sb, "</strong> <span class=\"id\">(");
			put(sb, paths, json_object_object_get_ex(c, "id", &v) ? json_object_get_string(v) : "");
			sb_adds(sb, ", ");
			put(sb, paths, json_object_object_get_ex(c, "confidence", &v) ?
			    json_object_get_string(v) : "");
			sb_adds(sb, " confidence)</span>\n");
			if (json_object_object_get_ex(c, "evidence", &v))
				str_list(sb, v, paths);
			sb_adds(sb, "</li>\n");
		}
		sb_adds(sb, "</ol>\n");
	}
	if (json_object_object_get_ex(doc, "not_checked", &nc) &&
	    json_object_is_type(nc, json_type_array) && json_object_array_length(nc)) {
		sb_adds(sb, "<h2>Not checked</h2>\n<ul>\n");
		for (size_t i = 0; i < json_object_array_length(nc) && i < 50; i++) {
			struct json_object *c = json_object_array_get_idx(nc, i);
			sb_adds(sb, "<li>");
			put(sb, paths, json_object_object_get_ex(c, "what", &v) ? json_object_get_string(v) : "");
			sb_adds(sb, ": ");
			put(sb, paths, json_object_object_get_ex(c, "why", &v) ? json_object_get_string(v) : "");
			if (json_object_object_get_ex(c, "command", &v) && json_object_get_string(v)) {
				sb_adds(sb, " (<code>");
				put(sb, paths, json_object_get_string(v));
				sb_adds(sb, "</code>)");
			}
			sb_adds(sb, "</li>\n");
		}
		sb_adds(sb, "</ul>\n");
	}
}

static void finding(struct strbuf *sb, const struct finding *f, const struct strvec *paths)
{
	sb_addf(sb, "<div class=\"finding\"><span class=\"sev sev-%s\">%s</span><strong>",
		sev_label(f->sev), sev_label(f->sev));
	put(sb, paths, f->title);
	sb_adds(sb, "</strong> <span class=\"id\">");
	put(sb, paths, f->id);
	sb_adds(sb, "</span>\n");
	if (f->evidence.n) {
		sb_adds(sb, "<ul>\n");
		for (size_t i = 0; i < f->evidence.n; i++) {
			sb_adds(sb, "<li>");
			put(sb, paths, f->evidence.v[i]);
			sb_adds(sb, "</li>\n");
		}
		sb_adds(sb, "</ul>\n");
	}
	for (size_t i = 0; i < f->nfixes; i++) {
		sb_adds(sb, "<div>fix, in <code>");
		put(sb, paths, f->fixes[i].where);
		sb_adds(sb, "</code>:</div>\n<pre class=\"fix\">");
		for (size_t j = 0; j < f->fixes[i].lines.n; j++) {
			put(sb, paths, f->fixes[i].lines.v[j]);
			sb_adds(sb, "\n");
		}
		sb_adds(sb, "</pre>\n");
	}
	sb_adds(sb, "</div>\n");
}

/* The exact text rendering too: what the user saw is what the team reads. */
static void text_copy(struct strbuf *sb, const struct report *r, const struct strvec *paths)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return;
	render_text(f, r, 0);
	if (fclose(f) == 0 && buf) {
		sb_adds(sb, "<details><summary>The text output</summary>\n<pre id=\"text\">");
		put(sb, paths, buf);
		sb_adds(sb, "</pre></details>\n");
	}
	free(buf);
}

char *render_html(const struct report *r, const struct html_meta *m)
{
	struct strbuf sb = { 0 };
	struct strvec paths = { 0 };
	collect_keys(r->measurements, 0, &paths, 0);
	collect_argv_keys(m, &paths);

	sb_adds(&sb, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		/* nothing loads from anywhere, even if an escape were missed */
		"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
		"style-src 'unsafe-inline'; img-src data:\">\n<title>sshdoctor ");
	put(&sb, &paths, r->command);
	if (r->target) {
		sb_adds(&sb, " ");
		put(&sb, &paths, r->target->host);
	}
	sb_adds(&sb, "</title>\n<style>\n");
	sb_adds(&sb, css);
	sb_adds(&sb, "</style>\n</head>\n<body>\n");
	header(&sb, r, m, &paths);
	verdict(&sb, r, &paths);

	struct json_object *v;
	if (json_object_object_get_ex(r->measurements, "doctor", &v))
		causes(&sb, v, &paths);
	if (json_object_object_get_ex(r->measurements, "idle", &v)) {
		sb_adds(&sb, "<h2>Idle timeout</h2>\n");
		html_idle_chart(&sb, v);
	}
	if (json_object_object_get_ex(r->measurements, "connect", &v)) {
		sb_adds(&sb, "<h2>Connection set-up</h2>\n");
		html_connect_chart(&sb, v);
	}
	if (json_object_object_get_ex(r->measurements, "path", &v)) {
		sb_adds(&sb, "<h2>The path</h2>\n");
		html_path_charts(&sb, v);
	}
	sb_adds(&sb, "<h2>Findings</h2>\n");
	for (int sev = SEV_CRITICAL; sev >= SEV_OK; sev--)
		for (size_t i = 0; i < r->n; i++)
			if ((int)r->findings[i].sev == sev)
				finding(&sb, &r->findings[i], &paths);
	text_copy(&sb, r, &paths);
	sb_adds(&sb, "<details><summary>All measurements (JSON)</summary>\n<pre id=\"json\">");
	put(&sb, &paths, json_object_to_json_string_ext(r->measurements, JSON_C_TO_STRING_PRETTY |
							 JSON_C_TO_STRING_SPACED |
							 JSON_C_TO_STRING_NOSLASHESCAPE));
	sb_adds(&sb, "</pre></details>\n<footer>Written by sshdoctor " SSHDOCTOR_VERSION
		". Key files are shown by name only.</footer>\n</body>\n</html>\n");
	strvec_clear(&paths);
	return sb.buf;
}

int render_html_check(const char *path, char **err)
{
	struct stat st;
	if (!path || !*path)
		return err_set(err, "--report: no file name given");
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return err_set(err, "--report %s: is a directory", path);
	char *copy = xstrdup(path);
	const char *dir = dirname(copy);
	int rc = 0;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		rc = err_set(err, "--report %s: directory %s does not exist", path, dir);
	else if (access(dir, W_OK) < 0)
		rc = err_set(err, "--report %s: directory %s is not writable", path, dir);
	free(copy);
	return rc;
}

int render_html_write(const char *path, const struct report *r, const struct html_meta *m,
		      char **err)
{
	if (render_html_check(path, err) < 0)
		return -1;
	struct file_snap s;
	if (file_snap_read(&s, path, err) < 0)
		return -1;
	char *html = render_html(r, m);
	int rc = fileio_replace(&s, html, strlen(html), 0644, err);
	free(html);
	file_snap_free(&s);
	return rc;
}
