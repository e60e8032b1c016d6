#!/usr/bin/env bash
# cluster.sh: cluster mode (--cluster, the log on NATS JetStream with 3 replicas) against the
# single-host local log, in one run on one box: three nats-server processes on 127.0.0.1 form a
# JetStream cluster; the same load (loadgen, single-transfer POSTs with unique memos and
# ?wait=executed, as perf/e2e.sh) runs for DURATION seconds against nearftd with the local log,
# then against nearftd with --cluster; nearsim's audit must show every accepted transfer applied
# exactly once in both. Then a standby instance (another data directory: another host) is
# started beside the first cluster instance, which is then killed (SIGKILL) while a second load
# runs against it (FAILOVER_LOAD=1, the default; 0: killed idle): the times from the kill to the
# standby's ready line and to its first executed transfer are the failover time (lease expiry,
# --cluster-lease-ms, the tail of the stream, and the transactions the dead holder left in flight,
# reconciled by hash; their count is printed), and that load too must be applied exactly once.
# The mode `relay` runs the cluster load through a standby's address (its relay passes every
# connection to the holder): the cost of taking transfers at any instance. The mode `secret` is `cluster` with
# --cluster-secret-file (every log message authenticated). Prints `name=value unit` lines.
# Usage: perf/cluster.sh
#   env: DURATION (20), CONNS (2000), BLOCK_MS (100), KEYS (16), NATS_SERVER (nats-server),
#        FAILOVER_LOAD (1),
#        MODES ("single_host cluster relay single_host cluster relay": runs alternate so that a busy box
#        weighs on both; the figures per mode are the best of its runs), NF_BUILD, NF_NO_BUILD=1
source "$(dirname "$0")/lib.sh"
duration=${DURATION:-20}
conns=${CONNS:-2000}
block_ms=${BLOCK_MS:-100}
keys=${KEYS:-16}
nats=${NATS_SERVER:-$(command -v nats-server || echo /usr/sbin/nats-server)}
[ -x "$nats" ] || { nf_say "nats-server not found (scripts/install-deps.sh installs it)"; exit 2; }
nf_build
nf_deps jq

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Three JetStream nodes, one cluster.
cl=() rt=() mon=()
for i in 0 1 2; do cl+=("$(free_port)"); rt+=("$(free_port)"); mon+=("$(free_port)"); done
urls=""
for i in 0 1 2; do
    routes=""
    for k in 0 1 2; do [ "$k" != "$i" ] && routes="$routes,nats://127.0.0.1:${rt[$k]}"; done
    mkdir -p "$NF_TMP/nats-$i"
    "$nats" -a 127.0.0.1 -p "${cl[$i]}" -m "${mon[$i]}" -js -sd "$NF_TMP/nats-$i" -n "n$i" \
        --cluster_name nfperf --cluster "nats://127.0.0.1:${rt[$i]}" --routes "${routes#,}" \
        >"$NF_TMP/nats-$i.log" 2>&1 &
    NF_PIDS+=("$!")
    urls="$urls,nats://127.0.0.1:${cl[$i]}"
