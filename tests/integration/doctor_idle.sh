#!/bin/bash
# doctor against NATs that forget idle flows: silent drop and RST name the idle
# timeout as the top cause with high confidence; a server whose own keepalives
# beat the timeout raises no alarm (status ok).
. "$(dirname "$0")/lib.sh"

T=6
doctor_json() { sd_c --json doctor --no-path --idle-max 30s -F "$LAB_SSH_CONFIG" "$@" lab; }

for mode in drop reset; do
	LAB_CT_TIMEOUT=$T LAB_EXPIRY=$mode
	lab_setup || { ok 1 "lab up ($mode)"; continue; }
	out=$(doctor_json); rc=$?
	is "$rc" 2 "$mode: exit 2 (critical)"
	is "$(jget status <<<"$out")" critical "$mode: status critical"
	is "$(jget measurements.doctor.causes.0.id <<<"$out")" cause.idle-timeout "$mode: top cause is the idle timeout"
	is "$(jget measurements.doctor.causes.0.confidence <<<"$out")" high "$mode: high confidence"
	lo=$(jget measurements.idle.lower_s <<<"$out"); up=$(jget measurements.idle.upper_s <<<"$out")
	is "$(python3 -c "print(float('$lo') <= $T <= float('$up') + 1.5)" 2>&1)" True \
		"$mode: bracket $lo..$up s holds the true ${T}s"
	want=silent-drop; [ $mode = reset ] && want=reset
	is "$(jget measurements.idle.expiry <<<"$out")" "$want" "$mode: expiry $want"
	like "$(jget measurements.doctor.summary <<<"$out")" "ServerAliveInterval" "$mode: summary names the line to add"
	like "$(jget measurements.doctor.summary <<<"$out")" "$LAB_DIR/ssh_config" "$mode: summary names the user's file"
	is "$(jget measurements.doctor.verified <<<"$out")" null "$mode: verified null without --verify"
	like "$out" '"doctor.not-checked"' "$mode: what was not checked is listed"
	text=$(sd_c doctor --no-path --idle-max 30s -F "$LAB_SSH_CONFIG" lab 2>/dev/null)
	like "$(head -1 <<<"$text")" '^critical ' "$mode: text verdict first"
	like "$(sed -n 2p <<<"$text")" '^Most likely cause \(high confidence\)' "$mode: then the paragraph"
	id=$LAB_ID
	lab_down
	trap - EXIT INT TERM
	is "$(ip netns list | grep -Ec "^${id}[crs]( |\$)")" 0 "$mode: namespaces removed"
done

# The server's ClientAliveInterval (2 s) beats the 6 s NAT: no false alarm.
LAB_CT_TIMEOUT=$T LAB_EXPIRY=drop LAB_SSHD_EXTRA="ClientAliveInterval 2"
lab_setup || { ok 1 "lab up (server keepalive)"; done_testing; exit 1; }
out=$(doctor_json); rc=$?
is "$(jget status <<<"$out")" ok "server keepalive beats the NAT: status ok"
is "$rc" 0 "server keepalive: exit 0"
like "$(jget measurements.idle.server_keepalive_s <<<"$out")" '^[0-9.]+$' "server keepalive seen by idle"
is "$(bad_findings <<<"$out")" "" "server keepalive: no warning or critical finding"
done_testing
