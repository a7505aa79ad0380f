/* keep.c - the supervisor behind `sshdoctor keep`: one ssh at a time, judged
 * when it exits (keep_judge), restarted at the rate its cause allows. One event
 * loop: ssh's stderr, its exit, the retry timer, netlink (waiting for the
 * network), the health check, the systemd watchdog, signals. */
#include "keep.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <json-c/json.h>

#include "audit.h"
#include "budget.h"
#include "evloop.h"
#include "history.h"
#include "idle_learned.h"
#include "keep_judge.h"
#include "log.h"
#include "proc.h"
#include "state.h"

enum kstate { KS_CONNECTING, KS_UP, KS_WAITING, KS_STOPPED };
static const char *const kstate_names[] = { "connecting", "up", "waiting", "stopped" };

struct fall {
	int64_t at_wall, downtime_ms;	/* downtime -1 while still down */
	char cause[32];
	char detail[256];
};

struct keep {
	struct keep_opts *o;
	struct evloop *ev;
	struct history *hist;
	char *name, *target;
	struct strvec forwards;		/* "-L 8080:db:5432", for the status */
	struct strvec argv;		/* the ssh command */
	int want_remote;
	char addr[128];			/* the server, for the penalty ledger */
	int port;
	/* the current ssh */
	struct proc p;
	int running, err_open;
	struct keep_obs obs;
	uint64_t reap_timer;
	int64_t reap_deadline;
	/* the tunnel */
	enum kstate state;
	int ever_up;
	int64_t up_mono, up_wall;	/* since when up */
	int64_t down_mono, down_wall;	/* since when down (0: never up yet) */
	int fails;			/* consecutive failed attempts */
	int unanswered;			/* of those, in a row: no SYN answered by sshd */
	int attempts, restarts, auth_tries, penalty_n;
	int64_t started_wall;
	enum keep_cause last_cause;
	char last_detail[256];
	int64_t next_try_wall;
	struct fall falls[KEEP_FALLS_KEPT];
	int nfalls;
	uint64_t retry_timer;
	int waiting_net, nl_fd;
	/* --check */
	struct sockaddr_storage chk_addr;
	socklen_t chk_len;
	int chk_fd, chk_fails;
	uint64_t chk_timer, chk_deadline_timer;
	int kill_cause;			/* -1, or the cause we killed ssh for */
	/* systemd */
	int notified_ready, journal, stderr_journal;
	uint64_t wd_usec, wd_timer;
	int alive_i, alive_c;
	const char *alive_src;
	int relay;			/* ssh connects through our relay (push_relay) */
	int64_t attempt_mono;		/* when the current ssh was started */
	int stopping, exit_code;
};

/* An attempt through the relay that failed after this long raced the whole
 * wait; the next one starts after RELAY_NEXT_MS. */
#define RELAY_RACED_MS 3000
#define RELAY_NEXT_MS 250

static void start_ssh(struct keep *k);
static void save_state(struct keep *k);

/* Truncating copy (log text: cut is fine). */
static void scpy(char *dst, size_t n, const char *src)
{
	size_t l = strlen(src);
	if (l >= n)
		l = n - 1;
	memcpy(dst, src, l);
	dst[l] = '\0';
}

static void on_retry(struct evloop *ev, void *arg)
{
	start_ssh(arg);
}

/* --- options and the ssh command ---------------------------------------------- */

void keep_opts_init(struct keep_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->backoff_max_ms = 15000;
	o->stable_ms = 60000;
	o->check_interval_ms = 30000;
	o->check_timeout_ms = 5000;
	o->auth_retries = 3;
	o->auth_wait_ms = 10000;
}

int keep_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n < 1 || n > 64 || name[0] == '.' || name[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-' || c == '@'))
			return 0;
	}
	return 1;
}

char *keep_default_name(const struct keep_opts *o)
{
	const struct target *t = o->t;
	char *key = state_key(t->hostname ? t->hostname : t->host, t->eport ? t->eport : t->port,
			      t->euser ? t->euser : t->user);
	/* a hash of the forwards, so two tunnels to one server get two names */
	unsigned h = 5381;
	for (size_t i = 0; i < o->ssh_args.n; i++)
		for (const char *p = o->ssh_args.v[i]; *p; p++)
			h = h * 33 + (unsigned char)*p;
	char *name = o->ssh_args.n ? xasprintf("%.50s-%04x", key, h & 0xffff) : xstrdup(key);
	free(key);
	for (char *p = name; *p; p++)
		if (!keep_name_valid((char[]){ *p, 0 }) && *p != '.')
			*p = '_';
	return name;
}

/* ssh's options that take an argument (ssh(1) SYNOPSIS, 9.x-10.x). */
static int ssh_opt_has_arg(char c)
{
	return c && strchr("BbcDEeFIiJLlmOoPpQRSWw", c) != NULL;
}

/* Splits the words after "--" into options and a remote command; counts -R and
 * lists the forwards. Returns the index where the command starts (n: none). */
