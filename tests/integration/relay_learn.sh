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
ORIG_CONFIG="$LAB_SSH_CONFIG"
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
# what was learned keeps the next sessions alive: the relay's keepalive (no
# idle measurement is stored) comes from the lower bound, half of it
want=$(python3 -c "print(int(int(float('$lo')) / 2))")
{
	echo "Host lab"
	echo "    ProxyCommand env XDG_STATE_HOME=$LAB_DIR/state $SSHDOCTOR -v relay %h %p"
	echo "    ProxyUseFdpass yes"
	echo "    ServerAliveInterval 0"
	cat "$ORIG_CONFIG"
} >"$LAB_DIR/ka_config"
lab_c env HOME="$LAB_DIR/home" ssh -F "$LAB_DIR/ka_config" lab true 2>"$LAB_DIR/ka.err"
like "$(cat "$LAB_DIR/ka.err")" "keepalive on \(learned\): idle $want s" \
	"relay: keepalive from the learned bracket (idle $want s = half of $lo s)"
for _ in $(seq 1 50); do
	k=$(sd_c --json history --sessions "$LAB_SERVER_IP" 2>/dev/null | python3 -c 'import json,sys
print(json.load(sys.stdin)["measurements"]["history"]["list"][0]["keepidle_s"])' 2>/dev/null)
	[ "$k" = "$want" ] && break
	sleep 0.2
done
is "$k" "$want" "history: the session lived with keepidle $want s"
# keep, with no relay in the config and no measurement: ServerAliveInterval from it too
lab_c env HOME="$LAB_DIR/home" XDG_STATE_HOME="$LAB_DIR/state" timeout 20 "$SSHDOCTOR" keep \
	--name ln -F "$ORIG_CONFIG" lab -- -N 2>"$LAB_DIR/keep.err" &
kp=$!
for _ in $(seq 1 100); do grep -q 'up (' "$LAB_DIR/keep.err" && break; sleep 0.1; done
kill -TERM $kp 2>/dev/null
wait $kp 2>/dev/null
like "$(grep 'up (' "$LAB_DIR/keep.err")" 'keepalive [0-9]+ s x [0-9]+, learned' "keep: keepalive learned"
iv=$(sed -n 's/.*keepalive \([0-9]*\) s x \([0-9]*\), learned.*/\1 \2/p' "$LAB_DIR/keep.err" | head -1)
read -r i c <<<"$iv"
# the path sees at most ServerAliveInterval of idle: half the learned lower bound
ok "$(python3 -c "print(0 if 0 < ${i:-99} and ${i:-99} * 2 <= $lo else 1)")" \
	"keep: ServerAliveInterval ${i:-?} s (x ${c:-?}) at most half of $lo s"
lab_down
trap - EXIT INT TERM
done_testing
