#!/bin/bash
# doctor on the look-alike pair of issue 11 §3: sshd ChannelTimeout with no NAT
# timeout -> cause.server-idle-policy with the server-side cure and no keepalive
# in the summary; a NAT timeout of the same length (drop) -> cause.idle-timeout
# with the keepalive cure, and no server policy cause. Then the cure proven:
# with the prescribed ChannelTimeout applied, `doctor` finds no server policy
# and a session held idle past the old death time survives.
. "$(dirname "$0")/lib.sh"

T=12
doctor_json() { sd_c --json doctor --no-path --idle-max 40s -F "$LAB_SSH_CONFIG" "$@" lab 2>"$LAB_DIR/doctor.err"; }
cause_ids() { python3 -c 'import json,sys
d=json.load(sys.stdin)
print(" ".join(c["id"] for c in d["measurements"]["doctor"]["causes"]))'; }

# --- the server's policy ----------------------------------------------------------
LAB_CT_TIMEOUT=3600 LAB_EXPIRY=drop LAB_SSHD_EXTRA="ChannelTimeout session*=${T}s"
if lab_setup; then
	out=$(doctor_json); rc=$?
	is "$rc" 2 "policy: exit 2 (critical)"
	# on failure, what idle saw (CI has only this log)
	[ "$rc" = 2 ] && [ "$(jget measurements.doctor.causes.0.id <<<"$out")" = cause.server-idle-policy ] ||
		{ echo "$out" | python3 -c 'import json,sys
d=json.load(sys.stdin)
for f in d.get("findings",[]):
    if f["id"].startswith(("idle","path.idle","server.idle")): print("#", f["severity"], f["id"], f["title"], f.get("evidence"))
i=d["measurements"].get("idle",{})
print("# idle:", i)'; sed 's/^/# err: /' "$LAB_DIR/doctor.err" | tail -20
		grep -E 'inactivity|closed|reset|Timeout' "$LAB_DIR/sshd.log" | tail -20 | sed 's/^/# sshd: /'; }
	is "$(jget measurements.doctor.causes.0.id <<<"$out")" cause.server-idle-policy "policy: top cause cause.server-idle-policy"
	is "$(jget measurements.doctor.causes.0.confidence <<<"$out")" high "policy: high confidence"
	! grep -q 'cause.idle-timeout' <<<"$(cause_ids <<<"$out")"
	ok $? "policy: no cause.idle-timeout (not a middlebox)"
	sum=$(jget measurements.doctor.summary <<<"$out")
	like "$sum" "ChannelTimeout session\*=0" "policy: summary prescribes ChannelTimeout session*=0"
	! grep -Eq 'ServerAliveInterval|ClientAliveInterval' <<<"$sum"
	ok $? "policy: no keepalive in the summary"
	like "$sum" "$LAB_DIR/sshd_config" "policy: summary names the server's sshd_config"
	is "$(jget measurements.idle.closed_by <<<"$out")" server "policy: closed_by server"
	# the cure: the prescribed line in the lab's sshd_config, sshd reloaded
	grep -v '^ChannelTimeout ' "$LAB_DIR/sshd_config" >"$LAB_DIR/c.new"
	echo "ChannelTimeout session*=0" >>"$LAB_DIR/c.new"
	mv "$LAB_DIR/c.new" "$LAB_DIR/sshd_config"
	kill -HUP "$(cat "$LAB_DIR/sshd.pid")"
	sleep 1
	out=$(doctor_json)
	! grep -q 'cause.server-idle-policy' <<<"$(cause_ids <<<"$out")"
	ok $? "cured: no cause.server-idle-policy"
	is "$(jget measurements.idle.found <<<"$out")" false "cured: no idle death up to 40 s (old death at $T s)"
	lab_down
	trap - EXIT INT TERM
else
	ok 1 "policy: lab up"
fi

# --- the look-alike: the path -----------------------------------------------------
LAB_CT_TIMEOUT=$T LAB_EXPIRY=drop LAB_SSHD_EXTRA=""
if lab_setup; then
	out=$(doctor_json); rc=$?
	is "$rc" 2 "path: exit 2"
	is "$(jget measurements.doctor.causes.0.id <<<"$out")" cause.idle-timeout "path: top cause cause.idle-timeout"
	! grep -q 'cause.server-idle-policy' <<<"$(cause_ids <<<"$out")"
	ok $? "path: no cause.server-idle-policy"
	like "$(jget measurements.doctor.summary <<<"$out")" ServerAliveInterval "path: keepalive cure in the summary"
	lab_down
	trap - EXIT INT TERM
else
	ok 1 "path: lab up"
fi
done_testing
