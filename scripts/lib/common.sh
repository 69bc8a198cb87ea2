# Shared helpers for scripts/test.sh and scripts/run.sh (sourced, not run).
# shellcheck shell=bash

# shellcheck disable=SC2034 # used by the scripts that source this file
SPLICEFS_BUILD_PACKAGES=(build-essential cmake pkg-config libfuse3-dev fuse3 libcli11-dev libspdlog-dev
    libfmt-dev libsystemd-dev liburing-dev)
# shellcheck disable=SC2034
# The backing matrix (tests/backing) needs mkfs.xfs, mkfs.btrfs, bindfs, glusterd + the
# GlusterFS client, ss (iproute2) and filefrag (e2fsprogs).
SPLICEFS_TEST_PACKAGES=("${SPLICEFS_BUILD_PACKAGES[@]}" libgtest-dev python3-pybind11 python3-pytest
    python3-dev attr acl fio clang clang-tidy strace dpkg-dev groff man-db util-linux bindfs gnuplot-nox
    python3-prometheus-client python3-setuptools python3-build python3-venv python3-wheel ccache
    xfsprogs btrfs-progs glusterfs-server glusterfs-client iproute2 e2fsprogs)

say() { printf '==> %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

require_root() { [[ $(id -u) -eq 0 ]] || die "run as root (mounting, chown and mknod tests need it)"; }

# Installs the Debian packages that are not installed yet; quick when none is missing.
ensure_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        if [[ $(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) != "install ok installed" ]]; then
            missing+=("$pkg")
        fi
    done
    ((${#missing[@]} == 0)) && return 0
    command -v apt-get >/dev/null || die "missing packages (${missing[*]}) and no apt-get"
    say "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install failed"
}

ensure_fuse() {
    [[ -c /dev/fuse ]] || modprobe fuse 2>/dev/null || true
    [[ -c /dev/fuse ]] || die "/dev/fuse is missing (modprobe fuse failed; in a container pass --device /dev/fuse)"
    command -v fusermount3 >/dev/null || die "fusermount3 not found (package fuse3)"
}

# Prints the mount points of fuse.splicefs mounts, one per line (mountinfo escapes decoded).
splicefs_mounts() {
    local line mp fstype
    while IFS= read -r line; do
        fstype=${line#* - }
        fstype=${fstype%% *}
        [[ $fstype == fuse.splicefs ]] || continue
        mp=$(cut -d' ' -f5 <<<"$line")
        printf '%b\n' "$mp"
    done </proc/self/mountinfo
}

# Unmounts one mount point: fusermount3 -u, then lazily as the last resort.
unmount_one() {
    local mp=$1
    fusermount3 -u "$mp" 2>/dev/null && return 0
    fusermount3 -u -z "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null
}

# A test mount is stale when its daemon is gone (ENOTCONN) or when the test process that
# made it (owner.pid next to the mount point, written by tests/mount) no longer runs.
is_stale_test_mount() {
    local mp=$1 owner_file owner
    if timeout 5 stat -c %i "$mp" 2>&1 >/dev/null | grep -q 'not connected'; then
        return 0
    fi
    owner_file="$(dirname "$mp")/owner.pid"
    [[ -r $owner_file ]] || return 1
    owner=$(<"$owner_file")
    [[ $owner =~ ^[0-9]+$ ]] || return 1
    ! kill -0 "$owner" 2>/dev/null
}

# Unmounts stale splicefs test mounts under /tmp; prints how many it removed.
cleanup_stale_test_mounts() {
    local mp n=0
    while IFS= read -r mp; do
        [[ $mp == /tmp/* ]] || continue
        if is_stale_test_mount "$mp"; then
            say "unmounting stale test mount $mp"
            unmount_one "$mp" && n=$((n + 1))
        fi
    done < <(splicefs_mounts)
    echo "$n"
}

# Splicefs mounts of our mount tests (fixture prefix /tmp/splicefs-mt.) still present.
leftover_test_mounts() { splicefs_mounts | grep -E '^/tmp/splicefs-mt\.' || true; }