done
urls=${urls#,}
for _ in $(seq 300); do # ready: every node sees a meta leader of a 3-node cluster
    ok=0
    for i in 0 1 2; do
        curl -sf "http://127.0.0.1:${mon[$i]}/jsz" | jq -e '.meta_cluster.leader != null and
            .meta_cluster.cluster_size == 3' >/dev/null 2>&1 && ok=$((ok + 1))
    done
    [ "$ok" = 3 ] && break
    sleep 0.1
done
[ "$ok" = 3 ] || { nf_say "the NATS cluster did not form"; exit 1; }

sim_flags=(--block-ms "$block_ms" --keys "$keys" --chunk-gas 10000P --chunk-tx-gas 10000P
    --max-prepaid-gas 1P --wait-timeout-ms 30000)
d_flags=(--inflight-per-key 32 --batch-linger-ms 5 --max-tx-gas 1000000000000000
    --rpc-connections 128 --wait-timeout-ms 60000)
nf_start_sim "${sim_flags[@]}"
nf_say "nearsim ${sim_flags[*]}"
nf_say "nearftd ${d_flags[*]}; cluster: --cluster $urls (3 replicas)"
# start_standby DATA_DIR LISTEN LOG [FLAGS...]: another cluster instance (another host) on the
# current run's stream, in the background; sets S_PID.
start_standby() {
    local dir=$1 listen=$2 log=$3
    shift 3
    "$NEARFTD" --rpc-url "http://127.0.0.1:$SIM_PORT" --signer distributor.test.near \
        --credentials "$SIM_CREDS" --contract ft.test.near --listen "$listen" --data-dir "$dir" \
        "$@" "${d_flags[@]}" "${extra[@]}" >"$log" 2>&1 &
    S_PID=$!
    NF_PIDS+=("$S_PID")
}
rc=0
declare -A tps p99
run=0
for mode in ${MODES:-single_host cluster relay single_host cluster relay}; do
    run=$((run + 1))
    extra=()
    [ "$mode" != single_host ] && extra=(--cluster "$urls" --cluster-stream "PERF${NF_STAMP}_$run")
    case "$mode" in cluster | relay) extra+=(--cluster-allow-unauthenticated) ;; esac
    if [ "$mode" = secret ]; then
        [ -f "$NF_TMP/cluster.secret" ] || (umask 077 && head -c 32 /dev/urandom >"$NF_TMP/cluster.secret")
        extra+=(--cluster-secret-file "$NF_TMP/cluster.secret")
    fi
    nf_start_daemon "${d_flags[@]}" "${extra[@]}"
    label=cluster_${mode}_$run
    port=$D_PORT
    if [ "$mode" = relay ]; then
        # A standby on another data directory (another host) relays its address to the holder.
        port=$(free_port)
        start_standby "$NF_TMP/relay.$run" "127.0.0.1:$port" "$NF_TMP/relay.$run.log" --log-level warn
        R_PID=$S_PID
        nf_wait_line "$NF_TMP/relay.$run.log" 'nearftd relay port=[0-9]+' 60 >/dev/null
        for _ in $(seq 600); do # the holder's advertised address reached the standby
            [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health")" = 200 ] && break
            sleep 0.1
        done
    fi
    before=$(nf_audit)
    "$LOADGEN" --port "$port" --path "/v1/transfers?wait=executed" --connections "$conns" \
        --duration "$duration" --drain 60 --tag "cl$mode$run$NF_STAMP" --label "$label" \
        --progress 0 >"$NF_TMP/lg.$mode.out"
    nf_wait_settled 120
    grep -E "^${label}_(transfers_per_s|latency_p50|latency_p99|transfers_2xx|requests_503)=" \
        "$NF_TMP/lg.$mode.out"
    acc=$(awk -F'[= ]' "/^${label}_transfers_2xx=/ {print \$2}" "$NF_TMP/lg.$mode.out")
    unk=$(awk -F'[= ]' "/^${label}_transfers_unknown=/ {print \$2}" "$NF_TMP/lg.$mode.out")
    nf_exactly_once "$label" "$acc" "$unk" "$before" || rc=1
    t=$(awk -F'[= ]' "/^${label}_transfers_per_s=/ {print \$2}" "$NF_TMP/lg.$mode.out")
    p=$(awk -F'[= ]' "/^${label}_latency_p99=/ {print \$2}" "$NF_TMP/lg.$mode.out")
    if [ -z "${tps[$mode]:-}" ] || awk -v a="$t" -v b="${tps[$mode]}" 'BEGIN {exit !(a > b)}'; then tps[$mode]=$t; p99[$mode]=$p; fi
    if [ "$mode" = cluster ] && [ -z "${takeover_done:-}" ]; then
        takeover_done=1
        # Failover: a standby (another data directory: another host) waits for the log's lease;
        # kill -9 the active instance; the standby takes the lease when it expires
        # (--cluster-lease-ms), replays the stream and serves.
        active=$D_PID
        per_ip=()
        if "$NEARFTD" --help 2>&1 | grep -- '--max-conns-per-ip' >/dev/null; then per_ip=(--max-conns-per-ip 0); fi
        start_standby "$NF_TMP/standby" 127.0.0.1:0 "$NF_TMP/standby.log" "${per_ip[@]}"
        D_PID=$S_PID
        nf_wait_line "$NF_TMP/standby.log" 'standby: the log lease is held' 60 >/dev/null
        # FAILOVER_LOAD=1 (default): transfers keep coming at the holder until the kill, so the
        # standby takes over transactions in flight (signed, not final) and reconciles them by
        # hash before their keys sign again; 0: the holder is idle when it is killed.
        if [ "${FAILOVER_LOAD:-1}" = 1 ]; then
            fo_before=$(nf_audit)
            "$LOADGEN" --port "$port" --path /v1/transfers --connections 200 --duration 120 \
                --drain 5 --tag "clfo$NF_STAMP" --label cluster_failover_load --progress 0 \
                >"$NF_TMP/lg.failover.out" &
            lg_pid=$!
            sleep 3
        fi
        t0=$(date +%s%N)
        kill -9 "$active"
        [ "${FAILOVER_LOAD:-1}" = 1 ] && kill -TERM "$lg_pid"
        D_PORT=$(nf_wait_line "$NF_TMP/standby.log" 'nearftd ready.*port=[0-9]+' 60 |
            grep -Eo 'port=[0-9]+' | cut -d= -f2)
        t1=$(date +%s%N)
        for _ in $(seq 600); do
            code=$(curl -s -o /dev/null -w '%{http_code}' -XPOST -H 'content-type: application/json' \
                -d "{\"receiver_id\":\"user-1.test.near\",\"amount\":\"1\",\"memo\":\"takeover$NF_STAMP\"}" \
                "http://127.0.0.1:$D_PORT/v1/transfers?wait=executed") || true
            [ "$code" = 200 ] || [ "$code" = 202 ] && break
            sleep 0.05
        done
        t2=$(date +%s%N)
        echo "cluster_failover_ready_ms=$(((t1 - t0) / 1000000)) ms"
        echo "cluster_failover_first_executed_ms=$(((t2 - t0) / 1000000)) ms"
        if [ "${FAILOVER_LOAD:-1}" = 1 ]; then
            wait "$lg_pid" || true
            nf_wait_settled 120
            unresolved=$(grep -Eo 'unresolved_txs=[0-9]+' "$NF_TMP/standby.log" | tail -1 | cut -d= -f2)
            echo "cluster_failover_unresolved_txs=${unresolved:-?} transactions"
            acc=$(awk -F'[= ]' '/^cluster_failover_load_transfers_2xx=/ {print $2}' "$NF_TMP/lg.failover.out")
            unk=$(awk -F'[= ]' '/^cluster_failover_load_transfers_unknown=/ {print $2}' "$NF_TMP/lg.failover.out")
            # + 1: the transfer that timed "first executed" is applied too.
            nf_exactly_once cluster_failover_load "$((acc + 1))" "$unk" "$fo_before" || rc=1
        fi
    fi
    [ "$mode" = relay ] && nf_stop "$R_PID"
    nf_stop "$D_PID"
