/* askpass.c - a password typed once, served to our own ssh children only.
 * Classification and the one-failure rule are pure (tests/unit/test_askpass.c);
 * the server is a thread on an abstract unix socket, so it answers whatever the
 * main thread is blocked in (proc_capture, the event loop). */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "askpass.h"
#include "finding.h"
#include "log.h"
#include "proc.h"

/* ---- pure parts ---- */

static int has_word(const char *s, const char *w)
{
	return strcasestr(s, w) != NULL;
}

/* A keyboard-interactive prompt that asks for something else than the password. */
static int is_otp_like(const char *s)
{
	static const char *const words[] = { "code", "otp", "token", "passcode", "one-time",
					     "one time", "verification", "pin", "new password",
					     "yubikey", "duo" };
	for (size_t i = 0; i < ARRAY_SIZE(words); i++)
		if (has_word(s, words[i]))
			return 1;
	return 0;
}

/* "U@H" (len bytes) names user@host; ssh truncates them to 30 and 128 bytes. */
static int names_us(const char *p, size_t len, const char *user, const char *host)
{
	char want[200];
	snprintf(want, sizeof(want), "%.30s@%.128s", user ? user : "", host ? host : "");
	return strlen(want) == len && !memcmp(p, want, len);
}

enum ap_kind askpass_classify(const char *prompt, const char *user, const char *host)
{
	size_t n = strlen(prompt);
	while (n && isspace((unsigned char)prompt[n - 1]))
		n--;
	/* password authentication: "%.30s@%.128s's password:" */
	static const char tail[] = "'s password:";
	size_t tl = sizeof(tail) - 1;
	if (n > tl && !memcmp(prompt + n - tl, tail, tl) && prompt[0] != '(')
		return names_us(prompt, n - tl, user, host) ? AP_PASSWORD : AP_OTHER_HOST;
	/* keyboard-interactive since OpenSSH 8.6: "(user@host) <the server's prompt>" */
	const char *rest = prompt;
	if (prompt[0] == '(') {
		const char *close = strstr(prompt, ") ");
		if (!close)
			return AP_REFUSE;
		if (!names_us(prompt + 1, (size_t)(close - prompt - 1), user, host))
			return AP_OTHER_HOST;
		rest = close + 2;
	}
	if (has_word(rest, "passphrase") || has_word(rest, "yes/no") ||
	    has_word(rest, "are you sure"))
		return AP_REFUSE;
	if (is_otp_like(rest))
		return AP_UNSUPPORTED;
	if (has_word(rest, "password"))
		return AP_PASSWORD;
	/* any other question of the server's (keyboard-interactive): not a password */
	return rest != prompt ? AP_UNSUPPORTED : AP_REFUSE;
}

enum ap_verdict askpass_decide(struct ap_state *s, pid_t conn, enum ap_kind k)
{
	if (s->stopped)
		return AP_NO;
	if (k == AP_UNSUPPORTED) {
		s->stopped = 1;
		return AP_STOP_UNSUPPORTED;
	}
	if (k != AP_PASSWORD)
		return AP_NO;
	for (int i = 0; i < s->nconns; i++)
		if (s->conns[i] == conn) {	/* asked again: the first answer was refused */
			s->stopped = 1;
			return AP_STOP_WRONG;
		}
	if (s->nconns == AP_MAX_CONNS)	/* forget the oldest: long runs start many ssh */
		memmove(s->conns, s->conns + 1, sizeof(s->conns[0]) * (AP_MAX_CONNS - 1)), s->nconns--;
	s->conns[s->nconns++] = conn;
	return AP_ANSWER;
}

