#!/bin/sh
# Installs the Debian packages the build, the tests and the lab need, only when
# something is missing (so a second run is instant). Run as root on Debian 12.
# chromium renders the HTML report (tests/integration/report_html.sh), zsh runs the
# zsh completion (cli_completion.sh); dpkg-dev, debhelper, fakeroot and lintian
# build and check the .deb (tests/deb_check.sh).
set -eu
PKGS="gcc make clang pkg-config libclang-rt-14-dev
libjson-c-dev libcmocka-dev zlib1g-dev libsystemd-dev libssl-dev libsqlite3-dev sqlite3
openssh-client openssh-server iproute2 nftables conntrack iputils-ping procps
valgrind gzip python3 iptables tmux openssl
prometheus prometheus-node-exporter curl systemd ansible-core autossh
chromium zsh
build-essential dpkg-dev fakeroot debhelper lintian"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
# sshd -T and -t refuse to run without its privilege separation directory, which
# the package normally gets from systemd at boot (absent in containers).
[ "$(id -u)" = 0 ] && [ ! -d /run/sshd ] && mkdir -p -m 755 /run/sshd
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages:$missing (run as root, or: apt-get install$missing)" >&2
	exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends $missing >&2
