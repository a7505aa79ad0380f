#!/bin/bash
# sshdoctor path against a smaller-MTU link: the router forwards at most 1400
# bytes (route MTU, LAB_MTU_MODE=route). With ICMP fragmentation-needed dropped
# it is a black hole: sshdoctor must find it through the session and put the
# path MTU within 100 bytes of 1400. With the ICMP allowed there is no black
# hole and the path MTU (1400) is reported from the kernel's discovery.
. "$(dirname "$0")/lib.sh"

within() { python3 -c 'import sys; sys.exit(0 if float(sys.argv[2]) <= float(sys.argv[1]) <= float(sys.argv[3]) else 1)' "$@" 2>/dev/null; }
sev_of() { python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
print(",".join(f["severity"] for f in d["findings"] if f["id"]==sys.argv[2]))' "$@"; }
fixes_of() { python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
print("\n".join(l for f in d["findings"] if f["id"]==sys.argv[2] for x in f["fix"] for l in x["lines"]))' "$@"; }

finish_lab() {
	sleep 1
	is "$(ip netns pids "$LAB_C" | wc -l)" 0 "$1: no ssh or relay left in the client namespace"
	local id=$LAB_ID
	lab_down
	trap - EXIT INT TERM
	is "$(ip netns list | grep -Ec "^${id}[crs]( |\$)")" 0 "$1: namespaces removed"
}

LAB_MTU=1400 LAB_MTU_MODE=route

LAB_ICMP_FRAG=drop
if lab_setup; then
	j="$LAB_DIR/out.json"
	sd_c --json path -F "$LAB_SSH_CONFIG" lab >"$j" 2>"$LAB_DIR/err"
	is "$?" 2 "black hole: exit 2 (critical)"
	is "$(jget measurements.path.blackhole <"$j")" true "black hole: found"
	got=$(jget measurements.path.largest_echo_bytes <"$j")
	within "$got" 1200 1400; ok $? "black hole: largest echo $got bytes (fits in 1400 with headers)"
	got=$(jget measurements.path.pmtu <"$j")
	within "$got" 1300 1500; ok $? "black hole: suspected path MTU $got within 100 of 1400"
	is "$(sev_of "$j" path.mtu-blackhole)" critical "black hole: path.mtu-blackhole critical"
	is "$(sev_of "$j" kernel.mtu-probing-off)" warning "black hole: kernel.mtu-probing-off (the lab's sysctl is 0)"
	fx=$(fixes_of "$j" path.mtu-blackhole)
	like "$fx" '^net\.ipv4\.tcp_mtu_probing=1$' "black hole fix: net.ipv4.tcp_mtu_probing=1"
	like "$fx" 'clamp-mss-to-pmtu' "black hole fix: MSS clamping on the router"
	like "$fx" "^ip link set dev eth0 mtu $got\$" "black hole fix: interface MTU $got"
	is "$(sev_of "$j" path.loss)" ok "black hole: not mistaken for loss"
	out=$(sd_c path -F "$LAB_SSH_CONFIG" --count 5 --bulk 0 lab 2>/dev/null)
	like "$out" 'MTU black hole' "black hole: text output names it"
	# The budget holds even while echoes vanish: 10 s plus the kill grace.
	t0=$(date +%s%N)
	sd_c --json path -F "$LAB_SSH_CONFIG" --duration 10s --count 100 lab >"$j" 2>"$LAB_DIR/err"
	rc=$? el=$((($(date +%s%N) - t0) / 1000000))
	ok $((el > 13500)) "--duration 10s: done in ${el} ms"
	# Either the search finished (black hole, 2) or it says it could not (3);
	# never "no black hole" from a search cut short.
	like "$rc" '^[23]$' "--duration 10s: exit 2 or 3 (got $rc)"
	like "$rc:$(jget measurements.path.blackhole <"$j")" '^(2:true|3:false)$' \
		"--duration 10s: a verdict only from a finished search"
	finish_lab "black hole"
else
	ok 1 "lab up (black hole)"
fi

LAB_ICMP_FRAG=allow
# A login that prints before running the command (motd, .bashrc noise) must not
# be mistaken for echoes.
LAB_SSHD_EXTRA='ForceCommand echo "welcome to the lab, have a nice day"; exec cat'
if lab_setup; then
	j="$LAB_DIR/out.json"
	like "$(lab_c ssh -F "$LAB_SSH_CONFIG" lab true </dev/null 2>&1)" welcome "the lab's login prints noise first"
	sd_c --json path -F "$LAB_SSH_CONFIG" lab >"$j" 2>"$LAB_DIR/err"
	is "$?" 0 "ICMP allowed: exit 0"
	is "$(jget measurements.path.blackhole <"$j")" false "ICMP allowed: no black hole"
	is "$(jget measurements.path.pmtu <"$j")" 1400 "ICMP allowed: path MTU 1400 from UDP discovery"
	is "$(jget measurements.path.largest_echo_bytes <"$j")" 8192 "ICMP allowed: 8 KB echoes come back"
	is "$(jget measurements.path.detail.tcp_info.pmtu <"$j")" 1400 \
		"ICMP allowed: the session's own socket (via the relay) learned 1400"
	is "$(sev_of "$j" path.pmtu)" info "ICMP allowed: path.pmtu info"
	is "$(sev_of "$j" kernel.mtu-probing-off)" "" "ICMP allowed: no kernel finding"
	# The user's own ProxyCommand is kept: measured through it, no direct probes.
	sd_c --json path -F "$LAB_SSH_CONFIG" -o "ProxyCommand=$SSHDOCTOR relay %h %p" \
		--count 5 --bulk 0 lab >"$j" 2>"$LAB_DIR/err"
	is "$?" 0 "own ProxyCommand: exit 0"
	is "$(sev_of "$j" path.proxied)" info "own ProxyCommand: path.proxied"
	is "$(jget measurements.path.detail.tcp_handshake.sent <"$j")" 0 "own ProxyCommand: no direct probes"
	is "$(jget measurements.path.detail.session_echo.sent <"$j")" 5 "own ProxyCommand: 5 echoes through it"
	# A closed port still answers with resets: round trips, no loss, no session.
	sd_c --json path -F "$LAB_SSH_CONFIG" -p 2222 --count 5 lab >"$j" 2>"$LAB_DIR/err"
	is "$?" 3 "closed port: exit 3 (unknown: no session)"
	is "$(jget measurements.path.loss_pct <"$j")" 0.0 "closed port: resets count as answers"
	like "$(jget measurements.path.detail.tcp_handshake.note <"$j")" '^5 answered by a reset' \
		"closed port: the resets are named"
	is "$(sev_of "$j" path.session)" warning "closed port: path.session says why"
	finish_lab "ICMP allowed"
else
	ok 1 "lab up (ICMP allowed)"
fi
done_testing