const char *askpass_method(const char *denied)
{
	if (!denied)
		return NULL;
	char list[256];
	const char *p = strstr(denied, "Permission denied (");
	if (p) {
		p += strlen("Permission denied (");
		size_t l = strcspn(p, ")");
		snprintf(list, sizeof(list), "%.*s", (int)(l < 255 ? l : 255), p);
	} else {
		snprintf(list, sizeof(list), "%s", denied);
	}
	if (strstr(list, "password"))
		return "password";
	if (strstr(list, "keyboard-interactive"))
		return "keyboard-interactive";
	return NULL;
}

/* ---- the peer check ---- */

static pid_t proc_ppid(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	pid_t pp = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "PPid:", 5)) {
			pp = (pid_t)strtol(line + 5, NULL, 10);
			break;
		}
	fclose(f);
	return pp;
}

static int same_exe(pid_t pid)
{
	char path[64];
	struct stat a, b;
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	return stat(path, &a) == 0 && stat("/proc/self/exe", &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

static int comm_is(pid_t pid, const char *name)
{
	char path[64], buf[32] = "";
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	int ok = fgets(buf, sizeof(buf), f) && (buf[strcspn(buf, "\n")] = 0, !strcmp(buf, name));
	fclose(f);
	return ok;
}

pid_t askpass_peer_conn(pid_t peer, uid_t peer_uid, pid_t self)
{
	if (peer <= 0 || peer_uid != geteuid() || !same_exe(peer))
		return -1;
	pid_t ssh = proc_ppid(peer);
	if (ssh <= 1 || !comm_is(ssh, "ssh") || proc_ppid(ssh) != self)
		return -1;
	return ssh;
}

/* ---- the secret and its server ---- */

static struct {
	char *page;		/* mlock'ed, not dumped, wiped on fork */
	size_t pagelen;
	volatile size_t len;
	int lfd;
	volatile int active;
	char user[64], host[256], method[32];
	char name[108];		/* abstract socket name, without the leading NUL */
	struct ap_state st;
	struct termios tio;	/* the terminal as found, while echo is off */
	volatile int tio_saved;
	int64_t typing_ms;	/* spent at the prompt: not measuring time */
} ap = { .lfd = -1 };

int64_t askpass_typing_ms(void)
{
	return ap.typing_ms;
}

static int secret_page(char **err)
{
	if (ap.page)
		return 0;
	long ps = sysconf(_SC_PAGESIZE);
	ap.pagelen = ps > 0 && (size_t)ps > ASKPASS_MAX + 2 ? (size_t)ps : 4096;
	void *p = mmap(NULL, ap.pagelen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		*err = xasprintf("askpass: mmap: %s", strerror(errno));
		return -1;
	}
	if (mlock(p, ap.pagelen) < 0) {
		*err = xasprintf("askpass: cannot lock memory for the password: %s", strerror(errno));
		munmap(p, ap.pagelen);
		return -1;
	}
	madvise(p, ap.pagelen, MADV_DONTDUMP);
	madvise(p, ap.pagelen, MADV_WIPEONFORK);	/* forked helpers get zeros */
	ap.page = p;
	return 0;
}

void askpass_wipe(void)
{
	ap.active = 0;
	if (ap.page)
		explicit_bzero(ap.page, ap.pagelen);
	ap.len = 0;
	if (ap.tio_saved) {
		tcsetattr(STDIN_FILENO, TCSANOW, &ap.tio);
		ap.tio_saved = 0;
	}
	if (ap.lfd >= 0) {
		int fd = ap.lfd;
		ap.lfd = -1;
		shutdown(fd, SHUT_RDWR);	/* wakes the thread's accept */
	}
}

int askpass_active(void)
{
	return ap.active;
}

/* From the server thread: the ssh that asked dies before it can send an empty
 * answer (no second attempt), then all our children, then we; anything the main
 * thread starts in between dies with us (PR_SET_PDEATHSIG). */
static void stop_everything(const char *why, pid_t ssh)
{
	fprintf(stderr, "sshdoctor: %s\n", why);
	askpass_wipe();
	kill(ssh, SIGKILL);
	proc_kill_all();
	_exit(STATUS_UNKNOWN);
}

static void serve_one(int fd)
{
	struct ucred cr;
	socklen_t cl = sizeof(cr);
	char prompt[ASKPASS_MAX + 1];
	size_t n = 0;
	struct timeval tv = { 5, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0)
		return;
	pid_t ssh = askpass_peer_conn(cr.pid, cr.uid, getpid());
	if (ssh < 0) {
		debug("askpass: refused a peer (pid %d uid %d): not our ssh's askpass", (int)cr.pid,
		      (int)cr.uid);
		return;
	}
	while (n < ASKPASS_MAX) {
		ssize_t r = read(fd, prompt + n, ASKPASS_MAX - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	prompt[n] = 0;
	enum ap_kind k = askpass_classify(prompt, ap.user, ap.host);
	enum ap_verdict v = ap.active ? askpass_decide(&ap.st, ssh, k) : AP_NO;
	debug("askpass: ssh %d asked '%.80s': %s", (int)ssh, prompt,
	      v == AP_ANSWER ? "answered" : "not answered");
	if (v == AP_ANSWER) {
		char tag = 'P';
		if (send(fd, &tag, 1, MSG_NOSIGNAL) == 1 &&
		    send(fd, ap.page, ap.len, MSG_NOSIGNAL) != (ssize_t)ap.len)
			debug("askpass: short write");
	} else if (v == AP_STOP_WRONG) {
		char why[600];
		snprintf(why, sizeof(why), "%s@%s: the password was refused; stopping after this one "
			 "failure (no retries: servers penalise and ban them)", ap.user, ap.host);
		stop_everything(why, ssh);
	} else if (v == AP_STOP_UNSUPPORTED) {
		char why[ASKPASS_MAX + 300];
		snprintf(why, sizeof(why), "%s@%s asks for more than a password (\"%.100s\"): "
			 "one-time codes and other keyboard-interactive prompts are not supported; "
			 "use a key", ap.user, ap.host, prompt);
		why[strcspn(why, "\r\n")] = 0;
		stop_everything(why, ssh);
	} else {
		char tag = 'N';
		if (send(fd, &tag, 1, MSG_NOSIGNAL) != 1)
			debug("askpass: short write");
	}
}

static void *serve_thread(void *arg)
{
	int lfd = (int)(intptr_t)arg;
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			break;	/* shut down by askpass_wipe */
		}
		serve_one(fd);
		close(fd);
	}
	close(lfd);
	return NULL;
}

static socklen_t abstract_addr(struct sockaddr_un *sa, const char *name)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	size_t l = strlen(name);
	if (l > sizeof(sa->sun_path) - 1)
		l = sizeof(sa->sun_path) - 1;
	memcpy(sa->sun_path + 1, name, l);	/* sun_path[0] = 0: abstract, no file */
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + l);
}

