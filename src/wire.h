/* wire.h - the plaintext start of an SSH connection, parsed from untrusted bytes:
 * the identification string (and lines before it) and the server's KEXINIT.
 * Pure functions, every length and count bounded; fuzzed (fuzz/fuzz_wire.c). */
#ifndef SSHDOCTOR_WIRE_H
#define SSHDOCTOR_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define WIRE_IDENT_MAX 255		/* RFC 4253 4.2: including CR LF */
#define WIRE_PRELINE_MAX 8192		/* one line before the identification */
#define WIRE_PRELINES_MAX 1024		/* as many as OpenSSH tolerates */
#define WIRE_PACKET_MAX (256 * 1024)	/* OpenSSH's PACKET_MAX_SIZE */
#define WIRE_NAMES_MAX 256		/* names kept per list */
#define WIRE_NAME_MAX 64		/* RFC 4251 6: algorithm names <= 64 chars */

enum wire_ident_state {
	WIRE_NEED_MORE,		/* feed more bytes */
	WIRE_IDENT_OK,		/* identification parsed; *used bytes consumed */
	WIRE_NOT_SSH,		/* something else speaks on the port (see .what) */
	WIRE_TOO_LONG,		/* identification or pre-banner line over the bound */
	WIRE_TOO_MANY_LINES,	/* endless lines before any identification */
};

struct wire_ident {
	enum wire_ident_state state;
	char *line;	/* the line being assembled: WIRE_PRELINE_MAX + 1, only until the
			 * state is final (9 KB per target of a 10,000-target connect) */
	size_t linelen;
	size_t nprelines;
	char first[128];	/* first pre-banner line, printable, for the report */
	uint64_t total;		/* bytes seen */
	/* once WIRE_IDENT_OK: */
	char ident[WIRE_IDENT_MAX + 1];	/* without CR LF */
	char proto[16];			/* "2.0", "1.99", "1.5" */
	char software[WIRE_IDENT_MAX + 1];	/* "OpenSSH_9.2p1" */
	char comments[WIRE_IDENT_MAX + 1];	/* "Debian-2+deb12u3" */
	/* once WIRE_NOT_SSH/TOO_LONG/TOO_MANY_LINES: what it looks like */
	char what[320];
};

/* Feeds received bytes; returns the new state and sets *used to the bytes
 * consumed (the rest belong to the binary packet stream after the ident). */
enum wire_ident_state wire_ident_feed(struct wire_ident *w, const uint8_t *buf, size_t n,
				      size_t *used);
/* Frees the line buffer of an identification that never finished (the feed
 * frees it itself once the state is final). Safe to call twice. */
void wire_ident_free(struct wire_ident *w);
/* At EOF or timeout: what the bytes seen so far look like ("" when none). */
const char *wire_ident_describe(struct wire_ident *w);
/* Guesses the protocol of a non-SSH greeting; returns a static description. */
const char *wire_guess_protocol(const uint8_t *buf, size_t n);

/* The name-lists of a KEXINIT, in RFC 4253 7.1 order. */
enum { KEX_KEX, KEX_HOSTKEY, KEX_ENC_CS, KEX_ENC_SC, KEX_MAC_CS, KEX_MAC_SC,
       KEX_COMP_CS, KEX_COMP_SC, KEX_LANG_CS, KEX_LANG_SC, KEX_NLISTS };

struct wire_kexinit {
	struct strvec list[KEX_NLISTS];
	int first_kex_follows;
};

enum wire_pkt_state {
	WIRE_PKT_NEED_MORE,
	WIRE_PKT_OK,		/* one packet's payload returned */
	WIRE_PKT_TOO_BIG,	/* declared length over WIRE_PACKET_MAX */
	WIRE_PKT_BAD,		/* padding or length inconsistent */
};

/* Extracts one unencrypted binary packet (RFC 4253 6) from buf[0..n). On OK,
 * payload and plen point into buf and *used is the whole packet's size. On
 * TOO_BIG, *declared holds the length the peer claimed. */
enum wire_pkt_state wire_packet(const uint8_t *buf, size_t n, const uint8_t **payload,
				size_t *plen, size_t *used, uint32_t *declared);

/* Parses a KEXINIT payload (starting with message type 20). 0 or -1 with *err
 * (static string). Names are kept bounded in count and length. */
int wire_kexinit_parse(struct wire_kexinit *k, const uint8_t *p, size_t n, const char **err);
void wire_kexinit_free(struct wire_kexinit *k);
/* Builds a client KEXINIT packet (framed, padded, unencrypted) from comma lists. */
void wire_kexinit_build(struct strbuf *out, const char *const lists[KEX_NLISTS]);

/* Splits a comma list into sv (bounded like the parser). */
void wire_split_list(struct strvec *sv, const char *s, size_t len);
/* The algorithm OpenSSH would pick: the first of the client's list the server
 * also has; NULL when none. Pseudo-algorithms (ext-info-*, kex-strict-*) never match. */
const char *wire_negotiate(const struct strvec *client, const struct strvec *server);
/* Whether a cipher carries its own MAC (then no MAC is negotiated). */
int wire_cipher_is_aead(const char *name);

/* SSH_MSG_DISCONNECT payload -> reason code and a printable description. */
int wire_disconnect_parse(const uint8_t *p, size_t n, uint32_t *code, char *desc, size_t desclen);

#endif
