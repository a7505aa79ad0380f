#!/bin/bash
# keep under systemd: --install-unit writes a Type=notify unit (a user unit for
# a user, a system unit as root: tested in a private mount namespace over a
# tmpfs /etc/systemd/system, so the machine's is untouched), atomically,
# refusing to overwrite a unit it did not write; --uninstall-unit undoes it.
# sd_notify: READY=1 only once the forward carries bytes, WATCHDOG=1 while up
# (a notify socket of the test's own stands in for systemd). The journal: each
# event a structured entry, written once.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/lab/keep_helpers.sh"

LAB_SSHD_EXTRA="$(keep_sshd_extra)"
lab_setup || { ok 1 "lab up"; done_testing; exit 1; }
ok 0 "lab up (OpenSSH $LAB_SSHD_VERSION)"
nl=""
trap 'keep_stop; [ -n "$nl" ] && kill "$nl" 2>/dev/null; lab_down' EXIT

# --- the unit, as a user (nobody, with a home of its own) ---
U="$LAB_DIR/uhome"
mkdir -p "$U" && chown 65534:65534 "$U"
asuser() { setpriv --reuid=65534 --regid=65534 --clear-groups env -u XDG_CONFIG_HOME HOME="$U" XDG_STATE_HOME="$U/state" "$SSHDOCTOR" "$@"; }
F="$U/.config/systemd/user/sshdoctor-keep-web.service"
out=$(asuser keep --install-unit web --alive-interval 5 -F "$LAB_SSH_CONFIG" lab -- -L '127.0.0.1:8080:db:5432' 2>&1)
ok $? "user: --install-unit writes the unit"
like "$out" "wrote $F" "user: says where"
like "$out" 'systemctl --user daemon-reload' "user: says how to start it"
like "$(cat "$F")" '^# sshdoctor-keep-unit 1' "user: the unit is marked as ours"
like "$(cat "$F")" 'Type=notify' "user: Type=notify"
like "$(cat "$F")" 'WatchdogSec=60' "user: a watchdog"
like "$(cat "$F")" 'RestartPreventExitStatus=2 64' "user: systemd does not restart what keep stopped on purpose"
like "$(grep ExecStart= "$F")" "^ExecStart=\"$SSHDOCTOR\" \"keep\" \"--name\" \"web\" \"--alive-interval\" \"5\" \"-F\" \"$LAB_SSH_CONFIG\" \"lab\" \"--\" \"-L\" \"127.0.0.1:8080:db:5432\"\$" \
	"user: ExecStart is this keep command, without --install-unit"
like "$(cat "$F")" 'WantedBy=default.target' "user: wanted by default.target"
# (as root on a copy: a user's verify needs a running user manager)
cp "$F" "$LAB_DIR/sshdoctor-keep-web.service"
v=$(systemd-analyze verify "$LAB_DIR/sshdoctor-keep-web.service" 2>&1)
is "$?:$v" "0:" "user: systemd-analyze verify accepts the unit"
out=$(asuser keep --install-unit web --alive-interval 5 -F "$LAB_SSH_CONFIG" lab -- -L '127.0.0.1:8080:db:5432' 2>&1)
like "$out" 'already up to date' "user: the same unit again changes nothing"
echo '[Service]' >"$U/.config/systemd/user/sshdoctor-keep-mine.service"
cp "$U/.config/systemd/user/sshdoctor-keep-mine.service" "$LAB_DIR/mine.orig"
out=$(asuser keep --install-unit mine -F "$LAB_SSH_CONFIG" lab 2>&1)
ok $((! $?)) "user: a unit sshdoctor did not write is refused"
like "$out" 'was not written by sshdoctor: not touching it' "user: says why"
cmp -s "$U/.config/systemd/user/sshdoctor-keep-mine.service" "$LAB_DIR/mine.orig"
ok $? "user: that unit is untouched"
out=$(asuser keep --uninstall-unit mine 2>&1)
ok $((! $?)) "user: --uninstall-unit refuses it too"
ok $([ -e "$U/.config/systemd/user/sshdoctor-keep-mine.service" ]; echo $?) "user: and leaves it"
out=$(asuser keep --uninstall-unit web 2>&1)
ok $? "user: --uninstall-unit removes ours"
ok $([ ! -e "$F" ]; echo $?) "user: gone"
out=$(asuser keep --install-unit 'bad/name' lab 2>&1)
is "$?" 64 "a unit name with a slash is a usage error"

