#!/bin/bash
# keep against a ban that every SYN starts over (LAB_BAN: past 3 new connections
# a minute the client's address is dropped for 20 s, refreshed by each SYN it
# sends while banned, as iptables recent --update does). A burst of new
# connections from the client gets it banned, then the tunnel's session is
# killed. Retrying on the usual backoff (at most 15 s apart, each try racing
# SYNs) would keep the address banned for ever; keep must give up knocking
# after KEEP_QUIET_AFTER unanswered attempts, stay quiet past the ban, and come
# back up by itself. Ground truth: the router's ban set, polled. Then Ctrl-C.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/lab/keep_helpers.sh"

BAN_S=20
LAB_BAN="3/minute:$BAN_S"
LAB_SSHD_EXTRA="$(keep_sshd_extra)"
lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
ok 0 "lab up (OpenSSH $LAB_SSHD_VERSION)"
poller=""
trap 'keep_stop; [ -n "$poller" ] && kill "$poller" 2>/dev/null; lab_down' EXIT
ERR="$LAB_DIR/keep.err"
PORT=7005

keep_start "$ERR" --name bn --alive-interval 1 --alive-count 2 -F "$LAB_SSH_CONFIG" lab \
	-- -o ConnectTimeout=3 -L "127.0.0.1:$PORT:127.0.0.1:22"
ms=$(wait_fwd $PORT 15)
ok $? "up ($ms ms)"
# the client's own burst of new connections trips the limit
lab_c python3 -c 'import socket
for _ in range(6):
    try:
        socket.create_connection(("203.0.113.2",22),timeout=1).close()
    except OSError: pass'
lab_banned
ok $? "ground truth: the router banned the client's address"
t0=$(date +%s%N)
# the ban set, every 0.2 s (bounded): when it first was empty again
(for _ in $(seq 1 900); do
	lab_banned || { echo $((($(date +%s%N) - t0) / 1000000)) >"$LAB_DIR/ban_lapsed"; exit 0; }
	sleep 0.2
done) &
poller=$!
kill_sessions
wait_log "$ERR" 'no answer from sshd.*going quiet' 40
ok $? "keep stops knocking after unanswered attempts"
n=$(grep -Ec 'attempt [0-9]+ failed \((connect-timeout|refused)\)' "$ERR")
is "$n" 3 "quiet after exactly 3 unanswered attempts"
like "$(grep 'going quiet' "$ERR" | head -1)" ' in 3[0-3]s$' "quiet for 30-33 s"
ms=$(wait_fwd $PORT 90)
ok $? "up again once the ban lapsed"
up=$((($(date +%s%N) - t0) / 1000000))
wait "$poller" 2>/dev/null
poller=""
lapsed=$(cat "$LAB_DIR/ban_lapsed" 2>/dev/null || echo -1)
echo "# ban lapsed at ${lapsed} ms, up again at ${up} ms"
# banned before t0: unrefreshed, it would have lapsed by BAN_S s after it
[ "$lapsed" -gt $((BAN_S * 1000 + 3000)) ]
ok $? "ground truth: keep's knocking started the ban over (it outlived its ${BAN_S} s)"
[ "$lapsed" -gt 0 ] && [ "$lapsed" -le "$up" ]
ok $? "ground truth: the ban lapsed while keep was quiet, before it was up"
n=$(grep -Ec 'attempt [0-9]+ failed' "$ERR")
ok $((n <= 4 ? 0 : 1)) "attempts while banned: $n (bounded)"
like "$(grep 'up again after' "$ERR" | tail -1)" 'up again after' "keep logs the recovery"
! lab_banned
ok $? "not banned at the end"

# Ctrl-C: the terminal sends SIGINT to the foreground group (keep and its ssh):
# keep, ssh and every child gone at once, the state file removed
pids=$(client_ssh_pids)
ok $([ -n "$pids" ]; echo $?) "an ssh runs under keep (pid $pids)"
t0=$(date +%s%N)
# shellcheck disable=SC2086
kill -INT "$KEEP_PID" $pids
for _ in $(seq 1 50); do kill -0 "$KEEP_PID" 2>/dev/null || break; sleep 0.1; done
ms=$((($(date +%s%N) - t0) / 1000000))
! kill -0 "$KEEP_PID" 2>/dev/null
ok $? "SIGINT: keep gone in ${ms} ms"
wait "$KEEP_PID"
is "$?" 0 "SIGINT: keep exits 0 (it was told to stop)"
KEEP_PID=""
ok $((ms < 2500 ? 0 : 1)) "SIGINT: within 2.5 s"
for _ in $(seq 1 30); do [ "$(ip netns pids "$LAB_C" | wc -l)" = 0 ] && break; sleep 0.1; done
is "$(ip netns pids "$LAB_C" | wc -l)" 0 "SIGINT: no process left in the client namespace (ssh, relay, watcher)"
ok $([ ! -e "$LAB_DIR/state/sshdoctor/keep/bn.json" ]; echo $?) "SIGINT: the state file is removed"
done_testing
