#!/bin/bash
# Sources the bash completion and checks a few completions (COMP_WORDS/COMP_CWORD in,
# COMPREPLY out) against the registry of the built binary.
# Usage: completion.sh SPLICEFS COMPLETION_FILE
BIN=$1 COMPLETION=$2
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/bin" "$T/dirs/alpha" "$T/dirs/beta"
touch "$T/dirs/afile"
ln -s "$(readlink -f "$BIN")" "$T/bin/splicefs"
export PATH="$T/bin:$PATH"
# shellcheck source=/dev/null
. "$COMPLETION"

# complete WORD... : the last word is the one being completed.
complete_words() {
    COMP_WORDS=("$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMPREPLY=()
    _splicefs
    printf '%s\n' "${COMPREPLY[@]}" | sort
}
has() {  # has "WORDS" EXPECTED...
    local got=$1; shift
    local want
    for want in "$@"; do
        grep -qxF -- "$want" <<<"$got" || { echo "  missing '$want' in: $(tr '\n' ' ' <<<"$got")"; return 1; }
    done
}
lacks() { ! grep -qxF -- "$2" <<<"$1"; }

check "complete -F _splicefs splicefs is registered" [ "$(complete -p splicefs)" = "complete -F _splicefs splicefs" ]
got=$(complete_words splicefs --ca)
check "--ca -> --cache=" has "$got" --cache=
got=$(complete_words splicefs --no-)
check "--no- -> the --no-* flags" has "$got" --no-splice --no-splice-read --no-splice-write --no-recover-stale
# Every long option of --help is offered.
all=$(complete_words splicefs --)
"$BIN" --help | sed -n 's/^  \(-[a-zA-Z], \)\{0,1\}--\([a-z0-9-]*\)\(=\{0,1\}\).*/--\2\3/p' >"$T/help"
missing=0
while read -r opt; do has "$all" "$opt" >/dev/null || { echo "  not offered: $opt"; missing=1; }; done <"$T/help"
check "every --help long option is offered" [ "$missing" = 0 ]
check "--cache= values (one word)" has "$(complete_words splicefs --cache=a)" --cache=auto --cache=always
check "--cache = values (split at '=')" has "$(complete_words splicefs --cache = n)" never
check "--log-level= values" has "$(complete_words splicefs --log-level =)" trace debug info warn error critical off
check "--log-level=w" has "$(complete_words splicefs --log-level=w)" --log-level=warn
if "$BIN" --help | grep -q -- '--data-path'; then
    check "--data-path= values" has "$(complete_words splicefs --data-path=)" \
        --data-path=splice --data-path=copy --data-path=passthrough
fi
check "-o words" has "$(complete_words splicefs -o no_sp)" no_splice no_splice_read no_splice_write
check "-o keeps the words before the last comma" has "$(complete_words splicefs -o ro,allow_o)" ro,allow_other
check "-o cache= values" has "$(complete_words splicefs -o ro,cache=ne)" ro,cache=never
check "-o fstab words" has "$(complete_words splicefs -o nof)" nofail
got=$(complete_words splicefs "$T/dirs/")
check "first positional: directories" has "$got" "$T/dirs/alpha" "$T/dirs/beta"
check "first positional: no plain files" lacks "$got" "$T/dirs/afile"
check "first positional: the stats subcommand" has "$(complete_words splicefs st)" stats
check "second positional: directories, no stats" \
    eval 'has "$(complete_words splicefs --cache never /srv "$T/dirs/a")" "$T/dirs/alpha" &&
          lacks "$(complete_words splicefs /srv st)" stats'
check "stats options" has "$(complete_words splicefs stats --)" --json --help
check "stats mountpoint: directories" has "$(complete_words splicefs stats "$T/dirs/b")" "$T/dirs/beta"
check "no completion after both paths" [ -z "$(complete_words splicefs /a /b "")" ]
finish
