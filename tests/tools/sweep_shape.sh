#!/bin/bash
# `splice-bench --sweep --quick`: the shape of its table, JSON and plot (never its timings),
# and its answers to bad options. Usage: sweep_shape.sh /path/to/splice-bench
BIN=$1
# shellcheck disable=SC2034 # read by harness.sh
HARNESS_NAME=sweep
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

OUT=$T/sweep
if "$BIN" --sweep --quick --dir "$T" --out "$OUT" >"$T/stdout" 2>"$T/stderr"; then
    pass "quick sweep exits 0"
else
    fail "quick sweep failed: $(cat "$T/stderr")"
fi
check "table header" grep -q '^| # | dest | receiver | pipe | chunk | method | MB/s median |' "$T/stdout"
check "summary table" grep -q '^| dest | receiver | pipe | best row' "$T/stdout"
check "stdout is also written to .md" cmp -s "$T/stdout" "$OUT.md"
for word in tcp unix pipe file null read+send read+write sendfile splice library; do
    check "a row for $word" grep -qE "^\| [0-9]+ \|(.*\|)? ${word//+/\\+} \|" "$T/stdout"
done
rows=$(grep -cE '^\| [0-9]+ \|' "$T/stdout")
check "rows numbered 1..$rows" test "$(grep -E '^\| [0-9]+ \|' "$T/stdout" | awk -F'|' '{print $2+0}' | tail -1)" = "$rows"

/usr/bin/python3 - "$OUT.json" "$rows" >"$T/json.check" 2>&1 <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
rows = doc["results"]
assert len(rows) == int(sys.argv[2]), f"{len(rows)} JSON rows vs {sys.argv[2]} table rows"
assert doc["passes"] == 1 and doc["size"] > 0 and doc["load_start"] and doc["load_end"]
for i, r in enumerate(rows, 1):
    assert r["row"] == i
    assert r["dest"] in ("tcp", "unix", "pipe", "file", "null"), r
    assert r["receiver"] in (("splice", "read") if r["dest"] in ("tcp", "unix", "pipe") else ("none",)), r
    assert len(r["passes"]) == 1, r
    assert r["mb_per_s"]["min"] <= r["mb_per_s"]["median"] <= r["mb_per_s"]["max"], r
    assert r["mb_per_s"]["median"] > 0 and r["sender_cpu_us_per_mib"]["median"] >= 0, r
    assert (r["chunk"] == 0) == (r["method"] == "library"), r
print("json ok")
PY
if grep -q "json ok" "$T/json.check"; then pass "JSON shape"; else fail "JSON shape: $(cat "$T/json.check")"; fi
check "PNG written" test "$(head -c 4 "$OUT.png" | od -An -c | tr -d ' ')" = "211PNG"

# Bad options: one line on stderr, exit 1, nothing on stdout.
bad() {
    local out err code
    out=$("$BIN" "$@" 2>"$T/err"); code=$?
    err=$(cat "$T/err")
    if [ "$code" -ne 0 ] && [ -z "$out" ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ]; then
        pass "rejects $*"
    else
        fail "$* -> code $code, stdout '$out', stderr '$err'"
    fi
}
bad --quick
bad --pipe 1K
bad --dest carrier-pigeon
bad --passes 0
finish
