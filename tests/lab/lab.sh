#!/bin/bash
# tests/lab/lab.sh - a throwaway network: client -> router (NAT) -> server with a
# private real sshd. Source it, set knobs, call lab_up; lab_down runs from a trap.
#
#   client ns  192.0.2.2/24 --- 192.0.2.1 [router ns: nftables masquerade,
#                                           conntrack, netem, MTU, firewall]
#                                           203.0.113.1 --- 203.0.113.2/24 server ns (sshd :22)
#
# Knobs (environment, read by lab_up):
#   LAB_CT_TIMEOUT  conntrack established timeout in seconds (default 20)
#   LAB_EXPIRY      what an expired flow gets: drop (silent) or reset (RST)  (default drop)
#   LAB_LOSS        netem loss % on the router, toward the server (default none)
#   LAB_DELAY       netem delay in ms toward the server;  LAB_JITTER  jitter in ms
#   LAB_MTU         MTU of both router links (endpoints stay 1500)
#   LAB_MTU_MODE    link (default): set LAB_MTU on the router's interfaces (the
#                   veths then drop bigger frames on receipt, without ICMP);
#                   route: keep 1500 links and give the router's routes mtu
#                   LAB_MTU, so it forwards and answers frag-needed like a
#                   real router in front of a smaller-MTU link
#   LAB_ICMP_FRAG   allow or drop ICMP fragmentation-needed (default allow)
#   LAB_FW          verdict for TCP port 22 toward the server: none, drop, reject
#   LAB_RATELIMIT   rate limit on NEW connections to port 22 toward the server,
#                   "N/minute" or "N/second" (nftables limit, burst N); past it
#                   new connections are dropped, or refused with a reset when
#                   LAB_RATELIMIT_MODE=reject (default drop). Established
#                   connections are not affected.
#   LAB_BAN         "N/minute:SECONDS": past N new connections a minute to port 22
#                   from one address, that address is banned for SECONDS, and
#                   every SYN it sends while banned starts the ban over (as
#                   iptables recent --update, sshguard and port-knock guards do);
#                   the set is inet lab ban on the router
#   LAB_SSHD_EXTRA  extra sshd_config lines (newline-separated)
#   LAB_AUTH        key (default) or password: a password-only sshd (PAM off,
#                   PasswordAuthentication yes, keyboard-interactive and pubkey
#                   off) and a test user LAB_PW_USER with password LAB_PASSWORD,
#                   Host "lab" logs in as that user. The user exists only for the
#                   server namespace: passwd/shadow under /etc/netns/LAB_S, which
#                   ip netns exec bind-mounts over /etc/passwd and /etc/shadow;
#                   the machine's own files are never written (lab_down removes them)
#   LAB_DNS         client resolver: none (default), dead (a server that never answers)
#   LAB_SERVER_DNS  server resolver: none (default), dead
#   LAB_NAT         masquerade (default) or none: the router only routes, so
#                   the server sees the client's own 192.0.2.2 (hosts.deny,
#                   firewall rules and sshd's log name the real client)
#   LAB_NO_SSHD     1: do not start sshd (the port is free for a fake server)
#   LAB_OPENSSH     the server's OpenSSH: 9.2 (the system's, default) or 10 (10.0
#                   from bookworm-backports, fetched by scripts/openssh10.sh into
#                   the build tree; the machine's packages stay as they are)
#   LAB_OPENSSH_CLIENT  the same for the client's ssh (default 9.2): 10 puts the
#                   extracted ssh first in PATH inside lab_c
# After lab_up: LAB_DIR, LAB_C/LAB_R/LAB_S (namespace names), LAB_SSH_CONFIG
# (Host "lab" = the server, key login as root), LAB_SERVER_IP, LAB_KEY,
# LAB_SSHD (the sshd binary of LAB_OPENSSH), LAB_SSHD_PATHS (the lines a private
# sshd_config of that version needs), LAB_SSHD_VERSION ("9.2" or "10.0").

