#!/usr/bin/env bash
# ingest_ceiling.sh: nearftd's accept path against the bare evhttp `ceiling` server, loaded by wrk
# with identical settings (same Lua script, same unique-memo bodies, same threads/connections).
# nearftd runs the real pipeline on nearsim (chain capacity unbounded) with the durable log on:
# once with --fsync always (the default, the figure that counts) and once with --fsync off
# (labelled as such). Rounds alternate ceiling / always / off in short slices so machine noise
# hits all three alike; after each nearftd slice the pipeline is drained before the next slice.
# Prints `name=value unit` lines, the ratios (goal >= 0.70) and a plot in perf/out/.
# Usage: perf/ingest_ceiling.sh [rounds=5] [slice_seconds=3] [connections=64] [wrk_threads=1]
#        env: NF_BUILD, NF_NO_BUILD=1, INGEST_THREADS (nearftd and ceiling threads, default 2),
#             NEARFTD_FLAGS (extra flags for both nearftd instances)
source "$(dirname "$0")/lib.sh"
rounds=${1:-5}
secs=${2:-3}
conns=${3:-64}
wthreads=${4:-1}
ithreads=${INGEST_THREADS:-2}
nf_deps wrk
nf_build

nf_say "ingest_ceiling: $rounds rounds x $secs s, wrk -t$wthreads -c$conns, $ithreads ingest threads"
cport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$CEILING" --listen 127.0.0.1:$cport --threads "$ithreads" >"$NF_TMP/ceiling.log" 2>&1 &
NF_PIDS+=($!)
nf_start_sim --block-ms 100 --keys 16 --chunk-gas 10000P --chunk-tx-gas 10000P --max-prepaid-gas 1P
# shellcheck disable=SC2206
common=(--ingest-threads "$ithreads" --inflight-per-key 32 --batch-linger-ms 5
    --max-tx-gas 1000000000000000 ${NEARFTD_FLAGS:-})
nf_start_daemon "${common[@]}" --fsync always
aport=$D_PORT
nf_start_daemon "${common[@]}" --fsync off
oport=$D_PORT
for p in $cport; do
    for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$p/" && break; sleep 0.1; done
done

settle() { # port: waits until that daemon has nothing queued and nearsim nothing pending
    local D_PORT=$1
    nf_wait_settled 60
}

declare -A series=([ceiling]=$NF_OUT/ingest_ceiling_ceiling.dat [always]=$NF_OUT/ingest_ceiling_fsync_always.dat
    [off]=$NF_OUT/ingest_ceiling_fsync_off.dat)
for k in "${!series[@]}"; do echo "# t_s requests_per_s transfers_per_s p50_ms p99_ms non2xx" >"${series[$k]}"; done
before=$(nf_audit)
acc=0
slice() { # name port round
    local out
    out=$(WRK_LABEL=s wrk -t"$wthreads" -c"$conns" -d"${secs}s" -s "$NF_ROOT/perf/wrk/post.lua" \
        "http://127.0.0.1:$2/v1/transfers" -- body=native tag="ic$NF_STAMP$1$3")
    local rps p50 p99 n non
    rps=$(awk -F'[= ]' '/^s_requests_per_s=/ {print $2}' <<<"$out")
    n=$(awk -F'[= ]' '/^s_requests=/ {print $2}' <<<"$out")
    p50=$(awk -F'[= ]' '/^s_latency_p50=/ {print $2}' <<<"$out")
    p99=$(awk -F'[= ]' '/^s_latency_p99=/ {print $2}' <<<"$out")
    non=$(awk -F'[= ]' '/^s_non2xx=/ {print $2}' <<<"$out")
    echo "$(($3 * secs)) $rps $rps $p50 $p99 $non" >>"${series[$1]}"
    echo "$1 $rps $p99 $non $n" >>"$NF_TMP/slices"
    printf '\r[ingest_ceiling] round %d/%d  %-8s %8s req/s  p99 %s ms  non2xx %s      ' \
        "$3" "$rounds" "$1" "$rps" "$p99" "$non" >&2
    [ "$1" = ceiling ] || acc=$((acc + n - non))
}
for r in $(seq "$rounds"); do
    slice ceiling $cport "$r"
    slice always $aport "$r"
    settle $aport
    slice off $oport "$r"
    settle $oport
done
echo >&2
median() { awk -v k="$1" -v c="$2" '$1 == k {print $c}' "$NF_TMP/slices" | sort -n |
    awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
c=$(median ceiling 2)
a=$(median always 2)
o=$(median off 2)
echo "machine=$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "wrk_settings=-t$wthreads -c$conns ${secs}s x $rounds slices (median)"
echo "ceiling_requests_per_s=$c req/s"
echo "nearftd_fsync_always_requests_per_s=$a req/s"
echo "nearftd_fsync_off_requests_per_s=$o req/s"
echo "ceiling_p99=$(median ceiling 3) ms"
echo "nearftd_fsync_always_p99=$(median always 3) ms"
echo "nearftd_fsync_off_p99=$(median off 3) ms"
echo "nearftd_non2xx=$(awk '$1 != "ceiling" {s += $4} END {print s + 0}' "$NF_TMP/slices") requests"
echo "ratio_fsync_always=$(awk -v a="$a" -v b="$c" 'BEGIN {printf "%.2f", a / b}') of ceiling (goal 0.70)"
echo "ratio_fsync_off=$(awk -v a="$o" -v b="$c" 'BEGIN {printf "%.2f", a / b}') of ceiling (fsync off: tests only)"
D_PORT=$aport nf_wait_settled 60
# wrk counts only answered requests: up to $conns per nearftd slice were in flight at its end
nf_exactly_once ingest "$acc" $((conns * 2 * rounds)) "$before" || true
nf_plot "$NF_OUT/ingest_ceiling.png" "ingest vs ceiling (wrk -c$conns, per ${secs}s slice)" \
    "${series[ceiling]}:ceiling" "${series[always]}:nearftd fsync=always" "${series[off]}:nearftd fsync=off"
