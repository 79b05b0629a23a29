#!/bin/bash
# Tests of tools/kvm-host, the way Skiff's tests reach a real /dev/kvm.
#
# Run from anywhere (it changes to the repository root). Prints one
# "ok - ..." or "not ok - ..." line per check and "N passed, N failed" at the
# end; exits non-zero if any check failed. Most checks boot a test host under
# QEMU TCG (a few seconds each once the kernel cache is warm; the first run
# also fetches the kernel package through apt).
#
# Single quotes around $ are on purpose all over: those scripts run inside.
# shellcheck disable=SC2016
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
KVM_HOST=$ROOT/tools/kvm-host
# Every kvm-host call is bounded, so a hang fails the test instead of ctest's
# timeout killing everything.
BOUND=${KVM_HOST_TEST_BOUND:-300}

passed=0
failed=0

ok() {
	echo "ok - $1"
	passed=$((passed + 1))
}

not_ok() {
	echo "not ok - $1"
	failed=$((failed + 1))
	shift
	local line
	for line in "$@"; do
		printf '#   %s\n' "$line"
	done
}

# check DESCRIPTION COMMAND...: ok if COMMAND succeeds.
check() {
	local description=$1
	shift
	if "$@"; then
		ok "$description"
	else
		not_ok "$description" "failed: $*"
	fi
}

# expect_eq DESCRIPTION EXPECTED ACTUAL
expect_eq() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1" "expected: $(printf '%q' "$2")" "actual:   $(printf '%q' "$3")"
	fi
}

