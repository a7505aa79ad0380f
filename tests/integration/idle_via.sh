#!/bin/bash
# The other two ways to hold a connection idle: raw TCP to `sshdoctor
# echo-server` on the far end (--via tcp), and unauthenticated connections to
# the SSH port that stop after the version exchange (--via preauth).
. "$(dirname "$0")/lib.sh"

T=5
check_found() {	# name want_expiry out
	local name=$1 want=$2 out=$3
	is "$(echo "$out" | jget measurements.idle.found)" true "$name: found"
	local lo up
	lo=$(echo "$out" | jget measurements.idle.lower_s)
	up=$(echo "$out" | jget measurements.idle.upper_s)
	python3 -c "import sys; lo,up,T=map(float,sys.argv[1:]); sys.exit(0 if lo < T+0.3 and up >= T-0.3 and up-lo <= 2 else 1)" \
		"$lo" "$up" "$T"
	ok $? "$name: bracket ($lo, $up] contains T=$T, width <= 2 s"
	is "$(echo "$out" | jget measurements.idle.expiry)" "$want" "$name: expiry $want"
}

LAB_CT_TIMEOUT=$T LAB_EXPIRY=reset
lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
# ip netns exec and env exec in place: $! is the echo server itself
ip netns exec "$LAB_S" env HOME="$LAB_DIR/home" "$SSHDOCTOR" echo-server --listen "$LAB_SERVER_IP:7777" --for 2m \
	>"$LAB_DIR/echo.out" 2>"$LAB_DIR/echo.err" &
echo_pid=$!
for i in $(seq 1 40); do
	grep -q listening "$LAB_DIR/echo.err" 2>/dev/null && break
	sleep 0.1
done
like "$(cat "$LAB_DIR/echo.err")" 'listening on 203\.0\.113\.2:7777' "echo-server listens"
out=$(sd_c --json idle --via tcp --max 1m "$LAB_SERVER_IP:7777" 2>"$LAB_DIR/err")
is "$?" 2 "via tcp: exit 2"
is "$(echo "$out" | jget measurements.idle.via)" tcp "via tcp"
check_found "via tcp" reset "$out"
is "$(echo "$out" | jget target.port)" 7777 "via tcp: target port"
kill -TERM "$echo_pid"
wait "$echo_pid"
is "$?" 0 "echo-server ends cleanly on SIGTERM"
like "$(cat "$LAB_DIR/echo.out")" 'Echoed [0-9]+ connection' "echo-server reports what it served"

out=$(sd_c --json idle --via preauth --max 1m -F "$LAB_SSH_CONFIG" lab 2>"$LAB_DIR/err")
is "$?" 2 "via preauth: exit 2"
is "$(echo "$out" | jget measurements.idle.via)" preauth "via preauth"
check_found "via preauth" reset "$out"
n=$(echo "$out" | jget measurements.idle.connections)
like "$(echo "$out" | python3 -c 'import json,sys; print(" ".join(f["id"] for f in json.load(sys.stdin)["findings"]))')" \
	'idle\.preauth' "via preauth: says what preauth cannot see"
! grep -q 'past MaxStartups' "$LAB_DIR/sshd.log"
ok $? "via preauth: stays under MaxStartups ($n connections)"
is "$(ip netns pids "$LAB_C" | wc -l)" 0 "no process left in the client namespace"
lab_down
trap - EXIT INT TERM

# preauth connections are cut by LoginGraceTime: idle says how far it could see
LAB_CT_TIMEOUT=30 LAB_EXPIRY=drop LAB_SSHD_EXTRA="LoginGraceTime 8"
lab_setup || { ok 1 "lab up (LoginGraceTime)"; done_testing; exit 1; }
out=$(sd_c --json idle --via preauth --max 2m -F "$LAB_SSH_CONFIG" lab 2>"$LAB_DIR/err")
is "$?" 0 "LoginGraceTime 8: exit 0"
is "$(echo "$out" | jget measurements.idle.found)" false "LoginGraceTime 8: no timeout claimed"
# below 10 s: 10.0 arms LoginGraceTime in sshd-session, after its exec, which a
# loaded runner delays by a second or two (probes step by 3 s: 3, 6, 9 s)
like "$(echo "$out" | jget findings.0.title)" 'No idle timeout below [0-9](\.[0-9])?s' "LoginGraceTime 8: says how far it could see"
like "$(echo "$out" | jget findings.1.evidence)" 'closed unauthenticated connections after [0-9]+ s' \
	"LoginGraceTime 8: names the cut"
done_testing
