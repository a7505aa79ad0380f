#!/bin/bash
# tests/lab/capture_keep.sh - regenerates tests/fixtures/keep/<version>/ from the
# lab's real ssh and sshd: ssh's stderr (-v, as `keep` runs it) for each way a
# tunnel falls or fails to come up. The first line of each file is "exit=N"
# (ssh's exit status, 128+signal when killed), then ssh's stderr as it was.
#   usage: tests/lab/capture_keep.sh 9.2|10 [OUTDIR]      (root)
set -u
export LC_ALL=C TZ=UTC
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VER="${1:?usage: capture_keep.sh 9.2|10 [OUTDIR]}"
OUT="${2:-$ROOT/tests/fixtures/keep/$VER}"
. "$ROOT/tests/lab/lab.sh"
LAB_OPENSSH=$VER LAB_OPENSSH_CLIENT=$VER LAB_QUIET=1
LAB_SSHD_EXTRA=$'MaxStartups 3:100:3'
lab_setup || exit 1
mkdir -p "$OUT"
SSH=(ssh -F "$LAB_SSH_CONFIG" -v -N -o ExitOnForwardFailure=yes -o BatchMode=yes
	-o ServerAliveInterval=1 -o ServerAliveCountMax=2 -o ConnectTimeout=3)

cutpath() {	# cut drop|reset|none: the router stops forwarding the client's packets
	lab_r nft delete table inet labcut 2>/dev/null
	local v="drop"
	[ "$1" = reset ] && v="reject with tcp reset"
	[ "$1" = none ] && return 0
	printf 'table inet labcut {\n\tchain f {\n\t\ttype filter hook forward priority -10; policy accept;\n\t\tip saddr %s %s\n\t}\n}\n' \
		"$LAB_CLIENT_IP" "$v" >"$LAB_DIR/cut.nft"
	lab_r nft -f "$LAB_DIR/cut.nft"
}

# run NAME SECONDS-BEFORE-ACTION ACTION [ssh args...]: ssh in the background,
# ACTION after the delay (a shell command), then wait (bounded) for its exit.
run() {
	local name=$1 delay=$2 action=$3 i rc
	shift 3
	# exec all the way down (ip netns exec, env): $! is ssh itself
	ip netns exec "$LAB_C" env PATH="${LAB_CLIENT_PATH:+$LAB_CLIENT_PATH:}$PATH" "${SSH[@]}" "$@" 2>"$LAB_DIR/err" &
	local pid=$!
	sleep "$delay"
	eval "$action"
	for i in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null
	wait "$pid"
	rc=$?
	{ echo "exit=$rc"; cat "$LAB_DIR/err"; } >"$OUT/$name.txt"
	echo "capture: $name exit=$rc ($(grep -vc '^debug' "$LAB_DIR/err") non-debug lines)" >&2
}

L=(-L 127.0.0.1:7001:127.0.0.1:22)
run up-sigterm 2 'kill -TERM $pid' "${L[@]}" lab
run up-silent 2 'cutpath drop' "${L[@]}" lab
cutpath none
run up-reset 2 'cutpath reset; lab_c bash -c "exec 3<>/dev/tcp/127.0.0.1/7001; sleep 0.5"' "${L[@]}" lab
cutpath none
run up-server-killed 2 'for p in $(ip netns pids "$LAB_S"); do kill "$p"; done; sleep 0.3' "${L[@]}" lab
run refused 0 'true' "${L[@]}" lab
lab_sshd_start
run connect-timeout 0 'cutpath drop' "${L[@]}" lab
cutpath none
: >"$LAB_DIR/authorized_keys"
run auth-refused 0 'true' "${L[@]}" lab
cp "$LAB_DIR/id_client.pub" "$LAB_DIR/authorized_keys"
ssh-keygen -q -t ed25519 -N '' -f "$LAB_DIR/otherhost" -C other
echo "$LAB_SERVER_IP $(cut -d' ' -f1,2 "$LAB_DIR/otherhost.pub")" >"$LAB_DIR/known_bad"
run hostkey-changed 0 'true' -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$LAB_DIR/known_bad" "${L[@]}" lab
run dns 0 'true' "${L[@]}" -o HostName=nosuchhost.invalid lab
lab_c ip route del 203.0.113.0/24
run no-route 0 'true' "${L[@]}" lab
lab_c ip route add 203.0.113.0/24 via "$LAB_ROUTER_CIP"
# The first session holds port 9000 on the server; the second cannot have it.
lab_c ssh -F "$LAB_SSH_CONFIG" -N -R 9000:127.0.0.1:22 lab 2>/dev/null &
holder=$!
sleep 1.5
run remote-forward-held 0 'true' -R 9000:127.0.0.1:22 lab
run remote-up 2 'kill -TERM $pid' -R 9001:127.0.0.1:22 lab
kill "$holder"; wait "$holder" 2>/dev/null
lab_c python3 -c 'import socket,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 7001)); s.listen(1); time.sleep(4)' &
busy=$!
sleep 0.5
run local-forward-busy 0 'true' "${L[@]}" lab
kill "$busy" 2>/dev/null; wait "$busy" 2>/dev/null
# MaxStartups 3:100:3: three unauthenticated connections held open, the fourth dropped.
lab_c python3 -c 'import socket,time
ss=[socket.create_connection(("203.0.113.2",22)) for _ in range(3)]; time.sleep(4)' &
hold=$!
sleep 0.7
run maxstartups 0 'true' "${L[@]}" lab
kill "$hold" 2>/dev/null; wait "$hold" 2>/dev/null
if [ "${VER%%.*}" -ge 10 ]; then
	sleep 1
	# PerSourcePenalties: bare handshakes, each a noauth penalty, until sshd refuses us.
	lab_c python3 -c 'import socket,time
for _ in range(40):
    try:
        s=socket.create_connection(("203.0.113.2",22),timeout=2); s.recv(64); s.close()
    except OSError: pass
    time.sleep(0.05)'
	run penalty 0 'true' "${L[@]}" lab
fi
echo "capture: done ($VER)" >&2
