#!/usr/bin/env bash
# Full check on a fresh Debian 12, as root: install what is missing, build (WERROR, Python)
# in build/, run every ctest label (clang_tidy, then the build-tsan/ and build-asan/ builds,
# in the background beside them), run the reliability tests (the concurrency soak above all, on
# /dev/fuse and over the rings) against a ThreadSanitizer daemon from build-tsan/, then
# everything with ASan+UBSan in build-asan/.
# Ends with "N passed, N failed"; exits non-zero when anything failed.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
# shellcheck source=scripts/lib/common.sh
source scripts/lib/common.sh

JOBS=$(nproc)
PASSED=0
FAILED=0
FAILED_WHAT=()
LINT_PID=   # the background clang-tidy (start_lint)
BUILDS_PID= # the background builds of the sanitizer trees (start_sanitizer_builds)

require_root
ensure_packages "${SPLICEFS_TEST_PACKAGES[@]}"
ensure_fuse
cleanup_stale_test_mounts >/dev/null
# The background jobs run in their own process groups (setsid): end them whole.
stop_background() {
    local pg
    for pg in $LINT_PID $BUILDS_PID; do kill -- "-$pg" 2>/dev/null; done
    cleanup_stale_test_mounts >/dev/null
}
trap stop_background EXIT

# build_tree DIR CMAKE_ARGS...: configure and build DIR at nice $BUILD_NICE (default 10), all
# targets or only $BUILD_TARGET. A failure is written to DIR/build.failed, which
# count_build turns into a result: build_tree also runs in the background (a subshell).
build_tree() {
    local dir=$1 target=()
    shift
    [[ -n ${BUILD_TARGET:-} ]] && target=(--target "$BUILD_TARGET")
    mkdir -p "$dir"
    rm -f "$dir/build.failed"
    say "configure $dir ($*)"
    if ! cmake -S . -B "$dir" -DSPLICEFS_WERROR=ON "$@" >"$dir/configure.log" 2>&1; then
        echo "$dir: configure (see $dir/configure.log)" >"$dir/build.failed"
        return 1
    fi
    say "build $dir${BUILD_TARGET:+ (${BUILD_TARGET} only)}"
    if ! nice -n "${BUILD_NICE:-10}" cmake --build "$dir" -j"$JOBS" "${target[@]}" >"$dir/build.log" 2>&1; then
        echo "$dir: build (see $dir/build.log)" >"$dir/build.failed"
        return 1
    fi
}

# count_build DIR: 0 when DIR was built; otherwise one failed result, with the errors.
count_build() {
    local dir=$1
    [[ -f $dir/build.failed ]] || return 0
    tail -n 20 "$dir/configure.log" 2>/dev/null | grep -iE 'error' >&2
    grep -E 'error|Error' "$dir/build.log" 2>/dev/null | head -40 >&2
    FAILED=$((FAILED + 1))
    FAILED_WHAT+=("$(cat "$dir/build.failed")")
    return 1
}

# The sanitizer trees' configure and build arguments (run_tsan and the ASan run_tree use them).
TSAN_TREE=(build-tsan -DCMAKE_BUILD_TYPE=Debug -DSPLICEFS_TSAN=ON -DSPLICEFS_PYTHON=OFF)
# -g1 (line tables and function names: backtraces, ASan/UBSan reports and perf keep their
# file:line) instead of -g: a quarter less compile time on 2 cores, where the build is a third
# of the run. Debuggers want -g; the trees below are for tests.
CI_DEBUG_INFO=-g1
# ASan+UBSan tree: Debug (-O0 compiles much faster on 2 cores; the sanitizers need no -O2).
# The Python module stays off here: an ASan-built extension cannot load into the stock
# python3 without preloading the runtime.
ASAN_TREE=(build-asan -DCMAKE_BUILD_TYPE=Debug -DSPLICEFS_SANITIZE=ON -DSPLICEFS_PYTHON=OFF
    "-DCMAKE_CXX_FLAGS_DEBUG=$CI_DEBUG_INFO")

