#!/bin/bash
# The server ends idle sessions itself vs the path forgets them (issue 11 §3).
# (a) sshd ChannelTimeout session*=T, no NAT timeout: server.idle-policy names
#     the setting, prescribes the server-side change and no keepalive; the
#     client's keepalives alone do not cure it; the prescribed change does.
#     The bare name session=T matches no session channel: no effect, said so.
# (b) the look-alike: a NAT forgetting flows after T (drop and reset), no server
#     policy: path.idle-timeout with the keepalive cure, never server.idle-policy.
# (c) UnusedConnectionTimeout: named; ssh -N dies by it, and survives the cure.
# (d) a readonly TMOUT in the server's /etc/profile (bind-mounted into the
#     server's namespace only): seen through the login; it really ends an
#     interactive shell; TMOUT=0 as prescribed cures it.
# Runs against the lab's LAB_OPENSSH (9.2 or 10).
. "$(dirname "$0")/lib.sh"

T=15
idle_json() { sd_c --json idle --max "${1:-1m}" -F "$LAB_SSH_CONFIG" lab 2>"$LAB_DIR/idle.err"; }
ids_with() { python3 -c 'import json,sys
d=json.load(sys.stdin)
print(" ".join(f["id"]+":"+f["severity"] for f in d["findings"]))'; }
fixes() { python3 -c 'import json,sys
d=json.load(sys.stdin)
print("\n".join(l for f in d["findings"] for x in f.get("fix") or [] for l in x["lines"]))'; }
# Replaces (or adds) a keyword's line in the lab's sshd_config and reloads sshd.
sshd_set() {
	local kw="$1" line="$2" pid
	grep -v -i "^$kw " "$LAB_DIR/sshd_config" >"$LAB_DIR/sshd_config.new"
	echo "$line" >>"$LAB_DIR/sshd_config.new"
	mv "$LAB_DIR/sshd_config.new" "$LAB_DIR/sshd_config"
	"$LAB_SSHD" -t -f "$LAB_DIR/sshd_config" || return 1
	pid=$(cat "$LAB_DIR/sshd.pid")
	kill -HUP "$pid"
	# sshd re-executes itself on SIGHUP: wait until it answers again
	for _ in $(seq 1 50); do
		sleep 0.1
		lab_c ssh -F "$LAB_SSH_CONFIG" lab true 2>/dev/null && return 0
	done
	return 1
}
# Holds `ssh lab cat` (extra ssh options as arguments) idle SECS s, then writes.
# Prints alive, dead:<ssh's stderr> or broken-before-idle. Unlike lib.sh's
# idle_session it survives ssh exiting on its own (the server closed it).
hold_idle() {
	local secs=$1 in="$LAB_DIR/hold.in" out="$LAB_DIR/hold.out" pid i
	shift
	rm -f "$in" "$out"
	mkfifo "$in"
	lab_c ssh -F "$LAB_SSH_CONFIG" -o TCPKeepAlive=no "$@" lab cat <"$in" >"$out" 2>"$LAB_DIR/hold.err" &
	pid=$!
	exec 7>"$in"
	(trap '' PIPE; echo first >&7) 2>/dev/null
	sleep "$secs"
	(trap '' PIPE; echo second >&7) 2>/dev/null
	for i in $(seq 1 30); do
		grep -q second "$out" 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	exec 7>&-
	if grep -q second "$out"; then
		echo alive
	elif grep -q first "$out"; then
		echo "dead:$(tr '\n' ' ' <"$LAB_DIR/hold.err")"
	else
		echo broken-before-idle
	fi
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -f "$in"
}
ct_of() { lab_s "$LAB_SSHD" -T -f "$LAB_DIR/sshd_config" 2>/dev/null | awk -v k="$1" '$1 == k { $1 = ""; print substr($0, 2) }'; }

# --- (a) ChannelTimeout session*=T, no NAT timeout --------------------------------
LAB_CT_TIMEOUT=3600 LAB_EXPIRY=drop LAB_SSHD_EXTRA="ChannelTimeout session*=${T}s"
if lab_setup; then
	out=$(idle_json); rc=$?
	is "$rc" 2 "(a) exit 2: sessions die"
	like "$(ids_with <<<"$out")" 'server\.idle-policy:critical' "(a) server.idle-policy critical"
	! grep -Eq 'path\.idle-timeout:(warning|critical)' <<<"$(ids_with <<<"$out")"
	ok $? "(a) no warning/critical path.idle-timeout"
	is "$(jget measurements.idle.closed_by <<<"$out")" server "(a) closed_by server"
	like "$(jget findings.0.title <<<"$out")" "ChannelTimeout session\*=${T}s" "(a) names the setting"
	like "$(jget findings.0.evidence <<<"$out")" "sshd -T: channeltimeout session\*=${T}s" "(a) the sshd -T line"
	like "$(jget findings.0.evidence <<<"$out")" "closing after $T seconds of inactivity" "(a) the sshd log line"
	like "$(jget findings.0.evidence <<<"$out")" 'SSH channel close from sshd' "(a) the close was sshd's channel close"
	fx=$(fixes <<<"$out")
	like "$fx" '^ChannelTimeout session\*=0$' "(a) prescribes ChannelTimeout session*=0"
	! grep -Eq 'ServerAlive|ClientAlive' <<<"$fx"
	ok $? "(a) no keepalive prescribed"
	like "$(jget findings.0.evidence <<<"$out")" 'keepalives do not prevent this' "(a) says keepalives cannot cure it"
	is "$(ls "$LAB_DIR"/state/sshdoctor/idle/ 2>/dev/null | wc -l)" 0 "(a) not stored as the path's timeout"
	# keepalives alone: still closed
	IDLE=$((T + 6))
	st=$(hold_idle $IDLE -o ServerAliveInterval=3 -o ServerAliveCountMax=3)
	like "$st" '^dead:' "(a) ServerAliveInterval 3 does not keep a session idle $IDLE s alive ($st)"
	# the prescribed cure, applied to the lab's sshd_config
	cure=$(grep '^ChannelTimeout ' <<<"$fx" | head -1)
	sshd_set ChannelTimeout "$cure"
	ok $? "(a) applied '$cure' and reloaded sshd"
	is "$(ct_of channeltimeout)" "session*=0" "(a) sshd -T shows the cure"
	st=$(hold_idle $IDLE -o ServerAliveInterval=0)
	is "$st" alive "(a) cured: a session idle $IDLE s without keepalives survives"
	# the bare name matches no session channel (channels.c: session:command)
	sshd_set ChannelTimeout "ChannelTimeout session=${T}s"
	st=$(hold_idle $IDLE -o ServerAliveInterval=0)
	is "$st" alive "(a) ChannelTimeout session=${T}s: a command session idle $IDLE s survives"
	out=$(idle_json 25s)
	like "$(ids_with <<<"$out")" 'server\.idle-policy:info' "(a) session=: an info saying it matches nothing"
	like "$(jget findings.0.evidence <<<"$out")" "session:\*=" "(a) session=: names the form that applies"
	lab_down
	trap - EXIT INT TERM
else
	ok 1 "(a) lab up"
fi

# --- (b) the look-alike: the path, drop and reset ------------------------------
for mode in drop reset; do
	LAB_CT_TIMEOUT=$T LAB_EXPIRY=$mode LAB_SSHD_EXTRA=""
	lab_setup || { ok 1 "(b) lab up ($mode)"; continue; }
	out=$(idle_json); rc=$?
	is "$rc" 2 "(b $mode) exit 2"
	like "$(ids_with <<<"$out")" 'path\.idle-timeout:critical' "(b $mode) path.idle-timeout critical"
	! grep -q 'server.idle-policy\|idle.close-unattributed' <<<"$(ids_with <<<"$out")"
	ok $? "(b $mode) no server.idle-policy / idle.close-unattributed"
	is "$(jget measurements.idle.closed_by <<<"$out")" path "(b $mode) closed_by path"
	is "$(jget measurements.idle.server_policy.channel_timeout <<<"$out")" none "(b $mode) sshd -T read: no ChannelTimeout"
	like "$(fixes <<<"$out")" 'ServerAliveInterval [0-9]+' "(b $mode) keepalive cure prescribed"
	lab_down
	trap - EXIT INT TERM
done

# --- (c) UnusedConnectionTimeout -------------------------------------------------
U=8
LAB_CT_TIMEOUT=3600 LAB_EXPIRY=drop LAB_SSHD_EXTRA="UnusedConnectionTimeout ${U}s"
if lab_setup; then
	out=$(idle_json 20s)
	like "$(ids_with <<<"$out")" 'server\.idle-policy:warning' "(c) server.idle-policy warning"
	like "$(jget findings.0.title <<<"$out")" "after $U s \(UnusedConnectionTimeout\)" "(c) names UnusedConnectionTimeout"
	like "$(fixes <<<"$out")" '^UnusedConnectionTimeout none$' "(c) prescribes UnusedConnectionTimeout none"
	! grep -Eq 'ServerAlive|ClientAlive' <<<"$(fixes <<<"$out")"
	ok $? "(c) no keepalive prescribed"
	is "$(jget measurements.idle.found <<<"$out")" false "(c) command sessions are not affected (open channel)"
	aud=$(sd_c --json audit --remote --server-config "$LAB_DIR/sshd_config" -F "$LAB_SSH_CONFIG" lab 2>/dev/null)
	like "$(jget findings <<<"$aud")" "UnusedConnectionTimeout\)" "(c) audit --remote: server.idle-policy names it too"
	t0=$(date +%s)
	timeout $((U + 10)) ip netns exec "$LAB_C" ssh -F "$LAB_SSH_CONFIG" -N lab 2>/dev/null
	rc=$? el=$(($(date +%s) - t0))
	[ "$rc" != 124 ] && [ "$el" -ge $((U - 1)) ] && [ "$el" -le $((U + 4)) ]
	ok $? "(c) ssh -N ended by the server after ${el} s (rc $rc)"
	grep -q 'terminating inactive connection' "$LAB_DIR/sshd.log"
	ok $? "(c) sshd logged 'terminating inactive connection'"
	sshd_set UnusedConnectionTimeout "UnusedConnectionTimeout none"
	ok $? "(c) applied the cure"
	timeout $((U + 8)) ip netns exec "$LAB_C" ssh -F "$LAB_SSH_CONFIG" -o ServerAliveInterval=0 -N lab 2>/dev/null
	is "$?" 124 "(c) cured: ssh -N still up after $((U + 8)) s"
	lab_down
	trap - EXIT INT TERM
else
	ok 1 "(c) lab up"
fi

# --- (d) TMOUT in the server's /etc/profile, readonly -----------------------------
TM=6
LAB_CT_TIMEOUT=3600 LAB_EXPIRY=drop LAB_SSHD_EXTRA=""
if lab_setup; then
	# ip netns exec bind-mounts /etc/netns/NS/profile over /etc/profile: only the
	# lab's sshd and its sessions see it; the machine's /etc/profile is untouched.
	mkdir -p "/etc/netns/$LAB_S"
	{ cat /etc/profile; printf 'TMOUT=%s\nreadonly TMOUT\nexport TMOUT\n' "$TM"; } >"/etc/netns/$LAB_S/profile"
	# and a logind drop-in (detection only: the lab's sshd has UsePAM no, so
	# logind never sees its sessions)
	mkdir -p "/etc/netns/$LAB_S/systemd/logind.conf.d"
	printf '[Login]\nStopIdleSessionSec=45min\n' >"/etc/netns/$LAB_S/systemd/logind.conf.d/50-idle.conf"
	lab_sshd_stop; sleep 0.3; lab_sshd_start
	ok $? "(d) sshd restarted with the lab's /etc/profile"
	out=$(idle_json 20s)
	like "$(ids_with <<<"$out")" 'server\.idle-policy:warning' "(d) server.idle-policy warning"
	like "$(jget findings.0.title <<<"$out")" "TMOUT=$TM, readonly" "(d) names TMOUT, readonly"
	like "$(jget findings.0.evidence <<<"$out")" 'set in /etc/profile' "(d) names the file"
	like "$(fixes <<<"$out")" '^TMOUT=0$' "(d) prescribes TMOUT=0"
	! grep -Eq 'ServerAlive|ClientAlive' <<<"$(fixes <<<"$out")"
	ok $? "(d) no keepalive prescribed"
	is "$(jget measurements.idle.server_policy.tmout_s <<<"$out")" "$TM" "(d) tmout_s in the JSON"
	is "$(jget measurements.idle.server_policy.stop_idle_session_s <<<"$out")" 2700 "(d) logind StopIdleSessionSec=45min read"
	like "$(jget findings <<<"$out")" 'StopIdleSessionSec=infinity' "(d) logind: prescribes StopIdleSessionSec=infinity"
	aud=$(sd_c --json audit --remote --server-config "$LAB_DIR/sshd_config" -F "$LAB_SSH_CONFIG" lab 2>/dev/null)
	like "$(jget findings <<<"$aud")" "TMOUT=$TM, readonly" "(d) audit --remote: server.idle-policy names TMOUT"
	# it really ends an interactive shell (a pty, no input)
	t0=$(date +%s)
	# (the pipeline waits for sleep: ssh's own end time is what counts)
	(sleep $((TM + 12))) | { timeout $((TM + 10)) ip netns exec "$LAB_C" ssh -F "$LAB_SSH_CONFIG" -tt lab \
		>"$LAB_DIR/tty.out" 2>&1; echo "$? $(date +%s)" >"$LAB_DIR/tty.end"; }
	read -r rc t1 <"$LAB_DIR/tty.end"
	el=$((t1 - t0))
	[ "$rc" != 124 ] && [ "$el" -le $((TM + 4)) ]
	ok $? "(d) an interactive shell ended after ${el} s (rc $rc)"
	like "$(tr -d '\r' <"$LAB_DIR/tty.out")" 'timed out waiting for input' "(d) bash: timed out waiting for input"
	# the cure, in the file named: TMOUT=0 instead of TMOUT=$TM (same inode: the bind mount sees it)
	sed "s/^TMOUT=$TM\$/TMOUT=0/" "/etc/netns/$LAB_S/profile" >"$LAB_DIR/profile.new"
	cat "$LAB_DIR/profile.new" >"/etc/netns/$LAB_S/profile"
	(sleep $((TM + 12))) | timeout $((TM + 8)) ip netns exec "$LAB_C" ssh -F "$LAB_SSH_CONFIG" -tt lab >/dev/null 2>&1
	is "$?" 124 "(d) cured: the interactive shell still up after $((TM + 8)) s"
	lab_down
	trap - EXIT INT TERM
	[ ! -e "/etc/netns/$LAB_S" ]
	ok $? "(d) /etc/netns/$LAB_S removed"
else
	ok 1 "(d) lab up"
fi
done_testing
