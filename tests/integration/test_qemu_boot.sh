#!/usr/bin/env bash
# The same skiff-guest.elf that Skiff boots also boots under QEMU on KVM
# (PVH -kernel boot), on microvm and q35, and powers off through
# isa-debug-exit (QEMU then exits with (0 << 1) | 1 = 1).
. "$(dirname "$0")/lib.sh"

qemu_boot() {
	local machine=$1 cpus=$2 mem=$3
	status=0
	out=$TEST_TMP/qemu-$machine.out
	err=$TEST_TMP/qemu-$machine.err
	printf 'info\npoweroff\n' | timeout "$GUEST_TIMEOUT" qemu-system-x86_64 -accel kvm \
		-M "$machine" -cpu host -m "$mem" -smp "$cpus" -nodefaults -no-user-config \
		-display none -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 \
		-kernel "$GUEST_ELF" >"$out" 2>"$err" || status=$?
	expect_status "QEMU $machine: poweroff through isa-debug-exit" 1
	expect_line "QEMU $machine: boot completes" "$out" '^skiff-guest ready'
	expect_line "QEMU $machine: all $cpus CPUs online" "$out" "^cpus: $cpus online"
	expect_line "QEMU $machine: memory size" "$out" "^mem: $mem MiB"
}

qemu_boot microvm 4 192
qemu_boot q35 2 128
finish
