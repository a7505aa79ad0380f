#!/bin/bash
# tests/lab/capture_logs.sh - regenerates tests/fixtures/logs/ from the lab's real sshd.
# Provokes each event the `logs` command knows, in order, and keeps sshd's raw `-E`
# output with the wall-clock time each line appeared; then converts it to syslog,
# short-iso and journal-JSON forms. Also keeps the ssh clients' own stderr lines.
#   usage: tests/lab/capture_logs.sh [OUTDIR]     (root; default tests/fixtures/logs)
set -u
export LC_ALL=C TZ=UTC
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${1:-$ROOT/tests/fixtures/logs}"
. "$ROOT/tests/lab/lab.sh"

LAB_SSHD_EXTRA=$'ClientAliveInterval 1\nClientAliveCountMax 2\nLoginGraceTime 2\nMaxStartups 2:100:3\nCiphers aes256-gcm@openssh.com,chacha20-poly1305@openssh.com'
LAB_QUIET=1
lab_setup || exit 1
mkdir -p "$OUT"
SSH=(ssh -F "$LAB_SSH_CONFIG" -o LogLevel=INFO)
CLIENT_ERR="$LAB_DIR/client.err"
: >"$CLIENT_ERR"

# Timestamps every raw line as it appears (sshd -E writes none).
stamp_pid=""
start_stamper() {
	tail -n +1 -F "$LAB_DIR/sshd.log" 2>/dev/null > >(while IFS= read -r l; do
		printf '%s %s\n' "$(date +%s.%N)" "$l"
	done >>"$LAB_DIR/stamped") &
	stamp_pid=$!
}
# Client helper: opens a TCP connection, optionally sends bytes, holds it, closes.
tcp() {	# tcp SECONDS [BYTES]
	lab_c python3 -c 'import socket,sys,time
s=socket.create_connection((sys.argv[1],22),5)
if len(sys.argv)>3: s.sendall(sys.argv[3].encode())
time.sleep(float(sys.argv[2]))
s.close()' "$LAB_SERVER_IP" "$@" 2>/dev/null
}

start_stamper
sleep 0.5
echo "== user disconnect" >&2
lab_c "${SSH[@]}" lab true 2>>"$CLIENT_ERR"
sleep 0.3
echo "== wrong key" >&2
ssh-keygen -q -t ed25519 -N '' -f "$LAB_DIR/wrongkey" -C wrong
lab_c ssh -F /dev/null -o IdentityFile="$LAB_DIR/wrongkey" -o IdentitiesOnly=yes -o BatchMode=yes \
	-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "root@$LAB_SERVER_IP" true 2>>"$CLIENT_ERR"
sleep 0.3
echo "== port scan" >&2
tcp 0
sleep 0.3
echo "== invalid banner" >&2
tcp 0.3 $'GET / HTTP/1.0\r\n\r\n'
sleep 0.3
# Debian's 9.2 (CVE-2024-6387 fix) no longer logs the grace timeout from the signal
# handler: only "Connection from" remains. 9.8+ logs it from the listener.
echo "== login grace" >&2
tcp 3.5 $'SSH-2.0-scanner\r\n'
sleep 0.3
echo "== no matching cipher" >&2
lab_c "${SSH[@]}" -c aes128-ctr lab true 2>>"$CLIENT_ERR"
sleep 0.3
echo "== ClientAlive timeout (frozen client)" >&2
lab_c "${SSH[@]}" lab sleep 30 2>>"$CLIENT_ERR" &
cpid=$!
sleep 1.5
kill -STOP "$cpid" $(pgrep -P "$cpid") 2>/dev/null
sleep 5
kill -CONT "$cpid" $(pgrep -P "$cpid") 2>/dev/null
wait "$cpid" 2>/dev/null
echo "== MaxStartups" >&2
burst=()
for i in 1 2 3 4 5 6; do tcp 2.5 $'SSH-2.0-burst\r\n' & burst+=($!); done
wait "${burst[@]}"
sleep 0.5
echo "== client killed mid-session" >&2
lab_c "${SSH[@]}" lab sleep 30 2>>"$CLIENT_ERR" &
cpid=$!
sleep 1.5
kill -9 $(pgrep -P "$cpid") "$cpid" 2>/dev/null
wait "$cpid" 2>/dev/null
sleep 0.5
echo "== server not responding (path goes silent)" >&2
lab_c "${SSH[@]}" -o ServerAliveInterval=1 -o ServerAliveCountMax=2 lab sleep 30 2>>"$CLIENT_ERR" &
cpid=$!
sleep 1.5
printf 'table inet labcap {\n\tchain f {\n\t\ttype filter hook forward priority -10; policy accept;\n\t\ttcp dport 22 drop\n\t\ttcp sport 22 drop\n\t}\n}\n' >"$LAB_DIR/cap.nft"
lab_r nft -f "$LAB_DIR/cap.nft"
wait "$cpid" 2>/dev/null
sleep 3
lab_r nft delete table inet labcap
echo "== sshd restart" >&2
lab_c "${SSH[@]}" lab sleep 30 2>>"$CLIENT_ERR" &
cpid=$!
sleep 1.5
lab_sshd_stop
sleep 0.5
lab_sshd_start
wait "$cpid" 2>/dev/null
sleep 0.3
lab_c "${SSH[@]}" lab true 2>>"$CLIENT_ERR"
sleep 1
kill "$stamp_pid" 2>/dev/null
wait "$stamp_pid" 2>/dev/null
sleep 0.3

# Raw form as sshd wrote it; the conversions reuse the recorded times.
cp "$LAB_DIR/sshd.log" "$OUT/lab-raw.log"
sed 's/\r$//' "$CLIENT_ERR" >"$OUT/lab-client.log"
python3 - "$LAB_DIR/stamped" "$OUT" <<'PY'
import json, re, sys, time
src, out = sys.argv[1], sys.argv[2]
# sshd -E writes no pids: give each connection its own (as syslog would show the
# per-connection process) and the listener's lines pid 1000.
rows, bypeer, last, nextpid = [], {}, 1000, 2000
for l in open(src, errors="replace"):
    t, _, msg = l.rstrip("\n").partition(" ")
    port = re.search(r" port (\d+)", msg)
    if re.match(r"(Server listening|Received signal|drop connection|beginning MaxStartups|exited MaxStartups)", msg):
        pid = 1000
    elif msg.startswith("Connection from ") and port:
        nextpid += 1
        pid = bypeer[port.group(1)] = nextpid
    elif port and port.group(1) in bypeer:
        pid = bypeer[port.group(1)]
    else:
        pid = last
    last = pid if pid != 1000 else last
    rows.append((float(t), str(pid), msg))
with open(out + "/lab-syslog.log", "w") as f:
    for t, pid, msg in rows:
        f.write("%s labsrv sshd[%s]: %s\n" % (time.strftime("%b %e %H:%M:%S", time.gmtime(t)), pid, msg))
with open(out + "/lab-short-iso.log", "w") as f:
    for t, pid, msg in rows:
        f.write("%s labsrv sshd[%s]: %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(t)), pid, msg))
with open(out + "/lab-journal.json", "w") as f:
    for t, pid, msg in rows:
        f.write(json.dumps({"__REALTIME_TIMESTAMP": str(int(t * 1e6)), "_HOSTNAME": "labsrv",
                            "SYSLOG_IDENTIFIER": "sshd", "_PID": pid, "_COMM": "sshd",
                            "MESSAGE": msg}) + "\n")
PY
echo "captured $(wc -l <"$OUT/lab-raw.log") server lines, $(wc -l <"$OUT/lab-client.log") client lines in $OUT" >&2
