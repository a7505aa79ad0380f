#!/bin/bash
# bench/connect.sh - two figures for `sshdoctor connect`, measured in the same run:
#  1. overhead per phase: the tool's tcp/banner/kex times against the same socket
#     operations done raw (python, blocking calls) on a private loopback sshd,
#     alternating runs, medians compared; the issue asks for < 1 ms.
#  2. fleet: 500 targets (a loopback SSH responder on 500 ports that answers
#     after 300 ms, like a distant server) in one run, against the slowest of
#     single-target runs; the issue asks for <= 2x. --no-login: 500 real logins
#     measure sshd's CPU, not ours.
# Traffic stays on 127.0.0.1. Everything started here is killed on exit.
set -u
cd "$(dirname "$0")/.."
BIN="${SSHDOCTOR:-$PWD/build/sshdoctor}"
RUNS="${RUNS:-31}"
NFLEET="${NFLEET:-500}"
DIR=$(mktemp -d)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	[ -s "$DIR/sshd.pid" ] && kill "$(cat "$DIR/sshd.pid")" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
rc=0

# --- 1. overhead per phase ---
# Against an instant responder (no fork per connection, so the comparison is not
# drowned in the server's own jitter), then for information against a real sshd.
IPORT=$((19000 + RANDOM % 900))
python3 tests/lab/ssh_responder.py "$IPORT" 1 --nofile 8192 >"$DIR/instant.out" 2>&1 &
PIDS+=($!)
PORT=$((20000 + RANDOM % 10000))
ssh-keygen -q -t ed25519 -N '' -f "$DIR/hostkey"
cat >"$DIR/sshd_config" <<CONF
ListenAddress 127.0.0.1:$PORT
HostKey $DIR/hostkey
PidFile $DIR/sshd.pid
UsePAM no
MaxStartups 100:30:200
LogLevel QUIET
CONF
mkdir -p /run/sshd
/usr/sbin/sshd -f "$DIR/sshd_config" -E "$DIR/sshd.log" || { echo "FAIL: sshd did not start"; exit 1; }
for _ in $(seq 1 100); do [ -s "$DIR/sshd.pid" ] && break; sleep 0.05; done

cat >"$DIR/raw.py" <<'PY'
import socket, struct, sys, time
# One connection the way connect probes it, with blocking calls: microseconds
# for connect, connected -> identification line, identification -> KEXINIT.
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t0 = time.perf_counter()
s.connect(("127.0.0.1", port))
t1 = time.perf_counter()
s.sendall(b"SSH-2.0-raw_bench\r\n")
buf = b""
while b"\n" not in buf:
    buf += s.recv(16384)
t2 = time.perf_counter()
rest = buf[buf.index(b"\n") + 1:]
while len(rest) < 4 or len(rest) < 4 + struct.unpack("!I", rest[:4])[0]:
    rest += s.recv(16384)
t3 = time.perf_counter()
s.close()
print(int((t1 - t0) * 1e6), int((t2 - t1) * 1e6), int((t3 - t2) * 1e6))
PY
tool_us() {
	"$BIN" --json connect -F /dev/null --no-login -p "$1" 127.0.0.1 2>/dev/null |
		python3 -c 'import json,sys
ph={p["name"]:p.get("us") for p in json.load(sys.stdin)["measurements"]["connect"]["phases"]}
print(ph["tcp"], ph["banner"], ph["kex"])'
}
for _ in $(seq 1 200); do grep -q ready "$DIR/instant.out" && break; sleep 0.05; done
compare() {	# PORT LABEL
	: >"$DIR/raw"
	: >"$DIR/tool"
	for _ in $(seq 1 "$RUNS"); do
		python3 "$DIR/raw.py" "$1" >>"$DIR/raw"
		tool_us "$1" >>"$DIR/tool"
	done
	python3 - "$DIR/raw" "$DIR/tool" "$2" <<'PY'
import statistics, sys
raw = [list(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
tool = [list(map(int, l.split())) for l in open(sys.argv[2]) if l.strip()]
bad = 0
print("%s: %d alternating runs; overhead = median of (tool - raw) per run" % (sys.argv[3], len(raw)))
print("  phase    raw median   tool median   overhead")
for i, name in enumerate(("tcp", "banner", "kex")):
    r = statistics.median(x[i] for x in raw)
    t = statistics.median(x[i] for x in tool)
    d = statistics.median(b[i] - a[i] for a, b in zip(raw, tool))
    ok = d < 1000
    bad += not ok
    print("  %-8s %8d us   %8d us   %+7d us  %s" % (name, r, t, d, "ok (< 1 ms)" if ok else "OVER 1 ms"))
sys.exit(1 if bad else 0)
PY
}
compare "$IPORT" "instant responder" || rc=1
compare "$PORT" "OpenSSH sshd (information: sshd forks per connection)"

# --- 2. fleet: NFLEET targets in one run vs the slowest single target ---
FBASE=$((10000 + RANDOM % 9000))	# below the ephemeral range
python3 tests/lab/ssh_responder.py "$FBASE" "$NFLEET" --delay 0.3 --nofile 8192 >"$DIR/fleet.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 200); do grep -q ready "$DIR/fleet.out" && break; sleep 0.05; done
grep -q ready "$DIR/fleet.out" || { echo "FAIL: fleet responder"; cat "$DIR/fleet.out"; exit 1; }
ms_of() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); echo $(((e - s) / 1000000)); }
slowest=0
for i in 0 $((NFLEET / 4)) $((NFLEET / 2)) $((NFLEET - 1)) 7; do
	t=$(ms_of "$BIN" connect -F /dev/null --no-login "127.0.0.1:$((FBASE + i))")
	[ "$t" -gt "$slowest" ] && slowest=$t
done
targets=()
for i in $(seq 0 $((NFLEET - 1))); do targets+=("127.0.0.1:$((FBASE + i))"); done
fleet=$(ms_of "$BIN" connect -F /dev/null --no-login "${targets[@]}")
/usr/bin/time -f '%M' -o "$DIR/rss" "$BIN" --json connect -F /dev/null --no-login "${targets[@]}" \
	2>/dev/null >"$DIR/fleet.json"
est=$(python3 -c 'import json,sys; print(sum(t["established"] for t in json.load(open(sys.argv[1]))["measurements"]["connect"]))' "$DIR/fleet.json")
ratio=$(python3 -c "print('%.2f' % ($fleet / $slowest))")
echo "fleet: $NFLEET targets in $fleet ms; slowest single target $slowest ms; ratio $ratio (limit 2.00); $est/$NFLEET established; max RSS $(tail -1 "$DIR/rss") KB"
python3 -c "import sys; sys.exit(0 if $fleet <= 2 * $slowest and $est == $NFLEET else 1)" || { echo "FAIL: fleet"; rc=1; }
exit $rc
