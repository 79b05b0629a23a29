#!/usr/bin/env bash
# On a terminal the console is interactive: typed lines reach the guest
# shell, Ctrl-A x quits with status 0, and the terminal is restored.
. "$(dirname "$0")/lib.sh"

# wait_for FILE PATTERN: up to GUEST_TIMEOUT seconds.
wait_for() {
	for _ in $(seq 1 "$GUEST_TIMEOUT"); do
		contains "$1" "$2" && return 0
		sleep 1
	done
	return 1
}

fifo=$TEST_TMP/keys
mkfifo "$fifo"
out=$TEST_TMP/tty.out err=$TEST_TMP/tty.err
# script(1) gives skiff a pseudo-terminal as stdin and stdout, and prints
# the terminal's settings after skiff exits.
script -qfec "$SKIFF run; stty -a" /dev/null <"$fifo" >"$out" 2>"$err" &
pid=$!
exec 3>"$fifo"
check "guest boots on a terminal" wait_for "$out" 'skiff-guest ready'
printf 'echo typed+on+a+tty\r' | tr '+' ' ' >&3
check "typed line reaches the guest shell" wait_for "$out" '^typed on a tty'
printf '\001x' >&3
status=0
wait "$pid" || status=$?
exec 3>&-
expect_status "Ctrl-A x quits" 0
expect_line "terminal is back in canonical mode" "$out" '[^-]icanon'
expect_line "terminal echoes again" "$out" '[^-]echo '

finish
