/* relay_race.h - connecting while the path is coming back. A blocking connect
 * sends its SYN again only after 1, 2, 4, 8 s: once the path is back, ssh may
 * sit several seconds waiting for the next retransmission. The race opens a
 * fresh nonblocking connection at a steady cadence instead (0.5 s, later
 * 1 s), so the first SYN after the path returns is at most a cadence step
 * away; the first handshake wins and the others are closed. */
#ifndef SSHDOCTOR_RELAY_RACE_H
#define SSHDOCTOR_RELAY_RACE_H

#include <stddef.h>
#include <stdint.h>

/* Connections in SYN_SENT at once: opening a third closes the oldest (closing
 * a SYN_SENT socket sends nothing), so about one SYN per cadence step goes out
 * and paths with a round trip up to two steps still connect. */
#define RACE_MAX_INFLIGHT 2
#define RACE_SYNCNT 2		/* SYN retransmissions per connection (kernel default 6) */

/* The pause after fresh connection number n (1-based) is opened: 500 ms for
 * the first eight, then 1 s (the wait for the path stays under a second). Pure. */
int relay_race_gap_ms(int n);

struct relay_race_stats {
	int opened;	/* connections started */
	int extra;	/* losers that had completed their handshake too (the server saw them) */
	int64_t ms;	/* until the winner (or the failure) */
};

/* Connects to host:port (family 0, 4 or 6) within wait_ms, racing fresh
 * connections. "Connection refused" is raced through too (sshd restarting, or
 * a firewall's RST while the path is cut: the server's kernel answers, sshd
 * never sees it, nothing is penalised) and reported when the time is up.
 * Fails at once on "network unreachable" from our own routing table (no route
 * at all: wait for the network instead) and on a final resolver error; a
 * temporary one is retried, and so are unreachables from routers on the way. Returns a
 * blocking socket, or -1 with a message in err. st may be NULL. */
int relay_connect_race(const char *host, const char *port, int family, int wait_ms,
		       struct relay_race_stats *st, char *err, size_t errlen);

#endif
