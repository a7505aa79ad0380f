#!/bin/sh
# scripts/deb.sh OUTDIR - builds the Debian package (dpkg-buildpackage -us -uc -b)
# in a copy of this tree (the files git tracks or would track), so the build
# never touches this tree's build/; leaves the .deb, .buildinfo and .changes in
# OUTDIR and the build log in OUTDIR/build.log. Needs dpkg-dev, debhelper,
# fakeroot (make deps).
set -eu
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${1:?usage: scripts/deb.sh OUTDIR}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
SRC="$OUT/sshdoctor"
rm -rf "$SRC"
mkdir -p "$SRC"
cd "$ROOT"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -co --exclude-standard -z | xargs -0 tar -cf - --no-recursion | tar -xf - -C "$SRC"
else
	tar -cf - --exclude=./build --exclude=./.git . | tar -xf - -C "$SRC"
fi
cd "$SRC"
if ! dpkg-buildpackage -us -uc -b >"$OUT/build.log" 2>&1; then
	tail -30 "$OUT/build.log" >&2
	echo "deb: dpkg-buildpackage failed (log: $OUT/build.log)" >&2
	exit 1
fi
rm -rf "$SRC"
ls "$OUT"/*.deb
