#!/bin/bash
# The fuse module's FUSE-over-io_uring switch, for test runs: `on STATE` saves the current
# value in STATE and turns it on; `restore STATE` puts the saved value back. Root only; a
# kernel without the parameter (no CONFIG_FUSE_IO_URING) is left alone and the uring tests
# then check the fallback to /dev/fuse instead.
set -euo pipefail
PARAM=/sys/module/fuse/parameters/enable_uring
case "${1:-}" in
    on)
        [[ -n "${2:-}" ]] || { echo "usage: $0 on|restore STATE" >&2; exit 2; }
        # On a fresh machine the fuse module may not be loaded before the first mount.
        [[ -e $PARAM ]] || modprobe fuse 2>/dev/null || true
        if [[ -w $PARAM ]]; then
            [[ -e $2 ]] || cat "$PARAM" > "$2"
            echo Y > "$PARAM"
        fi ;;
    restore)
        [[ -n "${2:-}" ]] || { echo "usage: $0 on|restore STATE" >&2; exit 2; }
        if [[ -e $2 && -w $PARAM ]]; then
            cat "$2" > "$PARAM"
            rm -f "$2"
        fi ;;
    *) echo "usage: $0 on|restore STATE" >&2; exit 2 ;;
esac