static size_t split_ssh_args(struct keep *k, const struct strvec *a)
{
	size_t i = 0;
	while (i < a->n) {
		const char *w = a->v[i];
		if (w[0] != '-' || !w[1])
			break;
		if (strcmp(w, "--") == 0) {
			i++;
			break;
		}
		/* -NfL8080:x:1: flags then maybe one option with its argument */
		const char *p = w + 1;
		while (*p && !ssh_opt_has_arg(*p))
			p++;
		if (*p) {
			const char *arg = p[1] ? p + 1 : (i + 1 < a->n ? a->v[i + 1] : "");
			if (*p == 'L' || *p == 'R' || *p == 'D')
				strvec_pushf(&k->forwards, "-%c %s", *p, arg);
			if (*p == 'R')
				k->want_remote++;
			if (*p == 'o' && (strncasecmp(arg, "remoteforward", 13) == 0)) {
				k->want_remote++;
				strvec_pushf(&k->forwards, "-o %s", arg);
			}
			if (*p == 'o' && (strncasecmp(arg, "localforward", 12) == 0))
				strvec_pushf(&k->forwards, "-o %s", arg);
			if (!p[1])
				i++;
		}
		i++;
	}
	return i > a->n ? a->n : i;
}

static int has_word_opt(const struct strvec *a, size_t end, const char *key)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i + 1 < end + 1 && i < a->n; i++)
		if (strcmp(a->v[i], "-o") == 0 && i + 1 < a->n &&
		    strncasecmp(a->v[i + 1], key, kl) == 0 && (a->v[i + 1][kl] == '=' || a->v[i + 1][kl] == ' '))
			return 1;
		else if (strncmp(a->v[i], "-o", 2) == 0 && strncasecmp(a->v[i] + 2, key, kl) == 0)
			return 1;
	return 0;
}

void keep_keepalive(const struct keep_opts *o, int *interval, int *count, const char **source)
{
	const struct target *t = o->t;
	long idle_s = AUDIT_ASSUMED_IDLE_S;
	*source = "assumed";
	if (o->alive_interval > 0) {
		*interval = o->alive_interval;
		*count = o->alive_count > 0 ? o->alive_count : (int)audit_prescribed_countmax(*interval);
		*source = "given";
		return;
	}
	/* what `sshdoctor idle` measured on this path, as doctor and audit read it */
	if (t->hostname) {
		char *key = state_key(t->hostname, t->eport ? t->eport : 22, t->euser);
		char *fname = xasprintf("%s.json", key);
		struct json_object *j = state_load_json("idle", fname), *found, *lower;
		if (j && json_object_object_get_ex(j, "found", &found) && json_object_get_boolean(found) &&
		    json_object_object_get_ex(j, "lower_s", &lower) && json_object_get_double(lower) >= 1) {
			idle_s = (long)json_object_get_double(lower);
			*source = "measured";
		}
		if (j)
			json_object_put(j);
		free(fname);
		free(key);
	}
	/* what the user's own sessions to it proved on the network this machine
	 * reaches it through now (the flight recorder): taken over a default, and
	 * over a measurement when shorter (that one may be from another network) */
	const char *names[2] = { t->host, t->hostname };
	char port[16], err[256];
	struct idle_learned l;
	snprintf(port, sizeof(port), "%d", t->eport ? t->eport : 22);
	int lr = idle_learned_read(NULL, names, t->hostname ? 2 : 1, port, NULL, &l, err, sizeof(err));
	if (lr < 0)
		debug("keep: the flight recorder's history not read: %s", err);
	if (lr == 1 && (!strcmp(*source, "assumed") || l.lower_ms / 1000 < idle_s)) {
		idle_s = (long)(l.lower_ms / 1000);
		*source = "learned";
	}
	long iv = audit_prescribed_interval(idle_s);
	if (iv > KEEP_MAX_ALIVE_S)
		iv = KEEP_MAX_ALIVE_S;
	*interval = (int)iv;
	*count = o->alive_count > 0 ? o->alive_count : (int)audit_prescribed_countmax(iv);
}

/* A ProxyCommand word: the path as is when the shell leaves it alone. */
static void push_shell_word(struct strbuf *sb, const char *w)
{
	if (w[strspn(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._+-")] == 0) {
		sb_adds(sb, w);
		return;
	}
	sb_adds(sb, "'");
	for (const char *p = w; *p; p++)
		if (*p == '\'')
			sb_adds(sb, "'\\''");
		else
			sb_add(sb, p, 1);
	sb_adds(sb, "'");
}

/* Why keep connects without the relay, or NULL: it is used. The user's own
 * proxy (config, -o, -J) always wins; our relay already in the config too. */
static const char *relay_skip(const struct keep_opts *o, size_t cmd)
{
	if (o->no_relay)
		return "--no-relay";
	if (kv_get(&o->t->cfg, "proxycommand") || kv_get(&o->t->cfg, "proxyjump"))
		return "the host has its own ProxyCommand or ProxyJump";
	if (has_word_opt(&o->so->args, o->so->args.n, "ProxyCommand") ||
	    has_word_opt(&o->so->args, o->so->args.n, "ProxyJump") ||
	    has_word_opt(&o->ssh_args, cmd, "ProxyCommand") || has_word_opt(&o->ssh_args, cmd, "ProxyJump"))
		return "a ProxyCommand or ProxyJump was given";
	for (size_t i = 0; i < cmd && i < o->ssh_args.n; i++)
		if (!strncmp(o->ssh_args.v[i], "-J", 2))
			return "-J was given";
	for (size_t i = 0; i < o->so->args.n; i++)
		if (!strcmp(o->so->args.v[i], "-J"))
			return "-J was given";
	return NULL;
}

/* ssh connects through `sshdoctor relay --wait-path auto`: per-socket
 * keepalive, the session in the history, and, while the path is down, a fresh
 * SYN every 0.5 s instead of ssh's 1-2-4-8 s retransmissions. */
static void push_relay(struct keep *k, struct strvec *v)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		verbose("keep: %s: not using the relay: /proc/self/exe unreadable", k->name);
		return;
	}
	self[n] = 0;
	if (strchr(self, '%')) {	/* ssh would expand it as a token */
		verbose("keep: %s: not using the relay: '%%' in %s", k->name, self);
		return;
	}
	struct strbuf pc = { 0 };
	sb_adds(&pc, "ProxyCommand=");
	push_shell_word(&pc, self);
	sb_adds(&pc, " relay --wait-path auto -l %r %h %p");
	strvec_push(v, "-o");
	strvec_push(v, pc.buf);
	strvec_push(v, "-o");
	strvec_push(v, "ProxyUseFdpass=yes");
	sb_free(&pc);
	k->relay = 1;
}

