#!/usr/bin/env bash
# profile.sh: runs the e2e load (perf/e2e.sh, single transfers by default) and records nearftd with
# `perf record -e cpu-clock -g` (software clock: no hardware counters on this VM) for 20 s after a
# 5 s warm-up, then prints the top functions per thread. Threads carry stage names (ingest-N,
# wal, batch, sign-N, submit); builds keep frame pointers, so call graphs are usable.
# Usage: perf/profile.sh [single|bulk]   env: as e2e.sh, plus PERF_SECONDS (20), TOP (12)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
command -v perf >/dev/null 2>&1 || {
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq >/dev/null && $sudo apt-get install -y -qq linux-perf >/dev/null
}
out=${NF_OUT:-$here/out}
mkdir -p "$out"
data=$out/profile_${1:-single}.perf.data
export PERF_RECORD=$data PERF_SECONDS=${PERF_SECONDS:-20}
export DURATION=${DURATION:-$((PERF_SECONDS + 10))}
# perf may refuse without this (containers default to 2+); reading it back is harmless
if [ "$(cat /proc/sys/kernel/perf_event_paranoid)" -gt 1 ] && [ -w /proc/sys/kernel/perf_event_paranoid ]; then
    echo 1 >/proc/sys/kernel/perf_event_paranoid
fi
"$here/e2e.sh" "${1:-single}" | grep -v '^ \{0,\}[|+0-9-]' || true
top=${TOP:-12}
echo "profile=$data"
echo "== share of samples per thread =="
rep() { perf report -i "$data" --no-children -g none "$@" --stdio 2>/dev/null | grep -E '^ +[0-9]'; }
rep --sort comm | head -20
for comm in $(rep --sort comm | awk '{print $2}'); do
    echo "== $comm: top $top functions (self, % of this thread's samples) =="
    rep --percentage relative --comms "$comm" --sort dso,symbol | head -"$top" |
        sed -E 's/ +- +- *$//'
done
