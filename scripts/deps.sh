#!/bin/sh
# Installs the Debian packages the build, the tests and the lab need, only when
# something is missing (so a second run is instant). Run as root on Debian 12.
set -eu
PKGS="gcc make clang pkg-config libclang-rt-14-dev
libjson-c-dev libcmocka-dev zlib1g-dev libsystemd-dev
openssh-client openssh-server iproute2 nftables conntrack iputils-ping procps
valgrind gzip python3 iptables"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages:$missing (run as root, or: apt-get install$missing)" >&2
	exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends $missing >&2
