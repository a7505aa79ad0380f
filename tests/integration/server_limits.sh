#!/bin/bash
# doctor --server, the user and throttling side: DenyUsers in a Match Address
# block (sshd -T -C applies it for the client's address and --user), MaxStartups
# drops from a burst of held unauthenticated connections (the client's own
# drops counted from sshd's log, the listener's "N of S-F startups" now), and
# PerSourcePenalties: a burst of bare handshakes gets a 10.0 sshd to penalise
# the client, named srv.penalty-drops; the same burst against 9.2 (no
# penalties) must not be. connect from the client agrees in each case.
. "$(dirname "$0")/lib.sh"

LAB_NAT=none
lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
ok 0 "lab up (OpenSSH $LAB_SSHD_VERSION, no NAT)"
cp "$LAB_DIR/sshd_config" "$LAB_DIR/sshd_config.orig"
major=${LAB_SSHD_VERSION%%.*}

sd_s() { lab_s env HOME="$LAB_DIR/home" XDG_STATE_HOME="$LAB_DIR/state" "$SSHDOCTOR" "$@"; }
srv() {
	local name=$1 addr=$2
	shift 2
	sd_s --json doctor --server "$addr" --server-log "${SRVLOG:-$LAB_DIR/sshd.log}" "$@" \
		>"$LAB_DIR/$name.json" 2>"$LAB_DIR/$name.err"
	SRC=$?
}
. "$ROOT/tests/lab/srvside_helpers.sh"
# The lab's sshd -E log has no time stamps; syslog stamps each line when it
# arrives, and so does this (RFC 3339, microseconds) into sshd.stamped, for
# the lines written from now on. Bounded: 300 s, killed by stamp_stop (and,
# being in the server namespace, by lab_down on any exit).
stamp_start() {
	: >"$LAB_DIR/sshd.stamped"
	ip netns exec "$LAB_S" python3 -u -c 'import sys, time, datetime
f = open(sys.argv[1]); f.seek(0, 2)
out = open(sys.argv[2], "a", buffering=1)
end = time.time() + 300
while time.time() < end:
    l = f.readline()
    if not l:
        time.sleep(0.05)
        continue
    out.write(datetime.datetime.now().astimezone().isoformat(timespec="microseconds") + " srv sshd[1]: " + l)
' "$LAB_DIR/sshd.log" "$LAB_DIR/sshd.stamped" &
	STAMPER=$!
	sleep 0.3
}
stamp_stop() { sleep 0.3; kill "$STAMPER" 2>/dev/null; wait "$STAMPER" 2>/dev/null; }
# burst: 25 bare handshakes from the client (what earns a 10.0 penalty)
burst() {
	lab_c python3 -c '
import socket, time
for i in range(25):
    try:
        s = socket.create_connection(("203.0.113.2", 22), timeout=3)
        s.close()
    except OSError:
        pass
    time.sleep(0.05)'
}
# hold_two OUT: two unauthenticated connections held 20 s (pid in $hold)
hold_two() {
	lab_c python3 -c '
import socket, sys, time
s = [socket.create_connection(("203.0.113.2", 22), timeout=3) for _ in range(2)]
for x in s: x.recv(64)
print("held", flush=True)
time.sleep(20)' >"$LAB_DIR/$1" 2>&1 &
	hold=$!
	for _ in $(seq 1 50); do grep -q held "$LAB_DIR/$1" 2>/dev/null && break; sleep 0.1; done
}
cli() {
	sd_c --json connect -F "$LAB_SSH_CONFIG" -o ConnectTimeout=4 lab >"$LAB_DIR/$1.cli.json" 2>/dev/null
	bad_findings <"$LAB_DIR/$1.cli.json"
}
sshd_with() {	# restart sshd with the original config plus these lines
	local pid
	pid=$(cat "$LAB_DIR/sshd.pid" 2>/dev/null)
	{ cat "$LAB_DIR/sshd_config.orig"; printf '%s\n' "$@"; } >"$LAB_DIR/sshd_config"
	lab_sshd_stop
	for _ in $(seq 1 50); do
		[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	: >"$LAB_DIR/sshd.log"
	lab_sshd_start
}
nopen=""
[ "$major" -ge 10 ] && nopen="PerSourcePenalties no"

# --- DenyUsers for the client's network only (Match Address)
sshd_with ${nopen:+"$nopen"} "Match Address 192.0.2.0/24" "	DenyUsers root"
srv deny 192.0.2.2 --user root
is "$(sev deny srv.user-denied)" critical "Match Address + DenyUsers root: srv.user-denied"
like "$(field deny srv.user-denied title)" 'DenyUsers root' "DenyUsers: the pattern named"
like "$(cli deny)" 'auth\.failed' "DenyUsers: the client sees auth.failed (agrees)"
srv deny_other 198.51.100.9 --user root
is "$(sev deny_other srv.user-denied)" absent "the same user from 198.51.100.9 (outside the Match): not refused"
srv deny_nobody 192.0.2.2 --user nobody
is "$(sev deny_nobody srv.user-denied)" absent "another user from 192.0.2.2: not refused"

# --- MaxStartups: two unauthenticated connections held, the next ones dropped
sshd_with ${nopen:+"$nopen"} "MaxStartups 2"
hold_two hold.out
is "$(cat "$LAB_DIR/hold.out")" held "MaxStartups 2: two bare connections held"
clients=$(cli maxstartups)
like "$clients" 'banner\.closed' "MaxStartups: the client sees banner.closed"
srv maxst 192.0.2.2
is "$(sev maxst srv.maxstartups-drops)" critical "MaxStartups: srv.maxstartups-drops, critical while still full"
like "$(field maxst srv.maxstartups-drops evidence)" 'drop connection #[0-9]+ from \[192\.0\.2\.2\]:[0-9]+ on \[203\.0\.113\.2\]:22 (past MaxStartups|Maxstartups)' \
	"MaxStartups: sshd's drop line shown"
like "$(field maxst srv.maxstartups-drops evidence)" 'now: 2 unauthenticated connections \(throttling from 2\)' \
	"MaxStartups: the listener's startups now"
srv maxst_other 198.51.100.9
is "$(sev maxst_other srv.maxstartups-drops)" absent "MaxStartups: nothing for another client's address"
kill "$hold" 2>/dev/null
wait "$hold" 2>/dev/null

# --fix plans the sshd line, --fix --yes applies it (sshd -T proves it, sshd is
# reloaded), the cure is proven with the same burst, and audit --undo puts the
# file back byte for byte
cp "$LAB_DIR/sshd_config" "$LAB_DIR/sshd_config.prefix"
srv maxst_plan 192.0.2.2 --fix
like "$(field maxst_plan srv.fix-plan evidence)" '\+MaxStartups 100:30:200' "--fix: the plan shows the MaxStartups line"
cmp -s "$LAB_DIR/sshd_config" "$LAB_DIR/sshd_config.prefix"
ok $? "--fix without --yes: the config untouched"
srv maxst_fix 192.0.2.2 --fix --yes
is "$(sev maxst_fix srv.fix-applied)" info "--fix --yes: srv.fix-applied" || sed 's/^/# /' "$LAB_DIR/maxst_fix.err"
like "$(field maxst_fix srv.fix-applied evidence)" 'reloaded sshd \(pid [0-9]+, SIGHUP\)' "--fix --yes: sshd reloaded"
is "$(lab_s "$LAB_SSHD" -T -f "$LAB_DIR/sshd_config" 2>/dev/null | awk '$1=="maxstartups"{print $2}')" 100:30:200 \
	"--fix --yes: sshd -T says MaxStartups 100:30:200"
like "$(field maxst_fix srv.fix-shown title)" 'firewall rules, bans' "--fix: what it never changes is said"
for _ in $(seq 1 50); do lab_s ss -ltn 2>/dev/null | grep -q ':22 ' && break; sleep 0.1; done
hold_two hold2.out
stamp_start
lab_c ssh -F "$LAB_SSH_CONFIG" -o ConnectTimeout=5 lab true
ok $? "after the fix: the same two held connections, the client still logs in (cured)"
stamp_stop
kill "$hold" 2>/dev/null
wait "$hold" 2>/dev/null
# the look-alike of a slow login: that login was quick, and no restart came
# after it
SRVLOG="$LAB_DIR/sshd.stamped" srv quick 192.0.2.2
like "$(jget measurements.server.logins <"$LAB_DIR/quick.json")" '^[1-9][0-9]*$' "login times read from sshd's log (LogLevel VERBOSE)"
is "$(sev quick srv.slow-login)" absent "quick logins: no srv.slow-login"
is "$(sev quick srv.sshd-restarts)" absent "no restart in this log: no srv.sshd-restarts"
sd_s audit --undo >"$LAB_DIR/undo.out" 2>&1
ok $? "audit --undo after doctor --server --fix --yes" || sed 's/^/# /' "$LAB_DIR/undo.out"
cmp -s "$LAB_DIR/sshd_config" "$LAB_DIR/sshd_config.prefix"
ok $? "audit --undo: the sshd config is back byte for byte"

# --- PerSourcePenalties (10.0's default) from a burst of bare handshakes
sshd_with
lab_c ssh -F "$LAB_SSH_CONFIG" lab true
ok $? "penalties: the client logs in before the burst"
burst
sleep 1
pcli=$(cli penalty)
srv penalty 192.0.2.2
if [ "$major" -ge 10 ]; then
	is "$(sev penalty srv.penalty-drops)" warning "penalties ($LAB_SSHD_VERSION): srv.penalty-drops"
	like "$(field penalty srv.penalty-drops evidence)" 'drop connection #[0-9]+ from \[192\.0\.2\.2\].*penalty' \
		"penalties: sshd's drop line shown"
	like "$(field penalty srv.penalty-drops fix)" 'PerSourcePenaltyExemptList 192\.0\.2\.2' "penalties: the exemption line"
	like "$pcli" 'banner\.closed' "penalties: the client sees banner.closed (agrees)"
	# --fix --yes exempts the client (an existing list is extended, never replaced)
	printf 'PerSourcePenaltyExemptList 198.51.100.7\n' >>"$LAB_DIR/sshd_config"
	kill -HUP "$(cat "$LAB_DIR/sshd.pid")"
	sleep 1
	srv penalty_fix 192.0.2.2 --fix --yes
	is "$(sev penalty_fix srv.fix-applied)" info "penalties: --fix --yes applied" || sed 's/^/# /' "$LAB_DIR/penalty_fix.err"
	is "$(lab_s "$LAB_SSHD" -T -f "$LAB_DIR/sshd_config" 2>/dev/null | awk '$1=="persourcepenaltyexemptlist"{print $2}')" \
		198.51.100.7,192.0.2.2 "penalties: sshd -T: the exemption list extended with the client"
	for _ in $(seq 1 50); do lab_s ss -ltn 2>/dev/null | grep -q ':22 ' && break; sleep 0.1; done
	# (the reload re-executed the listener: its penalty table starts empty)
	: >"$LAB_DIR/sshd.log"
	burst
	lab_c ssh -F "$LAB_SSH_CONFIG" -o ConnectTimeout=5 lab true
	ok $? "penalties: after the fix, the same burst and the client still logs in (cured)"
	! grep -q 'activating .*penalty' "$LAB_DIR/sshd.log"
	ok $? "penalties: sshd penalised no one after the exemption"
	sd_s audit --undo >"$LAB_DIR/undo2.out" 2>&1
	ok $? "penalties: audit --undo" || sed 's/^/# /' "$LAB_DIR/undo2.out"
else
	is "$(sev penalty srv.penalty-drops)" absent "no penalties on $LAB_SSHD_VERSION: none claimed after the same burst"
	is "$pcli" "" "no penalties on $LAB_SSHD_VERSION: the client gets in"
fi

# --- slow logins: UseDNS yes and a resolver that never answers on the server;
# two SIGHUPs are restarts sshd logs itself
lab_down
trap - EXIT INT TERM
LAB_SSHD_EXTRA="UseDNS yes" LAB_SERVER_DNS=dead
lab_setup || { ok 1 "lab up (UseDNS)"; done_testing; exit 1; }
stamp_start
for i in 1 2; do
	lab_c ssh -F "$LAB_SSH_CONFIG" -o ConnectTimeout=30 lab true
	ok $? "UseDNS yes, dead resolver: login $i works (slowly)"
done
for i in 1 2; do
	kill -HUP "$(cat "$LAB_DIR/sshd.pid")"
	for _ in $(seq 1 50); do grep -c 'Received SIGHUP' "$LAB_DIR/sshd.log" | grep -qx "$i" && break; sleep 0.1; done
	for _ in $(seq 1 50); do lab_s ss -ltn 2>/dev/null | grep -q ':22 ' && break; sleep 0.1; done
done
stamp_stop
SRVLOG="$LAB_DIR/sshd.stamped" srv slow 192.0.2.2
is "$(sev slow srv.slow-login)" warning "UseDNS: srv.slow-login"
like "$(field slow srv.slow-login title)" 'took [0-9.]+ s \(median of 2\)' "the median of the two logins" ||
	grep -E 'Connection from|Accepted' "$LAB_DIR/sshd.stamped" | sed 's/^/# /'
like "$(field slow srv.slow-login fix)" '^UseDNS no$' "the fix: UseDNS no"
ms=$(jget measurements.server.login_median_ms <"$LAB_DIR/slow.json")
ok $((ms >= 3000 ? 0 : 1)) "median login ${ms} ms (>= 3 s)"
is "$(sev slow srv.sshd-restarts)" info "two SIGHUPs: srv.sshd-restarts (info: nothing failed)"
like "$(field slow srv.sshd-restarts title)" 'restarted or reloaded 2 times' "the restarts counted"
like "$(field slow srv.sshd-restarts evidence)" 'Received SIGHUP' "sshd's own line shown"

done_testing
