#!/bin/bash
# doctor --server, run in the lab's server namespace, names why the client
# (192.0.2.2, no NAT: LAB_NAT=none) cannot get in, with the evidence and the
# exact fix; and `connect` from the client agrees. Scenarios: clean, sshd
# stopped (with a config sshd -t rejects), sshd on another port / address, an
# nftables drop and reject for the client (server namespace only; the fix the
# tool prints is run and cures it), a look-alike rule for another address, a
# fail2ban-style ban (nftables set with a timeout), hosts.deny for
# 192.0.2.0/24 (via /etc/netns/NS/hosts.deny: the machine's own file is never
# touched), and a run without root.
. "$(dirname "$0")/lib.sh"

LAB_NAT=none
lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
trap 'rm -rf "/etc/netns/$LAB_S"; lab_down' EXIT
ok 0 "lab up (OpenSSH $LAB_SSHD_VERSION, no NAT)"
cp "$LAB_DIR/sshd_config" "$LAB_DIR/sshd_config.orig"

sd_s() { lab_s env HOME="$LAB_DIR/home" XDG_STATE_HOME="$LAB_DIR/state" "$SSHDOCTOR" "$@"; }
# srv NAME [args]: doctor --server for the client, JSON in NAME.json, exit code in SRC
srv() {
	local name=$1
	shift
	sd_s --json doctor --server 192.0.2.2 --server-log "$LAB_DIR/sshd.log" "$@" \
		>"$LAB_DIR/$name.json" 2>"$LAB_DIR/$name.err"
	SRC=$?
}
. "$ROOT/tests/lab/srvside_helpers.sh"
status() { jget status <"$LAB_DIR/$1.json"; }
# cli NAME: the client's side, `connect` from the client namespace; prints its bad ids
cli() {
	sd_c --json connect -F "$LAB_SSH_CONFIG" -o ConnectTimeout=4 lab >"$LAB_DIR/$1.cli.json" 2>/dev/null
	bad_findings <"$LAB_DIR/$1.cli.json"
}
sshd_restart() {
	local pid
	pid=$(cat "$LAB_DIR/sshd.pid" 2>/dev/null)
	lab_sshd_stop
	for _ in $(seq 1 50); do
		[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	lab_sshd_start
}
set_listen() { sed "s/^ListenAddress .*/ListenAddress $1/" "$LAB_DIR/sshd_config.orig" >"$LAB_DIR/sshd_config"; }
fw() {	# fw RULES...: a table in the server namespace only
	lab_s nft delete table inet hsrv 2>/dev/null
	printf 'table inet hsrv {\n%s\n}\n' "$1" >"$LAB_DIR/hsrv.nft"
	lab_s nft -f "$LAB_DIR/hsrv.nft"
}

# --- clean: everything fine, status ok, found from the running sshd itself
srv clean --user root
is "$SRC" 0 "clean: exit 0"
is "$(status clean)" ok "clean: status ok"
is "$(sev clean srv.ok)" ok "clean: srv.ok"
is "$(jget measurements.server.sshd_config <"$LAB_DIR/clean.json")" "$LAB_DIR/sshd_config" \
	"clean: sshd's config found from the running process (-f)"
like "$(python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))["measurements"]["server"]
print(" ".join("%s:%d/%s" % (l["addr"], l["port"], l["comm"]) for l in d["listeners"]))' "$LAB_DIR/clean.json")" \
	'0\.0\.0\.0:22/sshd' "clean: the listening socket matched to sshd by inode"
is "$(jget measurements.server.libwrap <"$LAB_DIR/clean.json")" 1 "clean: Debian's sshd is linked with libwrap"
is "$(cli clean)" "" "clean: connect from the client: nothing wrong"
sd_s doctor --server 192.0.2.2 --server-log "$LAB_DIR/sshd.log" >"$LAB_DIR/clean.txt" 2>&1
like "$(cat "$LAB_DIR/clean.txt")" 'srv\.ok' "clean: the text report names srv.ok"

# --- without root: says what it could not read, never crashes
chmod 755 "$LAB_DIR/home"
lab_s setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/tmp "$SSHDOCTOR" --json doctor \
	--server 192.0.2.2 >"$LAB_DIR/nonroot.json" 2>"$LAB_DIR/nonroot.err"
rc=$?
is "$rc" 3 "not root: exit 3 (unknown), no crash"
is "$(sev nonroot srv.sshd-down)$(sev nonroot srv.config-invalid)" absentabsent \
	"not root: no false 'sshd down' or 'config invalid' from what it cannot read"
is "$(sev nonroot srv.listener-unknown)" warning "not root: port 22 open, owner not visible (srv.listener-unknown)"
is "$(sev nonroot srv.unreadable)" warning "not root: srv.unreadable says what could not be read"
like "$(field nonroot srv.unreadable evidence)" 'not root' "not root: names the reason"
is "$(sev nonroot srv.ok)" absent "not root: never claims all is well"

# --- sshd stopped, and its config no longer passes sshd -t
lab_sshd_stop
sleep 0.5
echo "Portt 22" >>"$LAB_DIR/sshd_config"
srv down --sshd "$LAB_SSHD" --sshd-config "$LAB_DIR/sshd_config"
is "$SRC" 2 "sshd stopped: exit 2 (critical)"
is "$(sev down srv.sshd-down)" critical "sshd stopped: srv.sshd-down"
like "$(field down srv.sshd-down evidence)" 'Portt' "sshd stopped: sshd -t's error in the evidence"
like "$(field down srv.sshd-down fix)" "$LAB_SSHD -f $LAB_DIR/sshd_config" "sshd stopped: the command that starts it"
like "$(cli down)" 'tcp\.refused' "sshd stopped: the client sees tcp.refused (agrees)"
cp "$LAB_DIR/sshd_config.orig" "$LAB_DIR/sshd_config"
lab_sshd_start

# --- a config edit sshd -t rejects, while the old sshd still runs
echo "Portt 22" >>"$LAB_DIR/sshd_config"
srv broken
is "$(sev broken srv.config-invalid)" warning "broken config, sshd running: srv.config-invalid (the next restart fails)"
like "$(field broken srv.config-invalid evidence)" 'Portt' "broken config: sshd -t's line shown"
sleep 1.2
cp "$LAB_DIR/sshd_config.orig" "$LAB_DIR/sshd_config"
srv unreloaded
is "$(sev unreloaded srv.config-unreloaded)" info "valid config changed after sshd started: srv.config-unreloaded (info)"
is "$(status unreloaded)" ok "valid config changed after sshd started: still status ok"

# --- sshd on another port than the client uses
set_listen 0.0.0.0:2222
sshd_restart
srv port
is "$(sev port srv.not-listening)" critical "port 2222: srv.not-listening"
like "$(field port srv.not-listening title)" '0\.0\.0\.0:2222' "port 2222: names where sshd listens"
like "$(field port srv.not-listening fix)" '^Port 22$' "port 2222: fix Port 22"
like "$(field port srv.not-listening evidence)" 'sshd -T: listenaddress 0\.0\.0\.0:2222' "port 2222: sshd -T's listenaddress shown"
like "$(cli port)" 'tcp\.refused' "port 2222: the client sees tcp.refused (agrees)"
srv port2222 --dest 203.0.113.2:2222
is "$(sev port2222 srv.not-listening)" absent "port 2222, client uses 2222: not flagged (look-alike)"

# --- sshd on another address
set_listen 127.0.0.1:22
sshd_restart
srv addr --dest 203.0.113.2:22
is "$(sev addr srv.not-listening)" critical "listening on 127.0.0.1 only: srv.not-listening for 203.0.113.2"
like "$(field addr srv.not-listening fix)" 'ListenAddress 203\.0\.113\.2:22' "listening on 127.0.0.1: fix ListenAddress"
srv addrlo --dest 127.0.0.1:22
is "$(sev addrlo srv.not-listening)" absent "listening on 127.0.0.1, client uses it: not flagged"
cp "$LAB_DIR/sshd_config.orig" "$LAB_DIR/sshd_config"
sshd_restart

# --- nftables drop for the client, in the server namespace
fw $'\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n\t\tip saddr 192.0.2.2 tcp dport 22 drop\n\t}'
srv drop
is "$(sev drop srv.fw-drop)" critical "nft drop: srv.fw-drop"
like "$(field drop srv.fw-drop evidence)" 'rule: ip saddr 192\.0\.2\.2 tcp dport 22 drop' "nft drop: the rule shown"
like "$(cli drop)" 'tcp\.filtered' "nft drop: the client sees tcp.filtered (agrees)"
fixcmd=$(field drop srv.fw-drop fix)
like "$fixcmd" '^nft delete rule inet hsrv input handle [0-9]+$' "nft drop: the exact command"
# shellcheck disable=SC2086
lab_s $fixcmd
srv dropfixed
is "$(sev dropfixed srv.ok)" ok "nft drop: after the printed fix, srv.ok"

# --- nftables reject
fw $'\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n\t\tip saddr 192.0.2.0/24 tcp dport 22 reject with tcp reset\n\t}'
srv reject
is "$(sev reject srv.fw-reject)" critical "nft reject: srv.fw-reject"
like "$(cli reject)" 'tcp\.refused' "nft reject: the client sees tcp.refused (agrees)"

# --- look-alike: a rule for another address
fw $'\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n\t\tip saddr 192.0.2.99 tcp dport 22 drop\n\t}'
srv other
is "$(sev other srv.ok)" ok "a drop for 192.0.2.99 only: 192.0.2.2 is fine"
sd_s --json doctor --server 192.0.2.99 >"$LAB_DIR/other99.json" 2>/dev/null
is "$(sev other99 srv.fw-drop)" critical "the same rule, asked for 192.0.2.99: srv.fw-drop"

# --- a fail2ban-style ban: a set with a timeout
fw $'\tset f2b {\n\t\ttype ipv4_addr\n\t\tflags timeout\n\t\telements = { 192.0.2.2 timeout 10m }\n\t}\n\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n\t\tip saddr @f2b tcp dport 22 reject with tcp reset\n\t}'
srv ban
is "$(sev ban srv.fw-ban)" critical "ban: srv.fw-ban"
left=$(field ban srv.fw-ban evidence | sed -n 's/.*, \([0-9]*\) s left.*/\1/p')
ok $((left > 500 && left <= 600 ? 0 : 1)) "ban: the time left shown (${left:-none} s of 600)"
like "$(cli ban)" 'tcp\.refused' "ban: the client sees tcp.refused (agrees)"
fixcmd=$(field ban srv.fw-ban fix)
is "$fixcmd" "nft delete element inet hsrv f2b { 192.0.2.2 }" "ban: the unban command"
lab_s nft delete element inet hsrv f2b '{ 192.0.2.2 }'
srv unbanned
is "$(sev unbanned srv.ok)" ok "ban: after the unban, srv.ok"
lab_s nft delete table inet hsrv

# --- an iptables rule (as ufw writes them; iptables-nft puts it into nftables)
if command -v iptables >/dev/null 2>&1; then
	lab_s iptables -A INPUT -s 192.0.2.2/32 -p tcp --dport 22 -j DROP
	srv ipt
	is "$(sev ipt srv.fw-drop)" critical "iptables drop: srv.fw-drop"
	like "$(field ipt srv.fw-drop evidence)" 'chain INPUT' "iptables drop: the INPUT rule shown"
	lab_s iptables -D INPUT -s 192.0.2.2/32 -p tcp --dport 22 -j DROP
	srv iptfixed
	is "$(sev iptfixed srv.ok)" ok "iptables rule removed: srv.ok"
else
	ok 1 "iptables drop: iptables not installed (run make deps)"
fi

# --- TCP wrappers: hosts.deny for the client's network, this namespace only
mkdir -p "/etc/netns/$LAB_S"
echo "sshd: 192.0.2.0/24" >"/etc/netns/$LAB_S/hosts.deny"
sshd_restart
srv wrap
is "$(sev wrap srv.tcpwrap-deny)" critical "hosts.deny: srv.tcpwrap-deny"
like "$(field wrap srv.tcpwrap-deny evidence)" '/etc/hosts\.deny:1: sshd: 192\.0\.2\.0/24' "hosts.deny: the line shown"
like "$(cli wrap)" 'banner\.closed' "hosts.deny: the client sees banner.closed (agrees)"
ok $([ -e /etc/hosts.deny ] && grep -q '192\.0\.2\.0/24' /etc/hosts.deny && echo 1 || echo 0) \
	"hosts.deny: the machine's own /etc/hosts.deny untouched"
rm -rf "/etc/netns/$LAB_S"
sshd_restart
srv unwrapped
is "$(sev unwrapped srv.ok)" ok "hosts.deny removed: srv.ok"

# --- conntrack table tiny and full: only if it can be done inside the namespace
if lab_s sh -c 'echo 64 >/proc/sys/net/netfilter/nf_conntrack_max' 2>/dev/null; then
	echo "# conntrack: nf_conntrack_max is writable in a namespace here; scenario not written for it"
	ok 1 "conntrack full: the kernel allows a per-namespace max: write the scenario"
else
	msg="WARNING: conntrack table full NOT tested in the lab: nf_conntrack_max is read-only in a"
	msg="$msg network namespace on kernel $(uname -r) and the host's live sysctl is never changed"
	echo "# $msg"
	echo "$msg" >&2
	echo "ok $((T_N += 1)) # SKIP conntrack full: nf_conntrack_max read-only in a netns (unit test covers the judge)"
	ct=$(jget measurements.server.conntrack_max <"$LAB_DIR/clean.json")
	ok $((ct > 0 ? 0 : 1)) "conntrack: count and max read in the server namespace (max $ct)"
fi

# do no harm: none of the above got the client penalised (10.0's PerSourcePenalties)
! grep -q 'activating .*penalty' "$LAB_DIR/sshd.log"
ok $? "sshd activated no penalty against the lab's client in any scenario"

done_testing
