#!/bin/bash
# doctor when the connection never gets established: it stops after connect and
# names the phase (a filtered port, no common key exchange), nothing else runs.
. "$(dirname "$0")/lib.sh"

LAB_FW=drop
lab_setup || { ok 1 "lab up (filtered)"; done_testing; exit 1; }
start=$(date +%s)
out=$(sd_c --json doctor -F "$LAB_SSH_CONFIG" -o ConnectTimeout=3 lab); rc=$?
is "$rc" 2 "filtered: exit 2"
is "$(jget measurements.doctor.causes.0.id <<<"$out")" cause.establishment "filtered: top cause is establishment"
like "$out" '"tcp.filtered"' "filtered: tcp.filtered reported"
is "$(jget measurements.idle <<<"$out")" null "filtered: idle did not run"
is "$(jget measurements.audit <<<"$out")" null "filtered: audit did not run"
ok "$([ $(( $(date +%s) - start )) -lt 60 ]; echo $?)" "filtered: verdict within a minute"
lab_down
trap - EXIT INT TERM

LAB_FW=none LAB_SSHD_EXTRA="KexAlgorithms diffie-hellman-group14-sha1"
lab_setup || { ok 1 "lab up (kex)"; done_testing; exit 1; }
out=$(sd_c --json doctor -F "$LAB_SSH_CONFIG" lab); rc=$?
is "$rc" 2 "kex: exit 2"
is "$(jget measurements.doctor.causes.0.id <<<"$out")" cause.establishment "kex: top cause is establishment"
like "$(jget measurements.doctor.summary <<<"$out")" "key exchange|kex" "kex: the summary names the key exchange"
like "$out" '"kex.no-match"' "kex: kex.no-match reported"
done_testing