int askpass_serve(const char *secret, size_t len, const char *user, const char *host,
		  const char *method, char **err)
{
	*err = NULL;
	if (ap.active) {
		*err = xasprintf("askpass: already serving a password");
		return -1;
	}
	if (len > ASKPASS_MAX) {
		*err = xasprintf("askpass: the password is longer than %d bytes", ASKPASS_MAX);
		return -1;
	}
	if (secret_page(err) < 0)
		return -1;
	if (secret != ap.page)
		memmove(ap.page, secret, len);
	ap.len = len;
	snprintf(ap.user, sizeof(ap.user), "%s", user);
	snprintf(ap.host, sizeof(ap.host), "%s", host);
	snprintf(ap.method, sizeof(ap.method), "%s", method ? method : "password");
	memset(&ap.st, 0, sizeof(ap.st));

	char exe[4096];
	ssize_t el = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (el <= 0) {
		*err = xasprintf("askpass: cannot find our own binary: %s", strerror(errno));
		goto fail;
	}
	exe[el] = 0;
	unsigned long long rnd = 0;
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		*err = xasprintf("askpass: getrandom: %s", strerror(errno));
		goto fail;
	}
	snprintf(ap.name, sizeof(ap.name), "sshdoctor-askpass-%d-%016llx", (int)getpid(), rnd);
	struct sockaddr_un sa;
	socklen_t sl = abstract_addr(&sa, ap.name);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sl) < 0 || listen(fd, 16) < 0) {
		*err = xasprintf("askpass: socket: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		goto fail;
	}
	/* The thread takes no signals: they stay with the main thread's handlers
	 * and signalfd. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_t th;
	int rc = pthread_create(&th, NULL, serve_thread, (void *)(intptr_t)fd);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		*err = xasprintf("askpass: thread: %s", strerror(rc));
		close(fd);
		goto fail;
	}
	pthread_detach(th);
	ap.lfd = fd;
	/* our memory is not for other processes of this user to read (ptrace, core) */
	prctl(PR_SET_DUMPABLE, 0);
	setenv(ASKPASS_ENV, ap.name, 1);
	setenv("SSH_ASKPASS", exe, 1);
	setenv("SSH_ASKPASS_REQUIRE", "force", 1);
	ap.active = 1;
	return 0;
fail:
	explicit_bzero(ap.page, ap.pagelen);
	ap.len = 0;
	return -1;
}

