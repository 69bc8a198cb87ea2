# shellcheck shell=bash
# Shared helpers for the packaging tests (sourced): the common shell-test harness.
HARNESS_NAME=pkg
# shellcheck source=tests/lib/harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
