#!/bin/bash
# audit in the lab: behind a NAT that forgets idle flows after T seconds, a
# session idle past T dies before `audit --fix` and survives after it, first by
# the client fix (ServerAliveInterval), then, with a client that sends nothing,
# by the server fix (ClientAliveInterval, sshd reloaded with --reload).
# Also --remote: TARGET's sshd -T -C and kernel over ssh.
. "$(dirname "$0")/lib.sh"

T=4
IDLE=7
LAB_CT_TIMEOUT=$T LAB_EXPIRY=drop
lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
ok 0 "lab up"
R="$LAB_DIR/root"	# kernel/sysctl files of the fix go here, never to this machine
mkdir -p "$R"


cp "$LAB_SSH_CONFIG" "$LAB_DIR/ssh_config.orig"
cp "$LAB_DIR/sshd_config" "$LAB_DIR/sshd_config.orig"

# --remote: the lab server's sshd (sshd -T -C as root there) and kernel.
out=$(sd_c --json audit -F "$LAB_SSH_CONFIG" lab --remote --server-config "$LAB_DIR/sshd_config" \
	--idle-timeout ${T}s)
is "$(jget measurements.audit.server.source <<<"$out")" "remote sshd -T -C" "--remote: sshd -T -C on the server"
is "$(jget measurements.audit.server.clientaliveinterval <<<"$out")" 0 "--remote: ClientAliveInterval 0"
like "$(jget measurements.audit.kernel.tcp_keepalive_time <<<"$out")" '^[0-9]+$' "--remote: the server's kernel read"
like "$out" '"server.keepalive.off"' "--remote: server.keepalive.off"

# Before: the session dies.
r=$(idle_session "")
is "$r" silent "before --fix: idle ${IDLE}s > NAT ${T}s hangs"

# The client fix.
out=$(sd_c --color=never audit -F "$LAB_SSH_CONFIG" lab --idle-timeout ${T}s --root "$R" --fix --yes); rc=$?
like "$out" "changed $LAB_SSH_CONFIG" "--fix --yes changed the client config"
is "$(lab_c ssh -G -F "$LAB_SSH_CONFIG" lab | awk '/^serveraliveinterval /{print $2}')" 2 \
	"ssh -G: ServerAliveInterval 2 (half the ${T}s timeout)"
r=$(idle_session "")
is "$r" alive "after the client fix: the same idle session survives"

# The server fix: a client that sends nothing is kept alive by sshd.
out=$(sd_c --color=never audit -F "$LAB_SSH_CONFIG" lab --idle-timeout ${T}s --root "$R" \
	--server-config "$LAB_DIR/sshd_config" --fix --yes --reload); rc=$?
like "$out" "changed $LAB_DIR/sshd_config" "--fix --yes changed sshd_config"
like "$out" 'reloaded sshd' "sshd reloaded (--reload)"
is "$("$LAB_SSHD" -T -f "$LAB_DIR/sshd_config" | awk '/^clientaliveinterval /{print $2}')" 2 \
	"sshd -T: ClientAliveInterval 2"
# sshd re-executes itself on SIGHUP: wait until it listens again.
wait_listening() {	# wait_listening N: the Nth "Server listening" line in the log
	local i
	for i in $(seq 1 100); do
		[ "$(grep -c 'Server listening' "$LAB_DIR/sshd.log")" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
wait_listening 2
ok $? "sshd listening again after the reload"
r=$(idle_session "-o ServerAliveInterval=0")
is "$r" alive "after the server fix: a client without keepalives survives"

# --undo brings both files back byte for byte, and the session dies again.
# (the server fix is the last change set, the client fix the one before)
sd_c audit --undo >/dev/null
sd_c audit --undo >/dev/null
ok "$(cmp -s "$LAB_SSH_CONFIG" "$LAB_DIR/ssh_config.orig"; echo $?)" "--undo: ssh_config original bytes"
ok "$(cmp -s "$LAB_DIR/sshd_config" "$LAB_DIR/sshd_config.orig"; echo $?)" "--undo: sshd_config original bytes"
kill -HUP "$(cat "$LAB_DIR/sshd.pid")"
wait_listening 3
r=$(idle_session "")
is "$r" silent "after --undo: the idle session hangs again"
done_testing
