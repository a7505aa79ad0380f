#!/bin/bash
# audit --fix / --undo under --root with a private HOME: the diff changes nothing,
# --yes makes ssh -G / sshd -T show the prescribed values (first value wins),
# keeps mode and owner, --undo gives back the original bytes, and a config that
# sshd -t rejects leaves every file untouched.
. "$(dirname "$0")/lib.sh"

W=$(mktemp -d "${TMPDIR:-/tmp}/sshdoctor-audit-fix.XXXXXX")
trap 'rm -rf "$W"' EXIT
export HOME="$W/home" XDG_STATE_HOME="$W/state"
unset SSH_AUTH_SOCK
mkdir -p "$HOME" "$XDG_STATE_HOME"
R="$W/root"
SSHD=/usr/sbin/sshd
# ssh reads ~/.ssh/config from the passwd home, not $HOME: so does --fix.
PWHOME=$(getent passwd "$(id -u)" | cut -d: -f6)

mkdir -p "$R/etc/ssh/sshd_config.d" "$R$PWHOME"
ssh-keygen -q -N '' -t ed25519 -f "$R/etc/ssh/ssh_host_ed25519_key"
cat >"$R/etc/ssh/sshd_config" <<'EOF'
Include /etc/ssh/sshd_config.d/*.conf
PasswordAuthentication no
PermitRootLogin prohibit-password
UseDNS yes
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
echo "PasswordAuthentication no" >"$R/etc/ssh/sshd_config.d/50-cloud-init.conf"
chmod 640 "$R/etc/ssh/sshd_config"
chown 65534:65534 "$R/etc/ssh/sshd_config"
cp -a "$R" "$W/orig"

# sshd -T on the image: the Include rewritten to point into it.
sshd_T() {
	sed "s|/etc/ssh/|$R/etc/ssh/|" "$R/etc/ssh/sshd_config" >"$W/flat.conf"
	echo "HostKey $R/etc/ssh/ssh_host_ed25519_key" >>"$W/flat.conf"
	$SSHD -T -f "$W/flat.conf" | grep -i "^$1 " | cut -d' ' -f2-
}

# 1. --fix alone: a diff, nothing written.
out=$("$SSHDOCTOR" --color=never audit --root "$R" host1 --fix); rc=$?
is "$rc" 1 "--fix without --yes reports the warnings (exit 1)"
like "$out" '\+ServerAliveInterval 60' "diff adds ServerAliveInterval"
like "$out" '# new file .*/etc/ssh/sshd_config.d/00-sshdoctor.conf' "server change goes to a drop-in"
like "$out" '\+ClientAliveInterval 60' "diff adds ClientAliveInterval"
like "$out" '-UseDNS yes' "diff changes the winning UseDNS line in place"
diff -r "$W/orig" "$R" >/dev/null
ok $? "without --yes every file is unchanged"
ok "$([ ! -e "$XDG_STATE_HOME/sshdoctor/fix" ] || [ -z "$(ls "$XDG_STATE_HOME/sshdoctor/fix")" ]; echo $?)" \
	"without --yes no change set"
json=$("$SSHDOCTOR" --json audit --root "$R" host1 --fix)
is "$(jget measurements.fix.applied <<<"$json")" false "JSON: applied false"
like "$(jget measurements.fix.diff <<<"$json")" '^--- a/' "JSON: the diff"

# 2. --fix --yes: written, verified, mode and owner kept.
out=$("$SSHDOCTOR" --color=never audit --root "$R" host1 --fix --yes); rc=$?
is "$rc" 0 "--fix --yes: the audit afterwards is clean (exit 0)"
like "$out" 'verified: ssh -G and sshd -T show the new values' "verified after writing"
like "$out" "note: client: editing $R$PWHOME/.ssh/config, the file ssh reads" \
	"\$HOME differs from the passwd home: says which file and why"
