#!/bin/bash
# No idle timeout within --max: status ok, found false. Then 20% packet loss on
# the path: retransmissions delay answers, and that must never read as a timeout.
. "$(dirname "$0")/lib.sh"

LAB_CT_TIMEOUT=3600 LAB_EXPIRY=drop
lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
out=$(sd_c --json idle --max 10s -F "$LAB_SSH_CONFIG" lab 2>"$LAB_DIR/err")
is "$?" 0 "exit 0 without a timeout"
is "$(echo "$out" | jget status)" ok "status ok"
is "$(echo "$out" | jget measurements.idle.found)" false "found false"
is "$(echo "$out" | jget measurements.idle.upper_s)" null "upper_s null"
is "$(echo "$out" | jget measurements.idle.expiry)" null "expiry null"
like "$(echo "$out" | jget findings.0.title)" 'No idle timeout below 10s' "says: no idle timeout below MAX"
lo=$(echo "$out" | jget measurements.idle.lower_s)
el=$(echo "$out" | jget measurements.idle.elapsed_s)
python3 -c "import sys; lo,el=map(float,sys.argv[1:]); sys.exit(0 if lo >= 10 and el < 25 else 1)" "$lo" "$el"
ok $? "a connection idle ${lo}s answered; took ${el}s"

LAB_LOSS=20 lab_netem
out=$(sd_c --json idle --max 15s -F "$LAB_SSH_CONFIG" lab 2>"$LAB_DIR/err")
rc=$?
is "$(echo "$out" | jget measurements.idle.found)" false "20% loss: no false timeout"
[ "$rc" = 0 ] || [ "$rc" = 1 ] || [ "$rc" = 3 ]
ok $? "20% loss: not critical (exit $rc)"
like "$(echo "$out" | jget findings.0.id)" '^path\.(idle-timeout|inconsistent)$' "20% loss: finding about the path"
is "$(ip netns pids "$LAB_C" | wc -l)" 0 "no process left in the client namespace"
done_testing
