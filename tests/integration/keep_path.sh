#!/bin/bash
# keep: a local forward through the lab's NAT comes back by itself after the
# path is cut silently and with RSTs, and after sshd is restarted (sessions
# killed, port closed for a while); each fall logged with its cause and
# downtime, in the state file and the history store; recovery timed from the
# moment the path is back to the first byte through the forward. SIGTERM ends
# keep, ssh and every child at once.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/lab/keep_helpers.sh"

LAB_SSHD_EXTRA="$(keep_sshd_extra)"
lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
ok 0 "lab up (OpenSSH $LAB_SSHD_VERSION)"
trap 'keep_stop; lab_down' EXIT
ERR="$LAB_DIR/keep.err"
PORT=7001
keep_start "$ERR" --name t1 --alive-interval 1 --alive-count 2 -F "$LAB_SSH_CONFIG" lab \
	-- -L "127.0.0.1:$PORT:127.0.0.1:22"
ms=$(wait_fwd $PORT 15)
ok $? "the forward carries bytes (${ms} ms after start)"
is "$(keep_state t1 | jget state)" up "state file: up"
wait_log "$ERR" 'keep: t1: up \(1 forward; keepalive 1 s x 2, given\)' 5
ok $? "logged: up, with its keepalive"

for mode in drop reset; do
	cutpath $mode
	cut_at=$(date +%s%N)
	want=path-silent
	[ $mode = reset ] && want=path-reset
	wait_log "$ERR" "fell after .* \\($want\\)" 15
	ok $? "$mode: the fall is noticed and named $want"
	fell_ms=$((($(date +%s%N) - cut_at) / 1000000))
	echo "# $mode: fall noticed ${fell_ms} ms after the cut (keepalive 1 s x 2)"
	sleep 4
	fwd_ok $PORT
	ok $((! $?)) "$mode: nothing through the forward while the path is cut"
	cutpath none
	ms=$(wait_fwd $PORT 30)
	ok $? "$mode: the forward carries bytes again, ${ms} ms after the path is back"
	ok $((ms >= 0 && ms < 16000 ? 0 : 1)) "$mode: recovered within the backoff cap plus a login (${ms} ms < 16 s)"
	wait_log "$ERR" "up again after .* down \\($want" 5
	ok $? "$mode: logged: up again, with the downtime and the cause"
done
n=$(grep -c 'attempt [0-9]* failed' "$ERR")
echo "# failed attempts while cut (both cuts): $n"
ok $((n <= 24 ? 0 : 1)) "attempts while cut are bounded by the backoff ($n)"

# sshd restarted: every session killed, the port closed for 3 s
lab_sshd_stop
kill_sessions
wait_log "$ERR" 'fell after .* \(server-closed\)' 10
ok $? "sshd restart: the fall is named server-closed"
# the relay races SYNs through "refused" for ConnectTimeout (10 s), then says so
wait_log "$ERR" 'attempt [0-9]* failed \(refused\)' 16
ok $? "sshd restart: tries while the port is closed are 'refused'"
sleep 2
lab_sshd_start
ms=$(wait_fwd $PORT 20)
ok $? "sshd restart: the forward carries bytes again ${ms} ms after sshd is back"
# the look-alike of keep_ban: outages this short never make keep go quiet
! grep -q 'going quiet' "$ERR"
ok $? "short outages (cuts, a restart): keep never went quiet"

st=$(keep_state t1)
is "$(printf '%s' "$st" | jget restarts)" 3 "state file: 3 restarts"
is "$(printf '%s' "$st" | jget falls.0.cause)" server-closed "state file: newest fall first, its cause"
is "$(printf '%s' "$st" | jget relay)" true "state file: ssh connects through the relay"
dt=$(printf '%s' "$st" | jget falls.1.downtime_ms)
ok $((dt > 3000 ? 0 : 1)) "state file: the reset cut's downtime recorded (${dt} ms, > the 4 s cut minus detection)"
js=$(sd_c --json keep --status)
is "$(printf '%s' "$js" | jget tunnels.0.name)" t1 "keep --status --json: the tunnel"
is "$(printf '%s' "$js" | jget tunnels.0.state)" up "keep --status --json: up"
like "$(printf '%s' "$js" | jget tunnels.0.forwards.0)" "^-L 127.0.0.1:$PORT:127.0.0.1:22$" "keep --status --json: its forward"
ok $(($(printf '%s' "$js" | jget tunnels.0.uptime_s) >= 0 ? 0 : 1)) "keep --status --json: uptime"
like "$(sd_c keep --status)" 'last fall: server-closed \(down [0-9]' "keep --status: the last fall, its cause and downtime"
if command -v sqlite3 >/dev/null; then
	db="$LAB_DIR/state/sshdoctor/history.db"
	is "$(sqlite3 "$db" "select count(*) from keep_events where tunnel='t1' and kind='fall'")" 3 \
		"history store: 3 falls"
	is "$(sqlite3 "$db" "select cause from keep_events where tunnel='t1' and kind='up' and downtime_ms > 0 order by id limit 1")" \
		path-silent "history store: the first recovery, with its cause and downtime"
else
	ok 1 "sqlite3 not installed (make deps)"
fi

# SIGTERM: keep, ssh and every child gone at once; the state file removed
pids=$(client_ssh_pids)
ok $([ -n "$pids" ]; echo $?) "an ssh runs under keep (pid $pids)"
t0=$(date +%s%N)
keep_stop
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
is "$rc" 0 "SIGTERM: keep exits 0"
ok $((ms < 2500 ? 0 : 1)) "SIGTERM: gone in ${ms} ms"
is "$(client_ssh_pids)" "" "SIGTERM: no ssh left behind"
ok $([ ! -e "$LAB_DIR/state/sshdoctor/keep/t1.json" ]; echo $?) "SIGTERM: the state file is removed"
done_testing
