#!/usr/bin/env bash
# Perplexity acceptance run: llama-perplexity and dn-perplexity on the same text,
# context and thread count; then llama.cpp's own --kl-divergence scoring llama.cpp against
# our log-probs (a cross-check of dn-perplexity's comparison, with llama.cpp's code).
# Usage: run_perplexity.sh [THREADS=2] [CTX=512]     (from anywhere; needs dnbuild dn-perplexity)
# Env: MODEL (default .ci/find-model.sh), PEER (default /work/peer/build/bin), WORK (/tmp/dn_ppl)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
threads=${1:-2}
ctx=${2:-512}
model=${MODEL:-$(bash "$root/.ci/find-model.sh")}
peer=${PEER:-/work/peer/build/bin}
work=${WORK:-/tmp/dn_ppl}
mkdir -p "$work"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), nproc $(nproc)"
bash "$root/bench/inference/make_text.sh" "$work/text.txt"
if [[ -x $peer/llama-perplexity ]]; then
  echo "== llama-perplexity (load $(cut -d' ' -f1-3 /proc/loadavg))"
  "$peer/llama-perplexity" -m "$model" -f "$work/text.txt" -c "$ctx" -t "$threads" \
    --kl-divergence-base "$work/llama_base.kld" 2>&1 | grep -E "Final estimate|seconds per pass|tokenizes|chunks"
  base=(--llama-base "$work/llama_base.kld")
else
  echo "llama-perplexity not found in $peer: only our PPL (bench/peer/build-llama-cpp.sh builds it)"
  base=()
fi
echo "== dn-perplexity (load $(cut -d' ' -f1-3 /proc/loadavg))"
"$root/build/bench/inference/dn-perplexity" --model "$model" --text "$work/text.txt" --ctx "$ctx" \
  --threads "$threads" "${base[@]}" --write-base "$work/ours_base.kld" 2>/dev/null
if [[ -x $peer/llama-perplexity ]]; then
  echo "== llama-perplexity --kl-divergence against our log-probs (llama.cpp's own comparison)"
  "$peer/llama-perplexity" -m "$model" -c "$ctx" -t "$threads" --kl-divergence-base "$work/ours_base.kld" \
    --kl-divergence 2>&1 | sed -n '/====== Perplexity/,$p'
fi
