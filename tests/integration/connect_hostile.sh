#!/bin/bash
# connect against servers that are not SSH or are hostile, all checked concurrently
# in one run: every target ends with a clear finding within the timeout, in
# bounded memory. One fake server (tests/lab/connect_fakeserver.py) per port.
. "$(dirname "$0")/lib.sh"

LAB_NO_SSHD=1
lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
ok 0 "lab up (no sshd: the port is free)"

# in a subshell so its death in lab_down is not reported
(lab_s python3 "$ROOT/tests/lab/connect_fakeserver.py" 22:http 2201:smtp 2202:trickle \
	2203:longline 2204:bigline 2205:prelines 2206:kex4g 2207:silent 2208:close >/dev/null 2>&1 &)
for i in $(seq 1 100); do
	[ "$(lab_s ss -ltnH | grep -c ':22\(0[0-9]\)\? ')" -ge 9 ] && break
	sleep 0.05
done
ok $? "fake servers listening"

# Which finding the target of each port got: "port id" lines.
verdicts() {
	python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
for f in d["findings"]:
    if f["severity"] in ("critical","warning"):
        print(f["title"].split(": ")[0], f["id"], "|", f["title"], "|", " ".join(f["evidence"]))' "$1"
}

TIMEOUT=3
targets=""
for p in 22 2201 2202 2203 2204 2205 2206 2207 2208; do targets="$targets lab:$p"; done
start=$(date +%s%N)
# shellcheck disable=SC2086
lab_c env HOME="$LAB_DIR/home" /usr/bin/time -f '%M' -o "$LAB_DIR/rss" \
	"$SSHDOCTOR" --json connect -F "$LAB_SSH_CONFIG" --no-login --timeout ${TIMEOUT}s \
	$targets >"$LAB_DIR/out.json" 2>"$LAB_DIR/err"
rc=$?
el=$((($(date +%s%N) - start) / 1000000))
is "$rc" 2 "exit code 2 (critical)"
ok $((el < TIMEOUT * 1000 + 1500 ? 0 : 1)) "nine hostile targets done in ${el} ms (timeout ${TIMEOUT}s, concurrent)"
v=$(verdicts "$LAB_DIR/out.json")
line() { printf '%s\n' "$v" | grep "^lab:$1 "; }
like "$(line 22)" 'banner\.not-ssh .*HTTP' "port 22 answering like a web server: banner.not-ssh, says HTTP"
like "$(line 2201)" 'banner\.not-ssh .*SMTP' "SMTP greeting: banner.not-ssh, says SMTP"
like "$(line 2202)" 'banner\.timeout .*received only [0-9]+ byte.*"SSH' "trickled banner: banner.timeout with the bytes seen"
like "$(line 2203)" 'banner\.not-ssh .*longer than 255' "endless identification line: stopped at 255 bytes"
like "$(line 2204)" 'banner\.not-ssh .*longer than 8192' "1 MB line: stopped at 8192 bytes"
like "$(line 2205)" 'banner\.not-ssh .*more than 1024 lines' "endless pre-banner lines: stopped after 1024"
like "$(line 2206)" 'kex\.invalid .*4294967295' "KEXINIT claiming 4 GB: kex.invalid, nothing allocated"
like "$(line 2207)" 'banner\.timeout .*silence' "silent server: banner.timeout"
like "$(line 2208)" 'banner\.closed' "closed at once: banner.closed"
is "$(jget measurements.connect.6.banner <"$LAB_DIR/out.json")" "SSH-2.0-OpenSSH_9.2p1 evil" "banner recorded for the 4 GB liar"
is "$(jget measurements.connect.2.phases.2.result <"$LAB_DIR/out.json")" timeout "phases: banner timeout for the trickler"

# Memory: the same binary against one silent target is the baseline.
lab_c env HOME="$LAB_DIR/home" /usr/bin/time -f '%M' -o "$LAB_DIR/rss0" \
	"$SSHDOCTOR" --json connect -F "$LAB_SSH_CONFIG" --no-login --timeout 1s lab:2207 >/dev/null 2>&1
base=$(tail -1 "$LAB_DIR/rss0") hostile=$(tail -1 "$LAB_DIR/rss")
ok $((hostile < base + 12288 ? 0 : 1)) "bounded memory: ${hostile} KB against 9 hostile servers vs ${base} KB for one silent one"
ok "$(grep -c 'ERROR: \|runtime error' "$LAB_DIR/err")" "no sanitizer report"

# Text mode: the summary table names every target.
out=$(sd_c connect -F "$LAB_SSH_CONFIG" --no-login --timeout 1s lab:2201 lab:2208 2>&1)
like "$out" 'lab:2201 +numeric +connected +not-ssh +- +- +FAILED' "summary table row for the SMTP port"
like "$out" 'lab:2208 .*closed .*FAILED' "summary table row for the closing port"

# -f FILE with comments
printf '# fleet\nlab:2201\n\nlab:2208  # closes\n' >"$LAB_DIR/targets"
n=$(sd_c --json connect -F "$LAB_SSH_CONFIG" --no-login --timeout 1s -f "$LAB_DIR/targets" |
	python3 -c 'import json,sys; print(len(json.load(sys.stdin)["measurements"]["connect"]))')
is "$n" 2 "-f FILE: two targets read, comments skipped"
done_testing
