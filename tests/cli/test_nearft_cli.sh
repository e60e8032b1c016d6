#!/usr/bin/env bash
# End-to-end test of the nearft binary: docs/PROTOCOL.md 1.9 vector 1 (exact signed base64 and hash
# from the document), decode of that vector, usage/failure exit codes with their messages, key-file
# permission refusal, keys new + --credentials, and that no secret ever reaches stdout/stderr.
# Usage: test_nearft_cli.sh path/to/nearft
set -u
NEARFT=${1:?usage: $0 path/to/nearft}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/nearft-cli-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
chmod 700 "$TMP"
ALL_OUTPUT="$TMP/all-output.log"
: >"$ALL_OUTPUT"
pass=0
fail=0

SECRET='ed25519:49W385L4rePHy6PAaQUovbD2aacgN4HsKXSMeUzRg4fmwXszN91JuMFrQRj3vMDpZuRF3ZknQBuRBoWQJEfXstMw'
PUB='ed25519:FVen3X669xLzsi6N2V91DoiyzHzg1uAgqiT8jZ9nS96Z'
BLOCK='HveJKQvuB2oTwbExTvT6bku4oWLB6UyWnqi5WWAD1LU'
V1_HASH='EqCZeUDZXMdq8LjvHsFjK8RTcrGLeEnECCibXgGBUDdr'
V1_SIG='ed25519:4LWUBMSWq5E7K8cK3M73cbWV2FE1hg9H8AndB1asRqJTFeGJBZeWnv5HicEuJC7r7irx1ooZ61rAEri7P5P8f1uc'
V1_B64='CgAAAGFsaWNlLm5lYXIA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURoBYLeYbIgAABYAAAB1c2R0LnRldGhlci10b2tlbi5uZWFyBFXyhrPPqQ1JQ+DMLJq4mi+Y9UjkHPVHpUbSK8IaizkBAAAAAgsAAABmdF90cmFuc2Zlci0AAAB7InJlY2VpdmVyX2lkIjoiYm9iLm5lYXIiLCJhbW91bnQiOiIxMDAwMDAwIn0A4FfrSBsAAAEAAAAAAAAAAAAAAAAAAAAApt+/6qBkGtwe/XutVUj93Ag+Od9WE9uGIp/RTWU10PhT3TkaTN28DkAJ9j8fwwQi1oayzuAy600s4M5ziFYxCw=='

KEY="$TMP/alice.near.json"
(umask 077 && printf '{"account_id":"alice.near","public_key":"%s","private_key":"%s"}\n' "$PUB" "$SECRET" >"$KEY")
chmod 600 "$KEY"

# run CMD...: runs nearft, leaves OUT, ERR, CODE.
run() {
    OUT=$("$NEARFT" "$@" 2>"$TMP/stderr")
    CODE=$?
    ERR=$(cat "$TMP/stderr")
    printf '%s\n%s\n' "$OUT" "$ERR" >>"$ALL_OUTPUT"
}
ok() {
    pass=$((pass + 1))
}
bad() {
    fail=$((fail + 1))
    echo "FAIL: $1" >&2
    echo "  exit=$CODE stdout=$OUT" >&2
    echo "  stderr=$ERR" >&2
}
# expect NAME CODE STDOUT_SUBSTRING STDERR_SUBSTRING -- ARGS...
expect() {
    local name=$1 code=$2 out_sub=$3 err_sub=$4
    shift 5
    run "$@"
    if [ "$CODE" != "$code" ]; then
        bad "$name: exit $CODE, want $code"
    elif [ -n "$out_sub" ] && [[ "$OUT" != *"$out_sub"* ]]; then
        bad "$name: stdout lacks $out_sub"
    elif [ -n "$err_sub" ] && [[ "$ERR" != *"$err_sub"* ]]; then
        bad "$name: stderr lacks $err_sub"
    elif [ "$code" != 0 ] && [ "$(printf '%s\n' "$ERR" | grep -c .)" != 1 ]; then
        bad "$name: want exactly one stderr line"
    else
        ok
    fi
}

