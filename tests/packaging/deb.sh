#!/bin/bash
# Builds the .debs with cpack in the build tree (splicefs, and python3-splicefs when the build
# has the Python module), installs them with dpkg, imports `splice` with the system python3, checks what it installed,
# mounts with the installed /usr/bin/splicefs (directly and through the mount(8) helpers for
# fstab types fuse.splicefs and splicefs), unmounts, and removes (purges) the packages again - also when a
# check fails. Refuses (skips) when a splicefs package or unpackaged files at the package's
# paths already exist, so a binary the user built or installed by hand is never overwritten.
# Usage: deb.sh BUILD_DIR      (exit 77 = skipped)
BUILD=$1
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for dpkg"; exit 77; }
for tool in dpkg dpkg-deb cpack; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool missing"; exit 77; }
done
for pkg in splicefs python3-splicefs; do
    if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'installed'; then
        echo "SKIP: a $pkg package is already installed; not touching it"; exit 77
    fi
done
PYDIR=/usr/lib/python3/dist-packages/splice
for f in /usr/bin/splicefs /usr/bin/splicecp /usr/bin/splice-bench /usr/sbin/mount.splicefs \
    /usr/sbin/mount.fuse.splicefs /sbin/mount.splicefs /sbin/mount.fuse.splicefs "$PYDIR"; do
    if [ -e "$f" ] || [ -L "$f" ]; then echo "SKIP: $f exists (not from our package); not overwriting it"; exit 77; fi
done
. "$(dirname "$0")/lib.sh"

echo "== cpack -G DEB"
if ! (cd "$BUILD" && cpack -G DEB --config "$BUILD/CPackConfig.cmake" -B "$T/cpack") >"$T/cpack.log" 2>&1; then
    tail -20 "$T/cpack.log"; fail "cpack -G DEB"; finish
fi
DEB=$(ls "$T"/cpack/splicefs_*.deb)
pass "built $(basename "$DEB")"
PYDEB=$(ls "$T"/cpack/python3-splicefs_*.deb 2>/dev/null)
if grep -q '^SPLICEFS_PYTHON:BOOL=ON' "$BUILD/CMakeCache.txt"; then
    check "built python3-splicefs too ($(basename "${PYDEB:-none}"))" [ -f "$PYDEB" ]
else
    echo "note: the build has no Python module (-DSPLICEFS_PYTHON=OFF): python3-splicefs not checked"
fi
deps=$(dpkg-deb -f "$DEB" Depends)
check "Depends on fuse3 ($deps)" grep -qE '(^|, )fuse3( |,|$)' <<<"$deps"
contents=$(dpkg-deb -c "$DEB" | awk '{ print $6 }' | sed 's|^\./|/|')
for f in /usr/bin/splicefs /usr/sbin/mount.splicefs /usr/sbin/mount.fuse.splicefs \
    /usr/share/man/man1/splicefs.1.gz /usr/lib/systemd/system/splicefs@.service \
    /usr/lib/systemd/system/splicefs-textfile.service /usr/lib/systemd/system/splicefs-textfile.timer \
    /usr/share/bash-completion/completions/splicefs /usr/share/doc/splicefs/copyright; do
    check "package holds $f" grep -qxF "$f" <<<"$contents"
done

if [ -f "$PYDEB" ]; then
    # The system python3 the module must match, e.g. "python3 (>= 3.11~), python3 (<< 3.12)".
    py=$(/usr/bin/python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]} {sys.version_info[0]}.{sys.version_info[1] + 1}")')
    pydeps=$(dpkg-deb -f "$PYDEB" Depends)
    check "python3-splicefs depends on python3 ${py% *} exactly ($pydeps)" \
        eval 'grep -qF "python3 (>= ${py% *}~), python3 (<< ${py#* })" <<<"$pydeps"'
    pycontents=$(dpkg-deb -c "$PYDEB" | awk '{ print $6 }' | sed 's|^\./|/|')
    for f in "$PYDIR/__init__.py" "$PYDIR/__init__.pyi" "$PYDIR/py.typed"; do
        check "python3-splicefs holds $f" grep -qxF "$f" <<<"$pycontents"
    done
    check "python3-splicefs holds $PYDIR/_splice.<abi>.so" grep -qE "^$PYDIR/_splice\.cpython-.*\.so\$" <<<"$pycontents"
fi

echo "== dpkg -i"
# Registered first: removal even on failure.
CLEANUP_HOOKS+=("dpkg --purge python3-splicefs splicefs >/dev/null 2>&1")
if ! dpkg -i "$DEB" ${PYDEB:+"$PYDEB"} >"$T/dpkg.log" 2>&1; then cat "$T/dpkg.log"; fail "dpkg -i"; finish; fi
pass "dpkg -i $(basename "$DEB") ${PYDEB:+$(basename "$PYDEB")}"
want_version=$(awk -F'"' '/CPACK_PACKAGE_VERSION /{ print $2; exit }' "$BUILD/CPackConfig.cmake")
check "/usr/bin/splicefs --version is $want_version" eval '/usr/bin/splicefs --version | head -1 | grep -qxF "splicefs $want_version"'
check "man finds the page" eval '[ "$(man -w splicefs 2>/dev/null)" = /usr/share/man/man1/splicefs.1.gz ]'
check "installed man page renders without warnings" eval '[ -z "$(zcat /usr/share/man/man1/splicefs.1.gz | groff -man -ww -z 2>&1)" ]'
check "mount.fuse.splicefs is mount.fuse3" [ "$(readlink -f /sbin/mount.fuse.splicefs)" = "$(readlink -f /sbin/mount.fuse3)" ]
check "bash completion loads" bash -c '. /usr/share/bash-completion/completions/splicefs && complete -p splicefs >/dev/null'
if command -v systemd-analyze >/dev/null; then
    cp /usr/lib/systemd/system/splicefs@.service "$T/splicefs@mnt-data.service"
    out=$(systemd-analyze verify --man=no "$T/splicefs@mnt-data.service" 2>&1)
    check "systemd-analyze verify splicefs@mnt-data.service [$out]" [ -z "$out" ]
    out=$(systemd-analyze verify --man=no /usr/lib/systemd/system/splicefs-textfile.service \
        /usr/lib/systemd/system/splicefs-textfile.timer 2>&1)
    check "systemd-analyze verify splicefs-textfile.service/.timer [$out]" [ -z "$out" ]
