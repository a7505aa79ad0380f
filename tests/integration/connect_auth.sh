#!/bin/bash
# connect's verdicts that need a real sshd in a bad mood: MaxStartups reached
# (held unauthenticated connections), a client offering more keys than
# MaxAuthTries, a failed login, and UseDNS yes with a dead resolver on the server.
. "$(dirname "$0")/lib.sh"

ids() { python3 -c 'import json,sys
print(" ".join(f["id"] for f in json.load(sys.stdin)["findings"]))'; }
fnd() { python3 -c 'import json,sys
for f in json.load(sys.stdin)["findings"]:
    if f["id"] == sys.argv[1]:
        print(" | ".join([f["title"]] + f["evidence"] + [l for x in f["fix"] for l in x["lines"]]))' "$1"; }

LAB_SSHD_EXTRA=$'MaxStartups 2\nMaxAuthTries 2'
lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
ok 0 "lab up (MaxStartups 2, MaxAuthTries 2)"

# Two connections that never authenticate fill MaxStartups.
holds=()
for _ in 1 2; do
	# ip netns exec execs bash: $! is the holder itself, so kill reaches it
	ip netns exec "$LAB_C" bash -c 'exec 3<>/dev/tcp/203.0.113.2/22; sleep 60' >/dev/null 2>&1 &
	holds+=($!)
done
for _ in $(seq 1 100); do
	[ "$(grep -c '^Connection from' "$LAB_DIR/sshd.log")" -ge 2 ] && break
	sleep 0.05
done
out=$(sd_c --json connect -F "$LAB_SSH_CONFIG" lab 2>/dev/null)
is "$?" 2 "MaxStartups reached: exit 2"
is "$(printf '%s' "$out" | ids)" "tcp.ok banner.closed" "MaxStartups reached: TCP ok, then banner.closed"
like "$(printf '%s' "$out" | fnd banner.closed)" 'MaxStartups' "banner.closed names MaxStartups among the causes"
# 9.2: "drop connection #N ... past MaxStartups"; 10.0: "drop connection #N ... Maxstartups"
like "$(cat "$LAB_DIR/sshd.log")" 'drop connection #[0-9]+ .*([Pp]ast MaxStartups|Maxstartups)' \
	"ground truth: sshd logged a drop past MaxStartups"
! grep -q 'activating .* penalty' "$LAB_DIR/sshd.log"
ok $? "ground truth: no penalty active (so no server.penalty claimed)"
kill "${holds[@]}" 2>/dev/null
wait "${holds[@]}" 2>/dev/null
sleep 0.3

for k in 1 2 3; do ssh-keygen -q -t ed25519 -N '' -f "$LAB_DIR/extra$k" -C "extra$k"; done
out=$(sd_c --json connect -F "$LAB_SSH_CONFIG" -i "$LAB_DIR/extra1" -i "$LAB_DIR/extra2" \
	-i "$LAB_DIR/extra3" lab 2>/dev/null)
is "$?" 2 "three wrong keys first, MaxAuthTries 2: exit 2"
like "$(printf '%s' "$out" | ids)" 'kex\.ok auth\.too-many-keys$' "auth.too-many-keys (and nothing else wrong)"
f=$(printf '%s' "$out" | fnd auth.too-many-keys)
like "$f" 'Too many authentication failures' "evidence: the server's disconnect message"
like "$f" 'IdentitiesOnly yes' "fix: IdentitiesOnly yes"
is "$(printf '%s' "$out" | jget measurements.connect.login.keys_offered)" 2 "two keys offered before the cut"

out=$(sd_c --json connect -F "$LAB_SSH_CONFIG" -l nosuchuser lab 2>/dev/null)
is "$?" 2 "unknown user: exit 2"
like "$(printf '%s' "$out" | ids)" 'kex\.ok auth\.failed$' "unknown user: auth.failed"
like "$(printf '%s' "$out" | fnd auth.failed)" 'Permission denied' "auth.failed quotes ssh's Permission denied"
is "$(printf '%s' "$out" | jget measurements.connect.phases.4.result)" denied "phase auth: denied"
lab_down
trap - EXIT INT TERM

LAB_SSHD_EXTRA="UseDNS yes" LAB_SERVER_DNS=dead
lab_setup || { ok 1 "lab up (UseDNS)"; done_testing; exit 1; }
out=$(sd_c --json connect -F "$LAB_SSH_CONFIG" --timeout 40s lab 2>/dev/null)
is "$?" 1 "UseDNS yes, dead resolver on the server: exit 1 (slow but works)"
is "$(printf '%s' "$out" | ids)" "tcp.ok banner.ok kex.ok auth.slow" "auth.slow only"
f=$(printf '%s' "$out" | fnd auth.slow)
like "$f" 'UseDNS' "names reverse DNS with UseDNS"
like "$f" 'UseDNS no' "fix: UseDNS no"
ms=$(printf '%s' "$out" | jget measurements.connect.login.auth_requests.0.answer_ms)
ok $((ms >= 3000 ? 0 : 1)) "the first auth request waited ${ms} ms"
ms2=$(printf '%s' "$out" | jget measurements.connect.login.auth_requests.1.answer_ms)
if [ "${LAB_SSHD_VERSION%%.*}" -ge 10 ]; then
	# measured: 10.0 (sshd-auth) waits for the lookup again on the next request
	ok $((ms2 >= 3000 ? 0 : 1)) "10.0: the next one waited for the lookup again (${ms2} ms)"
else
	ok $((ms2 < 1000 ? 0 : 1)) "the next one was answered at once (${ms2} ms)"
fi

# The same with a timeout shorter than the server's lookup: ssh is killed in time.
start=$(date +%s%N)
out=$(sd_c --json connect -F "$LAB_SSH_CONFIG" --timeout 3s lab 2>/dev/null)
rc=$?
el=$((($(date +%s%N) - start) / 1000000))
is "$rc" 2 "login stuck past --timeout: exit 2"
like "$(printf '%s' "$out" | fnd auth.slow)" 'more than [23]\.[0-9] s.*UseDNS no' "auth.slow: never answered, UseDNS named"
ok $((el < 5000 ? 0 : 1)) "ended ${el} ms after start (timeout 3 s)"
is "$(pgrep -fc -- "ssh -vvv.*$LAB_SSH_CONFIG")" 0 "no ssh child left behind"
done_testing
