#!/bin/bash
# `splicefs stats --format=prometheus` against live mounts after real I/O, checked with a real
# parser: python3-prometheus-client's text_string_to_metric_families (Debian's package).
# Counters match the bytes moved, histograms are cumulative with +Inf == _count == calls,
# every sample names its mount; without MOUNTPOINT every splicefs mount is there.
# Usage: stats_prometheus.sh SPLICEFS      (exit 77 = skipped)
BIN=$1
PY=/usr/bin/python3
$PY -c 'import prometheus_client.parser' 2>/dev/null || { echo "SKIP: python3-prometheus-client missing"; exit 77; }
. "$(dirname "$0")/lib.sh"
B1=$T/backing1 B2=$T/backing2 M1="$T/mnt one" M2=$T/mnt2
M1_ESCAPED=${M1// /\\\\040}  # /proc/mounts writes \040, as a grep pattern (wait_mount); the harness cannot detach it
mkdir -p "$B1" "$B2" "$M1" "$M2"
CLEANUP_HOOKS+=('fusermount3 -u "$M1" 2>/dev/null || umount -l "$M1" 2>/dev/null')
check "mount 1 (a space in its path)" "$BIN" "$B1" "$M1"
check "mount 2 (with the spin)" "$BIN" --spin-us=200 "$B2" "$M2"
{ wait_mount "$M1_ESCAPED" yes && wait_mount "$M2" yes; } || { fail "not mounted"; finish; }

head -c 3000000 /dev/urandom >"$T/data"
cp "$T/data" "$M1/data"
check "written through" cmp -s "$T/data" "$B1/data"
check "read back through" cmp -s "$T/data" "$M1/data"
$PY -c 'import os, sys; os.getxattr(sys.argv[1], "user.none")' "$M1/data" 2>/dev/null  # ENODATA
# Back-to-back requests on mount 2, so that its spin opens a window (it starts closed).
$PY -c 'import os, sys
for i in range(300): open(os.path.join(sys.argv[1], f"f{i}"), "w").close()
for i in range(300): os.stat(os.path.join(sys.argv[1], f"f{i}"))' "$M2"

# check_exposition FILE MOUNT[...]: parse FILE; the first MOUNT's counters must show the I/O
# above, every named MOUNT must be there with splicefs_up 1.
check_exposition() {
    $PY - "$@" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families

path, mounts = sys.argv[1], sys.argv[2:]
size = 3000000
fams = {f.name: f for f in text_string_to_metric_families(open(path).read())}
want = {"splicefs_up": "gauge", "splicefs_transfer_bytes": "counter", "splicefs_transfer_requests": "counter",
        "splicefs_open_files": "gauge", "splicefs_open_dirs": "gauge", "splicefs_known_inodes": "gauge",
        "splicefs_inode_fds": "gauge", "splicefs_inode_reopens": "counter", "splicefs_passthrough_opens": "counter",
        "splicefs_passthrough_fallbacks": "counter", "splicefs_watched_dirs": "gauge",
        "splicefs_outside_changes": "counter", "splicefs_changed_opens": "counter",
        "splicefs_splice_fallbacks": "counter", "splicefs_operations": "counter",
        "splicefs_operation_errors": "counter", "splicefs_operation_duration_seconds": "histogram",
        "splicefs_failover_enabled": "gauge", "splicefs_failovers": "counter",
        "splicefs_requests_resent": "counter", "splicefs_upgrades": "counter",
        "splicefs_upgrade_failures": "counter", "splicefs_supervisor_pid": "gauge",
        "splicefs_worker_pid": "gauge", "splicefs_failover_last_pause_seconds": "gauge",
        "splicefs_build_info": "gauge", "splicefs_spin_windows": "counter", "splicefs_spin_caught": "counter",
        "splicefs_spin_contended": "counter", "splicefs_spin_seconds": "counter"}
problems = []
got = {name: f.type for name, f in fams.items()}
if got != want:
    problems.append(f"families {got} != {want}")
up = {s.labels["mountpoint"]: s.value for s in fams["splicefs_up"].samples}
for m in mounts:
    if up.get(m) != 1:
        problems.append(f"splicefs_up for {m!r} is {up.get(m)}")
first = mounts[0]
def value(fam, name, **labels):
    return sum(s.value for s in fams[fam].samples
               if s.name == name and s.labels["mountpoint"] == first
               and all(s.labels.get(k) == v for k, v in labels.items()))
for direction in ("read", "write"):
    moved = value("splicefs_transfer_bytes", "splicefs_transfer_bytes_total", direction=direction)
    if moved < size:
        problems.append(f"{direction} bytes {moved} < {size}")
    if value("splicefs_transfer_requests", "splicefs_transfer_requests_total", direction=direction) < 1:
        problems.append(f"no {direction} requests")
if value("splicefs_operation_errors", "splicefs_operation_errors_total", op="getxattr") < 1:
    problems.append("the failed getxattr of user.none is not counted")
hist = fams["splicefs_operation_duration_seconds"]
series = {}
for s in hist.samples:
    if not s.labels.get("mountpoint") or not s.labels.get("op"):
        problems.append(f"sample without mountpoint/op: {s}")
        continue
    series.setdefault((s.labels["mountpoint"], s.labels["op"]), []).append(s)
for (mp, op), samples in series.items():
    buckets = [(float(s.labels["le"]), s.value) for s in samples if s.name.endswith("_bucket")]
    count = [s.value for s in samples if s.name.endswith("_count")]
    total = [s.value for s in samples if s.name.endswith("_sum")]
    les = [le for le, _ in buckets]
    if les != sorted(les) or les[-1] != float("inf") or len(buckets) != 27:
        problems.append(f"{op}: bucket bounds {les}")
    if any(b[1] > a[1] for b, a in zip(buckets, buckets[1:])):
        problems.append(f"{op}: buckets not cumulative {buckets}")
    if count != [buckets[-1][1]] or len(total) != 1 or total[0] < 0:
        problems.append(f"{op}: _count {count} / +Inf {buckets[-1][1]} / _sum {total}")
for op in ("read", "write", "lookup"):
    calls = value("splicefs_operations", "splicefs_operations_total", op=op)
    count = value("splicefs_operation_duration_seconds", "splicefs_operation_duration_seconds_count", op=op)
    if calls < 1 or count != calls:
        problems.append(f"{op}: {calls} calls but {count} latencies")
if value("splicefs_operation_duration_seconds", "splicefs_operation_duration_seconds_sum", op="read") <= 0:
    problems.append("read latency sum is 0")
# The spin: no samples for a mount without it; counts that add up for the one with it.
spin = {name: {s.labels["mountpoint"]: s.value for s in fams[f"splicefs_spin_{name}"].samples}
        for name in ("windows", "caught", "contended", "seconds")}
if any(first in by_mount for by_mount in spin.values()):
    problems.append(f"spin samples for {first}, which has no spin: {spin}")
if len(mounts) > 1:
    second = mounts[1]
    if not all(second in by_mount for by_mount in spin.values()):
        problems.append(f"spin samples missing for {second}: {spin}")
    elif spin["windows"][second] < 1 or spin["caught"][second] + spin["contended"][second] > spin["windows"][second]:
        problems.append(f"spin counts of {second} do not add up: {spin}")
print("\n".join(problems) or f"{len(fams)} families, {sum(len(f.samples) for f in fams.values())} samples")
sys.exit(1 if problems else 0)
PY
}

"$BIN" stats --format=prometheus "$M1" 2>"$T/err" >"$T/one.prom"; rc=$?
check "stats --format=prometheus MOUNT exits 0, nothing on stderr" eval '[ "$rc" = 0 ] && [ ! -s "$T/err" ]'
check "only $M1 in it" eval '! grep -v "^#" "$T/one.prom" | grep -vF "{mountpoint=\"$M1\"" | grep -q .'
check "parses; counters and histograms of $M1 show the I/O" check_exposition "$T/one.prom" "$M1"
"$BIN" stats --format=prometheus >"$T/all.prom" 2>"$T/err"; rc=$?
check "stats --format=prometheus (all mounts) exits 0" [ "$rc" = 0 ] || cat "$T/err"
check "all mounts: parses, both of ours up" check_exposition "$T/all.prom" "$M1" "$M2"
check "--format=json is --json" eval '"$BIN" stats --format=json "$M2" | grep -q "^{\"version\":"'

for bad in "--format=bogus $M2" "--json --format=prometheus $M2" "--format=prometheus $T"; do
    # shellcheck disable=SC2086 # word splitting wanted
    # shellcheck disable=SC2034 # read in the eval below
    out=$("$BIN" stats $bad 2>"$T/err"); rc=$?
    check "stats $bad: exit 1, one line on stderr, empty stdout" \
        eval '[ "$rc" = 1 ] && [ -z "$out" ] && [ "$(wc -l <"$T/err")" = 1 ] && grep -q "^splicefs: " "$T/err"'
done

fusermount3 -u "$M1"
fusermount3 -u "$M2"
check "unmounted" eval 'wait_mount "$M1_ESCAPED" no && wait_mount "$M2" no'
finish
