#!/bin/bash
# Builds every fuzz target and runs it over its seed corpus plus FUZZ_RUNS random
# inputs (bounded in count and time). Prints TAP.
set -u
cd "$(dirname "$0")"
RUNS="${FUZZ_RUNS:-20000}"
n=0 bad=0
make -s all >build.log 2>&1 || { echo "not ok 1 - fuzz targets build"; cat build.log; rm -f build.log; exit 1; }
rm -f build.log
for t in ../build/fuzz/fuzz_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	corpus="corpus/${name#fuzz_}"
	work=$(mktemp -d)
	[ -d "$corpus" ] && cp -r "$corpus"/. "$work"/ 2>/dev/null
	n=$((n + 1))
	if timeout 300 "$t" -runs="$RUNS" -max_total_time=60 -max_len=65536 -rss_limit_mb=1024 \
		"$work" >"$work.log" 2>&1; then
		echo "ok $n - $name: $(grep -o 'Done [0-9]* runs.*' "$work.log" | head -1)"
	else
		echo "not ok $n - $name"
		tail -30 "$work.log" | sed 's/^/# /'
		bad=$((bad + 1))
	fi
	rm -rf "$work" "$work.log"
done
[ $n -gt 0 ] || { echo "not ok 1 - no fuzz targets"; exit 1; }
echo "1..$n"
[ $bad -eq 0 ]
