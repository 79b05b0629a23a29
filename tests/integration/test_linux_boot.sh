#!/usr/bin/env bash
# Debian's stock kernel (the bzImage of linux-image-amd64) boots under Skiff
# with 1 and 2 vCPUs to a busybox shell on the serial console, runs what is
# typed there, ticks with the LAPIC timer in TSC-deadline mode (not the
# PIT), and stops the VM with `reboot -f` (reboot=k: Linux resets through
# the i8042, Skiff exits 0). Bad bzImages and initrds are refused with
# status 2 before any guest starts.
#
# The guest comes from tools/linux-guest, which must have run on the machine
# first (it downloads Debian's kernel package; a test host cannot). Run
# through tools/kvm-host --mem 3G.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

# A Linux boot under the emulated CPU of a test host takes 30-60 s; three
# boots at this bound stay inside the test's kvm-host --timeout.
LINUX_TIMEOUT=${LINUX_TIMEOUT:-240}
BASE_CMDLINE='console=ttyS0 reboot=k'

# shellcheck source=tests/integration/linux_guest.sh
. "$(dirname "$0")/linux_guest.sh"

elapsed() {
	local now=${EPOCHREALTIME/[.,]/} start=${started/[.,]/}
	printf '%d.%d' $(((now - start) / 1000000)) $(((now - start) / 100000 % 10))
}

# kvm_cap N: KVM_CHECK_EXTENSION(N) on /dev/kvm.
kvm_cap() {
	python3 -c 'import fcntl, os, sys
print(fcntl.ioctl(os.open("/dev/kvm", os.O_RDWR), 0xae03, int(sys.argv[1])))' "$1"
}

# Skiff offers TSC-deadline in CPUID when KVM has it (every KVM since Linux
# 3.8), and Linux then ticks with the LAPIC in that mode on every CPU.
# Without it Linux checks its LAPIC timer against the PIT at boot, and on a
# busy host falls back to the PIT (see architecture.md, Boot).
KVM_CAP_TSC_DEADLINE_TIMER=72
clockevent=lapic-deadline
if ! tsc_deadline=$(kvm_cap $KVM_CAP_TSC_DEADLINE_TIMER 2>"$TEST_TMP/kvm_cap.err"); then
	echo "# cannot ask KVM for KVM_CAP_TSC_DEADLINE_TIMER: $(cat "$TEST_TMP/kvm_cap.err")"
elif [ "$tsc_deadline" = 0 ]; then
	clockevent=lapic
fi
echo "# KVM_CAP_TSC_DEADLINE_TIMER ${tsc_deadline:-unknown}: expecting $clockevent"

# read_rtc TAG: sets rtc to the guest's RTC (rtc_cmos, through ports
# 0x70-0x71) in seconds since the epoch, as its "TAG=N" line says.
read_rtc() {
	# shellcheck disable=SC2016 # expanded by the guest's shell
	type_line "echo \"$1=\$(cat /sys/class/rtc/rtc0/since_epoch)\""
	expect_wait "the guest reads its RTC ($1)" "^$1=[0-9]+"
	rtc=$(grep -aoE "^$1=[0-9]+" "$out" | tail -n1 | cut -d= -f2)
}

# near A B SLACK: whether A and B differ by SLACK seconds at most.
near() {
	local d=$(($1 - ${2:-0}))
	((d <= $3 && d >= -$3))
}

# The guest finds the CMOS clock and reads the host's time from it; a time
# it sets (hwclock -w: Linux's rtc_cmos with the SET bit) sticks and runs
# on. Slack for a shell command under an emulated CPU.
check_rtc() {
	local later=$(($(date +%s) + 400 * 86400)) rtc=0
	# shellcheck disable=SC2016
	type_line 'echo "rtc-name=$(cat /sys/class/rtc/rtc0/name)"'
	expect_wait "the guest has a CMOS RTC" '^rtc-name=rtc_cmos'
	read_rtc rtc-now
	check "the guest's RTC reads the host's time ($rtc against $(date +%s))" \
		near "$rtc" "$(date +%s)" 60
	type_line "date -u -s @$later >/dev/null && hwclock -w -u && echo rtc-set=\$?"
	expect_wait "hwclock -w sets the RTC" '^rtc-set=0'
	read_rtc rtc-later
	check "the RTC keeps the time the guest set ($rtc against $later)" near "$rtc" "$later" 60
}