# start_sanitizer_builds: build-tsan/ (splicefs only) then build-asan/ in the background at
# nice 10, beside build/'s tests. Those are serial mount tests, latency-bound: after the lint
# they left a core idle for most of their ten minutes, while the two builds took another five
# minutes of both cores after them. The lint (nice 19) yields to the builds, which must be done
# when build/'s tests are: at nice 15 they still ended 90 s after them, the lint taking a third
# of the spare core. Its own process group, so that an interrupted run ends the compilers too.
start_sanitizer_builds() {
    local trees=()
    [[ ${SPLICEFS_SKIP_TSAN:-0} != 1 ]] && trees+=(tsan)
    [[ ${SPLICEFS_SKIP_ASAN:-0} != 1 ]] && trees+=(asan)
    ((${#trees[@]} > 0)) || return 0
    BUILDS_LOG="$PWD/sanitizer-builds.log"
    BUILDS_T0=$SECONDS
    say "build-tsan/ and build-asan/ built in the background (nice 10), log $BUILDS_LOG"
    # shellcheck disable=SC2016 # expanded by the inner bash
    setsid bash -c '
        source scripts/lib/common.sh
        '"$(declare -f build_tree)"'
        JOBS=$1; shift
        for t in "$@"; do
            case $t in
            tsan) BUILD_NICE=10 BUILD_TARGET=splicefs build_tree '"${TSAN_TREE[*]@Q}"' ;;
            asan) BUILD_NICE=10 build_tree '"${ASAN_TREE[*]@Q}"' ;;
            esac
        done' _ "$JOBS" "${trees[@]}" >"$BUILDS_LOG" 2>&1 &
    BUILDS_PID=$!
}

# finish_sanitizer_builds: wait for them (the next steps need both).
finish_sanitizer_builds() {
    [[ -n $BUILDS_PID ]] || return 0
    say "waiting for the background builds"
    wait "$BUILDS_PID"
    BUILDS_PID=
    say "background builds done ($((SECONDS - BUILDS_T0)) s after they started)"
}

# run_tree DIR CMAKE_ARGS...: configure and build (unless $PREBUILT), ctest; adds to the totals.
run_tree() {
    local dir=$1 log
    shift
    log="$dir/ctest.log"
    local t0=$SECONDS
    if [[ ${PREBUILT:-0} != 1 ]]; then
        build_tree "$dir" "$@"
    fi
    count_build "$dir" || return
    if [[ ${PREBUILT:-0} == 1 ]]; then
        say "ctest $dir (built in the background)"
    else
        say "ctest $dir (built in $((SECONDS - t0)) s)"
    fi
    local exclude=()
    if [[ ${LINT_BESIDE:-0} == 1 ]] && start_lint "$dir"; then
        exclude=(-E '^clang_tidy$')
    fi
    [[ ${BUILDS_BESIDE:-0} == 1 ]] && start_sanitizer_builds
    (cd "$dir" && ctest --output-on-failure -j"$JOBS" --no-tests=error "${exclude[@]}") 2>&1 | tee "$log"
    # "95% tests passed, 2 tests failed out of 40"
    local summary total failed
    summary=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1)
    if [[ -z $summary ]]; then
        FAILED=$((FAILED + 1))
        FAILED_WHAT+=("$dir: ctest did not run")
        return
    fi
    failed=$(sed -E 's/.* ([0-9]+) tests? failed.*/\1/' <<<"$summary")
    total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$summary")
    PASSED=$((PASSED + total - failed))
    FAILED=$((FAILED + failed))
    if ((failed > 0)); then
        FAILED_WHAT+=("$dir: $failed test(s), see $log")
        # The names, so that the last lines of a CI run say which tests failed.
        while IFS= read -r name; do
            FAILED_WHAT+=("$dir:   $name")
        done < <(sed -n '/^The following tests FAILED:/,$p' "$log" | grep -E '^[[:space:]]+[0-9]+ - ' | head -20)
    fi
    say "$dir: $((total - failed)) passed, $failed failed ($((SECONDS - t0)) s in all)"
    local left
    left=$(leftover_test_mounts)
    if [[ -n $left ]]; then
        FAILED=$((FAILED + 1))
        FAILED_WHAT+=("$dir: mounts left behind: $(tr '\n' ' ' <<<"$left")")
        while IFS= read -r mp; do unmount_one "$mp"; done <<<"$left"
    fi
}

