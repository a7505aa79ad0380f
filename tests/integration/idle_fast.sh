#!/bin/bash
# Issue 14: idle at the physical limit. A NAT that forgets idle flows after T=45 s
# (not a common default: the geometric scout and the sweep find it), silently
# (drop) and with RST (reset), against the runner's OpenSSH (LAB_OPENSSH). Each
# idle connection runs through `sshdoctor relay --report`, so idle holds a
# duplicate of its socket and TCP_INFO tells a probe's fate in a few RTOs.
# Asserts: the bracket contains T and is at most 1 s wide, the answer is known
# within T + 10 s of the moment the connection that first died was up (its
# login: a loaded 2-core runner logs in 32 connections, 4 at a time, in 5-15 s,
# and no connection can be idle T before T after its login; the tool's own
# lag is printed), every connection had the kernel's view, no MaxStartups drop
# and no PerSourcePenalties penalty (OpenSSH 9.8+).
. "$(dirname "$0")/lib.sh"

T=45
TOL=0.3	# ACK delay and scheduling: measured ages run a little long

for mode in drop reset; do
	LAB_CT_TIMEOUT=$T LAB_EXPIRY=$mode
	lab_setup || { ok 1 "lab up ($mode)"; continue; }
	t0=$(date +%s.%N)
	out=$(sd_c --json -vv idle --no-save --max 3m -F "$LAB_SSH_CONFIG" lab 2>"$LAB_DIR/err")
	rc=$?
	wall=$(python3 -c "import sys,time; print('%.1f' % (time.time() - float(sys.argv[1])))" "$t0")
	is "$rc" 2 "exit 2: critical ($mode, OpenSSH $LAB_SSHD_VERSION)"
	is "$(echo "$out" | jget measurements.idle.found)" true "found ($mode)"
	lo=$(echo "$out" | jget measurements.idle.lower_s)
	up=$(echo "$out" | jget measurements.idle.upper_s)
	el=$(echo "$out" | jget measurements.idle.elapsed_s)
	echo "# $mode: bracket ($lo, $up], measured in $el s (process wall $wall s)"
	python3 -c "import sys; lo,up,T,tol=map(float,sys.argv[1:]); sys.exit(0 if lo < T+tol and up >= T-tol else 1)" \
		"$lo" "$up" "$T" "$TOL"
	ok $? "bracket ($lo, $up] contains T=$T ($mode)"
	python3 -c "import sys; lo,up=map(float,sys.argv[1:]); sys.exit(0 if up-lo <= 1.0 else 1)" "$lo" "$up"
	ok $? "bracket width <= 1 s ($mode)"
	# the first death among the probes (JSON, in order) and its debug line: when
	# that connection had last been quiet, i.e. logged in (lag behind the clock)
	login=$(echo "$out" | python3 -c '
import json, re, sys
probes = json.load(sys.stdin)["measurements"]["idle"]["probes"]
k = next(i for i, p in enumerate(probes) if p["result"] != "alive")
lines = [l for l in open(sys.argv[1]) if " probe connection " in l]
m = re.search(r"\+([0-9.]+)s probe connection [0-9]+ idle ([0-9.]+)s", lines[k])
print("%.1f" % (float(m.group(1)) - float(m.group(2))))' "$LAB_DIR/err")
	echo "# $mode: the first connection to die was up at +${login:-?} s"
	python3 -c "import sys; el,T,lg=map(float,sys.argv[1:]); sys.exit(0 if el <= T+10+max(0,lg-2) else 1)" \
		"$el" "$T" "${login:-99}"
	ok $? "answer in ${el}s <= T + 10 s after that login (+${login:-?} s, 2 s free) ($mode)"
	want=silent-drop
	[ $mode = reset ] && want=reset
	is "$(echo "$out" | jget measurements.idle.expiry)" "$want" "expiry classified as $want (through the relay)"
	n=$(echo "$out" | jget measurements.idle.connections)
	like "$(cat "$LAB_DIR/err")" "kernel's view on $n of $n connection" "every connection had the kernel's view ($n)"
	if [ $mode = drop ]; then
		like "$(cat "$LAB_DIR/err")" 'kernel: [0-9]+ retransmission\(s\), nothing acknowledged' \
			"silence judged by the kernel, not by a timeout"
	fi
	! grep -q 'past MaxStartups' "$LAB_DIR/sshd.log"
	ok $? "no MaxStartups drops on the server ($mode)"
	! grep -q 'activating .* penalty' "$LAB_DIR/sshd.log"
	ok $? "sshd activated no penalty ($mode, OpenSSH $LAB_SSHD_VERSION)"
	sleep 0.5	# the relays follow their ssh (PDEATHSIG)
	is "$(ip netns pids "$LAB_C" | wc -l)" 0 "no process left in the client namespace ($mode)"
	lab_down
	trap - EXIT INT TERM
done
done_testing