# The test's files live in the working tree (it is the writable share inside
# the test host; the machine's /tmp is not visible there).
mkdir -p "$ROOT/.cache"
WORK=$(mktemp -d "$ROOT/.cache/kvm-host-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# kh ARGS...: run kvm-host with a bound; stdout to $WORK/out, stderr to
# $WORK/err, status in $status, duration in $elapsed (seconds).
kh() {
	local start=$SECONDS
	timeout -k 10 "$BOUND" "$KVM_HOST" "$@" >"$WORK/out" 2>"$WORK/err" </dev/null
	status=$?
	elapsed=$((SECONDS - start))
	echo "# kvm-host $* -> $status in ${elapsed}s"
}

show_err() {
	printf 'stderr: %s' "$(tail -n 15 "$WORK/err")"
}

# --- arguments (no test host needed) --------------------------------------

for args in "--bogus -- true" "--mmu foo -- true" "--hosts 3 -- true" "--cpus 0 -- true" \
	"--cpus x -- true" "--mem lots -- true" "--timeout soon -- true" "--" "" "--cpus"; do
	# shellcheck disable=SC2086 # split the argument list on purpose
	"$KVM_HOST" $args >/dev/null 2>"$WORK/err" </dev/null
	st=$?
	expect_eq "bad arguments '$args' exit 2" 2 "$st"
done
"$KVM_HOST" --help >"$WORK/out" 2>&1
st=$?
expect_eq "--help exits 0" 0 "$st"
check "--help prints the usage" grep -q '^usage: kvm-host' "$WORK/out"
check "--help names every option" grep -q -- '--hosts' "$WORK/out"

# --- exit status, output, arguments, environment, working directory --------

kh -- sh -c 'exit 7'
expect_eq "exit status passed through (sh -c 'exit 7')" 7 "$status"

kh -- sh -c 'echo "to stdout"; echo "to stderr" >&2; exit 0'
expect_eq "stdout passed through" "to stdout" "$(cat "$WORK/out")"
check "stderr passed through, separately from stdout" grep -qx "to stderr" "$WORK/err"
check "no test host console messages on stdout/stderr" \
	bash -c '! grep -q -e "kvm-host init" -e "reboot:" -e "\[ *[0-9]*\.[0-9]*\]" "$1" "$2"' _ "$WORK/out" "$WORK/err"

# --cpus: every CPU online; in a test host, init brought them up after
# kvm-key-holder took KVM's static keys, and the holder lives on.
kh --cpus 3 -- sh -c 'echo "cpus=$(nproc) online=$(cat /sys/devices/system/cpu/online) where=$KVM_HOST holder=$(pgrep -c -x kvm-key-holder)"'
if grep -q 'where=direct' "$WORK/out"; then
	check "--cpus 3 runs (directly)" test "$status" = 0
else
	expect_eq "--cpus 3: three CPUs online, KVM's static keys held" \
		"cpus=3 online=0-2 where=testhost holder=1" "$(cat "$WORK/out")"
fi

# Arguments with spaces and quotes, the caller's environment, same working
# directory, a writable working tree and /tmp.
mkdir -p "$WORK/sub dir"
(
	cd "$WORK/sub dir" &&
		SKIFF_TEST_VALUE="two words 'single' \"double\" \$dollar" \
			kh -- bash -c '
			printf "arg=[%s]\n" "$@"
			printf "pwd=%s\n" "$PWD"
			printf "value=%s\n" "$SKIFF_TEST_VALUE"
			printf "kvm_host=%s\n" "$KVM_HOST"
			printf "path_set=%s home=%s\n" "${PATH:+yes}" "$HOME"
			echo written-inside >"from-inside.txt"
			echo tmp >/tmp/kvm-host-test && echo tmp_writable=yes
		' _ "a b" "it's" 'say "hi"' '$HOME' ''
	printf '%s\n' "$status" >"$WORK/status"
)
status=$(<"$WORK/status")
expect_eq "bash -c with quoted arguments exits 0" 0 "$status"
[ "$status" = 0 ] || echo "# $(show_err)"
out=$(cat "$WORK/out")
expect_eq "arguments with spaces and quotes survive" \
	"arg=[a b]
arg=[it's]
arg=[say \"hi\"]
arg=[\$HOME]
arg=[]" "$(grep '^arg=' <<<"$out")"
expect_eq "same working directory inside" "pwd=$WORK/sub dir" "$(grep '^pwd=' <<<"$out")"
expect_eq "caller's environment passed through" \
	"value=two words 'single' \"double\" \$dollar" "$(grep '^value=' <<<"$out")"
expect_eq "PATH and HOME passed through" "path_set=yes home=$HOME" "$(grep '^path_set=' <<<"$out")"
check "KVM_HOST tells the command where it runs" grep -Eq '^kvm_host=(testhost|direct)$' <<<"$out"
expect_eq "a file written inside appears outside" "written-inside" "$(cat "$WORK/sub dir/from-inside.txt" 2>&1)"
check "/tmp is writable inside" grep -qx 'tmp_writable=yes' <<<"$out"

# Binary output, more than a pipe or 9p message holds, arrives unchanged.
head -c 3000000 /dev/urandom >"$WORK/random.bin"
kh -- cat "$WORK/random.bin"
expect_eq "cat of a 3 MB binary file exits 0" 0 "$status"
check "3 MB of binary stdout arrive unchanged" cmp -s "$WORK/random.bin" "$WORK/out"

kh -- no-such-command-kvm-host-test
expect_eq "a command that does not exist gives 127" 127 "$status"

# --- real KVM in both MMU modes ---------------------------------------------

# A minimal VMM: 16-bit code "mov al, 42; out 0x10, al; hlt" must exit to
# userspace with the port write, then halt.
cat >"$WORK/kvm_probe.c" <<'EOF'
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

int main(void)
{
	static const unsigned char code[] = { 0xb0, 42, 0xe6, 0x10, 0xf4 };
	struct kvm_userspace_memory_region region;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_run *run;
	unsigned char *mem;
	int kvm, vm, vcpu, size, i;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) { perror("open /dev/kvm"); return 1; }
	printf("api=%d\n", ioctl(kvm, KVM_GET_API_VERSION, 0));
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) { perror("KVM_CREATE_VM"); return 1; }
	mem = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) { perror("mmap"); return 1; }
	memcpy(mem, code, sizeof(code));
	memset(&region, 0, sizeof(region));
	region.guest_phys_addr = 0x1000;
	region.memory_size = 0x1000;
	region.userspace_addr = (unsigned long)mem;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) { perror("KVM_SET_USER_MEMORY_REGION"); return 1; }
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0) { perror("KVM_CREATE_VCPU"); return 1; }
	size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED) { perror("mmap vcpu"); return 1; }
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) { perror("KVM_GET_SREGS"); return 1; }
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) { perror("KVM_SET_SREGS"); return 1; }
	memset(&regs, 0, sizeof(regs));
	regs.rip = 0x1000;
	regs.rflags = 2;
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) { perror("KVM_SET_REGS"); return 1; }
	for (i = 0; i < 10; i++) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) { perror("KVM_RUN"); return 1; }
		if (run->exit_reason == KVM_EXIT_IO) {
			printf("io port=0x%x value=%d\n", run->io.port,
			       ((unsigned char *)run)[run->io.data_offset]);
		} else if (run->exit_reason == KVM_EXIT_HLT) {
			printf("hlt\n");
			return 0;
		} else {
			printf("unexpected exit %u\n", run->exit_reason);
			return 1;
		}
	}
	return 1;
}
EOF
if cc -O2 -Wall -o "$WORK/kvm_probe" "$WORK/kvm_probe.c" 2>"$WORK/cc.err"; then
	for mode in tdp:Y shadow:N; do
		mmu=${mode%:*}
		npt=${mode#*:}
		kh --mmu "$mmu" -- sh -c 'test -c /dev/kvm && echo kvm_dev=yes; echo npt=$(cat /sys/module/kvm_amd/parameters/npt 2>/dev/null || echo none); "$1"' _ "$WORK/kvm_probe"
		expect_eq "--mmu $mmu: probe exits 0" 0 "$status"
		[ "$status" = 0 ] || echo "# $(show_err)"
		check "--mmu $mmu: /dev/kvm is a character device inside" grep -qx 'kvm_dev=yes' "$WORK/out"
		if grep -qx 'npt=none' "$WORK/out"; then
			ok "--mmu $mmu: # skip not kvm_amd (ran directly on an Intel host)"
		else
			check "--mmu $mmu: kvm_amd npt reads $npt" grep -qx "npt=$npt" "$WORK/out"
		fi
		check "--mmu $mmu: KVM_GET_API_VERSION is 12" grep -qx 'api=12' "$WORK/out"
		check "--mmu $mmu: a guest ran (port write exit, then hlt)" \
			bash -c 'grep -qx "io port=0x10 value=42" "$1" && grep -qx hlt "$1"' _ "$WORK/out"
	done
else
	not_ok "compile the KVM probe" "$(cat "$WORK/cc.err")"
fi

# --- timeout ----------------------------------------------------------------

kh --timeout 5 -- sleep 60
expect_eq "--timeout 5 -- sleep 60 exits 124" 124 "$status"
check "the timeout is reported on stderr" grep -q 'timeout' "$WORK/err"
check "the timeout returns in bounded time (${elapsed}s < 90s)" test "$elapsed" -lt 90

# A test host that stops enforcing the timeout itself (here all its
# processes but the command are stopped) is killed by kvm-host 60 s later,
# and where its CPUs were is reported.
kh --timeout 5 -- sh -c 'kill -STOP -1; sleep 600'
expect_eq "a test host that no longer answers: exit 124" 124 "$status"
check "the stuck test host is reported" grep -q 'no longer responds' "$WORK/err"
if command -v python3 >/dev/null; then
	check "the stuck test host's CPU registers are shown" grep -q 'RIP=' "$WORK/err"
fi
check "the stuck test host is killed in bounded time (${elapsed}s < 200s)" test "$elapsed" -lt 200

# --- the test host goes away on SIGTERM --------------------------------------

# Run directories go into a TMPDIR of this test, so that both they and the
# QEMU processes using them can be looked for afterwards.
mkdir -p "$WORK/tmpdir"
TMPDIR=$WORK/tmpdir "$KVM_HOST" -- sleep 120 >/dev/null 2>"$WORK/err" </dev/null &
pid=$!
for ((i = 0; i < 1800; i++)); do
	compgen -G "$WORK/tmpdir/kvm-host.*/host1.up" >/dev/null && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if compgen -G "$WORK/tmpdir/kvm-host.*/host1.up" >/dev/null; then
	ok "a test host ran sleep 120 (then SIGTERM)"
else
	not_ok "a test host ran sleep 120 (then SIGTERM)" "after $i polls: $(ls -la "$WORK"/tmpdir/* 2>&1)" "$(show_err)"
fi
kill -TERM "$pid"
start=$SECONDS
wait "$pid"
st=$?
expect_eq "SIGTERM: kvm-host exits 143" 143 "$st"
check "SIGTERM: kvm-host exits promptly ($((SECONDS - start))s)" test $((SECONDS - start)) -lt 15
check "SIGTERM: the run directory is removed" \
	bash -c '! compgen -G "$1/kvm-host.*" >/dev/null' _ "$WORK/tmpdir"
# (The bracket keeps grep's own command line from matching.)
qemu_left=$(grep -l -s -E "$WORK/tmpdir/kvm-host[.]" /proc/[0-9]*/cmdline | head -n 3)
expect_eq "SIGTERM: no QEMU process is left" "" "$qemu_left"

# --- directly where /dev/kvm works (inside a test host) ---------------------

# Inside a test host /dev/kvm is usable, so a nested kvm-host runs the command
# directly there: the same code path as on a machine with KVM.
kh -- bash -c '
	"$1" -- sh -c "echo mode=\$KVM_HOST"
	"$1" -- sh -c "exit 9"; echo status=$?
	"$1" --mmu tdp -- sh -c "echo tdp_mode=\$KVM_HOST"
	"$1" --timeout 2 -- sleep 30; echo timeout_status=$?
' _ "$KVM_HOST"
expect_eq "nested: runs directly where /dev/kvm is usable" "mode=direct" "$(grep '^mode=' "$WORK/out")"
expect_eq "nested: direct exit status passed through" "status=9" "$(grep '^status=' "$WORK/out")"
expect_eq "nested: direct when the MMU mode matches" "tdp_mode=direct" "$(grep '^tdp_mode=' "$WORK/out")"
expect_eq "nested: direct --timeout exits 124" "timeout_status=124" "$(grep '^timeout_status=' "$WORK/out")"

# --- two test hosts -----------------------------------------------------------

cat >"$WORK/two_hosts.sh" <<'EOF'
echo "self=$(uname -n)"
echo "peer_addr=$KVM_HOST_PEER"
echo "peer_name=$(kvm-host-peer run uname -n)"
echo "peer_ip=$(kvm-host-peer run sh -c 'busybox ip -4 addr show eth0' | grep -o '169\.254\.77\.[0-9]*/24')"
kvm-host-peer run sh -c 'echo peer-stderr >&2; exit 5' 2>peer.err
echo "peer_status=$?"
echo "peer_stderr=$(cat peer.err)"
kvm-host-peer run sh -c 'pwd >peer-pwd.txt'
echo "peer_pwd=$(cat peer-pwd.txt)"
kvm-host-peer start listener busybox nc -l -p 7777
for i in $(seq 100); do
	echo hello-over-the-link | busybox nc -w 5 "$KVM_HOST_PEER" 7777 && break
	sleep 0.2
done
echo "listener=$(kvm-host-peer wait listener 60)"
echo "listener_status=$?"
kvm-host-peer start sleeper sleep 300
kvm-host-peer kill sleeper
kvm-host-peer wait sleeper 30
echo "killed_status=$?"
kvm-host-peer start slow sleep 300
kvm-host-peer wait slow 1 2>/dev/null
echo "wait_timeout_status=$?"
EOF
(cd "$WORK" && kh --hosts 2 -- bash two_hosts.sh; echo "$status" >"$WORK/status")
status=$(<"$WORK/status")
expect_eq "--hosts 2: the command exits 0" 0 "$status"
[ "$status" = 0 ] || echo "# $(show_err)"
out=$(cat "$WORK/out")
expect_eq "--hosts 2: the command runs on test host 1" "self=kvm-host-1" "$(grep '^self=' <<<"$out")"
expect_eq "--hosts 2: KVM_HOST_PEER is the peer's address" "peer_addr=169.254.77.2" "$(grep '^peer_addr=' <<<"$out")"
expect_eq "--hosts 2: kvm-host-peer run runs on test host 2" "peer_name=kvm-host-2" "$(grep '^peer_name=' <<<"$out")"
expect_eq "--hosts 2: test host 2 has 169.254.77.2/24" "peer_ip=169.254.77.2/24" "$(grep '^peer_ip=' <<<"$out")"
expect_eq "--hosts 2: the peer command's status comes back" "peer_status=5" "$(grep '^peer_status=' <<<"$out")"
expect_eq "--hosts 2: the peer command's stderr comes back" "peer_stderr=peer-stderr" "$(grep '^peer_stderr=' <<<"$out")"
expect_eq "--hosts 2: the peer runs in the same working directory" "peer_pwd=$WORK" "$(grep '^peer_pwd=' <<<"$out")"
expect_eq "--hosts 2: TCP from host 1 to a listener on host 2" "listener=hello-over-the-link" "$(grep '^listener=' <<<"$out")"
expect_eq "--hosts 2: kvm-host-peer wait returns the listener's status" "listener_status=0" "$(grep '^listener_status=' <<<"$out")"
expect_eq "--hosts 2: kvm-host-peer kill ends a job (SIGTERM)" "killed_status=143" "$(grep '^killed_status=' <<<"$out")"
expect_eq "--hosts 2: kvm-host-peer wait times out with 124" "wait_timeout_status=124" "$(grep '^wait_timeout_status=' <<<"$out")"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
