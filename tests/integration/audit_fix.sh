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

mkdir -p "$R/etc/ssh/sshd_config.d" "$R$HOME"
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
like "$out" 'sysctl not applied under --root' "no sysctl applied under --root"
cfg="$R$HOME/.ssh/config"
is "$(ssh -G -F "$cfg" host1 | awk '/^serveraliveinterval /{print $2}')" 60 "ssh -G: ServerAliveInterval 60"
is "$(stat -c %a "$cfg")" 600 "client config created with mode 600"
is "$(stat -c %a "$R$HOME/.ssh")" 700 "~/.ssh created with mode 700"
is "$(sshd_T clientaliveinterval)" 60 "sshd -T: ClientAliveInterval 60"
is "$(sshd_T usedns)" no "sshd -T: UseDNS no"
is "$(sshd_T passwordauthentication)" no "security untouched: PasswordAuthentication no"
is "$(sshd_T permitrootlogin)" without-password "security untouched: PermitRootLogin"
is "$(stat -c '%a %u %g' "$R/etc/ssh/sshd_config")" "640 65534 65534" "mode and owner of sshd_config kept"
is "$(head -1 "$R/etc/ssh/sshd_config")" "Include /etc/ssh/sshd_config.d/*.conf" "main file keeps its layout"
ok "$(cmp -s "$W/orig/etc/ssh/sshd_config.d/50-cloud-init.conf" "$R/etc/ssh/sshd_config.d/50-cloud-init.conf"; echo $?)" \
	"unrelated drop-in untouched"
like "$(cat "$R/etc/sysctl.d/90-sshdoctor-keepalive.conf")" 'net.ipv4.tcp_keepalive_time = 60' "sysctl file written in the image"
n=$(ls "$XDG_STATE_HOME/sshdoctor/fix" | wc -l)
is "$n" 1 "one change set"
set=$(ls "$XDG_STATE_HOME/sshdoctor/fix")
like "$(cat "$XDG_STATE_HOME/sshdoctor/fix/$set/manifest.json")" '"complete": ?true' "manifest complete"
out=$("$SSHDOCTOR" audit --root "$R" host1 --fix)
like "$out" 'nothing to change' "a second --fix has nothing to change"

# 3. --undo: the original bytes, mode and owner; created files and dirs gone.
out=$("$SSHDOCTOR" audit --undo); rc=$?
is "$rc" 0 "--undo exit 0"
like "$out" 'restored .*/etc/ssh/sshd_config' "undo log"
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
ls "$R$HOME/.ssh"/config.sshdoctor-* >/dev/null 2>&1
ok $((!$?)) "no temp files left"

# 7. --undo refuses to overwrite an edit made after the fix.
sed -i '$d' "$R/etc/ssh/sshd_config"
"$SSHDOCTOR" audit --root "$R" host1 --fix --yes >/dev/null
echo "# my own edit" >>"$R$HOME/.ssh/config"
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
done_testing