LAB_SERVER_IP=203.0.113.2
LAB_CLIENT_IP=192.0.2.2
LAB_ROUTER_CIP=192.0.2.1
LAB_ROUTER_SIP=203.0.113.1

lab_log() { [ -n "${LAB_QUIET:-}" ] || echo "lab: $*" >&2; }
lab_c() {
	if [ -n "${LAB_CLIENT_PATH:-}" ]; then
		ip netns exec "$LAB_C" env PATH="$LAB_CLIENT_PATH:$PATH" "$@"
	else
		ip netns exec "$LAB_C" "$@"
	fi
}
lab_r() { ip netns exec "$LAB_R" "$@"; }
lab_s() { ip netns exec "$LAB_S" "$@"; }

lab_require() {
	if [ "$(id -u)" != 0 ]; then
		echo "lab: FAIL: needs root for network namespaces (run as root)" >&2
		return 1
	fi
	local t
	for t in ip nft sshd ssh ssh-keygen tc; do
		command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] || {
			echo "lab: FAIL: '$t' not found (run make deps)" >&2
			return 1
		}
	done
}

# Picks the sshd (and maybe ssh) binaries of LAB_OPENSSH / LAB_OPENSSH_CLIENT.
lab_openssh() {
	LAB_SSHD=/usr/sbin/sshd LAB_SSHD_PATHS="" LAB_CLIENT_PATH=""
	local want="${LAB_OPENSSH:-9.2}" wantc="${LAB_OPENSSH_CLIENT:-9.2}" dir=""
	case "$want" in 9.2 | 10 | 10.0) ;; *)
		echo "lab: FAIL: LAB_OPENSSH=$want (want 9.2 or 10)" >&2; return 1 ;; esac
	case "$wantc" in 9.2 | 10 | 10.0) ;; *)
		echo "lab: FAIL: LAB_OPENSSH_CLIENT=$wantc (want 9.2 or 10)" >&2; return 1 ;; esac
	if [ "$want" != 9.2 ] || [ "$wantc" != 9.2 ]; then
		dir=$("$(dirname "${BASH_SOURCE[0]}")/../../scripts/openssh10.sh") || {
			echo "lab: FAIL: OpenSSH 10 not available (scripts/openssh10.sh)" >&2
			return 1
		}
	fi
	if [ "$want" != 9.2 ]; then
		LAB_SSHD="$dir/usr/sbin/sshd"
		# 10.0 execs these from compiled-in paths that are not on this machine.
		LAB_SSHD_PATHS="SshdSessionPath $dir/usr/lib/openssh/sshd-session
SshdAuthPath $dir/usr/lib/openssh/sshd-auth
Subsystem sftp $dir/usr/lib/openssh/sftp-server"
	fi
	[ "$wantc" != 9.2 ] && LAB_CLIENT_PATH="$dir/usr/bin"
	LAB_SSHD_VERSION=$("$LAB_SSHD" -V 2>&1 | sed -n 's/^OpenSSH_\([0-9]*\.[0-9]*\).*/\1/p' | head -1)
	[ -n "$LAB_SSHD_VERSION" ] || {
		echo "lab: FAIL: $LAB_SSHD -V printed no OpenSSH version" >&2
		return 1
	}
	export LAB_SSHD LAB_SSHD_PATHS LAB_CLIENT_PATH LAB_SSHD_VERSION
}

# 0 while LAB_BAN's set on the router holds the client's address.
lab_banned() { lab_r nft list set inet lab ban 2>/dev/null | grep -q "$LAB_CLIENT_IP"; }

