#!/usr/bin/env bash
# The long backing-filesystem matrix: every backing, all four POSIX variants, the data tests
# with --cache=never too, five rounds of the GlusterFS freshness probe. CI runs the short
# version (ctest -R backing_matrix). usage: scripts/backing-matrix.sh [BUILD_DIR] [BACKING...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${1:-build}
shift || true
exec tests/backing/matrix.sh "$BUILD" --full "$@"
