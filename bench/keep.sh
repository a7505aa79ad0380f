#!/bin/bash
# bench/keep.sh - sshdoctor keep against autossh (Debian's package, -M 0, the
# mode its documentation recommends with ServerAlive), side by side in one lab,
# the same keepalive for both (ServerAliveInterval 2, CountMax 2), each holding
# its own local forward to the server's sshd:
#   1. the path cut for BENCH_CUT s (silent drop, then RST), restored: time from
#      the restore to the first byte through each forward;
#   2. the server refusing the key: login attempts each makes in BENCH_WINDOW s
#      (counted in sshd's log), and whether it says why;
#   3. a stale remote forward: the client's old flows vanish (as when its address
#      changes), the server holds each dead session's port until its ClientAlive
#      4 s x 3 reaps it: time to the port working again, attempts, advice;
#   4. idle overhead over BENCH_IDLE s: CPU time and wakeups (voluntary context
#      switches) of the supervisor itself, per minute;
#   5. a ban that every SYN starts over (BENCH_BAN s, as iptables recent
#      --update), one tool at a time: the session killed, the time until the
#      forward works again (at most 180 s) and when the ban lapsed.
# Needs root (network namespaces) and autossh (make deps). About 4 minutes.
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SSHDOCTOR="${SSHDOCTOR:-$ROOT/build/sshdoctor}"
CUT="${BENCH_CUT:-10}" WINDOW="${BENCH_WINDOW:-60}" IDLE="${BENCH_IDLE:-60}" BAN="${BENCH_BAN:-20}"
export LAB_QUIET=1 LC_ALL=C
. "$ROOT/tests/lab/lab.sh"
. "$ROOT/tests/lab/keep_helpers.sh"
command -v autossh >/dev/null || { echo "bench keep: autossh not installed (make deps)" >&2; exit 1; }

LAB_SSHD_EXTRA="$(keep_sshd_extra)
ClientAliveInterval 4
ClientAliveCountMax 3"
A_PID=""
cleanup() { unban_client; keep_stop; [ -n "$A_PID" ] && kill -TERM "$A_PID" 2>/dev/null && wait "$A_PID" 2>/dev/null; lab_down; }
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM
lab_up || exit 1
KA=(-o ServerAliveInterval=2 -o ServerAliveCountMax=2)
K_PORT=7101 A_PORT=7102

start_autossh() {	# ERRFILE ssh args...
	local errf=$1
	shift
	ip netns exec "$LAB_C" env HOME="$LAB_DIR/home" AUTOSSH_GATETIME=0 AUTOSSH_LOGLEVEL=7 \
		autossh -M 0 -F "$LAB_SSH_CONFIG" "${KA[@]}" -o ExitOnForwardFailure=yes -o BatchMode=yes \
		-o ConnectTimeout=10 -N "$@" lab 2>"$errf" &
	A_PID=$!
}
stop_autossh() { [ -n "$A_PID" ] && kill -TERM "$A_PID" 2>/dev/null; wait "$A_PID" 2>/dev/null; A_PID=""; }
logins() { grep -cE "Connection from $LAB_ROUTER_SIP port|drop connection #[0-9]+ from \[$LAB_ROUTER_SIP\]" "$LAB_DIR/sshd.log"; }

keep_start "$LAB_DIR/keep.err" --name bench --alive-interval 2 --alive-count 2 -F "$LAB_SSH_CONFIG" lab \
	-- -L "127.0.0.1:$K_PORT:127.0.0.1:22"
start_autossh "$LAB_DIR/autossh.err" -L "127.0.0.1:$A_PORT:127.0.0.1:22"
wait_fwd $K_PORT 15 >/dev/null && wait_fwd $A_PORT 15 >/dev/null || { echo "bench keep: tunnels did not come up" >&2; exit 1; }
echo "OpenSSH $LAB_SSHD_VERSION; keepalive 2 s x 2 for both; path cut for $CUT s"
printf '%-28s %12s %12s\n' "scenario" "keep" "autossh"

