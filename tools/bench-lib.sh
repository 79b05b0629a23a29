# shellcheck shell=bash
# shellcheck disable=SC2154 # the sourcing script's globals, named below
# What tools/bench-io and tools/bench-net share (sourced, bash, from the
# top of the work tree).

# bench_in_test_host NAME TIMEOUT KEEP_DIR ARGS...: the benchmark's outer
# half on the machine. Prepares the guest, runs "tools/NAME ARGS..." in a
# KVM test host (TIMEOUT seconds), which measures and leaves its results
# in the work tree (SKIFF_BENCH_OUT); copies them to KEEP_DIR when one is
# given, then makes the report here, where starting awk is not an emulated
# CPU's fifth of a second. Exits with the report's status.
bench_in_test_host() {
	local name=$1 timeout=$2 keep=$3 out
	shift 3
	tools/install-deps >&2
	tools/build >&2
	tools/linux-guest >&2
	out=$(mktemp -d "$PWD/build/$name.XXXXXX")
	bench_out_dir=$out
	trap 'rm -rf "$bench_out_dir"' EXIT
	local status=0
	SKIFF_BENCH_INSIDE=1 SKIFF_BENCH_OUT=$out \
		tools/kvm-host --mmu tdp --mem 3G --timeout "$timeout" -- "tools/$name" "$@" ||
		status=$?
	# What a run that failed half-way left is kept and reported too.
	if [ -n "$keep" ]; then
		mkdir -p "$keep"
		cp "$out"/* "$keep/" 2>/dev/null || true
	fi
	[ -r "$out/results" ] || { echo "bench: $name: no results (status $status)" >&2; exit 1; }
	"tools/$name" --report "$out/results"
	[ "$status" = 0 ] || { echo "bench: $name: the test host's run failed (status $status)" >&2; exit 1; }
	exit
}

# Skiff's guest RAM is a memfd (shared memory), which gets transparent huge
# pages only where shmem_enabled allows them; QEMU's anonymous RAM gets
# them under the default "madvise". Both VMMs ask (MADV_HUGEPAGE). Run in
# the test host.
bench_allow_shmem_huge_pages() {
	local thp=/sys/kernel/mm/transparent_hugepage/shmem_enabled
	if [ -w "$thp" ]; then echo advise >"$thp"; fi
}

# The results header's line on huge pages for guest RAM.
bench_huge_pages_line() {
	local thp=/sys/kernel/mm/transparent_hugepage
	echo "# guest RAM huge pages: anonymous $(sed 's/.*\[\(.*\)\].*/\1/' "$thp/enabled"), shared memory $(sed 's/.*\[\(.*\)\].*/\1/' "$thp/shmem_enabled");"
}

# bench_measure_or_skip VMM RUN [ARGS...]: "measure VMM RUN ARGS..." (the
# script's own), in the test host. A boot that stops before its end (the
# guest died, a console line never came) is left out of the figures, not
# the end of the benchmark: its processes are stopped, its lines dropped
# from $work/results with a header line saying so, its console kept.
bench_measure_or_skip() {
	local vmm=$1 run=$2 p
	if measure "$@"; then return 0; fi
	echo "bench: $vmm run $run stopped before its end; left out, console-$vmm-$run.log kept" >&2
	# Some of them are gone already (a VM that crashed): not an error.
	for p in "${VM_PID:-}" "${host_pid:-}" "${perf_pid:-}"; do
		if [ -n "$p" ]; then kill "$p" 2>/dev/null || true; fi
	done
	wait 2>/dev/null || true
	sed -i "/^$vmm [^ ]* run=$run /d" "$work/results"
	echo "# $vmm run $run stopped before its end (console-$vmm-$run.log) and is left out;" >>"$work/results"
}

# What both benchmarks' measuring and reports share. They read the
# calling script's globals: results (the results file), work (its
# scratch directory), have_perf and perf_events, VM (the coproc of the
# VM being measured), console (its console file), vmm.

# bench_ratio A B: A / B to two decimals, or "-" where either is missing.
bench_ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0 || a == "-" || b == "-") print "-"; else printf "%.2f", a / b }'
}

# bench_clocks VMM: the guest clock event devices of VMM's runs, most
# frequent first.
bench_clocks() {
	awk -v vmm="$1" '$1 == vmm && $2 == "null" { sub(/^clock=/, "", $4); print $4 }' "$results" |
		sort | uniq -c | sort -rn | awk '{ print $2 }'
}

# bench_kvm_stats PID NAME: KVM's counters of the VM of process PID,
# summed over its vCPUs, into the array named NAME (bash builtins only: no
# process starts inside the window).
stat_names=(exits halt_exits irq_exits irq_window_exits)
bench_kvm_stats() {
	local -n into=$2
	local dir name v
	into=()
	for dir in /sys/kernel/debug/kvm/"$1"-*; do :; done
	for name in "${stat_names[@]}"; do
		v=0
		read -r v <"$dir/$name" 2>/dev/null || true
		into+=("$v")
	done
}

# bench_perf_start PID: perf record of perf_events on PID, started with its
# events disabled; returns once they count (perf has acknowledged
# "enable"). Every tracepoint hit is a sample.
bench_perf_start() {
	[ "$have_perf" = 1 ] || return 0
	rm -f "$work/ctl" "$work/ack" "$work/perf.data"
	mkfifo "$work/ctl" "$work/ack"
	local IFS=,
	perf record -q -m 2048 -e "${perf_events[*]}" -D -1 --control "fifo:$work/ctl,$work/ack" \
		-o "$work/perf.data" -p "$1" >/dev/null 2>"$work/perf.err" &
	perf_pid=$!
	exec {perf_ctl}>"$work/ctl" {perf_ack}<"$work/ack"
	echo enable >&"$perf_ctl"
	read -r -t 60 -u "$perf_ack" _ || say "perf did not acknowledge enable"
}

# bench_read_until PATTERN: reads the VM's console up to a line matching
# PATTERN (grep -E), into $line; fails at EOF or after 600 s.
bench_read_until() {
	while IFS= read -r -t 600 -u "${VM[0]}" line; do
		line=${line%$'\r'}
		echo "$line" >>"$console"
		[[ $line =~ $1 ]] && return 0
	done
	say "$vmm: no line matching '$1'; the console is in $console"
	tail -n 20 "$console" >&2
	return 1
}
