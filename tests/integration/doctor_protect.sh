#!/bin/bash
# doctor on a lossy path: keepalives cannot cure path quality, so the cause carries
# what keeps the work alive across a drop, from what the server really has (seen
# through the login: the lab server shares this machine's /usr, so the expected
# answer is what `command -v` finds here).
. "$(dirname "$0")/lib.sh"

LAB_CT_TIMEOUT=600 LAB_LOSS=20
lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
out=$(sd_c --json doctor --quick --idle-max 15s -F "$LAB_SSH_CONFIG" lab)
cause() { python3 -c 'import json,sys
d=json.loads(sys.argv[1])
f=[f for f in d["findings"] if f["id"]==sys.argv[2]]
print(json.dumps(f[0]) if f else "{}")' "$out" "$1"; }
pq=$(cause cause.path-quality)
pw=$(cause doctor.protect-work)
like "$pq" '"id": "cause.path-quality"' "cause.path-quality found"
is "$(jget severity <<<"$pw")" info "doctor.protect-work is info"
tmux=$(lab_s sh -c 'command -v tmux' || true)
screen=$(lab_s sh -c 'command -v screen' || true)
mosh=$(lab_s sh -c 'command -v mosh-server' || true)
if [ -n "$tmux" ]; then
	like "$pw" "tmux is installed on the server \\($tmux\\)" "server's tmux seen through the login"
	like "$pq" '"ssh -t lab tmux new -A -s main"' "the cause carries the tmux line that reattaches"
elif [ -n "$screen" ]; then
	like "$pq" '"ssh -t lab screen -dR"' "the cause carries the screen line that reattaches"
else
	like "$pw" 'neither tmux nor screen is installed' "no multiplexer on the server: said so"
	like "$pq" 'apt install tmux' "and how to get one"
fi
if [ -n "$mosh" ]; then
	like "$pq" '"mosh lab"' "mosh-server present: mosh lab"
else
	like "$pw" 'mosh-server is not installed on the server' "mosh-server absence seen"
	like "$pq" 'apt install mosh' "mosh: how to get it"
fi
like "$pq" 'autossh -M 0 .* -N lab' "unattended: autossh -M 0 until sshdoctor keep"
like "$pq" "sshdoctor keep" "points to sshdoctor keep"
done_testing