for mode in drop reset; do
	cutpath $mode
	sleep "$CUT"
	cutpath none
	wait_fwd $K_PORT 120 >"$LAB_DIR/k.ms" &
	kp=$!
	wait_fwd $A_PORT 120 >"$LAB_DIR/a.ms" &
	ap=$!
	wait $kp $ap
	printf '%-28s %10s ms %10s ms\n' "cut $mode: restore->byte" "$(cat "$LAB_DIR/k.ms")" "$(cat "$LAB_DIR/a.ms")"
	sleep 3
done

# the key refused, one tool at a time (both log in from the NAT's address)
refuse() {	# name: prints attempts in the window
	: >"$LAB_DIR/authorized_keys"
	local c0
	c0=$(logins)
	kill_sessions
	sleep "$WINDOW"
	echo $(($(logins) - c0))
	cp "$LAB_DIR/id_client.pub" "$LAB_DIR/authorized_keys"
}
stop_autossh
kr=$(refuse keep)
kstop="running"
kill -0 "$KEEP_PID" 2>/dev/null || kstop="stopped"
keep_stop
sleep 20	# let 10.0's authfail penalties (5 s each) decay before autossh's turn
start_autossh "$LAB_DIR/autossh2.err" -L "127.0.0.1:$A_PORT:127.0.0.1:22"
wait_fwd $A_PORT 15 >/dev/null
ar=$(refuse autossh)
ay=$(grep -c 'Permission denied' "$LAB_DIR/autossh2.err")
printf '%-28s %12s %12s\n' "key refused: logins/${WINDOW}s" "$kr" "$ar"
printf '%-28s %12s %12s\n' "  then" "$kstop" "retrying"
printf '%-28s %12s %12s\n' "  says why" "$(grep -c 'fix: keep runs with BatchMode' "$LAB_DIR/keep.err")x" "${ay}x ssh's"
stop_autossh
sleep 20

# a stale remote forward: the dead session holds the port until sshd reaps it
srv_ok() {	# PORT: the server's listener carries bytes
	lab_s python3 -c 'import socket,sys
try:
    s=socket.create_connection(("127.0.0.1",int(sys.argv[1])),timeout=1); s.settimeout(1)
    sys.exit(0 if s.recv(4)==b"SSH-" else 1)
except OSError: sys.exit(1)' "$1"
}
srv_wait() {	# PORT SECONDS -> ms
	local t0 end
	t0=$(date +%s%N)
	end=$((t0 + $2 * 1000000000))
	while [ "$(date +%s%N)" -lt "$end" ]; do
		srv_ok "$1" && { echo $((($(date +%s%N) - t0) / 1000000)); return 0; }
		sleep 0.1
	done
	echo -1
}
keep_start "$LAB_DIR/keep3.err" --name benchr --alive-interval 2 --alive-count 2 -F "$LAB_SSH_CONFIG" lab \
	-- -R "9001:$LAB_SERVER_IP:22"
start_autossh "$LAB_DIR/autossh3.err" -R "9002:$LAB_SERVER_IP:22"
srv_wait 9001 15 >/dev/null && srv_wait 9002 15 >/dev/null || echo "bench keep: remote forwards did not come up" >&2
# The clients' address "changes": their current flows are dropped both ways for
# good (new connections pass), so sshd's keepalive probes never reach a client
# that could reset them, and the dead sessions keep ports 9001/9002 until sshd's
# ClientAlive (4 s x 3) gives up on them.
# Watched passively (who owns the listener, ss in the server namespace): a probe
# through the dead session's listener would itself hold off sshd's ClientAlive.
owner() { lab_s ss -tlnpH "sport = :$1" | grep -o 'pid=[0-9]*' | head -1; }
srv_taken() {	# PORT OLD-OWNER SECONDS -> ms until a new session owns the port and it works
	local t0 end o
	t0=$(date +%s%N)
	end=$((t0 + $3 * 1000000000))
	while [ "$(date +%s%N)" -lt "$end" ]; do
		o=$(owner "$1")
		if [ -n "$o" ] && [ "$o" != "$2" ] && srv_ok "$1"; then
			echo $((($(date +%s%N) - t0) / 1000000))
			return 0
		fi
		sleep 0.2
	done
	echo -1
}
ko=$(owner 9001) ao=$(owner 9002)
block_flows >/dev/null
srv_taken 9001 "$ko" 120 >"$LAB_DIR/k.ms" &
kp=$!
srv_taken 9002 "$ao" 120 >"$LAB_DIR/a.ms" &
ap=$!
wait $kp $ap
cutpath none
printf '%-28s %10s ms %10s ms\n' "stale -R: cut->port ok" "$(cat "$LAB_DIR/k.ms")" "$(cat "$LAB_DIR/a.ms")"
printf '%-28s %12s %12s\n' "  'forwarding failed' tries" "$(grep -c 'failed (forward-held)' "$LAB_DIR/keep3.err")" \
	"$(grep -c 'remote port forwarding failed' "$LAB_DIR/autossh3.err")"
