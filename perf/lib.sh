# perf/lib.sh: shared helpers of the perf/ harness scripts (sourced, not run). Finds or builds the
# binaries, installs missing tools, starts nearsim and nearftd on free 127.0.0.1 ports in a temp
# dir, stops exactly the processes it started, reads nearsim's audit, and draws the plots.
# Environment: NF_BUILD (build dir, default <repo>/build), NF_OUT (default <repo>/perf/out),
# NF_AUTH=1 (nf_auth_setup: nearftd runs with --auth-tokens and every request carries a token).
set -euo pipefail
NF_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NF_BUILD=${NF_BUILD:-$NF_ROOT/build}
NF_OUT=${NF_OUT:-$NF_ROOT/perf/out}
mkdir -p "$NF_OUT"
NF_TMP=$(mktemp -d /tmp/nf-perf.XXXXXX)
NF_PIDS=()
NF_STAMP=$(date -u +%Y%m%dT%H%M%SZ)

nf_cleanup() {
    local p
    for p in "${NF_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${NF_PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null || true
    done
    [ -n "${NF_KEEP_TMP:-}" ] || rm -rf "$NF_TMP"
}
trap nf_cleanup EXIT
trap 'exit 130' INT TERM

nf_say() { printf '%s\n' "$*" >&2; }

# nf_deps TOOL...: installs missing Debian packages (as root, through apt-get) for the tools named.
nf_deps() {
    local missing=() t pkg
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 && continue
        case $t in
        gnuplot) pkg=gnuplot-nox ;;
        perf) pkg=linux-perf ;;
        cmake) pkg=cmake ;;
        *) pkg=$t ;;
        esac
        missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    nf_say "installing: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq >/dev/null && $sudo env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq "${missing[@]}" >/dev/null
}

# nf_build: configures and builds the binaries the harness runs, if any is missing or stale.
nf_build() {
    nf_deps cmake curl jq gnuplot
    NEARFTD=$NF_BUILD/bin/nearftd
    NEARSIM=$NF_BUILD/bin/nearsim
    LOADGEN=$NF_BUILD/bin/loadgen
    CEILING=$NF_BUILD/bin/ceiling
    NEARFT=$NF_BUILD/bin/nearft
    # NF_NO_BUILD=1: use the binaries already in NF_BUILD as they are
    if [ -n "${NF_NO_BUILD:-}" ] && [ -x "$NEARFTD" ] && [ -x "$NEARSIM" ] && [ -x "$LOADGEN" ] &&
        [ -x "$CEILING" ] && [ -x "$NEARFT" ]; then
        return 0
    fi
    if [ ! -f "$NF_BUILD/CMakeCache.txt" ]; then
        cmake -S "$NF_ROOT" -B "$NF_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    fi
    cmake --build "$NF_BUILD" -j2 --target nearftd nearsim loadgen ceiling nearft >/dev/null
}

# nf_auth_setup: with NF_AUTH=1, makes a token file with one token of every scope (nearft auth
# add) and sets NF_AUTH_FLAGS (for nearftd), NF_AUTH_HEADER ("Authorization: Bearer ...", for
# loadgen --header) and NF_CURL_AUTH (curl arguments for the harness's own /metrics and
# /debug/stages reads). Without NF_AUTH all three are empty.
NF_AUTH_FLAGS=()
NF_AUTH_HEADER=""
NF_CURL_AUTH=()
nf_auth_setup() {
    [ -n "${NF_AUTH:-}" ] && [ "${NF_AUTH}" != 0 ] || return 0
    local tok
    tok=$("$NEARFT" auth add --file "$NF_TMP/tokens" --name perf --scopes transfer,read,metrics)
    NF_AUTH_FLAGS=(--auth-tokens "$NF_TMP/tokens")
    NF_AUTH_HEADER="Authorization: Bearer $tok"
    NF_CURL_AUTH=(-H "$NF_AUTH_HEADER")
}