ok "$(grep -c 'sysctl' <<<"$out" | grep -qx 0; echo $?)" "the client fix cures: no kernel change planned or applied"
cfg="$R$PWHOME/.ssh/config"
is "$(ssh -G -F "$cfg" host1 | awk '/^serveraliveinterval /{print $2}')" 60 "ssh -G: ServerAliveInterval 60"
is "$(stat -c %a "$cfg")" 600 "client config created with mode 600"
is "$(stat -c %a "$R$PWHOME/.ssh")" 700 "~/.ssh created with mode 700"
is "$(sshd_T clientaliveinterval)" 60 "sshd -T: ClientAliveInterval 60"
is "$(sshd_T usedns)" no "sshd -T: UseDNS no"
is "$(sshd_T passwordauthentication)" no "security untouched: PasswordAuthentication no"
is "$(sshd_T permitrootlogin)" without-password "security untouched: PermitRootLogin"
is "$(stat -c '%a %u %g' "$R/etc/ssh/sshd_config")" "640 65534 65534" "mode and owner of sshd_config kept"
is "$(head -1 "$R/etc/ssh/sshd_config")" "Include /etc/ssh/sshd_config.d/*.conf" "main file keeps its layout"
ok "$(cmp -s "$W/orig/etc/ssh/sshd_config.d/50-cloud-init.conf" "$R/etc/ssh/sshd_config.d/50-cloud-init.conf"; echo $?)" \
	"unrelated drop-in untouched"
ok "$([ ! -e "$R/etc/sysctl.d/90-sshdoctor-keepalive.conf" ]; echo $?)" "no sysctl file written (SSH keepalives protect)"
n=$(ls "$XDG_STATE_HOME/sshdoctor/fix" | wc -l)
is "$n" 1 "one change set"
set=$(ls "$XDG_STATE_HOME/sshdoctor/fix")
like "$(cat "$XDG_STATE_HOME/sshdoctor/fix/$set/manifest.json")" '"complete": ?true' "manifest complete"
is "$(grep -cE '"written": ?true' "$XDG_STATE_HOME/sshdoctor/fix/$set/manifest.json")" 3 "every entry marked written (after its rename)"
like "$(cat "$XDG_STATE_HOME/sshdoctor/fix/$set/manifest.json")" '"written_sha256": ?"[0-9a-f]{64}"' "manifest: SHA-256 of what was written"
out=$("$SSHDOCTOR" audit --root "$R" host1 --fix)
like "$out" 'nothing to change' "a second --fix has nothing to change"

# 3. --undo: the original bytes, mode and owner; created files and dirs gone.
out=$("$SSHDOCTOR" audit --undo); rc=$?
is "$rc" 0 "--undo exit 0"
like "$out" 'restored .*/etc/ssh/sshd_config' "undo log"
like "$out" 'a running sshd keeps the fixed values until it is reloaded' "undo says sshd needs a reload"
diff -r "$W/orig" "$R" >/dev/null
ok $? "--undo: the image is byte for byte the original (diff -r)"
ok "$(cmp -s "$W/orig/etc/ssh/sshd_config" "$R/etc/ssh/sshd_config"; echo $?)" "sshd_config cmp equal"
is "$(stat -c '%a %u %g' "$R/etc/ssh/sshd_config")" "640 65534 65534" "mode and owner restored"
ok "$([ ! -e "$cfg" ]; echo $?)" "created client config removed"
is "$("$SSHDOCTOR" audit --undo)" "nothing to undo" "second --undo: nothing to undo"

# 4. First value wins: the effective line is in an included file; a line
#    appended at the end would never take effect, ours goes on top.
mkdir -p "$W/inc"
echo "ServerAliveInterval 900" >"$W/inc/a.conf"
printf 'Include %s/inc/*.conf\nHost *\n  ServerAliveInterval 900\n' "$W" >"$W/cfgB"
chmod 644 "$W/cfgB"
cp "$W/cfgB" "$W/cfgB.orig"
out=$("$SSHDOCTOR" audit --root "$R" -F "$W/cfgB" hostb --fix --yes); rc=$?
is "$(ssh -G -F "$W/cfgB" hostb | awk '/^serveraliveinterval /{print $2}')" 60 "ssh -G -F: 60 although an Include set 900 first"
is "$(sed -n 2p "$W/cfgB")" "ServerAliveInterval 60" "the line sits at the top"
is "$(cat "$W/inc/a.conf")" "ServerAliveInterval 900" "the included file is not edited"
is "$(stat -c %a "$W/cfgB")" 644 "mode kept"
"$SSHDOCTOR" audit --undo >/dev/null
ok "$(cmp -s "$W/cfgB" "$W/cfgB.orig"; echo $?)" "--undo restores -F file byte for byte"

