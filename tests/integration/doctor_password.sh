#!/bin/bash
# doctor against a server that wants a password (no key login possible in batch
# mode): not an establishment failure; idle is measured before authentication.
. "$(dirname "$0")/lib.sh"

LAB_CT_TIMEOUT=300 LAB_SSHD_EXTRA=$'PasswordAuthentication yes\nLoginGraceTime 20'
lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
cat >"$LAB_DIR/nokey_config" <<CONF
Host lab
	HostName $LAB_SERVER_IP
	User root
	IdentitiesOnly yes
	IdentityFile $LAB_DIR/no-such-key
	StrictHostKeyChecking no
	UserKnownHostsFile /dev/null
	BatchMode yes
CONF
out=$(sd_c --json doctor --no-path --idle-max 10s --verify -F "$LAB_DIR/nokey_config" lab </dev/null); rc=$?	# no terminal: no password prompt
ok "$([ "$rc" -le 1 ]; echo $?)" "a password server is not a failure (exit $rc)"
is "$(jget measurements.idle.via <<<"$out")" preauth "idle measured before authentication"
is "$(jget measurements.connect.established <<<"$out")" false "connect: no batch-mode login"
is "$(python3 -c "import json,sys; d=json.loads(sys.argv[1])
print([f['severity'] for f in d['findings'] if f['id']=='auth.failed'])" "$out")" "['info']" "auth.failed is informational"
like "$(jget measurements.doctor.not_checked <<<"$out")" "verify" "verify listed as not checked"
is "$(python3 -c "import json,sys; d=json.loads(sys.argv[1])
print(any(c['id']=='cause.establishment' for c in d['measurements']['doctor']['causes']))" "$out")" False \
	"no establishment verdict"
done_testing
