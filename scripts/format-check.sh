#!/usr/bin/env bash
# Fails when a tracked or new C source is off the house format (.clang-format, clang-format 14).
set -euo pipefail
cf=${1:-clang-format}
cd "$(dirname "$0")/.."
files=$(git ls-files --cached --others --exclude-standard '*.c' '*.h' 2>/dev/null || find src include tests perf -name '*.[ch]')
[ -n "$files" ] || exit 0
# shellcheck disable=SC2086
$cf --dry-run --Werror $files
echo "format_check: $(echo "$files" | wc -w) files clean"
