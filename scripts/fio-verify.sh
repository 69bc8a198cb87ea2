#!/usr/bin/env bash
# fio with verify=crc32c through splicefs mounts: several jobs, sequential and random,
# splice on and off (and kernel passthrough when the binary offers it). Every run must
# report zero verify errors.
#   scripts/fio-verify.sh [--short] [--binary PATH]
# --short: the CTest-sized version (small files, one pass per mode). Exit 77 when fio is
# missing (CTest counts it as skipped); scripts/test.sh installs fio.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=""
SHORT=0
while (($#)); do
    case $1 in
        --short) SHORT=1 ;;
        --binary) BIN=$2; shift ;;
        -h | --help) sed -n '2,8p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done
if [[ -z $BIN ]]; then
    for c in "$ROOT/build/splicefs" "$ROOT"/build-*/splicefs; do
        [[ -x $c ]] && BIN=$c && break
    done
fi
[[ -x $BIN ]] || { echo "splicefs binary not found (use --binary)" >&2; exit 2; }
command -v fio >/dev/null || { echo "fio not installed: skipped" >&2; exit 77; }
[[ $(id -u) -eq 0 ]] || { echo "needs root (mounting)" >&2; exit 2; }

WORK=$(mktemp -d /tmp/splicefs-fio.XXXXXX)
DAEMON=""
cleanup() {
    if [[ -n $DAEMON ]] && kill -0 "$DAEMON" 2>/dev/null; then
        fusermount3 -u "$WORK/mnt" 2>/dev/null || kill "$DAEMON" 2>/dev/null
        wait "$DAEMON" 2>/dev/null
    fi
    if grep -q " $WORK/mnt " /proc/mounts; then
        fusermount3 -u -z "$WORK/mnt" 2>/dev/null || umount -l "$WORK/mnt"
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ((SHORT)); then
    SIZE=16m NUMJOBS=2 LOOPS=1
else
    SIZE=256m NUMJOBS=4 LOOPS=2
fi

# Modes: name and daemon options.
MODES=("splice:" "no-splice:--no-splice" "direct-io:--direct-io")
if "$BIN" --help 2>/dev/null | grep -q -- '--passthrough'; then MODES+=("passthrough:--passthrough"); fi
if "$BIN" --help 2>/dev/null | grep -q -- '--data-path'; then MODES+=("data-path-passthrough:--data-path passthrough"); fi

FAILED=0
TOTAL_VERIFIED=0
printf '%-24s %-18s %6s %8s %8s\n' mode job MiB errors result
for mode in "${MODES[@]}"; do
    name=${mode%%:*}
    opts=${mode#*:}
    rm -rf "$WORK/backing" "$WORK/mnt"
    mkdir -p "$WORK/backing" "$WORK/mnt"
    # shellcheck disable=SC2086 # opts is a word list on purpose
    "$BIN" -f --log-file "$WORK/$name.log" $opts "$WORK/backing" "$WORK/mnt" >"$WORK/$name.out" 2>&1 &
    DAEMON=$!
    for _ in $(seq 100); do
        grep -q " $WORK/mnt fuse.splicefs " /proc/mounts && break
        kill -0 "$DAEMON" 2>/dev/null || break
        sleep 0.1
    done
    if ! grep -q " $WORK/mnt fuse.splicefs " /proc/mounts; then
        echo "$name: splicefs did not mount:" >&2
        cat "$WORK/$name.out" >&2
        FAILED=$((FAILED + 1))
        DAEMON=""
        continue
    fi
    for job in seq-write-verify rand-write-verify rand-rw-verify; do
        case $job in
            seq-write-verify) rw=write bs=--bs=1m ;;
            rand-write-verify) rw=randwrite bs=--bsrange=4k-256k ;;
            rand-rw-verify) rw=randrw bs=--bs=64k ;;
        esac
        out="$WORK/$name-$job.json"
        fio --name="$job" --directory="$WORK/mnt" --rw="$rw" "$bs" --size="$SIZE" \
            --numjobs="$NUMJOBS" --loops="$LOOPS" --ioengine=psync --verify=crc32c --verify_fatal=1 \
            --do_verify=1 --verify_backlog=64 --verify_state_save=0 --group_reporting --output-format=json --output="$out" \
            >/dev/null 2>"$WORK/fio.err"
        rc=$?
        read -r mib errs < <(python3 - "$out" <<'PY'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
    j = d["jobs"][0]
    mib = (j["write"]["io_bytes"] + j["read"]["io_bytes"]) / 2**20
    print(f"{mib:.0f} {j.get('error', 0)}")
except Exception:
    print("0 -1")
PY
        )
        verdict=ok
        if ((rc != 0 || errs != 0)); then
            verdict=FAIL
            FAILED=$((FAILED + 1))
            sed -n '1,20p' "$WORK/fio.err" >&2
        fi
        TOTAL_VERIFIED=$((TOTAL_VERIFIED + ${mib%.*}))
        printf '%-24s %-18s %6s %8s %8s\n' "$name" "$job" "$mib" "$errs" "$verdict"
    done
    # Data written through the mount is what the backing files hold: fio verifies again on
    # the backing dir directly (read-only verify pass).
    fio --name=seq-write-verify --directory="$WORK/backing" --rw=write --bs=1m --size="$SIZE" \
        --numjobs="$NUMJOBS" --ioengine=psync --verify=crc32c --verify_fatal=1 --verify_only=1 --verify_state_save=0 \
        --output-format=terse >/dev/null 2>"$WORK/fio.err" ||
        { echo "$name: backing-side verify of seq-write-verify failed" >&2; sed -n '1,10p' "$WORK/fio.err" >&2; FAILED=$((FAILED + 1)); }
    fusermount3 -u "$WORK/mnt" || FAILED=$((FAILED + 1))
    wait "$DAEMON"
    rc=$?
    DAEMON=""
    if ((rc != 0)); then
        echo "$name: splicefs exited with $rc" >&2
        tail -5 "$WORK/$name.out" >&2
        FAILED=$((FAILED + 1))
    fi
    grep -E "reads:|writes:" "$WORK/$name.out" | sed "s/^.*info: /    $name /"
done
echo "fio verify: ${#MODES[@]} modes, ${TOTAL_VERIFIED} MiB moved, $FAILED failure(s)"
((FAILED == 0))
