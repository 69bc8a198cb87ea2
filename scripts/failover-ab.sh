#!/usr/bin/env bash
# What failover costs when nothing fails: failover on (the default) vs --no-failover,
# alternated for R rounds, each a fresh mount: one 300 MiB read with 1 MiB O_DIRECT requests
# (seconds) and 5,000 open+close round trips (microseconds each). Prints one line per run and
# the medians. A shared machine is noisy: read the medians, not single rounds.
#   scripts/failover-ab.sh [--rounds R] [--binary PATH]
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="$ROOT/build/splicefs"
ROUNDS=5
while (($#)); do
    case $1 in
        --rounds) ROUNDS=$2; shift ;;
        --binary) BIN=$2; shift ;;
        -h | --help) sed -n '2,7p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done
[[ -x $BIN ]] || { echo "splicefs binary not found (use --binary)" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "needs root (mounting)" >&2; exit 2; }

T=$(mktemp -d /tmp/splicefs-ab.XXXXXX)
mkdir -p "$T/b" "$T/m"
DAEMON=""
cleanup() {
    if [[ -n $DAEMON ]]; then
        fusermount3 -u "$T/m" 2>/dev/null || fusermount3 -u -z "$T/m" 2>/dev/null
        wait "$DAEMON" 2>/dev/null
    fi
    rm -rf "$T"
}
trap cleanup EXIT
head -c $((300 << 20)) /dev/urandom >"$T/b/big"

: >"$T/results"
for _ in $(seq "$ROUNDS"); do
    for mode in on off; do
        args=()
        [[ $mode == off ]] && args=(--no-failover)
        "$BIN" -f "${args[@]}" "$T/b" "$T/m" >"$T/log" 2>&1 &
        DAEMON=$!
        for _ in $(seq 100); do
            mountpoint -q "$T/m" && break
            sleep 0.05
        done
        read_s=$({ /usr/bin/time -f %e dd if="$T/m/big" of=/dev/null bs=1M iflag=direct status=none; } 2>&1)
        open_us=$(/usr/bin/python3 -c '
import os, sys, time
p = sys.argv[1]
t = time.perf_counter()
for _ in range(5000):
    os.close(os.open(p, os.O_RDONLY))
print(f"{(time.perf_counter() - t) / 5000 * 1e6:.1f}")' "$T/m/big")
        echo "failover $mode: read 300 MiB ${read_s} s, open+close ${open_us} us" | tee -a "$T/results"
        fusermount3 -u "$T/m"
        wait "$DAEMON"
        DAEMON=""
    done
done
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
for mode in on off; do
    r=$(grep "failover $mode:" "$T/results" | awk '{print $6}' | median)
    o=$(grep "failover $mode:" "$T/results" | awk '{print $9}' | median)
    echo "median, failover $mode: read 300 MiB $r s, open+close $o us ($ROUNDS rounds)"
done