# --- boots to a shell, with 1 and 2 vCPUs --------------------------------

for cpus in 1 2; do
	start_skiff "shell$cpus" run --kernel "$KERNEL" --initrd "$INITRD" --mem 512M \
		--cpus "$cpus" --cmdline "$BASE_CMDLINE"
	expect_boot "$cpus vCPU(s): busybox shell on the console" 'skiff-linux: shell on the console'
	expect_wait "$cpus vCPU(s): the kernel starts" '^\[ *[0-9.]+\] Linux version 6\.'
	expect_wait "$cpus vCPU(s): the e820 map has RAM from 1 MiB to the end of --mem" \
		'BIOS-e820: \[mem 0x0000000000100000-0x000000001fffffff\] usable'
	expect_wait "$cpus vCPU(s): the MP table is found" 'found SMP MP-table at \[mem 0x0009fc00'
	expect_wait "$cpus vCPU(s): the initrd sits at the top of RAM" \
		'RAMDISK: \[mem 0x[0-9a-f]+-0x1fffffff\]'
	echo "# $cpus vCPU(s): shell after $(elapsed) s"
	# shellcheck disable=SC2016 # expanded by the guest's shell
	type_line 'echo "typed-$((6 * 7)) cpus=$(grep -c ^processor /proc/cpuinfo)"'
	expect_wait "$cpus vCPU(s): the shell runs a typed command" '^typed-42 '
	expect_line "$cpus vCPU(s): /proc/cpuinfo lists $cpus processor(s)" "$out" \
		"^typed-42 cpus=$cpus"
	# shellcheck disable=SC2016
	type_line 'echo "modules=$(wc -l </proc/modules) cmdline=$(cat /proc/cmdline)"'
	expect_wait "$cpus vCPU(s): virtio modules loaded" '^modules=1[0-9] '
	expect_line "$cpus vCPU(s): the command line reaches the kernel" "$out" \
		"cmdline=$BASE_CMDLINE"
	# shellcheck disable=SC2016
	type_line 'echo "clockevents=$(sort -u /sys/devices/system/clockevents/clockevent*/current_device | tr "\n" " ")tsc-deadline-cpus=$(grep -c "^flags.* tsc_deadline_timer" /proc/cpuinfo)"'
	expect_wait "$cpus vCPU(s): every CPU's clock event device is $clockevent" \
		"^clockevents=$clockevent tsc-deadline-cpus="
	if [ "$clockevent" = lapic-deadline ]; then
		expect_line "$cpus vCPU(s): every CPU has the tsc_deadline_timer flag" "$out" \
			"^clockevents=[^=]*tsc-deadline-cpus=$cpus"
	fi
	[ "$cpus" = 1 ] && check_rtc
	type_line 'reboot -f'
	stop_skiff
	expect_status "$cpus vCPU(s): reboot -f stops the VM" 0
	expect_line "$cpus vCPU(s): through the i8042 reset" "$err" 'guest requested a reset'
done

# --- a command from the kernel command line, quiet, no console input -----

run_skiff runcmd '' run --kernel "$KERNEL" --initrd "$INITRD" --mem 256M \
	--cmdline "$BASE_CMDLINE quiet skiff.run=\"echo mem=\$(sed -n 's/MemTotal: *//p' /proc/meminfo)\""
