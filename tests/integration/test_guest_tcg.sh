#!/usr/bin/env bash
# Boots the guest under QEMU's software CPU (no KVM needed) on q35 and
# microvm with 1 and 4 CPUs, and checks the boot, `info`, echo, uptime,
# input from a pipe, autorun and poweroff through isa-debug-exit.
# Usage: tests/integration/test_guest_tcg.sh [path/to/skiff-guest.elf]
# Ends with "N passed, M failed"; exits non-zero on a failure, 77 when
# qemu-system-x86_64 is missing.
set -u

ELF=${1:-build/guest/skiff-guest.elf}
QEMU=${QEMU:-qemu-system-x86_64}
TIMEOUT=${GUEST_TIMEOUT:-240}
command -v "$QEMU" >/dev/null || { echo "skip: $QEMU not installed"; exit 77; }
[ -r "$ELF" ] || { echo "no guest image at $ELF"; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/guest-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

check() { # DESCRIPTION FILE EXTENDED-REGEX
	if grep -Eq -- "$3" "$2"; then
		passed=$((passed + 1))
		echo "ok - $1"
	else
		failed=$((failed + 1))
		echo "not ok - $1: no line matching '$3'"
		sed 's/^/    /' "$2" | tail -n 30
	fi
}

# boot NAME MACHINE CPUS INPUT [APPEND]: output in $tmp/NAME, status in $status
boot() {
	local name=$1 machine=$2 cpus=$3 input=$4 append=${5:-}
	status=0
	printf '%b' "$input" | timeout "$TIMEOUT" "$QEMU" -M "$machine" -cpu max -smp "$cpus" \
		-m 128M -display none -serial stdio -no-reboot -kernel "$ELF" \
		-device isa-debug-exit,iobase=0xf4,iosize=4 ${append:+-append "$append"} \
		>"$tmp/$name" 2>&1 || status=$?
	tr -d '\r' <"$tmp/$name" >"$tmp/$name.txt"
	out=$tmp/$name.txt
}

for machine in q35 microvm; do
	for cpus in 1 4; do
		what="$machine, $cpus CPU(s)"
		boot "$machine$cpus" "$machine" "$cpus" 'info\necho  piped   input\r\nuptime\npoweroff\n'
		check "$what: boot completes" "$out" '^skiff-guest ready$'
		check "$what: all CPUs online" "$out" "^cpus: $cpus online$"
		check "$what: memory size" "$out" '^mem: 128 MiB$'
		check "$what: RAM above 1 MiB in the map" "$out" '^  0x0000000000100000-0x[0-9a-f]{16} usable$'
		check "$what: mmu line" "$out" '^mmu: 4-level paging, cr0=0x[0-9a-f]+ .*efer=0x[0-9a-f]+'
		check "$what: echo from a pipe" "$out" '^piped input$'
		check "$what: uptime" "$out" '^up [0-9]+\.[0-9]{3} s$'
		check "$what: poweroff announced" "$out" '^skiff-guest: powering off$'
		check "$what: QEMU exit status 1 (isa-debug-exit 0)" <(echo "$status") '^1$'
	done
done

boot autorun microvm 2 '' 'autorun=echo+hello+from+autorun;bogus;poweroff'
check "autorun runs commands" "$out" '^hello from autorun$'
check "unknown command" "$out" '^unknown command: bogus \(try help\)$'
check "autorun poweroff" <(echo "$status") '^1$'

boot mptable q35 4,sockets=4 'info\npoweroff\n' 'acpi=off'
check "MP table path finds the CPUs" "$out" '^skiff-guest: MP table lists 4 CPU'
check "MP table path: 4 online" "$out" '^cpus: 4 online$'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
