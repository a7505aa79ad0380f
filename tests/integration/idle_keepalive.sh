#!/bin/bash
# A server with ClientAliveInterval below the path's idle timeout: its keepalives
# keep every connection alive, so the timeout cannot be seen; idle must say so
# (server_keepalive_s, found false) instead of inventing a number, and stop early.
. "$(dirname "$0")/lib.sh"

T=10
KA=3
LAB_CT_TIMEOUT=$T LAB_EXPIRY=drop LAB_SSHD_EXTRA="ClientAliveInterval $KA"
lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
start=$(date +%s)
out=$(sd_c --json idle --max 5m -F "$LAB_SSH_CONFIG" lab 2>"$LAB_DIR/err")
rc=$?
took=$(( $(date +%s) - start ))
is "$rc" 0 "exit 0: keepalives already protect the session"
is "$(echo "$out" | jget measurements.idle.found)" false "no timeout claimed"
is "$(echo "$out" | jget measurements.idle.upper_s)" null "no upper bound invented"
ka=$(echo "$out" | jget measurements.idle.server_keepalive_s)
python3 -c "import sys; k=float(sys.argv[1]); sys.exit(0 if 2.5 <= k <= 6.5 else 1)" "$ka"
ok $? "server keepalive seen every ${ka}s (ClientAliveInterval $KA; sshd 9.x may let 2 intervals pass)"
like "$(echo "$out" | jget findings.0.title)" 'keepalive' "the finding names the server's keepalive"
is "$(echo "$out" | jget findings.0.id)" path.idle-timeout "finding id path.idle-timeout"
[ "$took" -lt 60 ]
ok $? "stops early (${took}s), not after --max"
is "$(ip netns pids "$LAB_C" | wc -l)" 0 "no process left in the client namespace"
done_testing
