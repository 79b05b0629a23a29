#!/usr/bin/env bash
# The guest's PCI and virtio 1.x drivers against QEMU's own virtio devices,
# under QEMU's software CPU (no KVM needed): virtio-blk (round trip, data in
# the image after QEMU exits, flush, write-zeroes, discard, multi-request
# fill and verify, a read-only drive), virtio-rng, virtio-console (text in
# the chardev file), virtio-net (UDP echo through hostfwd while the shell
# idles; ARP, ICMP echo and UDP checks with raw frames when python3 is
# there), `pci`, `info`, MSI-X and polled queues, 64-bit BARs above 4 GiB,
# and a device that needs a reset.
# Usage: tests/integration/test_guest_virtio_tcg.sh [path/to/skiff-guest.elf]
# Ends with "N passed, M failed"; exits non-zero on a failure, 77 when
# qemu-system-x86_64 is missing.
set -u

ELF=${1:-build/guest/skiff-guest.elf}
QEMU=${QEMU:-qemu-system-x86_64}
TIMEOUT=${GUEST_TIMEOUT:-240}
command -v "$QEMU" >/dev/null || { echo "skip: $QEMU not installed"; exit 77; }
[ -r "$ELF" ] || { echo "no guest image at $ELF"; exit 2; }
ELF=$(cd "$(dirname "$ELF")" && pwd)/$(basename "$ELF")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/guest-virtio-test.XXXXXX")
qemu_pid=
cleanup() {
	[ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
passed=0
failed=0

pass() {
	passed=$((passed + 1))
	echo "ok - $1"
}

fail() { # DESCRIPTION [FILE]
	failed=$((failed + 1))
	echo "not ok - $1"
	[ -n "${2:-}" ] && [ -r "$2" ] && tr -d '\r' <"$2" | tail -n 30 | sed 's/^/    /'
}

check() { # DESCRIPTION FILE EXTENDED-REGEX
	if tr -d '\r' <"$2" | grep -Eq -- "$3"; then
		pass "$1"
	else
		fail "$1: no line matching '$3'" "$2"
	fi
}

check_eq() { # DESCRIPTION ACTUAL EXPECTED
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1: got '$2', wanted '$3'"
	fi
}

check_not() { # DESCRIPTION FILE EXTENDED-REGEX
	if tr -d '\r' <"$2" | grep -Eq -- "$3"; then
		fail "$1: unexpected line matching '$3'" "$2"
	else
		pass "$1"
	fi
}

# A UDP port nobody listens on right now (python3 asks the kernel; the
# fallback picks one at random).
free_port() {
	if command -v python3 >/dev/null; then
		python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
	else
		echo $((20000 + RANDOM % 30000))
	fi
}

# shellcheck disable=SC2054 # the commas are QEMU's, inside one argument
machine=(-M q35 -cpu max -m 256 -smp 2 -nodefaults -no-user-config -display none
	-serial stdio -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=4 -kernel "$ELF")

# run NAME INPUT APPEND QEMU-ARGS...: a whole session with piped input;
# output in $tmp/NAME, QEMU's status in $status.
run() {
	local name=$1 input=$2 append=$3
	shift 3
	status=0
	printf '%b' "$input" | timeout "$TIMEOUT" "$QEMU" "${machine[@]}" \
		${append:+-append "$append"} "$@" >"$tmp/$name" 2>&1 || status=$?
	out=$tmp/$name
}

# start NAME APPEND QEMU-ARGS...: QEMU in the background, its serial input
# on a FIFO (send writes to it), output in $tmp/NAME.
start() {
	local name=$1 append=$2
	shift 2
	out=$tmp/$name
	mkfifo "$tmp/$name.in"
	timeout "$TIMEOUT" "$QEMU" "${machine[@]}" ${append:+-append "$append"} "$@" \
		<"$tmp/$name.in" >"$out" 2>&1 &
	qemu_pid=$!
	exec {serial_in}>"$tmp/$name.in"
}

send() {
	printf '%b' "$1" >&"$serial_in"
}

# Waits for the QEMU started by start to exit (finish kill: stops it
# first); its status in $status.
finish() {
	[ "${1:-}" = kill ] && kill "$qemu_pid" 2>/dev/null
	exec {serial_in}>&-
	status=0
	wait "$qemu_pid" || status=$?
	qemu_pid=
}

# wait_for REGEX [SECONDS]: until a line of $out matches (or QEMU is gone).
wait_for() {
	local deadline=$((SECONDS + ${2:-60}))
	while [ "$SECONDS" -lt "$deadline" ]; do
		tr -d '\r' <"$out" | grep -Eq -- "$1" && return 0
		kill -0 "$qemu_pid" 2>/dev/null || break
		sleep 0.2
	done
	tr -d '\r' <"$out" | grep -Eq -- "$1"
}

# udp_echo PORT MESSAGE: sends MESSAGE to 127.0.0.1:PORT (up to 5 times, 3 s
# apart) and prints the first datagram that comes back.
udp_echo() {
	local port=$1 message=$2 reply='' fd
	exec {fd}<>"/dev/udp/127.0.0.1/$port" || return 1
	for _ in 1 2 3 4 5; do
		printf '%s' "$message" >&"$fd"
		reply=$(timeout 3 dd bs=65536 count=1 status=none <&"$fd") && [ -n "$reply" ] && break
	done
	exec {fd}>&-
	printf '%s' "$reply"
}

sector_text() { # IMAGE SECTOR: the sector's bytes without NULs
	dd if="$1" bs=512 skip="$2" count=1 status=none | tr -d '\0'
}

img=$tmp/disk.img
truncate -s 16M "$img"
printf 'stale data' | dd of="$img" bs=512 seek=6 conv=notrunc status=none

# The interactive session, once with MSI-X and once with every queue polled
# (vectors=0: no MSI-X capability). Network receive must work while the
# shell sits at the prompt: the UDP echo is sent only then.
session() { # NAME VECTORS-OPTION
	local name=$1 vectors=$2 port
	port=$(free_port)
	start "$name" 'ip=169.254.50.15/24' \
		-device "virtio-blk-pci,disable-legacy=on,drive=d0,serial=skiff-test$vectors" \
		-drive "file=$img,if=none,id=d0,format=raw" \
		-device "virtio-rng-pci,disable-legacy=on$vectors" \
		-device "virtio-serial-pci,disable-legacy=on$vectors" \
		-device virtconsole,chardev=vc -chardev "file,id=vc,path=$tmp/$name.vcon" \
		-device "virtio-net-pci,disable-legacy=on,netdev=n0$vectors" \
		-netdev "user,id=n0,net=169.254.50.0/24,host=169.254.50.2,hostfwd=udp:127.0.0.1:$port-169.254.50.15:7"
	local what="$name:"
	if ! wait_for '^skiff-guest ready$' 120; then
		fail "$what boot" "$out"
		finish kill
		return
	fi
	if [ "$name" = msix ]; then
		send 'pci\ninfo\nblk info\nblk write 5 hello+virtio+world\nblk read 5\nblk flush\n'
		send 'blk zero 6 1\nblk read 6\nblk discard 200 8\n'
		send 'blk fill 1000 2000\nblk verify 1000 2000\nblk verify 999 2\n'
	else
		send 'info\nblk read 5\nblk verify 1000 2000\nblk write 7 polled\nblk read 7\n'
	fi
	send 'rng 32\nrng 256\nvcon hello+from+the+guest\nvirtio\nnet info\n'
	if ! wait_for '^net0: mac ' 120; then
		fail "$what commands ran" "$out"
	fi
	sleep 1 # at the prompt, idle
	local reply
	reply=$(udp_echo "$port" "echo through hostfwd ($name)")
	if [ "$reply" = "echo through hostfwd ($name)" ]; then
		pass "$what UDP echo while the shell idles"
	else
		fail "$what UDP echo while the shell idles: got '$reply'" "$out"
	fi
	send 'net info\nirqs\npoweroff\n'
	if wait_for '^skiff-guest: powering off$' 60; then
		finish
	else
		fail "$what poweroff" "$out"
		finish kill
	fi

	check "$what boot completes" "$out" '^skiff-guest ready$'
	check "$what blk0 driven" "$out" '^skiff-guest: blk0 \(virtio-blk at 00:[0-9a-f]{2}\.0\): features 0x[0-9a-f]+, 1 queue, '
	check "$what rng0 driven" "$out" '^skiff-guest: rng0 \(virtio-rng at '
	check "$what vcon0 driven" "$out" '^skiff-guest: vcon0 \(virtio-console at .*2 queues'
	check "$what net0 driven" "$out" '^skiff-guest: net0 \(virtio-net at .*2 queues'
	check "$what info lists the devices" "$out" '^virtio: blk0 rng0 vcon0 net0$'
	check "$what rng 32" "$out" '^rng: [0-9a-f]{64}$'
	check "$what rng 256" "$out" '^rng: [0-9a-f]{512}$'
	check "$what vcon" "$out" '^vcon: sent 21 bytes$'
	if grep -qx 'hello from the guest' "$tmp/$name.vcon" 2>/dev/null; then
		pass "$what vcon text in the chardev file"
	else
		fail "$what vcon text in the chardev file" "$tmp/$name.vcon"
	fi
	check "$what net info" "$out" '^net0: mac 52:54:00:12:34:56 ip 169\.254\.50\.15/24 rx [1-9][0-9]* tx ([2-9]|[1-9][0-9]+)$'
	check_not "$what no device stopped" "$out" 'stopped using it'
	check "$what QEMU exit status 1 (isa-debug-exit 0)" <(echo "$status") '^1$'
	if [ "$name" = msix ]; then
		check "$what pci lists virtio-blk" "$out" '^pci 00:[0-9a-f]{2}\.0 1af4:1042 class 010000 virtio-blk$'
		check "$what pci lists virtio-net" "$out" '^pci 00:[0-9a-f]{2}\.0 1af4:1041 class 020000 virtio-net$'
		check "$what pci lists virtio-rng" "$out" '^pci 00:[0-9a-f]{2}\.0 1af4:1044 class 00ff00 virtio-rng$'
		check "$what pci lists virtio-console" "$out" '^pci 00:[0-9a-f]{2}\.0 1af4:1043 class 078000 virtio-console$'
		check "$what pci lists the host bridge" "$out" '^pci 00:00\.0 8086:29c0 class 060000 host-bridge$'
		check "$what MSI-X on" "$out" '^skiff-guest: blk0 .*msi-x, 2 vectors$'
		check "$what blk info" "$out" '^blk0: capacity 32768 sectors, rw, id skiff-test$'
		check "$what blk write" "$out" '^blk0: wrote sector 5$'
		check "$what blk read" "$out" '^blk0: sector 5: hello virtio world$'
		check "$what blk flush" "$out" '^blk0: flushed$'
		check "$what blk zero, then the sector reads empty" "$out" '^blk0: sector 6: $'
		check "$what blk discard" "$out" '^blk0: ok$'
		check "$what blk fill" "$out" '^blk0: filled 2000 sectors$'
		check "$what blk verify" "$out" '^blk0: verified 2000 sectors$'
		check "$what blk verify finds a sector never filled" "$out" '^blk0: verify failed at sector 999 byte [0-9]+: expected 0x[0-9a-f]{2}, read 0x00$'
		check "$what indirect descriptors and EVENT_IDX on blk" "$out" '^  queue 0: size [0-9]+, indirect, event-idx, '
		check "$what blk queue interrupts counted" "$out" '^  0x[0-9a-f]{2} +[1-9][0-9]*  blk0 queue 0$'
		check "$what net receive interrupts counted" "$out" '^  0x[0-9a-f]{2} +[1-9][0-9]*  net0 queue 0$'
		check_eq "$what sector 5 in the image after QEMU exits" \
			"$(sector_text "$img" 5)" "hello virtio world"
		check_eq "$what sector 6 zeroed in the image" "$(sector_text "$img" 6)" ""
	else
		check "$what every device polled" "$out" '^skiff-guest: net0 .*, polled$'
		check_not "$what no MSI-X vectors" "$out" 'msi-x'
		check "$what data from the first boot" "$out" '^blk0: sector 5: hello virtio world$'
		check "$what fill from the first boot verifies" "$out" '^blk0: verified 2000 sectors$'
		check "$what blk write and read" "$out" '^blk0: sector 7: polled$'
	fi
}

session msix ''
session polled ',vectors=0'

# A read-only drive: the device refuses writes (IOERR), the image is unchanged.
run readonly 'blk info\nblk write 9 must+not+land\nblk read 5\npoweroff\n' '' \
	-device virtio-blk-pci,disable-legacy=on,drive=d0 \
	-drive "file=$img,if=none,id=d0,format=raw,readonly=on"
check "read-only: blk info says ro" "$out" '^blk0: capacity 32768 sectors, ro, id -$'
check "read-only: write refused" "$out" '^blk0: write failed: status [12]$'
check "read-only: reads still work" "$out" '^blk0: sector 5: hello virtio world$'
check_eq "read-only: image unchanged" "$(sector_text "$img" 9)" ""

# DEVICE_NEEDS_RESET: QEMU refuses a malformed chain and marks the device
# broken; the guest reports it, resets it and stops using it.
run broken 'virtio break blk0\nblk read 5\ninfo\nrng 4\npoweroff\n' '' \
	-device virtio-blk-pci,disable-legacy=on,drive=d0 \
	-drive "file=$img,if=none,id=d0,format=raw" \
	-device virtio-rng-pci,disable-legacy=on
check "needs reset: reported" "$out" '^skiff-guest: blk0: device needs reset \(status 0x[0-9a-f]{2}\); stopped using it$'
check "needs reset: requests refused" "$out" '^blk0: read failed: device stopped \(device needs reset\)$'
check "needs reset: info marks it" "$out" '^virtio: blk0\(stopped\) rng0$'
check "needs reset: other devices unaffected" "$out" '^rng: [0-9a-f]{8}$'

# 64-bit BARs above 4 GiB: a 2 GiB ivshmem BAR leaves SeaBIOS no room below
# 4 GiB, so it moves every 64-bit BAR up; the guest maps them on demand.
run highbar 'pci -v\nblk write 2 above+4+gib\nblk read 2\npoweroff\n' '' \
	-object memory-backend-ram,id=big,size=2G -device ivshmem-plain,memdev=big \
	-device virtio-blk-pci,disable-legacy=on,drive=d0 \
	-drive "file=$img,if=none,id=d0,format=raw"
check "high BARs: the virtio BAR is above 4 GiB" "$out" '^  bar4 mem64 prefetchable 0x[1-9a-f][0-9a-f]{8,} size 0x4000$'
check "high BARs: blk works" "$out" '^blk0: sector 2: above 4 gib$'

# Raw frames through a socket netdev: ARP, ICMP echo, UDP echo and what
# must get no answer (needs python3).
if command -v python3 >/dev/null; then
	guest_port=$(free_port)
	host_port=$(free_port)
	cat >"$tmp/frames.py" <<'EOF'
import socket, struct, sys, time
# frames.py HOST_PORT GUEST_PORT GUEST_IP: Ethernet frames to and from
# QEMU's "-netdev socket,udp=" back-end, one "ok"/"not ok" line per check.
host_port, guest_port, guest_ip = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
HOST_MAC = bytes.fromhex("0253aa000001")
HOST_IP = socket.inet_aton("169.254.60.1")
GUEST_IP = socket.inet_aton(guest_ip)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", host_port))
s.settimeout(1.0)

def csum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return ~total & 0xffff

def send(frame):
    s.sendto(frame, ("127.0.0.1", guest_port))

def receive(match, timeout=15.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            frame, _ = s.recvfrom(65536)
        except socket.timeout:
            continue
        if match(frame):
            return frame
    return None

def ip_packet(proto, payload, dst=GUEST_IP, checksum_ok=True):
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0x1234, 0, 64, proto, 0,
                         HOST_IP, dst)
    c = csum(header) ^ (0 if checksum_ok else 0x5555)
    return header[:10] + struct.pack("!H", c) + header[12:] + payload

results = []
def check(name, ok):
    print(("ok - " if ok else "not ok - ") + "frames: " + name, flush=True)
    results.append(ok)

arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, HOST_MAC, HOST_IP, b"\0" * 6, GUEST_IP)
reply = None
for attempt in range(10):
    send(b"\xff" * 6 + HOST_MAC + b"\x08\x06" + arp)
    reply = receive(lambda f: f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x02"
                    and f[28:32] == GUEST_IP, timeout=3.0)
    if reply:
        break
check("ARP reply for " + guest_ip, reply is not None and reply[0:6] == HOST_MAC
      and reply[32:38] == HOST_MAC and reply[38:42] == HOST_IP)
if reply is None:
    sys.exit(1)
guest_mac = reply[22:28]
eth = guest_mac + HOST_MAC + b"\x08\x00"

def is_ip_reply(proto):
    return lambda f: (f[12:14] == b"\x08\x00" and f[23] == proto and f[26:30] == GUEST_IP
                      and f[30:34] == HOST_IP)

data = bytes(range(256)) * 4
icmp = struct.pack("!BBHHH", 8, 0, 0, 0x4242, 7) + data
icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
send(eth + ip_packet(1, icmp))
r = receive(is_ip_reply(1))
ok = r is not None
if ok:
    ip_len = struct.unpack("!H", r[16:18])[0]
    answer = r[34:14 + ip_len]
    ok = (answer[0] == 0 and answer[4:8] == icmp[4:8] and answer[8:] == data
          and csum(answer) == 0 and csum(r[14:34]) == 0 and r[0:6] == HOST_MAC)
check("ICMP echo reply with 1 KiB of data", ok)

def udp(dport, payload, good_sum=True):
    u = struct.pack("!HHHH", 40000, dport, 8 + len(payload), 0) + payload
    c = csum(HOST_IP + GUEST_IP + struct.pack("!BBH", 0, 17, len(u)) + u) or 0xffff
    return u[:6] + struct.pack("!H", c if good_sum else c ^ 0xff) + u[8:]

send(eth + ip_packet(17, udp(7, b"echo me, please")))
r = receive(is_ip_reply(17))
ok = r is not None
if ok:
    u = r[34:]
    sport, dport, ulen, _ = struct.unpack("!HHHH", u[:8])
    pseudo = GUEST_IP + HOST_IP + struct.pack("!BBH", 0, 17, ulen)
    ok = (sport == 7 and dport == 40000 and u[8:ulen] == b"echo me, please"
          and csum(pseudo + u[:ulen]) == 0)
check("UDP echo on port 7, ports swapped, checksum valid", ok)

send(eth + ip_packet(17, udp(9, b"discard")))
send(eth + ip_packet(17, udp(7, b"bad ip sum"), checksum_ok=False))
send(eth + ip_packet(17, udp(7, b"bad udp sum", good_sum=False)))
send(eth + ip_packet(17, udp(7, b"not mine"), dst=socket.inet_aton("169.254.60.99")))
send(eth + ip_packet(17, udp(7, b"marker")))
r = receive(is_ip_reply(17))
check("no answer to another port, bad checksums or another address",
      r is not None and b"marker" in r[42:])
sys.exit(0 if all(results) else 1)
EOF
	start frames 'ip=169.254.60.15/16' \
		-device virtio-net-pci,disable-legacy=on,netdev=n1 \
		-netdev "socket,id=n1,udp=127.0.0.1:$host_port,localaddr=127.0.0.1:$guest_port"
	if wait_for '^skiff-guest ready$' 120; then
		python3 "$tmp/frames.py" "$host_port" "$guest_port" 169.254.60.15 >"$tmp/frames.result" 2>&1
		while read -r line; do
			case $line in
			"ok - "*) pass "${line#ok - }" ;;
			"not ok - "*) fail "${line#not ok - }" "$out" ;;
			*) echo "    $line" ;;
			esac
		done <"$tmp/frames.result"
		grep -q '^ok - frames: ARP' "$tmp/frames.result" || fail "frames: no ARP reply" "$out"
	else
		fail "frames: boot" "$out"
	fi
	send 'net info\npoweroff\n'
	if wait_for '^skiff-guest: powering off$' 60; then
		finish
	else
		fail "frames: poweroff" "$out"
		finish kill
	fi
	check "frames: net info counts" "$out" '^net0: mac 52:54:00:12:34:56 ip 169\.254\.60\.15/16 rx [1-9][0-9]* tx [1-9][0-9]*$'
else
	echo "skip: python3 missing, no raw-frame checks (ARP, ICMP)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
