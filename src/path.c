/* path.c - path_run(): resolve the target, run the probes in order (direct
 * probes, UDP path MTU, then the session), and hand the result to the analyser. */
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "askpass.h"
#include "budget.h"
#include "evloop.h"
#include "log.h"
#include "path.h"

#define PMTU_BUDGET_MS 15000

static int proxied(const struct target *t)
{
	static const char *const keys[] = { "proxycommand", "proxyjump" };
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const char *v = kv_get(&t->cfg, keys[i]);
		if (v && *v && strcmp(v, "none") != 0)
			return 1;
	}
	return 0;
}

static int numeric_addr(const char *host, int family, struct path_meas *m, char **err)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	hints.ai_family = family == 4 ? AF_INET : family == 6 ? AF_INET6 : AF_UNSPEC;
	int rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc) {
		*err = xasprintf("cannot resolve %s: %s", host, gai_strerror(rc));
		return -1;
	}
	getnameinfo(res->ai_addr, res->ai_addrlen, m->addr, sizeof(m->addr), NULL, 0,
		    NI_NUMERICHOST);
	m->ipv6 = res->ai_family == AF_INET6;
	freeaddrinfo(res);
	return 0;
}

/* The interface the kernel would send through: a connected UDP socket's local
 * address, matched against the interface list. Sends nothing. */
static void out_ifname(struct path_meas *m)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_DGRAM }, *res;
	if (getaddrinfo(m->addr, "9", &hints, &res))
		return;
	int fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	int ok = fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0 &&
		 getsockname(fd, (struct sockaddr *)&local, &len) == 0;
	freeaddrinfo(res);
	if (fd >= 0)
		close(fd);
	struct ifaddrs *ifs, *i;
	if (!ok || getifaddrs(&ifs) < 0)
		return;
	for (i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != local.ss_family)
			continue;
		int same = local.ss_family == AF_INET ?
			!memcmp(&((struct sockaddr_in *)i->ifa_addr)->sin_addr,
				&((struct sockaddr_in *)&local)->sin_addr, sizeof(struct in_addr)) :
			!memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr,
				&((struct sockaddr_in6 *)&local)->sin6_addr, sizeof(struct in6_addr));
		if (same) {
			snprintf(m->ifname, sizeof(m->ifname), "%s", i->ifa_name);
			break;
		}
	}
	freeifaddrs(ifs);
}

static int read_sysctl_int(const char *path)
{
	FILE *f = fopen(path, "r");
	int v = -1;
	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static char *self_exe(void)
{
	char buf[4096];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	return xstrdup(buf);
}

static void unknown(struct report *r, const char *why)
{
	struct finding *f = report_add(r, SEV_INFO, "path.unmeasured", "The path could not be measured");
	finding_evidence(f, "%s", why);
	r->unknown = 1;
}

static int measured_anything(const struct path_meas *m)
{
	return m->tcp.n || m->icmp.n || m->echo.n;
}

/* The search stopped before it could say yes or no. */
static int bh_open(const struct path_meas *m)
{
	return m->bh_unfinished && !(m->bh.ok && m->bh.fail && m->bh.confirmed);
}

int path_run(const struct path_opts *o, struct target *t, const struct sshopts *so,
	     struct report *r)
{
	char *err = NULL;
	struct path_meas *m = xcalloc(1, sizeof(*m));
	m->mtu_probing = read_sysctl_int("/proc/sys/net/ipv4/tcp_mtu_probing");
	int ok = target_resolve(t, so, &err) == 0;
	if (ok) {
		report_set_target(r, t->hostname, t->eport, t->euser);
		m->proxied = proxied(t);
		ok = m->proxied || numeric_addr(t->hostname, so->family, m, &err) == 0;
	}
	if (!ok) {
		path_judge(m, r);	/* measurements.path is always there, all null */
		unknown(r, err);
		free(err);
		free(m);
		return -1;
	}
	int64_t deadline = now_ms() + o->duration_ms;
	if (!m->proxied)
		m->ledger_before = budget_wait_s(m->addr, t->eport);
	struct evloop *ev = ev_new();
	char *self = self_exe();
	/* The session first: it tells the server's version, and so whether the
	 * handshakes below may get this address penalised. Leave the direct probes
	 * their time. */
	int64_t reserve = m->proxied ? 0 : (int64_t)o->count * 50 + 8000;
	int64_t sdl = deadline - reserve > now_ms() + 5000 ? deadline - reserve : deadline;
	verbose("path: session echoes, black-hole search, %ld bytes of bulk", o->bulk);
	int64_t typed = askpass_typing_ms();
	pathsess_run(ev, o, t, so, self, sdl, m);
	deadline += askpass_typing_ms() - typed;	/* a password prompt is not measuring */
	/* a login that failed is on sshd's ledger too: authfail 5 s, else noauth */
	if (!m->proxied && !m->session_ok && !m->session_refused && m->session_err[0] &&
	    !strstr(m->session_err, "Connection refused") && !strstr(m->session_err, "sshdoctor relay:"))
		budget_charge(m->addr, t->eport, 1, strstr(m->session_err, "Permission denied") ?
			      BUDGET_AUTHFAIL_S : BUDGET_NOAUTH_S);
	if (!m->proxied && !ev_interrupted(ev)) {
		out_ifname(m);
		budget_note_software(m->addr, t->eport, m->software);
		m->may_penalise = budget_risky(m->addr, t->eport, m->software);
		m->tcp_wanted = o->count;
		int tcpn = o->count;
		if (m->may_penalise)	/* refused already: adding to it helps nobody */
			tcpn = m->session_refused ? 0 :
			       budget_take(m->addr, t->eport, o->count, BUDGET_NOAUTH_S);
		verbose("path: %d TCP handshakes (of %d) and %d ICMP echoes to %s port %d", tcpn,
			o->count, o->count, m->addr, t->eport);
		pathprobe_run(ev, m->addr, t->eport, o->count, tcpn, deadline, m);
		if (tcpn < o->count && !m->tcp.note[0])
			snprintf(m->tcp.note, sizeof(m->tcp.note), "%d of %d handshakes: the "
				 "budget of a server that may penalise them (%.40s)", tcpn, o->count,
				 m->software[0] ? m->software : "version unknown");
		int64_t pd = now_ms() + PMTU_BUDGET_MS;
		if (!ev_interrupted(ev))
			pmtu_run(m->addr, pd < deadline ? pd : deadline, &m->pmtu);
		m->penalty_wait_s = budget_wait_s(m->addr, t->eport);
	}
	int interrupted = ev_interrupted(ev);
	free(self);
	ev_free(ev);
	path_judge(m, r);
	int rc = 0;
	if (interrupted || !measured_anything(m)) {
		unknown(r, interrupted ? "interrupted" : m->session_refused ?
			"sshd closed the session before its banner, and no other probe got an answer"
			: "no probe got an answer");
		rc = -1;
	} else if (!m->session_ok || bh_open(m)) {
		r->unknown = 1;	/* the black-hole question stays open (a finding says why) */
	}
	free(m);
	return rc;
}
