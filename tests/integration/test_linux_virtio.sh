#!/usr/bin/env bash
# Debian's stock kernel drives Skiff's virtio devices with its own drivers:
# with --cpus 2 --disk IMG --rng --net tap=TAP, virtio_pci binds the three
# functions, the virtio bus lists a network device (ID 1, virtio_net), a
# block device (ID 2, virtio_blk) and an entropy source (ID 4, virtio_rng),
# /dev/hwrng returns bytes from virtio_rng, both CPUs are online, the guest
# pings the host over the tap and the host pings the guest, and TCP runs
# both ways over checksum and segmentation offloads. Through the control
# queue the guest turns its receive offloads off (rx-gro-hw, with
# skiff-net feature: no ethtool in the guest) and on again, goes
# promiscuous and changes its MAC, and data still flows.
# The guest makes an ext2 file system on /dev/vda with
# busybox's mke2fs (ext2 is served by the ext4 module in the initramfs),
# writes files, unmounts, reads them back after dropping its caches, and
# reboots; the host then reads the same files out of the image with
# debugfs and checks the file system with e2fsck, both from e2fsprogs,
# which need no loop device (a test host has no loop module). With
# --disk IMG,ro Linux sees a read-only disk: /sys/block/vda/ro is 1, a
# write to /dev/vda fails, the image stays unchanged. That second boot has
# pci=nomsi: its disk and rng interrupts arrive over INTx, through the
# IO-APIC pins the MP table names.
#
# The guest comes from tools/linux-guest, which must have run on the machine
# first. Run as root through tools/kvm-host --mem 3G;
# every address is in 169.254.0.0/16.
# Guest commands are in single quotes: the guest's shell expands them.
# shellcheck disable=SC2016
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

# A Linux boot under the emulated CPU of a test host takes 15-60 s.
LINUX_TIMEOUT=${LINUX_TIMEOUT:-300}
SKIFF_NET=${SKIFF_NET:-build/skiff-net}
BASE_CMDLINE='console=ttyS0 reboot=k'
PATH=$PATH:/usr/sbin:/sbin

# shellcheck source=tests/integration/linux_guest.sh
. "$(dirname "$0")/linux_guest.sh"
for tool in debugfs e2fsck ip; do
	if ! command -v "$tool" >/dev/null; then
		not_ok "$tool is installed (Debian packages e2fsprogs, iproute2)"
		finish
		exit
	fi
done

TAP=sklx0
HOST_IP=169.254.101.1
GUEST_IP=169.254.101.2
remove_tap() {
	ip link del "$TAP" 2>/dev/null
	rm -rf "$TEST_TMP"
}
trap remove_tap EXIT
[ -c /dev/net/tun ] || modprobe tun 2>/dev/null
if ! ip tuntap add dev "$TAP" mode tap; then
	not_ok "cannot create tap $TAP (is the tun module loaded?)"
	finish
	exit
fi
ip addr add "$HOST_IP/16" dev "$TAP"
ip link set "$TAP" up

img=$TEST_TMP/disk.img
truncate -s 64M "$img"
# The files the guest writes: a short one, and one of 108894 bytes that
# needs ext2's indirect blocks (1 KiB blocks: 12 direct, then indirect).
hello='hello from Linux on Skiff'
numbers_md5=$(seq 1 20000 | md5sum | cut -d' ' -f1)

# --- read-write disk, rng, network, 2 vCPUs ----------------------------

start_skiff rw run --kernel "$KERNEL" --initrd "$INITRD" --mem 512M --cpus 2 \
	--disk "$img" --rng --net "tap=$TAP" --cmdline "$BASE_CMDLINE" --metrics "$TEST_TMP/rw.json"
expect_boot "the guest's shell starts" 'skiff-linux: shell on the console'
expect_line "virtio_blk announces a 64 MiB disk" "$out" \
	'virtio_blk virtio[0-9]+: \[vda\] 131072 512-byte logical blocks'

# Every virtio device: its ID and the driver bound to it.
run_guest 'for d in /sys/bus/virtio/devices/*; do echo "vdev ${d##*/} id=$(cat $d/device) driver=$(basename "$(readlink $d/driver)")"; done'
expect_line "virtio bus: a block device (ID 2) bound to virtio_blk" "$out" \
	'^vdev virtio[0-9]+ id=0x0002 driver=virtio_blk'
