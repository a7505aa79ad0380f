#!/bin/bash
# tests/run.sh - runs every suite and ends with one line "N passed, N failed".
#   unit (cmocka)          build/tests/*        and build/asan/tests/*
#   integration (lab, TAP) tests/integration/*.sh with build/sshdoctor and build/asan/sshdoctor
#   fuzz smoke             fuzz/run-smoke.sh (when fuzz targets exist)
#   Debian package         tests/deb_check.sh, once (also: TESTS="deb")
# Lab tests need root and namespaces; without them they FAIL, they are not skipped.
# TESTS="lab_groundtruth idle_*" limits the integration scripts (glob on names).
# Every lab script runs against each entry of MATRIX (binary:server OpenSSH), by
# default the plain and the sanitized binary each against 9.2 (the system's) and
# 10.0 (bookworm-backports, fetched by scripts/openssh10.sh), as LAB_OPENSSH.
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
MATRIX="${MATRIX:-plain:9.2 plain:10 asan:9.2 asan:10}"
# Fetched once here, not by parallel scripts racing on the same tree.
case " $MATRIX " in *:10\ *)
	if ! ./scripts/openssh10.sh >"$LOGS/openssh10.log" 2>&1; then
		echo "OpenSSH 10 for the lab could not be fetched:"; cat "$LOGS/openssh10.log"
		FAIL=$((FAIL + 1)); FAILED+=("OpenSSH 10 fetch (scripts/openssh10.sh)")
	fi ;;
esac
run_one() {	# script binary tag version
	local base log
	base=$(basename "$1" .sh)
	log="$LOGS/integration_${base}_$3_$4.log"
	LAB_OPENSSH="$4" SSHDOCTOR="$2" timeout 900 bash "$1" >"$log" 2>&1
	echo $? >"$log.rc"
}
export -f run_one
export LOGS
bin_of() { if [ "$1" = asan ]; then echo "$ROOT/build/asan/sshdoctor"; else echo "$ROOT/build/sshdoctor"; fi; }
{
	for s in "${scripts[@]}"; do
		for m in $MATRIX; do
			echo "$s $(bin_of "${m%%:*}") ${m%%:*} ${m#*:}"
		done
	done
} | xargs -P "$JOBS" -L 1 bash -c 'run_one "$0" "$1" "$2" "$3"'
for s in "${scripts[@]}"; do
	base=$(basename "$s" .sh)
	for m in $MATRIX; do
		tag="${m%%:*}_${m#*:}"
		log="$LOGS/integration_${base}_$tag.log"
		rc=$(cat "$log.rc" 2>/dev/null || echo 1)
		count_tap "lab: $base (${m%%:*}, OpenSSH ${m#*:})" "$log" "$rc"
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

# Once, not per MATRIX entry: it installs and removes a package (dpkg's lock).
if [ -z "${TESTS:-}" ] || [[ " $TESTS " == *" deb "* ]]; then
	echo "== Debian package"
	log="$LOGS/deb.log"
	timeout 1200 ./tests/deb_check.sh >"$log" 2>&1
	count_tap "deb: build, lintian, dpkg -i, run, dpkg -r" "$log" $?
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
