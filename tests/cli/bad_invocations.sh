#!/bin/bash
# Table-driven bad invocations: each must exit with its documented code, print exactly one
# line on stderr starting with "splicefs: ", print nothing on stdout, and mount nothing.
# Usage: bad_invocations.sh /path/to/splicefs
BIN=$1
. "$(dirname "$0")/common.sh"

B=$T/backing; M=$T/mnt; F=$T/file
mkdir -p "$B/sub/deeper" "$M/inner" "$T/outer/b2"
echo data > "$F"
ln -s "$B/sub" "$T/link-into-backing"

# code|arguments (word-split by eval, so '' is an empty argument)
CASES=(
    "1|"
    "1|'$B'"
    "1|'$B' '$M' extra"
    "1|'' '$M'"
    "1|--bogus '$B' '$M'"
    "1|'$B' '$M' --bogus=1"
    "1|-x '$B' '$M'"
    "1|--threads 0 '$B' '$M'"
    "1|--threads 257 '$B' '$M'"
    "1|--threads abc '$B' '$M'"
    "1|--threads=-3 '$B' '$M'"
    "1|'$B' '$M' --threads"
    "1|--spin-us 10001 '$B' '$M'"
    "1|--spin-us=fast '$B' '$M'"
    "1|--attr-timeout -1 '$B' '$M'"
    "1|--attr-timeout 1s '$B' '$M'"
    "1|--entry-timeout nan '$B' '$M'"
    "1|--cache=sometimes '$B' '$M'"
    "1|--watch=sometimes '$B' '$M'"
    "1|--transport=ring '$B' '$M'"
    "1|'$B' '$M' -o transport=uringg"
    "1|'$B' '$M' -o watch=yes"
    "1|--log-level=loud '$B' '$M'"
    "1|--log-file= '$B' '$M'"
    "1|--foreground=1 '$B' '$M'"
    "1|-s --threads 2 '$B' '$M'"
    "1|-s --clone-fd '$B' '$M'"
    "1|--crash-loop=0/10 '$B' '$M'"
    "1|--crash-loop=5 '$B' '$M'"
    "1|'$B' '$M' --resume=3"
    "1|upgrade"
    "1|upgrade '$M' extra"
    "1|upgrade '$M'"
    "1|upgrade --bogus"
    "1|--no-splice --splice-move '$B' '$M'"
    "1|--no-splice-read -o splice_move '$B' '$M'"
    "1|--writeback-cache --cache=never '$B' '$M'"
    "1|'$B' '$M' -o 'ro,,rw'"
    "1|'$B' '$M' -o 'ro,'"
    "1|'$B' '$M' -o '=x'"
    "1|'$B' '$M' -o ro=1"
    "1|'$B' '$M' -o ''"
    "1|'$B' '$M' -o"
    "1|'$B' '$M' -o threads=0"
    "1|'$B' '$M' -o foreground=yes"
    "1|'$B' '$M' -o threads"
    "1|'$B' '$M' -o kernel_cache"
    "1|'$T/missing' '$M'"
    "1|'$F' '$M'"
    "1|--log-file='$T/no/such/dir/x.log' '$B' '$M'"
    "2|'$B' '$T/missing'"
    "2|'$B' '$F'"
    "2|'$B' '$F/sub'"
    "2|'$B' '$B'"
    "2|'$B' '$B/.'"
    "2|'$B' '$B/sub/deeper'"
    "2|'$B' '$T/link-into-backing'"
    "2|'$T/outer/b2' '$T/outer'"
    "2|'$B' /proc"
)

n=0
for entry in "${CASES[@]}"; do
    n=$((n + 1))
    want=${entry%%|*}
    argstr=${entry#*|}
    eval "args=($argstr)"
    timeout 20 "$BIN" "${args[@]}" >"$T/out" 2>"$T/err"
    got=$?
    lines=$(wc -l <"$T/err")
    [ "$got" -eq "$want" ] || fail "case $n [$argstr]: exit $got, want $want; stderr: $(cat "$T/err")"
    [ "$lines" -eq 1 ] || fail "case $n [$argstr]: $lines stderr lines: $(cat "$T/err")"
    head -n1 "$T/err" | grep -q '^splicefs: ' || fail "case $n [$argstr]: stderr not 'splicefs: ...': $(cat "$T/err")"
    [ ! -s "$T/out" ] || fail "case $n [$argstr]: printed on stdout: $(cat "$T/out")"
    left=$(mounted_below)
    if [ -n "$left" ]; then
        fail "case $n [$argstr]: left a mount: $left"
        for m in $left; do fusermount3 -u "$m" 2>/dev/null || umount -l "$m"; done
    fi
done
echo "$n cases"
[ "$n" -ge 30 ] || fail "only $n cases"
finish
