#!/usr/bin/env bash
# seed.sh: the seed service's Artillery benchmark replayed against nearftd's POST /send-ft on
# nearsim (realistic chain: 0.6 s blocks, default shard capacity). Artillery is pinned in
# perf/artillery/package.json + package-lock.json and installed there by this script if missing.
# Goal: every request 200, p99 < 1.5 s, nearsim's audit shows each transfer applied exactly once.
# Prints `name=value unit` lines and a plot (per 10 s Artillery period) into perf/out/.
# Usage: perf/seed.sh [short|full]   (short: 40 s; full: 60 s ramp + 10 min at 200/s + 30 s)
source "$(dirname "$0")/lib.sh"
variant=${1:-short}
profile=$NF_ROOT/perf/artillery/seed.yml
[ "$variant" = short ] && profile=$NF_ROOT/perf/artillery/seed-short.yml
nf_build
art=$NF_ROOT/perf/artillery/node_modules/.bin/artillery
if [ ! -x "$art" ]; then
    nf_say "installing artillery (pinned) under perf/artillery"
    (cd "$NF_ROOT/perf/artillery" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit \
        --no-fund --loglevel=error >/dev/null)
fi
nf_start_sim --block-ms 600 --keys 16 --wait-timeout-ms 30000
# shellcheck disable=SC2206
d_flags=(--batch-linger-ms 20 --wait-until INCLUDED ${NEARFTD_FLAGS:-})
nf_start_daemon "${d_flags[@]}"
nf_say "seed ($variant): $profile against POST /send-ft; nearftd ${d_flags[*]}"
before=$(nf_audit)
report=$NF_OUT/seed_$variant.json
(cd "$NF_ROOT/perf/artillery" && NEARFTD_PORT=$D_PORT SEED_TAG="seed$NF_STAMP" \
    ARTILLERY_DISABLE_TELEMETRY=true DO_NOT_TRACK=1 "$art" run --output "$report" "$profile" \
    >"$NF_TMP/artillery.log" 2>&1) &
art_pid=$!
NF_PIDS+=("$art_pid")
while kill -0 "$art_pid" 2>/dev/null; do # live progress from Artillery's 10 s summaries
    line=$(grep -E 'http.codes.200|http.response_time.p99|vusers.created:' "$NF_TMP/artillery.log" |
        tail -3 | awk '{printf "%s ", $0}' | tr -s ' .' ' ' || true)
    [ "${PROGRESS:-1}" = 1 ] && printf '\r[seed %s] %-110.110s' "$variant" "$line" >&2
    sleep 2
done
wait "$art_pid" || { tail -30 "$NF_TMP/artillery.log" >&2; exit 1; }
[ "${PROGRESS:-1}" = 1 ] && echo >&2
l=seed_$variant
jq -r --arg l "$l" '.aggregate as $a |
  "\($l)_requests=\($a.counters["http.requests"] // 0) requests",
  "\($l)_responses_200=\($a.counters["http.codes.200"] // 0) requests",
  "\($l)_responses_non200=\(($a.counters["http.responses"] // 0) - ($a.counters["http.codes.200"] // 0)) requests",
  "\($l)_vusers_failed=\($a.counters["vusers.failed"] // 0) users",
  "\($l)_requests_per_s=\($a.rates["http.request_rate"] // 0) req/s (last period)",
  "\($l)_latency_p50=\($a.summaries["http.response_time"].median) ms",
  "\($l)_latency_p95=\($a.summaries["http.response_time"].p95) ms",
  "\($l)_latency_p99=\($a.summaries["http.response_time"].p99) ms",
  "\($l)_latency_max=\($a.summaries["http.response_time"].max) ms"' "$report"
ok=$(jq '.aggregate.counters["http.codes.200"] // 0' "$report")
all=$(jq '.aggregate.counters["vusers.created"] // 0' "$report")
p99=$(jq '.aggregate.summaries["http.response_time"].p99' "$report")
nf_wait_settled 60
rc=0
nf_exactly_once "$l" "$ok" "$((all - ok))" "$before" || rc=1
if [ "$ok" = "$all" ] && awk -v p="$p99" 'BEGIN {exit !(p < 1500)}'; then
    echo "${l}_goal=met (every request 200, p99 < 1.5 s)"
else
    echo "${l}_goal=NOT met (200: $ok of $all, p99 $p99 ms)"
    rc=1
fi
echo "reference_node_sandbox=0.56 % success at 65 req/s, p95 47.6 s (docs/PEERS.md §1, 2025-10-10)"
jq -r '.intermediate | to_entries[] | "\((.key + 1) * 10) \((.value.counters["http.codes.200"] // 0) / 10) \((.value.counters["http.codes.200"] // 0) / 10) \(.value.summaries["http.response_time"].median // 0) \(.value.summaries["http.response_time"].p99 // 0) \((.value.counters["http.responses"] // 0) - (.value.counters["http.codes.200"] // 0))"' \
    "$report" >"$NF_OUT/$l.dat"
nf_plot "$NF_OUT/$l.png" "seed Artillery profile ($variant) on POST /send-ft" "$NF_OUT/$l.dat:send-ft"
exit $rc
