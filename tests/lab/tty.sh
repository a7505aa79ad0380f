#!/bin/bash
# tests/lab/tty.sh - drive the tool through a pseudo-terminal (a private tmux
# server), as a person at a terminal would: for password prompts. Source after
# lib.sh and lab_setup; call tty_cleanup from the EXIT trap.

TTY_SOCK="sdtty$$"
tty_cleanup() { tmux -L "$TTY_SOCK" kill-server 2>/dev/null; }

# Runs the tool in the lab's client namespace in a tmux pane (stdin a terminal;
# stdout, stderr and the exit code to LAB_DIR/NAME.out, .err, .rc) and waits,
# bounded, for its password prompt. tty_run NAME ARGS... ; 1 when no prompt came.
tty_run() {
	local name="$1"; shift
	local cmd="ip netns exec $LAB_C env HOME=$LAB_DIR/home XDG_STATE_HOME=$LAB_DIR/state"
	cmd="$cmd $SSHDOCTOR $* >$LAB_DIR/$name.out 2>$LAB_DIR/$name.err; echo \$? >$LAB_DIR/$name.rc"
	tmux -L "$TTY_SOCK" new-session -d -s "$name" -x 200 -y 50 "$cmd; sleep 900" || return 1
	local i
	for i in $(seq 1 100); do
		grep -q "password (asked once" "$LAB_DIR/$name.err" 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}

# Types the contents of FILE and Enter into pane NAME; the text is in no argv
# (tmux reads it from the file). tty_type NAME FILE
tty_type() {
	tmux -L "$TTY_SOCK" load-buffer -b pw "$2" &&
		tmux -L "$TTY_SOCK" paste-buffer -d -b pw -t "$1" &&
		tmux -L "$TTY_SOCK" send-keys -t "$1" Enter
}

# Waits, bounded, for the tool in pane NAME to exit. tty_wait NAME MAX-SECONDS
tty_wait() {
	local i
	for i in $(seq 1 "$2"); do
		[ -s "$LAB_DIR/$1.rc" ] && return 0
		sleep 1
	done
	return 1
}
