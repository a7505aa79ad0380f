#!/bin/bash
# Passive learning (issue 13): sessions through the relay that write after idle
# gaps around a NAT timeout of T = 15 s; the watcher records which writes were
# answered, and `history --json` turns them into a bracket that holds T and is
# at most 3 s wide, with no probe of its own. The relay's keepalive is off (it
# would keep the flows alive) and TCP_USER_TIMEOUT short, so an unanswered write
# ends its session as a timeout within seconds.
. "$(dirname "$0")/lib.sh"

T=15
LAB_CT_TIMEOUT=$T LAB_EXPIRY=drop
lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
CFG="$LAB_DIR/relay_config"
{
	echo "Host lab"
	echo "    ProxyCommand env XDG_STATE_HOME=$LAB_DIR/state $SSHDOCTOR relay --keepalive off --user-timeout 3s %h %p"
	echo "    ProxyUseFdpass yes"
	echo "    ServerAliveInterval 0"
	cat "$LAB_SSH_CONFIG"
} >"$CFG"
LAB_SSH_CONFIG="$CFG"
# answered below T, unanswered above; all at once (each its own flow)
gaps="11 12.5 13.5 14 14.5 15.6 16 16.5 17.5"
for g in $gaps; do
	( IDLE=$g; idle_session "" >"$LAB_DIR/r_$g" ) &
done
wait
for g in $gaps; do
	r=$(cat "$LAB_DIR/r_$g")
	case $g in
	14.5|15.6) echo "# session idle $g s (near T, only sharpens the bracket): $r" ;;
	*)	if [ "${g%.*}" -lt "$T" ]; then is "$r" alive "session idle $g s (< T): alive"
		else like "$r" '^(silent|dead)' "session idle $g s (> T): lost ($r)"; fi ;;
	esac
done
# the watchers record the ends (the unanswered ones after TCP_USER_TIMEOUT)
for _ in $(seq 1 100); do
	n=$(sd_c --json history "$LAB_SERVER_IP" 2>/dev/null | python3 -c 'import json,sys
print(json.load(sys.stdin)["measurements"]["history"]["sessions"])' 2>/dev/null)
	[ "${n:-0}" -ge 9 ] && [ "$(live_watchers "$LAB_C")" = 0 ] && break
	sleep 0.2
done
is "${n:-0}" 9 "history: 9 sessions recorded"
out=$(sd_c --json history "$LAB_SERVER_IP")
read -r lo up samples < <(python3 -c 'import json,sys
n=json.load(sys.stdin)["measurements"]["history"]["networks"][0]["idle_timeout"]
print(n["lower_s"], n["upper_s"], n.get("samples"))' <<<"$out" 2>/dev/null)
echo "# learned: ($lo, $up], samples $samples"
ok "$(python3 -c "print(0 if $lo <= $T <= $up else 1)" 2>/dev/null || echo 1)" "the bracket ($lo, $up] holds T = $T s"
ok "$(python3 -c "print(0 if $up - $lo <= 3 else 1)" 2>/dev/null || echo 1)" "at most 3 s wide"
like "$(sd_c history "$LAB_SERVER_IP")" "learned|forgets|idle" "text: says what it learned"
lab_down
trap - EXIT INT TERM
done_testing
