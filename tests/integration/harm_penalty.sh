#!/bin/bash
# Do no harm: against a stock sshd (OpenSSH 10.0 has PerSourcePenalties on by
# default: noauth 1 s per connection that closes without authenticating,
# enforced past 15 s), doctor, path, connect ten times and idle --via preauth
# must never get the client's address penalised: a plain ssh login right after
# each succeeds at once, and sshd logs no "activating ... penalty". Ground
# truth that the check can fail: 20 bare handshakes (what path used to do) do
# get 10.0 to penalise, and path right after says so as server.penalty.
. "$(dirname "$0")/lib.sh"

login_now() {	# what: a plain ssh login, at once
	local what=$1 t0 ms rc
	t0=$(date +%s%N)
	lab_c ssh -F "$LAB_SSH_CONFIG" -o ConnectTimeout=5 lab true 2>"$LAB_DIR/login.err"
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	ok $((rc == 0 && ms < 8000 ? 0 : 1)) "after $what: plain ssh logs in at once (rc $rc, ${ms} ms; a penalty refuses it, rc 255)"
	[ "$rc" -eq 0 ] || sed 's/^/#   /' "$LAB_DIR/login.err"
	! grep -q 'activating .* penalty' "$LAB_DIR/sshd.log"
	ok $? "after $what: sshd activated no penalty"
}

LAB_CT_TIMEOUT=5 LAB_EXPIRY=drop
lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
ok 0 "lab up (OpenSSH $LAB_SSHD_VERSION, default PerSourcePenalties)"

sd_c --json doctor --quick --idle-max 15s -F "$LAB_SSH_CONFIG" lab >"$LAB_DIR/doctor.json" 2>/dev/null
like "$(jget measurements.path.detail.server_software <"$LAB_DIR/doctor.json")" "OpenSSH_$LAB_SSHD_VERSION" \
	"doctor: path learned the server's version from its session"
login_now doctor

