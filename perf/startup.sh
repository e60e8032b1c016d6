#!/usr/bin/env bash
# startup.sh: how fast nearftd is ready and how fast it replays its log. For an empty data dir and
# for logs of 1 M and 10 M records (written by gen_wal as a long bulk run leaves them: ACCEPT,
# SIGNED, OUTCOME and JOB_FINAL records of 100-transfer transactions, every transfer settled), it
# starts nearftd against nearsim and prints `name=value unit` lines:
#   startup_<case>_exec_to_ready_ms     from exec to the "nearftd ready" line (includes the on-chain
#                                       checks against nearsim)
#   startup_<case>_checks_to_ready_ms   from "signer checked" to "nearftd ready" (log timestamps)
#   startup_<case>_replay_ms            the replay itself ("log replayed" replay_ms=)
#   startup_<case>_replay_records_per_s records / replay time
#   startup_<case>_rss_mb               resident memory once ready
# Each case runs RUNS times (default 3); the median is printed. Usage: perf/startup.sh
#   env: RUNS (3), CASES ("0 1000000 10000000"), NEARFTD_FLAGS, NF_BUILD, NF_NO_BUILD=1,
#        GEN_WAL (a gen_wal binary, to measure a build that has none)
source "$(dirname "$0")/lib.sh"
runs=${RUNS:-3}
cases=${CASES:-0 1000000 10000000}
nf_build
[ -n "${GEN_WAL:-}" ] || cmake --build "$NF_BUILD" -j2 --target gen_wal >/dev/null
GEN_WAL=${GEN_WAL:-$NF_BUILD/bin/gen_wal}
nf_start_sim --block-ms 100

# log_ms LINE-REGEX FILE: the ts= of the first matching log line, in ms since midnight UTC.
log_ms() {
    grep -m1 -E "$1" "$2" | grep -Eo 'ts=[0-9-]+T[0-9:.]+Z' |
        awk -F'[T:Z]' '{ printf "%d\n", ($2 * 3600 + $3 * 60 + $4) * 1000 }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

for n in $cases; do
    label=empty
    [ "$n" -gt 0 ] && label=$((n / 1000000))M
    seed=$NF_TMP/seed.$n
    rm -rf "$seed"
    mkdir -p "$seed"
    if [ "$n" -gt 0 ]; then
        "$GEN_WAL" "$seed" "$n" >"$NF_TMP/gen.$n.txt"
        nf_say "case $label: $(grep -Eo 'gen_wal_(records|bytes)=[0-9]+' "$NF_TMP/gen.$n.txt" | tr '\n' ' ')"
    fi
    : >"$NF_TMP/r.exec" && : >"$NF_TMP/r.checks" && : >"$NF_TMP/r.replay" && : >"$NF_TMP/r.rate" && : >"$NF_TMP/r.rss"
    for _ in $(seq "$runs"); do
        data=$NF_TMP/data
        rm -rf "$data"
        cp -r "$seed" "$data"
        log=$NF_TMP/nearftd.startup.log
        t0=$(date +%s%3N)
        # shellcheck disable=SC2086
        "$NEARFTD" --rpc-url "http://127.0.0.1:$SIM_PORT" --signer distributor.test.near \
            --credentials "$SIM_CREDS" --contract ft.test.near --listen 127.0.0.1:0 \
            --data-dir "$data" --log-level info ${NEARFTD_FLAGS:-} >"$log" 2>&1 &
        pid=$!
        NF_PIDS+=("$pid")
        until grep -q 'nearftd ready port=' "$log"; do
            kill -0 "$pid" 2>/dev/null || { nf_say "nearftd exited:"; tail -5 "$log" >&2; exit 1; }
            sleep 0.002
        done
        t1=$(date +%s%3N)
        echo $((t1 - t0)) >>"$NF_TMP/r.exec"
        echo $(($(log_ms 'msg="nearftd ready"' "$log") - $(log_ms 'msg="signer checked"' "$log"))) >>"$NF_TMP/r.checks"
        rms=$(grep -m1 -Eo 'replay_ms=[0-9]+' "$log" | cut -d= -f2 || true)
        # builds before replay_ms was logged: from "signer checked" to "log replayed"
        [ -n "$rms" ] || rms=$(($(log_ms 'msg="log replayed"' "$log") - $(log_ms 'msg="signer checked"' "$log")))
        recs=$(grep -m1 -Eo 'log replayed" records=[0-9]+' "$log" | grep -Eo '[0-9]+$')
        echo "$rms" >>"$NF_TMP/r.replay"
        if [ "$rms" -gt 0 ] && [ "$recs" -gt 0 ]; then echo $((recs * 1000 / rms)) >>"$NF_TMP/r.rate"; fi
        echo $(($(awk '/VmRSS/ { print $2 }' "/proc/$pid/status") / 1024)) >>"$NF_TMP/r.rss"
        nf_stop "$pid"
    done
    echo "startup_${label}_exec_to_ready_ms=$(median <"$NF_TMP/r.exec") ms"
    echo "startup_${label}_checks_to_ready_ms=$(median <"$NF_TMP/r.checks") ms"
    echo "startup_${label}_replay_ms=$(median <"$NF_TMP/r.replay") ms"
    [ -s "$NF_TMP/r.rate" ] && echo "startup_${label}_replay_records_per_s=$(median <"$NF_TMP/r.rate") records/s"
    echo "startup_${label}_rss_mb=$(median <"$NF_TMP/r.rss") MB"
    rm -rf "$seed" "$NF_TMP/data"
done
