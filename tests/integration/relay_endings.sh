#!/bin/bash
# sshdoctor relay as the user's ProxyCommand (ProxyUseFdpass) behind a NAT that
# forgets idle flows after T s: each way a session ends is provoked for real
# and must be recorded so in the history store (read with the sqlite3 CLI):
# clean, client-killed, timeout, network-changed (one lab, silent drop),
# reset (RST lab), server-closed (sshd ChannelTimeout).
. "$(dirname "$0")/lib.sh"

T=6
command -v sqlite3 >/dev/null || { ok 1 "sqlite3 CLI installed (scripts/deps.sh)"; done_testing; exit 1; }

db() { sqlite3 -cmd '.timeout 5000' "$LAB_DIR/state/sshdoctor/history.db" "$@"; }
last() { db "SELECT $1 FROM sessions ORDER BY id DESC LIMIT 1"; }
nsess() { db "SELECT count(*) FROM sessions" 2>/dev/null || echo 0; }

# Opens `ssh lab cat` through the relay (extra relay options in $1) as a
# coprocess; checks the echo. Sets SP (ssh's pid). 0 when the echo came back.
relay_open() {
	local ropts="$1" line=""
	# exec: SP is ssh itself (kill -9 must hit ssh, not a subshell)
	coproc RS { exec ip netns exec "$LAB_C" env ${LAB_CLIENT_PATH:+PATH="$LAB_CLIENT_PATH:$PATH"} \
		HOME="$LAB_DIR/home" XDG_STATE_HOME="$LAB_DIR/state" ssh -F "$LAB_SSH_CONFIG" -o TCPKeepAlive=no -o ServerAliveInterval=0 \
		-o "ProxyCommand=$SSHDOCTOR relay $ropts %h %p" -o ProxyUseFdpass=yes \
		lab cat 2>"$LAB_DIR/ssh.err"; }
	SP=$RS_PID
	exec {RIN}>&"${RS[1]}" {ROUT}<&"${RS[0]}"
	eval "exec ${RS[1]}>&- ${RS[0]}<&-"	# only our copies: closing RIN is ssh's EOF
	echo first >&$RIN
	read -r -t 10 line <&$ROUT
	[ "$line" = first ]
}
# Waits (bounded) until the newest session is no longer running.
wait_end() {
	local i
	for i in $(seq 1 $((${1:-20} * 5))); do
		[ "$(last end_kind)" != running ] && return 0
		sleep 0.2
	done
	return 1
}
# in this lab only: parallel runs have their own
watchers() { live_watchers "$LAB_C"; }
close_session() {
	exec {RIN}>&- {ROUT}<&-
	kill "$SP" 2>/dev/null
	wait "$SP" 2>/dev/null
}

LAB_CT_TIMEOUT=$T LAB_EXPIRY=drop
lab_setup || { ok 1 "lab up"; done_testing; exit 1; }

# clean: the remote cat ends when its stdin closes, ssh disconnects
relay_open ""; ok $? "echo through the relay"
is "$(last end_kind)" running "recorded as running while it runs"
like "$(last net_id)" '^gw-192\.0\.2\.1-[0-9a-f:]{17}$' "network id: gateway and its MAC"
is "$(last net_src)" 192.0.2.2 "source address"
is "$(last net_iface)" eth0 "interface"
is "$(last keepidle_s)" 60 "default keepidle 60 s without an idle result"
exec {RIN}>&-
wait "$SP"; rc=$?
is "$rc" 0 "ssh exited 0"
[ "$rc" = 0 ] || cat "$LAB_DIR/ssh.err"
wait_end 5; ok $? "session ended in the store"
is "$(last end_kind)" clean "normal exit: clean" || echo "# detail: $(last end_detail)"
like "$(last bytes_out)" '^[1-9][0-9]+$' "bytes out recorded"
like "$(last rtt_us)" '^[1-9][0-9]*$' "TCP_INFO rtt at the end"
exec {ROUT}<&-

# client-killed: kill -9 of ssh while idle
relay_open ""; ok $? "echo (kill -9 case)"
sleep 3
kill -9 "$SP"
wait "$SP" 2>/dev/null
wait_end 5; ok $? "ended after kill -9"
is "$(last end_kind)" client-killed "kill -9: client-killed"
close_session

# timeout: keepalive off, idle past T, write: never answered, TCP_USER_TIMEOUT 4 s
relay_open "--keepalive off --user-timeout 4"; ok $? "echo (timeout case)"
is "$(last keepidle_s)" 0 "keepalive off recorded"
is "$(last user_timeout_ms)" 4000 "user timeout recorded"
sleep $((T + 3))
echo second >&$RIN
wait_end 20; ok $? "ended after the silent drop"
is "$(last end_kind)" timeout "silent NAT drop: timeout"
echo "# $(last end_detail)"
ei=$(last end_idle_ms)
[ "$ei" -ge $((T * 1000)) ] && [ "$ei" -le $((T * 1000 + 6000)) ]
ok $? "idle before death ${ei} ms ~ T=$T s"
is "$(db "SELECT answered FROM gaps WHERE session=(SELECT max(id) FROM sessions) ORDER BY id DESC LIMIT 1")" 0 \
	"an unanswered gap recorded"
close_session

# network-changed: the client's address changes under the session
relay_open "--keepalive off --user-timeout 4"; ok $? "echo (network change case)"
lab_client_readdress 192.0.2.3
echo second >&$RIN
wait_end 20; ok $? "ended after the address change"
is "$(last end_kind)" network-changed "address changed: network-changed"
like "$(last end_detail)" 'source address 192\.0\.2\.2 removed' "detail names the address"
close_session
lab_client_readdress 192.0.2.2
sleep 1
is "$(watchers)" 0 "no watcher left"
is "$(ip netns pids "$LAB_C" | wc -l)" 0 "no process left in the client namespace"
lab_down
trap - EXIT INT TERM

# reset: the NAT answers a forgotten flow with RST
LAB_CT_TIMEOUT=$T LAB_EXPIRY=reset
lab_setup || { ok 1 "lab up (reset)"; done_testing; exit 1; }
relay_open "--keepalive off --user-timeout 4"; ok $? "echo (reset case)"
sleep $((T + 3))
echo second >&$RIN
wait_end 10; ok $? "ended after the reset"
is "$(last end_kind)" reset "RST from the NAT: reset"
close_session
lab_down
trap - EXIT INT TERM

# server-closed: sshd's ChannelTimeout closes the idle session
LAB_CT_TIMEOUT=60 LAB_EXPIRY=drop LAB_SSHD_EXTRA="ChannelTimeout session*=7s"
lab_setup || { ok 1 "lab up (ChannelTimeout)"; done_testing; exit 1; }
relay_open ""; ok $? "echo (ChannelTimeout case)"
wait_end 20; ok $? "ended by the server"
is "$(last end_kind)" server-closed "ChannelTimeout: server-closed"
echo "# $(last end_detail)"
ei=$(last end_idle_ms)
[ "$ei" -ge 5500 ] && [ "$ei" -le 12000 ]	# sshd checks its timers coarsely
ok $? "idle before the server's close ${ei} ms ~ 7 s"
close_session
is "$(db 'PRAGMA integrity_check')" ok "database intact"
lab_down
trap - EXIT INT TERM
done_testing
