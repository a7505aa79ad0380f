#!/bin/bash
# bench/idle.sh - sshdoctor idle against the lab's conntrack timeout (ground
# truth), for T in {45, 240, 350, 600} s x {drop, reset}, compared in the same
# run with two baselines: the naive method (double the idle until a probe fails,
# then bisect, one connection at a time: `idle --method naive`) and a
# NAT-TCP-test-style schedule (one connection per minute of idle, 1-minute
# resolution: `idle --method minute`). Prints per scenario: T, the bracket, its
# width, the wall time, wall/T, wall - T, and whether issue 14's targets hold
# (bracket contains T, width <= max(1 s, 1% T), wall <= T + 10 s).
#   BENCH_T="45 240"  BENCH_MODES=drop  BENCH_METHODS="fast minute"
#   BENCH_TRACE=DIR   keeps each run's -vv trace (the scheduler's decisions)
# Needs root (network namespaces). The naive runs take several T each: about
# 2 h for the default set; BENCH_METHODS="fast minute" takes about 45 min.
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SSHDOCTOR="${SSHDOCTOR:-$ROOT/build/sshdoctor}"
export LAB_QUIET=1
. "$ROOT/tests/lab/lab.sh"
TOL=0.3	# ACK delay: measured ages run up to this much long

run_one() {	# T mode method -> one line
	local T=$1 mode=$2 method=$3 out t0 t1 max=20m
	[ "$method" = naive ] && max=30m
	t0=$(date +%s.%N)
	local trace=/dev/null vv=""
	if [ -n "${BENCH_TRACE:-}" ]; then	# keep the scheduler's -vv trace of each run
		mkdir -p "$BENCH_TRACE" && trace="$BENCH_TRACE/idle-$T-$mode-$method.log" vv=-vv
	fi
	out=$(lab_c env HOME="$LAB_DIR/home" XDG_STATE_HOME="$LAB_DIR/state" "$SSHDOCTOR" --json $vv \
		idle --no-save --method "$method" --max "$max" -F "$LAB_SSH_CONFIG" lab 2>"$trace")
	t1=$(date +%s.%N)
	printf '%s' "$out" | python3 -c '
import json, sys
T, mode, method, wall = float(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4]) - float(sys.argv[5])
tol = float(sys.argv[6])
try:
    m = json.load(sys.stdin)["measurements"]["idle"]
except Exception:
    print("%-6s %-5s %-6s  no result" % (int(T), mode, method)); sys.exit(0)
lo, up = m["lower_s"], m["upper_s"]
if up is None:
    print("%-6s %-5s %-6s  not found (lower %.1f) wall %.1f" % (int(T), mode, method, lo, wall)); sys.exit(0)
width = up - lo
ok = lo < T + tol and up >= T - tol and width <= max(1.0, 0.01 * T) and wall <= T + 10
print("%-6s %-5s %-6s  (%6.1f, %6.1f]  %5.1f  %7.1f  %5.2f  %+6.1f  %3d  %s" % (int(T), mode, method,
      lo, up, width, wall, wall / T, wall - T, m["connections"], "yes" if ok else "no"))
' "$T" "$mode" "$method" "$t1" "$t0" "$TOL"
}

trap 'lab_down' EXIT
trap 'lab_down; exit 130' INT TERM
echo "# OpenSSH ${LAB_OPENSSH:-9.2}; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "T(s)   mode  method  bracket (s)       width  wall(s)  wall/T  wall-T conns  targets met"
for T in ${BENCH_T:-45 240 350 600}; do
	for mode in ${BENCH_MODES:-drop reset}; do
		LAB_CT_TIMEOUT=$T LAB_EXPIRY=$mode
		lab_up || { echo "lab failed"; exit 1; }
		for method in ${BENCH_METHODS:-fast minute naive}; do
			run_one "$T" "$mode" "$method"
		done
		lab_down
	done
done
