#!/bin/bash
# tests/run.sh - runs every suite and ends with one line "N passed, N failed".
#   unit (cmocka)          build/tests/*        and build/asan/tests/*
#   integration (lab, TAP) tests/integration/*.sh with build/sshdoctor and build/asan/sshdoctor
#   fuzz smoke             fuzz/run-smoke.sh (when fuzz targets exist)
# Lab tests need root and namespaces; without them they FAIL, they are not skipped.
# TESTS="lab_groundtruth idle_*" limits the integration scripts (glob on names).
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
LOGS="$ROOT/build/test-logs"
rm -rf "$LOGS"
mkdir -p "$LOGS"
PASS=0
FAIL=0
FAILED=()
JOBS="${JOBS:-4}"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

count_cmocka() {	# name log rc
	local p f
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$2" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$2" | tail -1)
	p=${p:-0} f=${f:-0}
	if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi	# crashed or sanitizer
	PASS=$((PASS + p)) FAIL=$((FAIL + f))
	[ "$f" -eq 0 ] || FAILED+=("$1")
	printf '%-44s %3d passed, %d failed\n' "$1" "$p" "$f"
}

count_tap() {		# name log rc
	local p f
	p=$(grep -c '^ok ' "$2")
	f=$(grep -c '^not ok ' "$2")
	if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi	# died before reporting
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then f=1; fi	# ran nothing: a failure
	PASS=$((PASS + p)) FAIL=$((FAIL + f))
	[ "$f" -eq 0 ] || FAILED+=("$1")
	printf '%-44s %3d passed, %d failed\n' "$1" "$p" "$f"
}

echo "== unit tests"
for build in build build/asan; do
	for t in "$build"/tests/test_*; do
		[ -x "$t" ] || continue
		name="${build#build}"; name="unit${name:+ (asan)}: $(basename "$t")"
		log="$LOGS/$(echo "$name" | tr ' /():' '_____').log"
		timeout 300 "$t" >"$log" 2>&1
		count_cmocka "$name" "$log" $?
	done
done

echo "== integration tests (lab)"
scripts=()
for s in tests/integration/*.sh; do
	base=$(basename "$s" .sh)
	[ "$base" = lib ] && continue
	if [ -n "${TESTS:-}" ]; then
		m=0
		for pat in $TESTS; do
			# shellcheck disable=SC2053
			[[ $base == $pat ]] && m=1
		done
		[ $m = 1 ] || continue
	fi
	scripts+=("$s")
done
run_one() {	# script binary tag
	local base log
	base=$(basename "$1" .sh)
	log="$LOGS/integration_${base}_$3.log"
	SSHDOCTOR="$2" timeout 900 bash "$1" >"$log" 2>&1
	echo $? >"$log.rc"
}
export -f run_one
export LOGS
{
	for s in "${scripts[@]}"; do
		echo "$s $ROOT/build/sshdoctor plain"
		echo "$s $ROOT/build/asan/sshdoctor asan"
	done
} | xargs -P "$JOBS" -L 1 bash -c 'run_one "$0" "$1" "$2"'
for s in "${scripts[@]}"; do
	base=$(basename "$s" .sh)
	for tag in plain asan; do
		log="$LOGS/integration_${base}_$tag.log"
		rc=$(cat "$log.rc" 2>/dev/null || echo 1)
		count_tap "lab: $base ($tag)" "$log" "$rc"
		if grep -q 'ERROR: \(Address\|Leak\)Sanitizer\|runtime error:' "$log"; then
			FAIL=$((FAIL + 1)); FAILED+=("sanitizer report in $base ($tag)")
		fi
	done
done

if [ -x fuzz/run-smoke.sh ]; then
	echo "== fuzz smoke"
	log="$LOGS/fuzz.log"
	fuzz/run-smoke.sh >"$log" 2>&1
	count_tap "fuzz smoke" "$log" $?
fi

leftover=$(ip netns list 2>/dev/null | grep -c '^sd[0-9]*x')
if [ "$leftover" -ne 0 ]; then
	echo "leftover lab namespaces: $leftover"
	FAIL=$((FAIL + 1)); FAILED+=("leftover namespaces")
fi
if [ ${#FAILED[@]} -gt 0 ]; then
	echo "failed (logs in build/test-logs):"
	printf '  %s\n' "${FAILED[@]}"
	for f in "$LOGS"/*.log; do
		grep -q '^not ok\|FAILED\|ERROR:' "$f" 2>/dev/null && { echo "--- $f"; tail -40 "$f"; }
	done
fi
echo
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
