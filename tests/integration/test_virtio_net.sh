#!/usr/bin/env bash
# virtio-net on a host tap with the bundled guest on KVM: the host pings the
# guest and gets UDP datagrams echoed on port 7 while the guest idles at
# its prompt; the guest's and the tap's frame counters agree; a MAC given
# with mac= and a second device reach the guest; and every way --net can be
# wrong (name, MAC, no /dev/net/tun, no permission, a tun device, a tap in
# use, too many) is refused with status 2 before the guest starts.
# Runs as root in a test host (tools/kvm-host); every address is in
# 169.254.0.0/16.
. "$(dirname "$0")/lib.sh"

TAP=skt0
HOST_IP=169.254.100.1
GUEST_IP=169.254.100.2
MADE_LINKS=()

# Our taps are removed however the script ends (they outlive the VMM when
# the test runs directly on a KVM machine).
remove_links() {
	for link in "${MADE_LINKS[@]}"; do
		ip link del "$link" 2>/dev/null
	done
	rm -rf "$TEST_TMP"
}
trap remove_links EXIT

# make_link NAME MODE [ip tuntap options...]
make_link() {
	local name=$1 mode=$2
	shift 2
	ip tuntap add dev "$name" mode "$mode" "$@" && MADE_LINKS+=("$name")
}

# wait_for FILE PATTERN: until a line matches, the VMM exits, or the timeout.
wait_for() {
	for _ in $(seq 1 "$GUEST_TIMEOUT"); do
		contains "$1" "$2" && return 0
		kill -0 "$vmm" 2>/dev/null || break
		sleep 1
	done
	contains "$1" "$2"
}

# udp_echo PAYLOAD: sends one datagram to the guest's port 7 and prints the
# answer (one datagram, within 20 s).
udp_echo() {
	exec 5<>"/dev/udp/$GUEST_IP/7"
	printf '%s' "$1" >&5
	timeout 20 dd bs=65536 count=1 status=none <&5
	exec 5>&-
}

[ -c /dev/net/tun ] || modprobe tun 2>/dev/null
if ! make_link "$TAP" tap; then
	not_ok "cannot create tap $TAP (is the tun module loaded? /dev/net/tun: $(ls -l /dev/net/tun 2>&1))"
	finish
	exit 1
fi
ip addr add "$HOST_IP/16" dev "$TAP"
ip link set "$TAP" up

# --- A guest on the tap, kept at its prompt through a FIFO.
fifo=$TEST_TMP/guest.in
mkfifo "$fifo"
out=$TEST_TMP/net.out
err=$TEST_TMP/net.err
"$SKIFF" run --net "tap=$TAP" --cmdline "ip=$GUEST_IP/16" --metrics "$TEST_TMP/net.json" \
	<"$fifo" >"$out" 2>"$err" &
vmm=$!
exec 3>"$fifo"
if ! wait_for "$out" '^skiff-guest ready'; then
	not_ok "guest did not come up"
	show "$out"
	show "$err"
fi
expect_line "guest drives the virtio-net device" "$out" '^skiff-guest: net0 \(virtio-net'

ping_out=$TEST_TMP/ping.out
busybox ping -c 3 -W 20 -w 120 "$GUEST_IP" >"$ping_out" 2>&1
expect_line "3 pings answered" "$ping_out" '3 packets transmitted, 3 packets received'

for i in 1 2 3; do
	reply=$(udp_echo "hello skiff $i")
	check "UDP echo $i" test "$reply" = "hello skiff $i"
done
big=$(head -c 1400 /dev/zero | tr '\0' 'x')
reply=$(udp_echo "$big")
check "UDP echo of 1400 bytes" test "$reply" = "$big"

# A second VMM cannot take the tap while the first has it.
run_skiff busy '' run --net "tap=$TAP"
expect_status "tap in use" 2
expect_line "tap in use is named" "$err" "tap '$TAP': in use by another process"
out=$TEST_TMP/net.out
err=$TEST_TMP/net.err

printf 'net info\n' >&3
wait_for "$out" '^net0: mac' || true
expect_line "net info: default MAC and the address" "$out" \
	"^net0: mac 52:54:00:12:34:56 ip $GUEST_IP/16 rx [0-9]+ tx [0-9]+"
