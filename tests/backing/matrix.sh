#!/usr/bin/env bash
# The backing-filesystem matrix: splicefs over tmpfs, XFS and Btrfs on loop-device images,
# overlayfs, a FUSE backing (bindfs) and GlusterFS on loopback with two clients, each with
# real mounts and real data. ext4 is /tmp itself, which every other suite uses.
#
# usage: matrix.sh BUILD_DIR [--short|--full] [BACKING...]
#   On each backing: the byte-exact data tests (splice on and off; --full adds --cache=never)
#   and the close-to-open tests from mount_tests, the POSIX differential suite with both its
#   sides on that backing (--short: defaults only; --full: all four variants) minus what the
#   backing cannot do (listed below), and on GlusterFS the two-client freshness probe
#   (freshness.py), whose timings are printed side by side, not asserted.
# Root only. Everything it mounts or starts is undone at exit, failed or not.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/backing/gluster.sh
source "$HERE/gluster.sh"

BUILD=${1:?usage: matrix.sh BUILD_DIR [--short|--full] [BACKING...]}
shift
MODE=short
if [[ ${1:-} == --short || ${1:-} == --full ]]; then
    MODE=${1#--}
    shift
fi
BACKINGS=("$@")
((${#BACKINGS[@]} > 0)) || BACKINGS=(tmpfs xfs btrfs overlay bindfs glusterfs)

LOGS=$BUILD/backing-matrix-logs  # logs of failed steps are kept here
rm -rf "$LOGS"
MOUNT_TESTS=$BUILD/tests/mount_tests
POSIX_TESTS=$BUILD/tests/posix/posix_tests
SPLICEFS=$BUILD/splicefs
for bin in "$MOUNT_TESTS" "$POSIX_TESTS" "$SPLICEFS"; do
    [[ -x $bin ]] || { echo "matrix: $bin is not built" >&2; exit 1; }
done
[[ $(id -u) -eq 0 ]] || { echo "matrix: needs root (loop devices, mounts)" >&2; exit 1; }

# What each backing cannot do, as POSIX scenarios to leave out (gtest patterns) and why;
# found by running the full suite on each (the native side runs on the same backing, so
# these are the backing's own ways, not splicefs's). README "Backing filesystems" lists them.
declare -A POSIX_SKIP=(
    # st_blocks of a file still open: XFS preallocates beyond EOF after the pattern of
    # writes it saw, and FUSE splits the writes differently.
    [xfs]='*open_sizes_around_pages__*'
    # Btrfs, bindfs and GlusterFS list trusted.* names to unprivileged callers; through the
    # mount (the daemon lists with the caller's credentials) they are hidden, as on ext4.
    [btrfs]='*xattr_trusted_and_security__*'
    # bindfs is mounted with its caches off (see setup_bindfs). What remains is its own:
    # ACLs are not enforced the same way FUSE over FUSE; it lists trusted.* names to
    # unprivileged callers; a chmod through the fd of a file created after a rename over an
    # open file may answer ENOENT (bindfs, path-based high-level libfuse, lost the path).
    # And the limit tests/KNOWN_DIFFERENCES.md describes for path-based FUSE backings: bindfs
    # gives each name of a hard-linked file its own node, and splicefs holds one handle per
    # inode, so after the name it was reached by is unlinked the other names answer ENOENT
    # (links_counts_and_identity; names_name_lengths with --cache=never, the same cause).
    [bindfs]='*links_counts_and_identity__*:*names_name_lengths__*cachenever:*rename_over_open_file__*:*xattr_trusted_and_security__*:*xattr_posix_acl_access__*'
    # GlusterFS checks permissions again at each read and write with the caller's uid (an
    # open handle loses access when the mode changes), refuses other users' writes to
    # set-id files (EPERM), and fails close() after unaligned O_DIRECT writes; through the
    # mount, the daemon's open handle does the I/O.
    [glusterfs]='*xattr_trusted_and_security__*:*attrs_setid_cleared_on_write_by_other__*:*open_direct_unaligned__*:*open_matrix_0400_user__*:*open_matrix_0644_other_user__*'
)
# --short on GlusterFS (every step is a network round trip: the whole suite takes 1-2 min
# per variant there) and on bindfs (its caches are off: 90 s a variant): the data, name,
# rename and link families only.
declare -A POSIX_SHORT=(
    [bindfs]='*__splice_cacheauto:-*attrs_*:*open_*:*perms_*:*xattr_*:*special_*:*locks_*:*readdir_*'
    [glusterfs]='*__splice_cacheauto:-*attrs_*:*open_*:*perms_*:*xattr_*:*special_*:*locks_*:*readdir_*'
)

W=$(mktemp -d /tmp/splicefs-matrix.XXXXXX)
chmod 755 "$W"
UNDO=()  # commands run in reverse order at exit
cleanup() {
    local i
    for ((i = ${#UNDO[@]} - 1; i >= 0; i--)); do eval "${UNDO[i]}" >/dev/null 2>&1; done
    gluster_stop
    rm -rf "$W"
}
trap cleanup EXIT

undo() { UNDO+=("$*"); }

# setup_NAME: mounts the backing and sets DIR to the directory to use as backing root.
DIR=
setup_tmpfs() {
    mkdir "$W/tmpfs" && mount -t tmpfs -o size=512m,mode=0755 splicefs-matrix "$W/tmpfs" || return 1
    undo umount -l "$W/tmpfs"
    DIR=$W/tmpfs
}
setup_loop() {  # setup_loop FSTYPE MKFS...
    local fs=$1
    shift
    truncate -s 512M "$W/$fs.img" && "$@" "$W/$fs.img" >/dev/null && mkdir "$W/$fs" &&
        mount -o loop "$W/$fs.img" "$W/$fs" || return 1
    undo umount -l "$W/$fs"
    chmod 755 "$W/$fs"
    DIR=$W/$fs
}
setup_xfs() { setup_loop xfs mkfs.xfs -q -f; }
setup_btrfs() { setup_loop btrfs mkfs.btrfs -q -f; }
setup_overlay() {
    mkdir -p "$W/ovl"/{lower,upper,work,merged} && chmod 755 "$W/ovl"/{lower,upper} &&
        mount -t overlay splicefs-matrix -o "lowerdir=$W/ovl/lower,upperdir=$W/ovl/upper,workdir=$W/ovl/work" \
            "$W/ovl/merged" || return 1
    undo umount -l "$W/ovl/merged"
    DIR=$W/ovl/merged
}
setup_bindfs() {
    # bindfs's own attribute and entry caches off: with them, the native reference run
    # (straight on bindfs) reads a stale nlink after a link made through another name.
    mkdir -p "$W/bindsrc" "$W/bindfs" && chmod 755 "$W/bindsrc" &&
        bindfs -o allow_other,default_permissions,attr_timeout=0,entry_timeout=0,negative_timeout=0 \
        "$W/bindsrc" "$W/bindfs" || return 1
    undo "fusermount3 -u $W/bindfs || umount -l $W/bindfs"
    DIR=$W/bindfs
}
setup_glusterfs() {
    gluster_start "$W/gluster" || return 1
    chmod 755 "$W/gluster/c1"
    DIR=$W/gluster/c1
}

FAILED=()
run() {  # run LABEL CMD...: runs, keeps the output's summary, records a failure
    local label=$1 log
    shift
    log="$W/$(tr ' /' '__' <<<"$label").log"
    local t0=$SECONDS
    if "$@" >"$log" 2>&1; then
        printf '  %-44s ok (%d s)\n' "$label" $((SECONDS - t0))
    else
        printf '  %-44s FAILED (%d s)\n' "$label" $((SECONDS - t0))
        grep -E '^\[  FAILED  \] .*[^,]$|FAIL:|first divergence|^  > |native: |mounted: ' "$log" |
            head -60 | sed 's/^/    /'
        mkdir -p "$LOGS" && cp "$log" "$LOGS/"
        FAILED+=("$label (log: $LOGS/$(basename "$log"))")
    fi
}

# caps DIR: what splicefs gets from the backing, one line: file handles and fanotify (the
# watch forced on runs only with both), kernel passthrough (a read through a passthrough mount),
# reflink (copy_file_range through the mount leaves shared extents in the backing).
caps() {
    local dir=$1 c="$W/caps" handles passthrough reflink
    mkdir -p "$c" "$dir/caps" && head -c 1048576 /dev/urandom >"$dir/caps/src" || return 1
    handles=no passthrough=no reflink=no
    if "$SPLICEFS" --watch=on "$dir/caps" "$c"; then
        # the watch runs only where file handles open and fanotify marks the backing
        [[ $("$SPLICEFS" stats --json "$c" | grep -oE '"watched_dirs":-?[0-9]+' | cut -d: -f2) -ge 0 ]] &&
            handles=yes
        fusermount3 -u "$c"
    fi
    if "$SPLICEFS" --data-path=passthrough "$dir/caps" "$c"; then
        cat "$c/src" >/dev/null
        [[ $("$SPLICEFS" stats --json "$c" | grep -oE '"passthrough_opens":[0-9]+' | cut -d: -f2) -gt 0 ]] &&
            passthrough=yes
        fusermount3 -u "$c"
    fi
    if "$SPLICEFS" "$dir/caps" "$c"; then
        /usr/bin/python3 -c 'import os,sys
s=os.open(sys.argv[1],os.O_RDONLY); d=os.open(sys.argv[2],os.O_WRONLY|os.O_CREAT,0o644)
n=1048576
while n>0: n-=os.copy_file_range(s,d,n)' "$c/src" "$c/dst" && sync
        filefrag -v "$dir/caps/dst" 2>/dev/null | grep -q shared && reflink=yes
        fusermount3 -u "$c"
    fi
    rm -rf "$dir/caps"
    printf '  caps: file handles + fanotify (watch possible) %s; kernel passthrough %s; reflink through copy_file_range %s\n' \
        "$handles" "$passthrough" "$reflink"
}

data_filter='Sizes/DataTest.*/splice_*:Sizes/DataTest.*/nosplice_*:CloseToOpenTest.*'
posix_filter='*__splice_cacheauto'
if [[ $MODE == full ]]; then
    data_filter='Sizes/DataTest.*:CloseToOpenTest.*:ForcedWatchTest.*'
    posix_filter='*'
fi

START=$SECONDS
for b in "${BACKINGS[@]}"; do
    t0=$SECONDS
    DIR=
    setup_"$b" || { echo "$b: setup failed" >&2; FAILED+=("$b: setup"); continue; }
    dir=$DIR
    echo "== $b ($(stat -f -c %T "$dir"), $(findmnt -n -o FSTYPE -T "$dir"))"
    caps "$dir"
    run "$b: data + close-to-open" env SPLICEFS_TEST_BACKING_DIR="$dir" "$MOUNT_TESTS" \
        --gtest_filter="$data_filter"
    filter="Posix/Differential.SameAsNative/$posix_filter"
    [[ $MODE == short && -n ${POSIX_SHORT[$b]:-} ]] && filter="Posix/Differential.SameAsNative/${POSIX_SHORT[$b]}"
    skip=${POSIX_SKIP[$b]:-}
    if [[ -n $skip ]]; then
        # one negative part per gtest filter: join the skips to the short list's, if any
        [[ $filter == *:-* ]] && filter="$filter:$skip" || filter="$filter-$skip"
    fi
    run "$b: posix ($MODE)" env POSIX_ROOT="$dir" "$POSIX_TESTS" --gtest_filter="$filter"
    if [[ $b == glusterfs ]]; then
        mkdir -p "$W/gmnt"
        if "$SPLICEFS" --log-file="$W/gluster/log/splicefs.log" "$W/gluster/c1" "$W/gmnt"; then
            undo "fusermount3 -u $W/gmnt || umount -l $W/gmnt"
            echo "  two-client freshness (changes through client 2; seen through client 1 and splicefs over it):"
            if ! /usr/bin/python3 "$HERE/freshness.py" "$W/gluster/c1" "$W/gluster/c2" "$W/gmnt" \
                "$([[ $MODE == full ]] && echo 5 || echo 2)" | sed 's/^/    /'; then
                FAILED+=("glusterfs: freshness")
            fi
            "$SPLICEFS" stats "$W/gmnt" | grep -E '^Backing|^Opens' | sed 's/^/    /'
            fusermount3 -u "$W/gmnt"
        else
            FAILED+=("glusterfs: splicefs mount")
        fi
        gluster_stop
    fi
    echo "   ($((SECONDS - t0)) s)"
done
echo "matrix ($MODE): ${#BACKINGS[@]} backings in $((SECONDS - START)) s"
for f in "${FAILED[@]}"; do echo "FAILED: $f"; done
((${#FAILED[@]} == 0))
