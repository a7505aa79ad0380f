#!/bin/bash
# tests/integration/lib.sh - TAP helpers for lab scenarios. Each script sources this,
# prints "ok N - ..." / "not ok N - ...", and exits non-zero when anything failed.
# SSHDOCTOR names the binary under test (plain or sanitized build).

set -u
export LC_ALL=C TZ=UTC
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SSHDOCTOR="${SSHDOCTOR:-$ROOT/build/sshdoctor}"
. "$ROOT/tests/lab/lab.sh"
T_N=0
T_FAIL=0

ok() {	# ok CONDITION-EXIT-CODE DESCRIPTION
	T_N=$((T_N + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $T_N - $2"
	else
		echo "not ok $T_N - $2"
		T_FAIL=$((T_FAIL + 1))
		return 1
	fi
}

is() {	# is GOT WANT DESCRIPTION
	[ "$1" = "$2" ]
	local r=$?
	ok $r "$3"
	[ $r -eq 0 ] || echo "#   got '$1', want '$2'"
	return $r
}

like() { # like TEXT REGEX DESCRIPTION
	printf '%s' "$1" | grep -Eq -- "$2"
	local r=$?
	ok $r "$3"
	[ $r -eq 0 ] || printf '#   no match for /%s/ in:\n%s\n' "$2" "$(printf '%s' "$1" | head -c 2000 | sed 's/^/#   /')"
	return $r
}

# Live relay watchers (zombies left to an init that does not reap them, as in
# some CI containers, are gone for our purposes): in namespace NS, or anywhere.
live_watchers() {
	if [ -n "${1:-}" ]; then
		ip netns pids "$1" | xargs -r ps -o stat=,comm= -p
	else
		ps -eo stat=,comm=
	fi | awk '$1 !~ /^Z/ && $2 == "sshdoctor-watch"' | wc -l
}

# Reads a JSON field with the tool's own dependency-free path: jq is not required.
jget() { python3 -c 'import json,sys
try:
    d=json.load(sys.stdin)
except ValueError:
    print("<not JSON>"); sys.exit(1)
for k in sys.argv[1].split("."):
    d = d[int(k)] if isinstance(d, list) else d.get(k) if isinstance(d, dict) else None
print("null" if d is None else (str(d).lower() if isinstance(d, bool) else d))' "$1"; }

# Ids of the warning and critical findings in a JSON report, space-separated.
bad_findings() { python3 -c 'import json,sys
d=json.load(sys.stdin)
print(" ".join(f["id"] for f in d["findings"] if f["severity"] in ("warning","critical")))'; }

done_testing() {
	echo "1..$T_N"
	[ "$T_FAIL" -eq 0 ]
}

# Runs the tool inside the lab's client namespace with a private HOME and state.
sd_c() { lab_c env HOME="$LAB_DIR/home" XDG_STATE_HOME="$LAB_DIR/state" "$SSHDOCTOR" "$@"; }

# Opens `ssh lab cat` with extra ssh options, checks the echo, idles $IDLE seconds,
# writes again. Prints alive | silent | dead:<ssh's error> | broken-before-idle.
idle_session() {
	local extra="$1" line=""
	# shellcheck disable=SC2086
	coproc SSHC { lab_c ssh -F "$LAB_SSH_CONFIG" -o TCPKeepAlive=no $extra lab cat 2>"$LAB_DIR/ssh.err"; }
	local pid=$SSHC_PID
	echo first >&"${SSHC[1]}"
	read -r -t 5 line <&"${SSHC[0]}"
	if [ "$line" != first ]; then
		echo "broken-before-idle"
		kill "$pid" 2>/dev/null
		return
	fi
	sleep "$IDLE"
	echo second >&"${SSHC[1]}" 2>/dev/null
	line=""
	read -r -t 6 line <&"${SSHC[0]}"
	local rc=$?
	if [ "$line" = second ]; then
		echo alive
	elif [ $rc -gt 128 ]; then
		echo silent
	else
		echo "dead:$(tr '\n' ' ' <"$LAB_DIR/ssh.err")"
	fi
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# On a failure, what the tool saw (CI keeps only these logs): the findings of a
# --json report and its idle measurement, as TAP comments. diag_json JSON [ERRFILE]
diag_json() {
	python3 -c 'import json,sys
try:
    d=json.loads(sys.argv[1])
except Exception as e:
    print("# (no JSON report:", e, ")"); sys.exit(0)
print("# status", d.get("status"))
for f in d.get("findings",[]):
    print("#", f["severity"], f["id"], "|", f["title"], "|", "; ".join(f.get("evidence",[]))[:400])
i=d.get("measurements",{}).get("idle")
if isinstance(i,dict):
    print("# idle:", {k:v for k,v in i.items() if k not in ("probes","server_policy")})' "$1"
	[ -n "${2:-}" ] && [ -f "$2" ] && tail -15 "$2" | sed 's/^/# err: /'
	return 0
}
