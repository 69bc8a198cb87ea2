#!/usr/bin/env bash
# Full check on a fresh Debian 12, as root: install what is missing, build (WERROR, Python)
# in build/, run every ctest label, then the same with ASan+UBSan in build-asan/.
# Ends with "N passed, N failed"; exits non-zero when anything failed.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
# shellcheck source=scripts/lib/common.sh
source scripts/lib/common.sh

JOBS=$(nproc)
PASSED=0
FAILED=0
FAILED_WHAT=()

require_root
ensure_packages "${SPLICEFS_TEST_PACKAGES[@]}"
ensure_fuse
cleanup_stale_test_mounts >/dev/null
trap 'cleanup_stale_test_mounts >/dev/null' EXIT

# run_tree DIR CMAKE_ARGS...: configure, build, ctest; adds to the totals.
run_tree() {
    local dir=$1 log
    shift
    log="$dir/ctest.log"
    local t0=$SECONDS
    say "configure $dir ($*)"
    if ! cmake -S . -B "$dir" -DSPLICEFS_WERROR=ON "$@" >/dev/null; then
        FAILED=$((FAILED + 1))
        FAILED_WHAT+=("$dir: configure")
        return
    fi
    say "build $dir"
    if ! nice cmake --build "$dir" -j"$JOBS" >"$dir/build.log" 2>&1; then
        grep -E 'error|Error' "$dir/build.log" | head -40 >&2
        FAILED=$((FAILED + 1))
        FAILED_WHAT+=("$dir: build (see $dir/build.log)")
        return
    fi
    say "ctest $dir (built in $((SECONDS - t0)) s)"
    (cd "$dir" && ctest --output-on-failure -j"$JOBS" --no-tests=error) 2>&1 | tee "$log"
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
    ((failed > 0)) && FAILED_WHAT+=("$dir: $failed test(s), see $log")
    say "$dir: $((total - failed)) passed, $failed failed ($((SECONDS - t0)) s in all)"
    local left
    left=$(leftover_test_mounts)
    if [[ -n $left ]]; then
        FAILED=$((FAILED + 1))
        FAILED_WHAT+=("$dir: mounts left behind: $(tr '\n' ' ' <<<"$left")")
        while IFS= read -r mp; do unmount_one "$mp"; done <<<"$left"
    fi
}

START=$SECONDS
run_tree build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPLICEFS_PYTHON=ON
# ASan+UBSan tree: Debug (-O0 compiles much faster on 2 cores; the sanitizers need no -O2).
# The Python module stays off here: an ASan-built extension cannot load into the stock
# python3 without preloading the runtime. SPLICEFS_SKIP_ASAN=1 skips this tree.
if [[ ${SPLICEFS_SKIP_ASAN:-0} != 1 ]]; then
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
        UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        run_tree build-asan -DCMAKE_BUILD_TYPE=Debug -DSPLICEFS_SANITIZE=ON -DSPLICEFS_PYTHON=OFF
fi

cleanup_stale_test_mounts >/dev/null
echo
for what in "${FAILED_WHAT[@]}"; do echo "FAILED: $what"; done
echo "time: $((SECONDS - START)) s"
echo "$PASSED passed, $FAILED failed"
((FAILED == 0))
