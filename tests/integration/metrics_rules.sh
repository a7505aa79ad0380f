#!/bin/bash
# contrib/ for fleets, checked with the real tools (no lab needed):
# - the alerting rules pass `promtool check rules` and `promtool test rules`;
#   each alert, replaced by one that never fires, makes the rule tests fail
#   (so every alert's firing is really tested);
# - real `sshdoctor --format=openmetrics logs` output of a fixture, fed to the
#   rules as input series, fires the MaxStartups alert with its real labels;
# - every sshdoctor_* metric the rules use is one sshdoctor renders;
# - the Grafana dashboard's queries parse as PromQL and use real metrics;
# - the systemd units pass `systemd-analyze verify`, and each ExecStart command
#   line, run against loopback and a temporary textfile dir, writes its .prom
#   file, which passes `promtool check metrics`.
# Fails (never skips) when promtool or systemd-analyze is missing.
. "$(dirname "$0")/lib.sh"

RULES="$ROOT/contrib/prometheus/sshdoctor.rules.yml"
RTEST="$ROOT/contrib/prometheus/sshdoctor.rules.test.yml"
W=$(mktemp -d "${TMPDIR:-/tmp}/sshdoctor-rules.XXXXXX")
trap 'rm -rf "$W"' EXIT
for tool in promtool systemd-analyze python3; do
	command -v $tool >/dev/null
	ok $? "$tool installed (scripts/deps.sh: prometheus, systemd)"
done
if ! command -v promtool >/dev/null; then
	echo "# FAIL: promtool missing: apt-get install prometheus (scripts/deps.sh)"
	done_testing
	exit 1
fi

out=$(promtool check rules "$RULES" 2>&1)
ok $? "promtool check rules"
like "$out" 'SUCCESS: 7 rules found' "7 rules"
cp "$RULES" "$RTEST" "$W/"
out=$(cd "$W" && promtool test rules sshdoctor.rules.test.yml 2>&1)
ok $? "promtool test rules"
[ $? -eq 0 ] || echo "$out" | head -30 | sed 's/^/#   /'

# Mutation: each alert in turn never fires -> its tests must fail.
for alert in $(sed -n 's/^ *- alert: *//p' "$RULES"); do
	python3 - "$RULES" "$W/sshdoctor.rules.yml" "$alert" <<'PY'
import re, sys
src, dst, name = sys.argv[1:]
text = open(src).read()
# the expr of this alert (block scalar or one line) becomes "vector(0) > 1"
pat = re.compile(r'(- alert: ' + re.escape(name) + r'\n\s*expr: )(\|\n(?:\s{10,}.*\n)+|.*\n)')
new, n = pat.subn(lambda m: m.group(1) + 'vector(0) > 1\n', text)
assert n == 1, name
open(dst, 'w').write(new)
PY
	(cd "$W" && promtool test rules sshdoctor.rules.test.yml >/dev/null 2>&1)
	ok $(( $? == 0 )) "rule tests fail when $alert never fires"
done
cp "$RULES" "$W/"

# Real output as input series: the lab fixture has 4 MaxStartups drops.
"$SSHDOCTOR" --format=openmetrics logs "$ROOT/tests/fixtures/logs/lab-syslog.log" >"$W/logs.prom"
ok $(( $? > 3 )) "sshdoctor logs on the fixture"
python3 - "$W/logs.prom" >"$W/real.test.yml" <<'PY'
import re, sys
print("rule_files: [sshdoctor.rules.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:")
for line in open(sys.argv[1]):
    if line.startswith("#"):
        continue
    m = re.match(r'^(\w+)\{(.*)\} (\S+)$', line.strip())
    name, labels, value = m.groups()
    labels = 'job="node",instance="srv1:9100",' + labels
    print("      - series: '%s{%s}'\n        values: '%sx10'" % (name, labels, value))
print("""    alert_rule_test:
      - eval_time: 5m
        alertname: SSHConnectionsDroppedByServerLimits
        exp_alerts:
          - exp_labels: { severity: warning, instance: "srv1:9100", event: limit.maxstartups }
            exp_annotations:
              summary: "sshd on srv1:9100 dropped 4 connections (limit.maxstartups)"
              description: "Legitimate logins can be refused at random: raise MaxStartups / adjust PerSourcePenalties, or block the scanning sources (sshdoctor logs shows the top sources)."
      - eval_time: 5m
        alertname: SSHConnectFailing
        exp_alerts: []""")