printf '%-28s %12s %12s\n' "  prescribes a server fix" "$(grep -c 'fix: on the server: ClientAlive' "$LAB_DIR/keep3.err")x" "0x"

# idle overhead of the supervisor itself (ssh is the same for both)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
csw() { awk '/^voluntary_ctxt_switches/ {print $2}' "/proc/$1/status"; }
k0=$(ticks "$KEEP_PID") a0=$(ticks "$A_PID") kc0=$(csw "$KEEP_PID") ac0=$(csw "$A_PID")
sleep "$IDLE"
k1=$(ticks "$KEEP_PID") a1=$(ticks "$A_PID") kc1=$(csw "$KEEP_PID") ac1=$(csw "$A_PID")
hz=$(getconf CLK_TCK)
printf '%-28s %9s ms %9s ms\n' "idle CPU per minute" $(((k1 - k0) * 1000 / hz * 60 / IDLE)) $(((a1 - a0) * 1000 / hz * 60 / IDLE))
printf '%-28s %12s %12s\n' "idle wakeups per minute" $(((kc1 - kc0) * 60 / IDLE)) $(((ac1 - ac0) * 60 / IDLE))

# a ban every SYN renews, one tool at a time (both come from the NAT's address)
banned_run() {	# FORWARD-PORT: "ms-to-forward ms-ban-lapsed"
	local t0 lapsed=-1 ms
	ban_client "$BAN"
	t0=$(date +%s%N)
	kill_sessions
	(for _ in $(seq 1 900); do
		banned_client || { echo $((($(date +%s%N) - t0) / 1000000)); exit 0; }
		sleep 0.2
	done; echo -1) >"$LAB_DIR/lapsed" &
	local lp=$!
	ms=$(wait_fwd "$1" 180)
	if [ "$ms" -ge 0 ]; then
		wait "$lp"
		lapsed=$(cat "$LAB_DIR/lapsed")
	else	# still banned after 180 s: renewed all along
		kill "$lp" 2>/dev/null
		wait "$lp" 2>/dev/null
		ms=">180000" lapsed="never"
	fi
	unban_client
	echo "$ms $lapsed"
}
stop_autossh
keep_stop
keep_start "$LAB_DIR/keep5.err" --name bench5 --alive-interval 2 --alive-count 2 -F "$LAB_SSH_CONFIG" lab \
	-- -L "127.0.0.1:$K_PORT:127.0.0.1:22"
wait_fwd $K_PORT 15 >/dev/null || echo "bench keep: keep did not come up for the ban" >&2
read -r kb kl <<<"$(banned_run $K_PORT)"
keep_stop
start_autossh "$LAB_DIR/autossh5.err" -L "127.0.0.1:$A_PORT:127.0.0.1:22"
wait_fwd $A_PORT 15 >/dev/null || echo "bench keep: autossh did not come up for the ban" >&2
read -r ab al <<<"$(banned_run $A_PORT)"
stop_autossh
printf '%-28s %10s ms %10s ms\n' "ban ${BAN} s, SYN renews: ->byte" "$kb" "$ab"
printf '%-28s %10s ms %10s ms\n' "  the ban lapsed after" "$kl" "$al"
