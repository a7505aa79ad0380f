#!/bin/bash
# keep waits out a server that is refusing this address instead of adding to
# it: on OpenSSH 10 (PerSourcePenalties) bare handshakes from the client's
# address get it penalised; on 9.2 (no penalties) MaxStartups 3:100:3 is held
# full by three unauthenticated connections. Then the tunnel's session is
# killed: keep's next login is dropped before the banner, keep names it
# "penalty", waits at least sshd's 15 s enforcement threshold (not the
# backoff), and is up again once the server lets it in.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/lab/keep_helpers.sh"

LAB_SSHD_EXTRA="$(keep_sshd_extra)"
[ "${LAB_OPENSSH:-9.2}" = 9.2 ] && LAB_SSHD_EXTRA="$LAB_SSHD_EXTRA
MaxStartups 3:100:3"
lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
ok 0 "lab up (OpenSSH $LAB_SSHD_VERSION)"
hold=""
trap 'keep_stop; [ -n "$hold" ] && kill "$hold" 2>/dev/null; lab_down' EXIT
ERR="$LAB_DIR/keep.err"
PORT=7004
keep_start "$ERR" --name pn --alive-interval 1 --alive-count 2 -F "$LAB_SSH_CONFIG" lab \
	-- -L "127.0.0.1:$PORT:127.0.0.1:22"
ms=$(wait_fwd $PORT 15)
ok $? "up ($ms ms)"
if [ "${LAB_SSHD_VERSION%%.*}" -ge 10 ]; then
	lab_c python3 -c 'import socket,time
for _ in range(40):
    try:
        s=socket.create_connection(("203.0.113.2",22),timeout=2); s.recv(64); s.close()
    except OSError: pass
    time.sleep(0.05)'
	grep -q 'activating .* penalty' "$LAB_DIR/sshd.log"
	ok $? "ground truth: sshd penalised the client's address"
else
	lab_c python3 -c 'import socket,time
ss=[socket.create_connection(("203.0.113.2",22)) for _ in range(3)]; time.sleep(12)' &
	hold=$!
	sleep 0.5
	ok 0 "ground truth: MaxStartups 3:100:3 held full for 12 s"
fi
t0=$(date +%s%N)
kill_sessions
wait_log "$ERR" 'attempt [0-9]+ failed \(penalty\)' 15
ok $? "the dropped login is named penalty"
wait_log "$ERR" 'the server is refusing us: waiting the penalty out in (1[6-9]|[2-9][0-9])s' 5
ok $? "keep waits at least 16 s (sshd's enforcement threshold), not the backoff"
ms=$(wait_fwd $PORT 120)
ok $? "up again once the server lets us in"
el=$((($(date +%s%N) - t0) / 1000000))
n=$(grep -c 'failed (penalty)' "$ERR")
echo "# down ${el} ms; $n login attempts dropped while refused"
ok $((n >= 1 && n <= 3 ? 0 : 1)) "attempts while refused: $n (bounded)"
if [ "${LAB_SSHD_VERSION%%.*}" -ge 10 ]; then
	d=$(grep -c "drop connection #[0-9]* from \[$LAB_ROUTER_SIP\]" "$LAB_DIR/sshd.log")
	echo "# sshd dropped $d connections from the client's address (the 40 bare ones and keep's)"
fi
done_testing