# nf_wait_line FILE REGEX [SECONDS]: waits for a line in a log; prints the first match.
nf_wait_line() {
    local i
    for i in $(seq $((${3:-20} * 10))); do
        if grep -Eo "$2" "$1" 2>/dev/null | head -1 | grep .; then return 0; fi
        sleep 0.1
    done
    nf_say "timed out waiting for /$2/ in $1:"
    tail -20 "$1" >&2
    return 1
}

# nf_start_sim ARGS...: starts nearsim; sets SIM_PORT, SIM_PID, SIM_CREDS.
nf_start_sim() {
    SIM_CREDS=$NF_TMP/creds
    rm -rf "$SIM_CREDS"
    "$NEARSIM" --listen 127.0.0.1:0 --credentials-out "$SIM_CREDS" --seed perf "$@" \
        >"$NF_TMP/nearsim.log" 2>&1 &
    SIM_PID=$!
    NF_PIDS+=("$SIM_PID")
    SIM_PORT=$(nf_wait_line "$NF_TMP/nearsim.log" 'listening=127\.0\.0\.1:[0-9]+' | cut -d: -f2)
}

# nf_start_daemon ARGS...: starts nearftd against the running nearsim with a fresh data dir;
# sets D_PORT, D_PID. NF_DAEMON_PREFIX (e.g. "taskset -c 0") is put in front of the command.
nf_start_daemon() {
    local data=$NF_TMP/data.$RANDOM
    # Every load generator connects from 127.0.0.1: lift the per-address connection cap (on
    # builds that have one; e2e single holds 6,000 connections).
    local per_ip=()
    # grep without -q reads all of --help: with -q it may exit first, nearftd then dies of SIGPIPE
    # and pipefail turns the match into a failure (the cap then stayed on, at random).
    if "$NEARFTD" --help 2>&1 | grep -- '--max-conns-per-ip' >/dev/null; then per_ip=(--max-conns-per-ip 0); fi
    # shellcheck disable=SC2086
    ${NF_DAEMON_PREFIX:-} "$NEARFTD" --rpc-url "http://127.0.0.1:$SIM_PORT" \
        --signer distributor.test.near --credentials "$SIM_CREDS" --contract ft.test.near \
        --listen 127.0.0.1:0 --data-dir "$data" --log-level warn "${per_ip[@]}" "$@" >"$NF_TMP/nearftd.log" 2>&1 &
    D_PID=$!
    NF_PIDS+=("$D_PID")
    D_PORT=$(nf_wait_line "$NF_TMP/nearftd.log" 'nearftd ready.*port=[0-9]+' 30 |
        grep -Eo 'port=[0-9]+' | cut -d= -f2)
}

# nf_stop PID: stops one process this script started.
nf_stop() {
    kill "$1" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$1" 2>/dev/null || true
}

nf_audit() { curl -sf "http://127.0.0.1:$SIM_PORT/sim/audit"; }
nf_stages() { curl -sf "${NF_CURL_AUTH[@]}" "http://127.0.0.1:$D_PORT/debug/stages"; }

# nf_wait_settled SECONDS: waits until nearsim has nothing pending and nearftd nothing queued.
nf_wait_settled() {
    local i a q
    for i in $(seq $((${1:-60} * 5))); do
        a=$(curl -sf "http://127.0.0.1:$SIM_PORT/sim/stats" | jq '.pool + .delayed_receipts')
        q=$(curl -sf "${NF_CURL_AUTH[@]}" "http://127.0.0.1:$D_PORT/metrics" |
            awk '/^nearft_queue_depth/ {s += $2} END {print s + 0}')
        [ "$a" = 0 ] && [ "$q" = 0 ] && return 0
        sleep 0.2
    done
    nf_say "warning: not settled after ${1:-60} s (pool+delayed=$a queued=$q)"
}

