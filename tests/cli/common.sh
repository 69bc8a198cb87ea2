# shellcheck shell=bash
# Shared helpers for the CLI smoke tests (sourced): the common shell-test harness.
HARNESS_NAME=cli
# shellcheck source=tests/lib/harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
