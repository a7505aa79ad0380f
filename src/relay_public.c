/* relay_public.c - `sshdoctor relay HOST PORT` for the user's ssh_config:
 *   ProxyCommand sshdoctor relay %h %p
 *   ProxyUseFdpass yes
 * Connects, sets per-socket keepalive and TCP_USER_TIMEOUT, hands the socket
 * to ssh over stdout (SCM_RIGHTS) and exits: no byte of the session passes
 * through us. A watcher (double fork, its own session) keeps a duplicate to
 * record how the session lives and ends (watch.c). When stdout is not a unix
 * socket (no ProxyUseFdpass) it pumps bytes like path's relay instead. */
#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "evloop.h"
#include "log.h"
#include "budget.h"
#include "idle_learned.h"
#include "netid.h"
#include "relay_race.h"
#include "relay_sshcfg.h"
#include "state.h"
#include "util.h"
#include "watch.h"

/* How long ssh -G may take: it reads configs and may run Match exec. */
#define RELAY_SSHCFG_MS 3000

/* The lower bound of the stored `idle` result for this server: the user's
 * key when %r was given, else the TCP-level one, else any user's (newest). */
static long stored_idle_lower(const char *host, const char *port, const char *user, int *found)
{
	int p = atoi(port);
	char *keys[2] = { user ? state_key(host, p, user) : NULL, state_key(host, p, "tcp") };
	long lower = -1;
	*found = 0;
	for (int i = 0; i < 2 && lower < 0; i++) {
		if (!keys[i])
			continue;
		char *name = xasprintf("%s.json", keys[i]);
		struct json_object *j = state_load_json("idle", name), *v;
		free(name);
		if (j && json_object_object_get_ex(j, "lower_s", &v))
			lower = (long)json_object_get_int64(v);
		if (j && json_object_object_get_ex(j, "found", &v))
			*found = json_object_get_boolean(v);
		if (j)
			json_object_put(j);
	}
	if (lower < 0 && !user) {
		char *any = state_path("idle", "");
		char *k = state_key(host, p, "");	/* "@host_port": the tail of every user's key */
		char *pat = any ? xasprintf("%s*%s.json", any, k) : NULL;
		glob_t g;
		time_t best = 0;
		if (pat && glob(pat, 0, NULL, &g) == 0) {
			for (size_t i = 0; i < g.gl_pathc && i < 64; i++) {
				struct stat st;
				struct json_object *j, *v;
				if (stat(g.gl_pathv[i], &st) < 0 || st.st_mtime < best ||
				    !(j = json_object_from_file(g.gl_pathv[i])))
					continue;
				if (json_object_is_type(j, json_type_object) &&
				    json_object_object_get_ex(j, "lower_s", &v)) {
					lower = (long)json_object_get_int64(v);
					best = st.st_mtime;
					*found = json_object_object_get_ex(j, "found", &v) &&
						 json_object_get_boolean(v);
				}
				json_object_put(j);
			}
			globfree(&g);
		}
		free(pat);
		free(k);
		free(any);
	}
	free(keys[0]);
	free(keys[1]);
	return lower;
}

void relay_public_ka(const struct relay_public_opts *o, const char *host, const char *port,
		     int sock, struct watch_ka *ka)
{
	if (o->keepalive == 2) {
		memset(ka, 0, sizeof(*ka));
		ka->on = 1;
		ka->idle_s = o->ka_idle_s;
		ka->intvl_s = o->ka_intvl_s > 0 ? o->ka_intvl_s : (ka->idle_s / 5 > 0 ? (ka->idle_s / 5 < 10 ? ka->idle_s / 5 : 10) : 1);
		ka->cnt = o->ka_cnt > 0 ? o->ka_cnt : WATCH_KEEPCNT;
		ka->user_timeout_ms = (ka->idle_s + ka->intvl_s * ka->cnt) * 1000;
		snprintf(ka->source, sizeof(ka->source), "given");
	} else {
		int found = 0, learned = 0;
		long lower = stored_idle_lower(host, port, o->user, &found);
		/* the user's own sessions on the network this socket runs on: over
		 * nothing, and over a measurement when shorter (from elsewhere, maybe) */
		struct hist_net net;
		struct idle_learned l;
		char err[256];
		const char *names[1] = { host };
		/* keepalive off: nothing to derive, no store read before the connection */
		if (o->keepalive != 0 && sock >= 0 && netid_of_socket(sock, &net) == 0) {
			int lr = idle_learned_read(o->db, names, 1, port, &net, &l, err, sizeof(err));
			if (lr < 0)
				debug("relay: the history not read: %s", err);
			if (lr == 1 && (lower < 2 || l.lower_ms / 1000 < lower)) {
				lower = (long)(l.lower_ms / 1000);
				learned = 1;
			}
		}
		watch_ka_derive(lower, found, ka);
		if (learned && lower >= 2)
			snprintf(ka->source, sizeof(ka->source), "learned");
		if (o->keepalive == 0) {
			ka->on = 0;
			snprintf(ka->source, sizeof(ka->source), "off");
		}
	}
	if (o->user_timeout_ms >= 0)
		ka->user_timeout_ms = o->user_timeout_ms;
}

