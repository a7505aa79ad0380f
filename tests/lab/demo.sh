#!/bin/bash
# make demo: a lab whose NAT silently forgets idle flows after ~20 s, a client
# without keepalives, and `sshdoctor doctor --fix --yes --verify` against it:
# the verdict, the change applied, the idle session that now survives, and the
# path of the HTML report (build/demo/report.html, or DEMO_REPORT).
set -u
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
SSHDOCTOR="${SSHDOCTOR:-$ROOT/build/sshdoctor}"
. "$ROOT/tests/lab/lab.sh"

bold() { if [ -t 1 ]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }

LAB_CT_TIMEOUT="${DEMO_TIMEOUT:-20}" LAB_EXPIRY=drop
REPORT="${DEMO_REPORT:-$ROOT/build/demo/report.html}"
mkdir -p "$(dirname "$REPORT")" || exit 1
lab_setup || exit 1
export HOME="$LAB_DIR/home" XDG_STATE_HOME="$LAB_DIR/state"

bold "== The lab"
echo "client 192.0.2.2 -> NAT router (forgets idle TCP flows after ${LAB_CT_TIMEOUT} s, silently)"
echo "       -> server 203.0.113.2 running a real sshd. The client's ssh config ($LAB_SSH_CONFIG):"
sed 's/^/    /' "$LAB_SSH_CONFIG"
echo
bold "== sshdoctor doctor --fix --yes --verify --report report.html -F ssh_config lab"
start=$(date +%s)
lab_c env HOME="$HOME" XDG_STATE_HOME="$XDG_STATE_HOME" "$SSHDOCTOR" doctor \
	--idle-max 2m --fix --yes --verify --report "$REPORT" -F "$LAB_SSH_CONFIG" lab
rc=$?
echo
bold "== After: the client's ssh config now reads"
sed 's/^/    /' "$LAB_SSH_CONFIG"
echo
echo "doctor exited $rc after $(( $(date +%s) - start )) s; 'sshdoctor audit --undo' would restore the original."
echo
bold "== The report for the network team (open it in any browser, offline):"
echo "    $REPORT"
exit 0
