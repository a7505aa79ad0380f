#!/bin/bash
# The relay keeps an idle session alive where plain ssh dies: behind a NAT that
# forgets idle flows after T=10 s, with ServerAliveInterval 0 and TCPKeepAlive
# no, a session idle 3 x T survives through the relay (keepalive derived from
# `sshdoctor idle`'s stored result) and dies without it. Then 50 concurrent
# sessions through the relay: all recorded, the store intact, no watcher left;
# and a store that cannot be opened: the session works, one line on stderr.
. "$(dirname "$0")/lib.sh"

T=10
db() { sqlite3 -cmd '.timeout 5000' "$LAB_DIR/state/sshdoctor/history.db" "$@"; }
LAB_CT_TIMEOUT=$T LAB_EXPIRY=drop LAB_SSHD_EXTRA="MaxStartups 100:30:200"
[ "${LAB_OPENSSH:-9.2}" != 9.2 ] && LAB_SSHD_EXTRA="$LAB_SSHD_EXTRA
PerSourcePenalties no"
lab_setup || { ok 1 "lab up"; done_testing; exit 1; }

# 1. measure the path once, as a user would
sd_c idle --max 1m -F "$LAB_SSH_CONFIG" lab >/dev/null 2>"$LAB_DIR/idle.err"
ls "$LAB_DIR"/state/sshdoctor/idle/*.json >/dev/null 2>&1
ok $? "idle result stored"

# idle_session splits its options on spaces: the ProxyCommand is a one-word wrapper
printf '#!/bin/sh\nexec "%s" relay -l root %s 22\n' "$SSHDOCTOR" "$LAB_SERVER_IP" >"$LAB_DIR/relay.sh"
chmod 755 "$LAB_DIR/relay.sh"
RELAY="-o ProxyCommand=$LAB_DIR/relay.sh -o ProxyUseFdpass=yes"
IDLE=$((3 * T))
export XDG_STATE_HOME="$LAB_DIR/state"
# both at once: same wait
idle_session "-o ServerAliveInterval=0 $RELAY" >"$LAB_DIR/with" &
w1=$!
LAB_DIR2="$LAB_DIR/plain"; mkdir -p "$LAB_DIR2"
( LAB_DIR="$LAB_DIR2"; idle_session "-o ServerAliveInterval=0" ) >"$LAB_DIR/without" &
w2=$!
wait $w1 $w2
# idle_session kills its coprocess shell; the ssh under it goes by its pid
for p in $(ip netns pids "$LAB_C"); do kill "$p" 2>/dev/null; done
is "$(cat "$LAB_DIR/with")" alive "idle ${IDLE}s behind a ${T}s NAT through the relay: alive"
like "$(cat "$LAB_DIR/without")" '^(silent|dead)' "the same without the relay: dies ($(cat "$LAB_DIR/without"))"
ka=$(db "SELECT keepidle_s, keepintvl_s, keepcnt, user_timeout_ms FROM sessions ORDER BY id LIMIT 1")
lower=$(cat "$LAB_DIR"/state/sshdoctor/idle/*.json | jget lower_s); lower=${lower%.*}
k=$((lower / 2))
is "$ka" "$k|1|3|$(((k + 3) * 1000))" "keepalive derived from the measured idle timeout (lower $lower s / 2)"
lg=$(db "SELECT longest_idle_ms FROM sessions ORDER BY id LIMIT 1")
[ "${lg:-0}" -ge $(((IDLE - 2) * 1000)) ]
ok $? "longest idle recorded: $lg ms"
ga=$(db "SELECT answered, idle_ms FROM gaps ORDER BY id LIMIT 1")
like "$ga" '^1\|[45][0-9]{3}$' "the write after the gap: answered, proven up to keepidle ($ga)"

# 2. fifty at once
N=50
pids=()
for i in $(seq 1 $N); do
	lab_c env XDG_STATE_HOME="$LAB_DIR/state" ssh -F "$LAB_SSH_CONFIG" \
		-o ProxyCommand="$SSHDOCTOR relay %h %p" -o ProxyUseFdpass=yes \
		lab "echo hi$i; sleep 2" >"$LAB_DIR/c$i.out" 2>"$LAB_DIR/c$i.err" &
	pids+=($!)
	sleep 0.1	# overlapping, their logins staggered (sshd's own limits); a command silent 5 s before it ends would be server-closed (README: known limit)
done
fails=0
for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
is "$fails" 0 "$N concurrent sessions through the relay exit 0"
good=0
for i in $(seq 1 $N); do [ "$(cat "$LAB_DIR/c$i.out")" = "hi$i" ] && good=$((good + 1)); done
is "$good" $N "each printed its own line"
for i in $(seq 1 75); do
	[ "$(db "SELECT count(*) FROM sessions WHERE end_kind='running'")" = 0 ] && break
	sleep 0.2
done
is "$(db "SELECT count(*) FROM sessions")" $((N + 1)) "all recorded"
is "$(db "SELECT count(*) FROM sessions WHERE end_kind='clean' AND id > 1")" $N "all $N clean"
is "$(db 'PRAGMA integrity_check')" ok "database intact"
! grep -l . "$LAB_DIR"/c*.err >/dev/null 2>&1
ok $? "nothing on ssh's stderr"
for i in $(seq 1 50); do	# they close the store (a WAL checkpoint) after the record
	[ "$(ip netns pids "$LAB_C" | wc -l)" = 0 ] && break
	sleep 0.2
done
is "$(live_watchers "$LAB_C")" 0 "no watcher left"
db "SELECT id, end_kind, end_detail, bytes_in FROM sessions WHERE end_kind != 'clean'" | sed 's/^/# /'
cat "$LAB_DIR"/c*.err | sort | uniq -c | sed 's/^/# /'
ps -eo pid,ppid,stat,comm,args | grep -E "ssh|watch" | grep -v grep | head | sed 's/^/# /'

# 3. a store that cannot be opened: the session still works, said once
mkdir -p "$LAB_DIR/ro" && chmod 500 "$LAB_DIR/ro"
out=$(lab_c ssh -F "$LAB_SSH_CONFIG" -o ProxyCommand="$SSHDOCTOR relay --history /proc/nonexistent/x.db %h %p" \
	-o ProxyUseFdpass=yes lab "echo ok" 2>"$LAB_DIR/ro.err")
is "$out" ok "session works without a store"
is "$(grep -c 'sshdoctor relay: not recording' "$LAB_DIR/ro.err")" 1 "one line on stderr: $(head -1 "$LAB_DIR/ro.err")"

# 4. without ProxyUseFdpass the relay pumps (still per-socket keepalive)
out=$(lab_c ssh -F "$LAB_SSH_CONFIG" -o ProxyCommand="$SSHDOCTOR relay %h %p" lab "echo pumped" 2>&1)
is "$out" pumped "ProxyCommand without ProxyUseFdpass: pumped"
is "$(ip netns pids "$LAB_C" | wc -l)" 0 "no process left in the client namespace"
done_testing
