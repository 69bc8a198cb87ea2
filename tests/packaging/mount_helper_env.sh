# shellcheck shell=bash
# For the tests that go through mount(8) and mount.fuse3 (sourced): mount.fuse3 runs
# "splicefs" through /bin/sh, and mount(8) drops PATH from the helper's environment, so sh
# searches its default path (/usr/local/sbin first). These tests therefore run in a private
# mount namespace where a temp dir holding a link to the built binary is bound over
# /usr/local/sbin: nothing is installed and nobody else sees it.

# enter_private_mount_ns SCRIPT ARGS...: skips (77) without root, mount.fuse3 or unshare;
# otherwise re-runs SCRIPT in a private mount namespace (returns there, once inside).
enter_private_mount_ns() {
    [ "$(id -u)" = 0 ] || { echo "SKIP: needs root for mount(8)"; exit 77; }
    [ -x /sbin/mount.fuse3 ] || { echo "SKIP: no mount.fuse3"; exit 77; }
    if [ -z "${SPLICEFS_PKG_NS-}" ]; then
        command -v unshare >/dev/null || { echo "SKIP: no unshare"; exit 77; }
        SPLICEFS_PKG_NS=1 exec unshare --mount --propagation private bash "$@"
    fi
}

# put_on_helper_path BIN: binds $T/bin (holding a splicefs link to BIN) over /usr/local/sbin,
# undone by the harness's cleanup. Needs lib.sh (T, CLEANUP_HOOKS) sourced first.
put_on_helper_path() {
    mkdir -p "$T/bin" /usr/local/sbin
    ln -s "$(readlink -f "$1")" "$T/bin/splicefs"
    mount --bind "$T/bin" /usr/local/sbin || { echo "SKIP: cannot bind over /usr/local/sbin"; exit 77; }
    CLEANUP_HOOKS+=("umount -l /usr/local/sbin")
}