PY
out=$(cd "$W" && promtool test rules real.test.yml 2>&1)
ok $? "the rules on sshdoctor's real logs output: MaxStartups alert fires"
[ $? -eq 0 ] || echo "$out" | head -30 | sed 's/^/#   /'

# Every metric the rules name is rendered by sshdoctor (src/render_metrics.c).
for m in $(grep -o 'sshdoctor_[a-z_]*' "$RULES" | grep -v '^sshdoctor_$' | sort -u); do
	grep -q "\"$m\"" "$ROOT/src/render_metrics.c"
	ok $? "rules use a real metric: $m"
done

# Grafana dashboard: valid JSON; every panel's query parses as PromQL (checked by
# promtool as recording rules) and names only metrics sshdoctor renders.
DASH="$ROOT/contrib/grafana/sshdoctor-dashboard.json"
python3 - "$DASH" >"$W/dash.rules.yml" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print("groups:\n  - name: dashboard\n    rules:")
n = 0
for p in d["panels"]:
    for t in p["targets"]:
        n += 1
        e = t["expr"].replace("$instance", ".*").replace("'", "''")
        print("      - record: dashboard:panel%d_%s\n        expr: '%s'" % (p["id"], t["refId"], e))
if not n:
    sys.exit(1)
PY
ok $? "dashboard is JSON with panel queries"
out=$(promtool check rules "$W/dash.rules.yml" 2>&1)
ok $? "every dashboard query parses as PromQL ($(grep -c 'record:' "$W/dash.rules.yml") queries)"
[ $? -eq 0 ] || echo "$out" | head -10 | sed 's/^/#   /'
for m in $(grep -o 'sshdoctor_[a-z_]*' "$DASH" | sort -u); do
	grep -q "\"$m\"" "$ROOT/src/render_metrics.c"
	ok $? "dashboard uses a real metric: $m"
done

# systemd units: verified, and their commands run.
UNITS="$ROOT/contrib/systemd"
mkdir -p "$W/units" "$W/tf" "$W/home"
chmod 755 "$W/tf"
echo "127.0.0.1:1" >"$W/fleet.txt"
for f in "$UNITS"/*; do
	sed -e "s|/usr/local/bin/sshdoctor|$SSHDOCTOR|" "$f" >"$W/units/$(basename "$f")"
done
list=$(cd "$W/units" && ls | sed 's/@\./@db1./')
out=$(cd "$W/units" && timeout 60 systemd-analyze verify --man=no $list 2>&1)
rc=$?
[ $rc -eq 0 ] && [ -z "$out" ]
ok $? "systemd-analyze verify: $(echo $list)"
[ -z "$out" ] || echo "$out" | head -20 | sed 's/^/#   /'
for f in "$UNITS"/*.service; do
	u=$(basename "$f")
	cmd=$(sed -n 's/^ExecStart=//p' "$f")
	like "$cmd" '--textfile /var/lib/prometheus/node-exporter ' "$u writes into Debian's textfile dir"
	like "$(sed -n 's/^SuccessExitStatus=//p' "$f")" '^1 2 3$' "$u: verdict exits 1-3 are not unit failures"
	cmd=${cmd//\/usr\/local\/bin\/sshdoctor/$SSHDOCTOR}
	cmd=${cmd//\/var\/lib\/prometheus\/node-exporter/$W/tf}
	cmd=${cmd//\/etc\/sshdoctor\/fleet.txt/$W/fleet.txt}
	cmd=${cmd//%i/127.0.0.1:1}
	before=$(ls "$W/tf" | wc -l)
	# shellcheck disable=SC2086
	(cd "$W" && HOME="$W/home" XDG_STATE_HOME="$W/home/state" timeout 120 $cmd >/dev/null 2>"$W/err")
	rc=$?
	[ $rc -le 3 ]
	ok $? "$u: command runs (exit $rc)"
	[ $rc -le 3 ] || head -5 "$W/err" | sed 's/^/#   /'
	new=$(ls -t "$W/tf" | head -1)
	[ "$(ls "$W/tf" | wc -l)" -gt "$before" ] && [ -n "$new" ]
	ok $? "$u: wrote $new"
	[ -n "$new" ] && out=$(promtool check metrics <"$W/tf/$new" 2>&1)
	ok $(( $? != 0 || ${#out} != 0 )) "$u: promtool check metrics $new"
done
done_testing
