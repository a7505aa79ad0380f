#!/bin/bash
# doctor --verify holds its session with the user's OWN keepalive settings, not the
# ones the tool's forced BatchMode=yes would give it (Debian's ssh: BatchMode yes
# turns an unset ServerAliveInterval into 300). The user's config says BatchMode
# no and sets no ServerAliveInterval: verify must hold with interval 0, report
# "Not cured" before the fix and "Verified" after it. Every ssh the tool runs is
# recorded by a wrapper, and ssh -G on the hold session's own arguments is the
# proof of what it ran with. Findings name Debian's default where it applies.
. "$(dirname "$0")/lib.sh"

T=6
LAB_CT_TIMEOUT=$T LAB_EXPIRY=drop
lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
REAL_SSH=$(command -v ssh)
mkdir -p "$LAB_DIR/bin"
cat >"$LAB_DIR/bin/ssh" <<SH
#!/bin/sh
printf '%s\n' "\$*" >>"$LAB_DIR/ssh-argv.log"
exec "$REAL_SSH" "\$@"
SH
chmod 755 "$LAB_DIR/bin/ssh"
sdw() { lab_c env PATH="$LAB_DIR/bin:$PATH" HOME="$LAB_DIR/home" XDG_STATE_HOME="$LAB_DIR/state" "$SSHDOCTOR" "$@"; }
# The user's config: BatchMode no for this host (first value wins), no keepalive.
printf 'Host lab\n\tBatchMode no\n' | cat - "$LAB_SSH_CONFIG" >"$LAB_DIR/user_config"
CFG="$LAB_DIR/user_config"
is "$(lab_c ssh -G -F "$CFG" lab | awk '$1=="serveraliveinterval"{print $2}')" 0 \
	"ssh -G: the user's ServerAliveInterval is 0"
is "$(lab_c ssh -G -F "$CFG" -o BatchMode=yes lab | awk '$1=="serveraliveinterval"{print $2}')" 300 \
	"ssh -G with BatchMode=yes: 300 (Debian's default, the trap)"

# The hold sessions' effective ServerAliveInterval, from ssh -G on their own argv.
hold_sai() {
	local line args
	line=$(grep 'ServerAliveCountMax=' "$LAB_DIR/ssh-argv.log" | grep -v '^-v ' | grep -v '^-G ' | grep ' cat$' | tail -1)
	[ -n "$line" ] || { echo "no-hold-session"; return; }
	args=${line% cat}
	# shellcheck disable=SC2086
	lab_c "$REAL_SSH" -G $args | awk '$1=="serveraliveinterval"{print $2}'
}

: >"$LAB_DIR/ssh-argv.log"
out=$(sdw --json doctor --no-path --idle-max 30s --verify -F "$CFG" lab); rc=$?
is "$(jget measurements.doctor.verified <<<"$out")" false "no fix: --verify says NOT cured"
like "$(jget findings <<<"$out")" 'Not cured' "the doctor.verify finding says Not cured"
is "$rc" 2 "not cured: exit 2"
is "$(hold_sai)" 0 "the hold session ran with the user's ServerAliveInterval 0, not BatchMode's 300"
like "$(jget findings <<<"$out")" "cause.idle-timeout" "the cause is the idle timeout"
is "$(printf '%s' "$out" | grep -c 'doctor.protect-work')" 0 "keepalives cure it: no protect-the-work advice"

: >"$LAB_DIR/ssh-argv.log"
out=$(sdw --json doctor --no-path --idle-max 30s --fix --yes --verify -F "$CFG" lab); rc=$?
is "$(jget measurements.doctor.fix.applied <<<"$out")" true "--fix --yes: applied"
is "$(jget measurements.doctor.verified <<<"$out")" true "after the fix: verified"
want=$(lab_c ssh -G -F "$CFG" lab | awk '$1=="serveraliveinterval"{print $2}')
ok "$([ "$want" -gt 0 ] && [ "$want" -lt $T ]; echo $?)" "the fixed config: ServerAliveInterval $want < ${T}s"
is "$(hold_sai)" "$want" "the hold session ran with the fixed value $want (read after the fix)"
is "$rc" 0 "cured and verified: exit 0"
sd_c audit --undo >/dev/null 2>&1
ok $? "audit --undo"

# The lab's own config says BatchMode yes for every host: the 300 is named for what it is.
out=$(sd_c --json audit -F "$LAB_SSH_CONFIG" lab --idle-timeout 200)
is "$(jget measurements.audit.client.origin.serveraliveinterval <<<"$out")" \
	"Debian's default when BatchMode yes" "origin of 300: Debian's BatchMode default"
like "$out" "ServerAliveInterval 300 \\(Debian's default when BatchMode yes\\)" "the finding says so"
# The client's ServerAliveCountMax 0, measured (clientloop.c server_alive_check:
# the counter passes CountMax before any keepalive is answered): ssh exits 255
# after one interval of a healthy but quiet session; CountMax 3 survives it.
t0=$(date +%s%N)
lab_c ssh -F "$LAB_SSH_CONFIG" -o ServerAliveInterval=1 -o ServerAliveCountMax=0 lab 'sleep 4' 2>/dev/null
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "# ServerAliveInterval=1 ServerAliveCountMax=0, remote 'sleep 4' against sshd $LAB_SSHD_VERSION: exit $rc after ${ms} ms"
is "$rc" 255 "CountMax 0: ssh gives up on a healthy session (exit 255)"
ok "$([ "$ms" -lt 3500 ]; echo $?)" "CountMax 0: within about one interval (${ms} ms < 3.5 s, the command needs 4 s)"
lab_c ssh -F "$LAB_SSH_CONFIG" -o ServerAliveInterval=1 -o ServerAliveCountMax=3 lab 'sleep 4' 2>/dev/null
is "$?" 0 "CountMax 3: the same session lives (exit 0)"
printf 'Host lab\n\tServerAliveInterval 30\n\tServerAliveCountMax 0\n' | cat - "$LAB_SSH_CONFIG" >"$LAB_DIR/cm0_config"
out=$(sd_c --json audit -F "$LAB_DIR/cm0_config" lab --idle-timeout 100)
like "$(bad_findings <<<"$out")" 'client.keepalive.countmax-too-low' "audit: client.keepalive.countmax-too-low"
sd_c audit -F "$LAB_DIR/cm0_config" lab --idle-timeout 100 --fix --yes >"$LAB_DIR/cm0_fix.out" 2>&1
is "$(lab_c ssh -G -F "$LAB_DIR/cm0_config" lab | awk '$1=="serveralivecountmax"{print $2}')" 3 "audit --fix: ssh -G now says ServerAliveCountMax 3" ||
	sed 's/^/# /' "$LAB_DIR/cm0_fix.out"
lab_c ssh -F "$LAB_DIR/cm0_config" -o ServerAliveInterval=1 lab 'sleep 4' 2>/dev/null
is "$?" 0 "the fixed config keeps a quiet session (interval forced to 1 s to see it in 4 s)"
sd_c audit --undo >/dev/null 2>&1
done_testing
