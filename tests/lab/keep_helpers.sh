#!/bin/bash
# tests/lab/keep_helpers.sh - what the keep_*.sh scenarios and bench/keep.sh share:
# start keep in the client namespace, cut and restore the path, probe a forward.
# Source after lib.sh (tests) or lab.sh (bench), after lab_up.

# keep_start ERRFILE ARGS...: sshdoctor keep in the client namespace, in the
# background; KEEP_PID is sshdoctor itself (ip netns exec and env exec it).
keep_start() {
	local errf=$1
	shift
	ip netns exec "$LAB_C" env PATH="${LAB_CLIENT_PATH:+$LAB_CLIENT_PATH:}$PATH" HOME="$LAB_DIR/home" \
		XDG_STATE_HOME="$LAB_DIR/state" ${KEEP_ENV:-} "$SSHDOCTOR" keep "$@" 2>"$errf" &
	KEEP_PID=$!
}

# keep_stop: SIGTERM, then (bounded) wait; returns keep's exit status.
keep_stop() {
	[ -n "${KEEP_PID:-}" ] || return 0
	kill -TERM "$KEEP_PID" 2>/dev/null
	local i
	for i in $(seq 1 50); do kill -0 "$KEEP_PID" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$KEEP_PID" 2>/dev/null
	wait "$KEEP_PID" 2>/dev/null
	local rc=$?
	KEEP_PID=""
	return $rc
}

# cutpath drop|reset|none: the router stops forwarding the client's traffic:
# drop = silently, both ways; reset = the client's packets answered with RST
# (and the server's dropped, so only the client learns of it); none = restored.
cutpath() {
	lab_r nft delete table inet labcut 2>/dev/null
	case "$1" in
	none) return 0 ;;
	drop) printf 'table inet labcut {\n\tchain f {\n\t\ttype filter hook forward priority -10; policy accept;\n\t\tip saddr %s drop\n\t\tip daddr %s drop\n\t}\n}\n' \
		"$LAB_CLIENT_IP" "$LAB_CLIENT_IP" >"$LAB_DIR/cut.nft" ;;
	reset) printf 'table inet labcut {\n\tchain f {\n\t\ttype filter hook forward priority -10; policy accept;\n\t\tip saddr %s reject with tcp reset\n\t\tip daddr %s drop\n\t}\n}\n' \
		"$LAB_CLIENT_IP" "$LAB_CLIENT_IP" >"$LAB_DIR/cut.nft" ;;
	esac
	lab_r nft -f "$LAB_DIR/cut.nft"
}

# fwd_ok PORT: 0 when a connection to 127.0.0.1:PORT in the client namespace
# brings the far sshd's banner within 1 s (a byte through the forward).
fwd_ok() {
	lab_c python3 -c 'import socket,sys
try:
    s=socket.create_connection(("127.0.0.1",int(sys.argv[1])),timeout=1)
    s.settimeout(1)
    sys.exit(0 if s.recv(4)==b"SSH-" else 1)
except OSError:
    sys.exit(1)' "$1"
}

# wait_fwd PORT SECONDS: polls fwd_ok every 0.1 s; prints the ms it took; 1 on timeout.
wait_fwd() {
	local t0 end
	t0=$(date +%s%N)
	end=$((t0 + $2 * 1000000000))
	while [ "$(date +%s%N)" -lt "$end" ]; do
		if fwd_ok "$1"; then
			echo $((($(date +%s%N) - t0) / 1000000))
			return 0
		fi
		sleep 0.1
	done
	echo -1
	return 1
}

# wait_log FILE REGEX SECONDS: 0 when FILE matches within the time.
wait_log() {
	local i
	for i in $(seq 1 $(($3 * 10))); do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# ssh processes left in the client namespace (pids), "" when none.
client_ssh_pids() {
	local p out=""
	for p in $(ip netns pids "$LAB_C" 2>/dev/null); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = ssh ] && out="$out $p"
	done
	echo "${out# }"
}

# Kills the server's logged-in session processes (not the listener): the
# session ends as if sshd had been restarted with them.
kill_sessions() {
	local p lp
	lp=$(cat "$LAB_DIR/sshd.pid" 2>/dev/null)
	for p in $(ip netns pids "$LAB_S" 2>/dev/null); do
		[ "$p" = "$lp" ] && continue
		# logged-in sessions only ("sshd: root@notty", "sshd: root [priv]"):
		# unauthenticated connections some scenarios hold open stay
		case "$(cat "/proc/$p/comm" 2>/dev/null)" in sshd*)
			tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q 'root' && kill -TERM "$p" 2>/dev/null ;;
		esac
	done
}

# The tunnel's state file, as keep wrote it.
keep_state() { cat "$LAB_DIR/state/sshdoctor/keep/$1.json" 2>/dev/null; }

# sshd lines every keep scenario wants: the forward probes (banner-only
# connections from 127.0.0.1 on the server) must not earn 10.0's penalties
# for 127.0.0.1; keep's own address (the NAT's) is never exempt.
keep_sshd_extra() {
	[ "${LAB_OPENSSH:-9.2}" = 9.2 ] || echo "PerSourcePenaltyExemptList 127.0.0.1"
}

# Connections sshd saw from the client (through the NAT), for counting logins.
nat_connections() { grep -c "Connection from $LAB_ROUTER_SIP port" "$LAB_DIR/sshd.log"; }

# block_flows: the client's current connections to port 22 vanish for good, both
# ways (as when its address changes under a NAT): new connections pass, but the
# server's keepalive probes for the old sessions never reach a client that could
# answer them with a reset, so the server holds those sessions (and their -R
# ports) until its own ClientAlive gives up on them. cutpath none lifts it.
block_flows() {
	local ports p
	ports=$(lab_c ss -tnH state established '( dport = :22 )' | awk '{n=split($3,a,":"); print a[n]}')
	{
		printf 'table inet labcut {\n\tchain f {\n\t\ttype filter hook forward priority -10; policy accept;\n'
		for p in $ports; do
			printf '\t\tip saddr %s tcp sport %s drop\n\t\tip daddr %s tcp dport %s drop\n' \
				"$LAB_CLIENT_IP" "$p" "$LAB_CLIENT_IP" "$p"
		done
		printf '\t}\n}\n'
	} >"$LAB_DIR/block.nft"
	lab_r nft delete table inet labcut 2>/dev/null
	lab_r nft -f "$LAB_DIR/block.nft"
	echo "$ports" | wc -w
}

# ban_client SECONDS: the router bans the client's address from new connections
# to port 22 for SECONDS, and every SYN it sends while banned starts the ban over
# (iptables recent --update); unban_client lifts it. banned_client: 0 while banned.
ban_client() {
	printf 'table inet labban {\n\tset ban { type ipv4_addr; flags dynamic, timeout; }\n\tchain f {\n\t\ttype filter hook forward priority -5; policy accept;\n\t\ttcp dport 22 ct state new ip saddr @ban update @ban { ip saddr timeout %ss } drop\n\t}\n}\n' \
		"$1" >"$LAB_DIR/ban.nft"
	lab_r nft -f "$LAB_DIR/ban.nft" && lab_r nft add element inet labban ban "{ $LAB_CLIENT_IP timeout ${1}s }"
}
unban_client() { lab_r nft delete table inet labban 2>/dev/null; }
banned_client() { lab_r nft list set inet labban ban 2>/dev/null | grep -q "$LAB_CLIENT_IP"; }
