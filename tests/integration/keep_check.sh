#!/bin/bash
# keep --check: a tunnel that is up but carries nothing is restarted. The
# user's own ServerAliveInterval 600 wins over keep's (their -o comes first),
# so ssh alone would sit on a dead path for half an hour; the health check
# through the forward notices within two failed checks and restarts it. The
# look-alike: on a healthy path the same checks pass and nothing restarts.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/lab/keep_helpers.sh"

LAB_SSHD_EXTRA="$(keep_sshd_extra)"
lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
ok 0 "lab up (OpenSSH $LAB_SSHD_VERSION)"
trap 'keep_stop; lab_down' EXIT
ERR="$LAB_DIR/keep.err"
PORT=7005
keep_start "$ERR" --name ck --check "tcp:127.0.0.1:$PORT" --check-interval 1s --check-timeout 1s \
	-o ServerAliveInterval=600 -F "$LAB_SSH_CONFIG" lab -- -L "127.0.0.1:$PORT:127.0.0.1:22"
ms=$(wait_fwd $PORT 15)
ok $? "up ($ms ms)"
sleep 6
is "$(grep -c 'fell after' "$ERR")" 0 "healthy path, 6 s of checks every second: no restart"
is "$(keep_state ck | jget check)" "tcp:127.0.0.1:$PORT" "state file: the check"
cutpath drop
t0=$(date +%s%N)
wait_log "$ERR" 'fell after .* \(check-failed\)' 15
ok $? "dead path under a 600 s keepalive: the check notices (check-failed)"
ms=$((($(date +%s%N) - t0) / 1000000))
ok $((ms < 8000 ? 0 : 1)) "noticed ${ms} ms after the cut (two checks of 1 s, 0.25-1 s apart)"
like "$(cat "$ERR")" "the forward 127.0.0.1:$PORT carried nothing twice" "says the forward carried nothing"
sleep 2
cutpath none
ms=$(wait_fwd $PORT 30)
ok $? "the forward carries bytes again ${ms} ms after the path is back"
is "$(client_ssh_pids | wc -w)" 1 "one ssh (the hung one was ended, not left behind)"
done_testing
