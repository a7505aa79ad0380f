/* netid.c - the local network of a socket, from the kernel's own tables. */
#include "netid.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NETID_MAX_LINES 4096	/* bounded: a table longer than this is not read further */

/* Reads a small /proc file (bounded) into a NUL-terminated buffer; NULL on failure. */
static char *read_small(const char *path)
{
	FILE *fp = fopen(path, "re");
	if (!fp)
		return NULL;
	size_t cap = 256 * 1024, len = 0;
	char *buf = malloc(cap + 1);
	if (buf) {
		len = fread(buf, 1, cap, fp);
		buf[len] = '\0';
	}
	fclose(fp);
	return buf;
}

int netid_parse_route(const char *text, const char *dst_ip, char *gw, size_t gwlen, char *iface,
		      size_t iflen)
{
	unsigned long best_metric = ~0UL;
	int found = -1, lines = 0, best_len = -1;
	struct in_addr want = { 0 };
	if (dst_ip && inet_pton(AF_INET, dst_ip, &want) != 1)
		want.s_addr = 0;
	const char *l = text;
	while (l && *l && lines++ < NETID_MAX_LINES) {
		const char *nl = strchr(l, '\n');
		char line[512];
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		if (len < sizeof(line)) {
			memcpy(line, l, len);
			line[len] = '\0';
			char ifn[32];
			unsigned long dst, g, flags, refcnt, use, metric, mask;
			/* Iface Destination Gateway Flags RefCnt Use Metric Mask ... (hex, host order) */
			if (sscanf(line, "%31s %lx %lx %lx %lu %lu %lu %lx", ifn, &dst, &g, &flags,
				   &refcnt, &use, &metric, &mask) == 8 &&
			    (flags & 0x1) && ((uint32_t)want.s_addr & (uint32_t)mask) == (uint32_t)dst) {
				int plen = __builtin_popcountl(mask & 0xffffffffUL);
				if (plen > best_len || (plen == best_len && metric < best_metric)) {
					struct in_addr a = { .s_addr = (in_addr_t)g };
					if (flags & 0x2)
						inet_ntop(AF_INET, &a, gw, (socklen_t)gwlen);
					else
						gw[0] = '\0';	/* on-link: no gateway */
					snprintf(iface, iflen, "%s", ifn);
					best_metric = metric;
					best_len = plen;
					found = flags & 0x2 ? 0 : -1;
				}
			}
		}
		l = nl ? nl + 1 : NULL;
	}
	return found;
}

int netid_parse_ipv6_route(const char *text, char *gw, size_t gwlen, char *iface, size_t iflen)
{
	unsigned long best_metric = ~0UL;
	int found = -1, lines = 0;
	const char *l = text;
	while (l && *l && lines++ < NETID_MAX_LINES) {
		const char *nl = strchr(l, '\n');
		char dst[33], src[33], nh[33], ifn[32];
		unsigned dlen, slen;
		unsigned long metric, ref, use, flags;
		/* dst dstlen src srclen nexthop metric refcnt use flags iface */
		if (sscanf(l, "%32s %x %32s %x %32s %lx %lx %lx %lx %31s", dst, &dlen, src, &slen, nh,
			   &metric, &ref, &use, &flags, ifn) == 10 &&
		    dlen == 0 && strspn(dst, "0") == 32 && strspn(nh, "0") != 32 &&
		    strcmp(ifn, "lo") && metric < best_metric) {
			unsigned char b[16];
			for (int i = 0; i < 16; i++) {
				unsigned v;
				sscanf(nh + 2 * i, "%2x", &v);
				b[i] = (unsigned char)v;
			}
			inet_ntop(AF_INET6, b, gw, (socklen_t)gwlen);
			snprintf(iface, iflen, "%s", ifn);
			best_metric = metric;
			found = 0;
		}
		l = nl ? nl + 1 : NULL;
	}
	return found;
}

int netid_parse_arp(const char *text, const char *ip, char *mac, size_t maclen)
{
	int lines = 0;
	const char *l = text;
	while (l && *l && lines++ < NETID_MAX_LINES) {
		const char *nl = strchr(l, '\n');
		char a[64], hw[64], m[64], dev[32];
		unsigned type, flags;
		/* IP address  HW type  Flags  HW address  Mask  Device */
		if (sscanf(l, "%63s %x %x %63s %63s %31s", a, &type, &flags, hw, m, dev) == 6 &&
		    !strcmp(a, ip) && (flags & 0x2) && strcmp(hw, "00:00:00:00:00:00")) {
			snprintf(mac, maclen, "%s", hw);
			return 0;
		}
		l = nl ? nl + 1 : NULL;
	}
	return -1;
}

