#!/usr/bin/env bash
# splicefs benchmark: native vs splicefs (splice / --no-splice / --cache=never) vs bindfs
# vs mergerfs, with fio and two small helpers, in rotating order over several rounds.
# Results: bench-results/<timestamp>/{results.md,results.json,ratios.png}.
# Run as root on Debian 12. See --help.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HELPERS="$ROOT/scripts/bench"

usage() {
    cat <<USAGE
Usage: scripts/bench.sh [options]
  --quick               ~2 minutes: 256 MiB files, 1 round, small tree (validation run)
  --rounds N            rounds (default 3; 1 with --quick)
  --configs a,b,c       subset of: native,splicefs,splicefs-nosplice,splicefs-nocache,splicefs-nocache-dio,
                        splicefs-passthrough,bindfs,mergerfs
  --workloads a,b       subset of: seqread,seqwrite,randread1,randread4,randwrite,meta,tree
  --extra NAME=COMMAND  another FUSE daemon to compare (repeatable); {backing} and {mnt}
                        are substituted, else appended. Example:
                        --extra 'hp=/usr/lib/fuse3/passthrough_hp --nocache {backing} {mnt}'
  --splicefs PATH       use this binary (default: build $ROOT/build-bench/splicefs, Release)
  --tmpdir DIR          parent of the work dir (backing + mountpoints; default /tmp)
  --out DIR             results dir (default ./bench-results/<timestamp>)
  --no-install          do not apt-get install missing tools
USAGE
}

QUICK=() ; PYARGS=() ; SPLICEFS="" ; TMPPARENT=/tmp ; OUT="" ; INSTALL=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) QUICK=(--quick) ;;
        --rounds|--configs|--workloads|--extra) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; PYARGS+=("$1" "$2"); shift ;;
        --splicefs) SPLICEFS=$(realpath "$2"); shift ;;
        --tmpdir) TMPPARENT=$2; shift ;;
        --out) OUT=$2; shift ;;
        --no-install) INSTALL=0 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

say() { printf '[bench] %s\n' "$*" >&2; }
[[ $(id -u) -eq 0 ]] || { say "run as root (mounts, fusermount3, apt-get)"; exit 2; }

# --- cleanup: every mount under the work dir, only daemons we started ---------------------
WORK="" PIDLOG="" PYPID=""
mounts_under() { # deepest first
    awk -v root="$WORK" '$5 == root || index($5, root "/") == 1 { print length($5), $5 }' /proc/self/mountinfo |
        sort -rn | cut -d' ' -f2-
}

cleanup() {
    local rc=$? mp pid arg
    trap - EXIT INT TERM
    if [[ -n $PYPID ]] && kill -0 "$PYPID" 2>/dev/null; then
        kill -TERM "$PYPID" 2>/dev/null || true
        wait "$PYPID" 2>/dev/null || true
    fi
    [[ -n $WORK && -d $WORK ]] || exit "$rc"
    for mp in $(mounts_under); do
        fusermount3 -u "$mp" 2>/dev/null || umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || true
    done
    # Only daemons we started, and only if the PID still belongs to one of our mountpoints.
    while read -r pid arg; do
        [[ -n $pid && -r /proc/$pid/cmdline ]] || continue
        if tr '\0' '\n' </proc/"$pid"/cmdline | grep -qxF "$arg"; then kill -TERM "$pid" 2>/dev/null || true; fi
    done <"$PIDLOG"
    if [[ -z $(mounts_under) ]]; then
        rm -rf --one-file-system "$WORK"
    else
        say "WARNING: still mounted under $WORK: $(mounts_under | tr '\n' ' ')"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- tools: install what is missing from Debian ------------------------------------------
need_pkgs() { # pairs of command:package
    local missing=() pair
    for pair in "$@"; do command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}"); done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    if [[ $INSTALL -eq 0 ]]; then say "missing: ${missing[*]} (and --no-install given)"; return 1; fi
    say "installing ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
need_pkgs fio:fio bindfs:bindfs mergerfs:mergerfs gnuplot:gnuplot-nox fusermount3:fuse3 \
    getfattr:attr findmnt:util-linux /usr/bin/python3:python3
PY=/usr/bin/python3

# --- splicefs: given, or built Release in build-bench ------------------------------------
if [[ -z $SPLICEFS ]]; then
    BUILD="$ROOT/build-bench"
    need_pkgs cmake:cmake g++:g++ pkg-config:pkg-config || true
    if ! dpkg -s libfuse3-dev libcli11-dev libspdlog-dev liburing-dev >/dev/null 2>&1 && [[ $INSTALL -eq 1 ]]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libfuse3-dev libcli11-dev libspdlog-dev liburing-dev
    fi
    # Always (re)build: incremental, and the figures must be of the current tree.
    say "building splicefs (Release) in $BUILD"
    if ! { cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null &&
           nice cmake --build "$BUILD" -j"$(nproc)" --target splicefs >/dev/null; }; then
        say "splicefs did not build${BUILD:+ (an older binary is used if present)}"
    fi
    [[ -x $BUILD/splicefs ]] && SPLICEFS="$BUILD/splicefs"
fi
# A binary that cannot say its version is not a usable splicefs (e.g. the placeholder main).
if [[ -n $SPLICEFS ]] && ! "$SPLICEFS" --version 2>&1 | grep -qi splicefs; then
    say "$SPLICEFS --version does not answer: skipping the splicefs configurations"
    SPLICEFS=""
fi
[[ -n $SPLICEFS ]] && PYARGS+=(--splicefs "$SPLICEFS")

# --- work dir, results dir --------------------------------------------------------------
WORK=$(mktemp -d "$TMPPARENT/splicefs-bench.XXXXXX")
OUT=${OUT:-$PWD/bench-results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
PIDLOG="$WORK/pids"
: >"$PIDLOG"


say "work dir $WORK on $(findmnt -n -o FSTYPE,SOURCE -T "$WORK"), results in $OUT"
# In the background + wait, so that a TERM to this shell runs the trap at once.
"$PY" "$HELPERS/bench.py" --workdir "$WORK" --out "$OUT" --pidlog "$PIDLOG" ${QUICK[@]+"${QUICK[@]}"} \
    ${PYARGS[@]+"${PYARGS[@]}"} &
PYPID=$!
wait "$PYPID"
