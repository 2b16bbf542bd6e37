#!/usr/bin/env bash
# Configures and builds datanode in build/ (Release with debug info). Extra arguments
# are passed to cmake. CUDA is built when nvcc is found (/usr/local/cuda), else skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
cmake -S . -B build -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPython3_EXECUTABLE="$PWD/.venv/bin/python" \
  "$@"
ninja -C build -j "$JOBS"
