#!/bin/bash
# The lab's ground truth: behind a NAT that forgets idle flows after T seconds, a
# session idle longer than T hangs (drop mode) or is reset (reset mode), and the
# same session with ServerAliveInterval below T survives. Every measurement of
# sshdoctor is checked against this behaviour.
. "$(dirname "$0")/lib.sh"

T=4
IDLE=7

for mode in drop reset; do
	LAB_CT_TIMEOUT=$T LAB_EXPIRY=$mode
	lab_setup || { ok 1 "lab up ($mode)"; continue; }
	ok 0 "lab up ($mode)"
	is "$(lab_r sysctl -n net.netfilter.nf_conntrack_tcp_timeout_established)" "$T" \
		"router conntrack timeout is ${T}s ($mode)"
	is "$(sysctl -n net.netfilter.nf_conntrack_tcp_timeout_established 2>/dev/null || echo 432000)" 432000 \
		"root namespace conntrack untouched ($mode)"
	if [ $mode = drop ]; then	# logins run none of this machine's root dotfiles
		is "$(lab_c ssh -F "$LAB_SSH_CONFIG" lab 'echo "$HOME"; ls -A "$HOME" | wc -l' 2>&1 | tr '\n' ' ')" \
			"$LAB_DIR/srvroot 0 " "the server's root logs in to an empty home of the lab"
	fi
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
