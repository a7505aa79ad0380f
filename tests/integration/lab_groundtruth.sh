#!/bin/bash
# The lab's ground truth: behind a NAT that forgets idle flows after T seconds, a
# session idle longer than T hangs (drop mode) or is reset (reset mode), and the
# same session with ServerAliveInterval below T survives. Every measurement of
# sshdoctor is checked against this behaviour.
. "$(dirname "$0")/lib.sh"

T=4
IDLE=7

# Opens `ssh lab cat`, checks the echo, idles, then writes again.
# Prints: alive | silent | dead:<ssh's error line>
idle_session() {
	local extra="$1" line=""
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

for mode in drop reset; do
	LAB_CT_TIMEOUT=$T LAB_EXPIRY=$mode
	lab_setup || { ok 1 "lab up ($mode)"; continue; }
	ok 0 "lab up ($mode)"
	is "$(lab_r sysctl -n net.netfilter.nf_conntrack_tcp_timeout_established)" "$T" \
		"router conntrack timeout is ${T}s ($mode)"
	is "$(sysctl -n net.netfilter.nf_conntrack_tcp_timeout_established 2>/dev/null || echo 432000)" 432000 \
		"root namespace conntrack untouched ($mode)"
	r=$(idle_session "-o ServerAliveInterval=0")
	if [ $mode = drop ]; then
		is "$r" silent "idle ${IDLE}s > ${T}s without keepalive: silent hang (drop)"
	else
		like "$r" '^dead:.*(Broken pipe|reset)' "idle ${IDLE}s > ${T}s without keepalive: reset (reset)"
	fi
	r=$(idle_session "-o ServerAliveInterval=2")
	is "$r" alive "idle ${IDLE}s with ServerAliveInterval=2 < ${T}s: survives ($mode)"
	id=$LAB_ID
	lab_down
	trap - EXIT INT TERM
	is "$(ip netns list | grep -Ec "^${id}[crs]( |\$)")" 0 "namespaces removed ($mode)"
done
done_testing