# start_lint DIR: the clang_tidy ctest's command (registered when clang-tidy is installed) in
# the background at nice 19, beside DIR's ctest, which then leaves it out. The lint is CPU-bound
# (427 s alone on 2 cores, the largest single item of a run); the mount tests it runs beside
# are serial and leave a core mostly idle, and at nice 19 it yields to them when they want both.
# finish_lint waits for it and counts it as one result. Its own process group, so that an
# interrupted run ends the whole lint (run-clang-tidy and its clang-tidy processes).
start_lint() {
    local dir=$1 cmd args
    cmd=$(cd "$dir" && ctest -N -V -R '^clang_tidy$' | sed -n 's/^[0-9]*: Test command: //p')
    [[ -n $cmd ]] || return 1
    read -ra args <<<"${cmd//\"/}" # ctest quotes each argument; none holds a space
    LINT_LOG="$PWD/$dir/clang-tidy.log"
    LINT_T0=$SECONDS
    say "clang-tidy over src/ in the background (nice 19), log $LINT_LOG"
    setsid nice -n 19 "${args[@]}" >"$LINT_LOG" 2>&1 &
    LINT_PID=$!
}

finish_lint() {
    [[ -n $LINT_PID ]] || return 0
    local rc=0
    wait "$LINT_PID" || rc=$?
    LINT_PID=
    tail -n 20 "$LINT_LOG" >&2
    if ((rc == 0)); then
        PASSED=$((PASSED + 1))
    else
        FAILED=$((FAILED + 1))
        FAILED_WHAT+=("clang_tidy: exit $rc, see $LINT_LOG")
    fi
    say "clang_tidy: exit $rc ($((SECONDS - LINT_T0)) s after it started)"
}

# tsan_first_report LOG...: the first report in TSan's log files in full, then one line per
# distinct report (with how many times it came).
tsan_first_report() {
    sed -n '/WARNING: ThreadSanitizer/,/^SUMMARY: ThreadSanitizer/{p;/^SUMMARY: ThreadSanitizer/q;}' "$@" | head -120
    grep -h '^SUMMARY: ThreadSanitizer' "$@" | sort | uniq -c | sort -rn
}

