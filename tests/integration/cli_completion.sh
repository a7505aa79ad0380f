#!/bin/bash
# Bash completion (completions/sshdoctor.bash) driven as bash drives it: COMP_WORDS
# and COMP_CWORD set, _sshdoctor called, COMPREPLY asserted. Commands and options
# come from the binary under test; hosts from a private ~/.ssh/config. Then
# `make install` puts the completion where bash-completion loads it from.
# No network, no lab.
. "$(dirname "$0")/lib.sh"

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/home/.ssh" "$W/cwd"
cat >"$W/home/.ssh/config" <<'EOF'
# a comment: Host notahost
Host db1 db2 *.corp !bad
	HostName 192.0.2.10
Host web?
host   lower.example   # trailing comment
Host=eq1
  Host "quoted"
Match host matchonly
Host *
	ServerAliveInterval 30
EOF
printf 'Host other1 other-2\n' >"$W/other_config"
touch "$W/cwd/report.html" "$W/cwd/zzz"
BIN=$(cd "$(dirname "$SSHDOCTOR")" && pwd)

# comp WORD... : the sorted completions of the last word, space-separated.
comp() {
	(cd "$W/cwd" && HOME="$W/home" PATH="$BIN:$PATH" bash -c '
		. "$0" || exit 9
		COMP_WORDS=("${@}")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		_sshdoctor 2>/dev/null
		printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " " | sed "s/ $//"' \
		"$ROOT/completions/sshdoctor.bash" "$@")
}

bash -n "$ROOT/completions/sshdoctor.bash"
ok $? "the completion script parses"
is "$(basename "$SSHDOCTOR")" sshdoctor "the binary under test is called sshdoctor"
is "$(comp sshdoctor '')" "audit connect doctor echo-server help history idle keep logs path relay version" \
	"commands, from 'sshdoctor help'"
is "$(comp sshdoctor id)" "idle" "a command by prefix"
is "$(comp sshdoctor help pa)" "path" "help COMMAND"
is "$(comp sshdoctor --fo)" "--format" "a global option before the command"
is "$(comp sshdoctor --format '')" "json openmetrics text" "--format values"
is "$(comp sshdoctor --color = a)" "always auto" "--color=WHEN values"
is "$(comp sshdoctor idle --v)" "--verbose --via" "idle's options (own and global)"
is "$(comp sshdoctor path --c)" "--color --count" "path's options"
like "$(comp sshdoctor doctor --)" "(^| )--idle-max( |$).*(^| )--report( |$)" "doctor's options"
is "$(comp sshdoctor idle --via '')" "preauth ssh tcp" "--via values"
is "$(comp sshdoctor idle --via = t)" "tcp" "--via=VALUE"
is "$(comp sshdoctor doctor '')" "db1 db2 eq1 lower.example quoted" \
	"hosts of ~/.ssh/config, without patterns or negations"
is "$(comp sshdoctor idle -p 2222 d)" "db1 db2" "hosts after an option with a value"
is "$(comp sshdoctor connect root@d)" "root@db1 root@db2" "user@host"
is "$(comp sshdoctor path -F "$W/other_config" '')" "other-2 other1" "hosts of the -F config"
is "$(comp sshdoctor idle -F "$W/other_config" -p 22 o)" "other-2 other1" "... after more options"
is "$(comp sshdoctor --report x.html -i key doctor -l u d)" "db1 db2" \
	"option values are not taken for the command"
is "$(comp sshdoctor doctor --report r)" "report.html" "--report completes a file name"
is "$(comp sshdoctor logs z)" "zzz" "logs completes files"
printf 'Host *\nHost ?\n' >"$W/home/.ssh/config"
is "$(comp sshdoctor doctor '')" "" "Host * is a pattern, not a glob of the current directory"
rm -f "$W/home/.ssh/config"
is "$(comp sshdoctor doctor '')" "" "no ssh config: no hosts, no error"

# zsh: the same logic under zsh, the completion system's builtins (compadd,
# _describe, _values, _files, compset) replaced by stubs that print the candidates.
if ! command -v zsh >/dev/null; then
	ok 1 "zsh installed (run make deps)"
else
	zsh -n "$ROOT/completions/_sshdoctor"
	ok $? "the zsh completion parses"
	zcomp() {	# zcomp WORD... : candidates for the last word, sorted
		(cd "$W/cwd" && HOME="$W/home" PATH="$BIN:$PATH" zsh -f -c '
			compadd() { [[ $1 == -a ]] && print -rl -- ${(P)2}; }
			_describe() { print -rl -- ${(P)2%%:*}; }
			_values() { shift; print -rl -- "$@"; }
			_files() { print -r -- "(files)"; }
			compset() { [[ $PREFIX == *@* ]] && { PREFIX=${PREFIX#*@}; return 0; }; return 1; }
			source <(sed "/^_sshdoctor \"\$@\"\$/d" "$0")
			words=("$@"); CURRENT=$#; PREFIX=${words[CURRENT]}
			_sshdoctor' "$ROOT/completions/_sshdoctor" "$@" 2>&1 | sort | tr '\n' ' ' | sed 's/ $//')
	}
	printf 'Host zdb1 zdb2 *.corp !bad\nHost="zq"\nHost *\n' >"$W/home/.ssh/config"
	is "$(zcomp sshdoctor '')" "audit connect doctor echo-server help history idle keep logs path relay version" \
		"zsh: commands"
	is "$(zcomp sshdoctor idle --via '')" "preauth ssh tcp" "zsh: --via values"
	like "$(zcomp sshdoctor idle --)" "(^| )--via( |$)" "zsh: idle's options"
	is "$(zcomp sshdoctor doctor '')" "zdb1 zdb2 zq" "zsh: hosts without patterns"
	is "$(zcomp sshdoctor doctor -F "$W/other_config" '')" "other-2 other1" "zsh: hosts of -F"
	is "$(zcomp sshdoctor doctor --report '')" "(files)" "zsh: --report takes a file"
fi

# make install: the binary, the man page and the completion where bash-completion looks.
make -s -C "$ROOT" install DESTDIR="$W/dest" PREFIX=/usr >"$W/install.log" 2>&1
ok $? "make install DESTDIR=... PREFIX=/usr"
ok $([ -x "$W/dest/usr/bin/sshdoctor" ]; echo $?) "installs bin/sshdoctor"
ok $([ -f "$W/dest/usr/share/man/man1/sshdoctor.1" ]; echo $?) "installs the man page"
cmp -s "$ROOT/completions/sshdoctor.bash" "$W/dest/usr/share/bash-completion/completions/sshdoctor"
ok $? "installs share/bash-completion/completions/sshdoctor"
cmp -s "$ROOT/completions/_sshdoctor" "$W/dest/usr/share/zsh/vendor-completions/_sshdoctor"
ok $? "installs the zsh completion"
done_testing