void askpass_ssh_opts(struct strvec *argv)
{
	strvec_push(argv, "-o");
	if (!ap.active) {
		strvec_push(argv, "BatchMode=yes");
		return;
	}
	strvec_push(argv, "BatchMode=no");
	strvec_push(argv, "-o");
	strvec_pushf(argv, "PreferredAuthentications=%s", ap.method);
	strvec_push(argv, "-o");
	strvec_push(argv, "NumberOfPasswordPrompts=1");
}

/* ---- the prompt and the proof ---- */

/* Reads one line from the terminal on stdin into the locked page, echo off.
 * Returns its length, or -1 (EOF, Ctrl-D, error). */
static ssize_t read_secret(const char *prompt)
{
	struct termios t;
	if (tcgetattr(STDIN_FILENO, &ap.tio) < 0)
		return -1;
	t = ap.tio;
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	t.c_lflag |= ICANON;
	ap.tio_saved = 1;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) < 0) {
		ap.tio_saved = 0;
		return -1;
	}
	fputs(prompt, stderr);
	fflush(stderr);
	int64_t t0 = now_ms();
	size_t n = 0;
	int got_nl = 0;
	for (;;) {
		char c;	/* one byte at a time: no stdio buffer holds a copy */
		ssize_t r = read(STDIN_FILENO, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (c == '\n' || c == '\r') {
			got_nl = 1;
			break;
		}
		if (n < ASKPASS_MAX)
			ap.page[n++] = c;
		c = 0;
	}
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &ap.tio);
	ap.tio_saved = 0;
	ap.typing_ms += now_ms() - t0;
	fputc('\n', stderr);
	if (!got_nl) {
		explicit_bzero(ap.page, ap.pagelen);
		return -1;
	}
	return (ssize_t)n;
}

static void stop_serving(void)
{
	askpass_wipe();
	unsetenv(ASKPASS_ENV);
	unsetenv("SSH_ASKPASS");
	unsetenv("SSH_ASKPASS_REQUIRE");
}

