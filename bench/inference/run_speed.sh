#!/usr/bin/env bash
# Speed acceptance run: bench_inference (ours, then llama-bench right after each of
# our tests, same file / thread count / test) repeated RUNS times, then the median of each
# test's ratio over the runs. On a shared machine a single run's ratio moves with the load of
# the moment; the median of interleaved runs is the figure to quote, with the load printed.
# Usage: run_speed.sh RUNS [bench_inference flags...]      (needs dnbuild bench_inference)
#   run_speed.sh 3 --threads 1,2 --pp 512 --tg 128 --reps 3
#   run_speed.sh 2 --model /tmp/l3.gguf --threads 1,2 --pp 0 --tg 16 --reps 2
# Env: LOG (default /tmp/dn_speed): each run's full output goes to $LOG/run_N.txt.
#      BENCH_BIN (default build/bench/inference/bench_inference): the binary to time, e.g. a copy
#      that a rebuild of the shared tree cannot replace mid-run.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
runs=${1:?usage: run_speed.sh RUNS [bench_inference flags]}
shift
log=${LOG:-/tmp/dn_speed}
mkdir -p "$log"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), nproc $(nproc); HEAD $(git -C "$root" rev-parse --short HEAD)"
echo "command: bench_inference $*"
for ((i = 1; i <= runs; ++i)); do
  echo "== run $i (start $(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg))"
  "${BENCH_BIN:-$root/build/bench/inference/bench_inference}" "$@" > "$log/run_$i.txt" 2>&1
  # The ratio table: the lines after the header "test threads ...".
  sed -n '/^test  *threads/,/^$/p' "$log/run_$i.txt" | sed '/^$/d'
done
echo "== median over $runs runs (ours/llama of the means; best/best)"
for ((i = 1; i <= runs; ++i)); do
  sed -n '/^test  *threads/,/^$/p' "$log/run_$i.txt" | sed '1d;/^$/d'
done | awk '
  { key = $1 " " $2; n[key]++; mean[key, n[key]] = $(NF - 1); best[key, n[key]] = $NF;
    if (!(key in seen)) { seen[key] = 1; order[++keys] = key } }
  function median(arr, key, count,    v, i, j, t) {
    for (i = 1; i <= count; ++i) v[i] = arr[key, i] + 0;
    for (i = 1; i <= count; ++i) for (j = i + 1; j <= count; ++j) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return count % 2 ? v[(count + 1) / 2] : (v[count / 2] + v[count / 2 + 1]) / 2
  }
  END {
    printf "%-8s %7s %12s %12s   %s\n", "test", "threads", "median mean", "median best", "per run (mean ratio)"
    for (k = 1; k <= keys; ++k) {
      key = order[k]; split(key, f, " "); list = ""
      for (i = 1; i <= n[key]; ++i) list = list sprintf(" %.3f", mean[key, i])
      printf "%-8s %7s %11.3fx %11.3fx  %s\n", f[1], f[2], median(mean, key, n[key]), median(best, key, n[key]), list
    }
  }'
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