static void build_argv(struct keep *k)
{
	struct keep_opts *o = k->o;
	size_t cmd = split_ssh_args(k, &o->ssh_args);
	struct strvec *v = &k->argv;
	strvec_push(v, "ssh");
	strvec_push(v, "-v");	/* the lines keep_judge reads */
	/* The user's own options first: for ssh the first value obtained wins. */
	strvec_pushv(v, &o->so->args);
	for (size_t i = 0; i < cmd; i++)
		if (strcmp(o->ssh_args.v[i], "--") != 0)
			strvec_push(v, o->ssh_args.v[i]);
	if (cmd == o->ssh_args.n)
		strvec_push(v, "-N");	/* no command: hold the forwards, run nothing */
	strvec_push(v, "-o");
	strvec_push(v, "ExitOnForwardFailure=yes");
	strvec_push(v, "-o");
	strvec_push(v, "BatchMode=yes");
	strvec_push(v, "-o");
	strvec_pushf(v, "ServerAliveInterval=%d", k->alive_i);
	strvec_push(v, "-o");
	strvec_pushf(v, "ServerAliveCountMax=%d", k->alive_c);
	if (!has_word_opt(&o->so->args, o->so->args.n, "ConnectTimeout") &&
	    !has_word_opt(&o->ssh_args, cmd, "ConnectTimeout")) {
		strvec_push(v, "-o");
		strvec_push(v, "ConnectTimeout=10");	/* a silent path must not hold a try for 2 min */
	}
	const char *skip = relay_skip(o, cmd);
	if (!skip)
		push_relay(k, v);
	else
		verbose("keep: %s: connecting without sshdoctor's relay: %s", k->name, skip);
	struct sshopts none = { 0 };
	target_ssh_args(o->t, &none, v);
	for (size_t i = cmd; i < o->ssh_args.n; i++)
		strvec_push(v, o->ssh_args.v[i]);
}

/* --- telling the world ---------------------------------------------------------- */

static int stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	return js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
	       (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* One event: stderr (unless that is the journal already), the journal with
 * fields, the store. kind: "up", "fall", "giveup", "stop", "try". */
static void event(struct keep *k, const char *kind, const char *cause, int64_t downtime_ms,
		  const char *fmt, ...) PRINTF_LIKE(5, 6);
static void event(struct keep *k, const char *kind, const char *cause, int64_t downtime_ms,
		  const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!k->stderr_journal && log_level >= LOG_ERROR)
		fprintf(stderr, "keep: %s: %s\n", k->name, msg);
	if (k->journal) {
		/* syslog priorities: info for up, debug for tries, warning for falls, err otherwise */
		int prio = !strcmp(kind, "up") || !strcmp(kind, "stop") ? 6 : !strcmp(kind, "try") ? 7 : !strcmp(kind, "fall") ? 4 : 3;
		keep_journal_send(k->name, msg, prio, kind, cause, (long long)downtime_ms);
	}
	if (k->hist && strcmp(kind, "try") != 0) {
		struct hist_keep h = { 0 };
		scpy(h.tunnel, sizeof(h.tunnel), k->name);
		scpy(h.target, sizeof(h.target), k->target);
		h.at_wall_ms = wall_ms();
		scpy(h.kind, sizeof(h.kind), kind);
		scpy(h.cause, sizeof(h.cause), cause ? cause : "");
		h.downtime_ms = downtime_ms;
		scpy(h.detail, sizeof(h.detail), msg);
		if (history_keep_add(k->hist, &h) < 0)
			verbose("keep: the history store did not take the event: %s",
				history_error(k->hist));
	}
}

