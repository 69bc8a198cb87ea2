#!/usr/bin/env bash
# Long concurrency soak: the Soak test of tests/reliability for DURATION seconds (default
# 600), splice on, then splice off. Prints ops, peak RSS and fd counts of each run.
#   scripts/soak.sh [DURATION] [WORKERS]
# Needs a built reliability_tests (any build*/ dir, or SPLICEFS_REL_TESTS=path); root.
set -euo pipefail

DURATION=${1:-600}
WORKERS=${2:-6}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${SPLICEFS_REL_TESTS:-}
if [[ -z $BIN ]]; then
    for c in "$ROOT/build/tests/reliability/reliability_tests" "$ROOT"/build-*/tests/reliability/reliability_tests; do
        if [[ -x $c ]]; then
            BIN=$c
            break
        fi
    done
fi
[[ -x $BIN ]] || { echo "reliability_tests not built (cmake --build build --target reliability_tests)" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "needs root (mounting)" >&2; exit 2; }
[[ $DURATION =~ ^[0-9]+$ ]] || { echo "DURATION must be whole seconds" >&2; exit 2; }

FAILED=0
for args in "" "--no-splice"; do
    echo "== soak ${DURATION} s, ${WORKERS} workers, daemon options: ${args:-(default)}"
    log=$(mktemp /tmp/splicefs-soak.XXXXXX)
    rc=0
    SPLICEFS_SOAK_SECONDS=$DURATION SPLICEFS_SOAK_WORKERS=$WORKERS SPLICEFS_SOAK_ARGS=$args \
        "$BIN" --gtest_filter='Soak.*' >"$log" 2>&1 || rc=$?
    grep -aE '^\[soak\]|Failure|Expected|Which is|FAILED|PASSED|worker' "$log" || true
    if ((rc != 0)); then
        FAILED=$((FAILED + 1))
        echo "full output: $log"
    else
        rm -f "$log"
    fi
done
if ((FAILED > 0)); then
    echo "soak: $FAILED run(s) failed"
    exit 1
fi
echo "soak: all runs passed"