expect_line "virtio bus: an entropy device (ID 4) bound to virtio_rng" "$out" \
	'^vdev virtio[0-9]+ id=0x0004 driver=virtio_rng'
expect_line "virtio bus: a network device (ID 1) bound to virtio_net" "$out" \
	'^vdev virtio[0-9]+ id=0x0001 driver=virtio_net'
check "virtio bus: exactly those three devices" \
	test "$(grep -c '^vdev ' "$out")" -eq 3
# And the PCI functions underneath them, bound to virtio-pci.
run_guest 'for d in /sys/bus/pci/devices/*; do echo "pcidev $(cat $d/vendor):$(cat $d/device) driver=$(basename "$(readlink $d/driver)")"; done'
expect_line "PCI: virtio-blk (1af4:1042) bound to virtio-pci" "$out" \
	'^pcidev 0x1af4:0x1042 driver=virtio-pci'
expect_line "PCI: virtio-rng (1af4:1044) bound to virtio-pci" "$out" \
	'^pcidev 0x1af4:0x1044 driver=virtio-pci'
expect_line "PCI: virtio-net (1af4:1041) bound to virtio-pci" "$out" \
	'^pcidev 0x1af4:0x1041 driver=virtio-pci'
run_guest 'grep -q "PCI-MSI.*virtio" /proc/interrupts && echo "msi yes"'
expect_line "with MSI-X, the virtio interrupts are PCI-MSI ones" "$out" '^msi yes'

# The network: the guest pings the host, the host pings the guest.
run_guest "ip link set eth0 up && ip addr add $GUEST_IP/16 dev eth0; echo \"ifup \$?\""
expect_line "eth0 is up with $GUEST_IP" "$out" '^ifup 0'
run_guest "ping -c 3 -W 10 $HOST_IP >/tmp/ping.log 2>&1; grep transmitted /tmp/ping.log | sed 's/^/gping /'"
expect_line "the guest's 3 pings to the host are answered" "$out" \
	'^gping 3 packets transmitted, 3 packets received'
if busybox ping -c 3 -W 20 -w 120 "$GUEST_IP" >"$TEST_TMP/ping.out" 2>&1; then
	ok "the host's 3 pings to the guest are answered"
else
	not_ok "the host's 3 pings to the guest are answered"
	show "$TEST_TMP/ping.out"
fi
run_guest 'echo "eth0 rx=$(cat /sys/class/net/eth0/statistics/rx_packets) tx=$(cat /sys/class/net/eth0/statistics/tx_packets)"'
line=$(value eth0)
check "the guest's eth0 counted the frames ($line)" \
	grep -Eq 'rx=([6-9]|[1-9][0-9]+) tx=([6-9]|[1-9][0-9]+)' <<<"$line"

# TCP over the offloads: Linux's virtio_net took checksum and segmentation
# offloads both ways and mergeable receive buffers, and 8 MiB each way
# arrive intact (skiff-net --check: every byte depends on its offset) in
# far fewer frames than the 5793 full-MTU ones 8 MiB would take.
run_guest 'for d in /sys/bus/virtio/devices/*; do [ "$(cat $d/device)" = 0x0001 ] && echo "netfeat $(cat $d/features)"; done'
feat=$(value netfeat)
for bit in 0:CSUM 1:GUEST_CSUM 7:GUEST_TSO4 8:GUEST_TSO6 11:HOST_TSO4 12:HOST_TSO6 15:MRG_RXBUF \
	17:CTRL_VQ 2:CTRL_GUEST_OFFLOADS 18:CTRL_RX 23:CTRL_MAC_ADDR; do
	check "the guest's virtio_net negotiated ${bit#*:}" test "${feat:${bit%%:*}:1}" = 1
done
stats='echo "frames tx=$(cat /sys/class/net/eth0/statistics/tx_packets) rx=$(cat /sys/class/net/eth0/statistics/rx_packets)"'
frames() { value frames | sed -n "s/.*$1=\([0-9]*\).*/\1/p"; }
port=$((5200 + RANDOM % 100))
run_guest "$stats"
tx0=$(frames tx)
timeout 200 "$SKIFF_NET" recv --check "$port" >"$TEST_TMP/g2h.host" 2>&1 &
host_pid=$!
run_guest "skiff-net send --check $HOST_IP $port 8 >/tmp/g2h.log 2>&1; echo \"g2h rc=\$?\""
wait "$host_pid"
expect_line "guest to host: the host received 8 MiB, every byte right" \
	"$TEST_TMP/g2h.host" '^skiff-net: recv bytes=8388608 '
