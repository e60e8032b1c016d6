#!/usr/bin/env bash
# bounty.sh: the bounty harness's shape (the Rust reference ran `hey -z 10m -c 1500 -q 5` against
# POST /transfer on testnet): 1,500 concurrent keep-alive clients on nearftd's Rust drop-in route
# POST /transfer {"receiver_id","amount","memo"}, which answers 200 {"tx_hash"} once the
# transfer executed. nearsim runs a realistic chain (0.6 s blocks, default shard capacity).
# Prints the reference's report (requests/s, p50/p95/p99, non-200 count), the audit and a plot.
# Usage: perf/bounty.sh [seconds=60] [clients=1500]   env: NF_BUILD, NF_NO_BUILD=1, NEARFTD_FLAGS
source "$(dirname "$0")/lib.sh"
secs=${1:-60}
clients=${2:-1500}
nf_build
nf_start_sim --block-ms 600 --keys 16 --wait-timeout-ms 30000
# shellcheck disable=SC2206
d_flags=(--inflight-per-key 32 --batch-linger-ms 20 --wait-timeout-ms 60000 ${NEARFTD_FLAGS:-})
nf_start_daemon "${d_flags[@]}"
nf_say "bounty: ${secs}s, $clients clients on POST /transfer; nearftd ${d_flags[*]}"
before=$(nf_audit)
series=$NF_OUT/bounty.dat
"$LOADGEN" --port "$D_PORT" --path /transfer --body rust --connections "$clients" \
    --duration "$secs" --drain 60 --tag "bounty$NF_STAMP" --series "$series" --label bounty \
    --progress "${PROGRESS:-1}" >"$NF_TMP/lg.out"
cat "$NF_TMP/lg.out"
nf_wait_settled 120
acc=$(awk -F'[= ]' '/^bounty_transfers_2xx=/ {print $2}' "$NF_TMP/lg.out")
unk=$(awk -F'[= ]' '/^bounty_transfers_unknown=/ {print $2}' "$NF_TMP/lg.out")
rc=0
nf_exactly_once bounty "$acc" "$unk" "$before" || rc=1
echo "reference_rust_requests_per_s=269.7 req/s (testnet, 10 min, hey -c 1500; docs/PEERS.md §2)"
echo "reference_rust_latency_p99=15570 ms"
echo "bounty_over_reference=$(awk -v r="$(awk -F'[= ]' '/^bounty_requests_per_s=/ {print $2}' "$NF_TMP/lg.out")" \
    'BEGIN {printf "%.1f", r / 269.7}')x requests/s"
nf_plot "$NF_OUT/bounty.png" "bounty shape: $clients clients on POST /transfer (0.6 s blocks)" \
    "$series:/transfer"
exit $rc
