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

# The crash report: the vCPU that crashed is dumped once (on AMD its
# registers are already the reset state, and the dump says so), the other
# vCPU in one line.
run_skiff crash 'triple-fault\n' run --cpus 2
expect_status "triple fault is a guest crash" 3
expect_line "crash names the triple fault" "$err" '^skiff: vCPU 0: triple fault'
expect_line "crash dump: general registers" "$err" '^  RAX=[0-9a-f]{16} RBX=[0-9a-f]{16} '
expect_line "crash dump: RIP, RFLAGS and CPL" "$err" \
	'^  RIP=[0-9a-f]{16} RFL=[0-9a-f]{16} \[[A-Z ]*\] CPL=[0-3]$'
expect_line "crash dump: segments" "$err" '^  CS =[0-9a-f]{4} [0-9a-f]{16} [0-9a-f]{8} [0-9a-f]{8}'
expect_line "crash dump: descriptor tables" "$err" '^  IDT=     [0-9a-f]{16} [0-9a-f]{8}$'
expect_line "crash dump: control registers" "$err" '^  CR0=[0-9a-f]{16} CR2=[0-9a-f]{16} CR3='
expect_line "crash dump: EFER" "$err" ' EFER=[0-9a-f]{16} '
expect_line "crash dump: events" "$err" '^  MP=[A-Za-z-]+ EXC=[^ ]+.* INT=[^ ]+ shadow=[01] NMI='
check "crash dump: printed once" test "$(grep -c '^  RIP=' "$err")" -eq 1
expect_line "the other vCPU: where it was" "$err" \
	'^skiff: vCPU 1 when stopped: RIP=[0-9a-f]{16} RSP=[0-9a-f]{16} .* MP=[A-Za-z-]+ EXC='

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
