#!/usr/bin/env bash
# Virtio over PCI with the bundled guest on KVM: virtio-blk on a real image
# file (data on the host after exit, read-only, lock against a second
# writer), virtio-rng, bad --disk arguments, and a guest that breaks a
# virtqueue: the device needs a reset, the VMM and other devices go on.
. "$(dirname "$0")/lib.sh"

img=$TEST_TMP/disk.img
truncate -s 16M "$img"

# The guest writes a sector, fills and verifies 2 MiB, zeroes a sector.
run_skiff blk 'pci\nblk info\nblk write 5 hello+from+the+guest\nblk read 5\nblk flush\nblk write 9 to+be+zeroed\nblk zero 9 1\nblk discard 100 8\nblk fill 1000 4096\nblk verify 1000 4096\nrng 16\nrng 16\ninfo\nvirtio pcicfg blk0\nvirtio pcicfg rng0\npoweroff\n' \
	run --cpus 2 --disk "$img" --rng --metrics "$TEST_TMP/blk.json"
expect_status "blk and rng session" 0
expect_line "virtio-blk on the PCI bus" "$out" '^pci 00:0[0-9]\.0 1af4:1042 .*virtio-blk'
expect_line "virtio-rng on the PCI bus" "$out" '^pci 00:0[0-9]\.0 1af4:1044 .*virtio-rng'
expect_line "capacity of a 16 MiB image" "$out" '^blk0: capacity 32768 sectors, rw, id disk.img'
expect_line "write completes" "$out" '^blk0: wrote sector 5'
expect_line "read returns what was written" "$out" '^blk0: sector 5: hello from the guest'
expect_line "flush completes" "$out" '^blk0: flushed'
expect_line "fill 2 MiB" "$out" '^blk0: filled 4096 sectors'
expect_line "verify 2 MiB" "$out" '^blk0: verified 4096 sectors'
expect_line "rng returns bytes" "$out" '^rng: [0-9a-f]{32}'
check "two rng reads differ" test "$(grep -c '^rng: ' "$out")" -eq 2 -a \
	"$(grep '^rng: ' "$out" | sort -u | wc -l)" -eq 2
expect_line "info lists the devices" "$out" '^virtio: .*blk0.*rng0'
# Virtio 1.x 4.1.4.9: the PCI configuration access window reaches the BAR.
expect_line "blk0 through the PCI config window" "$out" \
	'^virtio: blk0: PCI config window reads features 0x[0-9a-f]+, as the BAR does'
expect_line "rng0 through the PCI config window" "$out" \
	'^virtio: rng0: PCI config window reads features 0x[0-9a-f]+, as the BAR does'
check "written sector is in the host image" \
	grep -q 'hello from the guest' <(dd if="$img" bs=512 skip=5 count=1 status=none)
check "zeroed sector is zero in the host image" \
	cmp -s <(dd if="$img" bs=512 skip=9 count=1 status=none) <(head -c 512 /dev/zero)
# --metrics: what the device did, as the guest asked it (2 MiB filled and
# verified, two one-sector writes and a read, one flush, zero, discard).
m=$TEST_TMP/blk.json
check "--metrics names the disk" grep -q "\"path\": \"$img\"" "$m"
check "--metrics: at least 2 MiB + 1 KiB written ($(metric "$m" written_bytes))" \
	test "$(metric "$m" written_bytes)" -ge $(((4096 + 2) * 512))
check "--metrics: at least 2 MiB + 512 bytes read ($(metric "$m" read_bytes))" \
	test "$(metric "$m" read_bytes)" -ge $(((4096 + 1) * 512))
for kind in flushes write_zeroes discards; do
	check "--metrics: one of $kind ($(metric "$m" $kind))" test "$(metric "$m" $kind)" = 1
done
check "--metrics: no failed request" test "$(metric "$m" failed)" = 0

# The same requests with the I/O thread polling never (a kick per
# request) and for 1 us (each window ends at once: notifications come
# back on and the ring is looked at again, over and over).
for poll in 0 1; do
	run_skiff "poll$poll" 'blk fill 2000 2048\nblk verify 2000 2048\nblk read 5\npoweroff\n' \
		run --disk "$img" --io-poll "$poll"
	expect_status "--io-poll $poll session" 0
	expect_line "--io-poll $poll: fill 1 MiB" "$out" '^blk0: filled 2048 sectors'
	expect_line "--io-poll $poll: verify 1 MiB" "$out" '^blk0: verified 2048 sectors'
	expect_line "--io-poll $poll: earlier write still there" "$out" \
		'^blk0: sector 5: hello from the guest'
done

# Read-only: writes fail cleanly, the image is untouched.
before=$(md5sum <"$img")
run_skiff ro 'blk info\nblk write 5 overwritten\nblk read 5\npoweroff\n' run --disk "$img,ro" \
	--metrics "$TEST_TMP/ro.json"
expect_status "read-only disk session" 0
expect_line "read-only disk is reported ro" "$out" '^blk0: capacity 32768 sectors, ro'
expect_line "write to a read-only disk fails" "$out" '^blk0: write failed: status 1'
expect_line "read-only disk still reads" "$out" '^blk0: sector 5: hello from the guest'
check "read-only image unchanged" test "$(md5sum <"$img")" = "$before"
check "--metrics: the refused write counts as failed, nothing written" \
	test "$(metric "$TEST_TMP/ro.json" failed)/$(metric "$TEST_TMP/ro.json" writes)" = 1/0

# A second VMM cannot open the image while the first one runs.
fifo=$TEST_TMP/first.in
mkfifo "$fifo"
"$SKIFF" run --disk "$img" <"$fifo" >"$TEST_TMP/first.out" 2>&1 &
first=$!
exec 3>"$fifo"
for _ in $(seq 1 "$GUEST_TIMEOUT"); do
	contains "$TEST_TMP/first.out" '^skiff-guest ready' && break
	sleep 1
done
run_skiff second '' run --disk "$img"
expect_status "second writer refused" 2
expect_line "lock conflict is named" "$err" "disk '$img': locked by another process"
printf 'poweroff\n' >&3
exec 3>&-
status=0
wait "$first" || status=$?
out=$TEST_TMP/first.out
expect_status "first VMM unaffected" 0

# Bad --disk arguments.
run_skiff nodisk '' run --disk "$TEST_TMP/missing.img"
expect_status "missing image" 2
expect_line "missing image is named" "$err" "disk '$TEST_TMP/missing.img': No such file or directory"
run_skiff badopt '' run --disk "$img,rw"
expect_status "unknown disk option" 2
expect_line "unknown disk option is named" "$err" "--disk: unknown option 'rw'"

# A guest that corrupts blk's queue: that device needs a reset, rng works on.
run_skiff broken 'virtio break blk0\nblk read 5\nrng 8\npoweroff\n' run --disk "$img" --rng
expect_status "VMM survives a malicious queue" 0
expect_line "VMM names the broken rule" "$err" 'virtio-blk: .*device needs reset'
expect_line "guest sees NEEDS_RESET" "$out" 'blk0: device needs reset'
expect_line "other device still works" "$out" '^rng: [0-9a-f]{16}'

finish
