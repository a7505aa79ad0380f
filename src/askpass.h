/* askpass.h - a password typed once, for servers where no key logs in: kept in
 * locked memory, handed to each ssh the tool starts through SSH_ASKPASS pointing
 * at sshdoctor itself, over an abstract unix socket that only our own ssh's
 * askpass child may use. Never in argv, the environment or a file. One failed
 * attempt stops everything (no N failures in a row: penalties, fail2ban). */
#ifndef SSHDOCTOR_ASKPASS_H
#define SSHDOCTOR_ASKPASS_H

#include <stdint.h>
#include <sys/types.h>

#include "target.h"

/* Non-secret: the abstract socket's name; ssh passes its environment on to askpass. */
#define ASKPASS_ENV "SSHDOCTOR_ASKPASS"
#define ASKPASS_MAX 1024	/* bytes of password, of prompt */

/* What ssh asked for (its prompt, argv[1] of the askpass program). */
enum ap_kind {
	AP_PASSWORD,	/* "user@host's password: " or keyboard-interactive "(user@host) Password:" */
	AP_OTHER_HOST,	/* a password prompt for another user or host (a jump host): not ours */
	AP_UNSUPPORTED,	/* keyboard-interactive that is not a password: OTP, verification code */
	AP_REFUSE,	/* anything else (host key confirmation, key passphrase): answer no */
};

/* Pure: classifies one prompt of ssh for the login user@host. */
enum ap_kind askpass_classify(const char *prompt, const char *user, const char *host);

/* The answer to one prompt. */
enum ap_verdict { AP_ANSWER, AP_NO, AP_STOP_WRONG, AP_STOP_UNSUPPORTED };

#define AP_MAX_CONNS 256
/* Pure state: which ssh processes (connections) already got the password. */
struct ap_state {
	pid_t conns[AP_MAX_CONNS];
	int nconns;
	int stopped;		/* a wrong password or an unsupported prompt: answer nothing more */
};

/* Pure: decides the answer to a prompt of kind k from the ssh process conn. A
 * second password prompt from the same ssh means the first answer was wrong. */
enum ap_verdict askpass_decide(struct ap_state *s, pid_t conn, enum ap_kind k);

/* Pure: from ssh's "Permission denied (publickey,password)." the method to use:
 * "password", "keyboard-interactive", or NULL when the server takes neither. */
const char *askpass_method(const char *denied);

/* Checks that peer (from SO_PEERCRED) is the askpass program of an ssh that is a
 * direct child of self: same uid, the same executable as ours, its parent named
 * "ssh" whose parent is self. Returns the ssh's pid, or -1. */
pid_t askpass_peer_conn(pid_t peer, uid_t peer_uid, pid_t self);

/* Holds secret (len bytes; copied into locked memory) and serves it on a fresh
 * abstract socket from a thread, for prompts of user@host; sets ASKPASS_ENV,
 * SSH_ASKPASS (our own binary) and SSH_ASKPASS_REQUIRE=force for children.
 * Returns 0 or -1 with *err. Also used by the unit tests. */
int askpass_serve(const char *secret, size_t len, const char *user, const char *host,
		  const char *method, char **err);

/* 1 once a password is being served. */
int askpass_active(void);
/* Wipes the secret, closes the socket (at exit, from signal handlers: async-signal-safe). */
void askpass_wipe(void);

/* The ssh options for a login: BatchMode=yes, or (a password being served)
 * BatchMode=no, PreferredAuthentications=<method>, NumberOfPasswordPrompts=1. */
void askpass_ssh_opts(struct strvec *argv);

/* Batch-mode login failed with denied (ssh's last error line). When the server
 * takes a password, stdin is a terminal and none is served yet: prompts once
 * (no echo, naming user@host), proves it with one login, and serves it. A wrong
 * password (the one failed attempt) prints one line and exits. Returns 1 when a
 * password is now served, 0 when not offered, -1 with a message on stderr. */
int askpass_offer(const struct target *t, const struct sshopts *so, const char *denied);

/* Milliseconds spent so far waiting for the person to type: deadlines that
 * span a prompt move by that much. */
int64_t askpass_typing_ms(void);

/* The askpass program (ssh runs us with the prompt): asks the server over the
 * socket named by ASKPASS_ENV and prints the answer. Returns the exit code. */
int askpass_client(const char *prompt);

#endif
