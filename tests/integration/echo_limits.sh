#!/bin/bash
# echo-server under a low open-files limit: more clients than fds must not make
# it spin on accept (EMFILE leaves the listener readable): it caps its clients
# below the limit, refuses the rest at once, keeps echoing, and stays idle.
# Loopback only; every process is stopped on exit.
. "$(dirname "$0")/lib.sh"

W=$(mktemp -d "${TMPDIR:-/tmp}/sshdoctor-echo-limits.XXXXXX")
PID=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$W"' EXIT
PORT=$((20000 + RANDOM % 20000))
LIMIT=40
TCK=$(getconf CLK_TCK)

prlimit --nofile=$LIMIT:$LIMIT "$SSHDOCTOR" --json echo-server --listen "127.0.0.1:$PORT" --for 60s \
	>"$W/out.json" 2>"$W/err" &
PID=$!
for _ in $(seq 1 50); do
	grep -q listening "$W/err" && break
	sleep 0.1
done
like "$(cat "$W/err")" "listening on 127.0.0.1:$PORT" "echo-server listens (RLIMIT_NOFILE $LIMIT)"

cpu() { awk '{print $14 + $15}' "/proc/$PID/stat" 2>/dev/null || echo gone; }

# 100 clients at once, held open for 3 s: the first ones are echoed, the rest
# closed by the server; then all close and a new client is echoed again.
cat >"$W/clients.py" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
socks, echoed, closed = [], 0, 0
for i in range(100):
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    socks.append(s)
time.sleep(0.5)
for s in socks:
    try:
        s.sendall(b"x")
        s.settimeout(1)
        d = s.recv(1)
        if d == b"x":
            echoed += 1
        else:
            closed += 1
    except OSError:
        closed += 1
time.sleep(2.5)
for s in socks:
    s.close()
time.sleep(0.3)
s = socket.create_connection(("127.0.0.1", port), timeout=2)
s.sendall(b"again")
s.settimeout(2)
again = s.recv(5)
s.close()
print(echoed, closed, again.decode())
PY
c0=$(cpu)
t0=$(date +%s%N)
res=$(timeout 20 python3 "$W/clients.py" "$PORT")
c1=$(cpu)
t1=$(date +%s%N)
read -r echoed closed again <<<"$res"
ok "$([ "${echoed:-0}" -ge 1 ] && [ "${echoed:-0}" -lt $LIMIT ]; echo $?)" \
	"clients below the fd limit are echoed (${echoed:-?} of 100)"
is "$((${echoed:-0} + ${closed:-0}))" 100 "every other client closed at once, none left hanging"
is "${again:-}" again "after the crowd left, a new client is echoed"
is "$(kill -0 "$PID" 2>/dev/null; echo $?)" 0 "echo-server still running after the crowd"
[ "$c0" = gone ] || [ "$c1" = gone ] && c1=999999 c0=0	# no reading is a failure, not a pass
used_ms=$(( (c1 - c0) * 1000 / TCK ))
wall_ms=$(( (t1 - t0) / 1000000 ))
echo "# echo-server CPU ${used_ms} ms in ${wall_ms} ms wall with 100 clients, RLIMIT_NOFILE $LIMIT"
ok "$([ "$used_ms" -lt 500 ]; echo $?)" "no spinning: CPU ${used_ms} ms over ${wall_ms} ms (< 500 ms)"

kill -INT "$PID"
wait "$PID"; rc=$?
PID=""
is "$rc" 0 "echo-server ends on Ctrl-C with its report (exit 0)"
is "$(jget measurements.echo_server.max_clients <"$W/out.json")" $((LIMIT - 16)) "JSON: max_clients below the fd limit"
ok "$([ "$(jget measurements.echo_server.refused <"$W/out.json")" -ge 1 ]; echo $?)" "JSON: refused counted"
done_testing