# 5. In place: the winning line inside a Host block is rewritten, not shadowed.
printf 'Host hostc\n    ServerAliveInterval 0\n    User c\nHost *\n    ServerAliveInterval 30\n' >"$W/cfgC"
"$SSHDOCTOR" audit --root "$R" -F "$W/cfgC" hostc --fix --yes --idle-timeout 100 >/dev/null
is "$(sed -n 2p "$W/cfgC")" "    ServerAliveInterval 50" "winning line rewritten in place, indentation kept"
is "$(ssh -G -F "$W/cfgC" hostc | awk '/^serveraliveinterval /{print $2}')" 50 "ssh -G: 50 (100 s / 2)"
"$SSHDOCTOR" audit --undo >/dev/null

# 6. sshd -t rejects the config: nothing is touched, no change set.
echo "Ciphers no-such-cipher" >>"$R/etc/ssh/sshd_config"
chown 65534:65534 "$R/etc/ssh/sshd_config"
rm -rf "$W/orig2"
cp -a "$R" "$W/orig2"
sets_before=$(ls "$XDG_STATE_HOME/sshdoctor/fix" | wc -l)
err=$("$SSHDOCTOR" audit --root "$R" host1 --fix --yes 2>&1 >/dev/null); rc=$?
is "$rc" 74 "failing sshd -t: exit 74"
like "$err" 'sshd -t rejects the new server config' "says sshd -t rejected it"
diff -r "$W/orig2" "$R" >/dev/null
ok $? "failing sshd -t: every file untouched (client too)"
is "$(ls "$XDG_STATE_HOME/sshdoctor/fix" | wc -l)" "$sets_before" "failing sshd -t: no change set"
ls "$R$PWHOME/.ssh"/config.sshdoctor-* >/dev/null 2>&1
ok $((!$?)) "no temp files left"

# 7. --undo refuses to overwrite an edit made after the fix.
sed -i '$d' "$R/etc/ssh/sshd_config"
"$SSHDOCTOR" audit --root "$R" host1 --fix --yes >/dev/null
echo "# my own edit" >>"$R$PWHOME/.ssh/config"
cp -a "$R" "$W/orig3"
err=$("$SSHDOCTOR" audit --undo 2>&1); rc=$?
is "$rc" 74 "--undo after a foreign edit: exit 74"
like "$err" 'changed after sshdoctor wrote it' "--undo explains"
diff -r "$W/orig3" "$R" >/dev/null
ok $? "--undo restored nothing (a set is restored whole or not at all)"

# 8. An image without host keys yet (first boot generates them) can be fixed.
R2="$W/root2"
mkdir -p "$R2/etc/ssh"
printf 'PasswordAuthentication no\nClientAliveInterval 0\n' >"$R2/etc/ssh/sshd_config"
"$SSHDOCTOR" audit --root "$R2" host1 --fix --yes >/dev/null; rc=$?
is "$rc" 0 "image without host keys: --fix --yes works"
is "$(sed -n 2p "$R2/etc/ssh/sshd_config")" "ClientAliveInterval 60" "image: winning line rewritten in place"
ok "$(ls "$R2/etc/ssh" | grep -c key)" "image: no host key left behind by the check"

