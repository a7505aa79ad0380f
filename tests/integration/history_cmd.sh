#!/bin/bash
# `history` over a real store (the schema made by the tool itself, rows written
# with Debian's sqlite3 CLI as the relay would write them): JSON, text, metrics
# (promtool), --since/--network, bad flags, a corrupt store. Then doctor in the
# lab behind a T = 15 s NAT with sessions on the lab's network: it learns the
# timeout from them, skips the active measurement with --quick, confirms it
# without, and measures when the history is not tight.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || { ok 1 "sqlite3 CLI installed (scripts/deps.sh)"; done_testing; exit 1; }
command -v promtool >/dev/null || { ok 1 "promtool installed (scripts/deps.sh)"; done_testing; exit 1; }

W="$(mktemp -d)"
trap 'rm -rf "$W"' EXIT
NOW=$(date +%s%3N)
NET_A="gw-192.0.2.1-02:00:00:00:00:01"
NET_B="gw-198.51.100.1-02:00:00:00:00:02"

# store_init STATE_DIR: an empty file that the tool's own store turns into the schema
store_init() {
	mkdir -p -m 700 "$1/sshdoctor"
	: >"$1/sshdoctor/history.db"
	chmod 600 "$1/sshdoctor/history.db"
	env HOME="$W/home" XDG_STATE_HOME="$1" "$SSHDOCTOR" history >/dev/null
}
# session ID TARGET NET GATEWAY AGE_S END END_IDLE_MS
session() {
	printf "INSERT INTO sessions(id,target,port,net_id,net_gateway,start_wall_ms,start_mono_ms,end_mono_ms,end_kind,end_idle_ms) VALUES(%d,'%s','22','%s','%s',%d,1000,400000,'%s',%d);\n" \
		"$1" "$2" "$3" "$4" $((NOW - $5 * 1000)) "$6" "$7"
}
gap() { printf "INSERT INTO gaps(session,at_wall_ms,idle_ms,answered) VALUES(%d,%d,%d,%d);\n" "$1" "$NOW" "$2" "$3"; }

mkdir -p "$W/home"
S="$W/state"
store_init "$S"
is "$(sqlite3 "$S/sshdoctor/history.db" 'PRAGMA user_version')" 1 "the tool made the schema (version 1)"
{
	# db1 on network A, T about 300 s: 3 answered near 300, 3 lost just after
	for i in 1 2 3; do
		session $i db1 "$NET_A" 192.0.2.1 $((3600 + i)) timeout $((301000 + i * 1000))
		gap $i $((299000 + i * 300)) 1
		gap $i $((301000 + i * 1000)) 0
	done
	session 4 db1 "$NET_A" 192.0.2.1 3500 clean 0
	gap 4 120000 1
	# db1 on network B, five days ago: the server closed it
	session 5 db1 "$NET_B" 198.51.100.1 432000 server-closed 20000
	# db2 on network A: a contradiction (lost after 5 s, answered after 60 s)
	session 6 db2 "$NET_A" 192.0.2.1 600 timeout 9000
	gap 6 60000 1
	gap 6 5000 0
} | sqlite3 "$S/sshdoctor/history.db"
is "$?" 0 "rows written with sqlite3"

h() { env HOME="$W/home" XDG_STATE_HOME="$S" "$SSHDOCTOR" "$@"; }

out=$(h --json history db1 --sessions); rc=$?
is "$rc" 1 "history db1: exit 1 (warning: sessions died)"
is "$(jget measurements.history.sessions <<<"$out")" 5 "db1: 5 sessions"
is "$(jget measurements.history.by_end.timeout <<<"$out")" 3 "db1: 3 ended by timeout"
is "$(jget measurements.history.by_end.server-closed <<<"$out")" 1 "db1: 1 server-closed"
is "$(jget measurements.history.networks.0.id <<<"$out")" "$NET_A" "db1: newest network first"
is "$(jget measurements.history.networks.0.gateway <<<"$out")" 192.0.2.1 "db1: its gateway"
is "$(jget measurements.history.networks.0.deaths <<<"$out")" 3 "db1: 3 deaths on A"
is "$(jget measurements.history.networks.0.idle_timeout.lower_s <<<"$out")" 299.9 "db1/A: lower bound = longest answered"
is "$(jget measurements.history.networks.0.idle_timeout.upper_s <<<"$out")" 302.0 "db1/A: upper bound = shortest lost"
is "$(jget measurements.history.networks.0.idle_timeout.samples <<<"$out")" 7 "db1/A: 4 answered + 3 lost samples"
is "$(jget measurements.history.networks.0.idle_timeout.tight <<<"$out")" true "db1/A: tight (2.1 s <= 2% of 302 s)"
is "$(jget measurements.history.networks.1.idle_timeout.lower_s <<<"$out")" null "db1/B: no bracket"
is "$(jget measurements.history.list.0.target <<<"$out")" db1 "--sessions: the list"
is "$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)["measurements"]["history"]["list"]))' <<<"$out")" 5 "--sessions: 5 entries"
ids=$(python3 -c 'import json,sys; print(" ".join(sorted(f["id"] for f in json.load(sys.stdin)["findings"])))' <<<"$out")
is "$ids" "history.deaths history.idle-timeout history.server-closed" "db1: findings"
like "$out" '"    ServerAliveInterval 60"' "db1: keepalive below the lower bound prescribed"
is "$(h --json history db1 | jget measurements.history.list)" null "no list without --sessions"

