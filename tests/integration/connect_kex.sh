#!/bin/bash
# connect predicts "no matching ..." from the server's KEXINIT before ssh fails:
# four extra sshd instances, each restricted to algorithms this client does not
# offer by default (kex, host key, cipher, MAC), all probed in one run; the
# prediction is then checked against what the real ssh says.
. "$(dirname "$0")/lib.sh"

lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
ok 0 "lab up"
ssh-keygen -q -t rsa -b 2048 -N '' -f "$LAB_DIR/hostkey_rsa" || true

# restricted PORT LINE...: an sshd on PORT with the lab's config plus LINEs.
restricted() {
	local port=$1 conf="$LAB_DIR/sshd_$1"
	shift
	{
		printf '%s\n' "$@"
		sed -e "s/^ListenAddress .*/ListenAddress 0.0.0.0:$port/" \
			-e "s#^PidFile .*#PidFile $LAB_DIR/sshd_$port.pid#" "$LAB_DIR/sshd_config"
	} >"$conf"
	"$LAB_SSHD" -t -f "$conf" || return 1
	lab_s "$LAB_SSHD" -f "$conf" -E "$LAB_DIR/sshd_$port.log" || return 1
	for _ in $(seq 1 100); do
		[ -s "$LAB_DIR/sshd_$port.pid" ] && return 0
		sleep 0.05
	done
	return 1
}
restricted 2201 "KexAlgorithms diffie-hellman-group1-sha1"
ok $? "sshd with only diffie-hellman-group1-sha1"
restricted 2202 "HostKey $LAB_DIR/hostkey_rsa" "HostKeyAlgorithms ssh-rsa"
ok $? "sshd with only an ssh-rsa (SHA-1) host key"
restricted 2203 "Ciphers aes128-cbc"
ok $? "sshd with only aes128-cbc"
restricted 2204 "Ciphers aes128-ctr" "MACs hmac-md5"
ok $? "sshd with aes128-ctr and only hmac-md5"
restricted 2205 "ForceCommand sleep 2.5; echo late"
ok $? "sshd whose sessions take 2.5 s to start (ForceCommand sleep)"

sd_c --json connect -F "$LAB_SSH_CONFIG" lab:2201 lab:2202 lab:2203 lab:2204 lab lab:2205 \
	>"$LAB_DIR/out.json" 2>"$LAB_DIR/err"
is "$?" 2 "exit 2"
F() { python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
for f in d["findings"]:
    if f["title"].startswith(sys.argv[2] + ": ") and f["id"] == sys.argv[3]:
        print(" | ".join([f["title"]] + f["evidence"] + [l for x in f["fix"] for l in x["lines"]]))' \
	"$LAB_DIR/out.json" "$1" "$2"; }
f=$(F lab:2201 kex.no-match)
like "$f" 'no matching key exchange method' "kex: predicted 'no matching key exchange method'"
like "$f" 'server offers: diffie-hellman-group1-sha1' "kex: the server's list shown"
like "$f" 'client offers: .*curve25519-sha256' "kex: the client's list shown"
like "$f" 'KexAlgorithms \+diffie-hellman-group1-sha1' "kex: fix names the algorithm ssh -Q says the client has"
like "$(F lab:2202 kex.no-match)" 'no matching host key type.*server offers: ssh-rsa' "host key: predicted 'no matching host key type'"
like "$(F lab:2203 kex.no-match)" 'no matching cipher.*server offers: aes128-cbc' "cipher: predicted 'no matching cipher'"
like "$(F lab:2204 kex.no-match)" 'no matching MAC.*server offers: hmac-md5' "MAC: predicted 'no matching MAC'"
is "$(F lab:2204 kex.no-match | grep -c 'no matching cipher')" 0 "MAC server: no false cipher verdict"
like "$(F lab kex.ok)" 'algorithms match' "unrestricted sshd: kex.ok"
is "$(jget measurements.connect.0.phases.3.result <"$LAB_DIR/out.json")" no-match "phase kex: no-match"
is "$(jget measurements.connect.0.login <"$LAB_DIR/out.json")" null "no login attempted when kex cannot succeed"
is "$(jget measurements.connect.4.established <"$LAB_DIR/out.json")" true "the unrestricted one logs in"
# the server sleeps 2.5 s in its session set-up; a loaded machine adds up to ~1.5 s
f=$(F lab:2205 login.slow)
like "$f" 'session took (2\.[5-9]|[34]\.[0-9]) s to start after authentication' "slow session start: login.slow"
like "$f" 'PAM.*motd' "login.slow names the usual causes"
ms=$(jget measurements.connect.5.phases.5.ms <"$LAB_DIR/out.json")
ok $((ms >= 2500 && ms < 4000 ? 0 : 1)) "phase session: ${ms} ms"
is "$(F lab:2205 auth.slow)" "" "the slow session is not blamed on authentication"

# Ground truth: the real ssh fails with exactly the predicted message.
for p in "2201 key exchange method" "2202 host key type" "2203 cipher" "2204 MAC"; do
	port=${p%% *} what=${p#* }
	like "$(lab_c ssh -F "$LAB_SSH_CONFIG" -o LogLevel=INFO -p "$port" lab true 2>&1)" \
		"no matching $what found" "ssh itself: no matching $what found (port $port)"
done
ok "$(grep -c 'ERROR: \|runtime error' "$LAB_DIR/err")" "no sanitizer report"
done_testing
