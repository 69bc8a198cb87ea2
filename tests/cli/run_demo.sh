#!/bin/bash
# scripts/run.sh as a new user meets it: run it (demo tree, then BACKING MOUNTPOINT with a
# space in the paths), take every command it prints, check that each program comes from a
# package every Debian has (Essential, or priority required/important) or from one run.sh
# installs, and run them all as printed (the last one unmounts).
# Usage: run_demo.sh SOURCE_DIR SPLICEFS      (run.sh mounts with SPLICEFS instead of building)
SRC=$1 BIN=$2
HARNESS_NAME=run
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
# shellcheck source=scripts/lib/common.sh
. "$SRC/scripts/lib/common.sh"

# package_of PROGRAM: the Debian package that ships it (merged /usr: dpkg may know /bin/x).
package_of() {
    local path
    path=$(command -v "$1") || return 1
    path=$(readlink -f "$path")
    { dpkg -S "$path" 2>/dev/null || dpkg -S "${path#/usr}" 2>/dev/null; } | head -1 | cut -d: -f1
}

on_fresh_machine() {  # on_fresh_machine PROGRAM
    local pkg fields
    pkg=$(package_of "$1") || return 1
    [ -n "$pkg" ] || return 1
    printf '%s\n' "${SPLICEFS_BUILD_PACKAGES[@]}" | grep -qxF "$pkg" && return 0
    fields=$(dpkg-query -W -f='${Essential} ${Priority}' "$pkg" 2>/dev/null)
    [[ $fields == yes* || $fields == *required || $fields == *important ]]
}

# try_demo NAME MNT RUN_SH_ARGS...: run.sh, then its printed commands.
try_demo() {
    local name=$1 mnt=$2 line cmd prog n=0
    shift 2
    CLEANUP_HOOKS+=("fusermount3 -u '$mnt' 2>/dev/null || umount -l '$mnt' 2>/dev/null")
    if ! SPLICEFS_RUN_BIN=$BIN bash "$SRC/scripts/run.sh" "$@" >"$T/$name.out" 2>"$T/$name.err"; then
        cat "$T/$name.err"; fail "$name: scripts/run.sh $*"; return
    fi
    pass "$name: scripts/run.sh $*"
    # The commands: indented lines after "Look at it:" and "Unmount:".
    mapfile -t cmds < <(sed -n '/^Look at it:$/,$ { /^  [^ ]/ s/^  //p }' "$T/$name.out")
    check "$name: prints commands, the last one unmounts (${#cmds[@]})" \
        eval '[ "${#cmds[@]}" -ge 4 ] && [[ ${cmds[-1]} == "fusermount3 -u "* ]]'
    check "$name: the demo uses splicefs stats" eval 'printf "%s\n" "${cmds[@]}" | grep -q " stats "'
    for cmd in "${cmds[@]}"; do
        eval "prog=(${cmd%%#*})"  # the first word as the shell reads it
        if [ "${prog[0]}" != "$(realpath "$BIN")" ]; then
            check "$name: ${prog[0]} is on a fresh machine (package $(package_of "${prog[0]}"))" on_fresh_machine "${prog[0]}"
        fi
        (cd / && bash -c "$cmd") >"$T/cmd.out" 2>&1
        check "$name: \`$cmd\` succeeds" [ $? = 0 ] || tail -5 "$T/cmd.out"
        n=$((n + 1))
    done
    check "$name: unmounted by the last command" eval '! mountpoint -q "$mnt"'
}

export SPLICEFS_DEMO_DIR=$T/demo
try_demo demo "$T/demo/mnt"
unset SPLICEFS_DEMO_DIR
mkdir -p "$T/my backing" "$T/my mnt"
echo hello >"$T/my backing/file"
try_demo own "$T/my mnt" "$T/my backing" "$T/my mnt"
finish
