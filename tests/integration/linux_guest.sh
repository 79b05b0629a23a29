# Helpers for tests that drive Debian's kernel on Skiff's console (sourced
# after lib.sh, bash). Sourcing it loads the guest that tools/linux-guest
# prepared (KERNEL, INITRD) or ends the test with a failed check naming
# what to run; LINUX_TIMEOUT (seconds) bounds each VM and each wait.

if ! guest=$("$(dirname "${BASH_SOURCE[0]}")/../../tools/linux-guest" --quiet \
	2>"$TEST_TMP/linux-guest.err"); then
	not_ok "the Linux guest is prepared (run tools/linux-guest on the machine)"
	show "$TEST_TMP/linux-guest.err"
	finish
	exit
fi
eval "$guest"
echo "# kernel $KERNEL"

# Sleep without starting a process (each start is slow under the emulated CPU).
exec {NAP_FD}<> <(:)
nap() {
	read -r -t "$1" -u "$NAP_FD" _ || true
}

# start_skiff NAME ARGS...: runs skiff in the background with a FIFO as its
# stdin (the guest's console input, written with type_line) and its output
# in $out and $err; $started is when.
start_skiff() {
	local name=$1 fifo=$TEST_TMP/$1.in
	shift
	skiff_name=$name
	skiff_args=("$@")
	rm -f "$fifo"
	mkfifo "$fifo"
	out=$TEST_TMP/$name.out
	err=$TEST_TMP/$name.err
	timeout "$LINUX_TIMEOUT" "$SKIFF" "$@" <"$fifo" >"$out" 2>"$err" &
	skiff_pid=$!
	exec {to_guest}>"$fifo"
	started=$EPOCHREALTIME
}

# wait_for PATTERN: true once a line of $out matches (grep -E), false when
# skiff has exited without one or LINUX_TIMEOUT has passed.
wait_for() {
	local i
	for ((i = 0; i < LINUX_TIMEOUT * 5; i++)); do
		contains "$out" "$1" && return 0
		kill -0 "$skiff_pid" 2>/dev/null || break
		nap 0.2
	done
	contains "$out" "$1"
}

# expect_boot WHAT PATTERN: expect_wait for the line that says the guest
# started by start_skiff is up. In a test host a Linux boot now and then
# dies by triple fault, a fault of the layer below Skiff (docs/kvm-host.md,
# Known limits): such a boot is started once more, and the test says so
# and shows how the first one ended. A death after PATTERN, any other
# death, or one on a real /dev/kvm is the test's to report.
expect_boot() {
	if ! wait_for "$2" && [ "${KVM_HOST:-}" = testhost ] &&
		contains "$err" 'triple fault \(KVM_EXIT_SHUTDOWN\)'; then
		echo "# $skiff_name: the boot died by triple fault in the test host" \
			"(docs/kvm-host.md, Known limits); booting once more"
		show "$err" 5
		stop_skiff
		mv "$out" "$out.died"
		mv "$err" "$err.died"
		start_skiff "$skiff_name" "${skiff_args[@]}"
	fi
	expect_wait "$1" "$2"
}

# Typed input is sent only once the guest's shell is up: bytes that reach
# the UART before Linux opens the port are dropped by its FIFO resets. Once
# skiff has exited nothing is typed (the FIFO has no reader), so the checks
# after a failed one still run and say so.
trap '' PIPE
type_line() {
	kill -0 "$skiff_pid" 2>/dev/null || return 1
	printf '%s\n' "$1" >&"$to_guest" 2>/dev/null
}

# stop_skiff: closes the console input and waits; sets $status.
stop_skiff() {
	exec {to_guest}>&-
	status=0
	wait "$skiff_pid" || status=$?
}

# expect_wait WHAT PATTERN: a check that the guest printed PATTERN.
expect_wait() {
	if wait_for "$2"; then
		ok "$1"
	else
		not_ok "$1: no line matching '$2'"
		show "$out"
		show "$err" 10
	fi
}

# run_guest CMD: types a shell command and waits until it has run (its
# output ends with a line "@done N"; the echo of the typed line starts with
# the prompt, so it never matches). Guest output lines are matched with ^.
cmd_no=0
run_guest() {
	cmd_no=$((cmd_no + 1))
	type_line "$1; echo @done $cmd_no"
	# (Console lines end in CR LF.)
	wait_for "^@done $cmd_no([^0-9]|\$)" || {
		not_ok "guest command $cmd_no finishes: $1"
		show "$out"
		show "$err" 10
	}
}

# value KEY: the rest of the guest's last output line "KEY VALUE...".
value() {
	sed -n "s/^$1 //p" "$out" | tr -d '\r' | tail -n 1
}
