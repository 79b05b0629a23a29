# Shared helpers for Skiff's integration tests (sourced, bash).
# Each test script runs inside a KVM host (tools/kvm-host puts it there),
# counts its checks and ends with the line "N passed, M failed".

set -u

SKIFF=${SKIFF:-build/skiff}
GUEST_ELF=${GUEST_ELF:-build/guest/skiff-guest.elf}
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/skiff-test.XXXXXX")
trap 'rm -rf "$TEST_TMP"' EXIT
# Guests run nested under an emulated CPU: generous, but bounded; a VMM
# that ignores the SIGTERM at the limit is killed 10 s later.
GUEST_TIMEOUT=${GUEST_TIMEOUT:-240}

passed=0
failed=0

ok() {
	passed=$((passed + 1))
	echo "ok - $*"
}

not_ok() {
	failed=$((failed + 1))
	echo "not ok - $*"
}

# check DESCRIPTION COMMAND...: passes when COMMAND succeeds.
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}

# contains FILE PATTERN: grep -E on a file, quiet.
contains() {
	grep -Eq -- "$2" "$1"
}

# metric FILE KEY: the number after "KEY": in a --metrics file (its first
# device that has KEY); empty when there is none.
metric() {
	grep -Eo "\"$2\": [0-9]+" "$1" 2>/dev/null | head -n 1 | sed 's/.*: //'
}

show() {
	echo "---- $1"
	sed 's/^/    /' "$1" | tail -n "${2:-40}"
	echo "----"
}

# run_skiff NAME INPUT ARGS...: runs skiff with INPUT on stdin; leaves
# stdout in $TEST_TMP/NAME.out, stderr in NAME.err and the status in $status.
run_skiff() {
	local name=$1 input=$2
	shift 2
	status=0
	printf '%b' "$input" | timeout -k 10 "$GUEST_TIMEOUT" "$SKIFF" "$@" \
		>"$TEST_TMP/$name.out" 2>"$TEST_TMP/$name.err" || status=$?
	out=$TEST_TMP/$name.out
	err=$TEST_TMP/$name.err
}

# expect_status WHAT WANT: compares $status, showing output on a mismatch.
expect_status() {
	if [ "$status" -eq "$2" ]; then
		ok "$1: exit status $2"
	else
		not_ok "$1: exit status $status, expected $2"
		show "$out"
		show "$err"
	fi
}

# expect_line WHAT FILE PATTERN
expect_line() {
	if contains "$2" "$3"; then
		ok "$1"
	else
		not_ok "$1: no line matching '$3' in $(basename "$2")"
		show "$2"
	fi
}

# expect_usage_error NAME PATTERN ARGS...: skiff refuses ARGS with status 2,
# a message on stderr matching PATTERN, and no guest output.
expect_usage_error() {
	local name=$1 pattern=$2
	shift 2
	run_skiff "$name" '' "$@"
	expect_status "$name" 2
	expect_line "$name: message" "$err" "$pattern"
	check "$name: no guest output" test ! -s "$out"
}

finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
