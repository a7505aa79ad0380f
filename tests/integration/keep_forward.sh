#!/bin/bash
# keep and a remote forward the server still holds: the tunnel's flow (-R 9000)
# vanishes both ways, as when the client's address changes under a NAT; keep
# notices and logs in again at once, but the server has not yet reaped the dead
# session, so port 9000 is taken: keep says so (forward-held), prescribes the server's
# ClientAliveInterval/CountMax, retries at the rate reaping allows (not in a
# loop), and is up once sshd reaps the dead session (ClientAlive 4 s x 3 here).
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/lab/keep_helpers.sh"

LAB_SSHD_EXTRA="$(keep_sshd_extra)
ClientAliveInterval 4
ClientAliveCountMax 3"
lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
ok 0 "lab up (OpenSSH $LAB_SSHD_VERSION)"
trap 'keep_stop; lab_down' EXIT
ERR="$LAB_DIR/keep.err"
# the server's port 9000 leads back to the client's sshd-less 127.0.0.1:22?
# No: to the server's own sshd, so a byte through it proves the forward is up.
srv_fwd_ok() {
	lab_s python3 -c 'import socket,sys
try:
    s=socket.create_connection(("127.0.0.1",9000),timeout=1); s.settimeout(1)
    sys.exit(0 if s.recv(4)==b"SSH-" else 1)
except OSError: sys.exit(1)'
}
keep_start "$ERR" --name rf --alive-interval 1 --alive-count 2 -F "$LAB_SSH_CONFIG" lab \
	-- -R "9000:$LAB_SERVER_IP:22"
wait_log "$ERR" 'keep: rf: up \(' 15
ok $? "up once the server confirmed the remote forward"
srv_fwd_ok
ok $? "the server's port 9000 carries bytes"

n=$(block_flows)
ok $((n == 1 ? 0 : 1)) "the tunnel's flow vanishes (as when the client's address changes): $n flow blocked"
restored=$(date +%s%N)
wait_log "$ERR" 'fell after .* \(path-silent\)' 15
ok $? "the dead flow is noticed (path-silent)"
wait_log "$ERR" 'attempt [0-9]+ failed \(forward-held\)' 15
ok $? "the new login: the server still holds port 9000 (forward-held)"
wait_log "$ERR" 'the server still holds remote port 9000' 5
ok $? "says which port"
wait_log "$ERR" 'fix: on the server: ClientAliveInterval 15 and ClientAliveCountMax 3' 5
ok $? "prescribes the server's ClientAlive settings"
wait_log "$ERR" 'up again after .* \(path-silent' 60
ok $? "up again once sshd reaped the dead session"
ms=$((($(date +%s%N) - restored) / 1000000))
echo "# from the flow vanishing to up again: ${ms} ms (sshd gives up after 4 s x (3+1) = 16 s)"
srv_fwd_ok
ok $? "the server's port 9000 carries bytes again"
n=$(grep -c 'failed (forward-held)' "$ERR")
ok $((n >= 1 && n <= 3 ? 0 : 1)) "retries at the rate reaping allows: $n forward-held attempts, not a loop"
wait_log "$ERR" 'the listener is still held: trying again once the server may have reaped it in 1[0-9]' 5
ok $? "the wait after forward-held is ~10 s"
grep -q "Timeout, client not responding" "$LAB_DIR/sshd.log"
ok $? "ground truth: sshd reaped the dead session by ClientAlive"
done_testing
