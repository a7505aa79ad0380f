#!/bin/bash
# keep waits for the network instead of spinning: the client namespace loses
# its link (and with it the route to the server) under a live tunnel; keep
# notices by keepalive, then "no route" tries are few (the wait is for a netlink
# route/address change, with a slow fallback); when the link and route come
# back, netlink wakes it and the forward carries bytes within a couple of seconds.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/lab/keep_helpers.sh"

LAB_SSHD_EXTRA="$(keep_sshd_extra)"
lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
ok 0 "lab up (OpenSSH $LAB_SSHD_VERSION)"
trap 'keep_stop; lab_down' EXIT
ERR="$LAB_DIR/keep.err"
PORT=7003
keep_start "$ERR" --name nt --alive-interval 1 --alive-count 2 -F "$LAB_SSH_CONFIG" lab \
	-- -L "127.0.0.1:$PORT:127.0.0.1:22"
ms=$(wait_fwd $PORT 15)
ok $? "up ($ms ms)"
lab_c ip link set eth0 down
wait_log "$ERR" 'attempt [0-9]+ failed \(no-route\)' 20
ok $? "link down: the tries say no-route"
sleep 12
like "$(cat "$ERR")" 'waiting for a route or address change' "link down: waits for the network"
n=$(grep -c 'failed (no-route)' "$ERR")
ok $((n >= 1 && n <= 3 ? 0 : 1)) "link down for ~12 s: $n no-route tries (no spinning)"
lab_c ip link set eth0 up
lab_c ip route add 203.0.113.0/24 via "$LAB_ROUTER_CIP"
ms=$(wait_fwd $PORT 20)
ok $? "link and route back: the forward carries bytes ${ms} ms later"
ok $((ms >= 0 && ms < 4000 ? 0 : 1)) "woken by netlink, not by a timer (${ms} ms < 4 s)"
like "$(cat "$ERR")" 'the network changed: trying again' "logged: the network changed"
done_testing
