#!/bin/bash
# Failures that must end in seconds with one clear finding and exit 3, not after
# --max: login refused, server unreachable, remote command missing. And usage errors.
. "$(dirname "$0")/lib.sh"

# usage errors need no lab
"$SSHDOCTOR" idle --max 5h host >/dev/null 2>&1
is "$?" 64 "--max above 4h: usage error"
"$SSHDOCTOR" idle --via carrier-pigeon host >/dev/null 2>&1
is "$?" 64 "--via unknown: usage error"
"$SSHDOCTOR" idle --connections 0 host >/dev/null 2>&1
is "$?" 64 "--connections 0: usage error"
err=$("$SSHDOCTOR" idle 2>&1 >/dev/null)
is "$?" 64 "missing target: usage error"
like "$err" 'missing TARGET' "says what is missing"
"$SSHDOCTOR" echo-server --listen nonsense:port >/dev/null 2>&1
is "$?" 64 "echo-server: bad --listen"

LAB_CT_TIMEOUT=20
lab_setup || { ok 1 "lab up"; done_testing; exit 1; }

# a key the server does not know
ssh-keygen -q -t ed25519 -N '' -f "$LAB_DIR/stranger"
sed "s|IdentityFile .*|IdentityFile $LAB_DIR/stranger|" "$LAB_SSH_CONFIG" >"$LAB_DIR/stranger_config"
check_fast_fail() {	# name id args...
	local name=$1 id=$2 start out rc took
	shift 2
	start=$(date +%s)
	out=$(sd_c --json idle --max 30m "$@" 2>"$LAB_DIR/err")
	rc=$?
	took=$(( $(date +%s) - start ))
	is "$rc" 3 "$name: exit 3"
	is "$(echo "$out" | jget findings.0.id)" "$id" "$name: finding $id"
	is "$(echo "$out" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["findings"]))')" 1 \
		"$name: one finding"
	[ "$took" -le 15 ]
	ok $? "$name: within seconds (${took}s)"
}
check_fast_fail "auth failure" idle.auth-failed -F "$LAB_DIR/stranger_config" lab
check_fast_fail "unreachable" idle.unreachable -p 2 -F "$LAB_SSH_CONFIG" lab
check_fast_fail "unreachable (tcp)" idle.unreachable --via tcp 203.0.113.2:7
is "$(ip netns pids "$LAB_C" | wc -l)" 0 "no process left in the client namespace"
lab_down
trap - EXIT INT TERM

# a server that would take a password: batch-mode login is impossible, so idle
# falls back to unauthenticated connections and says so (an explicit --via ssh
# does not)
LAB_CT_TIMEOUT=5 LAB_EXPIRY=reset LAB_SSHD_EXTRA="PasswordAuthentication yes"
lab_setup || { ok 1 "lab up (password)"; done_testing; exit 1; }
sed "s|IdentityFile .*|IdentityFile $LAB_DIR/stranger|" "$LAB_SSH_CONFIG" >"$LAB_DIR/stranger_config"
ssh-keygen -q -t ed25519 -N '' -f "$LAB_DIR/stranger"
out=$(sd_c --json idle --max 1m -F "$LAB_DIR/stranger_config" lab 2>"$LAB_DIR/err" </dev/null)
ids=$(echo "$out" | python3 -c 'import json,sys; print(" ".join(f["id"] for f in json.load(sys.stdin)["findings"]))')
like "$ids" 'idle\.fallback-preauth' "password-only login: falls back to preauth and says so"
is "$(echo "$out" | jget measurements.idle.via)" preauth "fallback: via preauth"
is "$(echo "$out" | jget measurements.idle.found)" true "fallback: the timeout is still found"
check_fast_fail "explicit --via ssh, password-only" idle.auth-failed --via ssh -F "$LAB_DIR/stranger_config" lab
lab_down
trap - EXIT INT TERM

# the server cannot run the remote command
LAB_SSHD_EXTRA="ForceCommand /nonexistent/cat"
lab_setup || { ok 1 "lab up (ForceCommand)"; done_testing; exit 1; }
check_fast_fail "remote command missing" idle.remote-command -F "$LAB_SSH_CONFIG" lab
done_testing
