#!/usr/bin/env bash
# e2e.sh: nearftd end to end on nearsim with chain capacity unbounded (huge --chunk-gas and
# --chunk-tx-gas, 1 Pgas per tx). loadgen posts transfers with unique memos and
# ?wait=executed, so each answer's latency is request -> executed on chain; it runs for
# DURATION seconds (60; SOAK=1 makes it 600), then nearsim's audit must show every accepted
# transfer applied exactly once. Prints `name=value unit` lines, the CPU seconds each process
# used, a /debug/stages snapshot taken mid-run (per-stage busy fraction: the bottleneck), and a
# plot of transfers/s and p99 per second into perf/out/.
# Usage: perf/e2e.sh [single|bulk]
#   env: DURATION (60), SOAK=1, CONNS (single 6000, bulk 128), BULK (1000), BLOCK_MS (100),
#        KEYS (16), WAIT (executed), LOADGEN_THREADS (1), NEARFTD_FLAGS (extra daemon flags),
#        NEARSIM_FLAGS, NF_BUILD, NF_NO_BUILD=1, NF_DAEMON_PREFIX (e.g. "taskset -c 0"),
#        PERF_RECORD=FILE (perf record nearftd for PERF_SECONDS=20 after 5 s; see profile.sh),
#        NF_AUTH=1 (nearftd --auth-tokens, every loadgen request carries a bearer token)
source "$(dirname "$0")/lib.sh"
mode=${1:-single}
duration=${DURATION:-60}
[ -n "${SOAK:-}" ] && duration=600
block_ms=${BLOCK_MS:-100}
keys=${KEYS:-16}
wait=${WAIT:-executed}
if [ "$mode" = bulk ]; then
    conns=${CONNS:-128} # measured: 99k/s at 128 vs 91k/s at 64 (64 leaves the box idle: in-flight bound)
    bulk=${BULK:-1000}
    mode_flags="--inflight-per-key 128 --rpc-connections 512" # measured: 39k vs 34k at 32
else
    conns=${CONNS:-6000}
    bulk=0
    mode_flags=""
fi
nf_build
nf_auth_setup
# shellcheck disable=SC2206
# The audit keeps one entry per memo: size its map for the run up front (doubling it mid-run stalls
# nearsim for up to a second per doubling: dips at 2 M and 4 M memos in 60 s bulk runs).
if [ "$mode" = bulk ]; then expect=$((duration * 130000)); else expect=$((duration * 40000)); fi
[ "$expect" -gt 80000000 ] && expect=80000000
expect_flag=()
"$NEARSIM" --help 2>&1 | grep -- --expect-memos >/dev/null && expect_flag=(--expect-memos "$expect") # older builds; no -q: see nf_start_daemon
sim_flags=(--block-ms "$block_ms" --keys "$keys" --chunk-gas 10000P --chunk-tx-gas 10000P
    --max-prepaid-gas 1P --wait-timeout-ms 30000 "${expect_flag[@]}" ${NEARSIM_FLAGS:-})
# shellcheck disable=SC2206
d_flags=(--inflight-per-key 32 --batch-linger-ms 5 --max-tx-gas 1000000000000000
    --rpc-connections 128 --wait-timeout-ms 60000 $mode_flags ${NEARFTD_FLAGS:-}
    "${NF_AUTH_FLAGS[@]}")
lg_auth=()
[ -n "$NF_AUTH_HEADER" ] && lg_auth=(--header "$NF_AUTH_HEADER")
nf_start_sim "${sim_flags[@]}"
nf_start_daemon "${d_flags[@]}"
label=e2e_$mode
nf_say "$label: ${duration}s, $conns connections, bulk=$bulk, wait=$wait"
nf_say "nearsim ${sim_flags[*]}"
nf_say "nearftd ${d_flags[*]}"
before=$(nf_audit)
cpu0=$(nf_cpu "$SIM_PID" "$D_PID")
series=$NF_OUT/$label.dat
q="?wait=$wait"
[ "$wait" = none ] && q=""
"$LOADGEN" --port "$D_PORT" --path "/v1/transfers$q" --connections "$conns" --bulk "$bulk" \
    --threads "${LOADGEN_THREADS:-1}" --duration "$duration" --drain 60 --tag "e2e$NF_STAMP" \
    --series "$series" --label "$label" --progress "${PROGRESS:-1}" "${lg_auth[@]}" >"$NF_TMP/lg.out" &
lg=$!
NF_PIDS+=("$lg")
if [ -n "${PERF_RECORD:-}" ]; then # perf/profile.sh: record nearftd after a warm-up
    sleep 5
    perf record -e cpu-clock -F "${PERF_FREQ:-499}" -g -p "$D_PID" -o "$PERF_RECORD" \
        -- sleep "${PERF_SECONDS:-20}" >/dev/null 2>"$NF_TMP/perf.err" || cat "$NF_TMP/perf.err" >&2
else
    sleep $((duration / 2))
fi
nf_stages >"$NF_OUT/$label.stages.json" || true
wait "$lg"
cpu1=$(nf_cpu "$SIM_PID" "$D_PID")
cat "$NF_TMP/lg.out"
nf_wait_settled 120
acc=$(awk -F'[= ]' "/^${label}_transfers_2xx=/ {print \$2}" "$NF_TMP/lg.out")
unk=$(awk -F'[= ]' "/^${label}_transfers_unknown=/ {print \$2}" "$NF_TMP/lg.out")
rc=0
nf_exactly_once "$label" "$acc" "$unk" "$before" || rc=1
read -r s0 d0 <<<"$cpu0"
read -r s1 d1 <<<"$cpu1"
echo "${label}_cpu_nearftd=$(awk -v a="$d0" -v b="$d1" -v t="$duration" 'BEGIN {printf "%.2f", (b - a) / t}') cores"
echo "${label}_cpu_nearsim=$(awk -v a="$s0" -v b="$s1" -v t="$duration" 'BEGIN {printf "%.2f", (b - a) / t}') cores"
echo "${label}_flags_nearftd=${d_flags[*]}"
echo "${label}_flags_nearsim=${sim_flags[*]}"
nf_stages_summary "$NF_OUT/$label.stages.json"
nf_plot "$NF_OUT/$label.png" "e2e $mode: transfers executed/s and p99 (request -> executed)" \
    "$series:$mode"
exit $rc
