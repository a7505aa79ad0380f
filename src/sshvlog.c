/* sshvlog.c - `ssh -vvv` debug lines -> phase times. The wording follows OpenSSH
 * 7.x-10.x; matching is by stable substrings so small rewordings still count. */
#include "sshvlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void sshvlog_init(struct sshvlog *v, int64_t t0)
{
	memset(v, 0, sizeof(*v));
	v->t0 = t0;
	int64_t *ts[] = { &v->connecting, &v->connected, &v->remote_version, &v->kexinit_sent,
			  &v->newkeys_in, &v->service_accept, &v->authenticated, &v->session_open,
			  &v->interactive, &v->exit_status, &v->first_output, &v->disconnected,
			  &v->kexinit_in, &v->kex_sent, &v->last_sent, &v->last_received };
	for (size_t i = 0; i < ARRAY_SIZE(ts); i++)
		*ts[i] = -1;
}

static void copy(char *dst, size_t dlen, const char *s, size_t n)
{
	size_t k = n < dlen - 1 ? n : dlen - 1;
	for (size_t i = 0; i < k; i++)
		dst[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	dst[k] = '\0';
}

static void mark(int64_t *slot, int64_t t)
{
	if (*slot < 0)
		*slot = t;
}

static void method_end(struct sshvlog *v, int64_t t)
{
	if (v->nmeth && v->meth[v->nmeth - 1].end < 0)
		v->meth[v->nmeth - 1].end = t;
}

static const char *find(const char *line, size_t len, const char *needle)
{
	return memmem(line, len, needle, strlen(needle));
}

/* The text after needle up to the end of the line (or stop char), into dst. */
static int after(const char *line, size_t len, const char *needle, char stop, char *dst,
		 size_t dlen)
{
	const char *p = find(line, len, needle);
	if (!p)
		return 0;
	p += strlen(needle);
	size_t rest = len - (size_t)(p - line), k = 0;
	while (k < rest && p[k] != stop)
		k++;
	copy(dst, dlen, p, k);
	return 1;
}

static void packet(struct sshvlog *v, int64_t t, int type, int sent)
{
	if (sent) {
		v->last_sent = t;
		v->last_sent_type = type;
		/* 30 KEXDH_INIT/KEX_ECDH_INIT, 32 GEX_INIT, 34 GEX_REQUEST: before NEWKEYS */
		if (type >= 30 && type <= 34 && type != 31 && v->kex_sent < 0 && v->newkeys_in < 0) {
			v->kex_sent = t;
			v->kex_sent_type = type;
		}
	} else {
		v->last_received = t;
		if (type == 20)
			mark(&v->kexinit_in, t);
	}
	if (sent && type == 50) {	/* SSH2_MSG_USERAUTH_REQUEST */
		v->natt_total++;
		if (v->natt >= VLOG_ATTEMPTS_MAX)
			return;
		struct vlog_attempt *a = &v->att[v->natt++];
		const char *m = v->nmeth ? v->meth[v->nmeth - 1].name : "none";
		copy(a->method, sizeof(a->method), m, strlen(m));
		copy(a->detail, sizeof(a->detail), v->pending_detail, strlen(v->pending_detail));
		a->sent = t;
		a->answered = -1;
		/* A key is first offered as a query, then signed: count it once. */
		if (strcmp(a->method, "publickey") == 0 && a->detail[0] &&
		    (v->natt < 2 || strcmp(v->att[v->natt - 2].detail, a->detail) != 0))
			v->keys_offered++;
		return;
	}
	/* 51 failure, 52 success, 60-66 method-specific answers */
	if (!sent && (type == 51 || type == 52 || (type >= 60 && type <= 66)) && v->natt) {
		struct vlog_attempt *a = &v->att[v->natt - 1];
		if (a->answered < 0 && v->natt_total == v->natt) {
			a->answered = t;
			a->answer = type;
		}
	}
}

void sshvlog_line(struct sshvlog *v, int64_t t, const char *line, size_t len)
{
	char tmp[96];
	if (len > VLOG_LINE_MAX)
		len = VLOG_LINE_MAX;
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	t -= v->t0;
	v->lines++;
	if (find(line, len, "send packet: type ") || find(line, len, "receive packet: type ")) {
		int sent = find(line, len, "send packet: type ") != NULL;
		after(line, len, "packet: type ", ' ', tmp, sizeof(tmp));
		packet(v, t, atoi(tmp), sent);
		return;
	}
	if (find(line, len, "Connecting to "))
		mark(&v->connecting, t);
	else if (find(line, len, "Connection established"))
		mark(&v->connected, t);
	else if (find(line, len, "Remote protocol version ")) {
		mark(&v->remote_version, t);
		after(line, len, "remote software version ", '\0', v->remote_software,
		      sizeof(v->remote_software));
	} else if (after(line, len, "kex: algorithm: ", ' ', v->kex_alg, sizeof(v->kex_alg)) ||
		   after(line, len, "kex: host key algorithm: ", ' ', v->hostkey_alg,
			 sizeof(v->hostkey_alg)) ||
		   after(line, len, "expecting SSH2_MSG_", ' ', v->expecting, sizeof(v->expecting))) {
		/* recorded */
	} else if (find(line, len, "SSH2_MSG_KEXINIT sent"))
		mark(&v->kexinit_sent, t);
	else if (find(line, len, "SSH2_MSG_NEWKEYS received"))
		mark(&v->newkeys_in, t);
	else if (find(line, len, "SSH2_MSG_SERVICE_ACCEPT received"))
		mark(&v->service_accept, t);
	else if (find(line, len, "Next authentication method: ")) {
		method_end(v, t);
		if (v->nmeth < VLOG_METHODS_MAX) {
			struct vlog_method *m = &v->meth[v->nmeth++];
			after(line, len, "Next authentication method: ", ' ', m->name,
			      sizeof(m->name));
			m->start = t;
			m->end = -1;
		}
		v->pending_detail[0] = '\0';
	} else if (after(line, len, "Offering public key: ", ' ', v->pending_detail,
			 sizeof(v->pending_detail)) ||
		   after(line, len, "Trying private key: ", ' ', v->pending_detail,
			 sizeof(v->pending_detail))) {
		/* counted when the request is sent: a missing key file sends none */
	} else if (find(line, len, "Authenticated to ") || find(line, len, "Authentication succeeded")) {
		mark(&v->authenticated, t);
		method_end(v, t);
		if (!after(line, len, "using \"", '"', v->auth_method, sizeof(v->auth_method)))
			after(line, len, "succeeded (", ')', v->auth_method, sizeof(v->auth_method));
	} else if (find(line, len, "channel 0: new "))
		mark(&v->session_open, t);
	else if (find(line, len, "Entering interactive session"))
		mark(&v->interactive, t);
	else if (find(line, len, "rtype exit-status") || find(line, len, "Exit status "))
		mark(&v->exit_status, t);
	else if (find(line, len, "No more authentication methods to try")) {
		v->no_more_methods = 1;
		method_end(v, t);
	} else if (find(line, len, "Received disconnect from ") ||
		   find(line, len, "Disconnected from ")) {
		mark(&v->disconnected, t);
		if (!v->disconnect[0])
			copy(v->disconnect, sizeof(v->disconnect), line, len);
		if (find(line, len, "Too many authentication failures"))
			v->too_many_failures = 1;
	} else if (find(line, len, "Permission denied (")) {
		v->permission_denied = 1;
		if (!v->error[0])
			copy(v->error, sizeof(v->error), line, len);
	} else if (find(line, len, "Too many authentication failures"))
		v->too_many_failures = 1;
	else if (!v->error[0] && len && memcmp(line, "debug", len < 5 ? len : 5) != 0 &&
		 (find(line, len, "Unable to negotiate") || find(line, len, "Connection refused") ||
		  find(line, len, "Connection timed out") || find(line, len, "Could not resolve") ||
		  find(line, len, "kex_exchange_identification") ||
		  find(line, len, "Connection closed by") || find(line, len, "Connection reset") ||
		  find(line, len, " timed out") ||
		  find(line, len, "No route to host") || find(line, len, "Host key verification failed")))
		copy(v->error, sizeof(v->error), line, len);
}

void sshvlog_feed(struct sshvlog *v, int64_t t, const char *data, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (data[i] == '\n') {
			if (!v->discarding)
				sshvlog_line(v, t, v->buf, v->blen);
			v->blen = 0;
			v->discarding = 0;
			continue;
		}
		if (v->blen < VLOG_LINE_MAX)
			v->buf[v->blen++] = data[i];
		else if (!v->discarding) {
			/* an over-long line: judge it by its first VLOG_LINE_MAX bytes */
			sshvlog_line(v, t, v->buf, v->blen);
			v->discarding = 1;
		}
	}
}

void sshvlog_finish(struct sshvlog *v, int64_t t)
{
	if (v->blen && !v->discarding)
		sshvlog_line(v, t, v->buf, v->blen);
	v->blen = 0;
	method_end(v, t - v->t0);
}
