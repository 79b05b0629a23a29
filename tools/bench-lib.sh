# shellcheck shell=bash
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
	SKIFF_BENCH_INSIDE=1 SKIFF_BENCH_OUT=$out \
		tools/kvm-host --mmu tdp --mem 3G --timeout "$timeout" -- "tools/$name" "$@"
	if [ -n "$keep" ]; then
		mkdir -p "$keep"
		cp "$out"/* "$keep/"
	fi
	"tools/$name" --report "$out/results"
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
	for p in "${VM_PID:-}" "${host_pid:-}" "${perf_pid:-}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null
	done
	wait 2>/dev/null || true
	sed -i "/^$vmm [^ ]* run=$run /d" "$work/results"
	echo "# $vmm run $run stopped before its end (console-$vmm-$run.log) and is left out;" >>"$work/results"
}
