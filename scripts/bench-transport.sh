#!/usr/bin/env bash
# --transport=dev vs --transport=uring in one run (scripts/bench/transport.py prints the
# table). Root: turns the fuse module's enable_uring on for the run and puts it back.
# Usage: scripts/bench-transport.sh [--binary PATH] [--rounds N] [--seconds S] [--files N]
#        [--size-mb N] [--daemon-cpus LIST (taskset -c, e.g. 0 to give the daemon one core)]
#        [--configs dev,uring,uring-nopin,uring-passthrough,dev-spin (the first is the base of the ratios)]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/scripts/lib/common.sh"
BIN="$ROOT/build/splicefs"
ARGS=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --binary) BIN=$(realpath "$2"); shift ;;
        --rounds|--seconds|--files|--size-mb|--daemon-cpus|--tmpdir|--configs) ARGS+=("$1" "$2"); shift ;;
        -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
        *) die "unknown option $1" ;;
    esac
    shift
done
[[ $(id -u) -eq 0 ]] || die "needs root (the fuse module's enable_uring switch)"
[[ -x $BIN ]] || die "no splicefs binary at $BIN (build first, or --binary)"
command -v fio >/dev/null || die "needs fio"
STATE=$(mktemp /tmp/splicefs-uring-switch.XXXXXX)
rm -f "$STATE"
trap '"$ROOT/scripts/uring-switch.sh" restore "$STATE"' EXIT
"$ROOT/scripts/uring-switch.sh" on "$STATE"
/usr/bin/python3 "$ROOT/scripts/bench/transport.py" --binary "$BIN" "${ARGS[@]}"
