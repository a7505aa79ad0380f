#!/bin/bash
# connect's resolve phase against real resolvers: a lab DNS server
# (tests/lab/connect_fakedns.py on the router) that answers at once, answers
# late, or says NXDOMAIN; then the lab's dead DNS server (LAB_DNS=dead).
. "$(dirname "$0")/lib.sh"

ids() { python3 -c 'import json,sys
print(" ".join(f["id"] for f in json.load(sys.stdin)["findings"]))'; }

lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
ok 0 "lab up"
# in a subshell so its death in lab_down is not reported
(lab_r python3 "$ROOT/tests/lab/connect_fakedns.py" 192.0.2.1 \
	ok.lab.test=203.0.113.2 slow.lab.test=203.0.113.2@1500 >/dev/null 2>&1 &)
# ip netns exec mounts this over /etc/resolv.conf for every later command
mkdir -p "/etc/netns/$LAB_C"
printf 'nameserver 192.0.2.1\noptions timeout:3 attempts:1\n' >"/etc/netns/$LAB_C/resolv.conf"
for _ in $(seq 1 100); do
	lab_r ss -lunH | grep -q '192.0.2.1:53 ' && break
	sleep 0.05
done
ok $? "lab DNS server up"

out=$(sd_c --json connect -F "$LAB_SSH_CONFIG" root@ok.lab.test 2>/dev/null)
is "$?" 0 "name served at once: exit 0"
is "$(printf '%s' "$out" | ids)" "dns.ok tcp.ok banner.ok kex.ok login.ok" "dns.ok then every phase ok"
is "$(printf '%s' "$out" | jget measurements.connect.addresses.0.address)" 203.0.113.2 "the address DNS gave"
is "$(printf '%s' "$out" | jget measurements.connect.phases.0.result)" ok "phase dns: ok"

out=$(sd_c --json connect -F "$LAB_SSH_CONFIG" --no-login root@slow.lab.test 2>/dev/null)
is "$?" 1 "name answered after 1.5 s: exit 1 (warning)"
is "$(printf '%s' "$out" | ids)" "dns.slow tcp.ok banner.ok kex.ok" "dns.slow, the rest ok"
ms=$(printf '%s' "$out" | jget measurements.connect.phases.0.ms)
ok $((ms >= 1500 && ms < 2500 ? 0 : 1)) "dns phase measured ${ms} ms (server delays 1500)"

out=$(sd_c --json connect -F "$LAB_SSH_CONFIG" --no-login --timeout 1s root@slow.lab.test 2>/dev/null)
is "$(printf '%s' "$out" | ids)" dns.fail "slower than --timeout: dns.fail"
like "$(printf '%s' "$out" | jget findings.0.evidence.0)" 'no answer within 1\.[0-9] s' "says it got no answer in time"

out=$(sd_c --json connect -F "$LAB_SSH_CONFIG" root@nope.lab.test 2>/dev/null)
is "$?" 2 "NXDOMAIN: exit 2"
is "$(printf '%s' "$out" | ids)" dns.fail "NXDOMAIN: dns.fail only"
like "$(printf '%s' "$out" | jget findings.0.evidence.0)" 'not known|NXDOMAIN|No address' "NXDOMAIN: the resolver's own words"
lab_down
trap - EXIT INT TERM

LAB_DNS=dead
lab_setup || { ok 1 "lab up (dead DNS)"; done_testing; exit 1; }
start=$(date +%s%N)
out=$(sd_c --json connect -F "$LAB_SSH_CONFIG" --timeout 8s root@server.lab.test 2>/dev/null)
rc=$?
el=$((($(date +%s%N) - start) / 1000000))
is "$rc" 2 "dead DNS server: exit 2"
is "$(printf '%s' "$out" | ids)" dns.fail "dead DNS server: dns.fail"
like "$(printf '%s' "$out" | jget findings.0.evidence.1)" 'did not answer' "says the DNS server did not answer"
ok $((el < 8000 ? 0 : 1)) "done when the resolver gave up (${el} ms)"
done_testing
