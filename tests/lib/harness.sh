# shellcheck shell=bash disable=SC2034
# Shared by the shell tests (sourced after setting HARNESS_NAME): each test works in its own
# mkdtemp dir T and, on any exit, ends only the processes it started (PIDs in STARTED_PIDS:
# TERM, then KILL if one is still there after 5 s), detaches whatever is still mounted below
# T, then runs CLEANUP_HOOKS (extra steps a test registers), and removes T.
set -u
T=$(mktemp -d "/tmp/splicefs-${HARNESS_NAME:-test}.XXXXXX")
STARTED_PIDS=()
CLEANUP_HOOKS=()
FAILURES=0

mounted_below() { awk -v t="$T" 'index($2, t) == 1 { print $2 }' /proc/mounts; }

stop_started() {
    local pid i
    for pid in "${STARTED_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || continue
        for i in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}

cleanup() {
    local m hook
    stop_started
    for m in $(mounted_below); do
        fusermount3 -u "$m" 2>/dev/null || umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
    for hook in "${CLEANUP_HOOKS[@]}"; do eval "$hook" || true; done
    rm -rf "$T"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; FAILURES=$((FAILURES + 1)); }
pass() { echo "ok: $*"; }
check() {  # check DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}

# Bounded wait (not a timing assertion) until $1 is (yes) or is not (no) a mountpoint.
wait_mount() {
    local i
    for i in $(seq 1 100); do
        if grep -q " $1 " /proc/mounts; then [ "$2" = yes ] && return 0
        else [ "$2" = no ] && return 0; fi
        sleep 0.1
    done
    return 1
}

mount_type() { awk -v m="$1" '$2 == m { print $3 }' /proc/mounts; }

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
