/* bench/gen_authlog.c - writes an auth.log of SIZE bytes to stdout from real sshd
 * lines (tests/fixtures/logs/lab-raw.log, captured from the lab's sshd): the
 * captured log is replayed block after block, each block with its own client
 * address, ports, user names, pids and advancing syslog times.
 *   usage: gen_authlog TEMPLATE SIZE_MB */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

static const char *users[] = { "root", "alice", "bob", "deploy", "git", "ubuntu", "admin",
			       "backup", "ci", "www-data", "postgres", "carol" };

/* Copies one template message, rewriting the lab's client address, ports
 * ("port N", "]:N") and the user "root". */
static size_t emit(FILE *out, const char *msg, const char *addr, uint32_t salt, const char *user)
{
	const char *p = msg;
	long start = ftell(out);
	while (*p) {
		if (strncmp(p, "203.0.113.1", 11) == 0 && (p[11] < '0' || p[11] > '9')) {
			fputs(addr, out);
			p += 11;
		} else if ((strncmp(p, "port ", 5) == 0 || strncmp(p, "]:", 2) == 0) &&
			   strncmp(p, "port 22", 7) != 0 && strncmp(p, "]:22", 4) != 0) {
			size_t k = p[0] == 'p' ? 5 : 2;
			fwrite(p, 1, k, out);
			p += k;
			unsigned long v = strtoul(p, (char **)&p, 10);
			fprintf(out, "%lu", 1024 + (v * 2654435761u + salt) % 64000);
		} else if (strncmp(p, "root ", 5) == 0) {
			fputs(user, out);
			fputc(' ', out);
			p += 5;
		} else {
			fputc(*p++, out);
		}
	}
	fputc('\n', out);
	return start >= 0 ? (size_t)(ftell(out) - start) : strlen(msg) + 1;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: gen_authlog TEMPLATE SIZE_MB\n");
		return 64;
	}
	FILE *t = fopen(argv[1], "r");
	if (!t) {
		perror(argv[1]);
		return 1;
	}
	static char lines[4096][512];
	size_t n = 0;
	while (n < 4096 && fgets(lines[n], sizeof(lines[n]), t)) {
		lines[n][strcspn(lines[n], "\r\n")] = '\0';
		if (lines[n][0])
			n++;
	}
	fclose(t);
	if (!n)
		return 1;
	uint64_t limit = strtoull(argv[2], NULL, 10) << 20, written = 0;
	static char outbuf[1 << 20];
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	static const char mon[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	uint64_t sec = 0;
	long pid = 1000;
	for (uint64_t block = 0; written < limit; block++) {
		char addr[32];
		snprintf(addr, sizeof(addr), "%u.%u.%u.%u", 11 + rnd() % 200, rnd() % 256, rnd() % 256,
			 1 + rnd() % 254);
		const char *user = users[rnd() % (sizeof(users) / sizeof(users[0]))];
		uint32_t salt = rnd();
		for (size_t i = 0; i < n && written < limit; i++) {
			/* a pid per connection, as syslog shows sshd's per-connection process */
			const char *m0 = lines[i];
			int listener = !strncmp(m0, "Server listening", 16) || !strncmp(m0, "Received signal", 15) ||
				       !strncmp(m0, "drop connection", 15) || strstr(m0, "MaxStartups throttling");
			if (!strncmp(m0, "Connection from ", 16))
				pid++;
			long shown = listener ? 999 : pid;
			sec += rnd() % 3;
			uint64_t s = sec % (365ull * 86400);
			unsigned day = (unsigned)(s / 86400), m = day / 31 % 12;
			char head[96];
			int hl = snprintf(head, sizeof(head), "%.3s %2u %02u:%02u:%02u web%u sshd[%ld]: ",
					  mon + 3 * m, day % 28 + 1, (unsigned)(s / 3600 % 24),
					  (unsigned)(s / 60 % 60), (unsigned)(s % 60), (unsigned)(block % 3),
					  shown);
			fwrite(head, 1, (size_t)hl, stdout);
			written += (uint64_t)hl + emit(stdout, lines[i], addr, salt, user);
		}
	}
	return fflush(stdout) == 0 ? 0 : 1;
}