# --- as root: a system unit (private mount namespace, tmpfs over the directory) ---
mkdir -p /etc/systemd/system 2>/dev/null
r=$(unshare --mount sh -c 'mount -t tmpfs none /etc/systemd/system &&
	"$1" keep --install-unit sys -F "$2" lab -- -N -R 9000:localhost:22 >/dev/null &&
	cat /etc/systemd/system/sshdoctor-keep-sys.service' sh "$SSHDOCTOR" "$LAB_SSH_CONFIG" 2>&1)
like "$r" 'WantedBy=multi-user.target' "root: a system unit (in /etc/systemd/system)"
ok $([ ! -e /etc/systemd/system/sshdoctor-keep-sys.service ]; echo $?) "root: the machine's own directory untouched"

# --- sd_notify: READY=1 when the forward is up, WATCHDOG=1 while up ---
SOCK="$LAB_DIR/notify.sock"
python3 -c 'import socket,sys,time
s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1])
out=open(sys.argv[2],"a")
s.settimeout(30)
try:
    while True:
        d=s.recv(4096).decode()
        for l in d.split("\n"):
            if l: out.write("%d %s\n" % (time.time()*1000, l)); out.flush()
except socket.timeout: pass' "$SOCK" "$LAB_DIR/notify.log" &
nl=$!
for i in $(seq 1 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
PORT=7006
KEEP_ENV="NOTIFY_SOCKET=$SOCK WATCHDOG_USEC=2000000"
keep_start "$LAB_DIR/keep.err" --name nfy -F "$LAB_SSH_CONFIG" lab -- -L "127.0.0.1:$PORT:127.0.0.1:22"
wait_log "$LAB_DIR/notify.log" 'READY=1' 15
ok $? "READY=1 sent"
fwd_ok $PORT
ok $? "when READY=1 is sent, the forward already carries bytes"
sleep 3
n=$(grep -c 'WATCHDOG=1' "$LAB_DIR/notify.log")
ok $((n >= 2 ? 0 : 1)) "WATCHDOG=1 every half watchdog period ($n in ~3 s of a 2 s watchdog)"
like "$(cat "$LAB_DIR/notify.log")" 'STATUS=up: lab' "STATUS= says up"
keep_stop
like "$(cat "$LAB_DIR/notify.log")" 'STOPPING=1' "STOPPING=1 on SIGTERM"

# --- the journal: each event a structured entry (libsystemd's sd_journal_send,
# the native protocol, to a socket of the test's own at the journal's path in a
# private mount namespace over a tmpfs /run: the machine's /run untouched) ---
J="$LAB_DIR/journal.jsonl"
cat >"$LAB_DIR/journald.py" <<'PY'
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
out = open(sys.argv[2], "a")
s.settimeout(60)
try:
    while True:
        d, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(16))
        if anc:	# big entries come as a memfd: ours must not
            out.write('{"FD_PASSED": "1"}\n'); out.flush(); continue
        f, i = {}, 0
        while i < len(d):
            nl = d.find(b"\n", i)
            if nl < 0:
                f["TRUNCATED"] = "1"; break
            line = d[i:nl]
            if b"=" in line:	# KEY=VALUE
                k, v = line.split(b"=", 1); i = nl + 1
            else:		# KEY, 64-bit little-endian length, VALUE (binary-safe form)
                n = struct.unpack("<Q", d[nl + 1:nl + 9])[0]
                k, v = line, d[nl + 9:nl + 9 + n]; i = nl + 9 + n + 1
            f[k.decode()] = v.decode(errors="replace")
        out.write(json.dumps(f) + "\n"); out.flush()
except socket.timeout:
    pass
