#!/usr/bin/env bash
# Builds one configuration: scripts/build.sh [default|asan|tsan|fuzz] (default: default).
# default = gcc RelWithDebInfo in build/; asan = clang address,undefined in build-asan/;
# tsan = clang thread in build-tsan/; fuzz = clang libFuzzer targets in build-fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-default}
jobs=$(nproc)
case "$kind" in
  default) dir=build; args=(-DCMAKE_C_COMPILER=gcc) ;;
  asan) dir=build-asan; args=(-DCMAKE_C_COMPILER=clang -DNF_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug) ;;
  tsan) dir=build-tsan; args=(-DCMAKE_C_COMPILER=clang -DNF_SANITIZE=thread -DCMAKE_BUILD_TYPE=Debug) ;;
  fuzz) dir=build-fuzz; args=(-DCMAKE_C_COMPILER=clang -DNF_FUZZ=ON -DNF_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug) ;;
  *) echo "usage: $0 [default|asan|tsan|fuzz]" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" -DNF_WERROR=ON "${args[@]}" >/dev/null
cmake --build "$dir" -j"$jobs"
echo "build: $dir ok"