int askpass_offer(const struct target *t, const struct sshopts *so, const char *denied)
{
	const char *method = askpass_method(denied);
	if (ap.active || !method)
		return 0;
	if (!isatty(STDIN_FILENO)) {
		verbose("the server takes a password, but stdin is not a terminal: not asking for it");
		return 0;
	}
	struct target now = { .host = t->host, .user = t->user, .port = t->port };
	char *err = NULL;
	if (target_resolve(&now, so, &err) < 0) {
		fprintf(stderr, "sshdoctor: %s\n", err);
		free(err);
		kv_free(&now.cfg);
		return -1;
	}
	char *prompt = xasprintf("sshdoctor: no key logs in; %s@%s's password (asked once, "
				 "tried once): ", now.euser, now.hostname);
	int rc = -1;
	if (secret_page(&err) < 0) {
		fprintf(stderr, "sshdoctor: %s\n", err);
		goto out;
	}
	ssize_t n = read_secret(prompt);
	if (n <= 0) {
		fprintf(stderr, "sshdoctor: no password given: measuring without logging in\n");
		rc = 0;
		goto out;
	}
	if (askpass_serve(ap.page, (size_t)n, now.euser, now.hostname, method, &err) < 0) {
		fprintf(stderr, "sshdoctor: %s\n", err);
		explicit_bzero(ap.page, ap.pagelen);
		goto out;
	}
	/* One login proves it before anything opens several: a wrong password
	 * costs exactly one failed attempt. */
	struct strvec argv = { 0 };
	struct strbuf out = { 0 }, errb = { 0 };
	int st = -1;
	strvec_push(&argv, "ssh");
	strvec_push(&argv, "-o");
	strvec_push(&argv, "ConnectTimeout=15");
	target_ssh_session_opts(&argv, NULL, 0);
	target_ssh_args(t, so, &argv);
	strvec_push(&argv, "exit 0");
	int ran = proc_capture(argv.v, NULL, &out, &errb, 40000, &st);
	strvec_clear(&argv);
	if (ran == 0 && st == 0) {
		info("password accepted: measuring as with a key");
		rc = 1;
	} else if (errb.buf && strstr(errb.buf, "Permission denied")) {
		fprintf(stderr, "sshdoctor: %s@%s: the password was refused (one attempt, "
			"not retried: servers penalise and ban repeated failures)\n",
			now.euser, now.hostname);
		stop_serving();
		sb_free(&out);
		sb_free(&errb);
		exit(STATUS_UNKNOWN);
	} else {
		const char *e = errb.buf ? errb.buf : "";
		size_t l = strcspn(e, "\r\n");
		fprintf(stderr, "sshdoctor: login with the password failed: %.*s\n", (int)(l < 200 ? l : 200),
			l ? e : ran < 0 ? "timed out" : "no error from ssh");
		stop_serving();
	}
	sb_free(&out);
	sb_free(&errb);
out:
	free(prompt);
	free(err);
	free(now.hostname);
	free(now.euser);
	kv_free(&now.cfg);
	return rc;
}

/* ---- the askpass program ---- */

int askpass_client(const char *prompt)
{
	const char *name = getenv(ASKPASS_ENV);
	static char buf[ASKPASS_MAX + 2];
	if (!name || !*name) {
		fprintf(stderr, "sshdoctor askpass: %s is not set (ssh runs this, not people)\n",
			ASKPASS_ENV);
		return 1;
	}
	mlock(buf, sizeof(buf));
	struct sockaddr_un sa;
	socklen_t sl = abstract_addr(&sa, name);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { 30, 0 };
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sl) < 0) {
		fprintf(stderr, "sshdoctor askpass: cannot reach sshdoctor: %s\n", strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	size_t pl = strlen(prompt);
	if (pl > ASKPASS_MAX)
		pl = ASKPASS_MAX;
	if (send(fd, prompt, pl, MSG_NOSIGNAL) != (ssize_t)pl) {	/* a refusal may close first */
		close(fd);
		return 1;
	}
	shutdown(fd, SHUT_WR);
	size_t n = 0;
	while (n < sizeof(buf) - 1) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	int rc = 1;
	if (n >= 1 && buf[0] == 'P') {
		buf[n++] = '\n';
		rc = write(STDOUT_FILENO, buf + 1, n - 1) == (ssize_t)(n - 1) ? 0 : 1;
	}
	explicit_bzero(buf, sizeof(buf));
	return rc;
}