PY
# keep_journal ERRFILE ENV... : keep in the client namespace with our journal
keep_journal() {
	local errf=$1
	shift
	ip netns exec "$LAB_C" sh -c 'mount -t tmpfs -o mode=755 tmpfs /run && mkdir -p /run/systemd/journal || exit 1
		python3 "$1" /run/systemd/journal/socket "$2" &
		i=0; while [ ! -S /run/systemd/journal/socket ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		shift 2; exec env "$@"' sh "$LAB_DIR/journald.py" "$J" HOME="$LAB_DIR/home" \
		XDG_STATE_HOME="$LAB_DIR/state" "$@" 2>"$errf" &
	KEEP_PID=$!
}
# jq-free: the entries of tunnel T as "EVENT|PRIORITY|CAUSE|DOWNTIME_MS|MESSAGE" lines
jentries() { python3 -c 'import json,sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if "FD_PASSED" in e or "TRUNCATED" in e:
        print("FD_PASSED" if "FD_PASSED" in e else "TRUNCATED")
    elif e.get("SSHDOCTOR_TUNNEL") == sys.argv[2]:
        print("|".join(e.get(k, "?") for k in ("SSHDOCTOR_EVENT", "PRIORITY", "SSHDOCTOR_CAUSE",
              "SSHDOCTOR_DOWNTIME_MS", "MESSAGE", "SYSLOG_IDENTIFIER")))' "$J" "$1" 2>&1; }
PORT=7007
keep_journal "$LAB_DIR/j1.err" INVOCATION_ID=0123456789abcdef "$SSHDOCTOR" keep --name jr --alive-interval 1 \
	-F "$LAB_SSH_CONFIG" lab -- -L "127.0.0.1:$PORT:127.0.0.1:22"
ms=$(wait_fwd $PORT 15)
ok $? "journal: the tunnel is up ($ms ms)"
wait_log "$J" '"SSHDOCTOR_EVENT": "up"' 5
like "$(jentries jr)" '^up\|6\|\|0\|keep: jr: up \(1 forward; keepalive 1 s x [0-9]+, .*\|sshdoctor$' \
	"journal: 'up' at priority 6 (info), the message and SYSLOG_IDENTIFIER=sshdoctor"
kill_sessions
wait_log "$J" '"SSHDOCTOR_EVENT": "up", .*"SSHDOCTOR_DOWNTIME_MS": "[1-9]' 20
e=$(jentries jr)
like "$e" '^fall\|4\|[a-z-]+\|0\|keep: jr: fell after ' "journal: the fall at priority 4 (warning), with its cause"
like "$e" '^up\|6\|[a-z-]+\|[1-9][0-9]*\|keep: jr: up again after ' "journal: up again, with the cause and the downtime in ms"
ok "$([ "$(printf '%s\n' "$e" | grep -c 'FD_PASSED\|TRUNCATED')" = 0 ]; echo $?)" "journal: every entry whole, inline"
like "$(cat "$LAB_DIR/j1.err")" 'keep: jr: fell after ' "journal: stderr (not the journal) has the events too"
keep_stop
wait_log "$J" '"SSHDOCTOR_EVENT": "stop"' 5
ok $? "journal: the stop is an entry"
# stderr is the journal (JOURNAL_STREAM names its device and inode, as systemd's
# StandardError=journal does): each event once, in the journal only
: >"$LAB_DIR/j2.err"
js=$(stat -c '%d:%i' "$LAB_DIR/j2.err")
keep_journal "$LAB_DIR/j2.err" JOURNAL_STREAM="$js" "$SSHDOCTOR" keep --name js -F "$LAB_SSH_CONFIG" lab -- \
	-L "127.0.0.1:$PORT:127.0.0.1:22"
ms=$(wait_fwd $PORT 15)
ok $? "journal stream: the tunnel is up ($ms ms)"
wait_log "$J" '"SSHDOCTOR_TUNNEL": "js"' 5
keep_stop
wait_log "$J" '"SSHDOCTOR_TUNNEL": "js", "SSHDOCTOR_EVENT": "stop"|"SSHDOCTOR_EVENT": "stop".*"js"' 5
like "$(jentries js)" '^up\|6\|' "journal stream: the events go to the journal"
is "$(grep -c 'keep: js: ' "$LAB_DIR/j2.err")" 0 "journal stream: not written twice (none on stderr)"

# bad input: one line, exit 64, nothing started
for args in "" "--max-tries 0 lab" "--check nonsense -F $LAB_SSH_CONFIG lab" "--check tcp:127.0.0.1:99999 -F $LAB_SSH_CONFIG lab" \
	"--status lab" "--backoff-max 10ms lab" "--name ../x lab"; do
	# shellcheck disable=SC2086
	err=$(sd_c keep $args 2>&1 >/dev/null)
	rc=$?
	is "$rc" 64 "keep $args: usage error (exit 64)"
	ok $(($(printf '%s\n' "$err" | grep -c .) <= 2 ? 0 : 1)) "keep $args: a short message ($(printf '%s' "$err" | head -1))"
done
is "$(client_ssh_pids)" "" "no ssh started by bad input"
done_testing
