#!/bin/bash
# audit --fix --relay, end to end: the lines go into the user's ssh config
# (a copy of the lab's), ssh -G names the relay, a real session through it is
# recorded in the history store and shown by `history`, a host with its own
# ProxyJump is left alone and named, a proxy in a Match block refuses Host *,
# and --undo puts the file back byte for byte.
. "$(dirname "$0")/lib.sh"

lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
CFG="$LAB_DIR/user_config"
{ cat "$LAB_SSH_CONFIG"; printf 'Host via-bastion\n    ProxyJump lab\n'; } >"$CFG"
chmod 600 "$CFG"
cp "$CFG" "$LAB_DIR/before"

out=$(sd_c --json audit -F "$CFG" --fix --relay lab); rc=$?
like "$(jget measurements.fix.diff <<<"$out")" "ProxyCommand .*sshdoctor relay -l %r %h %p" "diff: the relay for lab"
cmp -s "$CFG" "$LAB_DIR/before"
ok $? "without --yes nothing is written"
sd_c audit -F "$CFG" --fix --relay --yes lab >"$LAB_DIR/fix.out" 2>&1
is "$?" 1 "--fix --relay --yes: written (audit's own warnings remain: exit 1)"
g=$(lab_c ssh -G -F "$CFG" lab)
like "$g" "^proxycommand .*sshdoctor relay" "ssh -G lab: the relay"
like "$g" "^proxyusefdpass yes" "ssh -G lab: ProxyUseFdpass yes"
like "$(lab_c ssh -G -F "$CFG" via-bastion)" "^proxyusefdpass no" "the other host untouched"

echo_out=$(lab_c env HOME="$LAB_DIR/home" XDG_STATE_HOME="$LAB_DIR/state" \
	ssh -F "$CFG" -o BatchMode=yes lab echo through-relay 2>"$LAB_DIR/ssh.err")
is "$echo_out" through-relay "a session through the relay works"
# the watcher records the end shortly after ssh exits
for _ in $(seq 1 50); do
	n=$(sd_c --json history "$LAB_SERVER_IP" 2>/dev/null | python3 -c 'import json,sys
print(json.load(sys.stdin)["measurements"]["history"]["sessions"])' 2>/dev/null)
	[ "${n:-0}" -ge 1 ] && break
	sleep 0.1
done
is "${n:-0}" 1 "history: the session is recorded"
h=$(sd_c --json history --sessions "$LAB_SERVER_IP")
is "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["measurements"]["history"]["list"][0]["end"])' <<<"$h" 2>&1)" clean \
	"history: it ended clean"
ok $([ "$(live_watchers "$LAB_C")" = 0 ] && echo 0 || { sleep 2; [ "$(live_watchers "$LAB_C")" = 0 ] && echo 0 || echo 1; }) \
	"no watcher left"

out=$(sd_c --json audit -F "$CFG" --fix --relay)
like "$(jget measurements.fix.notes <<<"$out")" "already installed" "a second --fix --relay: already installed"
out=$(sd_c --json audit -F "$CFG" --fix --relay via-bastion)
like "$(jget measurements.fix.notes <<<"$out")" "via-bastion has its own proxy .*ProxyJump lab.*left alone" \
	"a host with its own ProxyJump: named, left alone"

sd_c audit --undo >/dev/null 2>&1
is "$?" 0 "--undo"
cmp -s "$CFG" "$LAB_DIR/before"
ok $? "--undo: the file byte for byte as before"
out=$(sd_c --json audit -F "$CFG" --fix --relay)
like "$(jget measurements.fix.diff <<<"$out")" 'Host \* !via-bastion' "Host *: every host but the one with its own proxy"

printf 'Match exec true\n    ProxyJump lab\n' >"$LAB_DIR/match_config"
chmod 600 "$LAB_DIR/match_config"
err=$(sd_c audit -F "$LAB_DIR/match_config" --fix --relay 2>&1 >/dev/null); rc=$?
is "$rc" 74 "a proxy in a Match block: refused"
like "$err" "Match exec true.*name a TARGET" "…saying why and what to do"
err=$(sd_c audit --relay 2>&1 >/dev/null); rc=$?
is "$rc" 64 "--relay without --fix: usage error"
lab_down
trap - EXIT INT TERM
done_testing