static void sd_status(struct keep *k, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void sd_status(struct keep *k, const char *fmt, ...)
{
	char msg[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sd_notifyf(0, "STATUS=%s", msg);
}

static void set_state(struct keep *k, enum kstate s)
{
	k->state = s;
	save_state(k);
}

static void save_state(struct keep *k)
{
	struct json_object *j = json_object_new_object(), *fw = json_object_new_array(),
			   *falls = json_object_new_array();
	json_object_object_add(j, "name", json_object_new_string(k->name));
	json_object_object_add(j, "pid", json_object_new_int((int)getpid()));
	json_object_object_add(j, "target", json_object_new_string(k->target));
	for (size_t i = 0; i < k->forwards.n; i++)
		json_object_array_add(fw, json_object_new_string(k->forwards.v[i]));
	json_object_object_add(j, "forwards", fw);
	json_object_object_add(j, "state", json_object_new_string(kstate_names[k->state]));
	json_object_object_add(j, "started", json_object_new_int64(k->started_wall / 1000));
	json_object_object_add(j, "up_since", k->state == KS_UP ? json_object_new_int64(k->up_wall / 1000)
								: NULL);
	json_object_object_add(j, "down_since",
			       k->state != KS_UP && k->down_wall ? json_object_new_int64(k->down_wall / 1000)
								  : NULL);
	json_object_object_add(j, "restarts", json_object_new_int(k->restarts));
	json_object_object_add(j, "attempts", json_object_new_int(k->attempts));
	json_object_object_add(j, "failed_attempts", json_object_new_int(k->fails));
	json_object_object_add(j, "next_try", k->state == KS_WAITING && k->next_try_wall
						      ? json_object_new_int64(k->next_try_wall / 1000)
						      : NULL);
	json_object_object_add(j, "waiting_for", k->state != KS_WAITING ? NULL
					 : json_object_new_string(k->waiting_net ? "network" : "timer"));
	json_object_object_add(j, "last_cause", k->last_detail[0] ? json_object_new_string(keep_cause_name(k->last_cause))
								  : NULL);
	json_object_object_add(j, "last_detail", k->last_detail[0] ? json_object_new_string(k->last_detail) : NULL);
	struct json_object *ka = json_object_new_object();
	json_object_object_add(ka, "interval_s", json_object_new_int(k->alive_i));
	json_object_object_add(ka, "count_max", json_object_new_int(k->alive_c));
	json_object_object_add(ka, "source", json_object_new_string(k->alive_src));
	json_object_object_add(j, "keepalive", ka);
	json_object_object_add(j, "relay", json_object_new_boolean(k->relay));
	json_object_object_add(j, "check", k->o->check ? json_object_new_string(k->o->check) : NULL);
	for (int i = 0; i < k->nfalls; i++) {
		const struct fall *f = &k->falls[i];
		struct json_object *fo = json_object_new_object();
		json_object_object_add(fo, "at", json_object_new_int64(f->at_wall / 1000));
		json_object_object_add(fo, "cause", json_object_new_string(f->cause));
		json_object_object_add(fo, "detail", json_object_new_string(f->detail));
		json_object_object_add(fo, "downtime_ms", f->downtime_ms >= 0 ? json_object_new_int64(f->downtime_ms)
									  : NULL);
		json_object_array_add(falls, fo);
	}
	json_object_object_add(j, "falls", falls);	/* newest first */
	char *fname = xasprintf("%s.json", k->name);
	if (state_save_json("keep", fname, j) < 0)
		verbose("keep: could not write the state file keep/%s", fname);
	free(fname);
	json_object_put(j);
}

static void remember_fall(struct keep *k, const char *cause, const char *detail)
{
	memmove(&k->falls[1], &k->falls[0], sizeof(k->falls[0]) * (KEEP_FALLS_KEPT - 1));
	if (k->nfalls < KEEP_FALLS_KEPT)
		k->nfalls++;
	struct fall *f = &k->falls[0];
	f->at_wall = wall_ms();
	f->downtime_ms = -1;
	scpy(f->cause, sizeof(f->cause), cause);
	scpy(f->detail, sizeof(f->detail), detail);
}

/* --- netlink: wait for the network instead of spinning ---------------------------- */

static void on_netlink(struct evloop *ev, int fd, uint32_t events, void *arg)
{
	struct keep *k = arg;
	char buf[8192];
	int relevant = 0;
	ssize_t n;
	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n))
			if (h->nlmsg_type == RTM_NEWROUTE || h->nlmsg_type == RTM_NEWADDR)
				relevant = 1;
			else if (h->nlmsg_type == RTM_NEWLINK &&
				 h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct ifinfomsg)) &&
				 (((struct ifinfomsg *)NLMSG_DATA(h))->ifi_flags & IFF_RUNNING))
				relevant = 1;	/* a link coming up, not one going down */
	}
	if (relevant && k->waiting_net && k->state == KS_WAITING) {
		/* routes and addresses come in bursts: a moment, then one try */
		k->waiting_net = 0;
		ev_timer_cancel(ev, k->retry_timer);
		k->retry_timer = ev_timer_at(ev, now_ms() + 300, on_retry, k);
		k->next_try_wall = wall_ms() + 300;
		event(k, "try", NULL, 0, "the network changed: trying again");
	}
}

static int netlink_open(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -1;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK,
				  .nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
					       RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE };
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* --- the health check ----------------------------------------------------------- */

static void check_schedule(struct keep *k, int64_t delay);

