#!/usr/bin/env bash
# Bad arguments and bad kernels: a clear message naming the problem and
# exit status 2, before any guest starts; no KVM: a message pointing to
# tools/kvm-host; a host that refuses io_uring: a guest without virtio
# devices runs, an option that needs io_uring is a message naming both.
. "$(dirname "$0")/lib.sh"

WITHOUT_IO_URING=${WITHOUT_IO_URING:-build/tests/without-io-uring}

k=$TEST_TMP/kernels
mkdir -p "$k"
head -c 100 "$GUEST_ELF" >"$k/truncated.elf"
head -c 4096 /dev/urandom >"$k/random.bin"
: >"$k/empty.elf"
# The bundled guest with its machine field (offset 18) patched to AArch64.
cp "$GUEST_ELF" "$k/arm.elf"
printf '\xb7\x00' | dd of="$k/arm.elf" bs=1 seek=18 conv=notrunc status=none
# An ordinary x86-64 program: ELF, but not a PVH kernel.
cp "$(type -P true)" "$k/nopvh.elf"

expect_usage_error missing_kernel "kernel '$k/none': No such file or directory" \
	run --kernel "$k/none"
expect_usage_error directory_kernel "kernel '$k': not a regular file" run --kernel "$k"
expect_usage_error empty_kernel "kernel '$k/empty.elf': the file is empty" \
	run --kernel "$k/empty.elf"
expect_usage_error truncated_kernel "kernel '$k/truncated.elf': truncated" \
	run --kernel "$k/truncated.elf"
expect_usage_error random_kernel "not an ELF file" run --kernel "$k/random.bin"
expect_usage_error arm_kernel "ELF machine 183 \(AArch64\)" run --kernel "$k/arm.elf"
expect_usage_error nopvh_kernel "no PVH entry point" run --kernel "$k/nopvh.elf"

expect_usage_error mem_zero "--mem: 0 bytes is too small" run --mem 0
expect_usage_error mem_garbage "--mem: 'lots' is not a size" run --mem lots
expect_usage_error mem_suffix "--mem: '12Q' is not a size" run --mem 12Q
expect_usage_error mem_too_big "more than this host's" run --mem 64T
expect_usage_error mem_overflow "is not a size" run --mem 99999999999999999999G
expect_usage_error cpus_zero "--cpus: '0' is not a CPU count" run --cpus 0
expect_usage_error cpus_many "--cpus: '999' is not a CPU count" run --cpus 999
expect_usage_error console_bad "--console: 'serial' is not one of" run --console serial
expect_usage_error console_dir "--console: cannot open" run --console "file:$k/no/such/dir/log"
expect_usage_error metrics_dir "--metrics: cannot open '$k/no/such/dir/m.json': No such file or directory" \
	run --metrics "$k/no/such/dir/m.json"
# An output file that is one of the VM's inputs, however spelt, is refused
# before anything is emptied.
head -c 65536 /dev/urandom >"$k/disk.img"
disk_md5=$(md5sum <"$k/disk.img")
cp "$GUEST_ELF" "$k/guest.elf"
expect_usage_error metrics_on_disk "--metrics: '$k/./disk.img' is the file of --disk: not overwriting it" \
	run --disk "$k/disk.img" --metrics "$k/./disk.img"
check "the disk image given as --metrics is untouched" test "$(md5sum <"$k/disk.img")" = "$disk_md5"
expect_usage_error console_on_kernel "--console: '$k/guest.elf' is the file of --kernel" \
	run --kernel "$k/guest.elf" --console "file:$k/guest.elf"
check "the kernel given as --console file: is untouched" cmp -s "$GUEST_ELF" "$k/guest.elf"
expect_usage_error unknown_flag "unknown option '--frobnicate'" run --frobnicate
expect_usage_error missing_value "--mem needs a value" run --mem
expect_usage_error stray_arg "unexpected argument 'vmlinux'" run vmlinux
expect_usage_error unknown_cmd "unknown command 'fly'" fly
expect_usage_error long_cmdline "--cmdline: 5000 bytes is longer" \
	run --cmdline "$(head -c 5000 /dev/zero | tr '\0' x)"

run_skiff version '' --version
expect_status "--version" 0
expect_line "--version prints the version" "$out" '^skiff [0-9]+\.[0-9]+'
run_skiff help '' run --help
expect_status "run --help" 0
expect_line "run --help lists --kernel" "$out" '--kernel FILE'

# Without /dev/kvm: hide it in a private mount namespace.
status=0
unshare -m sh -c 'mount -t tmpfs none /dev && exec "$0" run' "$SKIFF" \
	>"$TEST_TMP/nokvm.out" 2>"$TEST_TMP/nokvm.err" </dev/null || status=$?
out=$TEST_TMP/nokvm.out err=$TEST_TMP/nokvm.err
expect_status "no /dev/kvm" 1
expect_line "no /dev/kvm: message names it" "$err" 'cannot open /dev/kvm'
expect_line "no /dev/kvm: points to tools/kvm-host" "$err" 'tools/kvm-host'

# run_without_io_uring NAME ERRNO INPUT ARGS...: run_skiff where
# io_uring_setup fails with ERRNO (EPERM or ENOSYS), as on a host with
# kernel.io_uring_disabled=2, Docker's seccomp profile or an old kernel.
run_without_io_uring() {
	local name=$1 errno=$2 input=$3 skiff=$SKIFF
	shift 3
	SKIFF=$WITHOUT_IO_URING run_skiff "$name" "$input" "$errno" "$skiff" "$@"
}

# expect_io_uring_refused NAME ERRNO MESSAGE OPTION ARGS...: without io_uring,
# ARGS make skiff stop before the guest starts, with status 1 (the host
# lacks something, as without /dev/kvm) and a message naming OPTION.
expect_io_uring_refused() {
	local name=$1 errno=$2 message=$3 option=$4
	shift 4
	run_without_io_uring "$name" "$errno" '' run "$@"
	expect_status "$name" 1
	expect_line "$name: message" "$err" \
		"^skiff run: $option needs io_uring, which this host refuses: $message"
	check "$name: no guest output" test ! -s "$out"
}

run_without_io_uring no_io_uring EPERM 'info\npoweroff\n' run
expect_status "no io_uring, no virtio device: poweroff" 0
expect_line "no io_uring, no virtio device: boot completes" "$out" '^skiff-guest ready'
expect_line "no io_uring, no virtio device: the guest powers off" "$out" \
	'skiff-guest: powering off'

img=$TEST_TMP/disk.img
head -c 1M /dev/urandom >"$img"
touch -d '2001-01-01 00:00' "$img"
before=$(stat -c '%s %Y' "$img")$(md5sum <"$img")
expect_io_uring_refused no_io_uring_disk EPERM \
	'Operation not permitted \(io_uring disabled by sysctl kernel.io_uring_disabled or a seccomp filter\?\)$' \
	--disk --disk "$img"
check "no io_uring: the disk image is untouched" \
	test "$(stat -c '%s %Y' "$img")$(md5sum <"$img")" = "$before"
expect_io_uring_refused no_io_uring_rng ENOSYS 'Function not implemented' --rng --rng
expect_io_uring_refused no_io_uring_console EPERM 'Operation not permitted' \
	'--console virtio' --console virtio

finish