SIGN=(tx sign --key-file "$KEY" --receiver usdt.tether-token.near --nonce 150000000000001
    --block-hash "$BLOCK")

# ---- version ----
run --version
if [ "$CODE" = 0 ] && [[ "$OUT" =~ ^nearft\ [0-9]+\.[0-9]+\.[0-9]+$ ]]; then ok; else bad "nearft --version"; fi

# ---- vector 1 ----
expect "vector 1 signed_tx_base64" 0 "\"signed_tx_base64\":\"$V1_B64\"" "" -- \
    "${SIGN[@]}" --ft-transfer bob.near:1000000 --gas-per-action 30000000000000
for field in "\"hash\":\"$V1_HASH\"" '"signer_id":"alice.near"' "\"public_key\":\"$PUB\"" \
    '"nonce":150000000000001' '"receiver_id":"usdt.tether-token.near"' '"actions":1'; do
    [[ "$OUT" == *"$field"* ]] && ok || bad "vector 1 output lacks $field"
done
[ "$(printf '%s' "$OUT" | grep -c .)" = 1 ] && ok || bad "vector 1: want one line of JSON"
# the default gas per action is 30 Tgas, and --flag=value works the same
expect "vector 1 default gas, --x=y form" 0 "\"signed_tx_base64\":\"$V1_B64\"" "" -- \
    tx sign --key-file="$KEY" --receiver=usdt.tether-token.near --nonce=150000000000001 \
    --block-hash="$BLOCK" --ft-transfer=bob.near:1000000
# the same legacy file found through --credentials DIR --signer
expect "vector 1 via --credentials (legacy layout)" 0 "\"signed_tx_base64\":\"$V1_B64\"" "" -- \
    tx sign --credentials "$TMP" --signer alice.near --receiver usdt.tether-token.near \
    --nonce 150000000000001 --block-hash "$BLOCK" --ft-transfer bob.near:1000000
# --signer overrides the key file's account (a different signer gives a different tx)
expect "--signer override" 0 '"signer_id":"carol.near"' "" -- \
    "${SIGN[@]}" --signer carol.near --ft-transfer bob.near:1000000
[[ "$OUT" != *"$V1_HASH"* ]] && ok || bad "--signer override kept the vector hash"
expect "--public-key equal to the file's" 0 "\"hash\":\"$V1_HASH\"" "" -- \
    "${SIGN[@]}" --public-key "$PUB" --ft-transfer bob.near:1000000
expect "nonce u64 max" 0 '"nonce":18446744073709551615' "" -- \
    tx sign --key-file "$KEY" --receiver usdt.tether-token.near --nonce 18446744073709551615 \
    --block-hash "$BLOCK" --transfer 1

# ---- decode ----
expect "decode vector 1" 0 '"signature_valid":true' "" -- tx decode "$V1_B64"
for field in "\"hash\":\"$V1_HASH\"" "\"signature\":\"$V1_SIG\"" '"nonce":150000000000001' \
    '"signer_id":"alice.near"' '"receiver_id":"usdt.tether-token.near"' '"method_name":"ft_transfer"' \
    '"gas":30000000000000' '"deposit":"1"' "\"public_key\":\"$PUB\""; do
    [[ "$OUT" == *"$field"* ]] && ok || bad "decode lacks $field"
done
expect "decode from stdin" 0 '"signature_valid":true' "" -- tx decode - <<<"$V1_B64"
# last signature byte 0x0b -> 0x0a: still canonical base64, the signature no longer verifies
expect "decode tampered signature" 0 '"signature_valid":false' "" -- tx decode "${V1_B64%Cw==}Cg=="
expect "decode bad base64" 1 "" "nearft: tx decode: not valid base64" -- tx decode 'Cg!!'
TRUNC=$(printf '%s' "$V1_B64" | base64 -d | head -c 150 | base64 -w0)
expect "decode truncated" 1 "" "nearft: tx decode: " -- tx decode "$TRUNC"
[[ "$ERR" != *base64* ]] && ok || bad "truncated tx reported as a base64 error"
TRAIL=$( (printf '%s' "$V1_B64" | base64 -d; printf 'x') | base64 -w0)
expect "decode trailing byte" 1 "" "nearft: tx decode: " -- tx decode "$TRAIL"
expect "decode empty" 1 "" "empty input" -- tx decode ""
expect "decode no argument" 2 "" "tx decode: expected exactly one argument" -- tx decode

