#!/bin/bash
# audit reads the server as the diagnosed user sees it: a Match block in the real
# lab sshd's config that sets ClientAlive* for that user is used and named
# (file:line); one for another user is ignored. Both the local path (sshd -T -C /
# our parser on the same file) and --remote (sshd -T -C on the server, as the
# login user from the address sshd sees) are checked.
. "$(dirname "$0")/lib.sh"

lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
SC="$LAB_DIR/sshd_config"
cp "$SC" "$LAB_DIR/sshd_config.orig"
n=$(wc -l <"$SC")

audit_l() { sd_c --json audit -F "$LAB_SSH_CONFIG" lab --server-config "$SC" --idle-timeout 100; }
audit_r() { sd_c --json audit --remote -F "$LAB_SSH_CONFIG" lab --server-config "$SC" --idle-timeout 100; }

# 1. A Match for the diagnosed user (root): its values, its block named.
cat "$LAB_DIR/sshd_config.orig" >"$SC"
cat >>"$SC" <<CONF
ClientAliveInterval 300
Match User nobody
	ClientAliveInterval 11
Match User root
	ClientAliveInterval 40
	ClientAliveCountMax 2
CONF
"$LAB_SSHD" -t -f "$SC"
ok $? "the config with Match blocks is valid for sshd $LAB_SSHD_VERSION"
for mode in local remote; do
	if [ $mode = local ]; then out=$(audit_l); else out=$(audit_r); fi
	is "$(jget measurements.audit.server.clientaliveinterval <<<"$out")" 40 \
		"$mode: ClientAliveInterval from Match User root"
	is "$(jget measurements.audit.server.clientalivecountmax <<<"$out")" 2 \
		"$mode: ClientAliveCountMax from Match User root"
	like "$(jget measurements.audit.server.origin.clientaliveinterval <<<"$out")" \
		"sshd_config:$((n + 5))\$" "$mode: origin is the line inside the block"
	like "$(jget measurements.audit.server.match.clientaliveinterval <<<"$out")" \
		"^Match User root \\(.*sshd_config:$((n + 4))\\)\$" "$mode: the Match block is named"
	like "$out" "set for this user by Match User root" "$mode: the finding names the block"
	like "$(jget measurements.audit.server.connection <<<"$out")" '^user=root' \
		"$mode: asked as the diagnosed user"
	like "$(jget findings <<<"$out")" "'server.keepalive.ok'" "$mode: 40 s beats 100 s"
done
is "$(jget measurements.audit.server.source <<<"$out")" "remote sshd -T -C" "remote: sshd -T -C on the server"

# 2. Only another user's Match: ignored, the global value and no block.
cat "$LAB_DIR/sshd_config.orig" >"$SC"
cat >>"$SC" <<CONF
ClientAliveInterval 300
Match User nobody
	ClientAliveInterval 11
CONF
for mode in local remote; do
	if [ $mode = local ]; then out=$(audit_l); else out=$(audit_r); fi
	is "$(jget measurements.audit.server.clientaliveinterval <<<"$out")" 300 \
		"$mode: another user's Match ignored: the global 300"
	like "$(jget measurements.audit.server.origin.clientaliveinterval <<<"$out")" \
		"sshd_config:$((n + 1))\$" "$mode: origin is the global line"
	is "$(jget measurements.audit.server.match.clientaliveinterval <<<"$out")" null "$mode: no block named"
	like "$(jget findings <<<"$out")" "'server.keepalive.too-long'" "$mode: 300 s is too long for 100 s"
done

# 3. Match Address: the address sshd sees (the NAT router's, remote) decides.
cat "$LAB_DIR/sshd_config.orig" >"$SC"
cat >>"$SC" <<CONF
Match Address 203.0.113.1
	ClientAliveInterval 25
CONF
out=$(audit_r)
is "$(jget measurements.audit.server.clientaliveinterval <<<"$out")" 25 \
	"remote: Match Address of the address sshd sees (behind NAT: the router's)"
like "$(jget measurements.audit.server.connection <<<"$out")" 'addr=203\.0\.113\.1' "remote: addr= from SSH_CLIENT"
# 4. --fix edits the line that wins for this user: inside its Match block, checked
# with sshd -T -C (a copy of the config without the lab's version-specific lines,
# so the system's sshd -t can check it whatever LAB_OPENSSH is).
cat >"$LAB_DIR/fixcopy" <<CONF
HostKey $LAB_DIR/hostkey
ClientAliveInterval 300
Match User root
	ClientAliveInterval 400
CONF
cp "$LAB_SSH_CONFIG" "$LAB_DIR/ssh_copy"
sd_c --json audit -F "$LAB_DIR/ssh_copy" lab --server-config "$LAB_DIR/fixcopy" --idle-timeout 100 \
	--fix --yes >"$LAB_DIR/fix.json" 2>"$LAB_DIR/fix.err"
is "$(sed -n 4p "$LAB_DIR/fixcopy" | tr -d '\t')" "ClientAliveInterval 50" "--fix rewrote the line inside Match User root"
is "$(sed -n 2p "$LAB_DIR/fixcopy")" "ClientAliveInterval 300" "the global line is left alone"
is "$(/usr/sbin/sshd -T -f "$LAB_DIR/fixcopy" -C user=root,host=192.0.2.2,addr=192.0.2.2 | awk '$1=="clientaliveinterval"{print $2}')" \
	50 "sshd -T -C user=root: 50 now"
sd_c audit --undo >/dev/null 2>&1
ok $? "audit --undo"
is "$(sed -n 4p "$LAB_DIR/fixcopy" | tr -d '\t')" "ClientAliveInterval 400" "--undo: the block's line is back"
cat "$LAB_DIR/sshd_config.orig" >"$SC"
done_testing
