#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) in build-fuzz/ and runs each one
# briefly (FUZZ_SECONDS, default 20) from a scratch copy of its checked-in seed corpus.
# Any crash, leak or sanitizer report fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${FUZZ_SECONDS:-20}
CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDATANODE_NODE_FUZZERS=ON -DDATANODE_SANITIZE=ON \
  -DDATANODE_WITH_CPU=OFF -DDATANODE_WITH_CUDA=OFF -DDATANODE_WITH_VULKAN=OFF \
  -DDATANODE_BUILD_BENCH=OFF -DDATANODE_BUILD_TESTS=ON \
  -DPython3_EXECUTABLE="$PWD/.venv/bin/python" >/dev/null
ninja -C build-fuzz -j "${JOBS:-$(nproc)}" node_fuzzers
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for target in build-fuzz/tests/node/fuzz/fuzz_*; do
  [[ -x $target && -f $target ]] || continue
  name=$(basename "$target")
  corpus="$scratch/$name"
  mkdir -p "$corpus"
  seed_dir="tests/node/fuzz/corpus/${name#fuzz_}"
  if [[ -d $seed_dir ]]; then cp -r "$seed_dir/." "$corpus/"; fi
  echo "[fuzz] $name for ${SECONDS_EACH}s"
  "$target" -max_total_time="$SECONDS_EACH" -max_len=8192 -print_final_stats=1 \
    -artifact_prefix="$scratch/" "$corpus" 2>&1 | tail -3
done
echo "[fuzz] no findings"
