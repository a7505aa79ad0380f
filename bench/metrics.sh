#!/bin/bash
# bench/metrics.sh - `sshdoctor connect -f FILE --format=openmetrics` with 5,000
# loopback targets (an SSH responder on 5,000 ports of 127.0.0.1 that answers
# after 300 ms, like a distant server): wall time against the slowest of single-
# target runs and against a bare asyncio client doing the same connections with
# the same bound on concurrency (connect's --parallel, default 1024), peak RSS
# per target, and the output checked by `promtool check metrics` (one series
# per target and phase, no duplicates). --no-login: 5,000 logins would measure
# sshd, not us. Targets: within 2x the bare client, under 32 KB per target.
# Traffic stays on 127.0.0.1; everything started here is killed on exit.
# NFLEET=N changes the count, PARALLEL=N the bound.
set -u
cd "$(dirname "$0")/.."
BIN="${SSHDOCTOR:-$PWD/build/sshdoctor}"
NFLEET="${NFLEET:-5000}"
PARALLEL="${PARALLEL:-1024}"
DIR=$(mktemp -d)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
command -v promtool >/dev/null || { echo "FAIL: promtool missing (apt-get install prometheus)"; exit 1; }

FBASE=$((10000 + RANDOM % 4000))	# ports FBASE..FBASE+NFLEET, below the ephemeral range
python3 tests/lab/ssh_responder.py "$FBASE" "$NFLEET" --delay 0.3 --nofile $((2 * NFLEET + 1024)) >"$DIR/fleet.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 600); do grep -q ready "$DIR/fleet.out" && break; sleep 0.05; done
grep -q ready "$DIR/fleet.out" || { echo "FAIL: fleet responder"; cat "$DIR/fleet.out"; exit 1; }
ms_of() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); echo $(((e - s) / 1000000)); }
slowest=0
for i in 0 $((NFLEET / 4)) $((NFLEET / 2)) $((NFLEET - 1)) 7; do
	t=$(ms_of "$BIN" --format=openmetrics connect -F /dev/null --no-login "127.0.0.1:$((FBASE + i))")
	[ "$t" -gt "$slowest" ] && slowest=$t
done
for i in $(seq 0 $((NFLEET - 1))); do echo "127.0.0.1:$((FBASE + i))"; done >"$DIR/fleet.txt"
# Baseline: what the responder itself allows on this machine, i.e. a bare asyncio
# client doing the same NFLEET connections at once (connect, send identification,
# read identification and KEXINIT); nothing more is parsed.
cat >"$DIR/client.py" <<'PY'
import asyncio, resource, sys, time
base, n, par = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_NOFILE, (2 * n + 1024, 2 * n + 1024))
async def one(p, sem):
    async with sem:
        r, w = await asyncio.open_connection("127.0.0.1", p)
        w.write(b"SSH-2.0-bench\r\n")
        await r.readline()
        await r.read(4)
        w.close()
async def main():
    sem = asyncio.Semaphore(par)
    t = time.monotonic()
    res = await asyncio.gather(*(one(base + i, sem) for i in range(n)), return_exceptions=True)
    bad = sum(1 for x in res if isinstance(x, Exception))
    print(int((time.monotonic() - t) * 1000), bad)
asyncio.run(main())
PY
read -r base_ms base_bad < <(python3 "$DIR/client.py" "$FBASE" "$NFLEET" "$PARALLEL")
s=$(date +%s%N)
/usr/bin/time -f '%M %U %S' -o "$DIR/rss" "$BIN" --format=openmetrics connect -F /dev/null --no-login \
	--parallel "$PARALLEL" -f "$DIR/fleet.txt" >"$DIR/fleet.prom" 2>"$DIR/fleet.err"
rc=$?
e=$(date +%s%N)
fleet=$(((e - s) / 1000000))
[ $rc -eq 0 ] || { echo "FAIL: connect exit $rc"; head -5 "$DIR/fleet.err"; exit 1; }
lint=$(promtool check metrics <"$DIR/fleet.prom" 2>&1)
[ -z "$lint" ] || { echo "FAIL: promtool check metrics:"; echo "$lint" | head; exit 1; }
est=$(grep -c '^sshdoctor_connect_established{.*} 1$' "$DIR/fleet.prom")
series=$(grep -vc '^#' "$DIR/fleet.prom")
dups=$(grep -v '^#' "$DIR/fleet.prom" | sed 's/ [^ ]*$//' | sort | uniq -d | wc -l)
read -r rss cpu_u cpu_s <"$DIR/rss"
ratio=$(python3 -c "print('%.2f' % ($fleet / $slowest))")
bratio=$(python3 -c "print('%.2f' % ($fleet / max($base_ms, 1)))")
per=$((rss / NFLEET))
echo "metrics: $NFLEET targets via connect -f --parallel $PARALLEL --format=openmetrics in $fleet ms" \
	"(CPU ${cpu_u}s user ${cpu_s}s sys); slowest single target $slowest ms: ratio $ratio;" \
	"bare asyncio client, same $NFLEET connections, at most $PARALLEL at once: $base_ms ms" \
	"($base_bad failed): ratio $bratio (target 2.00); $est/$NFLEET established; $series series," \
	"$dups duplicates, $(wc -c <"$DIR/fleet.prom") bytes; promtool check metrics clean;" \
	"max RSS $rss KB = $per KB per target (target 32); load $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$est" -eq "$NFLEET" ] && [ "$dups" -eq 0 ] || { echo "FAIL: metrics fleet output"; exit 1; }
python3 -c "import sys; sys.exit(0 if $fleet <= 2 * max($base_ms, 1) else 1)" ||
	{ echo "FAIL: over 2x the bare client with the same bound"; exit 1; }
[ "$per" -le 32 ] || { echo "FAIL: over 32 KB per target"; exit 1; }