# A process of binary $1 holds an io_uring fd within 10 s: the soak's daemon serves over the
# rings rather than having fallen back to /dev/fuse.
rings_seen() {
    local pid i fd
    for ((i = 0; i < 100; i++)); do
        for pid in $(pgrep -f "^$1 " || true); do
            for fd in /proc/"$pid"/fd/*; do
                [[ $(readlink "$fd" 2>/dev/null) == *io_uring* ]] && return 0
            done
        done
        sleep 0.1
    done
    return 1
}

# run_tsan_rings DIR REL LOGS OPTS: the soak again over --transport=uring, whose queue threads
# hand replies to and from the pool. The fuse module's switch is turned on for it and put back.
run_tsan_rings() {
    local dir=$1 rel=$2 logs=$3 opts=$4 state rc=0 seen=0
    state=$(mktemp -u "$PWD/$dir/uring-switch.XXXXXX")
    scripts/uring-switch.sh on "$state"
    if [[ $(cat /sys/module/fuse/parameters/enable_uring 2>/dev/null) != Y ]]; then
        say "no FUSE over io_uring on this kernel: no TSan soak over the rings"
        scripts/uring-switch.sh restore "$state"
        return
    fi
    say "soak over the rings (--transport=uring) against the TSan daemon"
    SPLICEFS_TEST_ARGS=--transport=uring SPLICEFS_BIN="$PWD/$dir/splicefs" \
        SPLICEFS_SOAK_SECONDS=${SPLICEFS_TSAN_RINGS_SECONDS:-10} TSAN_OPTIONS="$opts log_path=$logs/rings" \
        timeout 900 "$rel" --gtest_filter='Soak.*' >"$logs/rings.out" 2>&1 &
    local soak=$!
    rings_seen "$PWD/$dir/splicefs" && seen=1
    wait "$soak" || rc=$?
    scripts/uring-switch.sh restore "$state"
    grep -aE '^\[soak\]|^\[ +(OK|FAILED) +\]' "$logs/rings.out" >&2
    if ((rc != 0)); then
        FAILED=$((FAILED + 1))
        FAILED_WHAT+=("$dir: soak over the rings failed (exit $rc), see $logs/rings.out")
    elif ((seen == 0)); then
        FAILED=$((FAILED + 1))
        FAILED_WHAT+=("$dir: the soak's daemon never held an io_uring fd (fell back to /dev/fuse?)")
    else
        PASSED=$((PASSED + 1))
    fi
}

# run_tsan: the reliability tests against a ThreadSanitizer daemon. The concurrency is in the
# daemon, so build-tsan/ builds the splicefs target alone and build/'s reliability_tests
# drives it (SPLICEFS_BIN). Fails on any TSan report, and when the soak's daemon shows no
# sign of running under TSan. Adds one result for the soak, one for the soak over the rings
# (run_tsan_rings) and one for the other suites.
# Debug, as for ASan: a quarter less build time and 45% less CPU than RelWithDebInfo on 2
# cores, for 5-30% fewer soak operations in the same 20 s, and unabridged report stacks.
run_tsan() {
    local dir=build-tsan t0=$SECONDS rel=build/tests/reliability/reliability_tests logs reports=()
    logs="$PWD/$dir/tsan-logs"
    count_build "$dir" || return
    if [[ ! -x $rel ]]; then
        FAILED=$((FAILED + 1))
        FAILED_WHAT+=("$dir: $rel was not built, nothing to drive the TSan daemon")
        return
    fi
    rm -rf "$logs"
    mkdir -p "$logs"
    # halt_on_error=0: every report, not just the first; exitcode=66 also fails the soak's
    # "daemon exited 0" check. verbosity=1 makes the daemon log "Running under
    # ThreadSanitizer": proof that SPLICEFS_BIN was honoured (the soak reads no daemon output).
    local opts="halt_on_error=0 exitcode=66" rc=0
    say "soak against the TSan daemon ($dir built in $((SECONDS - t0)) s)"
    # Two hybrid serving threads: the default's pool hand-offs plus two threads serving at once.
    SPLICEFS_TUNE_SERVING_THREADS=2 \
    SPLICEFS_BIN="$PWD/$dir/splicefs" SPLICEFS_SOAK_SECONDS=${SPLICEFS_TSAN_SOAK_SECONDS:-15} \
        TSAN_OPTIONS="$opts verbosity=1 log_path=$logs/soak" \
        timeout 900 "$rel" --gtest_filter='Soak.*' >"$logs/soak.out" 2>&1 || rc=$?
    grep -aE '^\[soak\]|^\[ +(OK|FAILED) +\]' "$logs/soak.out" >&2
    if ! grep -qs 'Running under ThreadSanitizer' "$logs"/soak.*[0-9]; then
        FAILED=$((FAILED + 1))
        FAILED_WHAT+=("$dir: the soak's daemon did not run under TSan (see $logs/soak.out)")
    elif ((rc != 0)); then
        FAILED=$((FAILED + 1))
        FAILED_WHAT+=("$dir: soak failed (exit $rc), see $logs/soak.out")
    else
        PASSED=$((PASSED + 1))
    fi
    run_tsan_rings "$dir" "$rel" "$logs" "$opts"
    # The reliability suites that start their daemon through rel_util: SIGKILL, fd eviction
    # under a 512-fd limit (the 100,000-file walk stays in build/: half a minute more here),
    # ENOSPC. Cheap, and they reach paths the soak does not (the others use the mount fixture,
    # which runs build/'s daemon). No verbosity: the kill test counts daemon lines.
    rc=0
    say "kill, fd-limit and ENOSPC tests against the TSan daemon"
    SPLICEFS_BIN="$PWD/$dir/splicefs" TSAN_OPTIONS="$opts log_path=$logs/rel" \
        timeout 900 "$rel" --gtest_filter='Kill.*:FdLimit.Exhaustion*:*/Enospc.*' >"$logs/rel.out" 2>&1 || rc=$?
    grep -aE '^\[ +FAILED +\]|^\[  PASSED  \]' "$logs/rel.out" >&2
    if ((rc != 0)); then
        FAILED=$((FAILED + 1))
        FAILED_WHAT+=("$dir: reliability tests failed (exit $rc), see $logs/rel.out")
    else
        PASSED=$((PASSED + 1))
    fi
    mapfile -t reports < <(grep -ls 'WARNING: ThreadSanitizer' "$logs"/soak.*[0-9] "$logs"/rings.*[0-9] "$logs"/rel.*[0-9])
    if ((${#reports[@]} > 0)); then
        tsan_first_report "${reports[@]}" >&2
        FAILED=$((FAILED + 1))
        FAILED_WHAT+=("$dir: ThreadSanitizer reports in ${reports[*]}")
    fi
    say "$dir: TSan step done ($((SECONDS - t0)) s in all)"
}

START=$SECONDS
LINT_BESIDE=1 BUILDS_BESIDE=1 run_tree build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPLICEFS_PYTHON=ON \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 $CI_DEBUG_INFO -DNDEBUG"
# A build/ that failed to build started no background builds: build the sanitizer trees here.
[[ -z $BUILDS_PID && ! -f build/ctest.log ]] && start_sanitizer_builds
finish_sanitizer_builds
# After build/: its reliability_tests drives the TSan daemon. SPLICEFS_SKIP_TSAN=1 skips it.
if [[ ${SPLICEFS_SKIP_TSAN:-0} != 1 ]]; then
    run_tsan
fi
# SPLICEFS_SKIP_ASAN=1 skips the ASan+UBSan tree.
# A 64 MiB quarantine instead of 256: the soak bounds the daemon's peak RSS at 256 MiB, which
# ASan's quarantine of freed memory alone would otherwise fill.
if [[ ${SPLICEFS_SKIP_ASAN:-0} != 1 ]]; then
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:quarantine_size_mb=64} \
        UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        PREBUILT=1 run_tree "${ASAN_TREE[@]}"
fi

finish_lint
cleanup_stale_test_mounts >/dev/null
echo
# A short excerpt of each failed ctest's own output (the full logs stay in DIR/ctest.log).
for dir in build build-asan; do
    [[ -f $dir/ctest.log ]] || continue
    while IFS= read -r name; do
        echo "--- $dir: $name (last lines of its output)"
        awk -v n="$name" 'index($0, ": " n " ") && /Test +#[0-9]+: .*(Failed|Timeout|Exception)/ {on=1; next}
            on && (/^ +Start +[0-9]+: / || /Test +#[0-9]+: /) {exit} on' \
            "$dir/ctest.log" | grep -aE 'FAIL|rror|expected|Which is|Value of|differs|Timeout|^  [^ ]' | tail -16
    done < <(sed -n '/^The following tests FAILED:/,$p' "$dir/ctest.log" |
        sed -nE 's/^[[:space:]]+[0-9]+ - ([^ ]+).*/\1/p' | head -5)
done
for what in "${FAILED_WHAT[@]}"; do echo "FAILED: $what"; done
echo "time: $((SECONDS - START)) s"
echo "$PASSED passed, $FAILED failed"
((FAILED == 0))