lab_nft_rules() {
	local expiry_rule="ct state invalid drop"
	[ "${LAB_EXPIRY:-drop}" = reset ] &&
		expiry_rule=$'ct state invalid tcp flags & rst == 0 reject with tcp reset\n\t\tct state invalid drop'
	local fw_rule=""
	case "${LAB_FW:-none}" in
	drop) fw_rule="ip daddr $LAB_SERVER_IP tcp dport 22 drop" ;;
	reject) fw_rule="ip daddr $LAB_SERVER_IP tcp dport 22 reject with tcp reset" ;;
	esac
	local rl_rule=""
	if [ -n "${LAB_RATELIMIT:-}" ]; then
		local rl_n="${LAB_RATELIMIT%%/*}" rl_verdict="drop"
		[ "${LAB_RATELIMIT_MODE:-drop}" = reject ] && rl_verdict="reject with tcp reset"
		rl_rule="ip daddr $LAB_SERVER_IP tcp dport 22 ct state new limit rate over $LAB_RATELIMIT burst $rl_n packets $rl_verdict"
	fi
	local ban_set="" ban_rule=""
	if [ -n "${LAB_BAN:-}" ]; then
		local ban_rate="${LAB_BAN%%:*}" ban_s="${LAB_BAN##*:}"
		ban_set="set ban { type ipv4_addr; flags dynamic, timeout; }
	set rate { type ipv4_addr; flags dynamic, timeout; timeout 1m; }"
		ban_rule="ip daddr $LAB_SERVER_IP tcp dport 22 ct state new ip saddr @ban update @ban { ip saddr timeout ${ban_s}s } drop
		ip daddr $LAB_SERVER_IP tcp dport 22 ct state new add @rate { ip saddr limit rate over $ban_rate burst ${ban_rate%%/*} packets } add @ban { ip saddr timeout ${ban_s}s } drop"
	fi
	local icmp_rule=""
	[ "${LAB_ICMP_FRAG:-allow}" = drop ] && icmp_rule="icmp type destination-unreachable icmp code frag-needed drop"
	local dns_rule=""
	[ "${LAB_DNS:-none}" = dead ] || [ "${LAB_SERVER_DNS:-none}" = dead ] &&
		dns_rule="udp dport 53 drop"
	cat <<NFT
table inet lab {
	$ban_set
	chain forward_f {
		type filter hook forward priority 0; policy accept;
		$icmp_rule
		$fw_rule
		$rl_rule
		$ban_rule
		$expiry_rule
	}
	chain input_f {
		type filter hook input priority 0; policy accept;
		$dns_rule
	}
	chain output_f {
		type filter hook output priority 0; policy accept;
		$icmp_rule
	}
}
table ip labnat {
	chain post {
		type nat hook postrouting priority 100; policy accept;
		oifname "rs0" masquerade
	}
}
NFT
}

lab_net_up() {
	ip netns add "$LAB_C" && ip netns add "$LAB_R" && ip netns add "$LAB_S" || return 1
	ip -n "$LAB_C" link add eth0 type veth peer name rc0 netns "$LAB_R" || return 1
	ip -n "$LAB_S" link add eth0 type veth peer name rs0 netns "$LAB_R" || return 1
	ip -n "$LAB_C" addr add "$LAB_CLIENT_IP/24" dev eth0
	ip -n "$LAB_R" addr add "$LAB_ROUTER_CIP/24" dev rc0
	ip -n "$LAB_R" addr add "$LAB_ROUTER_SIP/24" dev rs0
	ip -n "$LAB_S" addr add "$LAB_SERVER_IP/24" dev eth0
	local ns
	for ns in "$LAB_C" "$LAB_R" "$LAB_S"; do ip -n "$ns" link set lo up; done
	ip -n "$LAB_C" link set eth0 up
	ip -n "$LAB_S" link set eth0 up
	ip -n "$LAB_R" link set rc0 up
	ip -n "$LAB_R" link set rs0 up
	ip -n "$LAB_C" route add 203.0.113.0/24 via "$LAB_ROUTER_CIP"
	ip -n "$LAB_C" route add 198.51.100.0/24 via "$LAB_ROUTER_CIP"
	if [ -n "${LAB_MTU:-}" ] && [ "${LAB_MTU_MODE:-link}" = route ]; then
		ip -n "$LAB_R" route replace 192.0.2.0/24 dev rc0 mtu "$LAB_MTU" || return 1
		ip -n "$LAB_R" route replace 203.0.113.0/24 dev rs0 mtu "$LAB_MTU" || return 1
	elif [ -n "${LAB_MTU:-}" ]; then
		ip -n "$LAB_R" link set rc0 mtu "$LAB_MTU"
		ip -n "$LAB_R" link set rs0 mtu "$LAB_MTU"
	fi
	lab_nft_rules >"$LAB_DIR/rules.nft"
	lab_r nft -f "$LAB_DIR/rules.nft" || return 1
	lab_r sysctl -qw net.ipv4.ip_forward=1 || return 1
	lab_set_timeout "${LAB_CT_TIMEOUT:-20}" || return 1
	lab_r sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0 || return 1
	lab_netem || return 1
	lab_nat_knob || return 1
	lab_dns
}

lab_nat_knob() {
	[ "${LAB_NAT:-masquerade}" = none ] || return 0
	lab_r nft delete table ip labnat || return 1
	ip -n "$LAB_S" route add 192.0.2.0/24 via "$LAB_ROUTER_SIP"
}

lab_netem() {
	local args=""
	[ -n "${LAB_DELAY:-}" ] && args="delay ${LAB_DELAY}ms${LAB_JITTER:+ ${LAB_JITTER}ms}"
	[ -n "${LAB_LOSS:-}" ] && args="$args loss ${LAB_LOSS}%"
	[ -n "$args" ] || return 0
	# shellcheck disable=SC2086
	lab_r tc qdisc replace dev rs0 root netem $args limit 10000 2>/dev/null && return 0
	lab_emulate
}

# Kernels built without sch_netem: the same effects on the same packets (leaving
# rs0, toward the server): loss from nftables numgen, delay and jitter from
# tests/lab/delayq.py holding an NFQUEUE (queued by iptables: nft has no queue
# expression on such kernels).
lab_emulate() {
	if [ -n "${LAB_LOSS:-}" ]; then
		local pm
		pm=$(awk -v l="$LAB_LOSS" 'BEGIN { printf "%d", l * 10 + 0.5 }')
		printf 'table inet labem {\n\tchain post {\n\t\ttype filter hook postrouting priority 0; policy accept;\n\t\toifname "rs0" numgen random mod 1000 < %d drop\n\t}\n}\n' \
			"$pm" >"$LAB_DIR/loss.nft"
		lab_r nft -f "$LAB_DIR/loss.nft" || return 1
		# nftables sees a GSO burst as one packet: drop per segment, as on a wire.
		ip -n "$LAB_C" link set eth0 gso_max_segs 1 || return 1
	fi
	[ -n "${LAB_DELAY:-}" ] || return 0
	command -v iptables >/dev/null 2>&1 || {
		echo "lab: FAIL: no sch_netem in this kernel and no iptables for LAB_DELAY (run make deps)" >&2
		return 1
	}
	lab_r python3 "$(dirname "${BASH_SOURCE[0]}")/delayq.py" 0 "$LAB_DELAY" "${LAB_JITTER:-0}" \
		>"$LAB_DIR/delayq.out" 2>&1 &
	local i
	for i in $(seq 1 100); do
		grep -q ready "$LAB_DIR/delayq.out" 2>/dev/null && break
		sleep 0.05
	done
	grep -q ready "$LAB_DIR/delayq.out" || {
		echo "lab: FAIL: delay helper did not start: $(cat "$LAB_DIR/delayq.out")" >&2
		return 1
	}
	lab_r iptables -t mangle -A POSTROUTING -o rs0 -j NFQUEUE --queue-num 0
}

lab_set_timeout() { lab_r sysctl -qw "net.netfilter.nf_conntrack_tcp_timeout_established=$1"; }

lab_dns() {
	# ip netns exec bind-mounts /etc/netns/NS/resolv.conf over /etc/resolv.conf.
	if [ "${LAB_DNS:-none}" = dead ]; then
		mkdir -p "/etc/netns/$LAB_C"
		echo "nameserver $LAB_ROUTER_CIP" >"/etc/netns/$LAB_C/resolv.conf"
		echo "options timeout:1 attempts:2" >>"/etc/netns/$LAB_C/resolv.conf"
	fi
	if [ "${LAB_SERVER_DNS:-none}" = dead ]; then
		mkdir -p "/etc/netns/$LAB_S"
		echo "nameserver $LAB_ROUTER_SIP" >"/etc/netns/$LAB_S/resolv.conf"
	fi
}

lab_keys_and_configs() {
	ssh-keygen -q -t ed25519 -N '' -f "$LAB_DIR/hostkey" -C lab-host || return 1
	ssh-keygen -q -t ed25519 -N '' -f "$LAB_DIR/id_client" -C lab-client || return 1
	cp "$LAB_DIR/id_client.pub" "$LAB_DIR/authorized_keys"
	LAB_KEY="$LAB_DIR/id_client"
	local auth_lines="" lab_user=root
	lab_server_passwd || return 1
	if [ "${LAB_AUTH:-key}" = password ]; then
		lab_password_user || return 1
		lab_user="$LAB_PW_USER"
		auth_lines="PasswordAuthentication yes
PubkeyAuthentication no
AllowUsers $LAB_PW_USER"
	fi
	cat >"$LAB_DIR/sshd_config" <<CONF
${LAB_SSHD_PATHS:-}
${LAB_SSHD_EXTRA:-}
$auth_lines
ListenAddress 0.0.0.0:22
HostKey $LAB_DIR/hostkey
AuthorizedKeysFile $LAB_DIR/authorized_keys
PidFile $LAB_DIR/sshd.pid
UsePAM no
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
LogLevel VERBOSE
CONF
	LAB_SSH_CONFIG="$LAB_DIR/ssh_config"
	cat >"$LAB_SSH_CONFIG" <<CONF
Host lab
	HostName $LAB_SERVER_IP
	User $lab_user
	Port 22
Host *
	IdentityFile $LAB_DIR/id_client
	IdentitiesOnly yes
	StrictHostKeyChecking no
	UserKnownHostsFile /dev/null
	GlobalKnownHostsFile /dev/null
	BatchMode yes
	LogLevel ERROR
	ConnectTimeout 10
CONF
	mkdir -p "$LAB_DIR/home" "$LAB_DIR/state"
}

# The server namespace's own passwd (ip netns exec bind-mounts /etc/netns/LAB_S/passwd):
# root's home is an empty directory of the lab, so a login runs none of this
# machine's dotfiles (a pyenv init in /root/.bashrc, which bash reads for ssh
# commands, took 60 s per session under 50 concurrent logins and failed CI).
lab_server_passwd() {
	local etc="/etc/netns/$LAB_S"
	mkdir -p "$LAB_DIR/srvroot" "$etc" || return 1
	chmod 700 "$LAB_DIR/srvroot"
	awk -F: -v OFS=: -v h="$LAB_DIR/srvroot" '$3 == 0 { $6 = h } { print }' /etc/passwd >"$etc/passwd" || return 1
	chmod 644 "$etc/passwd"
}

# A user only the server namespace knows (see LAB_AUTH): one line more in the
# namespace's passwd and a shadow file with only that user, in /etc/netns/LAB_S.
lab_password_user() {
	LAB_PW_USER=sdlab LAB_PW_UID=4242
	LAB_PASSWORD="lab-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
	if getent passwd "$LAB_PW_USER" >/dev/null || getent passwd "$LAB_PW_UID" >/dev/null; then
		echo "lab: FAIL: user $LAB_PW_USER or uid $LAB_PW_UID exists on this machine" >&2
		return 1
	fi
	local hash etc="/etc/netns/$LAB_S"
	hash=$(openssl passwd -6 "$LAB_PASSWORD") || return 1
	mkdir -p "$LAB_DIR/pwhome" "$etc" || return 1
	chown "$LAB_PW_UID:65534" "$LAB_DIR/pwhome"
	echo "$LAB_PW_USER:x:$LAB_PW_UID:65534:sshdoctor lab:$LAB_DIR/pwhome:/bin/sh" >>"$etc/passwd" || return 1
	(umask 077 && echo "$LAB_PW_USER:$hash:19000:0:99999:7:::" >"$etc/shadow") || return 1
	export LAB_PW_USER	# LAB_PASSWORD stays unexported: no environ of a child holds it
}

lab_sshd_start() {
	mkdir -p /run/sshd
	"$LAB_SSHD" -t -f "$LAB_DIR/sshd_config" || return 1
	lab_s "$LAB_SSHD" -f "$LAB_DIR/sshd_config" -E "$LAB_DIR/sshd.log" || return 1
	local i
	for i in $(seq 1 100); do
		[ -s "$LAB_DIR/sshd.pid" ] && return 0
		sleep 0.05
	done
	echo "lab: FAIL: sshd did not start (see $LAB_DIR/sshd.log)" >&2
	return 1
}

lab_sshd_stop() {
	[ -s "$LAB_DIR/sshd.pid" ] && kill "$(cat "$LAB_DIR/sshd.pid")" 2>/dev/null
	rm -f "$LAB_DIR/sshd.pid"
}

# Brings the lab up; on any failure tears it down and returns 1.
lab_up() {
	lab_require || return 1
	lab_openssh || return 1
	LAB_ID="sd$$x$(printf '%04x' $((RANDOM)))"
	LAB_C="${LAB_ID}c" LAB_R="${LAB_ID}r" LAB_S="${LAB_ID}s"
	LAB_DIR="$(mktemp -d "${TMPDIR:-/tmp}/sshdoctor-lab.XXXXXX")"
	chmod 755 "$LAB_DIR"
	export LAB_ID LAB_C LAB_R LAB_S LAB_DIR
	if ! lab_net_up || ! lab_keys_and_configs; then
		echo "lab: FAIL: could not build the lab network" >&2
		lab_down
		return 1
	fi
	if [ "${LAB_NO_SSHD:-0}" != 1 ] && ! lab_sshd_start; then
		lab_down
		return 1
	fi
	export LAB_SSH_CONFIG LAB_KEY
	lab_log "up: $LAB_ID (OpenSSH $LAB_SSHD_VERSION, conntrack ${LAB_CT_TIMEOUT:-20}s, expiry ${LAB_EXPIRY:-drop}) in $LAB_DIR"
}

# Idempotent: kills every process in the lab's namespaces, deletes them and the files.
lab_down() {
	[ -n "${LAB_ID:-}" ] || return 0
	local ns pid
	[ -n "${LAB_DIR:-}" ] && lab_sshd_stop
	for ns in "$LAB_C" "$LAB_R" "$LAB_S"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
	done
	for ns in "$LAB_C" "$LAB_R" "$LAB_S"; do
		ip netns del "$ns" 2>/dev/null
		rm -rf "/etc/netns/$ns"
	done
	if [ -n "${LAB_KEEP:-}" ]; then
		lab_log "kept $LAB_DIR"
	else
		rm -rf "$LAB_DIR"
	fi
	lab_log "down: $LAB_ID"
	LAB_ID=""
}

# For scripts: bring the lab up and make sure it goes away however we exit.
lab_setup() {
	trap 'lab_down' EXIT
	trap 'lab_down; exit 130' INT TERM
	lab_up
}

# Moves the client to another address on the same link (a DHCP renewal that
# changed it, a new Wi-Fi): old connections keep a source address that is gone.
lab_client_readdress() {
	local new="$1" old
	old=$(ip -n "$LAB_C" -4 -o addr show dev eth0 | awk '{print $4}' | head -1)
	[ -n "$old" ] && ip -n "$LAB_C" addr del "$old" dev eth0
	ip -n "$LAB_C" addr add "$new/24" dev eth0 || return 1
	ip -n "$LAB_C" route replace 203.0.113.0/24 via "$LAB_ROUTER_CIP" &&
		ip -n "$LAB_C" route replace 198.51.100.0/24 via "$LAB_ROUTER_CIP"
}
