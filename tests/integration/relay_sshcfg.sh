#!/bin/bash
# The relay connects the way the ssh that runs it would: ssh's -6 /
# AddressFamily and ConnectTimeout (which ssh never passes to a ProxyCommand)
# are read with `ssh -G` from that very ssh; the relay's own -4/-6 and
# --connect-timeout win; under a wrapper that is not ssh it falls back to the
# defaults and says so (-vv). Compared with plain ssh on the same lab path.
. "$(dirname "$0")/lib.sh"

lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
# a port the router drops without answer: connect() would wait ~2 minutes
lab_r nft add rule inet lab forward_f ip daddr "$LAB_SERVER_IP" tcp dport 2222 drop
RELAY="$SSHDOCTOR relay %h %p"
rssh() {	# rssh PROXYCOMMAND SSH-ARGS...: ssh through the relay, in the lab's home
	local pc="$1"
	shift
	lab_c env HOME="$LAB_DIR/home" XDG_STATE_HOME="$LAB_DIR/state" \
		ssh -F "$LAB_SSH_CONFIG" -o "ProxyCommand=$pc" -o ProxyUseFdpass=yes "$@"
}
ms() { date +%s%3N; }

out=$(rssh "$RELAY" lab echo via-relay 2>"$LAB_DIR/e0")
is "$out" via-relay "a session through the relay (AddressFamily any)"
out=$(rssh "$RELAY" -4 lab echo v4 2>"$LAB_DIR/e1")
is "$out" v4 "ssh -4: the relay connects over IPv4"

plain_err=$(lab_c ssh -F "$LAB_SSH_CONFIG" -6 lab true 2>&1); plain_rc=$?
relay_err=$(rssh "$RELAY" -6 lab true 2>&1); relay_rc=$?
is "$relay_rc" "$plain_rc" "ssh -6 toward an IPv4-only host: fails through the relay as without it ($plain_rc)"
gai=$(printf '%s' "$plain_err" | tr -d '\r' | sed -n 's/.*203\.0\.113\.2[^:]*: //p' | head -1)
like "$relay_err" "sshdoctor relay: 203\.0\.113\.2: ${gai:-Address family}" \
	"…with the same resolver error as plain ssh (${gai:-?})"
out=$(rssh "$SSHDOCTOR relay -4 %h %p" -6 lab echo forced 2>"$LAB_DIR/e2")
is "$out" forced "relay -4 wins over ssh's -6"
out=$(rssh "$RELAY" -o AddressFamily=inet6 lab true 2>&1); rc=$?
is "$rc" 255 "AddressFamily inet6 in ssh's options: honoured too"

t0=$(ms); lab_c ssh -F "$LAB_SSH_CONFIG" -o ConnectTimeout=2 -p 2222 lab true 2>/dev/null; plain_ms=$(( $(ms) - t0 ))
t0=$(ms); err=$(rssh "$RELAY" -o ConnectTimeout=2 -p 2222 lab true 2>&1); rc=$?; relay_ms=$(( $(ms) - t0 ))
echo "# ConnectTimeout 2 toward a dropped port: plain ssh ${plain_ms} ms, through the relay ${relay_ms} ms"
is "$rc" 255 "ConnectTimeout 2 toward a dropped port: ssh fails"
ok $([ "$relay_ms" -ge 1800 ] && [ "$relay_ms" -le 4500 ] && echo 0 || echo 1) \
	"…after ssh's ConnectTimeout (${relay_ms} ms; plain ssh ${plain_ms} ms), not the kernel's 2 minutes"
like "$err" "sshdoctor relay: connect to 203\.0\.113\.2 port 2222: Connection timed out" "…saying so"
t0=$(ms); rssh "$SSHDOCTOR relay --connect-timeout 1 %h %p" -o ConnectTimeout=6 -p 2222 lab true 2>/dev/null
t=$(( $(ms) - t0 ))
ok $([ "$t" -ge 800 ] && [ "$t" -le 3000 ] && echo 0 || echo 1) \
	"relay --connect-timeout 1 wins over ssh's ConnectTimeout 6 (${t} ms)"

# sh -c without exec: the relay's parent is a shell, not ssh
out=$(rssh "sh -c '$SSHDOCTOR -vv relay %h %p; exit \$?'" -6 lab echo wrapped 2>"$LAB_DIR/e3")
is "$out" wrapped "under a non-exec wrapper: defaults (any family), the session works"
like "$(cat "$LAB_DIR/e3")" "ssh's own config not read \(the parent .* is not ssh\)" "…and -vv says why"
out=$(rssh "$SSHDOCTOR relay --no-ssh-config %h %p" -6 lab echo nocfg 2>/dev/null)
is "$out" nocfg "--no-ssh-config: ssh's -6 is not asked for"
lab_down
trap - EXIT INT TERM
done_testing
