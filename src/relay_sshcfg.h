/* relay_sshcfg.h - the address family and ConnectTimeout of the ssh that runs
 * the relay as its ProxyCommand. ssh does not pass them to a ProxyCommand
 * (only %h %p %r %n), so the relay asks the same ssh binary, with the same
 * arguments, for its effective config (`ssh -G`), which never connects. */
#ifndef SSHDOCTOR_RELAY_SSHCFG_H
#define SSHDOCTOR_RELAY_SSHCFG_H

#include <stddef.h>
#include <sys/types.h>

struct relay_sshcfg {
	int family;		/* 0 any, 4 inet, 6 inet6; -1 not said */
	int connect_timeout_s;	/* 0 none; -1 not said */
};

/* Reads `ssh -G` output (untrusted bytes: a hostile config can print anything).
 * Fills what it finds; returns how many of the two keys it found. */
int relay_sshcfg_parse_g(const char *buf, size_t len, struct relay_sshcfg *c);

/* Splits /proc/PID/cmdline bytes (NUL-separated, last NUL optional) into a
 * NULL-terminated argv of at most 4096 entries. Returns argc (>= 1) or -1
 * when empty or too many; *argv is freed with relay_sshcfg_argv_free. */
int relay_sshcfg_argv(const char *buf, size_t len, char ***argv);
void relay_sshcfg_argv_free(char **argv);

/* The effective config of ssh process pid (our parent, normally): it must be
 * ours (same uid) and an ssh binary; runs that binary with -G and its own
 * arguments, bounded by timeout_ms. Returns 0, or -1 with the reason in err
 * (c is then left "not said"). */
int relay_sshcfg_read(pid_t pid, int timeout_ms, struct relay_sshcfg *c, char *err, size_t errlen);

#endif
