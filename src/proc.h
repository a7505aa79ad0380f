/* proc.h - child processes (the user's ssh, sshd -T, ...): each in its own process
 * group, with pipes, killed and reaped on exit or Ctrl-C. No orphans, no zombies. */
#ifndef SSHDOCTOR_PROC_H
#define SSHDOCTOR_PROC_H

#include <sys/types.h>

#include "util.h"

enum { PROC_STDIN = 1, PROC_STDOUT = 2, PROC_STDERR = 4, PROC_STDERR_TO_OUT = 8 };

struct proc {
	pid_t pid;
	int in, out, err;	/* our ends of the pipes, -1 when not piped (non-blocking) */
	int status;		/* wait status once reaped */
	int reaped;
};

/* Starts argv[0] (PATH search) with the requested pipes; the rest go to /dev/null.
 * Returns 0 or -1 (errno set). The child dies with us (PR_SET_PDEATHSIG). */
int proc_spawn(struct proc *p, char *const argv[], unsigned flags);
/* Forks a child (own process group, registered like proc_spawn) that runs
 * fn(arg, fd) and exits with its return value; fd is the write end of the pipe
 * whose read end becomes p->out. For blocking library calls such as getaddrinfo
 * that must not stall the event loop. */
int proc_spawn_fn(struct proc *p, int (*fn)(void *arg, int outfd), void *arg);
/* Sends sig to the child's whole process group. */
void proc_signal(struct proc *p, int sig);
/* Non-blocking reap; returns 1 when the child has exited (status filled). */
int proc_poll(struct proc *p);
/* TERM, wait up to grace_ms, then KILL, reap, close pipes. Safe to call twice. */
void proc_stop(struct proc *p, int grace_ms);
void proc_close_fds(struct proc *p);
/* Kills every child still registered (atexit and signal paths). */
void proc_kill_all(void);

/* Runs argv to completion, feeding input, capturing stdout/stderr (each bounded
 * to 8 MiB), killing it after timeout_ms. Returns 0 when it ran (*status = exit
 * code, or 128+signal), -1 when it could not start or timed out. */
int proc_capture(char *const argv[], const char *input, struct strbuf *out,
		 struct strbuf *err, int timeout_ms, int *status);

#endif
