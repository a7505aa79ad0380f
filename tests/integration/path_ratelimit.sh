#!/bin/bash
# Look-alikes: a rate limit on NEW connections to the SSH port (nftables limit,
# as fail2ban/hashlimit/meter do) vs real packet loss. Under the limit, path's
# later handshakes vanish (drop) or are refused (reject) while ICMP and the
# established session pass: that is server.rate-limit, never path.loss. With
# real loss (LAB_LOSS) it is path.loss, never server.rate-limit. idle, whose
# new connections fail mid-run under the limit, says the same.
. "$(dirname "$0")/lib.sh"

sev_of() {	# id < json: severities of that finding, comma-separated
	python3 -c 'import json,sys
d=json.load(sys.stdin)
print(",".join(f["severity"] for f in d["findings"] if f["id"]==sys.argv[1]) or "none")' "$1"
}

# run_rl MODE PING
run_rl() {
	local mode=$1 ping=$2
	# no idle timeout in the path (3600 s): any death idle claims would be the
	# rate limit mistaken for one (with the lab's default 20 s and --max 20s, a
	# fast enough idle rightly finds the real 20 s)
	LAB_RATELIMIT=3/minute LAB_RATELIMIT_MODE=$mode LAB_CT_TIMEOUT=3600
	lab_setup || { ok 1 "lab up (rate limit, $mode)"; return; }
	[ "$ping" = yes ] && lab_c sysctl -qw net.ipv4.ping_group_range="0 0"
	if [ "$mode" = drop ]; then
		# idle first (the limit's burst is fresh): its later new connections
		# fail mid-run; the verdict says so instead of a timeout
		sd_c --json idle --max 20s -F "$LAB_SSH_CONFIG" lab >"$LAB_DIR/idle.json" 2>"$LAB_DIR/err"
		is "$(sev_of server.rate-limit <"$LAB_DIR/idle.json")" warning "idle under a rate limit: server.rate-limit"
		is "$(jget measurements.idle.found <"$LAB_DIR/idle.json")" false "idle under a rate limit: no idle timeout claimed"
		# a fresh bucket for path: the same rules loaded again
		lab_r nft flush ruleset && lab_r nft -f "$LAB_DIR/rules.nft"
		ok $? "limit reloaded for path"
	fi
	sd_c --json path -F "$LAB_SSH_CONFIG" --bulk 0 lab >"$LAB_DIR/out.json" 2>"$LAB_DIR/err"
	local j="$LAB_DIR/out.json"
	is "$(sev_of server.rate-limit <"$j")" warning "rate limit ($mode, icmp $ping): server.rate-limit"
	like "$(sev_of path.loss <"$j")" '^(ok|none)$' "rate limit ($mode): not called packet loss"
	like "$(jget measurements.path.detail.rate_limited_after <"$j")" '^[0-9]+$' \
		"rate limit ($mode): says after how many handshakes"
	local want=dropped
	[ "$mode" = reject ] && want=refused
	like "$(python3 -c 'import json,sys
print([f["title"] for f in json.load(open(sys.argv[1]))["findings"] if f["id"]=="server.rate-limit"])' "$j")" \
		"$want" "rate limit ($mode): the handshakes were $want"
	# ground truth: the router's limit really dropped or rejected something
	like "$(lab_r nft list ruleset)" 'limit rate over 3/minute burst 3 packets' "ground truth: the limit is in place"
	lab_down
	trap - EXIT INT TERM
}

run_rl drop yes
run_rl reject no

# A ban that every SYN starts over (iptables recent --update, LAB_BAN): idle's
# later logins vanish; it must stop opening new ones at the first failure (the
# ones in flight end by their ConnectTimeout, 10 s) and measure with those open,
# so the ban lapses soon after, not 30 s after the run's end.
BAN_S=30
LAB_RATELIMIT="" LAB_BAN="4/minute:$BAN_S" LAB_CT_TIMEOUT=3600
lab_setup || { ok 1 "lab up (ban)"; done_testing; exit 1; }
sd_c --json idle --max 40s -F "$LAB_SSH_CONFIG" lab >"$LAB_DIR/idle.json" 2>"$LAB_DIR/err"
t_end=$(date +%s)
is "$(sev_of server.rate-limit <"$LAB_DIR/idle.json")" warning "idle under a ban: server.rate-limit"
is "$(jget measurements.idle.found <"$LAB_DIR/idle.json")" false "idle under a ban: no idle timeout claimed"
like "$(cat "$LAB_DIR/idle.json")" 'no new connection was opened after the first failure' \
	"idle under a ban: says it stopped opening"
lapse=-1
for i in $(seq 0 60); do lab_banned || { lapse=$i; break; }; sleep 1; done
echo "# ban lapsed ${lapse} s after idle ended (it would be ${BAN_S} s had idle knocked to the end)"
ok $((lapse >= 0 && lapse <= 15 ? 0 : 1)) "ground truth: the ban lapsed within 15 s of idle's end"
lab_down
trap - EXIT INT TERM
LAB_BAN=""

# The look-alike: real loss, no rate limit.
LAB_RATELIMIT="" LAB_LOSS=20
lab_setup || { ok 1 "lab up (loss 20%)"; done_testing; exit 1; }
lab_c sysctl -qw net.ipv4.ping_group_range="0 0"
sd_c --json path -F "$LAB_SSH_CONFIG" --count 40 --bulk 0 lab >"$LAB_DIR/out.json" 2>"$LAB_DIR/err"
j="$LAB_DIR/out.json"
is "$(sev_of server.rate-limit <"$j")" none "loss 20%: no server.rate-limit"
like "$(sev_of path.loss <"$j")" '^(warning|critical)$' "loss 20%: path.loss"
is "$(jget measurements.path.detail.rate_limited_after <"$j")" null "loss 20%: no rate-limit cut"
lab_down
trap - EXIT INT TERM
done_testing
