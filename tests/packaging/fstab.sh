#!/bin/bash
# fstab-style mounts through mount(8) and mount.fuse3, not the binary alone: a temporary fstab
# (mount --fstab) with type fuse.splicefs and the fstab-only words nofail, _netdev, noauto and
# x-systemd.*; mount MOUNTPOINT, mount -a (which must skip noauto), data through the mount,
# umount.
# Runs in a private mount namespace with the built binary where mount.fuse3 finds it
# (mount_helper_env.sh).
# Usage: fstab.sh SPLICEFS
BIN=$1
. "$(dirname "$0")/mount_helper_env.sh"
enter_private_mount_ns "$0" "$@"
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/b1" "$T/b2" "$T/m1" "$T/m2" "$T/m3"
put_on_helper_path "$BIN"
check "sh finds the built splicefs first" [ "$(env -i /bin/sh -c 'command -v splicefs')" = /usr/local/sbin/splicefs ]
echo one >"$T/b1/f1"; echo two >"$T/b2/f2"
cat >"$T/fstab" <<TAB
$T/b1 $T/m1 fuse.splicefs defaults,allow_other 0 0
$T/b2 $T/m2 fuse.splicefs nofail,_netdev,x-systemd.requires=local-fs.target,x-systemd.mount-timeout=30,cache=never,ro 0 0
$T/b1 $T/m3 fuse.splicefs noauto,nofail,no_splice 0 0
TAB

out=$(mount --fstab "$T/fstab" "$T/m1" 2>&1); rc=$?
check "mount MOUNTPOINT (fuse.splicefs, defaults,allow_other) exits 0 [$out]" [ "$rc" = 0 ]
check "m1 is a fuse.splicefs mount" [ "$(mount_type "$T/m1")" = fuse.splicefs ]
check "m1 shows the backing data" [ "$(cat "$T/m1/f1" 2>&1)" = one ]
grep " $T/m1 " /proc/mounts | grep -q allow_other && pass "allow_other reached the kernel" ||
    fail "allow_other missing in /proc/mounts: $(grep " $T/m1 " /proc/mounts)"
echo through >"$T/m1/new" && check "write through m1 lands in the backing dir" [ "$(cat "$T/b1/new")" = through ]

out=$(mount --fstab "$T/fstab" -a 2>&1); rc=$?
check "mount -a exits 0 (already mounted m1 skipped) [$out]" [ "$rc" = 0 ]
check "mount -a mounted m2 (nofail,_netdev,x-systemd.* accepted)" [ "$(mount_type "$T/m2")" = fuse.splicefs ]
check "m2 shows the backing data" [ "$(cat "$T/m2/f2" 2>&1)" = two ]
check "m2 is read-only (ro)" eval '! touch "$T/m2/x" 2>/dev/null'
check "mount -a skipped the noauto line" [ -z "$(mount_type "$T/m3")" ]
out=$(mount --fstab "$T/fstab" "$T/m3" 2>&1); rc=$?
check "noauto line mounts when named [$out]" [ "$rc" = 0 ] && [ "$(mount_type "$T/m3")" = fuse.splicefs ]

for m in m1 m2 m3; do
    umount "$T/$m" 2>/dev/null || fusermount3 -u "$T/$m"
    check "umount $m" wait_mount "$T/$m" no
done

# A bad option reaches the exit status through mount(8).
echo "$T/b1 $T/m1 fuse.splicefs cache=sometimes 0 0" >"$T/fstab.bad"
out=$(mount --fstab "$T/fstab.bad" "$T/m1" 2>&1); rc=$?
check "bad option fails the mount (rc=$rc: $out)" [ "$rc" != 0 ]
check "bad option: splicefs's one-line error is shown" grep -q "splicefs: .*cache" <<<"$out"
check "bad option: nothing mounted" [ -z "$(mount_type "$T/m1")" ]
finish