# ---- usage errors (exit 2) ----
expect "bad nonce" 2 "" 'nearft: --nonce: "12x" is not a u64' -- \
    tx sign --key-file "$KEY" --receiver usdt.tether-token.near --nonce 12x --block-hash "$BLOCK" \
    --transfer 1
expect "nonce 2^64" 2 "" 'nearft: --nonce: "18446744073709551616" is not a u64' -- \
    tx sign --key-file "$KEY" --receiver usdt.tether-token.near --nonce 18446744073709551616 \
    --block-hash "$BLOCK" --transfer 1
expect "negative nonce" 2 "" '--nonce: "-1" is not a u64' -- \
    tx sign --key-file "$KEY" --receiver usdt.tether-token.near --nonce -1 --block-hash "$BLOCK" \
    --transfer 1
expect "short block hash" 2 "" '--block-hash: "11111111111111111111111111111" is not base58 of exactly 32 bytes' -- \
    tx sign --key-file "$KEY" --receiver usdt.tether-token.near --nonce 1 \
    --block-hash 11111111111111111111111111111 --transfer 1
expect "bad receiver" 2 "" '--receiver: "Usdt.near" is not a valid account id' -- \
    tx sign --key-file "$KEY" --receiver Usdt.near --nonce 1 --block-hash "$BLOCK" --transfer 1
expect "ft-transfer without amount" 2 "" 'nearft: --ft-transfer "bob.near": expected RECEIVER:AMOUNT[:MEMO]' -- \
    "${SIGN[@]}" --ft-transfer bob.near
expect "ft-transfer bad amount" 2 "" 'amount "1e6" is not a u128' -- \
    "${SIGN[@]}" --ft-transfer bob.near:1e6
expect "bad gas" 2 "" '--gas-per-action: "0" is not a u64' -- \
    "${SIGN[@]}" --ft-transfer bob.near:1 --gas-per-action 0
expect "no actions" 2 "" "tx sign: no actions" -- "${SIGN[@]}"
expect "missing nonce" 2 "" "tx sign: missing --nonce" -- \
    tx sign --key-file "$KEY" --receiver usdt.tether-token.near --block-hash "$BLOCK" --transfer 1
expect "no key" 2 "" "give exactly one of --key-file FILE or --credentials DIR" -- \
    tx sign --receiver usdt.tether-token.near --nonce 1 --block-hash "$BLOCK" --transfer 1
expect "nonce twice" 2 "" "--nonce given twice" -- "${SIGN[@]}" --nonce 2 --transfer 1
expect "unknown flag" 2 "" 'tx sign: unknown argument "--frobnicate"' -- \
    "${SIGN[@]}" --transfer 1 --frobnicate
expect "missing value" 2 "" "--transfer needs a value" -- "${SIGN[@]}" --transfer
expect "unknown command" 2 "" 'unknown command "frob"' -- tx frob
expect "missing subcommand" 2 "" "tx: missing subcommand" -- tx
expect "missing command" 2 "" "missing command" --
many=()
for _ in $(seq 1 100); do many+=(--ft-transfer bob.near:1); done
expect "100 actions" 0 '"actions":100' "" -- "${SIGN[@]}" "${many[@]}"
expect "101 actions" 2 "" "more than 100 actions" -- "${SIGN[@]}" "${many[@]}" --transfer 1

# ---- help (exit 0) ----
expect "help" 0 "usage: nearft" "" -- --help
expect "tx sign help" 0 "--ft-transfer RECEIVER:AMOUNT[:MEMO]" "" -- tx sign --help
expect "tx decode help" 0 "usage: nearft tx decode" "" -- tx decode --help
expect "keys new help" 0 "usage: nearft keys new" "" -- keys new --help

