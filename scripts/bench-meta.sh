#!/usr/bin/env bash
# Small-request benchmark (issue 17): create / stat after remount / list / unlink over 10,000
# files in one directory, 4 KiB random read (cold mount), 4 KiB and 1 MiB sequential writes;
# splicefs and its peers in the same run, rounds in rotating order, median of per-round ratios
# to native, by our Python loop and by fio's filecreate/filestat/filedelete + `ls -f` + fio psync.
# --requests prints instead, per op, the FUSE requests the kernel sent (fuse_request_send
# tracepoint) and the syscalls each daemon made (strace -c -f).
# Run as root on Debian 12.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HELPERS="$ROOT/scripts/bench"

usage() {
    cat <<USAGE
Usage: scripts/bench-meta.sh [options]
  --rounds N          rounds (default 3)
  --files N           files in the directory (default 10000)
  --splicefs PATH     splicefs binary (default: build $ROOT/build-bench, Release)
  --hp PATH           passthrough_hp binary to include (libfuse's example; not packaged by Debian)
  --load N            run N CPU burners during the benchmark (a differently loaded run)
  --requests          print requests and syscalls per op instead of timings (N=1000)
  --also NAME=ARGS    one more splicefs configuration: the same binary with ARGS, shown as
                      splicefs-NAME (e.g. --also spin=--spin-us=200); repeatable
  --out FILE          also write the table here
USAGE
}

ROUNDS=3 FILES=10000 SPLICEFS="" HP="" LOAD=0 REQUESTS=0 OUT="" ALSO=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds|--files|--splicefs|--hp|--load|--out|--also) [[ $# -ge 2 ]] || { usage >&2; exit 2; } ;;&
        --rounds) ROUNDS=$2; shift ;;
        --files) FILES=$2; shift ;;
        --splicefs) SPLICEFS=$(realpath "$2"); shift ;;
        --hp) HP=$(realpath "$2"); shift ;;
        --load) LOAD=$2; shift ;;
        --out) OUT=$2; shift ;;
        --also) [[ $2 == *=* ]] || { usage >&2; exit 2; }; ALSO+=("$2"); shift ;;
        --requests) REQUESTS=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench-meta.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

say() { printf '[bench-meta] %s\n' "$*" >&2; }
[[ $(id -u) -eq 0 ]] || { say "run as root (mounts, tracing)"; exit 2; }
for tool in fio bindfs mergerfs strace fusermount3; do
    command -v "$tool" >/dev/null || { say "missing $tool (apt-get install fio bindfs mergerfs strace fuse3)"; exit 2; }
done

WORK="" PIDLOG="" BURNERS=()
mounts_under() {
    awk -v root="$WORK" '$5 == root || index($5, root "/") == 1 { print length($5), $5 }' /proc/self/mountinfo |
        sort -rn | cut -d' ' -f2-
}
cleanup() {
    local rc=$? mp pid arg
    trap - EXIT INT TERM
    for pid in ${BURNERS[@]+"${BURNERS[@]}"}; do kill "$pid" 2>/dev/null || true; done
    [[ -n $WORK && -d $WORK ]] || exit "$rc"
    for mp in $(mounts_under); do
        fusermount3 -u "$mp" 2>/dev/null || umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || true
    done
    while read -r pid arg; do
        [[ -n $pid && -r /proc/$pid/cmdline ]] || continue
        if tr '\0' '\n' </proc/"$pid"/cmdline | grep -qxF "$arg"; then kill -TERM "$pid" 2>/dev/null || true; fi
    done <"$PIDLOG"
    [[ -z $(mounts_under) ]] && rm -rf --one-file-system "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ -z $SPLICEFS ]]; then
    say "building splicefs (Release) in $ROOT/build-bench"
    cmake -S "$ROOT" -B "$ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
    nice cmake --build "$ROOT/build-bench" -j"$(nproc)" --target splicefs >/dev/null
    SPLICEFS="$ROOT/build-bench/splicefs"
fi

WORK=$(mktemp -d /tmp/splicefs-meta.XXXXXX)
PIDLOG="$WORK/pids"
: >"$PIDLOG"
CONFIGS=(--config "splicefs=$SPLICEFS -f {backing} {mnt}" --config "bindfs=bindfs -f {backing} {mnt}"
         --config "mergerfs=mergerfs -f -o cache.files=partial {backing} {mnt}")
for extra in ${ALSO[@]+"${ALSO[@]}"}; do
    CONFIGS+=(--config "splicefs-${extra%%=*}=$SPLICEFS -f ${extra#*=} {backing} {mnt}")
done
[[ -n $HP ]] && CONFIGS+=(--config "passthrough_hp=$HP --foreground {backing} {mnt}")

for ((i = 0; i < LOAD; i++)); do
    # A CPU burner of our own: the other daemons and the benchmark compete with it.
    sh -c 'while :; do :; done' &
    BURNERS+=($!)
done

if [[ $REQUESTS -eq 1 ]]; then
    SPECS=()
    for ((i = 0; i < ${#CONFIGS[@]}; i += 2)); do SPECS+=(--spec "${CONFIGS[i + 1]}"); done
    /usr/bin/python3 "$HELPERS/requests.py" --workdir "$WORK" --pidlog "$PIDLOG" --n 1000 --big 64 \
        ${OUT:+--out "$OUT"} "${SPECS[@]}" &
else
    /usr/bin/python3 "$HELPERS/meta.py" --workdir "$WORK" --pidlog "$PIDLOG" --rounds "$ROUNDS" \
        --files "$FILES" --label "load: ${LOAD} burner(s) of ours;" ${OUT:+--out "$OUT"} "${CONFIGS[@]}" &
fi
wait $!
