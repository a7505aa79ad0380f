#!/bin/bash
# `sshdoctor logs` on the lab's real sshd log, live: provokes a user disconnect,
# a wrong key, a port scan without banner, a cipher mismatch, a ClientAlive
# timeout (frozen client) and MaxStartups drops, then checks the JSON; also the
# committed fixtures, gzip vs plain, stdin, bad input and exit codes.
. "$(dirname "$0")/lib.sh"

FIX="$ROOT/tests/fixtures/logs"
LAB_SSHD_EXTRA=$'ClientAliveInterval 1\nClientAliveCountMax 2\nMaxStartups 2:100:3\nCiphers aes256-gcm@openssh.com'
LAB_QUIET=1
if ! lab_setup; then
	ok 1 "lab up"
	done_testing
	exit 1
fi
ok 0 "lab up"
SSH=(ssh -F "$LAB_SSH_CONFIG" -o LogLevel=INFO)
tcp() {	# tcp SECONDS [BYTES]: a bare TCP client
	lab_c python3 -c 'import socket,sys,time
s=socket.create_connection((sys.argv[1],22),5)
if len(sys.argv)>3: s.sendall(sys.argv[3].encode())
time.sleep(float(sys.argv[2]))
s.close()' "$LAB_SERVER_IP" "$@" 2>/dev/null
}

lab_c "${SSH[@]}" lab true
ssh-keygen -q -t ed25519 -N '' -f "$LAB_DIR/wrongkey"
lab_c ssh -F /dev/null -o IdentityFile="$LAB_DIR/wrongkey" -o IdentitiesOnly=yes -o BatchMode=yes \
	-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "root@$LAB_SERVER_IP" true 2>/dev/null
tcp 0
# sshd (10.0's sshd-session, under load) logs the close a little later: wait for
# it, bounded, before the copy
for _ in $(seq 1 50); do
	grep -q 'kex_exchange_identification: Connection closed' "$LAB_DIR/sshd.log" && break
	sleep 0.1
done
sleep 0.2
cp "$LAB_DIR/sshd.log" "$LAB_DIR/scan.log"	# up to the scan: before any burst
lab_c "${SSH[@]}" -c aes128-ctr lab true 2>"$LAB_DIR/client.err"
lab_c "${SSH[@]}" lab sleep 20 2>>"$LAB_DIR/client.err" &
cpid=$!
sleep 1.5
kids=$(pgrep -P "$cpid")	# the ssh under the backgrounded subshell
kill -STOP $kids "$cpid"
sleep 7
kill -CONT $kids "$cpid"
wait "$cpid"
burst=()
for i in 1 2 3 4 5; do tcp 2 $'SSH-2.0-burst\r\n' & burst+=($!); done
wait "${burst[@]}"
sleep 0.5

out=$("$SSHDOCTOR" --json logs "$LAB_DIR/sshd.log"); rc=$?
m() { printf '%s' "$out" | jget "measurements.logs.$1"; }
is "$rc" 1 "live lab log: exit 1 (warnings: the disconnects need attention)"
ev() { printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["measurements"]["logs"]["events"][sys.argv[1]])' "$1"; }
is "$(ev disconnect.user)" 1 "live: ssh lab true -> one disconnect.user"
is "$(ev auth.failure)" 1 "live: wrong key -> auth.failure"
# the scan alone leaves two lines (kex_exchange_identification + Connection closed):
# one preauth.closed, not two
scan=$("$SSHDOCTOR" --json logs "$LAB_DIR/scan.log")
is "$(grep -c 'kex_exchange_identification: Connection closed' "$LAB_DIR/scan.log")" 1 "scan: sshd logged the banner-less close"
is "$(printf '%s' "$scan" | python3 -c 'import json,sys; print(json.load(sys.stdin)["measurements"]["logs"]["events"]["preauth.closed"])')" 1 \
	"live: port scan without banner -> one preauth.closed"