void netid_make_id(struct hist_net *n)
{
	char buf[sizeof(n->gateway) + sizeof(n->gw_mac) + sizeof(n->iface) + sizeof(n->src) + 8];
	if (n->gateway[0] && n->gw_mac[0])
		snprintf(buf, sizeof(buf), "gw-%s-%s", n->gateway, n->gw_mac);
	else if (n->gateway[0])
		snprintf(buf, sizeof(buf), "gw-%s", n->gateway);
	else if (n->iface[0] || n->src[0])
		snprintf(buf, sizeof(buf), "if-%s-%s", n->iface, n->src);
	else
		snprintf(buf, sizeof(buf), "unknown");
	buf[sizeof(n->id) - 1] = '\0';	/* ids are at most 79 bytes: cut, stably */
	memcpy(n->id, buf, sizeof(n->id));
}

static int addr_text(const struct sockaddr_storage *ss, char *buf, size_t n)
{
	const void *a = ss->ss_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr
						  : (const void *)&((const struct sockaddr_in *)ss)->sin_addr;
	if (ss->ss_family != AF_INET && ss->ss_family != AF_INET6)
		return -1;
	return inet_ntop(ss->ss_family, a, buf, (socklen_t)n) ? 0 : -1;
}

void netid_gateway(const char *src, const char *dst, char *gw, size_t gwlen)
{
	char ifn[32];
	gw[0] = '\0';
	int v6 = src && strchr(src, ':') && strncmp(src, "::ffff:", 7) != 0;
	char *t = read_small(v6 ? "/proc/net/ipv6_route" : "/proc/net/route");
	if (!t)
		return;
	if ((v6 ? netid_parse_ipv6_route(t, gw, gwlen, ifn, sizeof(ifn))
		: netid_parse_route(t, dst, gw, gwlen, ifn, sizeof(ifn))) < 0)
		gw[0] = '\0';
	free(t);
}

int netid_addr_present(const char *addr)
{
	struct ifaddrs *ifa = NULL;
	int present = 0;
	if (getifaddrs(&ifa) < 0)
		return 1;	/* cannot tell: assume unchanged */
	for (struct ifaddrs *i = ifa; i && !present; i = i->ifa_next) {
		char buf[64];
		if (!i->ifa_addr || addr_text((const struct sockaddr_storage *)(void *)i->ifa_addr, buf,
					      sizeof(buf)) < 0)
			continue;
		present = !strcmp(buf, addr);
	}
	freeifaddrs(ifa);
	return present;
}

int netid_of_socket(int fd, struct hist_net *n)
{
	memset(n, 0, sizeof(*n));
	struct sockaddr_storage ss, ps;
	socklen_t sl = sizeof(ss), pl = sizeof(ps);
	char peer[64] = "";
	if (getpeername(fd, (struct sockaddr *)&ps, &pl) == 0)
		addr_text(&ps, peer, sizeof(peer));
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 || addr_text(&ss, n->src, sizeof(n->src)) < 0) {
		netid_make_id(n);
		return -1;
	}
	struct ifaddrs *ifa = NULL;
	if (getifaddrs(&ifa) == 0) {
		for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
			char buf[64];
			if (i->ifa_addr && addr_text((const struct sockaddr_storage *)(void *)i->ifa_addr,
						     buf, sizeof(buf)) == 0 && !strcmp(buf, n->src)) {
				snprintf(n->iface, sizeof(n->iface), "%s", i->ifa_name);
				break;
			}
		}
		freeifaddrs(ifa);
	}
	if (strcmp(n->iface, "lo")) {
		netid_gateway(n->src, *peer ? peer : NULL, n->gateway, sizeof(n->gateway));
		if (n->gateway[0] && !strchr(n->gateway, ':')) {
			char *t = read_small("/proc/net/arp");
			if (t && netid_parse_arp(t, n->gateway, n->gw_mac, sizeof(n->gw_mac)) < 0)
				n->gw_mac[0] = '\0';
			free(t);
		}
	}
	netid_make_id(n);
	return 0;
}

int netid_toward(const struct sockaddr *sa, unsigned salen, struct hist_net *n)
{
	memset(n, 0, sizeof(*n));
	int fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int rc = connect(fd, sa, (socklen_t)salen) < 0 ? -1 : netid_of_socket(fd, n);
	close(fd);
	return rc;
}
