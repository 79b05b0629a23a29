#!/usr/bin/env bash
# The bundled guest boots on KVM with 1 and 4 vCPUs, reports the CPUs and
# memory it was given, and powers off with status 0.
# Run through tools/kvm-host (--mmu tdp or --mmu shadow).
. "$(dirname "$0")/lib.sh"

mmu=unknown
[ -r /sys/module/kvm_amd/parameters/npt ] && mmu=$(cat /sys/module/kvm_amd/parameters/npt)
echo "# kvm_amd npt=$mmu"

for cpus in 1 4; do
	mem=$((cpus * 64 + 64))
	run_skiff "boot$cpus" 'info\npoweroff\n' run --cpus "$cpus" --mem "${mem}M"
	expect_status "$cpus vCPU(s): poweroff" 0
	expect_line "$cpus vCPU(s): boot completes" "$out" '^skiff-guest ready'
	expect_line "$cpus vCPU(s): info counts the CPUs" "$out" "^cpus: $cpus online"
	expect_line "$cpus vCPU(s): info reports the memory size" "$out" "^mem: $mem MiB"
	expect_line "$cpus vCPU(s): memory map has RAM above 1 MiB" "$out" \
		'0x0000000000100000-0x[0-9a-f]+ usable'
	expect_line "$cpus vCPU(s): guest sees KVM" "$out" 'hypervisor: KVMKVMKVM'
	expect_line "$cpus vCPU(s): poweroff is announced" "$out" 'skiff-guest: powering off'
done

# No stdin at all: the command line drives the guest, output to a file.
run_skiff autorun '' run --console "file:$TEST_TMP/console.log" \
	--cmdline 'autorun=echo+hello+from+autorun;poweroff'
out=$TEST_TMP/console.log
expect_status "autorun with file console" 0
expect_line "console file holds guest output" "$out" '^hello from autorun'

# --console none still runs the guest to poweroff.
run_skiff quiet '' run --console none --cmdline 'autorun=poweroff'
expect_status "console none" 0
check "console none prints nothing" test ! -s "$out"

finish
