/* budget.c - the ledger of unauthenticated connections per server (see budget.h). */
#include "budget.h"

#include <ctype.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "log.h"
#include "state.h"
#include "util.h"

int budget_version_penalises(const char *sw)
{
	if (!sw || strncmp(sw, "OpenSSH_", 8) != 0)
		return -1;
	const char *p = sw + 8;
	if (!isdigit((unsigned char)*p))
		return -1;
	char *end;
	long major = strtol(p, &end, 10), minor = 0;
	if (*end == '.' && isdigit((unsigned char)end[1]))
		minor = strtol(end + 1, &end, 10);
	else if (*end != 'p' && *end != ' ' && *end != '\0')
		return -1;
	return major > 9 || (major == 9 && minor >= 8);
}

double budget_outstanding(double debt_until, double now)
{
	return debt_until > now ? debt_until - now : 0;
}

int budget_fit(double debt_until, double now, double cost, int want, double limit)
{
	if (want <= 0 || cost <= 0)
		return want > 0 ? want : 0;
	double room = limit - budget_outstanding(debt_until, now);
	int n = room > 0 ? (int)(room / cost + 1e-9) : 0;
	return n < want ? n : want;
}

double budget_add(double debt_until, double now, double cost, int n)
{
	/* sshd drops an expired entry and starts a new one from now */
	double base = debt_until > now ? debt_until : now;
	return n > 0 ? base + cost * n : debt_until;
}

/* --- storage ------------------------------------------------------------------ */

static char *file_name(const char *addr, int port)
{
	char *k = xasprintf("%s_%d.json", addr ? addr : "", port);
	for (char *s = k; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
			*s = '_';
	return k;
}

static double now_s(void)
{
	return (double)wall_ms() / 1000.0;
}

/* One lock for the whole ledger directory: commands hold it for microseconds. */
static int lock_ledger(void)
{
	char *p = state_path("budget", ".lock");
	if (!p)
		return -1;
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	free(p);
	if (fd >= 0 && flock(fd, LOCK_EX) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void unlock_ledger(int fd)
{
	if (fd >= 0)
		close(fd);	/* releases the flock */
}

void budget_load(const char *addr, int port, struct budget *b)
{
	memset(b, 0, sizeof(*b));
	char *name = file_name(addr, port);
	struct json_object *o = state_load_json("budget", name), *v;
	free(name);
	if (!o)
		return;
	if (json_object_object_get_ex(o, "debt_until", &v))
		b->debt_until = json_object_get_double(v);
	if (json_object_object_get_ex(o, "software", &v) && json_object_is_type(v, json_type_string))
		snprintf(b->software, sizeof(b->software), "%s", json_object_get_string(v));
	json_object_put(o);
	double now = now_s();
	/* a clock step back (or a bad file) must not block a server for long */
	if (b->debt_until > now + BUDGET_MIN_S * 40)
		b->debt_until = now;
}

static void store(const char *addr, int port, const struct budget *b)
{
	char *name = file_name(addr, port);
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "debt_until", json_object_new_double(b->debt_until));
	json_object_object_add(o, "software", json_object_new_string(b->software));
	json_object_object_add(o, "time", json_object_new_int64(wall_ms() / 1000));
	if (state_save_json("budget", name, o) < 0)
		debug("budget: could not store %s", name);
	json_object_put(o);
	free(name);
}

int budget_risky(const char *addr, int port, const char *software)
{
	if (software && *software)
		return budget_version_penalises(software) != 0;
	struct budget b;
	budget_load(addr, port, &b);
	return budget_version_penalises(b.software) != 0;
}

int budget_take(const char *addr, int port, int want, double cost)
{
	int lk = lock_ledger();
	struct budget b;
	budget_load(addr, port, &b);
	double now = now_s();
	int n = budget_fit(b.debt_until, now, cost, want, BUDGET_LIMIT_S);
	if (n > 0) {
		b.debt_until = budget_add(b.debt_until, now, cost, n);
		store(addr, port, &b);
	}
	unlock_ledger(lk);
	debug("budget: %s port %d: %d of %d connection(s) granted, %.1f s outstanding", addr,
	      port, n, want, budget_outstanding(b.debt_until, now));
	return n;
}

void budget_charge(const char *addr, int port, int n, double cost)
{
	if (n <= 0)
		return;
	int lk = lock_ledger();
	struct budget b;
	budget_load(addr, port, &b);
	b.debt_until = budget_add(b.debt_until, now_s(), cost, n);
	store(addr, port, &b);
	unlock_ledger(lk);
}

void budget_note_software(const char *addr, int port, const char *software)
{
	if (!software || !*software)
		return;
	int lk = lock_ledger();
	struct budget b;
	budget_load(addr, port, &b);
	if (strcmp(b.software, software) != 0) {
		snprintf(b.software, sizeof(b.software), "%s", software);
		store(addr, port, &b);
	}
	unlock_ledger(lk);
}

double budget_wait_s(const char *addr, int port)
{
	struct budget b;
	budget_load(addr, port, &b);
	return budget_outstanding(b.debt_until, now_s());
}
