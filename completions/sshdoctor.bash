# bash completion for sshdoctor(1)                          -*- shell-script -*-
# Installed as $(PREFIX)/share/bash-completion/completions/sshdoctor (loaded on
# demand by bash-completion), or source it from ~/.bashrc. Needs nothing but bash.
# Commands and options are read from `sshdoctor help [COMMAND]` so they cannot
# drift from the binary; hosts from the Host lines of the ssh config in use.

# Host names of an ssh config (-F FILE, else ~/.ssh/config), one per line:
# every name on a Host line that is not a pattern (*, ?) or a negation (!).
_sshdoctor_hosts()
{
	local file=$1 line kw rest w n=0
	[[ -r $file && -f $file ]] || return 0
	while IFS= read -r line && ((n++ < 10000)); do
		line=${line#"${line%%[![:space:]]*}"}
		kw=${line%%[[:space:]=]*}
		[[ ${kw,,} == host ]] || continue
		rest=${line:${#kw}}
		rest=${rest#"${rest%%[![:space:]=]*}"}
		rest=${rest%%#*}
		# read -a splits without globbing: a '*' on a Host line stays a word
		read -r -a words <<<"$rest"
		for w in "${words[@]}"; do
			w=${w//\"/}
			[[ -z $w || $w == *[*?!]* ]] && continue
			printf '%s\n' "$w"
		done
	done <"$file"
}

# Commands of `sshdoctor help` (the lines under "commands:").
_sshdoctor_commands()
{
	"$1" help 2>/dev/null | sed -n '/^commands:/,/^$/{s/^  \([a-z][a-z-]*\) .*/\1/p}'
}

# Options of `sshdoctor help COMMAND`: the first column of each option line.
_sshdoctor_options()
{
	"$1" help "$2" 2>/dev/null |
		sed -n '/^  -\|^      --/s/^ *\(-[^ ,=[]*\)\(, \(--[^ =[]*\)\)\?.*/\1 \3/p'
}

# The values an option's help names as A|B|C (e.g. --via=ssh|tcp|preauth).
_sshdoctor_values()
{
	"$1" help "$2" 2>/dev/null | sed -n "s/^ *\(-., \)\?$3\[\?=\([a-z|]*|[a-z|]*\)\]\? .*/\2/p" |
		head -1 | tr '|' ' '
}

_sshdoctor()
{
	local cur prev words cword
	COMPREPLY=()
	words=("${COMP_WORDS[@]}")
	cword=$COMP_CWORD
	cur=${words[cword]}
	prev=${words[cword - 1]}
	local exe=${words[0]}
	command -v "$exe" >/dev/null 2>&1 || exe=sshdoctor

	# --opt=value arrives as "--opt" "=" "value" (= is in COMP_WORDBREAKS)
	if [[ $cur == = ]]; then
		prev=${words[cword - 1]}
		cur=
	elif [[ $prev == = ]] && ((cword >= 2)); then
		prev=${words[cword - 2]}
	fi

	# the command: the first word that is not an option (or an option's value)
	local cmd="" i cfg="$HOME/.ssh/config"
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		-F) cfg=${words[i + 1]/#\~/$HOME}; ((i++)) ;;
		-[plioJf] | --format | --textfile | --report | --color) ((i++)) ;;
		=) ((i++)) ;;
		-*) ;;
		*) [[ -z $cmd && ${words[i - 1]} != = ]] && cmd=${words[i]} ;;
		esac
	done

	case $prev in
	--format) COMPREPLY=($(compgen -W "text json openmetrics" -- "$cur")); return ;;
	--color) COMPREPLY=($(compgen -W "auto always never" -- "$cur")); return ;;
	-F | -i | --report | --server-config | --server-log | -f)
		COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null; return ;;
	--textfile | --root)
		COMPREPLY=($(compgen -d -- "$cur")); compopt -o filenames 2>/dev/null; return ;;
	-p | -l | -J | -o | --max | --idle-max | --idle-timeout | --resolution | --connections | \
		--count | --duration | --bulk | --timeout | --since | --until | --host | --listen | --for)
		return ;;	# a value we cannot guess
	--*)
		if [[ -n $cmd ]]; then
			local vals
			vals=$(_sshdoctor_values "$exe" "$cmd" "$prev")
			if [[ -n $vals ]]; then
				COMPREPLY=($(compgen -W "$vals" -- "$cur"))
				return
			fi
		fi ;;
	esac

	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--json --format --textfile --report --color --verbose
				--quiet --help --version" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(_sshdoctor_commands "$exe")" -- "$cur"))
		fi
		return
	fi
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_sshdoctor_options "$exe" "$cmd")" -- "$cur"))
		return
	fi
	case $cmd in
	help) COMPREPLY=($(compgen -W "$(_sshdoctor_commands "$exe")" -- "$cur")) ;;
	logs) COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null ;;
	doctor | idle | audit | connect | path | keep)
		local user=""
		if [[ $cur == *@* ]]; then
			user=${cur%%@*}@
			cur=${cur#*@}
		fi
		COMPREPLY=($(compgen -P "$user" -W "$(_sshdoctor_hosts "$cfg")" -- "$cur")) ;;
	esac
}
complete -F _sshdoctor sshdoctor
