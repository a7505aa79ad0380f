#!/bin/bash
# doctor on a lossy path (20% loss toward the server) with no idle timeout: the
# verdict is path quality, never an idle timeout read from lost probes.
. "$(dirname "$0")/lib.sh"

LAB_CT_TIMEOUT=600 LAB_LOSS=20
lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
out=$(sd_c --json doctor --quick --idle-max 15s -F "$LAB_SSH_CONFIG" lab); rc=$?
ok "$([ "$rc" -eq 1 ] || [ "$rc" -eq 2 ]; echo $?)" "exit 1 or 2 (got $rc)"
is "$(jget measurements.idle.found <<<"$out")" false "idle: no timeout found below 15s"
is "$(jget measurements.doctor.causes.0.id <<<"$out")" cause.path-quality "top cause is path quality"
like "$(jget measurements.path.loss_pct <<<"$out")" '^[0-9.]+$' "loss measured"
is "$(python3 -c "import json,sys; d=json.loads(sys.argv[1])
print(any(c['id']=='cause.idle-timeout' for c in d['measurements']['doctor']['causes']
          if c['confidence']=='high'))" "$out")" False "no idle-timeout verdict"
done_testing
