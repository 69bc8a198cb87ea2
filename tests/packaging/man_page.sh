#!/bin/bash
# The man page renders without warnings, lists exactly the long options --help lists, and its
# generated parts (OPTIONS, EXIT CODES, version) are what the binary reports now.
# Usage: man_page.sh SPLICEFS MANPAGE SYNC_SCRIPT
BIN=$1 PAGE=$2 SYNC=$3
. "$(dirname "$0")/lib.sh"

warnings=$(groff -man -ww -z "$PAGE" 2>&1)
check "groff -man -ww renders without warnings" [ -z "$warnings" ]
[ -z "$warnings" ] || echo "$warnings"
if command -v man >/dev/null; then
    out=$(MANWIDTH=80 man --warnings=w -l "$PAGE" 2>&1 >/dev/null)
    check "man -l renders without warnings" [ -z "$out" ]
fi

# Long options in --help (option lines start with "  -x, --name" or "  --name").
"$BIN" --help | sed -n 's/^  \(-[a-zA-Z], \)\{0,1\}--\([a-z0-9-]*\).*/\2/p' | sort -u >"$T/help"
# Long options the OPTIONS section names, as rendered text.
groff -man -Tascii -P-cbou "$PAGE" 2>/dev/null | sed 's/\x08.//g' |
    awk '/^OPTIONS/ { on = 1; next } /^[A-Z]/ { on = 0 } on' |
    sed -n 's/^       \(-[a-zA-Z], \)\{0,1\}--\([a-z0-9-]*\).*/\2/p' | sort -u >"$T/man"
check "--help lists options (sanity)" [ "$(wc -l <"$T/help")" -ge 10 ]
if diff -u "$T/help" "$T/man" >"$T/diff"; then
    pass "man page OPTIONS and --help name the same $(wc -l <"$T/help") long options"
else
    fail "man page OPTIONS and --help differ (- only in --help, + only in the man page):"
    cat "$T/diff"
fi
check "EXIT CODES lists every code --help lists" \
    [ "$("$BIN" --help | awk '/^Exit codes:/{on=1;next} on&&/^  [0-9]/{n++} END{print n}')" = \
      "$(groff -man -Tascii -P-cbou "$PAGE" 2>/dev/null | awk '/^EXIT CODES/{on=1;next} /^[A-Z]/{on=0} on&&/^       [0-9] /{n++} END{print n}')" ]
for section in NAME SYNOPSIS DESCRIPTION OPTIONS "FUSE OPTIONS" CACHING SPLICE PASSTHROUGH STATISTICS \
    EXAMPLES "EXIT CODES" FILES "SEE ALSO"; do
    grep -q "^\.SH \"\{0,1\}$section\"\{0,1\}\$" "$PAGE" || fail "section $section missing"
done
grep -q 'fusermount3 (1)' "$PAGE" && grep -q 'mount.fuse3 (8)' "$PAGE" || fail "SEE ALSO references"
check "generated parts up to date (packaging/man-sync.sh --check)" "$SYNC" "$BIN" "$PAGE" --check
finish
