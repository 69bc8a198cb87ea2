#!/usr/bin/env bash
# The long failover run: the chaos tests of tests/failover with many more disruptions. Every
# workload (fio verify, cp -a / tar, the POSIX random mode, open / unlinked / flock'ed files, a
# passthrough mount) runs while the worker is SIGKILLed at random moments (20-500 ms apart),
# then again during live upgrades; the table shows per phase the kills or upgrades done, the
# failovers the daemon counted, the pause a program saw (a getxattr every ms: from the kill to
# the first answered request), errors seen by any program, data checks passed, daemon fds.
#
#   scripts/chaos.sh [--kills N] [--upgrades N] [--seed S] [--build DIR] [--only kill|upgrade]
#
# --kills N     SIGKILLs in all, spread over the 5 workloads (default 2000)
# --upgrades N  live upgrades in all, spread over the 5 workloads (default 100)
# --seed S      the seed (default: a new one, printed; the same seed repeats the kill moments)
# --build DIR   the build tree holding tests/failover/failover_tests (default: build)
# --only KIND   only the kill phases or only the upgrade phases
# Exits non-zero when any phase saw an error. Run as root.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KILLS=2000
UPGRADES=100
SEED=""
BUILD="$ROOT/build"
ONLY=""
while (($#)); do
    case $1 in
        --kills) KILLS=$2; shift ;;
        --upgrades) UPGRADES=$2; shift ;;
        --seed) SEED=$2; shift ;;
        --build) BUILD=$2; shift ;;
        --only) ONLY=$2; shift ;;
        -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "chaos.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
for n in "$KILLS" "$UPGRADES"; do
    [[ $n =~ ^[0-9]+$ ]] || { echo "chaos.sh: counts are whole numbers, got '$n'" >&2; exit 2; }
done
[[ -z $ONLY || $ONLY == kill || $ONLY == upgrade ]] || { echo "chaos.sh: --only kill|upgrade" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "chaos.sh: run as root (it mounts)" >&2; exit 2; }
BIN="$BUILD/tests/failover/failover_tests"
[[ -x $BIN ]] || { echo "chaos.sh: $BIN not found; build it: cmake --build $BUILD --target failover_tests" >&2; exit 2; }
command -v fio >/dev/null || { echo "chaos.sh: fio is not installed (apt-get install fio)" >&2; exit 2; }

PHASES=5
REPORT=$(mktemp /tmp/splicefs-chaos.XXXXXX.tsv)
LOG=${REPORT%.tsv}.log
trap 'rm -f "$REPORT"' EXIT
FILTER="Chaos.*${ONLY:+/$ONLY}"
SEED=${SEED:-$(( $(od -An -N4 -tu4 /dev/urandom) ))}
case $ONLY in
    kill) what="$KILLS kills" ;;
    upgrade) what="$UPGRADES upgrades" ;;
    *) what="$KILLS kills, $UPGRADES upgrades" ;;
esac
echo "chaos: $what over $PHASES workloads, seed $SEED, log $LOG" >&2
start=$SECONDS
FAILOVER_SEED=$SEED FAILOVER_REPORT=$REPORT \
    FAILOVER_KILLS=$(( (KILLS + PHASES - 1) / PHASES )) FAILOVER_UPGRADES=$(( (UPGRADES + PHASES - 1) / PHASES )) \
    "$BIN" --gtest_filter="$FILTER" >"$LOG" 2>&1
rc=$?
grep -E '^\[ +(OK|FAILED) +\]' "$LOG" >&2

/usr/bin/python3 - "$REPORT" "$((SECONDS - start))" <<'PY'
import sys

def pct(v, p):
    if not v:
        return "-"
    v = sorted(v)
    return f"{v[min(len(v) - 1, int(p / 100 * (len(v) - 1) + 0.5))]:.1f}"

rows = []
for line in open(sys.argv[1], encoding="utf-8"):
    f = line.rstrip("\n").split("\t")
    if len(f) < 11:
        continue
    pauses = [float(x) for x in f[10].split(",") if x]
    rows.append(dict(phase=f[0], kind=f[1], done=int(f[2]), stats=int(f[3]), resent=int(f[4]), window=int(f[5]),
                     errors=int(f[6]), checks=int(f[7]), secs=float(f[8]), fds=f[9], pauses=pauses))
head = ("phase", "kind", "done", "failovers (stats)", "resent (in-flight window)", "pause p50 ms", "pause p99 ms",
        "max ms", "errors", "data checks", "s", "daemon fds before->after")
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
for r in rows:
    stats = "-" if r["stats"] < 0 else str(r["stats"])
    resent = "-" if r["resent"] < 0 else f"{r['resent']} ({max(r['window'], 0)})"
    print(f"| {r['phase']} | {r['kind']} | {r['done']} | {stats} | {resent} | {pct(r['pauses'], 50)} | {pct(r['pauses'], 99)} "
          f"| {pct(r['pauses'], 100)} | {r['errors']} | {r['checks']} | {r['secs']:.0f} | {r['fds'] or '-'} |")
for kind in ("kill", "upgrade"):
    sel = [r for r in rows if r["kind"] == kind]
    if not sel:
        continue
    p = [x for r in sel for x in r["pauses"]]
    print(f"| **all** | {kind} | {sum(r['done'] for r in sel)} | "
          f"{sum(max(r['stats'], 0) for r in sel)} | {sum(max(r['resent'], 0) for r in sel)} "
          f"({sum(max(r['window'], 0) for r in sel)}) | {pct(p, 50)} | {pct(p, 99)} | {pct(p, 100)} | "
          f"{sum(r['errors'] for r in sel)} | {sum(r['checks'] for r in sel)} | {sum(r['secs'] for r in sel):.0f} | |")
print(f"\n{len(rows)} phases in {sys.argv[2]} s; pauses are timed from the test side for every disruption "
      "a probe saw end (one kill in ten is followed at once by the next, untimed).")
PY
if ((rc != 0)); then
    echo "chaos: FAILED (exit $rc); the failures, from $LOG:" >&2
    grep -B2 -A25 'Failure$' "$LOG" | head -150 >&2
fi
exit $rc
