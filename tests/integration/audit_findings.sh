#!/bin/bash
# audit: every finding provoked by a real config, under --root and a private HOME
# (this machine's /etc/ssh, ~/.ssh and sysctls are never read for the verdict
# nor touched). Also the idle timeout sources, origins and malformed input.
. "$(dirname "$0")/lib.sh"

W=$(mktemp -d "${TMPDIR:-/tmp}/sshdoctor-audit-f.XXXXXX")
trap 'rm -rf "$W"' EXIT
export HOME="$W/home" XDG_STATE_HOME="$W/state"
unset SSH_AUTH_SOCK
mkdir -p "$HOME" "$XDG_STATE_HOME"
R="$W/root"
# ssh (and audit) read ~/.ssh/config of the passwd home, not $HOME.
PWHOME=$(getent passwd "$(id -u)" | cut -d: -f6)

# A --root image: sshd_config, drop-in dir, host key, and /proc sysctls of its own.
mkroot() {	# mkroot SSHD_CONFIG_TEXT [tcp_keepalive_time]
	rm -rf "$R"
	mkdir -p "$R/etc/ssh/sshd_config.d" "$R/proc/sys/net/ipv4" "$R$PWHOME/.ssh"
	ssh-keygen -q -N '' -t ed25519 -f "$R/etc/ssh/ssh_host_ed25519_key"
	printf '%s\n' "$1" >"$R/etc/ssh/sshd_config"
	echo "${2:-7200}" >"$R/proc/sys/net/ipv4/tcp_keepalive_time"
	echo 75 >"$R/proc/sys/net/ipv4/tcp_keepalive_intvl"
	echo 9 >"$R/proc/sys/net/ipv4/tcp_keepalive_probes"
	echo 15 >"$R/proc/sys/net/ipv4/tcp_retries2"
	echo 0 >"$R/proc/sys/net/ipv4/tcp_mtu_probing"
}
client() { printf '%s\n' "$1" >"$R$PWHOME/.ssh/config"; chmod 600 "$R$PWHOME/.ssh/config"; }
audit() { "$SSHDOCTOR" --json audit --root "$R" "$@"; }
sev() { printf '%s' "$1" | python3 -c 'import json,sys
d=json.load(sys.stdin)
print(" ".join(f["id"]+"="+f["severity"] for f in d["findings"]))'; }

# 1. Everything off: the defaults.
mkroot "PasswordAuthentication no"
client "Host other
  User x"
out=$(audit t1); rc=$?
is "$rc" 1 "defaults: exit 1 (warning)"
s=$(sev "$out")
like "$s" 'client.keepalive.off=warning' "client.keepalive.off"
like "$s" 'server.keepalive.off=warning' "server.keepalive.off"
like "$s" 'kernel.tcp-keepalive.too-long=warning' "kernel.tcp-keepalive.too-long (TCPKeepAlive the sole protection, 7200 s)"
like "$s" 'server.maxstartups=info' "server.maxstartups: default on a host listening everywhere"
like "$s" 'audit.idle-timeout.assumed=info' "idle timeout assumed"
is "$(jget measurements.audit.idle_timeout_s <<<"$out")" 240 "assumed idle timeout is 240 s"
is "$(jget measurements.audit.idle_timeout_source <<<"$out")" assumed "idle_timeout_source assumed"
is "$(jget measurements.audit.detection_s.client <<<"$out")" null "no client detection"
is "$(jget measurements.audit.server.source <<<"$out")" file "server read by our parser under --root"
is "$(jget measurements.audit.kernel.tcp_keepalive_time <<<"$out")" 7200 "kernel value read from the image"
like "$out" '"where": "PuTTY"' "PuTTY instructions"
like "$out" 'Tera Term' "Tera Term instructions"
like "$out" 'VS Code Remote-SSH' "VS Code instructions"
like "$out" 'Windows NIC power saving' "NIC power saving instructions"

# 2. Too long, countmax 0, UseDNS, MaxStartups, LoginGraceTime; origins file:line.
mkroot "Include /etc/ssh/sshd_config.d/*.conf
ClientAliveInterval 600
ClientAliveCountMax 0
UseDNS yes
MaxStartups 3
LoginGraceTime 0"
echo "ClientAliveInterval 900" >"$R/etc/ssh/sshd_config.d/10-x.conf"
client "Host *
  ServerAliveInterval 900"
out=$(audit t2)
s=$(sev "$out")
like "$s" 'client.keepalive.too-long=warning' "client.keepalive.too-long (900 >= 240)"
like "$s" 'server.keepalive.too-long=warning' "server.keepalive.too-long"
like "$s" 'server.clientalive-countmax-zero=warning' "server.clientalive-countmax-zero"
like "$out" 'OpenSSH >= 8.2 means keepalives are sent but a dead client is never disconnected' \
	"countmax 0 explained for the installed version (9.x)"
like "$s" 'server.usedns=warning' "server.usedns"
like "$s" 'server.maxstartups=warning' "server.maxstartups too low"
like "$s" 'server.logingracetime=warning' "server.logingracetime 0"
is "$(jget measurements.audit.server.origin.clientaliveinterval <<<"$out")" \
	"$R/etc/ssh/sshd_config.d/10-x.conf:1" "origin of ClientAliveInterval: the included file wins (first value)"
is "$(jget measurements.audit.server.origin.usedns <<<"$out")" "$R/etc/ssh/sshd_config:4" "origin file:line of UseDNS"
is "$(jget measurements.audit.client.origin.serveraliveinterval <<<"$out")" "$R$PWHOME/.ssh/config:2" \
	"client origin file:line"
is "$(jget measurements.audit.detection_s.client <<<"$out")" 3600 "client detection 900 x (3+1)"
is "$(jget measurements.audit.detection_s.server <<<"$out")" null "server never detects (countmax 0 on >= 8.2)"
is "$(jget measurements.audit.server.maxstartups <<<"$out")" "3:30:3" "MaxStartups 3 means 3:30:3"
like "$(jget findings.0.fix.0.lines.0 <<<"$out")" 'ServerAliveInterval 60' "exact fix line"

# 3. All good: ok findings, given idle timeout, kernel covered.
mkroot "ClientAliveInterval 30
ClientAliveCountMax 2
LoginGraceTime 1m
ListenAddress 127.0.0.1" 60
client "ServerAliveInterval 20"
out=$(audit t3 --idle-timeout 5m); rc=$?
is "$rc" 0 "good config: exit 0"
s=$(sev "$out")
like "$s" 'client.keepalive.ok=ok' "client ok"
like "$s" 'server.keepalive.ok=ok' "server ok"
like "$s" 'kernel.tcp-keepalive.ok=ok' "kernel ok"
like "$s" 'server.maxstartups.ok=ok' "MaxStartups fine on a loopback-only sshd"
is "$(jget measurements.audit.idle_timeout_source <<<"$out")" given "idle_timeout_source given"
is "$(jget measurements.audit.idle_timeout_s <<<"$out")" 300 "idle timeout 300"
is "$(jget measurements.audit.detection_s.server <<<"$out")" 90 "server detection 30 x (2+1)"

# 4. The stored idle result is the timeout to beat (key from ssh -G).
client "Host t4
  HostName 192.0.2.9
  User bob
  Port 2200
  ServerAliveInterval 100"
mkdir -p "$XDG_STATE_HOME/sshdoctor/idle"
echo '{"found": true, "lower_s": 90, "upper_s": 120, "time": 1}' >"$XDG_STATE_HOME/sshdoctor/idle/bob@192.0.2.9_2200.json"
out=$(audit t4)
is "$(jget measurements.audit.idle_timeout_source <<<"$out")" measured "idle_timeout_source measured"
is "$(jget measurements.audit.idle_timeout_s <<<"$out")" 90 "stored lower bound used"
like "$(sev "$out")" 'client.keepalive.too-long=warning' "100 s keepalive is too long for a 90 s path"

# 5. Too many keys without IdentitiesOnly.
mkroot "MaxAuthTries 3"
cfg="Host t5"
for i in 1 2 3 4; do
	ssh-keygen -q -N '' -t ed25519 -f "$W/k$i"
	cfg="$cfg
  IdentityFile $W/k$i"
done
client "$cfg"
out=$(audit t5)
like "$(sev "$out")" 'client.identities=warning' "client.identities: 4 keys > MaxAuthTries 3"
is "$(jget measurements.audit.client.keys_offered <<<"$out")" 4 "4 distinct keys counted"
client "$cfg
  IdentitiesOnly yes"
out=$(audit t5)
like "$(sev "$out")" 'client.identities.ok=ok' "IdentitiesOnly yes: fine"

# 6. sshd -T is the authority when it can run (--server-config, no --root).
cat >"$W/sshd_copy" <<EOF
HostKey $R/etc/ssh/ssh_host_ed25519_key
ClientAliveInterval 2m
EOF
out=$("$SSHDOCTOR" --json audit -F "$R$PWHOME/.ssh/config" t5 --server-config "$W/sshd_copy")
is "$(jget measurements.audit.server.source <<<"$out")" "sshd -T -C" "--server-config: sshd -T -C used (as the diagnosed user sees it)"
is "$(jget measurements.audit.server.clientaliveinterval <<<"$out")" 120 "sshd -T value (2m = 120)"
is "$(jget measurements.audit.server.origin.clientaliveinterval <<<"$out")" "$W/sshd_copy:2" "origin from our parser"

# 7. Malformed configs: one line file:line: message, non-zero exit, no crash.
printf 'UseDNS no\nBanner "/etc/issue\n' >"$W/bad"
err=$("$SSHDOCTOR" audit --root "$R" --server-config "$W/bad" t5 2>&1 >/dev/null); rc=$?
is "$rc" 3 "malformed sshd_config: exit 3"
is "$(printf '%s\n' "$err" | wc -l)" 1 "one line of error"
like "$err" "$W/bad:2: unterminated quote" "error names file:line"
err=$("$SSHDOCTOR" audit --root "$R" --server-config "$W/nonexistent" t5 2>&1 >/dev/null); rc=$?
is "$rc" 3 "missing --server-config: exit 3"
like "$err" "nonexistent: No such file" "missing file named"
"$SSHDOCTOR" audit --yes >/dev/null 2>&1
is "$?" 64 "--yes without --fix: usage error"
"$SSHDOCTOR" audit --remote >/dev/null 2>&1
is "$?" 64 "--remote without TARGET: usage error"
"$SSHDOCTOR" audit --idle-timeout soon >/dev/null 2>&1
is "$?" 64 "bad duration: usage error"

# 8. Client ServerAliveCountMax 0: ssh ends every idle session after one interval
# (the 8.2 "0 = never" rule is sshd's): a finding, and --fix raises the count
# while the good interval stays.
mkroot "ClientAliveInterval 30
ListenAddress 127.0.0.1"
client "ServerAliveInterval 30
ServerAliveCountMax 0"
out=$(audit t8)
s=$(sev "$out")
like "$s" 'client.keepalive.countmax-too-low=warning' "client.keepalive.countmax-too-low for CountMax 0"
unlike_ok=$(printf '%s' "$s" | grep -c 'client.keepalive.ok')
is "$unlike_ok" 0 "not client.keepalive.ok"
is "$(jget measurements.audit.detection_s.client <<<"$out")" 30 "client detection: one interval"
out=$("$SSHDOCTOR" --json audit --root "$R" t8 --fix --yes)
is "$(awk 'tolower($1)=="serveralivecountmax"{print $2}' "$R$PWHOME/.ssh/config")" 3 "--fix: ServerAliveCountMax 3 written"
is "$(awk 'tolower($1)=="serveraliveinterval"{print $2}' "$R$PWHOME/.ssh/config" | head -1)" 30 "--fix: the interval 30 stays"
like "$(sev "$(audit t8)")" 'client.keepalive.ok=ok' "after --fix: client.keepalive.ok"
"$SSHDOCTOR" audit --undo >/dev/null 2>&1
like "$(sev "$(audit t8)")" 'client.keepalive.countmax-too-low' "after --undo: the finding is back"
# Interval 4 x CountMax 2 = 8 s: one lost reply (TCP resends after 1+2+4+8 s) ends it.
client "ServerAliveInterval 4
ServerAliveCountMax 2"
out=$(audit t8)
like "$(sev "$out")" 'client.keepalive.countmax-too-low=warning' "4 x 2 s leaves no room for one loss"
like "$out" '"ServerAliveCountMax 4"' "fix: CountMax 4 (4 x 4 >= 15 s)"

# Text output renders the same verdict.
txt=$("$SSHDOCTOR" --color=never audit --root "$R" t5 --idle-timeout 4m)
like "$txt" 'idle timeout to beat: 240s \(given\)' "text: the timeout and its source"
like "$txt" 'kernel: tcp_keepalive_time 7200' "text: kernel line"
done_testing
