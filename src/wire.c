/* wire.c - identification string and KEXINIT parsing (RFC 4253 4.2, 6, 7.1).
 * Everything here reads bytes a server chose: bounds first, then meaning. */
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Copies at most n bytes as printable text (other bytes as \xNN) into out. */
static void printable(char *out, size_t outlen, const uint8_t *s, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 5 < outlen; i++) {
		uint8_t c = s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[o++] = (char)c;
		else {
			static const char hex[] = "0123456789abcdef";
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (outlen)
		out[o < outlen ? o : outlen - 1] = '\0';
}

const char *wire_guess_protocol(const uint8_t *b, size_t n)
{
	static const struct {
		const char *prefix;
		const char *what;
	} sig[] = {
		{ "HTTP/", "an HTTP server" },
		{ "220 ", "an SMTP or FTP server" },
		{ "220-", "an SMTP or FTP server" },
		{ "+OK", "a POP3 server" },
		{ "* OK", "an IMAP server" },
		{ "RFB ", "a VNC server" },
		{ "-ERR", "a Redis server" },
		{ "<html", "a web page" },
		{ "<!DOCTYPE", "a web page" },
	};
	if (n >= 2 && (b[0] == 0x15 || b[0] == 0x16) && b[1] == 0x03)
		return "a TLS server";
	for (size_t i = 0; i < ARRAY_SIZE(sig); i++) {
		size_t l = strlen(sig[i].prefix);
		if (n >= l && strncasecmp((const char *)b, sig[i].prefix, l) == 0)
			return sig[i].what;
	}
	for (size_t i = 0; i < n && i < 64; i++)
		if (b[i] == 0 || (b[i] < 0x20 && b[i] != '\r' && b[i] != '\n' && b[i] != '\t'))
			return "a binary protocol";
	return NULL;
}

static enum wire_ident_state finish(struct wire_ident *w, enum wire_ident_state st,
				    const char *what)
{
	char shown[96];
	printable(shown, sizeof(shown), (const uint8_t *)w->line,
		  w->linelen < 40 ? w->linelen : 40);
	if (st == WIRE_TOO_LONG)
		snprintf(w->what, sizeof(w->what), "%s (\"%s...\")", what, shown);
	else if (st == WIRE_TOO_MANY_LINES)
		snprintf(w->what, sizeof(w->what), "%s (first: \"%s\")", what, w->first);
	else
		snprintf(w->what, sizeof(w->what), "%s: \"%s\"", what, shown);
	w->state = st;
	return st;
}

/* A complete identification line (CR LF stripped) in w->line. */
static enum wire_ident_state parse_ident(struct wire_ident *w)
{
	const char *s = w->line;
	const char *p = s + 4, *dash = memchr(p, '-', w->linelen - 4);
	if (!dash || dash == p || (size_t)(dash - p) >= sizeof(w->proto) || !dash[1])
		return finish(w, WIRE_NOT_SSH, "a malformed SSH identification");
	memcpy(w->proto, p, (size_t)(dash - p));
	w->proto[dash - p] = '\0';
	const char *sw = dash + 1, *sp = strchr(sw, ' ');
	size_t swlen = sp ? (size_t)(sp - sw) : strlen(sw);
	printable(w->software, sizeof(w->software), (const uint8_t *)sw, swlen);
	if (sp)
		printable(w->comments, sizeof(w->comments), (const uint8_t *)sp + 1, strlen(sp + 1));
	printable(w->ident, sizeof(w->ident), (const uint8_t *)s, w->linelen);
	w->state = WIRE_IDENT_OK;
	return WIRE_IDENT_OK;
}

static enum wire_ident_state feed(struct wire_ident *w, const uint8_t *buf, size_t n,
				  size_t *used);

void wire_ident_free(struct wire_ident *w)
{
	free(w->line);
	w->line = NULL;
}

enum wire_ident_state wire_ident_feed(struct wire_ident *w, const uint8_t *buf, size_t n,
				      size_t *used)
{
	*used = 0;
	if (w->state != WIRE_NEED_MORE)
		return w->state;
	if (!w->line)
		w->line = xcalloc(1, WIRE_PRELINE_MAX + 1);
	enum wire_ident_state st = feed(w, buf, n, used);
	if (st != WIRE_NEED_MORE)
		wire_ident_free(w);
	return st;
}

static enum wire_ident_state feed(struct wire_ident *w, const uint8_t *buf, size_t n,
				  size_t *used)
{
	size_t i = 0;
	*used = 0;
	if (w->state != WIRE_NEED_MORE)
		return w->state;
	if (w->total == 0 && n > 0) {
		/* Binary or a well-known greeting at the very start: no need to wait. */
		const char *g = wire_guess_protocol(buf, n);
		if (g && !(n >= 4 && memcmp(buf, "SSH-", 4) == 0)) {
			size_t k = n < 40 ? n : 40;
			const uint8_t *eol = memchr(buf, '\n', k);
			if (eol)
				k = (size_t)(eol - buf);
			if (k && buf[k - 1] == '\r' && eol)
				k--;
			memcpy(w->line, buf, k);
			w->linelen = k;
			w->total = n;
			*used = n;
			return finish(w, WIRE_NOT_SSH, g);
		}
	}
	for (; i < n; i++) {
		uint8_t c = buf[i];
		w->total++;
		if (c == '\n') {
			size_t l = w->linelen;
			if (l && w->line[l - 1] == '\r')
				l--;
			w->line[l] = '\0';
			w->linelen = l;
			if (l >= 4 && memcmp(w->line, "SSH-", 4) == 0) {
				*used = i + 1;
				return parse_ident(w);
			}
			const char *g = wire_guess_protocol((const uint8_t *)w->line, l);
			if (g) {
				*used = i + 1;
				return finish(w, WIRE_NOT_SSH, g);
			}
			if (w->nprelines == 0)
				printable(w->first, sizeof(w->first), (const uint8_t *)w->line, l);
			if (++w->nprelines > WIRE_PRELINES_MAX) {
				*used = i + 1;
				return finish(w, WIRE_TOO_MANY_LINES,
					      "more than 1024 lines before any SSH identification");
			}
			w->linelen = 0;
			continue;
		}
		if (c == '\0') {	/* OpenSSH refuses banners with NUL too */
			*used = i + 1;
			return finish(w, WIRE_NOT_SSH, "a binary protocol");
		}
		w->line[w->linelen++] = (char)c;
		int is_ident = w->linelen >= 4 && memcmp(w->line, "SSH-", 4) == 0;
		if (is_ident && w->linelen > WIRE_IDENT_MAX) {
			*used = i + 1;
			return finish(w, WIRE_TOO_LONG,
				      "an identification line longer than 255 bytes");
		}
		if (w->linelen >= WIRE_PRELINE_MAX) {
			*used = i + 1;
			return finish(w, WIRE_TOO_LONG, "a line longer than 8192 bytes");
		}
	}
	*used = n;
	return WIRE_NEED_MORE;
}

const char *wire_ident_describe(struct wire_ident *w)
{
	if (w->state != WIRE_NEED_MORE)
		return w->state == WIRE_IDENT_OK ? w->ident : w->what;
	if (w->total == 0)
		return "";
	char shown[96];
	printable(shown, sizeof(shown), (const uint8_t *)w->line,
		  w->linelen < 40 ? w->linelen : 40);
	if (w->nprelines)
		snprintf(w->what, sizeof(w->what), "%zu line(s) without SSH identification, first \"%s\"",
			 w->nprelines, w->first);
	else
		snprintf(w->what, sizeof(w->what), "\"%s\" (%llu bytes, no end of line)", shown,
			 (unsigned long long)w->total);
	return w->what;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(struct strbuf *sb, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	sb_add(sb, b, 4);
}

enum wire_pkt_state wire_packet(const uint8_t *buf, size_t n, const uint8_t **payload,
				size_t *plen, size_t *used, uint32_t *declared)
{
	if (n < 5)
		return WIRE_PKT_NEED_MORE;
	uint32_t len = be32(buf);
	*declared = len;
	if (len > WIRE_PACKET_MAX)
		return WIRE_PKT_TOO_BIG;
	uint8_t pad = buf[4];
	/* RFC 4253 6: at least 4 bytes of padding and a non-empty payload */
	if (len < 6 || pad < 4 || (uint32_t)pad + 1 >= len)
		return WIRE_PKT_BAD;
	if (n < 4 + (size_t)len)
		return WIRE_PKT_NEED_MORE;
	*payload = buf + 5;
	*plen = len - pad - 1;
	*used = 4 + (size_t)len;
	return WIRE_PKT_OK;
}

void wire_split_list(struct strvec *sv, const char *s, size_t len)
{
	size_t i = 0;
	while (i < len && sv->n < WIRE_NAMES_MAX) {
		size_t j = i;
		while (j < len && s[j] != ',')
			j++;
		if (j > i) {
			char name[WIRE_NAME_MAX * 4 + 8];
			size_t l = j - i < WIRE_NAME_MAX ? j - i : WIRE_NAME_MAX;
			printable(name, sizeof(name), (const uint8_t *)s + i, l);
			strvec_push(sv, name);
		}
		i = j + 1;
	}
}

int wire_kexinit_parse(struct wire_kexinit *k, const uint8_t *p, size_t n, const char **err)
{
	memset(k, 0, sizeof(*k));
	if (n < 17 || p[0] != 20) {
		*err = "not a KEXINIT message";
		return -1;
	}
	size_t off = 17;	/* type + 16-byte cookie */
	for (int i = 0; i < KEX_NLISTS; i++) {
		if (n - off < 4) {
			*err = "KEXINIT truncated in a name-list length";
			goto bad;
		}
		uint32_t l = be32(p + off);
		off += 4;
		if (l > n - off) {
			*err = "KEXINIT name-list longer than the packet";
			goto bad;
		}
		wire_split_list(&k->list[i], (const char *)p + off, l);
		off += l;
	}
	if (n - off < 5) {
		*err = "KEXINIT truncated after the name-lists";
		goto bad;
	}
	k->first_kex_follows = p[off] != 0;
	return 0;
bad:
	wire_kexinit_free(k);
	return -1;
}

void wire_kexinit_free(struct wire_kexinit *k)
{
	for (int i = 0; i < KEX_NLISTS; i++)
		strvec_clear(&k->list[i]);
}

void wire_kexinit_build(struct strbuf *out, const char *const lists[KEX_NLISTS])
{
	struct strbuf pl = { 0 };
	uint8_t hdr[17] = { 20 };
	/* The cookie only matters for a key exchange we never finish. */
	memcpy(hdr + 1, "sshdoctor-cookie", 16);
	sb_add(&pl, hdr, sizeof(hdr));
	for (int i = 0; i < KEX_NLISTS; i++) {
		const char *s = lists[i] ? lists[i] : "";
		put32(&pl, (uint32_t)strlen(s));
		sb_add(&pl, s, strlen(s));
	}
	uint8_t tail[5] = { 0 };
	sb_add(&pl, tail, sizeof(tail));
	size_t pad = 8 - ((5 + pl.len) % 8);
	if (pad < 4)
		pad += 8;
	put32(out, (uint32_t)(1 + pl.len + pad));
	uint8_t padlen = (uint8_t)pad, zeros[16] = { 0 };
	sb_add(out, &padlen, 1);
	sb_add(out, pl.buf, pl.len);
	sb_add(out, zeros, pad);
	sb_free(&pl);
}

static int pseudo_algorithm(const char *s)
{
	return str_startswith(s, "ext-info-") || str_startswith(s, "kex-strict-");
}

const char *wire_negotiate(const struct strvec *client, const struct strvec *server)
{
	for (size_t i = 0; i < client->n; i++) {
		if (pseudo_algorithm(client->v[i]))
			continue;
		for (size_t j = 0; j < server->n; j++)
			if (strcmp(client->v[i], server->v[j]) == 0)
				return client->v[i];
	}
	return NULL;
}

int wire_cipher_is_aead(const char *name)
{
	return str_startswith(name, "chacha20-poly1305") || strstr(name, "-gcm") != NULL;
}

int wire_disconnect_parse(const uint8_t *p, size_t n, uint32_t *code, char *desc, size_t desclen)
{
	if (n < 9 || p[0] != 1)
		return -1;
	*code = be32(p + 1);
	uint32_t l = be32(p + 5);
	if (l > n - 9)
		l = (uint32_t)(n - 9);
	printable(desc, desclen, p + 9, l < 200 ? l : 200);
	return 0;
}