# doctor may have left up to BUDGET_LIMIT_S (8 s) on the ledger, and path would
# then rightly send nothing: let it decay, so that path's own spending is measured.
ledger_wait() { python3 -c 'import glob,json,sys,time
w=[json.load(open(f)).get("debt_until",0)-time.time() for f in glob.glob(sys.argv[1]+"/sshdoctor/budget/*")]
print(max([0]+w))' "$LAB_DIR/state"; }
w=$(ledger_wait)
echo "# ledger after doctor: ${w} s outstanding"
sleep "$(python3 -c "print(min(20, float('$w') + 0.5))")"
sd_c --json path -F "$LAB_SSH_CONFIG" lab >"$LAB_DIR/path.json" 2>/dev/null
sent=$(jget measurements.path.detail.tcp_handshake.sent <"$LAB_DIR/path.json")
if [ "${LAB_SSHD_VERSION%%.*}" -ge 10 ]; then
	ok $((sent >= 1 && sent <= 8 ? 0 : 1)) "path: handshakes within the budget on $LAB_SSHD_VERSION ($sent of 20)"
	like "$(bad_findings <"$LAB_DIR/path.json") $(python3 -c 'import json,sys
print(" ".join(f["id"] for f in json.load(open(sys.argv[1]))["findings"]))' "$LAB_DIR/path.json")" \
		'path\.probe-budget' "path: says it kept to the budget"
else
	is "$sent" 20 "path: all 20 handshakes on $LAB_SSHD_VERSION (no penalties before 9.8)"
fi
is "$(jget measurements.path.detail.session_echo.sent <"$LAB_DIR/path.json")" 20 "path: session echoes measured"
login_now path

skipped=0
for i in $(seq 1 10); do
	sd_c --json connect -F "$LAB_SSH_CONFIG" lab >"$LAB_DIR/c$i.json" 2>/dev/null
	is "$(jget measurements.connect.established <"$LAB_DIR/c$i.json")" true "connect #$i: established"
	[ "$(jget measurements.connect.raw_probe <"$LAB_DIR/c$i.json")" = skipped-budget ] && skipped=$((skipped + 1))
	like "$(jget measurements.connect.software <"$LAB_DIR/c$i.json")" "OpenSSH_$LAB_SSHD_VERSION" \
		"connect #$i: the server's software known (raw probe or login)"
	login_now "connect #$i"
done
echo "# connect: $skipped of 10 without a raw probe (budget)"

# a fleet of 9 at once (under MaxStartups 10): the budget holds (8 raw probes at most on 10.0)
sd_c --json connect -F "$LAB_SSH_CONFIG" lab lab lab lab lab lab lab lab lab \
	>"$LAB_DIR/fleet.json" 2>/dev/null
raw=$(python3 -c 'import json,sys
print(sum(t["raw_probe"]=="done" for t in json.load(open(sys.argv[1]))["measurements"]["connect"]))' "$LAB_DIR/fleet.json")
est=$(python3 -c 'import json,sys
print(sum(bool(t["established"]) for t in json.load(open(sys.argv[1]))["measurements"]["connect"]))' "$LAB_DIR/fleet.json")
is "$est" 9 "fleet of 9: all established"
if [ "${LAB_SSHD_VERSION%%.*}" -ge 10 ]; then
	ok $((raw <= 8 ? 0 : 1)) "fleet of 9: $raw raw probes (<= 8, the rest from ssh -vvv)"
else
	is "$raw" 9 "fleet of 9: raw probes for all ($LAB_SSHD_VERSION does not penalise)"
fi
login_now "a fleet connect"

idle_t0=$(date +%s)
sd_c --json idle --via preauth --max 30s -F "$LAB_SSH_CONFIG" lab >"$LAB_DIR/idle.json" 2>/dev/null
like "$(jget measurements.idle.via <"$LAB_DIR/idle.json")" preauth "idle --via preauth ran"
if [ "${LAB_SSHD_VERSION%%.*}" -ge 10 ]; then
	like "$(python3 -c 'import json,sys
print(" ".join(f["id"] for f in json.load(open(sys.argv[1]))["findings"]))' "$LAB_DIR/idle.json")" \
		'idle\.preauth-budget' "idle --via preauth: warns about the penalty budget"
fi
login_now "idle --via preauth"
# The connections the path killed are still open on the server: sshd ends them
# at LoginGraceTime (120 s after each was opened), 10 s of grace-exceeded
# penalty each on 9.8+. One connection at a time keeps those apart: wait until
# all have ended, check again.
dead=$(python3 -c 'import json,sys
print(sum(p["result"]!="alive" for p in json.load(open(sys.argv[1]))["measurements"]["idle"]["probes"]))' "$LAB_DIR/idle.json")
if [ "$dead" -gt 0 ]; then
	while [ $(($(date +%s) - idle_t0)) -lt 155 ]; do sleep 1; done
	if [ "${LAB_SSHD_VERSION%%.*}" -ge 10 ]; then
		# (Debian's 9.2 no longer logs from its LoginGraceTime alarm: CVE-2024-6387 fix)
		n=$(grep -c 'Timeout before authentication' "$LAB_DIR/sshd.log")
		ok $((n >= 1 ? 0 : 1)) "ground truth: sshd ended killed preauth connections at LoginGraceTime ($n, $dead probes died)"
	fi
	login_now "LoginGraceTime ended the preauth connections"
else
	ok 0 "no preauth connection was killed (nothing left for LoginGraceTime)"
fi
lab_down
trap - EXIT INT TERM

# Ground truth in a fresh lab: what the budget prevents really happens.
lab_setup || { ok 1 "lab up (ground truth)"; done_testing; exit 1; }
sd_c --json path -F "$LAB_SSH_CONFIG" --bulk 0 lab >/dev/null 2>&1	# our ledger: probed just now
for i in $(seq 1 20); do
	lab_c bash -c 'exec 3<>/dev/tcp/203.0.113.2/22' 2>/dev/null
	sleep 0.05
done
sleep 1
sd_c --json path -F "$LAB_SSH_CONFIG" --bulk 0 lab >"$LAB_DIR/after.json" 2>/dev/null
if [ "${LAB_SSHD_VERSION%%.*}" -ge 10 ]; then
	like "$(cat "$LAB_DIR/sshd.log")" 'activating ipv4 penalty' "ground truth: 20 bare handshakes get 10.0 to penalise"
	t=$(python3 -c 'import json,sys
print([f["title"] for f in json.load(open(sys.argv[1]))["findings"] if f["id"]=="server.penalty"])' "$LAB_DIR/after.json")
	like "$t" 'sshd is penalising this address, probably for our probes; ssh will work again in about [0-9]+ s' \
		"path right after: server.penalty, said plainly"
	like "$(python3 -c 'import json,sys
print(" ".join(f["id"] for f in json.load(open(sys.argv[1]))["findings"] if f["severity"] in ("warning","critical")))' \
		"$LAB_DIR/after.json")" '^server\.penalty$' "path right after: the penalty is the only problem named"
else
	! grep -q 'penalty' "$LAB_DIR/sshd.log"
	ok $? "ground truth: $LAB_SSHD_VERSION does not penalise bare handshakes"
	is "$(jget measurements.path.detail.session_echo.sent <"$LAB_DIR/after.json")" 20 \
		"$LAB_SSHD_VERSION: path's session works right after them"
fi
done_testing
