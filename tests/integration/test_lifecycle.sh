#!/usr/bin/env bash
# How a guest's run ends, and what the user sees: shell commands, reset,
# a triple fault and SIGTERM.
. "$(dirname "$0")/lib.sh"

run_skiff shell 'echo one two  three\nuptime\nno-such-command\nhelp\npoweroff\n' run
expect_status "shell session" 0
expect_line "echo prints its arguments" "$out" '^one two three'
expect_line "uptime reports seconds" "$out" '^up [0-9]+\.[0-9]{3} s'
expect_line "unknown command is named" "$out" 'unknown command: no-such-command'
expect_line "help lists poweroff" "$out" 'poweroff'

run_skiff reboot 'reboot\n' run
expect_status "reboot stops the VM cleanly" 0
expect_line "reboot is reported" "$err" 'reset'

run_skiff crash 'triple-fault\n' run
expect_status "triple fault is a guest crash" 3
expect_line "crash names the triple fault" "$err" 'triple fault'

# SIGTERM: clean teardown with status 128+15.
fifo=$TEST_TMP/stdin
mkfifo "$fifo"
"$SKIFF" run <"$fifo" >"$TEST_TMP/term.out" 2>"$TEST_TMP/term.err" &
pid=$!
exec 3>"$fifo"
for _ in $(seq 1 "$GUEST_TIMEOUT"); do
	contains "$TEST_TMP/term.out" '^skiff-guest ready' && break
	sleep 1
done
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
exec 3>&-
out=$TEST_TMP/term.out err=$TEST_TMP/term.err
expect_status "SIGTERM stops the VM" 143
expect_line "SIGTERM is reported" "$err" 'signal 15'

finish
