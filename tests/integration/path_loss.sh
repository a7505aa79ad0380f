#!/bin/bash
# sshdoctor path against known loss: the router drops 5% and then 30% of the
# packets toward the server (netem, or nftables where the kernel has no netem).
# Direct probes (TCP handshakes + ICMP echo, 2 x 100) must measure the loss
# within about 3 standard deviations, and TCP_INFO of the relayed session
# during the bulk transfer must see it too. Also: usage errors, hidden relay.
. "$(dirname "$0")/lib.sh"

# Usage errors need no lab.
"$SSHDOCTOR" path >/dev/null 2>&1; is "$?" 64 "path without a target: usage error"
"$SSHDOCTOR" path --count 0 lab >/dev/null 2>&1; is "$?" 64 "--count 0: usage error"
"$SSHDOCTOR" path --bulk 1X lab >/dev/null 2>&1; is "$?" 64 "--bulk 1X: usage error"
"$SSHDOCTOR" path --duration 1s lab >/dev/null 2>&1; is "$?" 64 "--duration below 10s: usage error"
"$SSHDOCTOR" relay onlyhost >/dev/null 2>&1; is "$?" 64 "relay without a port: usage error"
out=$("$SSHDOCTOR" help)
like "$out" 'path +measure loss' "help lists path"
like "$out" '^  relay ' "help lists relay (public since the flight recorder)"

within() { python3 -c 'import sys; sys.exit(0 if float(sys.argv[2]) <= float(sys.argv[1]) <= float(sys.argv[3]) else 1)' "$@" 2>/dev/null; }

# run_path LOSS LO HI LOAD_LO LOAD_HI SEVERITY EXIT
run_path() {
	local loss=$1 lo=$2 hi=$3 llo=$4 lhi=$5 sev=$6 want=$7
	LAB_LOSS=$loss
	lab_setup || { ok 1 "lab up (loss $loss%)"; return; }
	lab_c sysctl -qw net.ipv4.ping_group_range="0 0"	# ICMP echo through ping sockets
	sd_c --json path -F "$LAB_SSH_CONFIG" --count 100 --bulk 512K lab >"$LAB_DIR/out.json" 2>"$LAB_DIR/err"
	is "$?" "$want" "loss $loss%: exit $want"
	local j="$LAB_DIR/out.json" got
	got=$(jget measurements.path.loss_pct <"$j")
	within "$got" "$lo" "$hi"
	ok $? "loss $loss%: measured $got% within [$lo, $hi]"
	got=$(jget measurements.path.detail.icmp_echo.sent <"$j")
	is "$got" 100 "loss $loss%: ICMP echo probes went through ping sockets"
	got=$(jget measurements.path.loss_under_load_pct <"$j")
	within "$got" "$llo" "$lhi"
	ok $? "loss $loss%: TCP_INFO loss under load $got% within [$llo, $lhi]"
	got=$(python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
print(",".join(f["severity"] for f in d["findings"] if f["id"]=="path.loss"))' "$j")
	is "$got" "$sev" "loss $loss%: path.loss is $sev"
	got=$(jget measurements.path.blackhole <"$j")
	is "$got" false "loss $loss%: loss is not mistaken for an MTU black hole"
	sleep 1
	is "$(ip netns pids "$LAB_C" | wc -l)" 0 "loss $loss%: no ssh or relay left in the client namespace"
	local id=$LAB_ID
	lab_down
	trap - EXIT INT TERM
	is "$(ip netns list | grep -Ec "^${id}[crs]( |\$)")" 0 "loss $loss%: namespaces removed"
}

# 200 probes: sd at 5% is 1.5 points, at 30% 3.2; TCP_INFO sees ~400 segments.
run_path 5 1 10 1 12 warning 1
run_path 30 20 40 12 48 critical 2
done_testing
