#!/bin/bash
# bench/logs.sh - `sshdoctor logs` against `grep -c -E` with the union of the same
# signatures, on the same generated auth.log (real lab sshd lines, varied), in one
# run: MB/s of both and the ratio; then peak RSS on 1 GB and 4 GB (/usr/bin/time).
#   LOGS_BENCH_MB=1024 LOGS_BENCH_BIG_MB=4096 (sizes); files go to $TMPDIR and are removed.
set -u
cd "$(dirname "$0")/.."
export LC_ALL=C TZ=UTC
BIN="${SSHDOCTOR:-$PWD/build/sshdoctor}"
MB="${LOGS_BENCH_MB:-1024}"
BIG="${LOGS_BENCH_BIG_MB:-4096}"
TPL=tests/fixtures/logs/lab-raw.log
W=$(mktemp -d "${TMPDIR:-/tmp}/sshdoctor-bench-logs.XXXXXX")
trap 'rm -rf "$W"' EXIT INT TERM
need=$(( (BIG + 200) * 1024 ))
avail=$(df -Pk "$W" | awk 'NR==2{print $4}')
if [ "$avail" -lt "$need" ]; then
	echo "logs bench: FAIL: need $((need / 1024)) MB free in $W, have $((avail / 1024)) MB" >&2
	exit 1
fi
[ -x "$BIN" ] || { echo "logs bench: FAIL: $BIN not built" >&2; exit 1; }
cc -O2 -o "$W/gen" bench/gen_authlog.c || exit 1

SIGS='Disconnected from|Received disconnect|Timeout, client not responding|Timeout, server|Connection reset|Read error from|Read from remote|Connection closed by|Connection to .* closed|Broken pipe|Write failed|Timeout before authentication|Failed (password|publickey|keyboard)|Invalid user|drop connection|Unable to negotiate|banner exchange|Bad protocol version|Did not receive identification|kex_exchange_identification|terminating inactive|seconds of inactivity|Received signal|Received SIGHUP|Link is Down|Reset adapter|NETDEV WATCHDOG|Killed process|Accepted |Connection from '

secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", b - a}'; }
mbps() { awk -v mb="$1" -v s="$2" 'BEGIN{printf "%.0f", (s > 0 ? mb / s : 0)}'; }
peak_kb() { sed -n 's/.*Maximum resident set size (kbytes): //p' "$1"; }

"$W/gen" "$TPL" "$MB" >"$W/auth.log" || exit 1
size_mb=$(( $(stat -c %s "$W/auth.log") / 1048576 ))
cat "$W/auth.log" >/dev/null	# both read from the page cache

# Best of 3 runs each, alternating, timed by /usr/bin/time: wall and CPU (user+sys)
# seconds; CPU time is steadier when the machine is shared.
best() { sort -n | head -1; }
for i in 1 2 3; do
	/usr/bin/time -f '%e %U %S' -o "$W/tg$i" grep -c -E "$SIGS" "$W/auth.log" >"$W/gcount"
	/usr/bin/time -v -o "$W/ts$i" "$BIN" --json logs "$W/auth.log" >"$W/out.json"
	rc=$?
	awk '{print $1, $2 + $3}' "$W/tg$i" >>"$W/g.times"
	sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$W/ts$i" |
		awk -F: '{print (NF == 3 ? $1 * 3600 + $2 * 60 + $3 : $1 * 60 + $2)}' >"$W/wall"
	u=$(sed -n 's/.*User time (seconds): //p' "$W/ts$i")
	y=$(sed -n 's/.*System time (seconds): //p' "$W/ts$i")
	echo "$(cat "$W/wall") $(awk -v a="$u" -v b="$y" 'BEGIN{print a + b}')" >>"$W/s.times"
	cp "$W/ts$i" "$W/time1"
done
gcount=$(cat "$W/gcount")
gs=$(cut -d' ' -f1 "$W/g.times" | best) gc=$(cut -d' ' -f2 "$W/g.times" | best)
ts=$(cut -d' ' -f1 "$W/s.times" | best) tc=$(cut -d' ' -f2 "$W/s.times" | best)
g=$(mbps "$size_mb" "$gs") s=$(mbps "$size_mb" "$ts")
gC=$(mbps "$size_mb" "$gc") sC=$(mbps "$size_mb" "$tc")
ratio=$(awk -v a="$s" -v b="$g" 'BEGIN{printf "%.2f", (b > 0 ? a / b : 0)}')
ratioC=$(awk -v a="$sC" -v b="$gC" 'BEGIN{printf "%.2f", (b > 0 ? a / b : 0)}')
lines=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["measurements"]["logs"]; print(m["lines"], m["ssh_lines"], m["unrecognized_ssh_lines"], m["sessions"]["count"], m["sessions"]["evicted"])' "$W/out.json" 2>/dev/null)
echo "logs: ${size_mb} MB auth.log, best of 3 (wall / CPU):"
echo "logs:   grep -c -E (${gcount} matching lines): ${gs}s ${g} MB/s / ${gc}s ${gC} MB/s"
echo "logs:   sshdoctor logs (exit $rc):            ${ts}s ${s} MB/s / ${tc}s ${sC} MB/s"
echo "logs:   ratio sshdoctor/grep: ${ratio}x wall, ${ratioC}x CPU; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "logs: lines ssh_lines unrecognized sessions evicted = $lines"
rss1=$(peak_kb "$W/time1")
echo "logs: peak RSS ${size_mb} MB input: $((rss1 / 1024)) MB"
rm -f "$W/auth.log"

"$W/gen" "$TPL" "$BIG" >"$W/big.log" || exit 1
big_mb=$(( $(stat -c %s "$W/big.log") / 1048576 ))
t1=$(date +%s.%N)
/usr/bin/time -v -o "$W/time2" "$BIN" --json logs "$W/big.log" >/dev/null
t2=$(date +%s.%N)
rss2=$(peak_kb "$W/time2")
echo "logs: peak RSS ${big_mb} MB input: $((rss2 / 1024)) MB ($(secs "$t1" "$t2")s, $(mbps "$big_mb" "$(secs "$t1" "$t2")") MB/s)"
ok=1
awk -v r="$ratio" 'BEGIN{exit !(r >= 1.0)}' || { echo "logs: below target: wall-clock ratio ${ratio}x < 1x"; ok=0; }
[ "$rss1" -lt 65536 ] && [ "$rss2" -lt 65536 ] || { echo "logs: above target: peak RSS >= 64 MB"; ok=0; }
[ $ok = 1 ] && echo "logs: targets met (ratio >= 1x, RSS < 64 MB at ${size_mb} and ${big_mb} MB)"
[ $ok = 1 ]