expect_status "skiff.run: the VM stops after the command" 0
expect_line "skiff.run: the command runs and sees the RAM" "$out" '^mem=[0-9]{6} kB'
expect_line "skiff.run: its status is reported" "$out" 'skiff-linux: exit status 0'
check "quiet: no kernel messages" bash -c "! grep -q 'Linux version' '$out'"

# --- bad input: status 2, a message naming file and problem, no guest ----

# patch FILE OFFSET BYTES: overwrites bytes (printf escapes) in place.
patch() {
	printf '%b' "$3" | dd of="$1" bs=1 seek=$(($2)) conv=notrunc status=none
}

k=$TEST_TMP/kernels
mkdir -p "$k"
head -c 65536 "$KERNEL" >"$k/truncated"
cp "$KERNEL" "$k/badmagic" && patch "$k/badmagic" 0x202 'XXXX'
cp "$KERNEL" "$k/oldproto" && patch "$k/oldproto" 0x206 '\x0b\x02'
cp "$KERNEL" "$k/no64" && patch "$k/no64" 0x236 '\x00\x00'
: >"$k/empty.cpio"
truncate -s 300M "$k/huge.cpio"
truncate -s 60M "$k/big.cpio"

expect_usage_error truncated "kernel '$k/truncated': truncated: the setup header announces" \
	run --kernel "$k/truncated"
expect_usage_error bad_magic "kernel '$k/badmagic': bad magic: no 'HdrS'" \
	run --kernel "$k/badmagic"
expect_usage_error old_protocol "kernel '$k/oldproto': boot protocol 2.11 is too old" \
	run --kernel "$k/oldproto"
expect_usage_error not_64bit "kernel '$k/no64': not 64-bit capable.*XLF_KERNEL_64" \
	run --kernel "$k/no64"
expect_usage_error small_ram "kernel '$KERNEL': the kernel needs [0-9]+ MiB of RAM" \
	run --kernel "$KERNEL" --mem 32M
expect_usage_error long_cmdline "--cmdline: 2100 bytes is longer than this kernel's limit" \
	run --kernel "$KERNEL" --cmdline "$(head -c 2100 /dev/zero | tr '\0' x)"
expect_usage_error initrd_missing "initrd '$k/none.cpio': No such file or directory" \
	run --kernel "$KERNEL" --initrd "$k/none.cpio"
expect_usage_error initrd_directory "initrd '$k': not a regular file" \
	run --kernel "$KERNEL" --initrd "$k"
expect_usage_error initrd_empty "initrd '$k/empty.cpio': the file is empty" \
	run --kernel "$KERNEL" --initrd "$k/empty.cpio"
expect_usage_error initrd_larger_than_ram \
	"initrd '$k/huge.cpio': larger than the guest's 256 MiB of RAM" \
	run --kernel "$KERNEL" --initrd "$k/huge.cpio" --mem 256M
expect_usage_error initrd_no_room "initrd '$k/big.cpio': 60 MiB does not fit in guest RAM" \
	run --kernel "$KERNEL" --initrd "$k/big.cpio" --mem 128M
expect_usage_error initrd_pvh "--initrd: kernel 'bundled guest' is a PVH ELF kernel" \
	run --initrd "$INITRD"

# Unreadable: as nobody, on a copy of the kernel nobody may read.
if command -v setpriv >/dev/null; then
	chmod 755 "$TEST_TMP" "$k"
	cp "$KERNEL" "$k/vmlinuz" && chmod 644 "$k/vmlinuz"
	cp "$INITRD" "$k/secret.cpio" && chmod 600 "$k/secret.cpio"
	skiff=$SKIFF
	SKIFF=setpriv
	expect_usage_error initrd_unreadable "initrd '$k/secret.cpio': Permission denied" \
		--reuid=65534 --regid=65534 --clear-groups -- "$skiff" \
		run --kernel "$k/vmlinuz" --initrd "$k/secret.cpio"
	SKIFF=$skiff
fi

finish