line=$(grep -E '^net0: mac' "$out" | tail -n 1)
rx=$(sed -nE 's/.* rx ([0-9]+) tx ([0-9]+).*/\1/p' <<<"$line")
tx=$(sed -nE 's/.* rx ([0-9]+) tx ([0-9]+).*/\2/p' <<<"$line")
# 3 echo requests and 4 datagrams in; their answers and the ARP
# announcement out.
check "guest received at least 7 frames (rx ${rx:-?})" test "${rx:-0}" -ge 7
check "guest sent at least 8 frames (tx ${tx:-?})" test "${tx:-0}" -ge 8
host_rx=$(cat "/sys/class/net/$TAP/statistics/rx_packets")
check "the tap got the guest's frames ($host_rx >= $tx)" test "$host_rx" -ge "${tx:-1}"

printf 'poweroff\n' >&3
exec 3>&-
status=0
wait "$vmm" || status=$?
expect_status "guest on a tap powers off" 0
check "no device error" test ! -s "$err"
# --metrics: the device's own count of what it moved, at least what the
# guest had counted before it powered off.
m=$TEST_TMP/net.json
check "--metrics names the tap" grep -q "\"tap\": \"$TAP\"" "$m"
check "--metrics: rx_frames $(metric "$m" rx_frames) >= the guest's ${rx:-?}" \
	test "$(metric "$m" rx_frames)" -ge "${rx:-1}"
check "--metrics: tx_frames $(metric "$m" tx_frames) >= the guest's ${tx:-?}" \
	test "$(metric "$m" tx_frames)" -ge "${tx:-1}"
check "--metrics: nothing dropped" \
	test "$(metric "$m" rx_dropped)/$(metric "$m" tx_dropped)" = 0/0

# --- mac= and two devices: the guest drives the first.
run_skiff two '' run --net "tap=$TAP,mac=02:53:4b:00:00:07" --net tap=skt1 \
	--cmdline 'autorun=pci;net+info;poweroff'
expect_status "two net devices" 0
check "two virtio-net functions" test "$(grep -cE '^pci 00:[0-9a-f]{2}\.0 1af4:1041 .*virtio-net' "$out")" -eq 2
expect_line "mac= reaches the guest" "$out" '^net0: mac 02:53:4b:00:00:07 '
check "a tap the VMM created is gone after it" test ! -e /sys/class/net/skt1

# --- Bad input: status 2, a message naming the problem, no guest output.
# (Where only the host can refuse, a guest that starts anyway powers off.)
expect_usage_error long_name "--net: tap name 'skiff-tap-name-x' is longer than 15 bytes" \
	run --net tap=skiff-tap-name-x
expect_usage_error short_mac "--net: mac '52:54:00:12:34' is not six hex bytes" \
	run --net "tap=$TAP,mac=52:54:00:12:34"
expect_usage_error multicast_mac "--net: mac '01:00:5e:00:00:01' is a multicast address" \
	run --net "tap=$TAP,mac=01:00:5e:00:00:01"
expect_usage_error no_tap "--net: 'mac=02:00:00:00:00:01' names no tap device" \
	run --net mac=02:00:00:00:00:01
expect_usage_error unknown_key "--net: unknown option 'model=e1000'" \
	run --net "tap=$TAP,model=e1000"
expect_usage_error five_nets "--net: at most 4 network devices" \
	run --net tap=a --net tap=b --net tap=c --net tap=d --net tap=e
make_link skt9 tun
expect_usage_error tun_device "tap 'skt9': exists but is not a single-queue tap device" \
	run --net tap=skt9 --cmdline autorun=poweroff
# A tap owned by another user, opened by root without CAP_NET_ADMIN (a
# tap with no owner is anyone's), and a host without /dev/net/tun:
# run_skiff starts $SKIFF, so these put their wrapper there.
real_skiff=$SKIFF
make_link skt2 tap user 4242
SKIFF=setpriv expect_usage_error no_permission \
	"tap 'skt2': not permitted to attach \(needs CAP_NET_ADMIN" \
	--bounding-set=-net_admin -- "$real_skiff" run --net tap=skt2 --cmdline autorun=poweroff
# shellcheck disable=SC2016
SKIFF=unshare expect_usage_error no_tun \
	"tap '$TAP': cannot open /dev/net/tun: No such file or directory" \
	--mount -- sh -c 'mount -t tmpfs none /dev/net && exec "$@"' sh \
	"$real_skiff" run --net "tap=$TAP" --cmdline autorun=poweroff

finish