# ---- key files (exit 1) ----
cp "$KEY" "$TMP/open.json"
chmod 644 "$TMP/open.json"
expect "mode 0644 refused" 1 "" "nearft: --key-file: " -- \
    tx sign --key-file "$TMP/open.json" --receiver usdt.tether-token.near --nonce 1 \
    --block-hash "$BLOCK" --transfer 1
[[ "$ERR" == *open.json* ]] && ok || bad "mode 0644 message does not name the file"
expect "missing key file" 1 "" "nearft: --key-file: " -- \
    tx sign --key-file "$TMP/none.json" --receiver usdt.tether-token.near --nonce 1 \
    --block-hash "$BLOCK" --transfer 1
expect "--public-key differs from the file" 1 "" "--public-key: the key file holds $PUB" -- \
    "${SIGN[@]}" --public-key ed25519:586Z7H2vpX9qNhN2T4e9Utugie3ogjbxzGaMtM3E6HR5 --transfer 1

# ---- keys new + --credentials ----
# A directory that nearftd would refuse to read keys from is refused before a key is written.
mkdir -m 0777 "$TMP/open" && chmod 0777 "$TMP/open"
expect "keys new in a world-writable directory" 1 "" "writable by group or others" -- \
    keys new --account ops.near --out "$TMP/open"
[ -z "$(find "$TMP/open" -type f)" ] && ok || bad "keys new left a file in a refused directory"
CREDS="$TMP/creds"
expect "keys new" 0 '"account_id":"ops.near"' "" -- keys new --account ops.near --out "$CREDS"
FILE1=$(printf '%s' "$OUT" | sed -n 's/.*"path":"\([^"]*\)".*/\1/p')
PK1=$(printf '%s' "$OUT" | sed -n 's/.*"public_key":"\([^"]*\)".*/\1/p')
[ -f "$FILE1" ] && [ "$(stat -c %a "$FILE1")" = 600 ] && ok || bad "keys new file $FILE1 not 0600"
[[ "$FILE1" == "$CREDS/ops.near/ed25519_"*.json ]] && ok || bad "keys new path layout: $FILE1"
[[ "$OUT" != *private_key* ]] && ok || bad "keys new printed private_key"
expect "sign with --credentials" 0 "\"public_key\":\"$PK1\"" "" -- \
    tx sign --credentials "$CREDS" --signer ops.near --receiver usdt.tether-token.near --nonce 5 \
    --block-hash "$BLOCK" --ft-transfer bob.near:1
expect "keys new second key" 0 '"account_id":"ops.near"' "" -- keys new --account ops.near --out "$CREDS"
PK2=$(printf '%s' "$OUT" | sed -n 's/.*"public_key":"\([^"]*\)".*/\1/p')
expect "ambiguous credentials" 2 "" "choose one with --public-key" -- \
    tx sign --credentials "$CREDS" --signer ops.near --receiver usdt.tether-token.near --nonce 5 \
    --block-hash "$BLOCK" --ft-transfer bob.near:1
expect "credentials --public-key" 0 "\"public_key\":\"$PK2\"" "" -- \
    tx sign --credentials "$CREDS" --signer ops.near --public-key "$PK2" \
    --receiver usdt.tether-token.near --nonce 5 --block-hash "$BLOCK" --ft-transfer bob.near:1
expect "credentials unknown account" 1 "" "nearft: --credentials: " -- \
    tx sign --credentials "$CREDS" --signer nobody.near --receiver usdt.tether-token.near \
    --nonce 5 --block-hash "$BLOCK" --ft-transfer bob.near:1
expect "keys new implicit" 0 '"account_id":"' "" -- keys new --out "$CREDS"
IMPLICIT=$(printf '%s' "$OUT" | sed -n 's/.*"account_id":"\([0-9a-f]*\)".*/\1/p')
[ "${#IMPLICIT}" = 64 ] && ok || bad "implicit account id is not 64 hex: $IMPLICIT"
expect "keys new bad account" 2 "" '--account: "Bad" is not a valid account id' -- \
    keys new --account Bad --out "$CREDS"

