#!/bin/bash
# Metrics for Prometheus with the real engine: sshdoctor's commands against the
# lab (idle behind a NAT that forgets idle flows after T s, connect, a fleet
# connect, audit, path, logs of the lab's live sshd) write node_exporter textfiles
# with --textfile; every output passes `promtool check metrics`; Debian's
# prometheus-node-exporter, started in the lab's client namespace with only the
# textfile collector, is scraped and must serve the metrics with
# node_textfile_scrape_error 0, also while the files are rewritten under it.
. "$(dirname "$0")/lib.sh"

T=6
LAB_CT_TIMEOUT=$T LAB_EXPIRY=drop LAB_QUIET=1
for tool in promtool prometheus-node-exporter curl; do
	command -v $tool >/dev/null
	ok $? "$tool installed (scripts/deps.sh)"
done
if ! command -v promtool >/dev/null || ! command -v prometheus-node-exporter >/dev/null; then
	done_testing
	exit 1
fi
if ! lab_setup; then
	ok 1 "lab up"
	done_testing
	exit 1
fi
NE_PID=""
cleanup() {
	[ -n "$NE_PID" ] && kill "$NE_PID" 2>/dev/null && wait "$NE_PID" 2>/dev/null
	lab_down
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

TF="$LAB_DIR/textfile"
mkdir -m 755 "$TF"
promcheck() {	# promcheck FILE DESCRIPTION: promtool's parser and linter, no complaint
	local out
	out=$(promtool check metrics <"$1" 2>&1)
	local rc=$?
	[ $rc -eq 0 ] && [ -z "$out" ] && [ -s "$1" ]
	ok $? "promtool check metrics: $2"
	[ -z "$out" ] || echo "$out" | head -20 | sed 's/^/#   /'
}
C=(-F "$LAB_SSH_CONFIG")

sd_c --format=openmetrics --textfile "$TF" idle --max 1m --no-save "${C[@]}" lab >"$LAB_DIR/idle.prom" 2>"$LAB_DIR/idle.err"
is $? 2 "idle: exit 2 (critical, the NAT forgets after ${T}s)"
promcheck "$LAB_DIR/idle.prom" idle
IDLE_FILE="$TF/sshdoctor_idle_203.0.113.2_22.prom"
[ -f "$IDLE_FILE" ]
ok $? "idle textfile $(basename "$IDLE_FILE")"
cmp -s <(grep -v '^sshdoctor_last_run' "$IDLE_FILE") <(grep -v '^sshdoctor_last_run' "$LAB_DIR/idle.prom")
ok $? "textfile holds the same metrics as stdout"
is "$(stat -c %a "$IDLE_FILE")" 644 "textfile mode 0644 (node_exporter's user reads it)"

sd_c --format openmetrics --textfile "$TF" connect "${C[@]}" lab >"$LAB_DIR/connect.prom" 2>&1
is $? 0 "connect: exit 0"
promcheck "$LAB_DIR/connect.prom" connect
printf '# fleet\nlab\n%s:2222\n' "$LAB_ROUTER_CIP" >"$LAB_DIR/fleet.txt"
sd_c --format=openmetrics connect --timeout 3s "${C[@]}" -f "$LAB_DIR/fleet.txt" >"$LAB_DIR/fleet.prom" 2>&1
is $? 2 "connect -f fleet: exit 2 (one target refuses)"
promcheck "$LAB_DIR/fleet.prom" "connect -f (2 targets)"
# The fleet's file (no target in its name) goes beside the others for the scrape,
# with targets of its own: the same command measuring the same target into two
# files of one directory would be a duplicate series, which fails node_exporter.
printf '%s:2222\n%s:2222\n' "$LAB_ROUTER_CIP" "$LAB_SERVER_IP" >"$LAB_DIR/fleet2.txt"
sd_c --textfile "$TF" connect --timeout 3s "${C[@]}" -f "$LAB_DIR/fleet2.txt" >/dev/null 2>&1
[ -f "$TF/sshdoctor_connect.prom" ]
ok $? "fleet textfile sshdoctor_connect.prom"

sd_c --format=openmetrics --textfile "$TF" audit "${C[@]}" lab --idle-timeout ${T}s >"$LAB_DIR/audit.prom" 2>&1
ok $(( $? > 3 )) "audit ran (exit 0..3)"
promcheck "$LAB_DIR/audit.prom" audit

sd_c --format=openmetrics --textfile "$TF" path --count 5 --bulk 64K --duration 60s "${C[@]}" lab >"$LAB_DIR/path.prom" 2>&1
ok $(( $? > 3 )) "path ran (exit 0..3)"
promcheck "$LAB_DIR/path.prom" path

# doctor: every sub-result in one report, labelled command="doctor"
sd_c --format=openmetrics --textfile "$TF" doctor --quick "${C[@]}" lab >"$LAB_DIR/doctor.prom" 2>"$LAB_DIR/doctor.err"
is $? 2 "doctor: exit 2 (critical: idle timeout)"
promcheck "$LAB_DIR/doctor.prom" "doctor (connect, audit, idle, path merged)"

# sshd's own log after all this: idle's sessions died unseen, the others ended
cp "$LAB_DIR/sshd.log" "$LAB_DIR/server.log"
sd_c --format=openmetrics --textfile "$TF" logs "$LAB_DIR/server.log" >"$LAB_DIR/logs.prom" 2>&1
ok $(( $? > 3 )) "logs ran on the lab's sshd log"
promcheck "$LAB_DIR/logs.prom" "logs (live sshd log)"
for f in "$ROOT"/tests/fixtures/logs/*.log "$ROOT"/tests/fixtures/logs/*.json; do
	[ -f "$f" ] || continue
	sd_c --format=openmetrics logs "$f" >"$LAB_DIR/fixture.prom" 2>/dev/null
	promcheck "$LAB_DIR/fixture.prom" "logs $(basename "$f")"
done

# --json is still an alias of --format=json, and the last one given wins
is "$(sd_c --json connect --no-login "${C[@]}" lab 2>/dev/null | jget command)" connect "--json prints JSON"
like "$(sd_c --json --format=openmetrics connect --no-login "${C[@]}" lab 2>/dev/null)" '^# HELP sshdoctor_status ' \
	"--format=openmetrics after --json prints metrics"
sd_c --format=yaml connect lab >/dev/null 2>"$LAB_DIR/fmt.err"
is $? 64 "--format=yaml: usage error"
like "$(cat "$LAB_DIR/fmt.err")" "not text, json or openmetrics" "says which formats exist"

# As root a directory others can write to is refused (exit 74) before the run,
# before or after the command name
mkdir -m 777 "$LAB_DIR/open"
for where in before after; do
	if [ $where = before ]; then
		out=$(sd_c --textfile "$LAB_DIR/open" connect --no-login "${C[@]}" lab 2>"$LAB_DIR/open.err")
	else
		out=$(sd_c connect --no-login --textfile="$LAB_DIR/open" "${C[@]}" lab 2>"$LAB_DIR/open.err")
	fi
	is $? 74 "--textfile ($where the command) to a world-writable dir without sticky bit: exit 74"
	like "$(cat "$LAB_DIR/open.err")" "refusing to write there as root" "says why"
	is "$out" "" "refused before running: nothing on stdout"
done
is "$(ls -A "$LAB_DIR/open" | wc -l)" 0 "nothing written there"
chmod 1777 "$LAB_DIR/open"
sd_c --textfile "$LAB_DIR/open" connect --no-login "${C[@]}" lab >/dev/null 2>&1
is "$(ls -A "$LAB_DIR/open")" "sshdoctor_connect_203.0.113.2_22.prom" "sticky (like /tmp): written"
# A missing directory: exit 74 too
out=$(sd_c --textfile "$LAB_DIR/gone" connect --no-login "${C[@]}" lab 2>"$LAB_DIR/gone.err")
is $? 74 "--textfile to a missing dir: exit 74"
like "$(cat "$LAB_DIR/gone.err")" "gone: No such file" "says why"

ls -A "$TF" >"$LAB_DIR/tf.list"
! grep -qv '\.prom$' "$LAB_DIR/tf.list"
ok $? "only *.prom files in the textfile dir (no temp file left): $(tr '\n' ' ' <"$LAB_DIR/tf.list")"

# --- node_exporter with only the textfile collector, in the client namespace --
ADDR=127.0.0.1:9100
# exec'd straight by ip netns exec, so $! is node_exporter itself (killed by the trap)
ip netns exec "$LAB_C" prometheus-node-exporter --collector.disable-defaults --collector.textfile \
	--collector.textfile.directory="$TF" --web.listen-address=$ADDR >"$LAB_DIR/ne.log" 2>&1 &
NE_PID=$!
up=1
for _ in $(seq 50); do
	lab_c curl -sf -o /dev/null "http://$ADDR/metrics" && { up=0; break; }
	sleep 0.2
done
ok $up "node_exporter serves http://$ADDR/metrics in the client namespace"
lab_c curl -sf "http://$ADDR/metrics" >"$LAB_DIR/scrape.txt"
ok $? "scraped"
# series lookup by name and labels (node_exporter reorders labels)
metric() {	# metric NAME 'k="v",...' -> value, or nothing
	python3 - "$LAB_DIR/scrape.txt" "$1" "$2" <<'PY'
import re, sys
path, name, want = sys.argv[1:]
want = dict(re.findall(r'(\w+)="([^"]*)"', want))
for line in open(path):
    m = re.match(r'^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$', line.strip())
    if not m or m.group(1) != name:
        continue
    labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
    if all(labels.get(k) == v for k, v in want.items()):
        print(m.group(3)); break
PY
}
is "$(metric node_textfile_scrape_error '')" 0 "node_textfile_scrape_error 0"
for f in $(cat "$LAB_DIR/tf.list"); do
	[ -n "$(metric node_textfile_mtime_seconds "file=\"$TF/$f\"")$(metric node_textfile_mtime_seconds "file=\"$f\"")" ]
	ok $? "node_exporter read $f"
done
up=$(metric sshdoctor_idle_timeout_seconds 'command="idle",target="203.0.113.2:22",bound="upper"')
lo=$(metric sshdoctor_idle_timeout_seconds 'command="idle",target="203.0.113.2:22",bound="lower"')
python3 -c "import sys; lo,up,T=map(float,sys.argv[1:]); sys.exit(0 if lo < T+0.3 and up >= T-0.3 and up-lo <= 2 else 1)" \
	"${lo:-nan}" "${up:-nan}" $T
ok $? "scraped idle timeout bracket ($lo, $up] holds the conntrack timeout ${T}s"
is "$(metric sshdoctor_status 'command="idle",target="203.0.113.2:22"')" 2 "scraped sshdoctor_status of idle: 2"
is "$(metric sshdoctor_finding 'command="idle",id="path.idle-timeout",severity="critical",target="203.0.113.2:22"')" 1 \
	"scraped finding path.idle-timeout critical"
is "$(metric sshdoctor_target_info 'command="idle",host="203.0.113.2",port="22",user="root"')" 1 "scraped target_info"
is "$(metric sshdoctor_connect_established 'command="connect",target="203.0.113.2:22"')" 1 "scraped connect established"
is "$(metric sshdoctor_connect_phase_result 'command="connect",target="192.0.2.1:2222",phase="tcp"')" 1 \
	"scraped the fleet's refused target"
is "$(metric sshdoctor_finding 'command="connect",id="tcp.refused",target="203.0.113.2:2222"')" 1 \
	"scraped the fleet's finding for its other target"
like "$(grep '^sshdoctor_connect_phase_result{.*192.0.2.1:2222' "$LAB_DIR/scrape.txt")" 'result="refused"' "... as refused"
v=$(metric sshdoctor_connect_phase_seconds 'command="connect",target="203.0.113.2:22",phase="kex"')
python3 -c "import sys; v=float(sys.argv[1]); sys.exit(0 if 0 < v < 5 else 1)" "${v:-nan}"
ok $? "scraped connect kex phase ${v}s"
is "$(metric sshdoctor_audit_idle_timeout_seconds 'command="audit"')" $T "scraped audit's idle timeout ${T}s"
[ -n "$(metric sshdoctor_audit_keepalive_interval_seconds 'command="audit",side="client"')" ]
ok $? "scraped audit's client keepalive interval"
[ -n "$(metric sshdoctor_path_rtt_seconds 'command="path",target="203.0.113.2:22",stat="p50"')" ]
ok $? "scraped path rtt p50"
is "$(metric sshdoctor_doctor_cause 'command="doctor",target="203.0.113.2:22",cause="cause.idle-timeout"')" 1 \
	"scraped doctor's cause.idle-timeout"
up=$(metric sshdoctor_idle_timeout_seconds 'command="doctor",target="203.0.113.2:22",bound="upper"')
python3 -c "import sys; up,T=map(float,sys.argv[1:]); sys.exit(0 if T-0.3 <= up <= T+2.3 else 1)" "${up:-nan}" $T
ok $? "scraped doctor's idle upper bound ${up}s beside idle's own (distinct series)"
[ -n "$(metric sshdoctor_path_rtt_seconds 'command="doctor",stat="max"')" ]
ok $? "scraped doctor's path rtt"
[ -n "$(metric sshdoctor_logs_events_total 'command="logs",event="disconnect.user"')" ]
ok $? "scraped logs events"
[ -n "$(metric sshdoctor_logs_session_duration_seconds_count 'command="logs"')" ]
ok $? "scraped logs session duration summary"

# Rewritten 40 times while scraped 40 times: every scrape parses, none sees half a file
cp "$ROOT/tests/fixtures/logs/lab-syslog.log" "$LAB_DIR/churn.log"
sd_c --textfile "$TF" logs "$LAB_DIR/churn.log" >/dev/null 2>&1	# every scrape must see this one
( for _ in $(seq 40); do sd_c --textfile "$TF" logs "$LAB_DIR/churn.log" >/dev/null 2>&1; done ) &
wpid=$!
bad=0 n=0
for _ in $(seq 40); do
	lab_c curl -sf "http://$ADDR/metrics" >"$LAB_DIR/s2.txt" || { bad=$((bad + 1)); continue; }
	n=$((n + 1))
	if ! grep -q '^node_textfile_scrape_error 0$' "$LAB_DIR/s2.txt" ||
		! grep -q '^sshdoctor_connect_established{command="connect",target="203.0.113.2:2222"} 0$' "$LAB_DIR/s2.txt" ||
		! grep -q '^sshdoctor_logs_events_total{command="logs",event="limit.maxstartups"} 4$' "$LAB_DIR/s2.txt"; then
		bad=$((bad + 1))
		grep '^node_textfile_scrape_error' "$LAB_DIR/s2.txt" | sed 's/^/#   /'
		cp "$LAB_DIR/s2.txt" "$LAB_DIR/bad-scrape.$bad"
		[ -n "${LAB_KEEP:-}" ] && echo "#   kept $LAB_DIR/bad-scrape.$bad"
	fi
done
wait $wpid
is "$bad/$n" "0/40" "40 scrapes during 40 rewrites: all complete, scrape_error 0"
# node_exporter also logs what it could not serve (e.g. a duplicate series)
! grep -q 'level=error' "$LAB_DIR/ne.log"
ok $? "node_exporter logged no error"
grep 'level=error' "$LAB_DIR/ne.log" | head -2 | cut -c1-400 | sed 's/^/#   /'

kill "$NE_PID" 2>/dev/null
wait "$NE_PID" 2>/dev/null
NE_PID=""
sleep 0.2
left=$(for p in $(ip netns pids "$LAB_C"); do tr '\0' ' ' </proc/$p/cmdline; echo; done)
is "$left" "" "node_exporter and every process gone from the client namespace"
done_testing
