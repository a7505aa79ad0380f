#!/bin/bash
# connect, phase by phase, against the lab's real sshd: a healthy login, then
# each TCP verdict provoked for real: nothing listening (RST), the router's
# firewall dropping (silence) and rejecting (RST) port 22, ICMP
# admin-prohibited, and an address nobody answers ARP for.
. "$(dirname "$0")/lib.sh"

ids() { python3 -c 'import json,sys
d=json.load(sys.stdin)
print(" ".join(f["id"] for f in d["findings"]))'; }

lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
ok 0 "lab up"

sd_c --json connect -F "$LAB_SSH_CONFIG" lab >"$LAB_DIR/ok.json" 2>"$LAB_DIR/err"
is "$?" 0 "healthy server: exit 0"
J="$LAB_DIR/ok.json"
is "$(ids <"$J")" "tcp.ok banner.ok kex.ok login.ok" "ok finding for every phase"
is "$(python3 -c 'import json,sys; print(",".join(p["name"] for p in json.load(sys.stdin)["measurements"]["connect"]["phases"]))' <"$J")" \
	"dns,tcp,banner,kex,auth,session" "phases dns, tcp, banner, kex, auth, session"
like "$(jget measurements.connect.banner <"$J")" '^SSH-2\.0-OpenSSH_' "banner recorded"
is "$(jget measurements.connect.addresses.0.address <"$J")" 203.0.113.2 "address recorded"
is "$(jget measurements.connect.server_kex.hostkey.0 <"$J")" ssh-ed25519 "server's host key list parsed from its KEXINIT"
like "$(jget measurements.connect.server_kex.kex <"$J")" 'curve25519-sha256' "server's kex list parsed"
is "$(jget measurements.connect.login.auth_requests.0.method <"$J")" none "login: first auth request is 'none'"
is "$(jget measurements.connect.login.method <"$J")" publickey "login: publickey succeeded"
is "$(jget measurements.connect.established <"$J")" true "established"
ok "$(grep -c 'ERROR: \|runtime error' "$LAB_DIR/err")" "no sanitizer report"
# The KEXINIT we parsed is the one ssh sees: compare with ssh -vvv's own dump.
real=$(lab_c ssh -vvv -F "$LAB_SSH_CONFIG" lab true 2>&1 | sed -n '/peer server KEXINIT proposal/,/reserved/p' |
	sed -n 's/^debug2: host key algorithms: //p' | tr -d '\r ')
is "$(python3 -c 'import json,sys; print(",".join(json.load(sys.stdin)["measurements"]["connect"]["server_kex"]["hostkey"]))' <"$J")" \
	"$real" "host key list equals what ssh -vvv reports"

# Through a ProxyCommand the direct path is not ssh's: only the login is measured.
out=$(sd_c --json connect -F "$LAB_SSH_CONFIG" \
	-o "ProxyCommand=ssh -F $LAB_SSH_CONFIG -W %h:%p root@203.0.113.2" lab 2>/dev/null)
is "$?" 0 "via ProxyCommand: exit 0"
is "$(printf '%s' "$out" | ids)" "connect.proxy login.ok" "via ProxyCommand: connect.proxy (info) and login.ok"
like "$(printf '%s' "$out" | jget measurements.connect.proxy)" '^ProxyCommand ssh ' "the proxy is named"

# Nothing listening on 2222; ICMP admin-prohibited on 2223; a dead address.
lab_r nft add rule inet lab forward_f tcp dport 2223 reject with icmp type admin-prohibited
sd_c --json connect -F "$LAB_SSH_CONFIG" --timeout 6s lab:2222 lab:2223 root@203.0.113.99 \
	>"$LAB_DIR/bad.json" 2>/dev/null
is "$?" 2 "broken targets: exit 2"
J="$LAB_DIR/bad.json"
is "$(jget measurements.connect.0.addresses.0.tcp <"$J")" refused "nothing listening: refused"
is "$(jget measurements.connect.1.addresses.0.tcp <"$J")" unreachable "ICMP admin-prohibited: unreachable"
is "$(jget measurements.connect.2.addresses.0.tcp <"$J")" unreachable "no host at the address: unreachable (ICMP host unreachable after ARP)"
is "$(ids <"$J")" "tcp.refused tcp.unreachable tcp.unreachable" "findings tcp.refused, tcp.unreachable x2"
like "$(jget measurements.connect.0.addresses.0.ms <"$J")" '^[0-9]$|^[0-9][0-9]$' "RST comes back fast"
lab_down
trap - EXIT INT TERM

for fw in drop reject; do
	LAB_FW=$fw
	lab_setup || { ok 1 "lab up ($fw)"; continue; }
	start=$(date +%s%N)
	out=$(sd_c --json connect -F "$LAB_SSH_CONFIG" --timeout 2s lab 2>/dev/null)
	rc=$?
	el=$((($(date +%s%N) - start) / 1000000))
	is "$rc" 2 "router firewall $fw: exit 2"
	if [ $fw = drop ]; then
		is "$(printf '%s' "$out" | ids)" tcp.filtered "firewall drop: tcp.filtered"
		ok $((el >= 2000 && el < 3500 ? 0 : 1)) "filtered is decided at the timeout (${el} ms)"
	else
		is "$(printf '%s' "$out" | ids)" tcp.refused "firewall reject: tcp.refused"
		ok $((el < 1500 ? 0 : 1)) "refused is decided at once (${el} ms)"
	fi
	lab_down
	trap - EXIT INT TERM
	unset LAB_FW
done
done_testing
