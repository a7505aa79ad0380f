#!/bin/bash
# doctor --fix --yes --verify: the cure is applied to the user's ssh config, an
# idle session held past the old timeout (1.5 x it, past the bracket) survives, and audit --undo gives back the
# original bytes. Also the JSON contract's shape (a golden test of the keys).
. "$(dirname "$0")/lib.sh"

T=5
LAB_CT_TIMEOUT=$T LAB_EXPIRY=drop
lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
cp "$LAB_SSH_CONFIG" "$LAB_DIR/orig_config"

out=$(sd_c --json doctor --no-path --idle-max 30s --fix -F "$LAB_SSH_CONFIG" lab); rc=$?
is "$rc" 2 "--fix without --yes: still critical"
cmp -s "$LAB_SSH_CONFIG" "$LAB_DIR/orig_config"
ok $? "--fix without --yes changes nothing"
like "$(jget measurements.doctor.fix.diff <<<"$out")" '\+ServerAliveInterval' "--fix shows the diff"
is "$(jget measurements.doctor.fix.applied <<<"$out")" false "--fix: not applied"

# Golden shape of the public contract.
is "$(python3 - "$out" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
top = sorted(d)
assert top == ["command", "findings", "measurements", "sshdoctor", "status", "target"], top
assert sorted(d["target"]) == ["host", "port", "user"]
assert d["status"] in ("ok", "warning", "critical", "unknown")
for f in d["findings"]:
    assert sorted(f) == ["evidence", "fix", "id", "severity", "title"], f
    assert f["severity"] in ("ok", "info", "warning", "critical")
    for x in f["fix"]:
        assert sorted(x) == ["lines", "where"], x
for k in ("connect", "audit", "idle", "doctor"):
    assert k in d["measurements"], k
doc = d["measurements"]["doctor"]
for k in ("summary", "causes", "not_checked", "verified"):
    assert k in doc, k
for c in doc["causes"]:
    assert sorted(c) == ["confidence", "evidence", "id", "title"], c
    assert c["confidence"] in ("high", "medium", "low")
for n in doc["not_checked"]:
    assert sorted(n) == ["command", "what", "why"], n
idle = d["measurements"]["idle"]
for k in ("found", "lower_s", "upper_s", "expiry", "server_keepalive_s", "elapsed_s",
          "connections", "via", "probes"):
    assert k in idle, k
print("shape ok")
PY
)" "shape ok" "JSON contract shape"

start=$(date +%s)
out=$(sd_c --json doctor --no-path --idle-max 30s --fix --yes --verify -F "$LAB_SSH_CONFIG" lab); rc=$?
is "$(jget measurements.doctor.fix.applied <<<"$out")" true "--fix --yes: applied"
is "$(jget measurements.doctor.verified <<<"$out")" true "--verify: the idle session survived"
held=$(python3 -c 'import json,re,sys
d=json.load(sys.stdin)
f=[f for f in d["findings"] if f["id"]=="doctor.verify"][0]
m=re.search(r"held idle ([0-9.]+)s", " ".join(f["evidence"]))
print(m.group(1) if m else -1, d["measurements"]["idle"]["upper_s"])' <<<"$out" 2>&1)
ok "$(python3 -c 'import sys; h,u=map(float,sys.argv[1].split()); sys.exit(0 if h>u else 1)' "$held" 2>/dev/null; echo $?)" \
	"--verify held past the upper bound of the bracket (held, upper: $held)"
is "$(jget status <<<"$out")" ok "cured and verified: status ok"
is "$rc" 0 "cured and verified: exit 0"
like "$(jget measurements.doctor.summary <<<"$out")" '^Found and cured' "summary says cured"
sai=$(lab_c ssh -G -F "$LAB_SSH_CONFIG" lab | awk '$1=="serveraliveinterval"{print $2}')
ok "$([ "$sai" -gt 0 ] && [ "$sai" -lt $T ]; echo $?)" "ssh -G: ServerAliveInterval $sai < ${T}s"
r=$(IDLE=$((T + 3)) idle_session "")
is "$r" alive "a plain ssh session idle $((T + 3))s now survives"
echo "# doctor --fix --yes --verify took $(( $(date +%s) - start )) s"

sd_c audit --undo >/dev/null 2>&1
ok $? "audit --undo"
cmp -s "$LAB_SSH_CONFIG" "$LAB_DIR/orig_config"
ok $? "--undo gives back the original bytes"
r=$(IDLE=$((T + 3)) idle_session "")
is "$r" silent "after --undo the session hangs again"

# A cure that does not survive is reported as such: a config whose keepalive is
# still too long gets --verify false and stays critical.
printf 'Host lab\n\tServerAliveInterval 30\n' | cat - "$LAB_DIR/orig_config" >"$LAB_SSH_CONFIG"
out=$(sd_c --json doctor --no-path --idle-max 30s --verify -F "$LAB_SSH_CONFIG" lab 2>"$LAB_DIR/uncured.err"); rc=$?
is "$(jget measurements.doctor.verified <<<"$out")" false "--verify on an uncured path: false" ||
	diag_json "$out" "$LAB_DIR/uncured.err"
is "$rc" 2 "uncured: exit 2" || diag_json "$out" "$LAB_DIR/uncured.err"
done_testing
