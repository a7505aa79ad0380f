#!/bin/sh
# Fetches OpenSSH 10.0 (openssh-server + openssh-client from Debian's
# bookworm-backports suite) for the lab, WITHOUT touching the machine's apt
# configuration or installed packages: a private apt state directory with its
# own sources list, `apt-get download`, then `dpkg-deb -x` under the build tree.
# Prints the directory holding usr/sbin/sshd on success. Cached: a second run
# only checks the extracted tree.
#   OPENSSH10_DIR  where to extract (default build/openssh-10)
set -eu
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="${OPENSSH10_DIR:-$ROOT/build/openssh-10}"
SSHD="$DEST/root/usr/sbin/sshd"

ok() { [ -x "$SSHD" ] && "$SSHD" -V 2>&1 | grep -q '^OpenSSH_10\.'; }
if ok; then
	echo "$DEST/root"
	exit 0
fi

# The mirror the machine already uses (deb822 or one-line sources), so we ask
# nothing of any other host.
mirror() {
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk '/^URIs:/ && $2 ~ /debian\/?$/ && $2 !~ /security/ { print $2; exit }' "$f"
	done | head -1
	[ -f /etc/apt/sources.list ] &&
		awk '$1 == "deb" && $2 !~ /security/ && $2 ~ /debian\/?$/ { print $2; exit }' /etc/apt/sources.list
}
URI=$(mirror | head -1)
[ -n "$URI" ] || {
	echo "openssh10: FAIL: no Debian mirror found in /etc/apt/sources.list{,.d}" >&2
	exit 1
}

P="$DEST/apt"
rm -rf "$DEST/root" "$P"
mkdir -p "$P/lists/partial" "$P/cache/archives/partial" "$P/debs" "$DEST/root"
echo "deb $URI bookworm-backports main" >"$P/sources.list"
# The private state dir keeps the machine's lists, cache and sources as they are.
APT="-o Dir::Etc::SourceList=$P/sources.list -o Dir::Etc::SourceParts=/dev/null
-o Dir::State::Lists=$P/lists -o Dir::Cache=$P/cache -o Dir::State::Status=/var/lib/dpkg/status
-o APT::Get::List-Cleanup=0 -o Debug::NoLocking=1"
# shellcheck disable=SC2086
apt-get -qq $APT update >&2 || {
	echo "openssh10: FAIL: apt-get update of bookworm-backports from $URI failed" >&2
	exit 1
}
# shellcheck disable=SC2086
(cd "$P/debs" && apt-get -qq $APT download openssh-server/bookworm-backports \
	openssh-client/bookworm-backports openssh-sftp-server/bookworm-backports >&2) || {
	echo "openssh10: FAIL: could not download openssh 10 from bookworm-backports" >&2
	exit 1
}
for d in "$P"/debs/*.deb; do dpkg-deb -x "$d" "$DEST/root"; done
rm -rf "$P/cache" "$P/lists"
ok || {
	echo "openssh10: FAIL: extracted sshd does not run or is not 10.x: $("$SSHD" -V 2>&1 | head -1)" >&2
	exit 1
}
echo "$DEST/root"
