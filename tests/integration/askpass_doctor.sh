#!/bin/bash
# doctor against a password-only server, the password typed once at a terminal:
# connect logs in, idle measures through logins, path measures a session, and
# --verify holds a session, all as with a key; one prompt, no failed attempt.
# Without a terminal the same run falls back to probing before authentication.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/lab/tty.sh"
command -v tmux >/dev/null || { ok 1 "tmux installed (make deps)"; done_testing; exit 1; }
LAB_AUTH=password LAB_CT_TIMEOUT=20
lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
trap 'tty_cleanup; lab_down' EXIT
trap 'tty_cleanup; lab_down; exit 130' INT TERM
umask 077
printf '%s' "$LAB_PASSWORD" >"$LAB_DIR/pw"

tty_run doc --json doctor --idle-max 40s --verify -F "$LAB_SSH_CONFIG" lab
ok $? "doctor asked for the password on the terminal"
tty_type doc "$LAB_DIR/pw"
tty_wait doc 400
ok $? "doctor finished"
out=$(cat "$LAB_DIR/doc.out")
is "$(grep -c "password (asked once" "$LAB_DIR/doc.err")" 1 "exactly one prompt"
is "$(jget measurements.connect.established <<<"$out")" true "connect: logged in"
is "$(jget measurements.idle.via <<<"$out")" ssh "idle measured through logins"
lo=$(jget measurements.idle.lower_s <<<"$out")
ok "$(awk -v l="$lo" 'BEGIN { exit !(l >= 18 && l <= 20.5) }'; echo $?)" "idle timeout about 20 s ($lo s)"
is "$(jget measurements.path.detail.session_echo.available <<<"$out")" true "path measured a session"
ids=$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(f["id"] for f in d["findings"]))' <<<"$out")
like "$ids" "login\.ok" "login.ok"
like "$ids" "doctor\.verify" "--verify held a session"
nc=$(python3 -c 'import json,sys; d=json.load(sys.stdin)
print(" ".join(c["what"] for c in d["measurements"]["doctor"]["not_checked"]))' <<<"$out")
ok "$(grep -q verify <<<"$nc"; [ $? -ne 0 ]; echo $?)" "verify not among the items not checked ($nc)"
is "$(grep -c "Failed password" "$LAB_DIR/sshd.log")" 0 "no failed password attempt"

# path on its own asks when its session's login is refused, then measures it.
tty_run path --json path --count 10 -F "$LAB_SSH_CONFIG" lab
ok $? "path asked for the password"
sleep 3	# the person takes a moment: not taken from path's measuring time
tty_type path "$LAB_DIR/pw"
tty_wait path 120
ok $? "path finished"
out=$(cat "$LAB_DIR/path.out")
is "$(grep -c "password (asked once" "$LAB_DIR/path.err")" 1 "path: exactly one prompt"
is "$(jget measurements.path.detail.session_echo.available <<<"$out")" true "path: a session measured"
is "$(jget measurements.path.detail.session_echo.sent <<<"$out")" 10 "path: all 10 session echoes sent"
is "$(grep -c "Failed password" "$LAB_DIR/sshd.log")" 0 "still no failed password attempt"

# No terminal: no prompt, the fallback before authentication as before.
out=$(sd_c --json idle --max 10s -F "$LAB_SSH_CONFIG" lab </dev/null 2>"$LAB_DIR/nt.err")
is "$(jget measurements.idle.via <<<"$out")" preauth "stdin not a terminal: measured before authentication"
ok "$(grep -q "password (asked" "$LAB_DIR/nt.err"; [ $? -ne 0 ]; echo $?)" "and no prompt"
done_testing
