#!/usr/bin/env bash
# Builds the operator library, every backend and their tests with ASan + UBSan (GCC) in
# build-asan/ and runs them: the SIMD kernels' tails, packing and the Vulkan/CUDA host
# code under the sanitizers. Leak checking is off here because Mesa's llvmpipe JIT (the
# Vulkan device in CI) leaks a few hundred bytes per process from code LSan cannot name;
# the libFuzzer runs (.ci/fuzz.sh) check the parsers for leaks.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDATANODE_SANITIZE=ON -DDATANODE_BUILD_NODE=OFF -DDATANODE_BUILD_BENCH=OFF \
  -DDATANODE_WITH_CUDA=OFF -DPython3_EXECUTABLE="$PWD/.venv/bin/python" >/dev/null
ninja -C build-asan -j "${JOBS:-$(nproc)}"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
(cd build-asan && ctest --output-on-failure -j "${JOBS:-$(nproc)}" --timeout 900)
echo "[sanitize] ops, backends and their tests clean under ASan + UBSan"
