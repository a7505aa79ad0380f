/* budget.h - a per-server budget of unauthenticated connections, so that no
 * command gets the user's address penalised by sshd's PerSourcePenalties (on by
 * default since OpenSSH 9.8).
 *
 * sshd's model (srclimit.c, sshd_config(5) of 10.0): every connection whose
 * preauth child exits without authenticating adds a penalty to its source
 * address: noauth 1 s (closed without attempting authentication), authfail 5 s,
 * grace-exceeded 10 s (LoginGraceTime ran out). Penalties accumulate: a
 * source's expiry moves forward by each penalty and decays in real time; once
 * it is more than `min` (15 s) ahead of now, the address is refused until it
 * expires. We keep the same ledger on our side, per server address and port, in
 * $XDG_STATE_HOME/sshdoctor/budget/, so that commands run close together share
 * it, and spend only while the outstanding penalty stays under BUDGET_LIMIT_S. */
#ifndef SSHDOCTOR_BUDGET_H
#define SSHDOCTOR_BUDGET_H

#define BUDGET_NOAUTH_S 1.0	/* sshd default noauth:1s */
#define BUDGET_AUTHFAIL_S 5.0	/* authfail:5s */
#define BUDGET_GRACE_S 10.0	/* grace-exceeded:10s */
#define BUDGET_MIN_S 15.0	/* min:15s: enforcement starts past this */
/* Ours: about half of min, so the user's own logins (and a failed one of ours)
 * still have room before sshd starts refusing. */
#define BUDGET_LIMIT_S 8.0

/* --- pure (unit-tested) ----------------------------------------------------- */

/* Whether an SSH software version (the banner's "OpenSSH_10.0p2 Debian-7") may
 * penalise: 0 OpenSSH before 9.8, 1 OpenSSH 9.8 or later, -1 unknown (empty,
 * unparsable, or another implementation: treat as may-penalise). */
int budget_version_penalises(const char *software);
/* Seconds of penalty still outstanding at `now` (epoch seconds). */
double budget_outstanding(double debt_until, double now);
/* How many of `want` connections of `cost` seconds each fit under `limit`. */
int budget_fit(double debt_until, double now, double cost, int want, double limit);
/* The ledger after n more connections of `cost` seconds, as sshd accumulates. */
double budget_add(double debt_until, double now, double cost, int n);

/* --- the stored ledger --------------------------------------------------------- */

struct budget {
	double debt_until;	/* epoch seconds; <= now: nothing outstanding */
	char software[96];	/* last seen server software ("" unknown) */
};

/* Loads the ledger of addr:port (zeroed when there is none). */
void budget_load(const char *addr, int port, struct budget *b);
/* Whether the server may penalise: from `software` when given, else from the
 * software stored by an earlier command. 1 may (or unknown), 0 known not to. */
int budget_risky(const char *addr, int port, const char *software);
/* Takes up to `want` connections of `cost` seconds from the budget of a server
 * that may penalise (locked read-modify-write, so concurrent commands share it);
 * returns how many were granted (0..want). */
int budget_take(const char *addr, int port, int want, double cost);
/* Charges connections that happened anyway (a failed login, a dead preauth
 * connection the server will time out). */
void budget_charge(const char *addr, int port, int n, double cost);
/* Remembers the server's software version (from a banner or a login). */
void budget_note_software(const char *addr, int port, const char *software);
/* Seconds of penalty outstanding for addr:port now (0 when none). */
double budget_wait_s(const char *addr, int port);

#endif
