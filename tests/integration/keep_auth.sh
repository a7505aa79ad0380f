#!/bin/bash
# keep never hammers a server that refuses it: a tunnel whose key is refused
# from the start stops after one login attempt (exit 2, says why); a tunnel
# that was up and then gets refused makes a bounded number of slow, logged
# tries (--auth-retries, --auth-wait x3) and comes back when the key is
# accepted again, or stops when it is not. Counted on sshd's side too. A
# changed host key stops at once.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/lab/keep_helpers.sh"

LAB_SSHD_EXTRA="$(keep_sshd_extra)"
lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
ok 0 "lab up (OpenSSH $LAB_SSHD_VERSION)"
trap 'keep_stop; lab_down' EXIT
PORT=7002
FWD=(-- -L "127.0.0.1:$PORT:127.0.0.1:22")

# 1. refused from the start: one attempt, stop
: >"$LAB_DIR/authorized_keys"
c0=$(nat_connections)
keep_start "$LAB_DIR/k1.err" --name a1 -F "$LAB_SSH_CONFIG" lab "${FWD[@]}"
for i in $(seq 1 100); do kill -0 "$KEEP_PID" 2>/dev/null || break; sleep 0.1; done
wait "$KEEP_PID"
rc=$?
KEEP_PID=""
is "$rc" 2 "refused from the start: keep stops with exit 2"
like "$(cat "$LAB_DIR/k1.err")" 'stopped: authentication refused; not retrying' "refused from the start: says so"
like "$(cat "$LAB_DIR/k1.err")" 'fix: keep runs with BatchMode yes' "refused from the start: says what to check"
is $(($(nat_connections) - c0)) 1 "refused from the start: sshd saw exactly one connection"
is "$(keep_state a1 | jget state)" stopped "refused from the start: state file says stopped"
is "$(keep_state a1 | jget last_cause)" auth-refused "refused from the start: state file names auth-refused"

# 2. up, then refused, then accepted again: slow tries, recovery
cp "$LAB_DIR/id_client.pub" "$LAB_DIR/authorized_keys"
ERR="$LAB_DIR/k2.err"
keep_start "$ERR" --name a2 --alive-interval 1 --auth-wait 2s -F "$LAB_SSH_CONFIG" lab "${FWD[@]}"
ms=$(wait_fwd $PORT 15)
ok $? "up ($ms ms)"
: >"$LAB_DIR/authorized_keys"
c0=$(nat_connections)
kill_sessions
wait_log "$ERR" 'attempt [0-9]+ failed \(auth-refused\)' 10
ok $? "refused after being up: the attempt is logged as auth-refused"
wait_log "$ERR" 'authentication was refused \(it worked before\): slow try in 2.0s' 5
ok $? "refused after being up: a slow try (2 s)"
sleep 1
cp "$LAB_DIR/id_client.pub" "$LAB_DIR/authorized_keys"
ms=$(wait_fwd $PORT 15)
ok $? "accepted again: the forward carries bytes ($ms ms after the key is back)"
n=$(($(nat_connections) - c0))
ok $((n >= 2 && n <= 3 ? 0 : 1)) "accepted again: $n logins in all (one refused, then the one that worked)"
keep_stop

# 3. up, then refused for good: 1 + --auth-retries attempts, then stop
ERR="$LAB_DIR/k3.err"
keep_start "$ERR" --name a3 --alive-interval 1 --auth-wait 1s --auth-retries 2 -F "$LAB_SSH_CONFIG" lab "${FWD[@]}"
ms=$(wait_fwd $PORT 15)
ok $? "up again ($ms ms)"
: >"$LAB_DIR/authorized_keys"
c0=$(nat_connections)
t0=$(date +%s)
kill_sessions
for i in $(seq 1 200); do kill -0 "$KEEP_PID" 2>/dev/null || break; sleep 0.1; done
wait "$KEEP_PID"
rc=$?
KEEP_PID=""
el=$(($(date +%s) - t0))
is "$rc" 2 "refused for good: keep stops with exit 2 (after ${el} s)"
is "$(grep -c 'failed (auth-refused)' "$ERR")" 3 "refused for good: 3 attempts logged (1 + --auth-retries 2)"
is $(($(nat_connections) - c0)) 3 "refused for good: sshd saw exactly 3 logins"
ok $((el >= 4 && el <= 12 ? 0 : 1)) "refused for good: the tries were spaced (1 s, then 3 s: ${el} s in all)"
like "$(cat "$ERR")" 'stopped: authentication refused again' "refused for good: says so"

# 4. the host key changed: stop at once
cp "$LAB_DIR/id_client.pub" "$LAB_DIR/authorized_keys"
ssh-keygen -q -t ed25519 -N '' -f "$LAB_DIR/otherhost" -C other
echo "$LAB_SERVER_IP $(cut -d' ' -f1,2 "$LAB_DIR/otherhost.pub")" >"$LAB_DIR/known_bad"
keep_start "$LAB_DIR/k4.err" --name a4 -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$LAB_DIR/known_bad" \
	-F "$LAB_SSH_CONFIG" lab "${FWD[@]}"
for i in $(seq 1 100); do kill -0 "$KEEP_PID" 2>/dev/null || break; sleep 0.1; done
wait "$KEEP_PID"
is "$?" 2 "host key changed: keep stops with exit 2"
KEEP_PID=""
like "$(cat "$LAB_DIR/k4.err")" 'stopped: hostkey-changed' "host key changed: says so"
# one attempt with the changed key, the last; any before it are the penalty that
# step 3's refused logins earned on 10.0 (PerSourcePenalties authfail), waited out
tries=$(grep -o 'attempt [0-9]* failed ([a-z-]*)' "$LAB_DIR/k4.err" | sed 's/.*(\(.*\))/\1/' | tr '\n' ' ')
like "$tries" '^(penalty )*hostkey-changed $' "host key changed: one attempt, the last (attempts: $tries)" ||
	sed 's/^/# k4: /' "$LAB_DIR/k4.err"
is "$(client_ssh_pids)" "" "no ssh left behind"
done_testing