static void check_done(struct keep *k, int ok, const char *why)
{
	if (k->chk_fd >= 0) {
		ev_fd_del(k->ev, k->chk_fd);
		close(k->chk_fd);
		k->chk_fd = -1;
	}
	ev_timer_cancel(k->ev, k->chk_deadline_timer);
	k->chk_deadline_timer = 0;
	if (k->state != KS_UP)
		return;
	if (ok) {
		k->chk_fails = 0;
		check_schedule(k, k->o->check_interval_ms);
		return;
	}
	k->chk_fails++;
	verbose("keep: %s: check %s failed (%d in a row): %s", k->name, k->o->check, k->chk_fails, why);
	if (k->chk_fails < 2) {
		check_schedule(k, k->o->check_interval_ms / 4 > 1000 ? k->o->check_interval_ms / 4 : 1000);
		return;
	}
	/* up but carrying nothing: end this ssh, the exit path restarts it */
	k->kill_cause = KC_CHECK_FAILED;
	snprintf(k->last_detail, sizeof(k->last_detail), "the forward %s carried nothing twice (%s)",
		 k->o->check + 4, why);
	if (k->running)
		proc_signal(&k->p, SIGTERM);
}

static void on_check_io(struct evloop *ev, int fd, uint32_t events, void *arg)
{
	struct keep *k = arg;
	char b[64];
	if (events & EPOLLOUT && !(events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
		int err = 0;
		socklen_t l = sizeof(err);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err) {
			check_done(k, 0, strerror(err));
			return;
		}
		ev_fd(ev, fd, EPOLLIN | EPOLLRDHUP, on_check_io, k);	/* connected: wait for a byte */
		return;
	}
	ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
	if (n > 0)
		check_done(k, 1, NULL);
	else if (n == 0)
		check_done(k, 0, "closed without a byte (the far side did not answer)");
	else if (errno != EAGAIN)
		check_done(k, 0, strerror(errno));
}

static void on_check_deadline(struct evloop *ev, void *arg)
{
	struct keep *k = arg;
	k->chk_deadline_timer = 0;
	check_done(k, 0, "no byte within the check timeout");
}

static void on_check_timer(struct evloop *ev, void *arg)
{
	struct keep *k = arg;
	k->chk_timer = 0;
	if (k->state != KS_UP || k->chk_fd >= 0)
		return;
	k->chk_fd = socket(k->chk_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (k->chk_fd < 0) {
		check_done(k, 0, strerror(errno));
		return;
	}
	if (connect(k->chk_fd, (struct sockaddr *)&k->chk_addr, k->chk_len) < 0 && errno != EINPROGRESS) {
		check_done(k, 0, strerror(errno));
		return;
	}
	ev_fd(ev, k->chk_fd, EPOLLOUT, on_check_io, k);
	k->chk_deadline_timer = ev_timer_at(ev, now_ms() + k->o->check_timeout_ms, on_check_deadline, k);
}

static void check_schedule(struct keep *k, int64_t delay)
{
	if (!k->o->check)
		return;
	ev_timer_cancel(k->ev, k->chk_timer);
	k->chk_timer = ev_timer_at(k->ev, now_ms() + delay, on_check_timer, k);
}

/* "tcp:HOST:PORT" (HOST may be [v6]); 0 or -1 with *err. */
static int check_parse(struct keep *k, const char *spec, char **err)
{
	if (strncmp(spec, "tcp:", 4) != 0)
		return err_set(err, "--check: '%s' is not tcp:HOST:PORT", spec);
	const char *hp = spec + 4, *colon = strrchr(hp, ':');
	if (!colon || colon == hp || !colon[1])
		return err_set(err, "--check: '%s' is not tcp:HOST:PORT", spec);
	char *host = xstrndup(hp, (size_t)(colon - hp));
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	long port;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *res = NULL;
	int rc = -1;
	if (parse_int(colon + 1, 1, 65535, &port))
		err_set(err, "--check: port '%s' is not 1-65535", colon + 1);
	else if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || !res)
		err_set(err, "--check: cannot resolve '%s'", host);
	else {
		memcpy(&k->chk_addr, res->ai_addr, res->ai_addrlen);
		k->chk_len = res->ai_addrlen;
		rc = 0;
	}
	if (res)
		freeaddrinfo(res);
	free(host);
	return rc;
}

/* --- the watchdog ----------------------------------------------------------------- */

static void on_watchdog(struct evloop *ev, void *arg)
{
	struct keep *k = arg;
	/* Pinged while the loop runs, up or deliberately waiting: a watchdog restart
	 * while keep waits out a penalty would only hammer the server. */
	sd_notify(0, "WATCHDOG=1");
	k->wd_timer = ev_timer_at(ev, now_ms() + (int64_t)(k->wd_usec / 2000), on_watchdog, k);
}

/* --- one ssh ---------------------------------------------------------------------- */

static void ssh_exited(struct keep *k);