out=$(h --json history db2)
like "$(bad_findings <<<"$out")" 'history.idle-inconsistent' "db2: a lost write shorter than an answered one is inconsistent"
is "$(jget measurements.history.networks.0.idle_timeout.consistent <<<"$out")" false "db2: consistent false"
is "$(jget measurements.history.networks.0.idle_timeout.upper_s <<<"$out")" null "db2: no bracket"

# filters
is "$(h --json history --since 2d | jget measurements.history.sessions)" 5 "--since 2d: the 5-day-old session left out"
is "$(h --json history --since 2026-01-01 | jget measurements.history.sessions)" 6 "--since an ISO date"
is "$(h --json history --network "$NET_B" | jget measurements.history.sessions)" 1 "--network B: 1 session"
is "$(h --json history nosuchhost | jget findings.0.id)" history.empty "an unknown target: history.empty"
like "$(h --json history nosuchhost)" 'audit --fix --relay nosuchhost' "history.empty says how to install the relay"

# text
txt=$(h history db1 --sessions)
like "$(head -1 <<<"$txt")" '^warning ' "text: verdict first"
like "$txt" "$NET_A +192\.0\.2\.1 +4 +3 +299\.9-302\.0 s \(tight\)" "text: the network table"
like "$txt" 'server-closed' "text: the session list"

# metrics
h --format=openmetrics history db1 >"$W/h.prom"
promtool check metrics <"$W/h.prom" >"$W/promtool.out" 2>&1
ok $? "history metrics pass promtool check metrics"
like "$(cat "$W/h.prom")" "sshdoctor_history_idle_timeout_seconds\{command=\"history\",target=\"db1:22\",network=\"$NET_A\",bound=\"upper\"\} 302" "metric: learned upper bound"
like "$(cat "$W/h.prom")" "sshdoctor_history_deaths_total\{command=\"history\",target=\"db1:22\",network=\"$NET_A\",cause=\"timeout\"\} 3" "metric: deaths by cause"
like "$(cat "$W/h.prom")" "sshdoctor_history_sessions_total\{command=\"history\",target=\"db1:22\",network=\"$NET_B\"\} 1" "metric: sessions by network"
mkdir -p "$W/tf"
h history db1 --textfile "$W/tf" >/dev/null
promtool check metrics <"$W/tf/sshdoctor_history_db1_22.prom" >/dev/null 2>&1
ok $? "--textfile: sshdoctor_history_db1_22.prom passes promtool"

# bad input: a usage error (exit 64) whose first line says what is wrong
for bad in "--since yesterday" "--since 2x" "--since 2099-01-01" "--network" "--bogus" "db1 db2"; do
	# shellcheck disable=SC2086
	err=$(h history $bad 2>&1 >/dev/null); rc=$?
	is "$rc" 64 "history $bad: exit 64"
	like "$(head -1 <<<"$err")" '^sshdoctor history: ' "history $bad: one-line reason"
done

# keep's tunnels in the same store: falls by cause, recoveries, a give-up
{
	printf "INSERT INTO keep_events(tunnel,target,at_wall_ms,kind,cause,downtime_ms) VALUES('t','db1',%d,'fall','path-silent',0);\n" $((NOW - 10800000))
	printf "INSERT INTO keep_events(tunnel,target,at_wall_ms,kind,cause,downtime_ms) VALUES('t','db1',%d,'up','',4200);\n" $((NOW - 10795800))
	printf "INSERT INTO keep_events(tunnel,target,at_wall_ms,kind,cause,downtime_ms) VALUES('t','db1',%d,'fall','auth-refused',0);\n" $((NOW - 20000))
	printf "INSERT INTO keep_events(tunnel,target,at_wall_ms,kind,cause,downtime_ms) VALUES('t','db1',%d,'giveup','auth-refused',0);\n" $((NOW - 19000))
	printf "INSERT INTO keep_events(tunnel,target,at_wall_ms,kind,cause,downtime_ms) VALUES('u','db2',%d,'fall','penalty',0);\n" $((NOW - 10000))
} | sqlite3 "$S/sshdoctor/history.db"
out=$(h --json history db1)
is "$(jget measurements.history.tunnels.falls <<<"$out")" 2 "tunnels: db1 fell twice"
is "$(jget measurements.history.tunnels.falls_by_cause.path-silent <<<"$out")" 1 "tunnels: one silent path"
is "$(jget measurements.history.tunnels.recoveries <<<"$out")" 1 "tunnels: one recovery"
is "$(jget measurements.history.tunnels.gave_up <<<"$out")" 1 "tunnels: keep gave up once"
like "$(python3 -c 'import json,sys; print(" ".join(f["id"]+":"+f["severity"] for f in json.load(sys.stdin)["findings"]))' <<<"$out")" \
	"history.tunnel-falls:warning" "tunnels: history.tunnel-falls, a warning (it gave up)"
