#!/bin/bash
# `splicefs stats` against a live mount: the counters move while a background writer streams
# through the mount, --json is the xattr unchanged, errors are one line with exit code 1.
# Usage: stats.sh SPLICEFS
BIN=$1
. "$(dirname "$0")/lib.sh"
B=$T/backing M=$T/mnt
mkdir -p "$B/sub" "$M"
check "mount" "$BIN" "$B" "$M"
wait_mount "$M" yes || { fail "not mounted"; finish; }

json_field() {  # json_field JSON DIRECTION: spliced+copied bytes of that direction
    sed -n "s/.*\"$2\":{\"spliced_bytes\":\([0-9]*\),\"spliced_requests\":[0-9]*,\"copied_bytes\":\([0-9]*\).*/\1 \2/p" <<<"$1" |
        awk '{ print $1 + $2 }'
}

# Background writer: 256 KiB chunks appended until told to stop; holds the file open (fd 3).
touch "$T/stop.not"
(
    exec 3>>"$M/stream"
    while [ -e "$T/stop.not" ]; do
        head -c 262144 /dev/zero >&3
    done
) &
STARTED_PIDS+=($!)
writer=$!

first=$("$BIN" stats --json "$M"); rc=$?
check "stats --json exits 0" [ "$rc" = 0 ]
check "stats --json equals the xattr's shape" grep -q '^{"version":"[^"]*",.*"reads":{.*"ops":{.*}}$' <<<"$first"
if command -v python3 >/dev/null; then
    check "stats --json is valid JSON" python3 -c 'import json,sys; json.loads(sys.argv[1])' "$first"
fi
w1=$(json_field "$first" writes)
moved=no
for _ in $(seq 1 200); do  # bounded, not a timing assertion: until a later read shows more
    now=$("$BIN" stats --json "$M")
    w2=$(json_field "$now" writes)
    if [ -n "$w1" ] && [ -n "$w2" ] && [ "$w2" -gt "$w1" ]; then moved=yes; break; fi
    sleep 0.05
done
check "written bytes move during the transfer ($w1 -> ${w2-})" [ "$moved" = yes ]
check "open_files counts the writer's open file" grep -q '"open_files":[1-9]' <<<"$now"

table=$("$BIN" stats "$M"); rc=$?
check "stats (table) exits 0" [ "$rc" = 0 ]
check "table: transfer rows" eval 'grep -qE "^  reads +[0-9]+" <<<"$table" && grep -qE "^  writes +[0-9]+ .*%$" <<<"$table"'
check "table: write op row with calls" grep -qE '^  write +[1-9][0-9]* +[0-9]+ ' <<<"$table"
check "table: open handles and inodes" grep -qE '^Open files [1-9][0-9]*, open directories [0-9]+, known inodes [1-9]' <<<"$table"

rm -f "$T/stop.not"
wait "$writer"
STARTED_PIDS=()
size=$(stat -c %s "$B/stream")
last=$("$BIN" stats --json "$M")
check "written bytes account for the file ($size bytes in the backing file)" [ "$(json_field "$last" writes)" -ge "$size" ]
cat "$M/stream" >/dev/null
check "read bytes move after reading the file back" [ "$(json_field "$("$BIN" stats --json "$M")" reads)" -gt "$(json_field "$last" reads)" ]

# Not a splicefs mount: exit 1, one line on stderr, nothing on stdout.
for target in "$T" "$M/sub" "$T/missing"; do
    # shellcheck disable=SC2034 # read in the eval below
    out=$("$BIN" stats "$target" 2>"$T/err"); rc=$?
    check "stats $target: exit 1" [ "$rc" = 1 ]
    check "stats $target: one 'splicefs:' line on stderr, empty stdout" \
        eval '[ -z "$out" ] && [ "$(wc -l <"$T/err")" = 1 ] && grep -q "^splicefs: " "$T/err"'
done
"$BIN" stats >/dev/null 2>&1; check "stats without MOUNTPOINT: exit 1" [ $? = 1 ]
"$BIN" stats --bogus "$M" >/dev/null 2>&1; check "stats --bogus: exit 1" [ $? = 1 ]
check "stats --help" eval '"$BIN" stats --help | grep -q "Usage: splicefs stats"'

fusermount3 -u "$M"
check "unmounted" wait_mount "$M" no
finish
