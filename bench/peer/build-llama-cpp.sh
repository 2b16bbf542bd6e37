#!/usr/bin/env bash
# Copyright 2026 The datanode Authors.
#
# Builds the peer, llama.cpp, from the sources vendored in the llama-cpp-python sdist on
# PyPI, OUTSIDE this repository: its code is never committed here. The tools
# it builds are the references for the tokenizer golden file (llama-tokenize), the
# perplexity and speed comparisons (llama-perplexity, llama-bench) and op checks
# (test-backend-ops).
#
# Usage: bench/peer/build-llama-cpp.sh [PEER_DIR]   (default /work/peer)
# Env:   PYTHON (default: the repo's .venv python, else python3), JOBS (default 2).
# Result: PEER_DIR/build/bin/{llama-tokenize,llama-perplexity,llama-bench,test-backend-ops,
#         tokenize_lines,unicode_classes_check}
set -euo pipefail

PEER_DIR="${1:-/work/peer}"
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
case "$(realpath -m "$PEER_DIR")/" in
  "$REPO"/*) echo "refusing to build the peer inside the repository ($REPO)" >&2; exit 2 ;;
esac
PYTHON="${PYTHON:-$REPO/.venv/bin/python}"
[[ -x "$PYTHON" ]] || PYTHON=python3
JOBS="${JOBS:-2}"

mkdir -p "$PEER_DIR"
cd "$PEER_DIR"
if ! ls llama_cpp_python-*.tar.gz >/dev/null 2>&1; then
  "$PYTHON" -m pip download --no-deps --no-binary :all: llama-cpp-python -d "$PEER_DIR"
fi
SDIST="$(ls llama_cpp_python-*.tar.gz | sort -V | tail -1)"
SRC="$PEER_DIR/${SDIST%.tar.gz}"
[[ -d "$SRC" ]] || tar xzf "$SDIST"
echo "peer source: $SRC/vendor/llama.cpp (from $SDIST)"

cmake -S "$SRC/vendor/llama.cpp" -B "$PEER_DIR/build" \
  -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DCMAKE_BUILD_TYPE=Release \
  -DLLAMA_BUILD_TESTS=ON -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_EXAMPLES=OFF
nice -n 19 cmake --build "$PEER_DIR/build" -j "$JOBS" \
  --target llama-tokenize llama-perplexity llama-bench test-backend-ops
# tokenize_lines: llama_tokenize over a whole corpus in one process (the tokenizer
# golden files, tests/inference/testdata/README.md).
LLAMA="$SRC/vendor/llama.cpp"
cc -O2 -I"$LLAMA/include" -I"$LLAMA/ggml/include" "$REPO/bench/peer/tokenize_lines.c" \
  -L"$PEER_DIR/build/bin" -lllama -Wl,-rpath,"$PEER_DIR/build/bin" \
  -o "$PEER_DIR/build/bin/tokenize_lines"
# unicode_classes_check: the pre-tokenizer's character classes against llama.cpp's
# tables, every code point (needs re2 and abseil, as the datanode build does).
c++ -std=c++20 -O1 -I"$REPO" -I"$LLAMA/src" -I"$LLAMA/include" -I"$LLAMA/ggml/include" \
  "$REPO/bench/peer/unicode_classes_check.cc" "$REPO/node/inference/pretokenizer.cc" \
  "$LLAMA/src/unicode.cpp" "$LLAMA/src/unicode-data.cpp" \
  $(pkg-config --cflags --libs re2 absl_strings absl_status absl_statusor) \
  -o "$PEER_DIR/build/bin/unicode_classes_check"
"$PEER_DIR/build/bin/unicode_classes_check"
ls -l "$PEER_DIR/build/bin/"