# 9. The kernel, from the image's own sysctl files (never this machine's live
#    values), and planned last: only when no SSH keepalive will protect.
R3="$W/root3"	# no sshd here, and a client whose -o beats every file
mkdir -p "$R3/etc/sysctl.d" "$R3/usr/lib/sysctl.d"
echo "net.ipv4.tcp_keepalive_time = 9000" >"$R3/usr/lib/sysctl.d/50-vendor.conf"
echo "net.ipv4.tcp_keepalive_time = 30" >"$R3/etc/sysctl.d/60-ka.conf"	# sorts last: wins
json=$("$SSHDOCTOR" --json audit -o ServerAliveInterval=0 --root "$R3" host1 --idle-timeout 50 --fix)
is "$(jget measurements.audit.kernel.tcp_keepalive_time <<<"$json")" 30 "--root: tcp_keepalive_time from the image's sysctl.d"
like "$(jget measurements.fix.notes <<<"$json")" 'command line wins' "-o ServerAliveInterval: client not edited, says why"
is "$(jget measurements.fix.diff <<<"$json")" "" "image kernel beats 50s: no kernel change"
rm "$R3/etc/sysctl.d/60-ka.conf"
json=$("$SSHDOCTOR" --json audit -o ServerAliveInterval=0 --root "$R3" host1 --idle-timeout 50)
is "$(jget measurements.audit.kernel.tcp_keepalive_time <<<"$json")" 9000 "--root: a vendor sysctl.d file counts"
rm "$R3/usr/lib/sysctl.d/50-vendor.conf"
out=$("$SSHDOCTOR" --color=never audit -o ServerAliveInterval=0 --root "$R3" host1 --idle-timeout 50 --fix --yes)
like "$(cat "$R3/etc/sysctl.d/90-sshdoctor-keepalive.conf")" 'net.ipv4.tcp_keepalive_time = 25' \
	"TCPKeepAlive the only protection left: sysctl file written in the image"
like "$out" 'sysctl not applied under --root' "no sysctl applied under --root"
"$SSHDOCTOR" audit --undo >/dev/null
ok "$([ ! -e "$R3/etc/sysctl.d/90-sshdoctor-keepalive.conf" ]; echo $?)" "--undo removes the image's sysctl file"
out=$("$SSHDOCTOR" --color=never audit --root "$R" host1 --idle-timeout 50 --fix)
like "$out" '\+ServerAliveInterval 25' "--idle-timeout 50: the client fix"
ok "$(grep -q '^# new file .*90-sshdoctor-keepalive' <<<"$out"; echo $((!$?)))" "--idle-timeout 50: the client fix cures, no kernel change"

# 10. A CRLF file keeps its CRs when a line is rewritten.
printf 'Host hostd\r\n    ServerAliveInterval 0\r\n    User d\r\n' >"$W/cfgD"
"$SSHDOCTOR" audit --root "$R" -F "$W/cfgD" hostd --fix --yes --idle-timeout 100 >/dev/null
is "$(sed -n 2p "$W/cfgD" | od -An -c | tr -s ' \n' ' ')" "$(printf '    ServerAliveInterval 50\r\n' | od -An -c | tr -s ' \n' ' ')" \
	"CRLF line rewritten with its CR"
"$SSHDOCTOR" audit --undo >/dev/null

# 11. As root, state another user could have written is refused.
EV="$W/evil"
mkdir -p "$EV/sshdoctor/fix"
chown -R nobody "$EV"
err=$(XDG_STATE_HOME="$EV" "$SSHDOCTOR" audit --undo 2>&1); rc=$?
is "$rc" 74 "root, state dir owned by nobody: --undo refused (exit 74)"
like "$err" "owned by uid 65534, not root" "says whose the state directory is"
printf 'Host *\n' >"$W/cfgE"
err=$(XDG_STATE_HOME="$EV" "$SSHDOCTOR" audit --root "$R" -F "$W/cfgE" host1 --fix --yes 2>&1); rc=$?
is "$rc" 74 "root, state dir owned by nobody: --fix --yes refused"
like "$err" "owned by uid 65534, not root" "... says why"
is "$(cat "$W/cfgE")" "Host *" "... and nothing written"
# A root-owned state dir, but a hand-made manifest naming a file --fix never edits.
G="$W/gstate"
SET="$G/sshdoctor/fix/0000000000001-000001"
mkdir -p "$SET"
chmod -R go-w "$G"
echo "root's precious file" >"$W/victim"
cp "$W/victim" "$W/victim.orig"
echo "attacker" >"$SET/0.orig"
sha=$(sha256sum <"$W/victim" | cut -d' ' -f1)
osha=$(sha256sum <"$SET/0.orig" | cut -d' ' -f1)
printf '{ "id": "0000000000001-000001", "time": 1, "command": "audit --fix", "complete": true,
  "undone": false, "files": [ { "path": "%s", "role": "client", "explicit": false,
  "existed": true, "backup": "0.orig", "mode": 420, "uid": 0, "gid": 0,
  "original_sha256": "%s", "written_sha256": "%s", "written": true } ] }\n' \
	"$W/victim" "$osha" "$sha" >"$SET/manifest.json"
