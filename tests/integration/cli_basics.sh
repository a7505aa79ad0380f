#!/bin/bash
# The command line contract: help, version, usage errors (exit 64), JSON envelope,
# write errors on stdout. Needs no lab.
. "$(dirname "$0")/lib.sh"

out=$("$SSHDOCTOR" --help); rc=$?
is "$rc" 0 "--help exits 0"
for c in help version; do
	like "$out" "^  $c " "--help lists '$c'"
done
while read -r c; do
	[ -n "$c" ] || continue
	"$SSHDOCTOR" "$c" --help >/dev/null 2>&1
	is "$?" 0 "'$c --help' exits 0"
	h=$("$SSHDOCTOR" help "$c")
	like "$h" "^usage: sshdoctor $c" "'help $c' shows its usage"
	grep -q "^\.SS $c\b" "$ROOT/doc/sshdoctor.1"
	ok $? "man page documents '$c'"
done < <(echo "$out" | sed -n '/^commands:/,/^$/p' | sed -n 's/^  \([a-z-]*\)  .*/\1/p')

err=$("$SSHDOCTOR" nosuch 2>&1 >/dev/null); rc=$?
is "$rc" 64 "unknown command exits 64"
like "$err" "unknown command 'nosuch'" "unknown command is named"
is "$(echo "$err" | grep -c 'usage:')" 1 "unknown command shows a usage hint"
err=$("$SSHDOCTOR" versoin 2>&1 >/dev/null)
like "$err" "did you mean 'version'" "closest command suggested"
err=$("$SSHDOCTOR" version --no-such-flag 2>&1 >/dev/null); rc=$?
is "$rc" 64 "unknown option exits 64"
like "$err" "unknown option '--no-such-flag'" "unknown option is named"
"$SSHDOCTOR" --color=purple version >/dev/null 2>&1
is "$?" 64 "unknown global option value exits 64"
"$SSHDOCTOR" >/dev/null 2>&1
is "$?" 64 "no command exits 64"

j=$("$SSHDOCTOR" version --json)
is "$(echo "$j" | jget command)" version "version --json: command"
like "$(echo "$j" | jget sshdoctor)" '^[0-9]+\.[0-9]+\.[0-9]+$' "version --json: version"
is "$(echo "$j" | jget status)" ok "version --json: status"
is "$(echo "$j" | jget target)" null "version --json: target null"
like "$(echo "$j" | jget measurements.version.openssh_client)" '^OpenSSH_' "version --json: OpenSSH version"
j2=$("$SSHDOCTOR" --json version)
is "$j2" "$j" "--json works before the command too"
v=$("$SSHDOCTOR" --version)
like "$v" '^sshdoctor [0-9]' "--version"

"$SSHDOCTOR" version --json >/dev/full 2>/dev/null
is "$?" 74 "write error on stdout is reported (exit 74)"
err=$("$SSHDOCTOR" version 2>&1 >/dev/full)
like "$err" "error writing output" "write error message"
c=$(NO_COLOR=1 "$SSHDOCTOR" --color=always version | grep -c $'\033' || true)
is "$c" 0 "version text has no escape codes"
done_testing
