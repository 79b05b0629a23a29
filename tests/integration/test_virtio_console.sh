#!/usr/bin/env bash
# --console virtio on KVM: the virtio console is the console on stdio and
# the UART has no host end. The bundled guest's `vcon` writes reach stdout
# in order and nothing of its serial output does; a guest that breaks the
# transmit queue gets the device marked for reset while the VM runs on.
# The bundled guest's shell (and so `vcon-read`) is on the UART, which has
# no host end here, so input is checked with Debian's kernel and its own
# virtio_console driver: a line typed once the guest is ready, then 64 KiB
# piped in at once (checked by MD5: flow control loses nothing). Input is
# sent only once Linux is ready: Linux without MULTIPORT drops input (and
# its receive buffers) that arrives while it is still setting up port 0.
# Guest commands are in single quotes: the guest's shell expands them.
# shellcheck disable=SC2016
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

LINUX_TIMEOUT=${LINUX_TIMEOUT:-300}

# --- The bundled guest writes; only what it sends to the virtio console
# reaches stdout.
run_skiff hello '' run --console virtio --cmdline 'autorun=vcon+hello+virtio;poweroff'
expect_status "vcon hello" 0
check "stdout is exactly the virtio console's output" \
	test "$(cat "$out")" = "hello virtio"

long=$(printf 'w%.0s' $(seq 1 200))
run_skiff order '' run --console virtio --cpus 2 \
	--cmdline "autorun=vcon+one;vcon+two+2;vcon+$long;vcon+three;poweroff"
expect_status "several writes" 0
check "writes arrive whole and in order" \
	test "$(cat "$out")" = "$(printf 'one\ntwo 2\n%s\nthree' "$long")"

run_skiff piped 'input the guest takes in the background\n' run --console virtio \
	--cmdline 'autorun=vcon+still+here;poweroff'
expect_status "piped input" 0
check "piped input disturbs nothing" test "$(cat "$out")" = "still here"

run_skiff broken '' run --console virtio --cmdline 'autorun=virtio+break+vcon0;vcon+lost;poweroff'
expect_status "VMM survives a broken transmit queue" 0
expect_line "VMM names the broken rule" "$err" 'virtio-console: .*device needs reset'
check "nothing reaches stdout from a broken device" test ! -s "$out"

expect_usage_error bad_kind "--console: 'virtio,x' is not one of stdio, file:PATH, none, virtio" \
	run --console virtio,x

# --- Debian's kernel: input and output on hvc0.
# shellcheck source=tests/integration/linux_guest.sh
. "$(dirname "$0")/linux_guest.sh"
# The kernel logs to the UART (no host end); hvc0 carries the test.
CMDLINE_BASE='console=ttyS0 reboot=k'

# Interactive: raw mode, then a line, then 64 KiB in one go.
run='exec </dev/hvc0 >/dev/hvc0 2>&1; stty raw -echo; echo vcon-ready; read -r line; echo got:$line; head -c 65536 | md5sum'
start_skiff linux run --kernel "$KERNEL" --initrd "$INITRD" --mem 512M \
	--console virtio --cmdline "$CMDLINE_BASE skiff.run=\"$run\""
expect_boot "Linux writes to hvc0" '^vcon-ready'
type_line 'hello from the host'
wait_for '^got:' || true
expect_line "Linux reads a line from hvc0" "$out" '^got:hello from the host$'
head -c 49152 /dev/urandom | base64 -w 0 >"$TEST_TMP/data"
cat "$TEST_TMP/data" >&"$to_guest"
want=$(md5sum <"$TEST_TMP/data" | cut -d' ' -f1)
wait_for "^[0-9a-f]{32} " || true
expect_line "64 KiB piped in arrive intact" "$out" "^$want  -"
stop_skiff
expect_status "Linux on a virtio console stops" 0

finish
