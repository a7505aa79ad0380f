#!/bin/bash
# bench/relay.sh - what the flight recorder costs, in one run against the lab's
# real sshd (no NAT timeout in the way): connection set-up time (median of N
# logins) and throughput (64 MB through ssh) with and without the relay, and
# the watcher's RSS and CPU per idle session. Stands alone (needs root: the lab).
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SSHDOCTOR="${SSHDOCTOR:-$ROOT/build/sshdoctor}"
. "$ROOT/tests/lab/lab.sh"
N="${N:-10}"
LAB_QUIET=1 LAB_CT_TIMEOUT=3600
lab_setup || exit 1
R=(-o "ProxyCommand=$SSHDOCTOR relay %h %p" -o ProxyUseFdpass=yes)
ENVS=(env XDG_STATE_HOME="$LAB_DIR/state")
setup_ms() {	# median ms of N `ssh lab true`
	local i t0 t1 a=()
	for i in $(seq 1 "$N"); do
		t0=$(date +%s%N)
		lab_c "${ENVS[@]}" ssh -F "$LAB_SSH_CONFIG" "$@" lab true || return 1
		t1=$(date +%s%N)
		a+=($(((t1 - t0) / 1000000)))
	done
	printf '%s\n' "${a[@]}" | sort -n | sed -n "$(((N + 1) / 2))p"
}
tput_mbs() {	# MB/s of 64 MB from the server
	local t0 t1
	t0=$(date +%s%N)
	lab_c "${ENVS[@]}" ssh -F "$LAB_SSH_CONFIG" "$@" lab 'head -c 67108864 /dev/zero' | wc -c >/dev/null
	t1=$(date +%s%N)
	python3 -c "import sys; print('%.1f' % (64 / ((int(sys.argv[2]) - int(sys.argv[1])) / 1e9)))" "$t0" "$t1"
}
p=$(setup_ms) w=$(setup_ms "${R[@]}")
echo "set-up (median of $N): plain ${p} ms, relay ${w} ms, difference $((w - p)) ms"
tp=$(tput_mbs) tw=$(tput_mbs "${R[@]}")
echo "throughput (64 MB): plain ${tp} MB/s, relay ${tw} MB/s"
# idle sessions: the watcher's RSS and CPU over 30 s
lab_c "${ENVS[@]}" ssh -F "$LAB_SSH_CONFIG" "${R[@]}" lab 'sleep 40' &
sp=$!
sleep 3
wp=$(ip netns pids "$LAB_C" | xargs -r ps -o pid=,comm= -p | awk '$2 == "sshdoctor-watch" { print $1 }' | head -1)
if [ -n "$wp" ]; then
	c0=$(awk '{ print $14 + $15 }' "/proc/$wp/stat")
	sleep 30
	c1=$(awk '{ print $14 + $15 }' "/proc/$wp/stat")
	rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$wp/status")
	hz=$(getconf CLK_TCK)
	echo "watcher per idle session: RSS ${rss} kB, CPU $(python3 -c "print('%.3f' % (($c1 - $c0) / $hz / 30 * 100))")% over 30 s"
else
	echo "watcher not found"
fi
kill "$sp" 2>/dev/null
wait "$sp" 2>/dev/null
