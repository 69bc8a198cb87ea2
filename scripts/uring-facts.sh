#!/usr/bin/env bash
# Shows, on this kernel, the FUSE-over-io_uring facts the transport relies on
# (src/transport/fuse_uring_abi.hpp):
#  1. INIT offers FUSE_OVER_IO_URING only while enable_uring=Y (with N, --transport=uring logs
#     the refusal and the mount stays on /dev/fuse);
#  2. with Y, REGISTER on 128-byte-SQE rings is accepted and requests arrive in the rings, one
#     queue per possible CPU, each queue used by callers on its CPU;
#  3. which requests still arrive on /dev/fuse once the rings serve: libfuse's -d trace lists
#     every request, the daemon's trace lists those that came in a ring.
# Root. Usage: scripts/uring-facts.sh [PATH/TO/splicefs]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/scripts/lib/common.sh"
BIN=${1:-$ROOT/build/splicefs}
[[ $(id -u) -eq 0 ]] || die "needs root"
PARAM=/sys/module/fuse/parameters/enable_uring
[[ -e $PARAM ]] || die "no $PARAM: this kernel has no CONFIG_FUSE_IO_URING"
T=$(mktemp -d /tmp/splicefs-facts.XXXXXX)
STATE=$T/switch
PID=""
cleanup() {
    if mountpoint -q "$T/m"; then fusermount3 -u "$T/m" || umount -l "$T/m"; fi
    [[ -n $PID ]] && kill "$PID" 2>/dev/null || true
    "$ROOT/scripts/uring-switch.sh" restore "$STATE"
    rm -rf "$T"
}
trap cleanup EXIT
mkdir "$T/b" "$T/m"
"$ROOT/scripts/uring-switch.sh" on "$STATE"

mount_it() {  # $1: log name; the rest: extra options
    local name=$1; shift
    "$BIN" -d --log-level=trace --transport=uring "$@" "$T/b" "$T/m" > "$T/$name.out" 2>&1 &
    PID=$!
    for _ in $(seq 100); do mountpoint -q "$T/m" && return; sleep 0.05; done
    die "mount failed: $(tail -5 "$T/$name.out")"
}
unmount_it() {
    fusermount3 -u "$T/m"
    wait "$PID" || true
    PID=""
}

echo N > $PARAM
mount_it off
cat "$T/m/." >/dev/null 2>&1 || true
unmount_it
say "1. enable_uring=N: $(grep -o 'transport: the kernel does not offer[^;]*; serving /dev/fuse' "$T/off.out" | head -1)"

echo Y > $PARAM
mount_it on
# A workload on both CPUs: names, data, an fsync (pool), a waiting flock, an interrupted one,
# an outside change (notification), and dropped dentries (FORGET).
for cpu in 0 1; do
    D="$T/m/d$cpu"
    taskset -c $cpu sh -c 'mkdir -p "$1"; for i in $(seq 50); do echo "$i" > "$1/f$i"; done
        cat "$1"/f* >/dev/null; sync "$1/f1"' sh "$D" || true
done
echo x > "$T/m/lock"
flock "$T/m/lock" -c "sleep 0.5" &
HOLDER=$!
sleep 0.1
timeout -s INT 0.2 flock "$T/m/lock" -c true || true
wait "$HOLDER"  # not a bare wait: the daemon is a background job too
echo outside > "$T/b/outside"; sleep 0.2; cat "$T/m/outside" >/dev/null
echo changed > "$T/b/outside"; sleep 0.2; cat "$T/m/outside" >/dev/null
sync; echo 2 > /proc/sys/vm/drop_caches; sleep 0.3
stat "$T/m/d0" >/dev/null
unmount_it
/usr/bin/python3 - "$T/on.out" <<'PY'
import collections, re, sys
text = open(sys.argv[1], errors="replace").read()
ring = {}
for m in re.finditer(r"transport: ring (\d+) unique (\d+)", text):
    ring[int(m.group(2))] = int(m.group(1))
first_ring = min(ring) if ring else None
via_ring, via_dev, queues = collections.Counter(), collections.Counter(), collections.Counter(ring.values())
for m in re.finditer(r"unique: (\d+), opcode: (\w+) \((\d+)\)", text):
    unique, op = int(m.group(1)), m.group(2)
    if unique in ring:
        via_ring[op] += 1
    elif first_ring is not None and unique > first_ring:
        via_dev[op] += 1
print(f"2. rings: {len(ring)} requests; per queue (qid: count): {dict(sorted(queues.items()))}")
print("   " + next((l for l in text.splitlines() if "transport: io_uring," in l), "no ring start line"))
print(f"   in the rings: {dict(via_ring.most_common())}")
print(f"3. on /dev/fuse after the first ring request: {dict(via_dev.most_common())}")
PY