run_guest "$stats"
tx1=$(frames tx)
check "guest to host: 8 MiB left in fewer than 3000 frames ($((tx1 - tx0)))" \
	test $((tx1 - tx0)) -lt 3000
# Request and response: the first request kicks the transmit queue and
# from then on the I/O thread polls it (its notifications off), so each
# next request must be found by the I/O thread's looks, not by a kick;
# 200 round trips of 64 bytes each way come back intact.
timeout 200 "$SKIFF_NET" pong "$((port + 3))" >"$TEST_TMP/rr.host" 2>&1 &
host_pid=$!
run_guest "skiff-net ping $HOST_IP $((port + 3)) 200 >/tmp/rr.log 2>&1; echo \"rr rc=\$? \$(cat /tmp/rr.log)\""
wait "$host_pid"
expect_line "request/response: 200 round trips of 64 bytes come back" "$out" \
	'^rr rc=0 skiff-net: ping rounds=200 bytes=25600 '
# host_to_guest NAME PORT MIB WHAT: the host sends MIB MiB, the guest
# checks every byte; the frames it took are in $rx_frames.
host_to_guest() {
	local name=$1 port=$2 mib=$3 rx0
	run_guest "$stats"
	rx0=$(frames rx)
	run_guest "skiff-net recv --check $port $mib >/tmp/$name.log 2>&1 & echo $name started"
	timeout 200 "$SKIFF_NET" send --check "$GUEST_IP" "$port" "$mib" >"$TEST_TMP/$name.host" 2>&1
	run_guest "wait; echo \"$name rc=\$? \$(tail -n 1 /tmp/$name.log)\""
	expect_line "$4: the guest received $mib MiB, every byte right" "$out" \
		"^$name rc=0 skiff-net: recv bytes=$((mib << 20)) "
	run_guest "$stats"
	rx_frames=$(($(frames rx) - rx0))
}
host_to_guest h2g $((port + 1)) 8 "host to guest"
check "host to guest: 8 MiB came in fewer than 3000 frames ($rx_frames)" \
	test "$rx_frames" -lt 3000

# The control queue. Kernels before 5.15 called virtio_net's receive
# offloads LRO, turned them off for forwarding, and warned "failed to
# disable LRO!" when the device could not; 6.1 calls them GRO_HW and
# keeps them for forwarding, so its log must just stay clean.
# virtio_net's own warnings ("Failed to set ...", "Fail to set guest
# offload.") and the forwarding one all say "fail".
ctrl_warnings='dmesg | grep -E "virtio|eth0" | grep -ciE "fail(ed)? to "'
run_guest "echo 1 >/proc/sys/net/ipv4/ip_forward; echo \"fwd \$(cat /proc/sys/net/ipv4/ip_forward) warn \$($ctrl_warnings)\""
expect_line "ip_forward on, and no 'failed to disable LRO' in the kernel log" "$out" '^fwd 1 warn 0'
# What turns them off in 6.1 is ethtool -K eth0 rx-gro-hw off: virtio_net
# sends VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET with checksums only.
run_guest 'r=$(skiff-net feature eth0 rx-gro-hw off 2>&1); echo "grohw $r rc=$?"'
check "rx-gro-hw off: the device took GUEST_OFFLOADS_SET ($(value grohw))" \
	test "$(value grohw)" = "skiff-net: feature rx-gro-hw off rc=0"
# Promiscuous mode: VIRTIO_NET_CTRL_RX_PROMISC, acked (virtio_net warns
# otherwise), changes nothing. IFF_PROMISC is 0x100 (busybox's ip link
# does not show it).
run_guest "ip link set eth0 promisc on; echo \"promisc rc=\$? flag=\$((\$(cat /sys/class/net/eth0/flags) & 0x100)) warn \$($ctrl_warnings)\""
expect_line "promisc on: the device acked VIRTIO_NET_CTRL_RX_PROMISC" "$out" \
	'^promisc rc=0 flag=256 warn 0'
