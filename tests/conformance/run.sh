#!/usr/bin/env bash
# Runs one conformance script with the pinned near-api-js and @near-js/jsonrpc-types:
# run.sh SCRIPT.mjs BINARY [ARGS...] (BINARY: nearft, or nearsim for sim_schema.mjs).
# Fails (never skips) when node or the npm packages are missing.
set -u
here=$(cd "$(dirname "$0")" && pwd)
script=${1:?usage: run.sh SCRIPT.mjs NEARFT [ARGS...]}
shift
if ! command -v node >/dev/null 2>&1; then
    echo "conformance: node (>= 20) not found in PATH" >&2
    exit 1
fi
installed=$(node -p "require('$here/node_modules/near-api-js/package.json').version" 2>/dev/null)
if [ "$installed" != "7.2.0" ]; then
    echo "conformance: near-api-js 7.2.0 is not installed (found '${installed:-none}'): run npm ci in tests/conformance" >&2
    exit 1
fi
types=$(node -p "require('$here/node_modules/@near-js/jsonrpc-types/package.json').version" 2>/dev/null)
if [ "$types" != "1.4.0" ]; then
    echo "conformance: @near-js/jsonrpc-types 1.4.0 is not installed (found '${types:-none}'): run npm ci in tests/conformance" >&2
    exit 1
fi
cd "$here" && exec node "$script" "$@"