is "$(ev kex.no-match)" 1 "live: cipher mismatch -> kex.no-match"
is "$(ev disconnect.client-timeout)" 1 "live: frozen client -> disconnect.client-timeout"
drops=$(ev limit.maxstartups)
[ "$drops" -ge 1 ]; ok $? "live: burst past MaxStartups -> limit.maxstartups ($drops)"
is "$(m unrecognized_ssh_lines)" 0 "live: every sshd line recognised"
is "$(m sessions.count)" 2 "live: two authenticated sessions paired"
like "$out" '"id": *"logs.maxstartups"' "live: MaxStartups finding"
like "$out" 'top source 203\.0\.113\.1' "live: MaxStartups finding names the top source"
like "$out" '"id": *"logs.client-timeout"' "live: ClientAlive finding"
like "$out" 'ServerAliveInterval' "live: keepalive fix suggested"
like "$(tr '\n' ' ' <"$LAB_DIR/client.err")" 'no matching cipher' "client side saw the cipher mismatch too"
"$SSHDOCTOR" logs "$LAB_DIR/client.err" >/dev/null; is "$?" 1 "client stderr file understood (kex.no-match: warning)"
id=$LAB_ID
lab_down
trap - EXIT INT TERM
is "$(ip netns list | grep -Ec "^${id}[crs]( |\$)")" 0 "lab namespaces removed"

# Committed fixtures (captured from the lab by tests/lab/capture_logs.sh): the same
# events whatever the form.
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
evs() { "$SSHDOCTOR" --json logs "$@" | python3 -c 'import json,sys; m=json.load(sys.stdin)["measurements"]["logs"]; print(sorted((k,v) for k,v in m["events"].items() if v), m["sessions"]["count"], m["sessions"]["by_end"])'; }
raw=$(evs "$FIX/lab-raw.log")
like "$raw" "'limit.maxstartups', 4" "fixture raw: 4 MaxStartups drops"
like "$raw" "'server.restart', 1" "fixture raw: sshd restart"
for f in lab-syslog.log lab-short-iso.log lab-journal.json; do
	is "$(evs "$FIX/$f")" "$raw" "fixture $f: same events and sessions as the raw form"
done
gzip -c "$FIX/lab-syslog.log" >"$W/auth.log.2.gz"
is "$(evs "$W/auth.log.2.gz")" "$(evs "$FIX/lab-syslog.log")" "gzip and plain give the same result"
is "$(evs - <"$FIX/lab-syslog.log")" "$(evs "$FIX/lab-syslog.log")" "stdin gives the same result"
out=$("$SSHDOCTOR" --json logs "$FIX/lab-syslog.log" --sessions)
n=$(printf '%s' "$out" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["measurements"]["logs"]["sessions"]["list"]))')
is "$n" 6 "--sessions lists the 6 sessions"
out=$("$SSHDOCTOR" --json logs "$FIX/kernel.log")
like "$out" '"id": *"logs.correlated-drops"' "kernel link-down correlated with the disconnects"
"$SSHDOCTOR" logs "$FIX/kernel.log" >/dev/null; is "$?" 2 "correlated drops are critical (exit 2)"

# Bad input: never a crash; exit 3 only when nothing could be read.
head -c 200000 /dev/urandom >"$W/garbage"
head -c 3000 "$W/auth.log.2.gz" >"$W/trunc.gz"
"$SSHDOCTOR" --json logs "$W/garbage" "$W/trunc.gz" /nonexistent "$FIX/lab-raw.log" >"$W/bad.json"
rc=$?
[ "$rc" -le 2 ]; ok $? "garbage, truncated gzip, missing file and one good file: exit $rc, not 3 or a crash"
like "$(cat "$W/bad.json")" '"id": *"logs.unreadable"' "unreadable sources reported"
"$SSHDOCTOR" logs /nonexistent/a /nonexistent/b >/dev/null 2>&1; is "$?" 3 "nothing readable: exit 3"
"$SSHDOCTOR" logs --since yesterday "$FIX/lab-raw.log" >/dev/null 2>&1; is "$?" 64 "bad --since: usage error 64"
n=$("$SSHDOCTOR" --json logs --host 192.0.2.99 "$FIX/lab-syslog.log" | python3 -c 'import json,sys; print(json.load(sys.stdin)["measurements"]["logs"]["events"]["limit.maxstartups"])')
is "$n" 0 "--host filters other peers out"

