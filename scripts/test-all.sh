#!/usr/bin/env bash
# Builds and runs every test: the default (gcc) build, the ASan/UBSan build (clang) and the
# TSan build (clang). ctest runs unit tests, fuzz-corpus replays, the format check, the
# near-api-js conformance suite and the integration tests on nearsim.
set -euo pipefail
cd "$(dirname "$0")/.."
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:suppressions=$PWD/tests/tsan.supp}
status=0
for kind in default asan tsan; do
  scripts/build.sh "$kind"
  dir=build; [ "$kind" = default ] || dir=build-$kind
  echo "=== ctest ($kind) ==="
  # The sanitizer builds skip the long load tests (label 'slow'); the default build runs all.
  extra=()
  [ "$kind" = default ] || extra=(-LE slow)
  if ! ctest --test-dir "$dir" --output-on-failure -j2 "${extra[@]}"; then
    status=1
  fi
done
exit $status