chmod 600 "$SET/manifest.json"
err=$(XDG_STATE_HOME="$G" "$SSHDOCTOR" audit --undo 2>&1); rc=$?
is "$rc" 74 "root, manifest naming a file --fix never edits: refused"
like "$err" 'names a file sshdoctor --fix never edits' "says so"
ok "$(cmp -s "$W/victim" "$W/victim.orig"; echo $?)" "the named file is untouched"
chmod 666 "$SET/manifest.json"
err=$(XDG_STATE_HOME="$G" "$SSHDOCTOR" audit --undo 2>&1); rc=$?
is "$rc" 74 "root, manifest writable by others: refused"
like "$err" 'manifest.json is writable by others' "says the manifest is writable by others"
chmod 600 "$SET/manifest.json"
chown nobody "$SET/manifest.json"
err=$(XDG_STATE_HOME="$G" "$SSHDOCTOR" audit --undo 2>&1); rc=$?
like "$err" 'manifest.json is not owned by root' "root, manifest owned by nobody: refused"
rm -rf "$G"

# 12. Symlinks as root: followed only to a file of the link's owner; a dangling
#     link stays a link, and undo removes only the file it created.
echo "Host *" >"$W/rootfile"
cp "$W/rootfile" "$W/rootfile.orig"
ln -s "$W/rootfile" "$W/nlink"
chown -h nobody "$W/nlink"
err=$("$SSHDOCTOR" audit --root "$R" -F "$W/nlink" host1 --fix --yes 2>&1); rc=$?
is "$rc" 74 "root: a nobody-owned symlink to a root file is refused"
like "$err" 'symlink \(owner uid 65534\) to .*rootfile \(owner uid 0\)' "says which link and owners"
ok "$(cmp -s "$W/rootfile" "$W/rootfile.orig"; echo $?)" "the link's target is untouched"
ln -s "$W/rootfile" "$W/rlink"
"$SSHDOCTOR" audit --root "$R" -F "$W/rlink" host1 --fix --yes >/dev/null; rc=$?
is "$rc" 0 "root: a root-owned symlink to a root file is followed"
ok "$([ -L "$W/rlink" ]; echo $?)" "... and stays a symlink"
like "$(cat "$W/rootfile")" 'ServerAliveInterval 60' "... its target edited"
"$SSHDOCTOR" audit --undo >/dev/null
ok "$(cmp -s "$W/rootfile" "$W/rootfile.orig"; echo $?)" "--undo restores the target"
# ~/.ssh/config a dotfile manager's link to a file not created yet.
R4="$W/root4"
mkdir -p "$R4$PWHOME/.ssh" "$R4$PWHOME/dotfiles"
dlink="$R4$PWHOME/.ssh/config"
ln -s ../dotfiles/ssh_config "$dlink"
"$SSHDOCTOR" audit --root "$R4" host1 --fix --yes >/dev/null; rc=$?
is "$rc" 0 "dangling symlink: --fix --yes works"
ok "$([ -L "$dlink" ] && [ -f "$R4$PWHOME/dotfiles/ssh_config" ]; echo $?)" "dangling symlink stays a link, its target created"
out=$("$SSHDOCTOR" audit --undo)
ok "$([ -L "$dlink" ] && [ ! -e "$R4$PWHOME/dotfiles/ssh_config" ]; echo $?)" "--undo removes the created target, keeps the link"
like "$out" 'the symlink .*/.ssh/config stays' "--undo says the link stays"

