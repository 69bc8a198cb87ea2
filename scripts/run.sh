#!/usr/bin/env bash
# Build splicefs (Release, build-release/) and mount it, daemonised.
#   scripts/run.sh                               demo tree at /tmp/splicefs-demo/{backing,mnt}
#   scripts/run.sh BACKING MOUNTPOINT [options]  mount your own directory
#   scripts/run.sh [options]                     the demo, with splicefs options (e.g. --no-splice)
# Prints what to try on the mount; every printed command works on a fresh machine after this
# script alone (tests/cli/run_demo.sh runs them). For tests: SPLICEFS_RUN_BIN=PATH mounts with
# that splicefs instead of building build-release/, SPLICEFS_DEMO_DIR moves the demo tree.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/common.sh
source scripts/lib/common.sh

require_root
ensure_packages "${SPLICEFS_BUILD_PACKAGES[@]}"
ensure_fuse

if [[ -n ${SPLICEFS_RUN_BIN:-} ]]; then
    BIN=$(realpath "$SPLICEFS_RUN_BIN")
else
    say "building build-release/"
    cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DSPLICEFS_TESTS=OFF >/dev/null
    nice cmake --build build-release -j"$(nproc)" --target splicefs >/dev/null
    BIN=$PWD/build-release/splicefs
fi

DEMO=0
if (($# >= 2)) && [[ $1 != -* && $2 != -* ]]; then
    BACKING=$1
    MNT=$2
    shift 2
else
    DEMO=1
    BACKING=${SPLICEFS_DEMO_DIR:-/tmp/splicefs-demo}/backing
    MNT=${SPLICEFS_DEMO_DIR:-/tmp/splicefs-demo}/mnt
fi

if ((DEMO)); then
    if splicefs_mounts | grep -qxF "$MNT" || grep -qsF " $MNT " /proc/self/mountinfo; then
        say "unmounting the previous demo mount"
        unmount_one "$MNT"
    fi
    say "creating the demo tree in $BACKING"
    mkdir -p "$BACKING/docs/notes" "$BACKING/data" "$MNT"
    echo "Hello from splicefs: this file lives in $BACKING" >"$BACKING/hello.txt"
    printf 'one\ntwo\nthree\n' >"$BACKING/docs/notes/list.txt"
    date -u +'created %Y-%m-%dT%H:%M:%SZ' >"$BACKING/docs/created.txt"
    ln -sfn hello.txt "$BACKING/hello-link"
    ln -f "$BACKING/hello.txt" "$BACKING/docs/hello-hardlink.txt"
    if [[ $(stat -c %s "$BACKING/data/big.bin" 2>/dev/null || echo 0) != 67108864 ]]; then
        head -c 64M /dev/urandom >"$BACKING/data/big.bin"
    fi
fi

say "mounting $BACKING at $MNT"
rc=0
"$BIN" "$@" "$BACKING" "$MNT" || rc=$?
if ((rc != 0)); then
    echo "splicefs failed with exit code $rc (1 options, 2 mountpoint, 3 setup, 4 mount, 5 daemonise)" >&2
    exit "$rc"
fi

# Quoted for the shell, so a path with spaces can be pasted as printed.
q() { printf '%q' "$1"; }
printf '\nsplicefs is mounted: %s -> %s\n\nLook at it:\n' "$BACKING" "$MNT"
printf '  ls -la %s\n' "$(q "$MNT")"
if ((DEMO)); then
    printf '  cat %s\n' "$(q "$MNT/hello.txt")"
    printf '  dd if=%s of=/dev/null bs=1M       # a 64 MiB read through the mount\n' "$(q "$MNT/data/big.bin")"
fi
printf '  %s stats %s        # bytes spliced vs copied, calls and latency per operation\n' "$(q "$BIN")" "$(q "$MNT")"
printf '  %s stats --format=prometheus %s   # the same for Prometheus\n' "$(q "$BIN")" "$(q "$MNT")"
printf '  grep splicefs /proc/self/mountinfo\n'
printf '\nUnmount:\n  fusermount3 -u %s\n' "$(q "$MNT")"
