#!/bin/bash
# --report FILE.html in a real browser: doctor, idle and path against a lab whose
# NAT silently forgets idle flows after 6 s write one self-contained page each;
# headless Chromium (Debian's) renders the doctor's page to a PNG that must not be
# blank and shows the verdict's colours, and its DOM has the charts, the verdict
# and the bracket the JSON of the same run measured. Nothing secret on the page.
. "$(dirname "$0")/lib.sh"

CHROMIUM=$(command -v chromium || true)
[ -n "$CHROMIUM" ] || { ok 1 "chromium installed (run make deps)"; done_testing; exit 1; }

T=6
LAB_CT_TIMEOUT=$T LAB_EXPIRY=drop
lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
R="$LAB_DIR/out"
mkdir -p "$R"

# A browser with its own profile, HOME and caches in the lab dir, no network
# (file:// only), bounded in time.
browser() {
	HOME="$LAB_DIR/chromium" XDG_CONFIG_HOME="$LAB_DIR/chromium/config" \
		XDG_CACHE_HOME="$LAB_DIR/chromium/cache" timeout 90 "$CHROMIUM" --headless \
		--no-sandbox --disable-gpu --no-first-run --disable-extensions --disable-sync \
		--user-data-dir="$LAB_DIR/chromium/profile" "$@" 2>>"$LAB_DIR/chromium.log"
}

# A report to a directory that does not exist fails at once, before any probe.
start=$(date +%s)
sd_c doctor --report "$R/missing/r.html" -F "$LAB_SSH_CONFIG" lab >/dev/null 2>"$R/err"; rc=$?
is "$rc" 74 "--report into a missing directory: exit 74"
like "$(cat "$R/err")" "does not exist" "... saying why"
ok $(($(date +%s) - start > 5)) "... at once, not after the run"

# One doctor run, JSON on stdout and the page beside it: both tell the same story.
json=$(sd_c --json doctor --report "$R/doctor.html" --no-path --idle-max 30s \
	-F "$LAB_SSH_CONFIG" lab 2>"$R/doctor.err"); rc=$?
is "$rc" 2 "doctor --report: exit 2 (critical), as without it"
is "$(jget status <<<"$json")" critical "doctor: JSON still on stdout"
ok $([ -s "$R/doctor.html" ]; echo $?) "doctor: the report is written"
is "$(stat -c %a "$R/doctor.html")" 644 "report mode 0644"
is "$(ls -A "$R" | grep -vc '^doctor.html$\|^err$\|^doctor.err$')" 0 "no temp file left beside it"
html=$(cat "$R/doctor.html")
lo=$(jget measurements.idle.lower_s <<<"$json"); up=$(jget measurements.idle.upper_s <<<"$json")
like "$html" "T ${lo}-${up} s" "the bracket drawn is the measured $lo..$up s"
like "$html" "expiry: silent-drop" "the expiry mode is named"
nprobe=$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)["measurements"]["idle"]["probes"]))' <<<"$json")
is "$(grep -Eo 'circle [^>]*class="p-(alive|silent|reset|closed)"' "$R/doctor.html" | wc -l)" \
	$((nprobe + 4)) "every one of the $nprobe probes is a point (+4 legend marks)"
like "$html" 'ServerAliveInterval [0-9]+' "the line to add is on the page"
like "$html" 'id="connect-chart"' "the connection set-up waterfall is there"
is "$(grep -c '<script' "$R/doctor.html")" 0 "no script"
is "$(grep -Eo '(src|href)="[^"]*"|url\(' "$R/doctor.html" | wc -l)" 0 "nothing external to load"
is "$(grep -cF "$LAB_DIR/id_client" "$R/doctor.html")" 0 "the key's path is not on the page"
like "$html" 'id_client' "... its name is"

# The browser: rendered, not blank, the verdict box and the charts' colours drawn.
browser --screenshot="$R/doctor.png" --window-size=900,2400 "file://$R/doctor.html" >/dev/null
ok $([ -s "$R/doctor.png" ]; echo $?) "chromium rendered a PNG"
stats=$(python3 "$ROOT/tests/lab/pngstat.py" "$R/doctor.png" ffebe9 1a7f37 2f81f7 2>&1)
echo "# $stats" | tr '\n' ' '; echo
read -r size nonwhite colours < <(head -1 <<<"$stats")
is "$size" 900x2400 "PNG of the window's size"
ok $((${nonwhite#nonwhite=} < 50000)) "not blank: ${nonwhite#nonwhite=} non-white pixels (> 50000)"
ok $((${colours#colours=} < 100)) "more than flat colour: ${colours#colours=} colours (> 100)"
ok $(($(sed -n 's/^ffebe9=//p' <<<"$stats") < 10000)) "the critical verdict's background is painted"
ok $(($(sed -n 's/^1a7f37=//p' <<<"$stats") < 50)) "alive probes drawn in green"
ok $(($(sed -n 's/^2f81f7=//p' <<<"$stats") < 1000)) "waterfall bars drawn in blue"

# The DOM the browser built: the SVG parsed as SVG, the verdict and the bracket in it.
browser --dump-dom "file://$R/doctor.html" >"$R/dom.html"
dom=$(cat "$R/dom.html")
ok $(($(grep -c '<svg' "$R/dom.html") < 3)) "DOM: the charts are svg elements"
like "$dom" 'id="verdict"[^>]*><strong>critical</strong>' "DOM: the verdict"
like "$dom" '<rect [^>]*class="bracket"' "DOM: the bracket"
like "$dom" 'id="idle-chart"' "DOM: the idle chart"

# idle and path take --report too.
sd_c idle --report "$R/idle.html" --max 30s -F "$LAB_SSH_CONFIG" lab >/dev/null 2>&1
like "$(cat "$R/idle.html" 2>/dev/null)" 'id="idle-chart".*' "idle --report: the idle chart"
sd_c path --report "$R/path.html" --count 10 --bulk 64K -F "$LAB_SSH_CONFIG" lab >/dev/null 2>&1
p=$(cat "$R/path.html" 2>/dev/null)
like "$p" 'id="rtt-chart"' "path --report: round trips"
like "$p" 'id="loss-chart"' "path --report: loss"
like "$p" 'id="mtu-chart"' "path --report: the MTU search"
# relay's own --report SOCKET must not be taken for the global --report FILE
like "$p" 'tcp_info' "path --report: the relay still hands over its socket (TCP_INFO)"
ok $(($(grep -Eo 'circle [^>]*class="s-(tcp|echo)"' "$R/path.html" | wc -l) < 10)) \
	"path: the round trips are points"

id=$LAB_ID
lab_down
trap - EXIT INT TERM
is "$(ip netns list | grep -Ec "^${id}[crs]( |\$)")" 0 "namespaces removed"
is "$(pgrep -fc "user-data-dir=$LAB_DIR/" || true)" 0 "no browser left running"
done_testing