# With the receive offloads off the tap segments what the host sends: no
# frame carries more than an MTU, so 2 MiB take at least 1400 frames
# (2 MiB / 1448-byte segments = 1449), where offloaded ones take far fewer.
host_to_guest h2g2 $((port + 2)) 2 "promisc, offloads off"
check "offloads off: 2 MiB came in at least 1400 frames, none over the MTU ($rx_frames)" \
	test "$rx_frames" -ge 1400
run_guest 'r=$(skiff-net feature eth0 rx-gro-hw on 2>&1); echo "grohw $r rc=$?"'
check "rx-gro-hw on again ($(value grohw))" \
	test "$(value grohw)" = "skiff-net: feature rx-gro-hw on rc=0"
# A new MAC: VIRTIO_NET_CTRL_MAC_ADDR_SET (Linux refuses the change if the
# device does); the host then learns it from the guest's ARP reply.
new_mac=52:54:00:12:34:99
run_guest "ip link set eth0 address $new_mac; echo \"newmac rc=\$?\""
expect_line "the guest's new MAC: the device acked VIRTIO_NET_CTRL_MAC_ADDR_SET" "$out" \
	'^newmac rc=0'
ip neigh del "$GUEST_IP" dev "$TAP" 2>/dev/null
if busybox ping -c 2 -W 20 -w 60 "$GUEST_IP" >"$TEST_TMP/ping2.out" 2>&1 &&
	ip neigh show "$GUEST_IP" dev "$TAP" | grep -q "$new_mac"; then
	ok "the host pings the guest at its new MAC $new_mac"
else
	not_ok "the host pings the guest at its new MAC $new_mac"
	show "$TEST_TMP/ping2.out"
	ip neigh show dev "$TAP"
fi
run_guest "echo \"ctrlwarn \$($ctrl_warnings)\""
check "no control command failed in the guest's kernel log" test "$(value ctrlwarn)" = 0

run_guest 'echo "online $(cat /sys/devices/system/cpu/online) $(nproc)"'
expect_line "2 CPUs online" "$out" '^online 0-1 2'

run_guest 'echo "rngcur $(cat /sys/class/misc/hw_random/rng_current)"'
expect_line "hw_random's current source is virtio_rng" "$out" '^rngcur virtio_rng'
for i in 1 2; do
	run_guest "echo \"hwrng$i \$(dd if=/dev/hwrng bs=16 count=1 2>/dev/null | od -An -tx1 | tr -d ' \\n')\""
done
r1=$(value hwrng1)
r2=$(value hwrng2)
check "/dev/hwrng returns 16 bytes ($r1)" grep -Eqx '[0-9a-f]{32}' <<<"$r1"
check "two /dev/hwrng reads differ, and are not zeros" \
	test -n "$r1" -a "$r1" != "$r2" -a "$r1" != "00000000000000000000000000000000"

run_guest 'echo "vda ro=$(cat /sys/block/vda/ro) size=$(cat /sys/block/vda/size)"'
expect_line "/dev/vda is writable, 131072 sectors" "$out" '^vda ro=0 size=131072'

# ext2 on /dev/vda: make, mount, write, sync, unmount.
run_guest 'mke2fs -F -L skiff /dev/vda >/tmp/mkfs.log 2>&1; echo "mkfs $?"'
expect_line "mke2fs /dev/vda" "$out" '^mkfs 0'
run_guest 'mount -t ext2 /dev/vda /mnt; echo "mount $?"'
expect_line "mount the new file system" "$out" '^mount 0'
run_guest "echo '$hello' >/mnt/hello.txt && seq 1 20000 >/mnt/numbers.txt && sync; echo \"write \$?\""
expect_line "write two files and sync" "$out" '^write 0'
run_guest 'umount /mnt; echo "umount $?"'
expect_line "unmount" "$out" '^umount 0'
# Read back through the device, not the page cache.
run_guest 'echo 3 >/proc/sys/vm/drop_caches; mount -t ext2 -o ro /dev/vda /mnt && echo "back $(cat /mnt/hello.txt) $(md5sum </mnt/numbers.txt)"; umount /mnt'
expect_line "after dropping caches the guest reads the files back" "$out" \
	"^back $hello $numbers_md5"
type_line 'reboot -f'
stop_skiff
expect_status "reboot -f stops the VM" 0