static void went_up(struct keep *k)
{
	int64_t now = now_ms();
	k->up_mono = now;
	k->up_wall = wall_ms();
	k->chk_fails = 0;
	k->penalty_n = 0;
	k->auth_tries = 0;
	if (!k->ever_up) {
		event(k, "up", NULL, 0, "up (%zu forward%s; keepalive %d s x %d, %s)", k->forwards.n,
		      k->forwards.n == 1 ? "" : "s", k->alive_i, k->alive_c, k->alive_src);
	} else {
		int64_t down = now - k->down_mono;
		char d[32];
		format_duration(d, sizeof(d), down);
		if (k->nfalls && k->falls[0].downtime_ms < 0)
			k->falls[0].downtime_ms = down;
		k->restarts++;
		/* the fall's cause (the last failed try's may differ: a cut path refuses, then times out) */
		const char *cause = k->nfalls ? k->falls[0].cause : keep_cause_name(k->last_cause);
		if (down < 10000)
			snprintf(d, sizeof(d), "%.1fs", (double)down / 1000);
		event(k, "up", cause, down, "up again after %s down (%s; %d attempt%s)", d, cause,
		      k->fails + 1, k->fails ? "s" : "");
	}
	k->ever_up = 1;
	k->fails = 0;
	k->unanswered = 0;
	set_state(k, KS_UP);
	if (!k->notified_ready) {
		sd_notify(0, "READY=1");
		k->notified_ready = 1;
	}
	sd_status(k, "up: %s", k->target);
	check_schedule(k, k->o->check_interval_ms < 2000 ? k->o->check_interval_ms : 2000);
}

static void on_ssh_err(struct evloop *ev, int fd, uint32_t events, void *arg)
{
	struct keep *k = arg;
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		keep_obs_feed(&k->obs, now_ms(), buf, (size_t)n);
		if (log_level >= LOG_DEBUG1)
			fwrite(buf, 1, (size_t)n, stderr);
	}
	int gone = n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);	/* before errno changes */
	if (k->state == KS_CONNECTING && keep_obs_ready(&k->obs, k->want_remote))
		went_up(k);
	if (gone) {
		ev_fd_del(ev, fd);
		k->err_open = 0;
		ssh_exited(k);
	}
}

static void on_reap(struct evloop *ev, void *arg)
{
	struct keep *k = arg;
	k->reap_timer = 0;
	if (!proc_poll(&k->p)) {
		if (now_ms() < k->reap_deadline) {
			k->reap_timer = ev_timer_at(ev, now_ms() + 20, on_reap, k);
			return;
		}
		proc_signal(&k->p, SIGKILL);	/* stderr closed but ssh lingers */
		k->reap_timer = ev_timer_at(ev, now_ms() + 20, on_reap, k);
		k->reap_deadline = now_ms() + 60000;
		return;
	}
	ssh_exited(k);
}

static void retry_in(struct keep *k, int64_t delay, const char *why)
{
	char d[32];
	if (delay < 10000)
		snprintf(d, sizeof(d), "%.1fs", (double)delay / 1000);
	else
		format_duration(d, sizeof(d), delay);
	k->next_try_wall = wall_ms() + delay;
	k->retry_timer = ev_timer_at(k->ev, now_ms() + delay, on_retry, k);
	set_state(k, KS_WAITING);
	sd_status(k, "down (%s): %s in %s", keep_cause_name(k->last_cause), why, d);
	event(k, "try", keep_cause_name(k->last_cause), 0, "%s in %s", why, d);
}

static void stop_for_good(struct keep *k, int code, const char *kind, const char *fmt, ...)
	PRINTF_LIKE(4, 5);
static void stop_for_good(struct keep *k, int code, const char *kind, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	event(k, kind, keep_cause_name(k->last_cause), 0, "%s", msg);
	k->exit_code = code;
	set_state(k, KS_STOPPED);
	sd_status(k, "stopped: %s", msg);
	ev_stop(k->ev);
}

static double jitter(void)
{
	return (double)random() / ((double)RAND_MAX + 1.0);
}

