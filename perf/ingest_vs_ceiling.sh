#!/usr/bin/env bash
# ingest_vs_ceiling: measures the ingest stage (ingest_loadstub: real ingest threads in front of the
# stub pipeline) against the bare evhttp `ceiling` server with wrk, alternating runs so machine
# noise hits both alike, and prints one `name=value unit` line per figure. Not a ctest test.
# Usage: perf/ingest_vs_ceiling.sh BUILD_DIR [rounds] [seconds] [threads]
set -euo pipefail
build=${1:?usage: $0 BUILD_DIR [rounds] [seconds] [threads]}
rounds=${2:-3}
secs=${3:-3}
threads=${4:-2}
cport=$((20000 + RANDOM % 10000))
iport=$((cport + 1))
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

cat >"$tmp/single.lua" <<'LUA'
wrk.method = "POST"
wrk.body   = '{"receiver_id":"alice.near","amount":"1000"}'
wrk.headers["Content-Type"] = "application/json"
LUA
python3 - "$tmp/bulk.lua" <<'PY'
import sys
items = ",".join('{"receiver_id":"user%d.near","amount":"%d","memo":"order %d"}' % (i, 1000 + i, i)
                 for i in range(1000))
body = '{"transfers":[%s]}' % items
open(sys.argv[1], "w").write('wrk.method = "POST"\nwrk.body = [[%s]]\n'
                             'wrk.headers["Content-Type"] = "application/json"\n' % body)
PY

"$build/bin/ceiling" --listen 127.0.0.1:$cport --threads "$threads" >/dev/null &
pids+=($!)
"$build/bin/ingest_loadstub" --listen 127.0.0.1:$iport --threads "$threads" >/dev/null 2>&1 &
pids+=($!)
for port in $cport $iport; do
    for _ in $(seq 50); do
        curl -s -o /dev/null "http://127.0.0.1:$port/" && break
        sleep 0.1
    done
done

rps() { # port script connections
    wrk -t1 -c"$3" -d"${secs}s" -s "$2" "http://127.0.0.1:$1/v1/transfers" |
        awk '/Requests\/sec/ {print $2}'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }

: >"$tmp/c"
: >"$tmp/i"
for _ in $(seq "$rounds"); do
    rps $cport "$tmp/single.lua" 64 >>"$tmp/c"
    rps $iport "$tmp/single.lua" 64 >>"$tmp/i"
done
c=$(median <"$tmp/c")
i=$(median <"$tmp/i")
echo "ceiling_single_rps=$c req/s"
echo "ingest_single_rps=$i req/s"
echo "ingest_over_ceiling=$(awk -v a="$i" -v b="$c" 'BEGIN {printf "%.2f", a / b}') ratio"
: >"$tmp/b"
for _ in $(seq "$rounds"); do
    rps $iport "$tmp/bulk.lua" 8 >>"$tmp/b"
done
b=$(median <"$tmp/b")
echo "ingest_bulk1000_rps=$b req/s"
echo "ingest_bulk1000_transfers=$(awk -v a="$b" 'BEGIN {printf "%.0f", a * 1000}') transfers/s"
