#!/bin/bash
# `logs` on fixtures captured from OpenSSH 10.0's sshd / sshd-session (the same
# provocations as the 9.2 fixtures: LAB_OPENSSH=10 tests/lab/capture_logs.sh
# tests/fixtures/logs/openssh-10). 10.0 writes some lines differently
# ("drop connection ... Maxstartups", "srclimit_penalise: ... deferred penalty"):
# every line must still be recognised, with the same events in every form.
. "$(dirname "$0")/lib.sh"
FIX="$ROOT/tests/fixtures/logs/openssh-10"
m() { "$SSHDOCTOR" --json logs "$@" | python3 -c 'import json,sys; m=json.load(sys.stdin)["measurements"]["logs"]; print(m["unrecognized_ssh_lines"], sorted((k,v) for k,v in m["events"].items() if v), m["sessions"]["count"], m["sessions"]["by_end"])'; }
raw=$(m "$FIX/lab-raw.log")
like "$raw" "^0 " "10.0 raw: every sshd line recognised"
like "$raw" "'disconnect.user', 3" "10.0 raw: 3 user disconnects"
like "$raw" "'disconnect.client-timeout', 2" "10.0 raw: 2 ClientAlive timeouts"
like "$raw" "'limit.maxstartups', [1-9]" "10.0 raw: MaxStartups drops (10.0 writes 'Maxstartups')"
like "$raw" "'kex.no-match', 1" "10.0 raw: no matching cipher"
like "$raw" "'banner.invalid', 1" "10.0 raw: invalid banner"
like "$raw" "'auth.failure', 1" "10.0 raw: failed publickey"
like "$raw" "'server.restart', 1" "10.0 raw: sshd restart"
for f in lab-syslog.log lab-short-iso.log lab-journal.json; do
	is "$(m "$FIX/$f")" "$raw" "10.0 fixture $f: same events and sessions as the raw form"
done
out=$("$SSHDOCTOR" --json logs "$FIX/lab-syslog.log")
ok "$(printf '%s' "$out" | bad_findings | grep -c 'idle-timeout')" "10.0: no idle-timeout alarm from a capture without one"
done_testing
