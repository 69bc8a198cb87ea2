#!/bin/bash
# Does an exited process's flock() lock still stand in the next process's way through the
# mount? Natively it never does. Through FUSE the kernel drops the lock with the file's RELEASE,
# which it sends in the background; over the rings (one queue per CPU) the next process's FLOCK
# can be served before it. Each round: a child opens the file, takes LOCK_EX|LOCK_NB and exits;
# the parent then tries LOCK_EX|LOCK_NB. Prints how many rounds were refused.
#   sudo scripts/flock-race.sh [--binary PATH] [--rounds N] [-- DAEMON_OPTIONS...]
#   sudo scripts/flock-race.sh --rounds 5000 -- --transport=uring
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/common.sh
source scripts/lib/common.sh
require_root

binary=build/splicefs
rounds=2000
while (($#)); do
    case $1 in
    --binary) binary=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --) shift; break ;;
    *) die "unknown argument: $1 (usage: $0 [--binary PATH] [--rounds N] [-- DAEMON_OPTIONS...])" ;;
    esac
done
[[ -x $binary ]] || die "no splicefs binary at $binary (build first, or --binary PATH)"

work=$(mktemp -d /tmp/splicefs-flock-race.XXXXXX)
state="$work/uring-switch.state"
mkdir "$work/backing" "$work/mnt"
cleanup() {
    unmount_one "$work/mnt" 2>/dev/null || true
    scripts/uring-switch.sh restore "$state"
    rm -rf "$work"
}
trap cleanup EXIT
# --transport=uring needs the fuse module's switch; it is put back on exit.
[[ " $* " == *" --transport=uring "* ]] && scripts/uring-switch.sh on "$state"
"$binary" "$@" "$work/backing" "$work/mnt"

/usr/bin/python3 - "$work/mnt/f" "$rounds" <<'EOF'
import fcntl, os, sys
path, rounds = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    f.write("x")
refused = 0
for _ in range(rounds):
    pid = os.fork()
    if pid == 0:
        fd = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            pass  # a lock left by the previous round's parent: counted on the parent's side
        os._exit(0)  # exits holding the lock
    os.waitpid(pid, 0)
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
    except BlockingIOError:
        refused += 1
    os.close(fd)
print(f"flock after the holder exited: refused {refused} of {rounds} rounds")
EOF
