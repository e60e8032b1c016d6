#!/usr/bin/env bash
# The README's main job: nearft signs and decodes a transfer (the docs/PROTOCOL.md 1.9 vector),
# then nearsim + nearftd run a short bounded load and print transfers/s and the audit verdict.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bin/nearft
[ -x "$bin" ] && [ -x build/bin/nearftd ] || { echo "demo: build first (scripts/build.sh)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/alice.near.json" <<'KEY'
{"account_id":"alice.near","public_key":"ed25519:FVen3X669xLzsi6N2V91DoiyzHzg1uAgqiT8jZ9nS96Z","private_key":"ed25519:49W385L4rePHy6PAaQUovbD2aacgN4HsKXSMeUzRg4fmwXszN91JuMFrQRj3vMDpZuRF3ZknQBuRBoWQJEfXstMw"}
KEY
chmod 600 "$tmp/alice.near.json"
echo "== nearft tx sign (docs/PROTOCOL.md 1.9 vector 1)"
out=$("$bin" tx sign --key-file "$tmp/alice.near.json" --receiver usdt.tether-token.near \
      --nonce 150000000000001 --block-hash HveJKQvuB2oTwbExTvT6bku4oWLB6UyWnqi5WWAD1LU \
      --ft-transfer bob.near:1000000 --gas-per-action 30000000000000)
echo "$out"
b64=$(echo "$out" | sed -n 's/.*"signed_tx_base64":"\([^"]*\)".*/\1/p')
echo "== nearft tx decode"
"$bin" tx decode "$b64"
echo "== nearsim + nearftd: ${1:-50000} transfers"
node scripts/demo.mjs build/bin/nearsim build/bin/nearftd "${1:-50000}"
