#!/bin/bash
# sshdoctor path against known delay and jitter: the router holds every packet
# toward the server for 80 ms +- 20 ms (uniform, netem's default), then 80 ms
# flat. The mean difference of consecutive round trips of a uniform +-J delay is
# 2J/3 (13.3 ms here); flat delay must show almost none. Tolerances leave room
# for a loaded 2-core machine running sanitized builds in parallel.
. "$(dirname "$0")/lib.sh"

within() { python3 -c 'import sys; sys.exit(0 if float(sys.argv[2]) <= float(sys.argv[1]) <= float(sys.argv[3]) else 1)' "$@" 2>/dev/null; }

# run_path JITTER JIT_LO JIT_HI
run_path() {
	local jit=$1 jlo=$2 jhi=$3 j got
	LAB_DELAY=80 LAB_JITTER=$jit
	lab_setup || { ok 1 "lab up (jitter $jit)"; return; }
	j="$LAB_DIR/out.json"
	sd_c --json path -F "$LAB_SSH_CONFIG" --count 60 --bulk 256K lab >"$j" 2>"$LAB_DIR/err"
	ok $? "delay 80 ms, jitter $jit ms: exit 0 (nothing wrong but a long path)"
	got=$(jget measurements.path.rtt_ms.avg <"$j")
	within "$got" 70 100; ok $? "jitter $jit: average RTT $got ms within [70, 100]"
	got=$(jget measurements.path.rtt_ms.p50 <"$j")
	within "$got" 65 100; ok $? "jitter $jit: median RTT $got ms within [65, 100]"
	got=$(jget measurements.path.rtt_ms.min <"$j")
	within "$got" $((80 - jit - 5)) $((80 + 10)); ok $? "jitter $jit: minimum RTT $got ms not below the netem floor"
	got=$(jget measurements.path.jitter_ms <"$j")
	within "$got" "$jlo" "$jhi"; ok $? "jitter $jit: measured jitter $got ms within [$jlo, $jhi]"
	got=$(jget measurements.path.detail.session_echo.rtt_avg_ms <"$j")
	within "$got" 70 130; ok $? "jitter $jit: session echo RTT $got ms also sees the delay"
	got=$(jget measurements.path.detail.tcp_info.rtt_ms <"$j")
	within "$got" 60 200; ok $? "jitter $jit: TCP_INFO of the relayed session: srtt $got ms"
	got=$(python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
print(",".join(f["id"]+"="+f["severity"] for f in d["findings"] if f["id"] in ("path.latency","path.jitter")))' "$j")
	is "$got" "path.latency=ok,path.jitter=ok" "jitter $jit: latency and jitter findings present, not alarming"
	sleep 1
	is "$(ip netns pids "$LAB_C" | wc -l)" 0 "jitter $jit: no ssh or relay left in the client namespace"
	local id=$LAB_ID
	lab_down
	trap - EXIT INT TERM
	is "$(ip netns list | grep -Ec "^${id}[crs]( |\$)")" 0 "jitter $jit: namespaces removed"
}

run_path 20 7 24
run_path 0 0 6
done_testing
