#!/usr/bin/env bash
# Build splicefs (Release, build-release/) and mount it, daemonised.
#   scripts/run.sh                               demo tree at /tmp/splicefs-demo/{backing,mnt}
#   scripts/run.sh BACKING MOUNTPOINT [options]  mount your own directory
#   scripts/run.sh [options]                     the demo, with splicefs options (e.g. --no-splice)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/common.sh
source scripts/lib/common.sh

require_root
ensure_packages "${SPLICEFS_BUILD_PACKAGES[@]}"
ensure_fuse

say "building build-release/"
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DSPLICEFS_TESTS=OFF >/dev/null
nice cmake --build build-release -j"$(nproc)" --target splicefs >/dev/null
BIN=$PWD/build-release/splicefs

DEMO=0
if (($# >= 2)) && [[ $1 != -* && $2 != -* ]]; then
    BACKING=$1
    MNT=$2
    shift 2
else
    DEMO=1
    BACKING=/tmp/splicefs-demo/backing
    MNT=/tmp/splicefs-demo/mnt
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

cat <<MSG

splicefs is mounted: $BACKING -> $MNT

Look at it:
  ls -la $MNT
  cat $MNT/hello.txt
  dd if=$MNT/data/big.bin of=/dev/null bs=1M       # a 64 MiB read (demo tree)
  getfattr -n user.splicefs.stats --only-values $MNT; echo
  grep splicefs /proc/self/mountinfo

Unmount:
  fusermount3 -u $MNT
MSG
