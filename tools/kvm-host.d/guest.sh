#!/bin/bash
# Second stage of a kvm-host test host: PID 1 after init chroots into the
# machine's root (read-only 9p). kvm-host copies this file into the run
# directory, which is mounted at /run/kvm-host, for every run.
#
# Test host 1 runs the command and writes its exit status; test host 2 (with
# --hosts 2) runs the peer agent that serves kvm-host-peer. Results go into
# files of the run directory, which kvm-host reads on the machine.
set -uo pipefail

R=/run/kvm-host
BB=/run/busybox
# config is written by kvm-host with printf %q, so sourcing it is safe.
# shellcheck source=/dev/null
. "$R/config"

id=1
for word in $(</proc/cmdline); do
	case "$word" in kvmhost.id=*) id=${word#*=} ;; esac
done

# Sleep without starting a process (every exec is slow under the emulated
# CPU): read with a timeout from a pipe that never gets data.
exec {NAP_FD}<> <(:)
nap() {
	read -r -t "$1" -u "$NAP_FD" _ || true
}

say() {
	local up='?'
	{ read -r up _ </proc/uptime; } 2>/dev/null
	echo "kvm-host guest.sh[$id]: [$up] $*" >/dev/console
}
finish() {
	# Everything was written through 9p with no write-back cache, so it is
	# already on the machine; power off (QEMU runs with -no-reboot and exits).
	say "powering off"
	"$BB" poweroff -f
	sleep 30
}
# Record that this test host cannot run anything, with the reason on stderr.
# Test host 2 only says so on its console and stops: kvm-host then reports
# that it stopped while booting, with that console.
cannot_run() {
	say "$*"
	[ "$id" = 1 ] || finish
	echo "kvm-host: in test host $id: $*" >>"$R/err"
	: >"$R/cannot-run"
	echo 125 >"$R/status"
	finish
}

# Writable shares: the working tree (and KVM_HOST_RW paths) at their own
# paths. mmap caching keeps reads and writes uncached (both test hosts and
# the machine see each other's writes at once) but allows shared mmap.
for i in "${!SHARE_PATHS[@]}"; do
	path=${SHARE_PATHS[$i]}
	# busybox: static and in memory, quicker to start than programs read
	# over 9p.
	"$BB" mkdir -p "$path" 2>/dev/null
	"$BB" mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=mmap "w$i" "$path" ||
		cannot_run "cannot mount the writable share $path"
done

# Runs one peer job: $1 is its directory, made by kvm-host-peer.
peer_job() {
	local job=$1 cwd pid status
	local -a argv envv
	cwd=$(<"$job/cwd")
	mapfile -d '' -t argv <"$job/argv"
	mapfile -d '' -t envv <"$job/env"
	if ! cd "$cwd" 2>/dev/null; then
		echo "kvm-host-peer: cannot enter $cwd on the peer" >>"$job/stderr"
		: >"$job/started"
		echo 125 >"$job/status"
		return
	fi
	# Own process group, so kvm-host-peer kill reaches the job's children.
	set -m
	env -i -- "${envv[@]}" "KVM_HOST_PEER=$HOST1_IP" "KVM_HOST_SELF=$HOST2_IP" "${argv[@]}" \
		</dev/null >>"$job/stdout" 2>>"$job/stderr" &
	pid=$!
	set +m
	echo "$pid" >"$job/pgid"
	: >"$job/started"
	wait "$pid"
	status=$?
	# One write(2): kvm-host-peer takes a non-empty file as complete.
	echo "$status" >"$job/status"
}

# Test host 2: serve kvm-host-peer requests until test host 1 has finished
# (kvm-host also kills this test host then). Bounded: at most a day.
peer_agent() {
	local req job kill_req i taken
	mkdir -p "$R/peer"
	: >"$R/host$id.up"
	say "peer agent up"
	for ((i = 0; i < 1728000; i++)); do
		[ -s "$R/status" ] && break
		for req in "$R"/peer/*/request; do
			[ -e "$req" ] || continue
			job=${req%/request}
			# Exclusive create (noclobber) is atomic on the 9p server: a
			# request is taken exactly once.
			set -C
			{ : >"$job/taken"; } 2>/dev/null
			taken=$?
			set +C
			[ "$taken" = 0 ] || continue
			peer_job "$job" &
		done
		for kill_req in "$R"/peer/*/kill; do
			[ -e "$kill_req" ] || continue
			job=${kill_req%/kill}
			if [ -e "$job/pgid" ] && [ ! -e "$job/status" ] && [ ! -e "$job/kill-sent" ]; then
				: >"$job/kill-sent"
				kill -TERM -- "-$(<"$job/pgid")" 2>/dev/null
			fi
		done
		nap 0.05
	done
	finish
}

if [ "$id" != 1 ]; then
	peer_agent
fi

# Test host 1: wait for kvm-host's go (given once every test host is up).
: >"$R/host$id.up"
if [ "$HOSTS" -gt 1 ]; then
	for ((i = 0; i < BOOT_TIMEOUT * 20; i++)); do
		[ -e "$R/go" ] && break
		nap 0.05
	done
	[ -e "$R/go" ] || cannot_run "no go from kvm-host within $BOOT_TIMEOUT s"
fi

cd "$CWD" 2>/dev/null || cannot_run "cannot enter the working directory $CWD"
mapfile -d '' -t argv <"$R/argv"
mapfile -d '' -t envv <"$R/env"
# Create a caller's TMPDIR inside the fresh /tmp, so mktemp keeps working.
for var in "${envv[@]}"; do
	case "$var" in TMPDIR=/tmp/?*) "$BB" mkdir -p "${var#TMPDIR=}" ;; esac
done
say "running the command"
# Without a timeout, spare the extra bash of run-command.
runner=("$R/run-command" "$TIMEOUT" "$R/timed-out" --)
[ "$TIMEOUT" != 0 ] || runner=()
"${runner[@]}" env -i -- "${envv[@]}" "${argv[@]}" </dev/null >>"$R/out" 2>>"$R/err"
status=$?
say "command exited with status $status"
# One write(2): kvm-host takes a non-empty status file as complete.
echo "$status" >"$R/status"
finish
