/* relay.h - the ProxyCommand relay: ssh talks to us on stdin/stdout, we own the
 * TCP socket to the server, so the tool can read the kernel's view of the very
 * connection carrying the session (TCP_INFO). Today `path` runs one relay per
 * session; an always-on relay would reuse relay_connect/relay_pump as they are. */
#ifndef SSHDOCTOR_RELAY_H
#define SSHDOCTOR_RELAY_H

#include <stddef.h>

struct evloop;
struct tcpi_snap;

/* Connects to host:port (family 0, 4 or 6) within timeout_ms. Returns the
 * socket, or -1 with a message in err. */
int relay_connect(const char *host, const char *port, int family, int timeout_ms,
		  char *err, size_t errlen);

/* Copies in -> sock and sock -> out on ev until both directions are closed.
 * Half-closes are passed on (EOF on in shuts down the socket's write side). */
struct relay;
struct relay *relay_pump(struct evloop *ev, int in, int out, int sock);
int relay_done(const struct relay *r);
void relay_free(struct relay *r);

/* Hands a duplicate of fd to whoever listens on the abstract unix socket name
 * (SCM_RIGHTS). Best effort: returns 0 or -1. */
int relay_share_fd(const char *name, int fd);

/* The listening side: an abstract unix socket only our uid may hand fds to. */
int relay_listen(char *name, size_t namelen);
/* Accepts one connection on lsock and receives an fd (-1 when none or not ours). */
int relay_accept_fd(int lsock);

/* Reads TCP_INFO of sock. Returns 0 or -1. */
int relay_tcp_info(int sock, struct tcpi_snap *s);

/* Sends fd over the unix socket us with one byte (SCM_RIGHTS). 0 or -1. */
int relay_send_fd(int us, int fd);

/* `sshdoctor relay [-4|-6] [--report NAME] HOST PORT` (path's pump) */
int relay_main(const char *host, const char *port, int family, const char *report);

/* The public relay (relay_public.c): ProxyCommand with ProxyUseFdpass. */
#define RELAY_WAIT_AUTO_S 10
struct watch_ka;
struct relay_public_opts {
	int family;		/* 0, 4, 6 */
	int connect_timeout_s;	/* 0: the kernel's */
	int family_set, ctimeout_set;	/* given as options: they win over ssh's own */
	int no_ssh_config;	/* do not ask the parent ssh (ssh -G) */
	int wait_path_ms;	/* race fresh SYNs this long (relay_race.c); 0 off,
				 * -1 auto: ssh's ConnectTimeout, else RELAY_WAIT_AUTO_S */
	int keepalive;		/* 1 auto (stored idle result, else default), 0 off, 2 given */
	int ka_idle_s, ka_intvl_s, ka_cnt;	/* given */
	int user_timeout_ms;	/* -1: derived, 0: off, else given */
	const char *user;	/* %r, for the stored idle result */
	const char *db;		/* history store, NULL: default */
	int mode;		/* 0 auto, 1 fdpass, 2 pump */
	int no_watch;
};
/* The keepalive the options give for host:port: from the stored idle result
 * and what the history learned on the network sock runs on (sock < 0: none). */
void relay_public_ka(const struct relay_public_opts *o, const char *host, const char *port,
		     int sock, struct watch_ka *ka);
/* Sets SO_KEEPALIVE, TCP_KEEPIDLE/INTVL/CNT and TCP_USER_TIMEOUT. 0 or -1. */
int relay_set_keepalive(int sock, const struct watch_ka *ka);
int relay_public_main(const char *host, const char *port, const struct relay_public_opts *o);

#endif