# Older and other sshd builds (fixture written for issue 12: no port, no
# [preauth], Solaris [ID ...] tags, sshd-session, lines without a stamp): read,
# and no idle-timeout above info from sessions of a few seconds.
out=$("$SSHDOCTOR" --json logs --unrecognized "$FIX/other-builds.log")
sev=$(printf '%s' "$out" | python3 -c 'import json,sys; print(",".join(f["severity"] for f in json.load(sys.stdin)["findings"] if f["id"] == "logs.idle-timeout") or "none")')
case "$sev" in *warning*|*critical*) ok 1 "other builds: no warning/critical logs.idle-timeout (got $sev)";; *) ok 0 "other builds: no warning/critical logs.idle-timeout ($sev)";; esac
is "$(printf '%s' "$out" | jget measurements.logs.sessions.count)" 10 "other builds: Solaris, sshd-session and stamp-less sessions paired"
is "$(printf '%s' "$out" | python3 -c 'import json,sys; u=json.load(sys.stdin)["measurements"]["logs"]["unrecognized"]; print(len(u["lines"]), u["more"])')" "3 0" \
	"--unrecognized (JSON): the 3 lines no rule knows"
txt=$("$SSHDOCTOR" logs --unrecognized "$FIX/other-builds.log")
like "$txt" 'input_userauth_request: invalid user admin' "--unrecognized (text) lists them"
like "$("$SSHDOCTOR" logs "$FIX/other-builds.log")" '3 unrecognized: --unrecognized lists them' "without the option: counted, and the option named"

# Year inference backwards from the file's mtime: a log across month and year
# wraps, last written 2027-03-01 12:00 UTC, has no event after that.
cat >"$W/wraps.log" <<'LOG'
Oct 30 10:00:00 h sshd[10]: Accepted publickey for u from 192.0.2.1 port 1 ssh2
Oct 30 10:00:30 h sshd[10]: Connection reset by 192.0.2.1 port 1
Dec 31 23:59:50 h sshd[11]: Accepted publickey for u from 192.0.2.2 port 2 ssh2
Jan  1 00:00:10 h sshd[11]: Received disconnect from 192.0.2.2 port 2:11: disconnected by user
Jan  1 00:00:10 h sshd[11]: Disconnected from user u 192.0.2.2 port 2
Feb 28 08:00:00 h sshd[12]: Accepted publickey for u from 192.0.2.3 port 3 ssh2
Mar  1 11:59:00 h sshd[12]: Connection reset by 192.0.2.3 port 3
LOG
TZ=UTC touch -d '2027-03-01 12:00:00' "$W/wraps.log"
out=$(TZ=UTC "$SSHDOCTOR" --json logs --sessions "$W/wraps.log")
is "$(printf '%s' "$out" | python3 -c 'import json,sys
l=json.load(sys.stdin)["measurements"]["logs"]["sessions"]["list"]
print(" ".join(s["start"] + ".." + s["end"] for s in l))')" \
	"2026-10-30T10:00:00Z..2026-10-30T10:00:30Z 2026-12-31T23:59:50Z..2027-01-01T00:00:10Z 2027-02-28T08:00:00Z..2027-03-01T11:59:00Z" \
	"years inferred backwards from the mtime across the wraps"
like "$(printf '%s' "$out" | tr -d '\n')" 'disconnect.reset: 2, from 2026-10-30T10:00:30Z to 2027-03-01T11:59:00Z' "event range ends at the mtime, not years later"
done_testing
