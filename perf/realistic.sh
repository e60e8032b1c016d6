#!/usr/bin/env bash
# realistic.sh: nearsim as a realistic shard (0.6 s blocks, --chunk-gas 1P and --chunk-tx-gas 500T
# per docs/PROTOCOL.md §6, 300 Tgas per tx), offered load in steps from below to far above the
# shard's capacity (open loop, --rate). Requests use ?wait=executed, so latency is request ->
# executed. Shows (a) executed transfers/s levels off at what the simulated shard executes (the
# chain, not nearftd, is the limit: nearsim's own transfers/s and delayed receipts are printed),
# and (b) past capacity nearftd answers 503 with Retry-After once --queue-capacity transfers
# wait, so the latency of accepted transfers stays bounded instead of growing with the backlog.
# Usage: perf/realistic.sh [step_seconds=15] [rates="1000 2000 4000 8000 16000"]
#   env: QUEUE_CAPACITY (20000), CONNS (8000), NEARFTD_FLAGS, NF_BUILD, NF_NO_BUILD=1
source "$(dirname "$0")/lib.sh"
step=${1:-15}
rates=${2:-1000 2000 4000 8000 16000}
qcap=${QUEUE_CAPACITY:-20000}
conns=${CONNS:-8000}
nf_build
nf_start_sim --block-ms 600 --keys 16 --wait-timeout-ms 30000
# shellcheck disable=SC2206
d_flags=(--inflight-per-key 32 --batch-linger-ms 20 --queue-capacity "$qcap"
    --wait-timeout-ms 60000 ${NEARFTD_FLAGS:-})
nf_start_daemon "${d_flags[@]}"
nf_say "realistic: steps of ${step}s at offered rates $rates; nearftd ${d_flags[*]}"
before=$(nf_audit)
all=$NF_OUT/realistic.dat
sim_series=$NF_OUT/realistic_chain.dat
echo "# t_s requests_per_s transfers_per_s p50_ms p99_ms non2xx" >"$all"
echo "# t_s chain_transfers_per_s delayed_receipts" >"$sim_series"
acc=0
unk=0
t=0
( # nearsim's own executed transfers/s, once a second
    prev=$(curl -sf "http://127.0.0.1:$SIM_PORT/sim/audit" | jq .transfers_applied)
    i=0
    while sleep 1; do
        i=$((i + 1))
        cur=$(curl -sf "http://127.0.0.1:$SIM_PORT/sim/audit" | jq .transfers_applied) || break
        dr=$(curl -sf "http://127.0.0.1:$SIM_PORT/sim/stats" | jq .delayed_receipts) || break
        echo "$i $((cur - prev)) $dr" >>"$sim_series"
        prev=$cur
    done
) &
sampler=$!
NF_PIDS+=("$sampler")
for r in $rates; do
    "$LOADGEN" --port "$D_PORT" --path "/v1/transfers?wait=executed" --connections "$conns" \
        --rate "$r" --duration "$step" --drain 10 --tag "real$NF_STAMP-$r" \
        --series "$NF_TMP/step.dat" --label "offered_$r" --progress "${PROGRESS:-1}" \
        >"$NF_TMP/step.out"
    grep -E '_(requests_per_s|transfers_per_s|latency_p50|latency_p99|requests_503|requests_503_without_retry_after)=' "$NF_TMP/step.out"
    awk -v off="$t" '!/^#/ && $1 <= '"$step"' {$1 += off; print}' "$NF_TMP/step.dat" >>"$all"
    acc=$((acc + $(awk -F'[= ]' '/_transfers_2xx=/ {print $2}' "$NF_TMP/step.out")))
    unk=$((unk + $(awk -F'[= ]' '/_transfers_unknown=/ {print $2}' "$NF_TMP/step.out")))
    nf_stages >"$NF_OUT/realistic_$r.stages.json" || true
    t=$((t + step))
done
kill "$sampler" 2>/dev/null || true
nf_wait_settled 120
echo "chain_transfers_per_s_max=$(awk '!/^#/ {if ($2 > m) m = $2} END {print m + 0}' "$sim_series") transfers/s (nearsim, best second)"
echo "chain_delayed_receipts_max=$(awk '!/^#/ {if ($3 > m) m = $3} END {print m + 0}' "$sim_series") receipts"
nf_exactly_once realistic "$acc" "$unk" "$before" || true
nf_stages_summary "$NF_OUT/realistic_${rates##* }.stages.json"
nf_plot "$NF_OUT/realistic.png" "realistic shard (0.6 s blocks, 1 Pgas chunks): offered $rates /s" \
    "$all:nearftd"
