/* netid.h - which local network a connected socket runs on: its interface and
 * source address, the default gateway and the gateway's MAC, and an id string
 * stable across sessions on the same network (home vs office vs train). */
#ifndef SSHDOCTOR_NETID_H
#define SSHDOCTOR_NETID_H

#include <stddef.h>

#include "history.h"

/* Fills n for socket fd (reads getsockname, getifaddrs, /proc/net/route,
 * /proc/net/ipv6_route, /proc/net/arp of the caller's namespace). Missing
 * pieces stay "". Returns 0, -1 when fd has no address. */
int netid_of_socket(int fd, struct hist_net *n);

/* The same for a socket that would go to sa now (a UDP socket connected to
 * it: no packet leaves). Returns 0, -1 when there is no route. */
struct sockaddr;
int netid_toward(const struct sockaddr *sa, unsigned salen, struct hist_net *n);

/* Pure parsers (bounded, malformed lines skipped): the IPv4 gateway toward
 * dst_ip (longest prefix, then lowest metric; NULL: the default route) of
 * /proc/net/route text, as dotted quad (-1: none, or the route is on-link);
 * the default IPv6 gateway of /proc/net/ipv6_route; the MAC of ip in
 * /proc/net/arp text. Return 0 or -1 when absent. */
int netid_parse_route(const char *text, const char *dst_ip, char *gw, size_t gwlen, char *iface,
		      size_t iflen);
int netid_parse_ipv6_route(const char *text, char *gw, size_t gwlen, char *iface, size_t iflen);
int netid_parse_arp(const char *text, const char *ip, char *mac, size_t maclen);
/* The id: "gw-GATEWAY-MAC", "gw-GATEWAY", else "if-IFACE-SRC", else "unknown". */
void netid_make_id(struct hist_net *n);

/* 1 when addr (numeric) is still configured on this machine. */
int netid_addr_present(const char *addr);
/* The gateway toward dst now (NULL: the default route), of src's family ("" none). */
void netid_gateway(const char *src, const char *dst, char *gw, size_t gwlen);

#endif
