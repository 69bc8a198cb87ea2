#!/usr/bin/env bash
# The failover pause, measured: N SIGKILLs of the worker (one every 150 ms) while a reader
# reads an open 64 MiB file with O_DIRECT; after each kill the daemon's
# failover_last_pause_us (the supervisor's waitpid noticing the death -> the first reply the
# next worker writes) is read back. Prints p50/p99/max and the reader's verdict (it compares
# every block with the backing file). The chaos suites (tests/failover, scripts/chaos.sh)
# are the correctness tests; this is the number.
#   scripts/failover-pause.sh [--kills N] [--binary PATH]
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="$ROOT/build/splicefs"
KILLS=100
while (($#)); do
    case $1 in
        --kills) KILLS=$2; shift ;;
        --binary) BIN=$2; shift ;;
        -h | --help) sed -n '2,9p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done
[[ -x $BIN ]] || { echo "splicefs binary not found (use --binary)" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "needs root (mounting)" >&2; exit 2; }

T=$(mktemp -d /tmp/splicefs-pause.XXXXXX)
mkdir -p "$T/b" "$T/m"
DAEMON=""
READER=""
cleanup() {
    rm -f "$T/run"
    [[ -n $READER ]] && wait "$READER" 2>/dev/null
    if [[ -n $DAEMON ]]; then
        fusermount3 -u "$T/m" 2>/dev/null || fusermount3 -u -z "$T/m" 2>/dev/null
        wait "$DAEMON" 2>/dev/null
    fi
    rm -rf "$T"
}
trap cleanup EXIT
head -c $((64 << 20)) /dev/urandom >"$T/b/data"

"$BIN" -f --crash-loop=1000000/10 "$T/b" "$T/m" >"$T/log" 2>&1 &
DAEMON=$!
for _ in $(seq 100); do
    mountpoint -q "$T/m" && break
    sleep 0.05
done
mountpoint -q "$T/m" || { echo "did not mount:" >&2; cat "$T/log" >&2; exit 1; }

touch "$T/run"
/usr/bin/python3 - "$T" >"$T/reader" 2>&1 <<'PY' &
import mmap, os, sys
t = sys.argv[1]
ref = open(f"{t}/b/data", "rb").read()
fd = os.open(f"{t}/m/data", os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 1 << 20)
n = bad = 0
while os.path.exists(f"{t}/run"):
    off = (n * 7 % 64) << 20
    got = os.preadv(fd, [buf], off)
    bad += buf[:got] != ref[off:off + got]
    n += 1
print(f"reader: {n} reads of 1 MiB, {bad} wrong")
sys.exit(1 if bad else 0)
PY
READER=$!

: >"$T/pauses"
for _ in $(seq "$KILLS"); do
    worker=$(cat "/proc/$DAEMON/task/$DAEMON/children")
    kill -9 "$worker"
    sleep 0.15
    getfattr --only-values -n user.splicefs.stats "$T/m" 2>/dev/null |
        grep -o '"failover_last_pause_us":[0-9]*' | cut -d: -f2 >>"$T/pauses"
done
rm -f "$T/run"
wait "$READER"
reader_rc=$?
READER=""
cat "$T/reader"
sort -n "$T/pauses" | awk '{a[NR] = $1} END {
    p99 = int(NR * 0.99); if (p99 < 1) p99 = 1
    printf "kills %d  pause p50 %.1f ms  p99 %.1f ms  max %.1f ms\n", NR, a[int((NR + 1) / 2)] / 1000, a[p99] / 1000, a[NR] / 1000
}'
exit "$reader_rc"
