#!/bin/bash
# Runs every benchmark (bench/<name>.sh); each prints its own figures and the ratio
# against a baseline measured in the same run. BENCH="idle logs" picks some.
set -u
cd "$(dirname "$0")/.."
rc=0
for b in bench/*.sh; do
	name=$(basename "$b" .sh)
	[ "$name" = run ] && continue
	if [ -n "${BENCH:-}" ] && ! echo " $BENCH " | grep -q " $name "; then continue; fi
	echo "== bench: $name"
	bash "$b" || rc=1
done
exit $rc
