#!/bin/bash
# mount -o remount,ro / remount,rw through util-linux mount(8), which runs the mount helper
# (mount.fuse3 -> splicefs) again with "remount" among the options: the live mount changes
# (writes fail with EROFS, then work again), the daemon follows (its control xattr), and the
# same one daemon serves throughout. Also: splicefs -o remount by hand, and a remount of a
# directory that is not a splicefs mount fails with one line and changes nothing.
# Runs in a private mount namespace with the built binary where mount.fuse3 finds it
# (mount_helper_env.sh).
# Usage: remount.sh SPLICEFS
BIN=$1
. "$(dirname "$0")/mount_helper_env.sh"
enter_private_mount_ns "$0" "$@"
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/b" "$T/m" "$T/plain"
put_on_helper_path "$BIN"
echo one >"$T/b/f"
echo "$T/b $T/m fuse.splicefs defaults,nosuid,nodev,noatime 0 0" >"$T/fstab"

opts() { awk -v m="$1" '$2 == m { print $4 }' /proc/mounts; }
has_opt() { tr , '\n' <<<"$(opts "$1")" | grep -qx "$2"; }
# The daemons: processes of this command line whose parent is not one (a failover worker's is).
daemons() {
    local all p
    all=$(pgrep -f "^splicefs $T/b ")
    for p in $all; do
        grep -qw "$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null)" <<<"$all" || echo "$p"
    done | sort | tr '\n' ' '
}
daemon_ro() { getfattr -n trusted.splicefs.read_only --only-values "$T/m" 2>/dev/null; }
kept_flags() { has_opt "$T/m" nosuid && has_opt "$T/m" nodev && has_opt "$T/m" noatime; }
state_is() { has_opt "$T/m" "$1" && [ "$(daemon_ro)" = "$2" ]; }
one_line_saying() { [ "$(wc -l <<<"$2")" = 1 ] && grep -q "^splicefs: .*$1" <<<"$2"; }
refused_as_user() { [ "$1" != 0 ] && one_line_saying "needs root" "$2"; }

out=$(mount --fstab "$T/fstab" "$T/m" 2>&1); rc=$?
check "mount MOUNTPOINT exits 0 [$out]" [ "$rc" = 0 ]
check "m is a fuse.splicefs mount" [ "$(mount_type "$T/m")" = fuse.splicefs ]
first=$(daemons)
check "one daemon serves the mount [$first]" [ "$(wc -w <<<"$first")" = 1 ]
check "mounted rw" has_opt "$T/m" rw
check "the daemon is read-write" [ "$(daemon_ro)" = 0 ]

out=$(mount -o remount,ro "$T/m" 2>&1); rc=$?
check "mount -o remount,ro exits 0 [$out]" [ "$rc" = 0 ]
check "the mount is ro [$(opts "$T/m")]" has_opt "$T/m" ro
check "remount kept nosuid, nodev and noatime" kept_flags
check "the daemon is read-only too" [ "$(daemon_ro)" = 1 ]
err=$({ echo x >"$T/m/new"; } 2>&1)
check "a write fails with EROFS [$err]" grep -q "Read-only file system" <<<"$err"
check "nothing reached the backing dir" [ ! -e "$T/b/new" ]
check "reads still work" [ "$(cat "$T/m/f")" = one ]
check "still the same one daemon [$(daemons)]" [ "$(daemons)" = "$first" ]

out=$(mount -o remount,rw "$T/m" 2>&1); rc=$?
check "mount -o remount,rw exits 0 [$out]" [ "$rc" = 0 ]
check "the mount is rw [$(opts "$T/m")]" has_opt "$T/m" rw
check "the daemon is read-write again" [ "$(daemon_ro)" = 0 ]
echo two >"$T/m/new" && check "a write works and lands in the backing dir" [ "$(cat "$T/b/new")" = two ]
check "still the same one daemon [$(daemons)]" [ "$(daemons)" = "$first" ]

# By hand, as mount.fuse3 would run it.
out=$("$BIN" "$T/b" "$T/m" -o rw,remount,ro 2>&1); rc=$?
check "splicefs -o remount,ro exits 0 [$out]" [ "$rc" = 0 ]
check "ro again" state_is ro 1
out=$("$BIN" "$T/b" "$T/m" -o remount 2>&1); rc=$?
check "splicefs -o remount (rw) exits 0 [$out]" [ "$rc" = 0 ]
check "rw again" state_is rw 0
check "still the same one daemon [$(daemons)]" [ "$(daemons)" = "$first" ]

# Not root: one line, non-zero, nothing changed.
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$BIN" "$T/b" "$T/m" -o remount,ro 2>&1); rc=$?
check "remount as a user fails (rc=$rc) with one line [$out]" refused_as_user "$rc" "$out"
check "still rw after the refused remount" state_is rw 0

# Not a splicefs mount: one line, non-zero, nothing mounted.
mount -t tmpfs tmpfs "$T/plain"
out=$("$BIN" "$T/b" "$T/plain" -o remount,ro 2>&1); rc=$?
check "remount of a tmpfs fails (rc=$rc)" [ "$rc" != 0 ]
check "one splicefs: line [$out]" one_line_saying "not .*splicefs mount" "$out"
check "the tmpfs stayed rw" has_opt "$T/plain" rw
umount "$T/plain"

umount "$T/m" 2>/dev/null || fusermount3 -u "$T/m"
check "umount" wait_mount "$T/m" no
finish
