#!/bin/bash
# sshdoctor idle against a real sshd behind a NAT that forgets idle flows after
# T s: silently (drop) and with RST (reset). The conntrack timeout is the ground
# truth; the bracket must contain it (within the path's own timing noise), be at
# most max(2 s, 5% T) wide, and arrive within 2 T + 20 s (a stall, not a speed
# target: the figures against T live in bench/idle.sh).
. "$(dirname "$0")/lib.sh"

T=6
TOL=0.3	# ACK delay and scheduling: measured ages run a little long

for mode in drop reset; do
	LAB_CT_TIMEOUT=$T LAB_EXPIRY=$mode
	lab_setup || { ok 1 "lab up ($mode)"; continue; }
	# -vv: the scheduler's trace, shown when a check below fails
	out=$(sd_c -vv --json idle --max 2m -F "$LAB_SSH_CONFIG" lab 2>"$LAB_DIR/err")
	rc=$?
	is "$rc" 2 "exit 2: critical, no keepalive beats T ($mode)"
	is "$(echo "$out" | jget measurements.idle.found)" true "found ($mode)"
	lo=$(echo "$out" | jget measurements.idle.lower_s)
	up=$(echo "$out" | jget measurements.idle.upper_s)
	el=$(echo "$out" | jget measurements.idle.elapsed_s)
	python3 -c "import sys; lo,up,T,tol=map(float,sys.argv[1:]); sys.exit(0 if lo < T+tol and up >= T-tol else 1)" \
		"$lo" "$up" "$T" "$TOL"
	ok $? "bracket ($lo, $up] contains T=$T ($mode)"
	python3 -c "import sys; lo,up=map(float,sys.argv[1:]); sys.exit(0 if up-lo <= 2.0 else 1)" "$lo" "$up"
	ok $? "bracket width <= 2 s ($mode)"
	python3 -c "import sys; el,T=map(float,sys.argv[1:]); sys.exit(0 if el <= 2*T+20 else 1)" "$el" "$T"
	ok $? "answer in ${el}s <= 2 T + 20 s, no stall ($mode)" ||
		grep 'idle: ' "$LAB_DIR/err" | sed 's/^/# /' | head -150
	want=silent-drop
	[ $mode = reset ] && want=reset
	is "$(echo "$out" | jget measurements.idle.expiry)" "$want" "expiry classified as $want"
	is "$(echo "$out" | jget measurements.idle.via)" ssh "via ssh"
	n=$(echo "$out" | jget measurements.idle.connections)
	[ "$n" -ge 2 ] && [ "$n" -le 128 ]
	ok $? "connections opened: $n"
	is "$(echo "$out" | jget findings.0.id)" path.idle-timeout "finding path.idle-timeout"
	like "$(echo "$out" | jget findings.0.fix)" 'ServerAliveInterval [0-9]+' "prescribes ServerAliveInterval"
	like "$(echo "$out" | jget findings.0.fix)" 'ClientAliveInterval [0-9]+' "prescribes ClientAliveInterval"
	like "$(echo "$out" | jget findings.0.evidence)" 'CountMax\+1' "states the detection time"
	is "$(echo "$out" | jget measurements.idle.probes.0.result)" alive "first probe answered"
	f=$(ls "$LAB_DIR"/state/sshdoctor/idle/*.json 2>/dev/null | head -1)
	like "$f" 'root@203\.0\.113\.2_22\.json$' "result stored per target ($mode)"
	[ -n "$f" ] && like "$(cat "$f")" '"time"' "stored result has a time"
	is "$(ip netns pids "$LAB_C" | wc -l)" 0 "no process left in the client namespace ($mode)"
	# sshd saw at most 4 unauthenticated connections at once: no MaxStartups drops
	! grep -q 'past MaxStartups' "$LAB_DIR/sshd.log"
	ok $? "no MaxStartups drops on the server ($mode)"
	if [ $mode = drop ]; then
		# text mode: verdict first, no progress noise when stdout is not a TTY
		txt=$(sd_c idle --max 1m --no-save -F "$LAB_SSH_CONFIG" lab 2>"$LAB_DIR/err2")
		like "$txt" '^critical .*idle' "text verdict first"
		like "$txt" 'idle timeout: above' "text measurement line"
		! grep -q 'elapsed' "$LAB_DIR/err2"
		ok $? "no progress line without a TTY"
	fi
	lab_down
	trap - EXIT INT TERM
done
done_testing