# ---- auth add / list / remove (the nearftd token file) ----
TOK="$TMP/tokens"
expect "auth add" 0 "nft_" "" -- auth add --file "$TOK" --name ops --scopes transfer,read
T1=$OUT
[[ "$T1" =~ ^nft_[A-Za-z0-9_-]{43}$ ]] && ok || bad "auth add token shape: $T1"
[ "$(stat -c %a "$TOK")" = 600 ] && ok || bad "token file not created 0600"
H1=$(printf '%s' "$T1" | b2sum -l 256 | cut -d' ' -f1)
grep -q "^ops transfer,read $H1\$" "$TOK" && ok || bad "token file lacks ops' BLAKE2b-256 line"
grep -qF "$T1" "$TOK" && bad "token file holds the token itself" || ok
expect "auth add second" 0 "nft_" "" -- auth add --file "$TOK" --name scraper --scopes metrics
T2=$OUT
[ "$T1" != "$T2" ] && ok || bad "two adds gave the same token"
expect "auth add duplicate name" 1 "" "the name ops is already used" -- \
    auth add --file "$TOK" --name ops --scopes read
expect "auth add bad scope" 2 "" "unknown scope" -- auth add --file "$TOK" --name x --scopes admin
expect "auth add repeated scope" 2 "" "listed twice" -- auth add --file "$TOK" --name x --scopes read,read
expect "auth add bad name" 2 "" "--name" -- auth add --file "$TOK" --name 'a b' --scopes read
expect "auth add missing --scopes" 2 "" "missing --scopes" -- auth add --file "$TOK" --name x
expect "auth list" 0 "ops transfer,read" "" -- auth list --file "$TOK"
[[ "$OUT" == *"scraper metrics"* ]] && ok || bad "auth list lacks scraper"
[[ "$OUT" != *"$H1"* ]] && ok || bad "auth list prints hashes"
expect "auth remove" 0 "" "" -- auth remove --file "$TOK" --name ops
[ "$(stat -c %a "$TOK")" = 600 ] && ok || bad "token file not 0600 after remove"
expect "auth list after remove" 0 "scraper metrics" "" -- auth list --file "$TOK"
[[ "$OUT" != *ops* ]] && ok || bad "ops still listed after remove"
grep -q '^# nearftd bearer tokens' "$TOK" && ok || bad "remove dropped the comment lines"
expect "auth remove unknown" 1 "" "no token named ops" -- auth remove --file "$TOK" --name ops
chmod 644 "$TOK"
expect "auth add to a 0644 file" 1 "" "readable or writable by group or others" -- \
    auth add --file "$TOK" --name y --scopes read
expect "auth list of a 0644 file" 1 "" "chmod 600" -- auth list --file "$TOK"
chmod 600 "$TOK"
printf 'ok read %s\nbad line\n' "$H1" >>"$TOK"
expect "auth add to a malformed file" 1 "" "line 6: want NAME SCOPES HASH" -- \
    auth add --file "$TOK" --name z --scopes read

# Concurrent adds and removes lose nothing: each locks the file the path names when it holds
# the lock (a remove renames a new file over the path).
CON="$TMP/tokens-concurrent"
for i in $(seq 8); do "$NEARFT" auth add --file "$CON" --name "old$i" --scopes read >/dev/null; done
for i in $(seq 8); do
    "$NEARFT" auth add --file "$CON" --name "new$i" --scopes read >/dev/null &
    "$NEARFT" auth remove --file "$CON" --name "old$i" &
done
wait
run auth list --file "$CON"
[ "$(printf '%s\n' "$OUT" | grep -c '^new')" = 8 ] && ok || bad "concurrent adds lost: $OUT"
[ "$(printf '%s\n' "$OUT" | grep -c '^old')" = 0 ] && ok || bad "concurrent removes lost: $OUT"

# ---- no secret ever printed ----
for f in "$FILE1" "$KEY"; do
    s=$(sed -n 's/.*"private_key": *"ed25519:\([^"]*\)".*/\1/p' "$f")
    if [ -n "$s" ] && ! grep -qF "$s" "$ALL_OUTPUT"; then ok; else bad "secret of $f printed (or unreadable)"; fi
done

echo "nearft_cli: $pass passed, $fail failed"
[ "$fail" = 0 ]
