#!/bin/bash
# clang-tidy (the root .clang-tidy) over every src/ file in a build's compile database. Any
# warning fails, as --warnings-as-errors='*' would (run-clang-tidy 14 has no such option and
# exits 0 on warnings). The `clang_tidy` ctest runs this; by hand: scripts/clang-tidy.sh build
#
# The static analyzer (clang-analyzer-*) runs in its "shallow" mode: less inlining across
# calls, the same checkers. Its default deep mode was about half of the whole lint's CPU, and
# the lint the largest single item of CI (584 s of a 46-minute run): shallow cuts the analyzer
# to a quarter (backing_watch.cpp: 20.5 s -> 5.5 s). SPLICEFS_TIDY_ANALYZER=deep runs it whole.
set -euo pipefail
build=${1:?usage: clang-tidy.sh BUILD_DIR [SOURCE_DIR] [RUN_CLANG_TIDY] [CLANG_TIDY]}
src=${2:-$(cd "$(dirname "$0")/.." && pwd)}
runner=${3:-run-clang-tidy}
tidy=${4:-clang-tidy}
if [[ ! -f $build/compile_commands.json ]]; then
    echo "clang-tidy.sh: no $build/compile_commands.json (configure the build first)" >&2
    exit 1
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# -Wno-unknown-warning-option: the database holds GCC-only flags (-Wno-restrict).
analyzer=()
if [[ ${SPLICEFS_TIDY_ANALYZER:-shallow} != deep ]]; then
    analyzer=(-extra-arg=-Xclang -extra-arg=-analyzer-config -extra-arg=-Xclang -extra-arg=mode=shallow)
fi
"$runner" -clang-tidy-binary "$tidy" -p "$build" -quiet -extra-arg=-Wno-unknown-warning-option "${analyzer[@]}" \
    "^$src/src/.*\.cpp\$" >"$log" 2>&1 || status=$?
findings=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error):' || true)
if [[ -n $findings ]]; then
    printf '%s\n' "$findings" | sort -u
    echo "clang-tidy.sh: $(printf '%s\n' "$findings" | sort -u | wc -l) finding(s) in src/" >&2
    exit 1
fi
if [[ $status -ne 0 ]]; then
    tail -n 40 "$log"
    echo "clang-tidy.sh: run-clang-tidy failed (exit $status)" >&2
    exit 1
fi
# run-clang-tidy prints each file's command line, which starts with the binary's path.
echo "clang-tidy.sh: src/ is clean ($(grep -cE '^(/[^ ]*/)?clang-tidy[^ ]* ' "$log" || true) files)"