# 13. Setuid/setgid bits survive (owner set first, then the mode).
printf 'Host *\n' >"$W/cfgS"
chown nobody:nogroup "$W/cfgS"
chmod 6640 "$W/cfgS"
"$SSHDOCTOR" audit --root "$R" -F "$W/cfgS" host1 --fix --yes >/dev/null
is "$(stat -c '%a %U' "$W/cfgS")" "6640 nobody" "owner and setuid/setgid bits kept"
"$SSHDOCTOR" audit --undo >/dev/null
is "$(stat -c '%a %U' "$W/cfgS")" "6640 nobody" "--undo: owner and setuid/setgid bits kept"

# 14. --undo --list shows every set; --undo ID undoes one (not the last).
printf 'Host *\n' >"$W/cfgL1"
printf 'Host *\n' >"$W/cfgL2"
"$SSHDOCTOR" audit --root "$R" -F "$W/cfgL1" host1 --fix --yes >/dev/null
"$SSHDOCTOR" audit --root "$R" -F "$W/cfgL2" host1 --fix --yes >/dev/null
list=$("$SSHDOCTOR" audit --undo --list)
is "$(wc -l <<<"$list")" "$(ls "$XDG_STATE_HOME/sshdoctor/fix" | wc -l)" "--undo --list: one line per change set"
like "$list" 'applied: .*cfgL2' "--list: the newest set, applied"
like "$list" 'undone: ' "--list: undone sets too"
id1=$(grep 'cfgL1' <<<"$list" | cut -d' ' -f1)
out=$("$SSHDOCTOR" audit --undo "$id1"); rc=$?
is "$rc" 0 "--undo ID exit 0"
is "$(cat "$W/cfgL1")" "Host *" "--undo ID restored that set's file"
like "$(cat "$W/cfgL2")" 'ServerAliveInterval' "... and left the newer set alone"
err=$("$SSHDOCTOR" audit --undo "$id1" 2>&1); rc=$?
is "$rc" 74 "--undo ID twice: refused"
like "$err" 'already undone' "... says so"
err=$("$SSHDOCTOR" audit --undo ../../etc 2>&1); rc=$?
like "$err" 'not a change set id' "--undo with a bad id"
"$SSHDOCTOR" audit --undo >/dev/null
is "$(cat "$W/cfgL2")" "Host *" "--undo: the remaining set"

# 15. Ctrl-C during the write waits until the set is complete (a slow ssh makes
#     the post-write check last long enough to be interrupted).
mkdir -p "$W/slowbin"
printf '#!/bin/sh\nsleep 0.3\nexec /usr/bin/ssh "$@"\n' >"$W/slowbin/ssh"
chmod +x "$W/slowbin/ssh"
printf 'Host *\n' >"$W/cfgI"
cp "$W/cfgI" "$W/cfgI.orig"
before=$(ls "$XDG_STATE_HOME/sshdoctor/fix" | sort)
PATH="$W/slowbin:$PATH" "$SSHDOCTOR" audit --root "$R" -F "$W/cfgI" host1 --fix --yes >/dev/null 2>&1 &
pid=$!
new=""
for _ in $(seq 1 100); do	# until the set has its manifest and the file is written
	new=$(comm -13 <(echo "$before") <(ls "$XDG_STATE_HOME/sshdoctor/fix" | sort))
	[ -n "$new" ] && grep -q ServerAlive "$W/cfgI" && break
	sleep 0.05
done
kill -INT "$pid"
wait "$pid"; rc=$?
is "$rc" 130 "Ctrl-C during apply: delivered after the set (exit 130)"
like "$(cat "$XDG_STATE_HOME/sshdoctor/fix/$new/manifest.json" 2>&1)" '"complete": ?true' "the interrupted set is complete"
"$SSHDOCTOR" audit --undo >/dev/null
ok "$(cmp -s "$W/cfgI" "$W/cfgI.orig"; echo $?)" "... and undoable"

