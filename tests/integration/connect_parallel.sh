#!/bin/bash
# connect -f stays bounded: with --parallel N, never more than N targets are
# probed at once (a responder on 40 loopback ports counts its open connections),
# every target still ends established, and the run takes the rounds it must.
# Bad values of --parallel are usage errors. Loopback of a namespace of its
# own, so the matrix's parallel runs of this script never share ports.
. "$(dirname "$0")/lib.sh"

DIR=$(mktemp -d)
RPID=""
NS="sdpar$$x$RANDOM"
cleanup() {
	[ -n "$RPID" ] && kill "$RPID" 2>/dev/null
	wait 2>/dev/null
	ip netns pids "$NS" 2>/dev/null | xargs -r kill -9 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ip netns add "$NS" && ip -n "$NS" link set lo up
ok $? "a namespace of its own (needs root)" || { done_testing; exit 1; }
inns() { ip netns exec "$NS" "$@"; }

N=40 PAR=4 DELAY=0.2
BASE=$((20000 + RANDOM % 8000))
inns python3 "$ROOT/tests/lab/ssh_responder.py" "$BASE" "$N" --delay "$DELAY" --name counter --count "$DIR/peak" \
	--read-timeout 5 --lifetime 120 >"$DIR/resp.out" 2>&1 &	# bounded: the test is over long before
RPID=$!
for _ in $(seq 1 100); do grep -q ready "$DIR/resp.out" && break; sleep 0.05; done
grep -q ready "$DIR/resp.out"
ok $? "responder on $N loopback ports"
for i in $(seq 0 $((N - 1))); do echo "127.0.0.1:$((BASE + i))"; done >"$DIR/fleet.txt"

start=$(date +%s%N)
out=$(inns env HOME="$DIR" XDG_STATE_HOME="$DIR/state" "$SSHDOCTOR" --json connect -F /dev/null --no-login \
	--timeout 5s --parallel "$PAR" -f "$DIR/fleet.txt" 2>"$DIR/err")
rc=$?
el=$((($(date +%s%N) - start) / 1000000))
is "$rc" 0 "connect -f --parallel $PAR: exit 0"
est=$(python3 -c 'import json,sys
print(sum(1 for m in json.load(sys.stdin)["measurements"]["connect"] if m.get("established")))' <<<"$out")
is "$est" "$N" "all $N targets established"
peak=0 total=0
[ -f "$DIR/peak" ] && read -r peak total <"$DIR/peak"
is "$total" "$N" "one connection per target"
ok $((peak <= PAR ? 0 : 1)) "at most $PAR at once (the responder saw $peak)"
ok $((peak >= 2 ? 0 : 1)) "still concurrent ($peak at once)"
# 40 targets, 4 at a time, 0.2 s each: at least 10 rounds
ok $((el >= 1900 ? 0 : 1)) "the bound costs the rounds it must (${el} ms >= 1900)"

for bad in 0 -3 abc 5000 ""; do
	err=$("$SSHDOCTOR" connect --parallel "$bad" -F /dev/null 127.0.0.1:1 2>&1 >/dev/null); rc=$?
	is "$rc" 64 "--parallel '$bad': usage error"
	like "$(head -1 <<<"$err")" "^sshdoctor connect: --parallel .*1 to 4096" "--parallel '$bad': a one-line reason"
done
done_testing
