#!/bin/bash
# Ctrl-C in the middle of a measurement: every ssh it started ends, what was
# known so far is printed, and no process or namespace is left behind.
. "$(dirname "$0")/lib.sh"

LAB_CT_TIMEOUT=60 LAB_EXPIRY=drop
lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
# ip netns exec and env exec in place: $! is sshdoctor itself
ip netns exec "$LAB_C" env HOME="$LAB_DIR/home" XDG_STATE_HOME="$LAB_DIR/state" \
	"$SSHDOCTOR" --json idle -F "$LAB_SSH_CONFIG" lab >"$LAB_DIR/out" 2>"$LAB_DIR/err" &
pid=$!
sleep 6
n=$(ip netns pids "$LAB_C" | wc -l)
[ "$n" -gt 4 ]
ok $? "measuring: $n processes in the client namespace (sshdoctor + its ssh)"
kill -INT "$pid"
start=$(date +%s)
wait "$pid"
rc=$?
took=$(( $(date +%s) - start ))
[ "$took" -le 5 ]
ok $? "ends within seconds of Ctrl-C (${took}s)"
is "$rc" 3 "exit 3: the answer is not known yet"
out=$(cat "$LAB_DIR/out")
is "$(echo "$out" | jget measurements.idle.found)" false "prints what was known: found false"
lo=$(echo "$out" | jget measurements.idle.lower_s)
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) >= 2 else 1)" "$lo"
ok $? "prints what was known: idle ${lo}s answered"
is "$(echo "$out" | jget findings.0.id)" idle.incomplete "finding idle.incomplete"
sleep 0.5
is "$(ip netns pids "$LAB_C" | wc -l)" 0 "no process left in the client namespace"
zombies=$(ps -eo stat,ppid | awk -v p="$$" '$1 ~ /^Z/ && $2 == p' | wc -l)
is "$zombies" 0 "no zombies"
# the server side ends its sessions too once the client's ssh are gone
for i in $(seq 1 20); do
	[ "$(ip netns pids "$LAB_S" | wc -l)" -le 1 ] && break
	sleep 0.25
done
[ "$(ip netns pids "$LAB_S" | wc -l)" -le 1 ]
ok $? "server namespace: only the listening sshd remains"
id=$LAB_ID
lab_down
trap - EXIT INT TERM
is "$(ip netns list | grep -Ec "^${id}[crs]( |\$)")" 0 "namespaces removed"
done_testing