# --metrics: the devices' counts. ACK moderation (the I/O thread polls
# the transmit queue while the guest streams out, and holds the receive
# interrupts of the pure ACKs coming back) engaged in the 8 MiB guest to
# host transfer.
m=$TEST_TMP/rw.json
check "--metrics: interrupts of pure ACKs were held ($(metric "$m" rx_acks_held))" \
	test "$(metric "$m" rx_acks_held)" -gt 0
check "--metrics: at least 8 MiB sent by the guest ($(metric "$m" tx_bytes))" \
	test "$(metric "$m" tx_bytes)" -ge $((8 << 20))
check "--metrics: at least 10 MiB received by the guest ($(metric "$m" rx_bytes))" \
	test "$(metric "$m" rx_bytes)" -ge $((10 << 20))
check "--metrics: the files reached the disk ($(metric "$m" written_bytes) bytes written)" \
	test "$(metric "$m" written_bytes)" -ge 108894
check "--metrics: no disk request failed ($(metric "$m" failed))" test "$(metric "$m" failed)" = 0

# The host reads the same files out of the image.
if e2fsck -fn "$img" >"$TEST_TMP/e2fsck.out" 2>&1; then
	ok "e2fsck: the file system in the image is clean"
else
	not_ok "e2fsck: the file system in the image is clean"
	show "$TEST_TMP/e2fsck.out"
fi
debugfs -R 'cat /hello.txt' "$img" >"$TEST_TMP/hello.txt" 2>"$TEST_TMP/debugfs.err"
check "the host reads hello.txt from the image" test "$(cat "$TEST_TMP/hello.txt")" = "$hello"
debugfs -R 'cat /numbers.txt' "$img" >"$TEST_TMP/numbers.txt" 2>>"$TEST_TMP/debugfs.err"
check "the host reads numbers.txt (108894 bytes) from the image" \
	test "$(md5sum <"$TEST_TMP/numbers.txt" | cut -d' ' -f1)" = "$numbers_md5"
label=$(dumpe2fs -h "$img" 2>/dev/null | sed -n 's/^Filesystem volume name: *//p')
check "the image carries the label the guest gave it ($label)" test "$label" = skiff

# --- read-only disk, interrupts over INTx ------------------------------

before=$(md5sum <"$img")
start_skiff ro run --kernel "$KERNEL" --initrd "$INITRD" --mem 512M \
	--disk "$img,ro" --rng --cmdline "$BASE_CMDLINE pci=nomsi"
expect_boot "read-only: the guest's shell starts" 'skiff-linux: shell on the console'
# /proc/interrupts: "NN: counts... IO-APIC NN-fasteoi virtioN" for both.
run_guest 'echo "intx $(grep virtio /proc/interrupts | grep -c "IO-APIC.*fasteoi") msi $(grep -c PCI-MSI /proc/interrupts)"'
expect_line "pci=nomsi: both virtio functions on IO-APIC lines, no MSI" "$out" '^intx 2 msi 0'
run_guest 'echo "hwrng3 $(dd if=/dev/hwrng bs=16 count=1 2>/dev/null | od -An -tx1 | tr -d " \n")"'
check "pci=nomsi: /dev/hwrng returns bytes over INTx" grep -Eqx '[0-9a-f]{32}' <<<"$(value hwrng3)"
run_guest 'echo "vda ro=$(cat /sys/block/vda/ro) size=$(cat /sys/block/vda/size)"'
expect_line "read-only: /sys/block/vda/ro is 1" "$out" '^vda ro=1 size=131072'
run_guest 'dd if=/dev/zero of=/dev/vda bs=4096 count=1 oflag=direct; echo "ddw $?"'
expect_line "read-only: a write to /dev/vda fails" "$out" '^ddw [1-9]'
expect_line "read-only: with EPERM" "$out" "error writing '/dev/vda': Operation not permitted"
run_guest 'mount -t ext2 -o ro /dev/vda /mnt && echo "rofile $(cat /mnt/hello.txt)"'
expect_line "read-only: the file system still mounts and reads" "$out" "^rofile $hello"
run_guest 'touch /mnt/new; echo "touch $?"'
expect_line "read-only: a new file cannot be made" "$out" '^touch [1-9]'
type_line 'reboot -f'
stop_skiff
expect_status "read-only: reboot -f stops the VM" 0
check "read-only: the image is unchanged" test "$(md5sum <"$img")" = "$before"

finish