int relay_set_keepalive(int sock, const struct watch_ka *ka)
{
	int rc = 0, on = ka->on;
	rc |= setsockopt(sock, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	if (ka->on) {
		rc |= setsockopt(sock, IPPROTO_TCP, TCP_KEEPIDLE, &ka->idle_s, sizeof(int));
		rc |= setsockopt(sock, IPPROTO_TCP, TCP_KEEPINTVL, &ka->intvl_s, sizeof(int));
		rc |= setsockopt(sock, IPPROTO_TCP, TCP_KEEPCNT, &ka->cnt, sizeof(int));
	}
	unsigned ut = (unsigned)ka->user_timeout_ms;
	rc |= setsockopt(sock, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, sizeof(ut));
	return rc ? -1 : 0;
}

static int stdout_is_unix_socket(void)
{
	struct stat st;
	int dom = 0;
	socklen_t l = sizeof(dom);
	return fstat(1, &st) == 0 && S_ISSOCK(st.st_mode) &&
	       getsockopt(1, SOL_SOCKET, SO_DOMAIN, &dom, &l) == 0 && dom == AF_UNIX;
}

/* Double fork: the watcher belongs to no terminal and to nobody's wait. */
static void spawn_watcher(const struct watch_args *wa)
{
	pid_t c = fork();
	if (c < 0)
		return;
	if (c == 0) {
		setsid();
		signal(SIGHUP, SIG_IGN);
		pid_t g = fork();
		if (g != 0)
			_exit(0);
		prctl(PR_SET_NAME, "sshdoctor-watch");
		int dn = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (dn >= 0) {
			dup2(dn, 0);
			dup2(dn, 1);	/* ssh's end of the fd-passing socket is not ours */
			close(dn);
		}
		int rc = watch_run(wa);
		close(wa->sock);
		exit(rc < 0 ? 1 : 0);
	}
	while (waitpid(c, NULL, 0) < 0 && errno == EINTR)
		;
}

/* ssh hands a ProxyCommand only %h %p %r: its -4/-6, AddressFamily and
 * ConnectTimeout come from asking it (ssh -G); options given to us win. */
static void connect_params(const struct relay_public_opts *o, int *family, int *timeout_s)
{
	*family = o->family;
	*timeout_s = o->connect_timeout_s;
	if (o->no_ssh_config || (o->family_set && o->ctimeout_set))
		return;
	struct relay_sshcfg c;
	char err[256];
	if (relay_sshcfg_read(getppid(), RELAY_SSHCFG_MS, &c, err, sizeof(err)) < 0) {
		debug("relay: ssh's own config not read (%s): defaults", err);
		return;
	}
	if (!o->family_set && c.family >= 0)
		*family = c.family;
	if (!o->ctimeout_set && c.connect_timeout_s >= 0)
		*timeout_s = c.connect_timeout_s;
}

int relay_public_main(const char *host, const char *port, const struct relay_public_opts *o)
{
	char err[256];
	int fdpass = o->mode == 1 || (o->mode == 0 && stdout_is_unix_socket());
	int family, timeout_s;
	connect_params(o, &family, &timeout_s);
	int sock;
	if (o->wait_path_ms) {
		int wait = o->wait_path_ms > 0 ? o->wait_path_ms :
			   (timeout_s > 0 ? timeout_s : RELAY_WAIT_AUTO_S) * 1000;
		struct relay_race_stats st;
		sock = relay_connect_race(host, port, family, wait, &st, err, sizeof(err));
		debug("relay: %s port %s: %d connection(s) raced in %lld ms, %d extra", host, port,
		      st.opened, (long long)st.ms, st.extra);
		if (st.extra > 0)	/* closed before the banner: sshd may count them */
			budget_charge(host, atoi(port), st.extra, BUDGET_NOAUTH_S);
	} else {
		sock = relay_connect(host, port, family, timeout_s * 1000, err, sizeof(err));
	}
	if (sock < 0) {
		fprintf(stderr, "sshdoctor relay: %s\n", err);
		return 255;
	}
	struct watch_ka ka;
	relay_public_ka(o, host, port, sock, &ka);
	verbose("relay: %s port %s: keepalive %s (%s): idle %d s, then every %d s x %d; user timeout %d ms",
		host, port, ka.on ? "on" : "off", ka.source, ka.idle_s, ka.intvl_s, ka.cnt,
		ka.user_timeout_ms);
	if (relay_set_keepalive(sock, &ka) < 0)
		fprintf(stderr, "sshdoctor relay: could not set keepalive on the socket: %s\n",
			strerror(errno));
	if (!fdpass) {
		/* Without ProxyUseFdpass: carry the bytes (no watcher: we are the socket's owner) */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		struct evloop *ev = ev_new();
		struct relay *r = relay_pump(ev, 0, 1, sock);
		ev_run(ev, 0);
		relay_free(r);
		ev_free(ev);
		close(sock);
		return 0;
	}
	pid_t ssh = getppid();
	if (!o->no_watch) {
		/* ssh waits for us (waitpid) before it uses the socket: its pid is stable now */
		int pidfd = -1;
#ifdef SYS_pidfd_open
		pidfd = (int)syscall(SYS_pidfd_open, ssh, 0);
#endif
		struct watch_args wa = { .sock = sock, .pidfd = pidfd, .ssh_pid = ssh, .db = o->db,
					 .target = host, .port = port, .ka = ka };
		spawn_watcher(&wa);
		if (pidfd >= 0)
			close(pidfd);
	}
	int rc = relay_send_fd(1, sock);
	close(sock);
	if (rc < 0) {
		fprintf(stderr, "sshdoctor relay: could not hand the socket to ssh over stdout "
			"(ProxyUseFdpass yes?): %s\n", strerror(errno));
		return 255;
	}
	return 0;
}