/* ssh is gone (stderr closed, then reaped): judge, record, decide. */
static void ssh_exited(struct keep *k)
{
	if (!k->running)
		return;
	if (!k->p.reaped && !proc_poll(&k->p)) {
		if (!k->reap_timer) {
			k->reap_deadline = now_ms() + 2000;
			k->reap_timer = ev_timer_at(k->ev, now_ms() + 10, on_reap, k);
		}
		return;
	}
	if (k->err_open) {
		ev_fd_del(k->ev, k->p.err);
		k->err_open = 0;
	}
	proc_close_fds(&k->p);
	k->running = 0;
	int st = k->p.status;
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 255;
	keep_obs_finish(&k->obs, now_ms());
	if (k->chk_fd >= 0)
		check_done(k, 1, NULL);	/* closes it; the result no longer matters */
	ev_timer_cancel(k->ev, k->chk_timer);
	k->chk_timer = 0;
	if (k->stopping)
		return;
	struct keep_verdict v;
	keep_judge(&k->obs, code, &v);
	if (k->kill_cause >= 0) {	/* we ended it: our reason, not ssh's last words */
		v.cause = (enum keep_cause)k->kill_cause;
		v.action = keep_cause_action(v.cause);
		scpy(v.detail, sizeof(v.detail), k->last_detail);
		v.advice[0] = '\0';
		k->kill_cause = -1;
	}
	k->last_cause = v.cause;
	scpy(k->last_detail, sizeof(k->last_detail), v.detail);
	int64_t now = now_ms();
	if (k->state == KS_UP) {
		int64_t up = now - k->up_mono;
		char d[32];
		format_duration(d, sizeof(d), up);
		/* A silent path: ssh gave up after ServerAliveCountMax keepalives went
		 * unanswered, so the path was already gone that long before; the
		 * downtime counts from then (the latest the break can have been). */
		int64_t silent = v.cause == KC_PATH_SILENT ? (int64_t)k->alive_i * k->alive_c * 1000 : 0;
		if (silent > up)
			silent = up;
		k->down_mono = now - silent;
		k->down_wall = wall_ms() - silent;
		if (up >= k->o->stable_ms)
			k->fails = 0;	/* it was stable: start the backoff over */
		remember_fall(k, keep_cause_name(v.cause), v.detail);
		if (silent)
			event(k, "fall", keep_cause_name(v.cause), 0,
			      "fell after %s up (%s): %s; down since %.0f s before that (%d keepalives unanswered)",
			      d, keep_cause_name(v.cause), v.detail, (double)silent / 1000, k->alive_c);
		else
			event(k, "fall", keep_cause_name(v.cause), 0, "fell after %s up (%s): %s", d,
			      keep_cause_name(v.cause), v.detail);
		if (v.advice[0])
			event(k, "try", keep_cause_name(v.cause), 0, "fix: %s", v.advice);
	} else {
		if (!k->down_mono) {
			k->down_mono = now;
			k->down_wall = wall_ms();
		}
		k->fails++;
		k->unanswered = v.cause == KC_CONNECT_TIMEOUT || v.cause == KC_REFUSED ? k->unanswered + 1 : 0;
		/* one line per failed attempt: bounded by the backoff, and the user sees each */
		event(k, "try", keep_cause_name(v.cause), 0, "attempt %d failed (%s): %s", k->attempts,
		      keep_cause_name(v.cause), v.detail);
		if (v.advice[0] && (k->fails == 1 || v.action == KA_STOP || v.action == KA_STOP_AUTH))
			event(k, "try", keep_cause_name(v.cause), 0, "fix: %s", v.advice);
	}
	if (k->o->max_tries > 0 && k->fails >= k->o->max_tries) {
		stop_for_good(k, KEEP_EXIT_GAVEUP, "giveup", "giving up after %d failed attempts in a row (--max-tries)",
			      k->fails);
		return;
	}
	int64_t delay = keep_backoff_ms(k->fails, k->o->backoff_max_ms, jitter());
	/* The relay already waited for the path (a SYN every 0.5-1 s for the whole
	 * ConnectTimeout): that wait was the backoff, and none of those SYNs
	 * reached sshd (dropped, or refused by the kernel), so go again at once. */
	if (k->relay && (v.cause == KC_CONNECT_TIMEOUT || v.cause == KC_REFUSED) &&
	    now - k->attempt_mono >= RELAY_RACED_MS && delay > RELAY_NEXT_MS)
		delay = RELAY_NEXT_MS;
	switch (v.action) {
	case KA_STOP:
		stop_for_good(k, KEEP_EXIT_STOPPED, "giveup", "stopped: %s (%s) - no retry cures this",
			      keep_cause_name(v.cause), v.detail);
		return;
	case KA_STOP_AUTH:
		if (!k->ever_up || k->auth_tries >= k->o->auth_retries) {
			stop_for_good(k, KEEP_EXIT_STOPPED, "giveup",
				      "stopped: authentication refused%s; not retrying, so the server does not ban this address",
				      k->ever_up ? " again" : "");
			return;
		}
		/* it worked before: the server may be mid-change; a few slow tries */
		delay = k->o->auth_wait_ms;
		for (int i = 0; i < k->auth_tries; i++)
			delay *= 3;
		k->auth_tries++;
		retry_in(k, delay, "authentication was refused (it worked before): slow try");
		budget_charge(k->addr, k->port, 1, BUDGET_AUTHFAIL_S);
		return;
	case KA_WAIT_PENALTY: {
		double owed = budget_wait_s(k->addr, k->port);
		int64_t w = (int64_t)((BUDGET_MIN_S + 1) * 1000);
		for (int i = 0; i < k->penalty_n && w < 600000; i++)
			w *= 2;
		if (owed * 1000 > (double)w)
			w = (int64_t)(owed * 1000);
		if (w > 600000)
			w = 600000;	/* sshd's max penalty */
		k->penalty_n++;
		retry_in(k, w + (int64_t)(jitter() * 1000), "the server is refusing us: waiting the penalty out");
		return;
	}
	case KA_WAIT_NET:
		k->waiting_net = k->nl_fd >= 0;
		/* the fallback (DNS may come back without a route change): 5 s doubling to 60 s */
		delay = (int64_t)5000 << (k->fails > 1 ? (k->fails - 1 < 4 ? k->fails - 1 : 4) : 0);
		retry_in(k, delay > 60000 ? 60000 : delay,
			 k->nl_fd >= 0 ? "no network to the server: waiting for a route or address change, at the latest"
				       : "no network to the server: trying again");
		return;
	case KA_WAIT_REAP:
		retry_in(k, delay < 10000 ? 10000 + (int64_t)(jitter() * 2000) : delay,
			 "the listener is still held: trying again once the server may have reaped it");
		return;
	case KA_RETRY: {
		/* Knocking on a shut limit keeps it shut (each SYN refreshes the ban):
		 * quiet for longer than it lasts, at the cost of noticing a server that
		 * is back only that much later. */
		int64_t quiet = keep_quiet_ms(k->unanswered, jitter());
		if (quiet > delay) {
			char why[200];
			snprintf(why, sizeof(why), "%d attempts in a row got no answer from sshd: a limit on "
				 "new connections (or a server that is down); going quiet so a ban that "
				 "counts them can expire", k->unanswered);
			retry_in(k, quiet, why);
			return;
		}
		retry_in(k, delay, "restarting");
		return;
	}
	}
}

