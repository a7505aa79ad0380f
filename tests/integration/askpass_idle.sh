#!/bin/bash
# A password-only server (LAB_AUTH=password), the password typed once through a
# pseudo-terminal (a private tmux server): idle logs in as with a key and measures
# a NAT timeout beyond sshd's LoginGraceTime (120 s), which probing before
# authentication cannot; one prompt; the password in no process's cmdline or
# environ while it runs. Then a wrong password: one failed attempt, one line, exit 3.
. "$(dirname "$0")/lib.sh"

. "$ROOT/tests/lab/tty.sh"
command -v tmux >/dev/null || { ok 1 "tmux installed (make deps)"; done_testing; exit 1; }
cleanup() { tty_cleanup; lab_down; }
LAB_AUTH=password LAB_CT_TIMEOUT=130
lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM
umask 077
printf '%s' "$LAB_PASSWORD" >"$LAB_DIR/pw"	# for the /proc scan, read from a file

# Processes whose cmdline or environ holds the password (pid:comm:file), or "none".
scan_proc() { python3 - "$LAB_DIR/pw" <<'PY'
import os, sys
pw = open(sys.argv[1], 'rb').read()
hits = []
for p in os.listdir('/proc'):
    if not p.isdigit() or int(p) == os.getpid():
        continue
    for f in ('cmdline', 'environ'):
        try:
            if pw in open('/proc/%s/%s' % (p, f), 'rb').read():
                comm = open('/proc/%s/comm' % p).read().strip()
                hits.append('%s:%s:%s' % (p, comm, f))
        except OSError:
            pass
print(' '.join(hits) or 'none')
PY
}

grace=$(lab_s "$LAB_SSHD" -T -f "$LAB_DIR/sshd_config" | awk '$1 == "logingracetime" { print $2 }')
is "$grace" 120 "the server's LoginGraceTime is the default 120 s"
is "$(lab_c ssh -F "$LAB_SSH_CONFIG" lab true 2>&1 | grep -o 'Permission denied ([a-z-]*)')" \
	"Permission denied (password)" "no key logs in: the server takes only a password"

# The scan itself finds a password where one is (its control).
env SDCTRL="$(cat "$LAB_DIR/pw")" sleep 60 &
ctrl=$!
like "$(scan_proc)" "^$ctrl:sleep:environ" "the /proc scan finds a password in an environ"
kill "$ctrl"; wait "$ctrl" 2>/dev/null

# 1. The right password, once.
fails0=$(grep -c "Failed password" "$LAB_DIR/sshd.log")
tty_run good --json idle --max 170s -F "$LAB_SSH_CONFIG" lab
ok $? "a password prompt appeared on the terminal"
like "$(cat "$LAB_DIR/good.err")" "sdlab@$LAB_SERVER_IP's password" "the prompt names user@host"
tty_type good "$LAB_DIR/pw"
hits="" looks=0
for i in 1 2 3 4 5 6 7 8; do	# while it runs: bounded, a few looks spread over the run
	sleep 12
	h=$(scan_proc)
	[ -s "$LAB_DIR/good.rc" ] && break	# finished: this look does not count
	looks=$((looks + 1))
	[ "$h" = none ] || hits="$hits $h"
done
ok "$([ "$looks" -ge 4 ]; echo $?)" "/proc scanned $looks times while idle ran"
is "${hits:-none}" none "no process's cmdline or environ holds the password"
tty_wait good 300
ok $? "idle finished"
out=$(cat "$LAB_DIR/good.out")
is "$(grep -c "password (asked once" "$LAB_DIR/good.err")" 1 "exactly one prompt"
is "$(jget measurements.idle.via <<<"$out")" ssh "measured through logins, not before authentication"
is "$(jget measurements.idle.found <<<"$out")" true "an idle timeout found"
lo=$(jget measurements.idle.lower_s <<<"$out")
hi=$(jget measurements.idle.upper_s <<<"$out")
ok "$(awk -v l="$lo" -v h="$hi" 'BEGIN { exit !(l > 120 && l <= 130 && h >= 130 && h <= 140) }'; echo $?)" \
	"T beyond LoginGraceTime: $lo-$hi s (the NAT forgets at 130 s)"
is "$(grep -c "Failed password" "$LAB_DIR/sshd.log")" "$fails0" "no failed password attempt"
ok "$([ "$(grep -c "Accepted password for sdlab" "$LAB_DIR/sshd.log")" -ge 2 ]; echo $?)" \
	"the server accepted the password for several logins"
echo "# idle $lo-$hi s, rc $(cat "$LAB_DIR/good.rc"); logins: $(grep -c "Accepted password" "$LAB_DIR/sshd.log")"

# 2. A wrong password: one attempt, one line, a non-zero exit; nothing retried.
printf 'not-%s' "$LAB_PASSWORD" >"$LAB_DIR/wrong"
fails0=$(grep -c "Failed password" "$LAB_DIR/sshd.log")
tty_run bad idle --max 170s -F "$LAB_SSH_CONFIG" lab
ok $? "the prompt again, for the wrong password"
tty_type bad "$LAB_DIR/wrong"
tty_wait bad 60
ok $? "stopped within a minute"
is "$(cat "$LAB_DIR/bad.rc")" 3 "exit 3 (could not measure)"
sleep 1	# sshd writes the failure as the client goes
is "$(( $(grep -c "Failed password" "$LAB_DIR/sshd.log") - fails0 ))" 1 "exactly one failed attempt in sshd's log"
err=$(grep -v "password (asked once" "$LAB_DIR/bad.err" | grep -v '^$')
like "$err" "^sshdoctor: sdlab@$LAB_SERVER_IP: the password was refused" "a clear error"
is "$(printf '%s\n' "$err" | wc -l)" 1 "one line"
is "$(cat "$LAB_DIR/bad.out")" "" "no report printed"
done_testing