# nf_exactly_once LABEL ACCEPTED UNKNOWN BEFORE_JSON: compares nearsim's audit with what the
# client saw accepted; prints the audit lines; returns 1 on a double application or a loss.
nf_exactly_once() {
    local label=$1 acc=$2 unk=$3 before=$4 after applied dups distinct
    after=$(nf_audit)
    applied=$(($(jq .transfers_applied <<<"$after") - $(jq .transfers_applied <<<"$before")))
    dups=$(jq .duplicate_memo_count <<<"$after")
    distinct=$(($(jq .memos_distinct <<<"$after") - $(jq .memos_distinct <<<"$before")))
    echo "${label}_audit_applied=$applied transfers"
    echo "${label}_audit_duplicate_memos=$dups memos"
    echo "${label}_audit_distinct_memos=$distinct memos"
    if [ "$dups" = 0 ] && [ "$applied" -ge "$acc" ] && [ "$applied" -le $((acc + unk)) ] &&
        [ "$distinct" = "$applied" ]; then
        echo "${label}_exactly_once=yes"
    else
        echo "${label}_exactly_once=NO (accepted=$acc unknown=$unk applied=$applied dups=$dups)"
        return 1
    fi
}

# nf_plot PNG TITLE SERIES:LABEL...: transfers/s (left axis) and p99 ms (right axis) over time from
# loadgen series files; writes the PNG and prints a small text version of the same plot.
nf_plot() {
    local png=$1 title=$2 spec f l plots="" dplots=""
    shift 2
    for spec in "$@"; do
        f=${spec%%:*}
        l=${spec#*:}
        [ -s "$f" ] || continue
        plots+="'$f' using 1:3 with lines lw 2 title '$l transfers/s' axes x1y1, "
        plots+="'$f' using 1:5 with lines dt 2 title '$l p99 ms' axes x1y2, "
        dplots+="'$f' using 1:3 with lines title '$l transfers/s', "
    done
    [ -n "$plots" ] || return 0
    gnuplot <<GP
set terminal pngcairo size 900,450 noenhanced
set output '$png'
set title '$title'
set xlabel 'seconds'
set ylabel 'transfers/s'
set y2label 'p99 latency (ms)'
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
set key below
set grid
plot ${plots%, }
GP
    gnuplot <<GP 2>/dev/null || true
set terminal dumb 90 18
set title '$title (transfers/s)'
set key off
set yrange [0:*]
plot ${dplots%, }
GP
    echo "plot=$png"
}

# nf_cpu PID...: CPU seconds (user+system) each process has used so far, space-separated.
nf_cpu() {
    local p out=""
    for p in "$@"; do
        out+="$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$p/stat" 2>/dev/null || echo 0) "
    done
    echo "${out% }"
}

# nf_stages_summary FILE: one line per stage from a /debug/stages snapshot, busiest first, plus
# ring occupancy, batch sizes and in-flight per key: where the pipeline spends its time.
nf_stages_summary() {
    [ -s "$1" ] || return 0
    jq -r '
      (.stages | to_entries | sort_by(-.value.busy_fraction) | .[] |
        "stage_\(.key)=\(.value.items_per_s | floor) items/s busy=\(.value.busy_fraction * 100 | floor)%"),
      "rings=\(.rings | to_entries | map("\(.key):\(.value)") | join(" "))",
      "batch_mean_actions=\(.batch.mean_actions | . * 10 | floor / 10) actions",
      "sign_inflight_per_key=\(.sign.inflight_per_key | map(tostring) | join(","))",
      "submit_inflight_txs=\(.submit.inflight_txs) txs",
      "wal_batches_per_group=\(.wal.batches_per_group | floor)",
      "ingest_requests_per_s=\(.ingest.requests_per_s | floor) req/s rejected=\(.ingest.rejected | tostring)",
      "ingest_threads_requests_per_s=\(.ingest.threads | map(.requests_per_s | floor | tostring) | join(","))"
    ' "$1" | sed 's/^/stages: /'
}