static void start_ssh(struct keep *k)
{
	k->retry_timer = 0;
	k->waiting_net = 0;
	k->next_try_wall = 0;
	if (k->stopping)
		return;
	keep_obs_init(&k->obs, now_ms());
	k->attempts++;
	k->attempt_mono = now_ms();
	k->kill_cause = -1;
	if (proc_spawn(&k->p, k->argv.v, PROC_STDERR) < 0) {
		stop_for_good(k, KEEP_EXIT_STOPPED, "giveup", "cannot run ssh: %s", strerror(errno));
		return;
	}
	k->running = 1;
	k->err_open = 1;
	ev_fd(k->ev, k->p.err, EPOLLIN, on_ssh_err, k);
	set_state(k, KS_CONNECTING);
}

static void on_interrupt(struct evloop *ev, void *arg)
{
	struct keep *k = arg;
	k->stopping = 1;
	ev_stop(ev);
}

int keep_run(struct keep_opts *o)
{
	struct keep k = { .o = o, .nl_fd = -1, .chk_fd = -1, .kill_cause = -1 };
	char *err = NULL;
	if (o->check && check_parse(&k, o->check, &err) < 0) {
		fprintf(stderr, "sshdoctor keep: %s\n", err);
		free(err);
		return EXIT_USAGE;
	}
	k.name = o->name ? xstrdup(o->name) : keep_default_name(o);
	k.target = xstrdup(o->t->spec);
	scpy(k.addr, sizeof(k.addr), o->t->hostname ? o->t->hostname : o->t->host);
	k.port = o->t->eport ? o->t->eport : 22;
	keep_keepalive(o, &k.alive_i, &k.alive_c, &k.alive_src);
	build_argv(&k);
	if (log_level >= LOG_VERBOSE) {
		struct strbuf sb = { 0 };
		for (size_t i = 0; i < k.argv.n; i++)
			sb_addf(&sb, "%s%s", i ? " " : "", k.argv.v[i]);
		verbose("keep: %s: running %s", k.name, sb.buf);
		sb_free(&sb);
	}
	const char *pc = kv_get(&o->t->cfg, "proxycommand");
	if (pc && strstr(pc, "sshdoctor") && strstr(pc, "relay"))
		verbose("keep: %s: the flight recorder's relay is this host's ProxyCommand", k.name);
	char herr[256];
	if (history_open(&k.hist, NULL, herr, sizeof(herr)) < 0) {
		info("keep: %s: not recording to the history store: %s", k.name, herr);
		k.hist = NULL;
	}
	k.ev = ev_new();
	ev_on_interrupt(k.ev, on_interrupt, &k);
	k.journal = getenv("INVOCATION_ID") != NULL || getenv("JOURNAL_STREAM") != NULL;
	k.stderr_journal = stderr_is_journal();
	k.nl_fd = netlink_open();
	if (k.nl_fd >= 0)
		ev_fd(k.ev, k.nl_fd, EPOLLIN, on_netlink, &k);
	else
		verbose("keep: no netlink socket (%s): network waits fall back to timers", strerror(errno));
	if (sd_watchdog_enabled(0, &k.wd_usec) > 0 && k.wd_usec >= 2000)
		k.wd_timer = ev_timer_at(k.ev, now_ms() + (int64_t)(k.wd_usec / 2000), on_watchdog, &k);
	srandom((unsigned)(getpid() ^ (unsigned)now_ms()));
	k.started_wall = wall_ms();
	start_ssh(&k);
	while (!k.stopping && k.state != KS_STOPPED)
		ev_run(k.ev, 0);
	/* Ctrl-C/SIGTERM: ssh's whole process group at once, then reaped */
	if (k.running) {
		k.stopping = 1;
		proc_stop(&k.p, 1000);
		k.running = 0;
	}
	if (k.stopping) {
		event(&k, "stop", NULL, 0, "stopped by signal %d", ev_interrupted(k.ev));
		sd_notify(0, "STOPPING=1");
		char *fname = xasprintf("%s.json", k.name);
		char *path = state_path("keep", fname);
		if (path)
			unlink(path);	/* a tunnel stopped on purpose leaves no status behind */
		free(path);
		free(fname);
	}
	if (k.chk_fd >= 0)
		close(k.chk_fd);
	if (k.nl_fd >= 0)
		close(k.nl_fd);
	ev_free(k.ev);
	history_close(k.hist);
	strvec_clear(&k.argv);
	strvec_clear(&k.forwards);
	free(k.name);
	free(k.target);
	return k.exit_code;
}
