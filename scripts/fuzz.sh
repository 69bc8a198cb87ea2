#!/usr/bin/env bash
# Fuzzes the command-line parser with libFuzzer for a bounded time.
#   scripts/fuzz.sh [SECONDS]   (default 60)
# Builds tests/fuzz (clang++, -fsanitize=fuzzer,address,undefined) in build-fuzz/, seeds a
# corpus with real invocations and a dictionary of every option name from the registry,
# then runs. Exit 0 when no crash/leak/timeout was found; crash inputs land in build-fuzz/.
set -euo pipefail

SECONDS_TO_RUN=${1:-60}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${SPLICEFS_FUZZ_BUILD:-$ROOT/build-fuzz}
CXX_FUZZ=${CXX_FUZZ:-clang++}
command -v "$CXX_FUZZ" >/dev/null || { echo "clang++ not found (apt-get install clang)" >&2; exit 2; }

cmake -S "$ROOT/tests/fuzz" -B "$OUT" -DCMAKE_CXX_COMPILER="$CXX_FUZZ" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
nice cmake --build "$OUT" -j"$(nproc)" --target fuzz_cli_parse >"$OUT/build.log" 2>&1 ||
    { tail -30 "$OUT/build.log" >&2; exit 1; }

CORPUS="$OUT/corpus"
mkdir -p "$CORPUS"
# Seeds: argv words separated by NUL bytes (argv[0] is added by the target).
seed() { printf '%s\0' "$@" >"$CORPUS/seed-$(printf '%s' "$*" | md5sum | cut -c1-12)"; }
seed /b /m
seed -f -d /b /m
seed /b /m -o ro,allow_other,cache=never,threads=4
seed --threads 8 --clone-fd --cache=always --attr-timeout=1.5 /b /m
seed --no-splice --splice-move /b /m
seed -s --threads=2 /b /m
seed --log-level=debug --log-file /tmp/x.log /b /m -o nofail,_netdev,x-systemd.automount
seed --help
seed --version
seed --dump-options
seed /b /m -o max_read=131072,fsname=x,subtype=y,default_permissions
seed --writeback-cache --cache=never /b /m
seed -- /b /m

# Dictionary: every long option and -o word of the registry.
DICT="$OUT/options.dict"
{
    grep -oE '^\s*\{"[a-z][a-z0-9-]*"' "$ROOT/src/cli/options.cpp" | grep -oE '"[a-z0-9-]+"' |
        while read -r w; do
            w=${w//\"/}
            printf '"--%s"\n"%s"\n"%s="\n' "$w" "$w" "${w//-/_}"
        done
    printf '"-o"\n"-f"\n"-d"\n"-s"\n"-h"\n","\n"="\n"ro"\n"rw"\n"allow_other"\n"nofail"\n"auto"\n"never"\n"always"\n'
} | sort -u >"$DICT"

echo "fuzzing the option parser for ${SECONDS_TO_RUN} s ($(ls "$CORPUS" | wc -l) corpus entries, $(wc -l <"$DICT") dictionary words)"
cd "$OUT"
BIN=$(find "$OUT" -type f -name fuzz_cli_parse -perm -u+x | head -1)
status=0
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} "$BIN" -max_total_time="$SECONDS_TO_RUN" -timeout=10 \
    -rss_limit_mb=2048 -max_len=512 -dict="$DICT" -print_final_stats=1 "$CORPUS" >"$OUT/fuzz.log" 2>&1 ||
    status=$?
grep -E 'DONE|ERROR|SUMMARY|stat::number_of_executed_units|stat::peak_rss' "$OUT/fuzz.log" || true
if ((status != 0)); then
    echo "fuzzer found a problem (exit $status); see $OUT/fuzz.log and $OUT/crash-*" >&2
    exit 1
fi
echo "no crash, leak or timeout in ${SECONDS_TO_RUN} s; corpus now $(ls "$CORPUS" | wc -l) entries"