# 16. Not root: your own state, your own symlinked dotfile.
N="$W/nobody"
mkdir -p "$N/state" "$N/dot"
printf 'Host *\n' >"$N/dot/config"
ln -s "$N/dot/config" "$N/link"
chown -R nobody:nogroup "$N"
chmod 755 "$W"
asn() { setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$N" XDG_STATE_HOME="$N/state" "$@"; }
asn "$SSHDOCTOR" audit --root "$R" -F "$N/link" host1 --fix --yes >/dev/null; rc=$?
is "$rc" 0 "non-root: --fix --yes through your own symlink"
like "$(cat "$N/dot/config")" 'ServerAliveInterval 60' "non-root: the target edited"
ok "$([ -L "$N/link" ]; echo $?)" "non-root: the link stays"
asn "$SSHDOCTOR" audit --undo >/dev/null; rc=$?
is "$rc" 0 "non-root: --undo"
is "$(cat "$N/dot/config")" "Host *" "non-root: --undo restored the target"

# 17. Live, but never this machine's: in a network namespace of our own
#     (tcp_keepalive_* are per netns) and a private mount namespace with empty
#     /etc/ssh and /etc/sysctl.d, --fix applies the kernel change (TCPKeepAlive the
#     only protection left) and --undo puts the live values back that it changed.
NS="sshdoctor-fix-$$"
host_before=$(cat /proc/sys/net/ipv4/tcp_keepalive_time)
ip netns add "$NS"
ok $? "netns $NS created (needs root)"
trap 'ip netns del "$NS" 2>/dev/null; rm -rf "$W"' EXIT
cat >"$W/inner.sh" <<'INNER'
set -u
mount -t tmpfs tmpfs /etc/ssh && mount -t tmpfs tmpfs /etc/sysctl.d || exit 2
k=/proc/sys/net/ipv4/tcp_keepalive_time
echo 7000 >$k
echo "before $(cat $k)"
"$SSHDOCTOR" --color=never audit -o ServerAliveInterval=0 host1 --idle-timeout 50 --fix --yes >"$W/ns-fix.out" 2>&1
echo "fixrc $?"
echo "after $(cat $k)"
"$SSHDOCTOR" --color=never audit --undo >"$W/ns-undo.out" 2>&1
echo "undorc $?"
echo "undone $(cat $k)"
echo "files $(ls /etc/sysctl.d | wc -l)"
INNER
res=$(ip netns exec "$NS" unshare -m --propagation private env SSHDOCTOR="$SSHDOCTOR" W="$W" \
	XDG_STATE_HOME="$XDG_STATE_HOME" bash "$W/inner.sh" 2>&1)
like "$res" 'before 7000' "netns: tcp_keepalive_time set to 7000 inside"
like "$res" 'fixrc 1' "netns: --fix --yes exit 1 (the -o ServerAliveInterval=0 warning stays)"
like "$(cat "$W/ns-fix.out")" 'applied /etc/sysctl.d/90-sshdoctor-keepalive.conf' "netns: the sysctl file applied"
like "$res" 'after 25' "netns: live tcp_keepalive_time 25 after --fix"
like "$res" 'undorc 0' "netns: --undo exit 0"
like "$(cat "$W/ns-undo.out")" 'restored live net.ipv4.tcp_keepalive_time = 7000' "netns: --undo says which live value it restored"
like "$res" 'undone 7000' "netns: live tcp_keepalive_time 7000 again after --undo"
like "$res" 'files 0' "netns: the sysctl file removed"
is "$(cat /proc/sys/net/ipv4/tcp_keepalive_time)" "$host_before" "this machine's tcp_keepalive_time untouched"
ok "$([ ! -e /etc/sysctl.d/90-sshdoctor-keepalive.conf ]; echo $?)" "nothing written to this machine's /etc"
done_testing
