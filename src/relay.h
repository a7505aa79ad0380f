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

/* `sshdoctor relay [-4|-6] [--report NAME] HOST PORT` */
int relay_main(const char *host, const char *port, int family, const char *report);

#endif