is "$(h --json history db2 | jget measurements.history.tunnels.falls)" 1 "tunnels: by target (db2: 1)"
is "$(h --json history db1 --since 1h | jget measurements.history.tunnels.falls)" 1 "tunnels: --since 1h (the silent fall was 3 h ago)"

# a corrupt store: one line, non-zero, no crash
C="$W/corrupt"
mkdir -p -m 700 "$C/sshdoctor"
head -c 8192 /dev/urandom >"$C/sshdoctor/history.db"
chmod 600 "$C/sshdoctor/history.db"
err=$(env HOME="$W/home" XDG_STATE_HOME="$C" "$SSHDOCTOR" history 2>&1 >/dev/null); rc=$?
is "$rc" 3 "corrupt store: exit 3 (unknown)"
is "$(wc -l <<<"$err")" 1 "corrupt store: one line"
like "$err" '^sshdoctor history: history .*history\.db' "corrupt store: names the file"

# --- doctor in the lab: T = 15 s, sessions on the lab's own network ---------
T=15
LAB_CT_TIMEOUT=$T LAB_EXPIRY=drop
lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
trap 'lab_down; rm -rf "$W"' EXIT
ip -n "$LAB_C" route add default via "$LAB_ROUTER_CIP"	# the network doctor recognises
lab_c ping -c 1 -W 2 "$LAB_ROUTER_CIP" >/dev/null	# its MAC in the ARP cache, as on any laptop
MAC=$(ip -n "$LAB_R" -o link show rc0 | grep -o 'link/ether [^ ]*' | cut -d' ' -f2)
LNET="gw-$LAB_ROUTER_CIP-$MAC"
lab_db() {	# lab_db TIGHT(1|0)
	rm -rf "$LAB_DIR/state"
	store_init "$LAB_DIR/state"
	local n=3
	[ "$1" = 1 ] || n=2
	{
		for i in $(seq 1 $n); do
			session "$i" "$LAB_SERVER_IP" "$LNET" "$LAB_ROUTER_CIP" $((600 + i)) timeout $((15000 + i * 300))
			gap "$i" $((14200 + i * 200)) 1
			gap "$i" $((15000 + i * 300)) 0
		done
		session 9 "$LAB_SERVER_IP" "gw-198.51.100.1-02:00:00:00:00:09" 198.51.100.1 700 timeout 5000
		gap 9 4000 1
		gap 9 5000 0
	} | sqlite3 "$LAB_DIR/state/sshdoctor/history.db"
}
lab_db 1
t0=$(date +%s)
out=$(sd_c --json doctor --quick --no-path -F "$LAB_SSH_CONFIG" lab); rc=$?
el=$(( $(date +%s) - t0 ))
sum=$(jget measurements.doctor.summary <<<"$out")
like "$sum" "^Your last 3 sessions to lab on network gw $LAB_ROUTER_CIP: 3 died silently after 15-16 s idle; the path forgets flows after 14\.8-15\.3 s \(learned from your sessions\)" \
	"--quick: the summary says what it learned (other networks left out)"
like "$sum" 'ServerAliveInterval 7' "--quick: prescribed at once, below the learned lower bound"
is "$(jget measurements.idle.source <<<"$out")" history "--quick: the idle timeout comes from the history"
is "$(jget measurements.doctor.causes.0.id <<<"$out")" cause.idle-timeout "--quick: top cause the idle timeout"
like "$out" '"what": "active idle measurement"' "--quick: the skipped measurement is listed as not checked"
is "$(python3 -c "print($el < $T)")" True "--quick: no active measurement (took ${el}s < T = ${T}s)"
is "$rc" 2 "--quick: exit 2 (critical: no keepalive beats it)"

out=$(sd_c --json doctor --no-path --idle-max 60s -F "$LAB_SSH_CONFIG" lab)
like "$out" 'confirmed by the active measurement' "without --quick: the active measurement confirms the history"
lo=$(jget measurements.idle.lower_s <<<"$out"); up=$(jget measurements.idle.upper_s <<<"$out")
is "$(python3 -c "print(float('$lo') <= $T <= float('$up') + 1.5)")" True "measured bracket $lo..$up s holds ${T}s"
is "$(jget measurements.idle.source <<<"$out")" null "without --quick: measured, not taken from the history"

# look-alike: two samples a side are not conclusive, --quick must still measure
lab_db 0
out=$(sd_c --json doctor --quick --no-path --idle-max 40s -F "$LAB_SSH_CONFIG" lab)
is "$(jget measurements.idle.source <<<"$out")" null "not tight: --quick measures actively"
like "$(jget measurements.doctor.summary <<<"$out")" 'not yet tight' "not tight: the summary says so"
is "$(jget measurements.idle.found <<<"$out")" true "not tight: the measurement found the timeout"
id=$LAB_ID
lab_down
trap 'rm -rf "$W"' EXIT
is "$(ip netns list | grep -Ec "^${id}[crs]( |\$)")" 0 "namespaces removed"
done_testing
