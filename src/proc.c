/* proc.c - spawn, signal and reap children; a registry so nothing outlives us. */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"

#define MAX_CHILDREN 4096
#define CAPTURE_MAX (8u << 20)

static pid_t live[MAX_CHILDREN];	/* process-group ids still to kill */

static void reg_add(pid_t pid)
{
	for (size_t i = 0; i < MAX_CHILDREN; i++)
		if (!live[i]) {
			live[i] = pid;
			return;
		}
}

static void reg_del(pid_t pid)
{
	for (size_t i = 0; i < MAX_CHILDREN; i++)
		if (live[i] == pid)
			live[i] = 0;
}

/* Async-signal-safe: only kill() and waitpid(). */
void proc_kill_all(void)
{
	for (size_t i = 0; i < MAX_CHILDREN; i++)
		if (live[i])
			kill(-live[i], SIGKILL);
	for (size_t i = 0; i < MAX_CHILDREN; i++)
		if (live[i]) {
			waitpid(live[i], NULL, 0);
			live[i] = 0;
		}
}

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static void child_exec(char *const argv[], int pin[2], int pout[2], int perr[2], unsigned flags,
		       pid_t parent)
{
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)	/* parent died before prctl took effect */
		_exit(127);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	dup2(flags & PROC_STDIN ? pin[0] : devnull, 0);
	dup2(flags & PROC_STDOUT ? pout[1] : devnull, 1);
	if (flags & PROC_STDERR_TO_OUT)
		dup2(1, 2);
	else
		dup2(flags & PROC_STDERR ? perr[1] : devnull, 2);
	execvp(argv[0], argv);
	_exit(127);
}

int proc_spawn(struct proc *p, char *const argv[], unsigned flags)
{
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
	pid_t parent = getpid();

	memset(p, 0, sizeof(*p));
	p->in = p->out = p->err = -1;
	/* O_CLOEXEC: a child must not inherit the other ends (its own stdin's write
	 * end would keep that pipe open and it would never see EOF). */
	if (((flags & PROC_STDIN) && pipe2(pin, O_CLOEXEC)) ||
	    ((flags & PROC_STDOUT) && pipe2(pout, O_CLOEXEC)) ||
	    ((flags & PROC_STDERR) && pipe2(perr, O_CLOEXEC)))
		goto fail;
	pid_t pid = fork();
	if (pid < 0)
		goto fail;
	if (pid == 0)
		child_exec(argv, pin, pout, perr, flags, parent);
	setpgid(pid, pid);	/* also here, so kill(-pid) works before the child runs */
	reg_add(pid);
	p->pid = pid;
	if (flags & PROC_STDIN) {
		close(pin[0]);
		p->in = pin[1];
		set_nonblock(p->in);
	}
	if (flags & PROC_STDOUT) {
		close(pout[1]);
		p->out = pout[0];
		set_nonblock(p->out);
	}
	if (flags & PROC_STDERR) {
		close(perr[1]);
		p->err = perr[0];
		set_nonblock(p->err);
	}
	debug2("spawned %s as pid %d", argv[0], (int)pid);
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (pin[i] >= 0)
			close(pin[i]);
		if (pout[i] >= 0)
			close(pout[i]);
		if (perr[i] >= 0)
			close(perr[i]);
	}
	return -1;
}

void proc_signal(struct proc *p, int sig)
{
	if (p->pid > 0 && !p->reaped)
		kill(-p->pid, sig);
}

int proc_poll(struct proc *p)
{
	if (p->reaped)
		return 1;
	if (p->pid <= 0)
		return 1;
	int st;
	pid_t r = waitpid(p->pid, &st, WNOHANG);
	if (r == p->pid || (r < 0 && errno == ECHILD)) {
		p->status = r == p->pid ? st : 0;
		p->reaped = 1;
		kill(-p->pid, SIGKILL);	/* grandchildren left in the group */
		reg_del(p->pid);
		return 1;
	}
	return 0;
}

void proc_close_fds(struct proc *p)
{
	if (p->in >= 0)
		close(p->in);
	if (p->out >= 0)
		close(p->out);
	if (p->err >= 0)
		close(p->err);
	p->in = p->out = p->err = -1;
}

void proc_stop(struct proc *p, int grace_ms)
{
	proc_close_fds(p);
	if (p->pid <= 0 || proc_poll(p))
		return;
	proc_signal(p, SIGTERM);
	for (int waited = 0; waited < grace_ms; waited += 10) {
		if (proc_poll(p))
			return;
		usleep(10000);
	}
	proc_signal(p, SIGKILL);
	int st;
	if (waitpid(p->pid, &st, 0) == p->pid)
		p->status = st;
	p->reaped = 1;
	reg_del(p->pid);
}

static int drain(int fd, struct strbuf *sb)
{
	char buf[65536];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n > 0) {
		if (sb && sb->len + (size_t)n <= CAPTURE_MAX)
			sb_add(sb, buf, (size_t)n);
		return 1;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 1;
	return 0;
}

int proc_capture(char *const argv[], const char *input, struct strbuf *out,
		 struct strbuf *err, int timeout_ms, int *status)
{
	struct proc p;
	size_t inlen = input ? strlen(input) : 0, inoff = 0;
	int64_t deadline = now_ms() + timeout_ms;

	if (proc_spawn(&p, argv, PROC_STDOUT | PROC_STDERR | (input ? PROC_STDIN : 0)) < 0)
		return -1;
	if (out)
		sb_adds(out, "");
	if (err)
		sb_adds(err, "");
	while (p.out >= 0 || p.err >= 0) {
		struct pollfd fds[3] = { { p.out, POLLIN, 0 }, { p.err, POLLIN, 0 },
					 { p.in, POLLOUT, 0 } };
		int64_t left = deadline - now_ms();
		if (left <= 0)
			break;
		if (poll(fds, 3, (int)left) < 0 && errno != EINTR)
			break;
		if (fds[0].revents && !drain(p.out, out)) {
			close(p.out);
			p.out = -1;
		}
		if (fds[1].revents && !drain(p.err, err)) {
			close(p.err);
			p.err = -1;
		}
		if (fds[2].revents) {
			ssize_t n = inoff < inlen ? write(p.in, input + inoff, inlen - inoff) : 0;
			if (n > 0)
				inoff += (size_t)n;
			if (n <= 0 || inoff >= inlen) {
				close(p.in);
				p.in = -1;
			}
		}
	}
	int timed_out = p.out >= 0 || p.err >= 0;
	while (!timed_out && !proc_poll(&p) && now_ms() < deadline)
		usleep(2000);
	if (!p.reaped)
		timed_out = 1;
	proc_stop(&p, 200);
	if (timed_out)
		return -1;
	if (WIFEXITED(p.status))
		*status = WEXITSTATUS(p.status);
	else
		*status = 128 + WTERMSIG(p.status);
	return *status == 127 ? -1 : 0;
}

int proc_spawn_fn(struct proc *p, int (*fn)(void *arg, int outfd), void *arg)
{
	int pout[2];
	pid_t parent = getpid();

	memset(p, 0, sizeof(*p));
	p->in = p->out = p->err = -1;
	if (pipe2(pout, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		close(pout[0]);
		close(pout[1]);
		return -1;
	}
	if (pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		close(pout[0]);
		_exit(fn(arg, pout[1]));
	}
	setpgid(pid, pid);
	reg_add(pid);
	p->pid = pid;
	close(pout[1]);
	p->out = pout[0];
	set_nonblock(p->out);
	return 0;
}
