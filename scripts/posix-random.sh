#!/usr/bin/env bash
# A long seeded random run of the POSIX differential suite (tests/posix): the same random
# operation sequence runs on a native scratch directory and through a splicefs mount, in
# every variant (splice on/off x cache auto/never); the first divergence is shrunk to a
# minimal reproduction and printed.
#
#   scripts/posix-random.sh SEED OPS [ROUNDS]
#
# SEED    first seed (round k uses SEED+k)
# OPS     operations per round
# ROUNDS  rounds per variant (default 1)
# Environment: BUILD_DIR (directory holding tests/posix/posix_tests; default: the newest
# build*/ under the repository), POSIX_FS=splicefs|bindfs, VARIANT (a gtest filter on the
# variant name, e.g. nosplice_cachenever), POSIX_SHRINK_BUDGET (default 400 trials).
set -euo pipefail

if [[ $# -lt 2 || ! $1 =~ ^[0-9]+$ || ! $2 =~ ^[0-9]+$ ]]; then
    echo "usage: $0 SEED OPS [ROUNDS]" >&2
    exit 2
fi
seed=$1
ops=$2
rounds=${3:-1}
repo=$(cd "$(dirname "$0")/.." && pwd)

bin=""
if [[ -n ${BUILD_DIR:-} ]]; then
    bin=$BUILD_DIR/tests/posix/posix_tests
else
    bin=$(ls -t "$repo"/build*/tests/posix/posix_tests 2>/dev/null | head -n1 || true)
fi
if [[ -z $bin || ! -x $bin ]]; then
    echo "posix_tests not found; build it: cmake --build <build-dir> --target posix_tests" >&2
    exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
    echo "run as root: the suite drops to other uids and mounts with allow_other" >&2
    exit 2
fi

echo "$bin: seed $seed, $ops ops x $rounds round(s), fs ${POSIX_FS:-splicefs}"
POSIX_RANDOM_SEED=$seed POSIX_RANDOM_OPS=$ops POSIX_RANDOM_ROUNDS=$rounds \
    exec "$bin" --gtest_filter="Posix/OnMount.RandomOperations/*${VARIANT:-}*"
