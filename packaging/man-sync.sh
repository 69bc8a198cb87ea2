#!/bin/bash
# Keeps the generated parts of splicefs.1 equal to what the binary reports, so the man page
# cannot drift from --help: the .TH version (--version), OPTIONS (the option registry,
# --dump-options) and EXIT CODES (the table --help prints).
# Usage: man-sync.sh SPLICEFS MANPAGE --check   exit 1 and show a diff when out of date
#        man-sync.sh SPLICEFS MANPAGE --write   rewrite MANPAGE in place
#        man-sync.sh SPLICEFS MANPAGE --print   print the up-to-date page
set -euo pipefail
bin=$1 page=$2 mode=${3:---print}

options_roff() {
    "$bin" --dump-options | awk -F'\t' '
        function esc(s) { gsub(/\\/, "\\e", s); gsub(/-/, "\\-", s); return s }
        {
            long = $1; short = $2; kind = $3; value = $4; def = $5; group = $6; help = $8
            if (group != last) { print ".SS " group; last = group }
            print ".TP"
            names = ""
            if (short != "") names = "\\-" short
            if (long != "") names = names (names != "" ? ", " : "") "\\-\\-" esc(long)
            if (value == "") {
                print ".B " names
            } else if (long != "") {
                print ".BI \"" names "=\" \"" esc(value) "\""
            } else {
                print ".BI \"" names " \" \"" esc(value) "\""
            }
            text = esc(help)
            if (def != "") text = text " [default: " esc(def) "]"
            sub(/^[.'"'"']/, "\\\\\\&&", text)
            print text
        }'
}

# "Exit codes:" block of --help: "  N   meaning" lines, continuations indented by 6.
exit_codes_roff() {
    "$bin" --help | awk '
        function esc(s) { gsub(/\\/, "\\e", s); gsub(/-/, "\\-", s); return s }
        function flush() { if (text != "") printf ".TP\n.B %s\n%s\n", code, esc(text) }
        /^Exit codes:/ { on = 1; next }
        on && /^$/ { exit }
        on && /^  [0-9]/ { flush(); code = $1; sub(/^  [0-9]+ +/, ""); text = $0; next }
        on && /^      / { sub(/^ +/, ""); text = text " " $0 }
        END { flush() }'
}

version=$("$bin" --version | head -n 1)  # "splicefs X.Y.Z"

render() {
    awk -v version="$version" -v opts="$1" -v codes="$2" '
        /^\.TH / { printf ".TH SPLICEFS 1 \"\" \"%s\" \"User Commands\"\n", version; next }
        /^\.\\" BEGIN GENERATED OPTIONS/ { print; printf "%s\n", opts; skip = 1; next }
        /^\.\\" BEGIN GENERATED EXIT CODES/ { print; printf "%s\n", codes; skip = 1; next }
        /^\.\\" END GENERATED/ { skip = 0 }
        !skip { print }' "$page"
}

new=$(render "$(options_roff)" "$(exit_codes_roff)")
case $mode in
    --print) printf '%s\n' "$new" ;;
    --write) printf '%s\n' "$new" >"$page.tmp" && mv "$page.tmp" "$page" ;;
    --check)
        if ! diff -u "$page" <(printf '%s\n' "$new"); then
            echo "FAIL: $page is out of date; run: $0 $bin $page --write" >&2
            exit 1
        fi ;;
    *) echo "usage: $0 SPLICEFS MANPAGE --check|--write|--print" >&2; exit 2 ;;
esac