fi

if [ -f "$PYDEB" ]; then
    # From /, with no PYTHONPATH: the system python3 finds the package's module on its own.
    out=$(cd / && env -i PATH=/usr/bin:/bin /usr/bin/python3 -c '
import os, splice, tempfile
print(splice.__file__)
with tempfile.TemporaryDirectory() as d:
    open(os.path.join(d, "a"), "wb").write(b"z" * 70000)
    n, method = splice.copy_file(os.path.join(d, "a"), os.path.join(d, "b"))
    assert n == 70000 and open(os.path.join(d, "b"), "rb").read() == b"z" * 70000, (n, method)
print(splice.__version__)' 2>&1)
    check "/usr/bin/python3 -c 'import splice' finds $PYDIR and copies [$(tr '\n' ' ' <<<"$out")]" \
        eval '[ "$out" = "$(printf "%s\n%s" "$PYDIR/__init__.py" "$want_version")" ]'
    check "help(splice.splice) from the package" eval \
        '(cd / && env -i /usr/bin/python3 -c "import splice; help(splice.splice)") | grep -q "0 at end of file"'
fi

echo "== mount with the installed binary"
B=$T/backing M=$T/mnt
mkdir -p "$B" "$M" "$T/m2" "$T/m3"
head -c 3000000 /dev/urandom >"$B/data"
check "mount" /usr/bin/splicefs "$B" "$M"
if wait_mount "$M" yes; then
    check "fuse.splicefs in /proc/mounts" [ "$(mount_type "$M")" = fuse.splicefs ]
    check "data reads back equal" cmp -s "$B/data" "$M/data"
    cp "$B/data" "$M/copy" && check "data written through lands in the backing dir" cmp -s "$B/data" "$B/copy"
    check "splicefs stats" eval '/usr/bin/splicefs stats "$M" | grep -q "^  reads"'
    check "splicefs stats --format=prometheus" eval '/usr/bin/splicefs stats --format=prometheus "$M" | grep -q "^splicefs_up{.*} 1$"'
    # The textfile unit's command, writing below $T instead of /var/lib/prometheus.
    # shellcheck disable=SC2034 # read in the eval below
    cmd=$(sed -n "s/^ExecStart=\/bin\/sh -c '\(.*\)'$/\1/p" /usr/lib/systemd/system/splicefs-textfile.service)
    check "splicefs-textfile.service's command writes splicefs.prom" eval \
        'sh -c "${cmd//\/var\/lib\/prometheus/$T/prom}" && grep -qF "splicefs_up{mountpoint=\"$M\"} 1" "$T/prom/node-exporter/splicefs.prom"'
    fusermount3 -u "$M"
    check "unmounted" wait_mount "$M" no
fi

echo "== mount(8) helpers"
found=$(env -i /bin/sh -c 'command -v splicefs')
if [ "$found" != /usr/bin/splicefs ]; then
    echo "note: mount.fuse3 would run $found, not the package's binary: helper mounts not checked"
else
    printf '%s\n' "$B $T/m2 fuse.splicefs defaults,nofail 0 0" "$B $T/m3 splicefs ro,_netdev 0 0" >"$T/fstab"
    out=$(mount --fstab "$T/fstab" -a 2>&1); rc=$?
    check "mount -a with types fuse.splicefs and splicefs [$out]" [ "$rc" = 0 ]
    check "fuse.splicefs line mounted" cmp -s "$B/data" "$T/m2/data"
    check "splicefs line mounted (mount.splicefs)" eval '[ "$(mount_type "$T/m3")" = fuse.splicefs ] && cmp -s "$B/data" "$T/m3/data"'
    for m in m2 m3; do umount "$T/$m" 2>/dev/null; check "umount $m" wait_mount "$T/$m" no; done
fi

echo "== dpkg --purge"
if [ -f "$PYDEB" ]; then
    check "dpkg --purge python3-splicefs" eval 'dpkg --purge python3-splicefs >"$T/dpkg-r.log" 2>&1'
    check "$PYDIR removed (byte-code too) [$(grep -i warning "$T/dpkg-r.log")]" [ ! -e "$PYDIR" ]
fi
check "dpkg --purge" eval 'dpkg --purge splicefs >"$T/dpkg-r.log" 2>&1'
check "binary removed" [ ! -e /usr/bin/splicefs ]
check "helpers removed" eval '[ ! -e /usr/sbin/mount.splicefs ] && [ ! -L /usr/sbin/mount.fuse.splicefs ]'
check "no package record left" eval '! dpkg-query -W splicefs >/dev/null 2>&1'
finish
