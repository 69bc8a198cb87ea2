# Shared helpers for the CLI smoke tests (sourced). Every test works in its own mkdtemp
# directory and, on any exit, detaches whatever is still mounted below it and ends only the
# processes it started itself (PIDs recorded in STARTED_PIDS).
set -u
T=$(mktemp -d /tmp/splicefs-cli.XXXXXX)
STARTED_PIDS=()
FAILURES=0

mounted_below() {  # prints our mountpoints still listed in /proc/mounts
    awk -v t="$T" 'index($2, t) == 1 { print $2 }' /proc/mounts
}

cleanup() {
    local m pid
    for m in $(mounted_below); do
        fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
    for pid in "${STARTED_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$T"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*"
    FAILURES=$((FAILURES + 1))
}

# Waits (bounded, not a timing assertion) until $1 is or is not (=$2 yes/no) a mountpoint.
wait_mount() {
    local i
    for i in $(seq 1 100); do
        if grep -q " $1 " /proc/mounts; then [ "$2" = yes ] && return 0
        else [ "$2" = no ] && return 0; fi
        sleep 0.1
    done
    return 1
}

finish() {
    local left
    left=$(mounted_below)
    [ -z "$left" ] || fail "still mounted: $left"
    if [ "$FAILURES" -ne 0 ]; then
        echo "$FAILURES failure(s)"
        exit 1
    fi
    echo "all passed"
}
