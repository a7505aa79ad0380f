#!/bin/bash
# tests/deb_check.sh (make deb-check; run once by tests/run.sh) - the Debian
# package, built and used as a user would: dpkg-buildpackage in a copy of the
# tree, lintian without errors, real shared-library Depends, dpkg -i, the
# installed sshdoctor runs, dpkg --purge leaves the machine as it was. Prints TAP.
# Needs root (dpkg -i); without it, or with sshdoctor already installed from
# elsewhere, it FAILS and touches nothing.
. "$(dirname "$0")/integration/lib.sh"

W=$(mktemp -d /tmp/sshdoctor-deb.XXXXXX)
INSTALLED=0
cleanup() {
	[ $INSTALLED = 1 ] && dpkg_locked --purge sshdoctor >/dev/null 2>&1
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# dpkg refuses while another dpkg/apt holds its lock: wait for it, bounded.
dpkg_locked() {
	local i out rc
	for i in $(seq 1 90); do
		out=$(dpkg "$@" 2>&1); rc=$?
		if [ $rc -ne 0 ] && grep -q 'lock' <<<"$out"; then
			sleep 2
			continue
		fi
		printf '%s\n' "$out"
		return $rc
	done
	printf '%s\n' "$out"
	return 1
}

if [ "$(id -u)" != 0 ]; then
	ok 1 "runs as root (dpkg -i needs it)"; done_testing; exit 1
fi
for t in dpkg-buildpackage dh lintian fakeroot; do
	command -v $t >/dev/null || { ok 1 "$t installed (run make deps)"; done_testing; exit 1; }
done
if dpkg-query -W -f='${Status}' sshdoctor 2>/dev/null | grep -q installed ||
	[ -e /usr/bin/sshdoctor ]; then
	ok 1 "sshdoctor not installed before the test (found one: not touching it)"
	done_testing; exit 1
fi
ok 0 "sshdoctor not installed before the test"

before=$(cd "$ROOT" && git status --porcelain 2>/dev/null | md5sum)
stamp=$(stat -c %Y "$ROOT/build/sshdoctor" 2>/dev/null || echo none)
"$ROOT/scripts/deb.sh" "$W" >"$W/deb.out" 2>&1
ok $? "dpkg-buildpackage -us -uc -b builds (in a copy)"
[ $? -eq 0 ] || sed 's/^/#   /' "$W/deb.out"
deb=$(ls "$W"/sshdoctor_*_*.deb 2>/dev/null | head -1)
ok $([ -f "$deb" ]; echo $?) "a .deb: $(basename "$deb")"
is "$(cd "$ROOT" && git status --porcelain 2>/dev/null | md5sum)" "$before" "the tree is as it was"
is "$(stat -c %Y "$ROOT/build/sshdoctor" 2>/dev/null || echo none)" "$stamp" "the tree's build/ untouched"
grep -q '^override_dh_auto_test:' "$ROOT/debian/rules"
ok $? "debian/rules overrides dh_auto_test"
ok $(grep -q '  CC  \|  LINK' "$W/build.log" && ! grep -q 'tests/run.sh\|lab: up\|  TEST  \|make check' \
	"$W/build.log"; echo $?) "the package build compiled, and ran no test"

lintian --fail-on error "$W"/sshdoctor_*.changes >"$W/lintian.log" 2>&1
ok $? "lintian: no errors"
grep -v '^running with root' "$W/lintian.log" | sed 's/^/# lintian: /'
is "$(grep -c '^E:' "$W/lintian.log")" 0 "lintian: no E: tag"

dep=$(dpkg-deb -f "$deb" Depends)
echo "# Depends: $dep"
like "$dep" 'libc6 \(>= [0-9.]+\)' "Depends: libc6 from shlibs"
like "$dep" 'libjson-c5' "Depends: libjson-c5 from shlibs"
like "$dep" 'libssl3' "Depends: libssl3 from shlibs"
like "$dep" 'openssh-client' "Depends: openssh-client (the ssh it drives)"
ok $(grep -q '\${' <<<"$dep"; [ $? -ne 0 ]; echo $?) "no unexpanded substitution variable"
files=$(dpkg-deb -c "$deb")
like "$files" ' \./usr/bin/sshdoctor$' "ships /usr/bin/sshdoctor"
like "$files" ' \./usr/share/man/man1/sshdoctor\.1\.gz$' "ships the man page"
like "$files" ' \./usr/share/bash-completion/completions/sshdoctor$' "ships the bash completion"
like "$files" ' \./usr/share/doc/sshdoctor/copyright$' "ships the copyright file"

out=$(dpkg_locked -i "$deb"); rc=$?
[ $rc -eq 0 ] && INSTALLED=1
ok $rc "dpkg -i"
[ $rc -eq 0 ] || sed 's/^/#   /' <<<"$out"
want=$(sed -n 's/^#define SSHDOCTOR_VERSION "\(.*\)"/\1/p' "$ROOT/src/version.h")
is "$(/usr/bin/sshdoctor --version 2>&1 | head -1)" "sshdoctor $want" "the installed sshdoctor --version"
is "$(/usr/bin/sshdoctor help >/dev/null 2>&1; echo $?)" 0 "the installed sshdoctor help"
is "$(dpkg-query -W -f='${Status}' sshdoctor 2>/dev/null)" "install ok installed" "dpkg knows it"
like "$(bash -c '. /usr/share/bash-completion/completions/sshdoctor; COMP_WORDS=(sshdoctor do)
	COMP_CWORD=1; _sshdoctor; echo "${COMPREPLY[*]}"' 2>&1)" '^doctor$' \
	"the installed completion completes with the installed binary"

out=$(dpkg_locked -r sshdoctor); rc=$?
ok $rc "dpkg -r"
dpkg_locked --purge sshdoctor >/dev/null 2>&1
[ $rc -eq 0 ] && INSTALLED=0
ok $([ ! -e /usr/bin/sshdoctor ] && [ ! -e /usr/share/man/man1/sshdoctor.1.gz ] &&
	[ ! -e /usr/share/bash-completion/completions/sshdoctor ]; echo $?) "removed: no file left"
is "$(dpkg-query -W -f='${Status}' sshdoctor 2>/dev/null)" "" "dpkg no longer knows it"
done_testing