done
for m in single_host cluster secret; do
    if [ -n "${tps[$m]:-}" ]; then
        echo "cluster_best_${m}_transfers_per_s=${tps[$m]} transfers/s (p99 ${p99[$m]} ms)"
    fi
done
if [ -n "${tps[cluster]:-}" ] && [ -n "${tps[single_host]:-}" ]; then
    echo "cluster_vs_single_host_transfers=$(awk -v a="${tps[cluster]}" -v b="${tps[single_host]}" \
        'BEGIN {printf "%.2f", a / b}') ratio"
fi
if [ -n "${tps[secret]:-}" ] && [ -n "${tps[cluster]:-}" ]; then
    echo "cluster_secret_vs_cluster_transfers=$(awk -v a="${tps[secret]}" -v b="${tps[cluster]}" \
        'BEGIN {printf "%.2f", a / b}') ratio"
fi
if [ -n "${tps[relay]:-}" ]; then
    echo "cluster_best_relay_transfers_per_s=${tps[relay]} transfers/s (p99 ${p99[relay]} ms)"
    echo "cluster_relay_vs_cluster_transfers=$(awk -v a="${tps[relay]}" -v b="${tps[cluster]:-0}" \
        'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}') ratio"
fi
echo "cluster_flags_nearftd=${d_flags[*]} --cluster <3 nodes>"
echo "cluster_flags_nearsim=${sim_flags[*]}"
echo "cluster_connections=$conns"
exit $rc
