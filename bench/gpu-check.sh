#!/usr/bin/env bash
# Copyright 2026 The datanode Authors.
#
# GPU check of the CUDA backend, for a machine with an NVIDIA GPU and only the CUDA
# toolkit, CMake, ninja (or make) and a C++ compiler - no abseil / gtest / OpenSSL
# development packages, no network. Steps:
#   1. dependencies: uses the system's abseil/gtest/OpenSSL headers if present, else
#      unpacks the Debian 12 .deb files carried in bench/cuda/.debs (see docs/cuda.md)
#      into <build>/deps and points CMake and the loader at them;
#   2. builds the ops library with the CUDA backend (node, Vulkan off), its tests and
#      bench_cuda;
#   3. runs cuda_host_test (no GPU needed) and cuda_backend_test (byte equality with
#      the reference, >= 1,000 random cases per op of the table - the K-quant matmuls
#      matmul_q8_0_q4_k / matmul_q8_0_q6_k included - the s8 kernels' start-up checks,
#      and the LLM ops RmsNorm / Add / SiluMul / Attend (CudaLlmTest.*); skips cleanly
#      without a GPU);
#   4. runs bench_cuda (the start-up checks, then the exact s8 GEMM - wgmma on H100/H200
#      for large shapes, else mma.sync - vs cuBLASLt s8->s32 and bf16 at 4096^3, 8192^3
#      and decode shapes, and the Q8_0 / Q4_0 / Q4_1 / Q4_K / Q6_K decode matmuls vs a
#      device copy) and writes everything, with the nvidia-smi device line and the
#      IMMA/IGMMA counts cuobjdump finds in the s8 kernels, to
#      bench/results/cuda-<gpu>-<date>.txt (to $OUT/ instead, with the log, when OUT is
#      set).
#
# Usage: bench/gpu-check.sh
# Environment: BUILD_DIR (default build-gpu), CUDA_HOME (default /usr/local/cuda),
#   CUDA_ARCHS (default: sm_80;86;89;90 + PTX, as ops/cuda/CMakeLists.txt), DEBS_DIR,
#   JOBS (default: all CPUs), BENCH_MIN_SECONDS (default 0.3).
# Exit status: 0 all passed (or skipped without a GPU, which the summary says), 1 a
# test failed or a result differed from cuBLASLt.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build-gpu}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
DEBS=${DEBS_DIR:-$ROOT/bench/cuda/.debs}
JOBS=${JOBS:-$(nproc)}
export PATH=$CUDA_HOME/bin:$PATH
mkdir -p "$BUILD"
LOG=$BUILD/gpu-check.log
: > "$LOG"
# A remote runner brings back only $OUT: leave the log there whatever happens.
trap '[[ -n "${OUT:-}" ]] && mkdir -p "$OUT" && cp "$LOG" "$OUT/gpu-check.log"; true' EXIT
say() { echo "gpu-check: $*" | tee -a "$LOG"; }

# --- 1. Dependencies -------------------------------------------------------------
cmake_args=(-DDATANODE_BUILD_NODE=OFF -DDATANODE_WITH_VULKAN=OFF -DDATANODE_WITH_CUDA=ON
            -DDATANODE_BUILD_TESTS=ON -DDATANODE_BUILD_BENCH=ON -DCMAKE_BUILD_TYPE=Release
            -DCMAKE_CUDA_COMPILER="$CUDA_HOME/bin/nvcc")
[[ -n "${CUDA_ARCHS:-}" ]] && cmake_args+=(-DCMAKE_CUDA_ARCHITECTURES="$CUDA_ARCHS")

system_has_deps() {
  [[ -f /usr/include/absl/status/status.h && -f /usr/include/gtest/gtest.h &&
     -f /usr/include/openssl/sha.h ]]
}

unpack_deb() {  # dpkg-deb if there is one, else ar + tar (binutils come with the compiler)
  local deb=$1 dest=$2
  if command -v dpkg-deb > /dev/null; then
    dpkg-deb -x "$deb" "$dest"
  else
    local tmp
    tmp=$(mktemp -d)
    (cd "$tmp" && ar x "$deb" && tar -xf data.tar.* -C "$dest")
    rm -rf "$tmp"
  fi
}

if system_has_deps && [[ -z "${FORCE_DEBS:-}" ]]; then
  say "using the system's abseil, gtest and OpenSSL"
else
  PREFIX=$BUILD/deps
  shopt -s nullglob
  debs=("$DEBS"/*.deb)
  if (( ${#debs[@]} == 0 )); then
    say "abseil/gtest/OpenSSL headers missing and no .deb files in $DEBS (see docs/cuda.md)"
    exit 1
  fi
  mkdir -p "$PREFIX"
  for deb in "${debs[@]}"; do unpack_deb "$deb" "$PREFIX"; done
  LIBDIR=$PREFIX/usr/lib/x86_64-linux-gnu
  say "unpacked ${#debs[@]} .deb files into $PREFIX"
  cmake_args+=(
    -DCMAKE_PREFIX_PATH="$PREFIX/usr"
    -Dabsl_DIR="$LIBDIR/cmake/absl"
    -DGTest_DIR="$LIBDIR/cmake/GTest"
    -DOPENSSL_ROOT_DIR="$PREFIX/usr"
    -DOPENSSL_INCLUDE_DIR="$PREFIX/usr/include"
    -DOPENSSL_CRYPTO_LIBRARY="$LIBDIR/libcrypto.so"
    -DOPENSSL_SSL_LIBRARY="$LIBDIR/libssl.so"
    # Debian keeps OpenSSL's configuration.h in the multiarch include directory.
    -DCMAKE_CXX_FLAGS="-isystem $PREFIX/usr/include/x86_64-linux-gnu"
    -DCMAKE_BUILD_RPATH="$LIBDIR")
  export LD_LIBRARY_PATH=$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi

# --- 2. Build ----------------------------------------------------------------------
generator=(-G Ninja)
command -v ninja > /dev/null || generator=(-G "Unix Makefiles")
say "configuring in $BUILD"
cmake -S "$ROOT" -B "$BUILD" "${generator[@]}" "${cmake_args[@]}" >> "$LOG" 2>&1 ||
  { tail -30 "$LOG"; exit 1; }
say "building (nvcc for every architecture takes a few minutes)"
cmake --build "$BUILD" -j "$JOBS" --target cuda_host_test cuda_backend_test bench_cuda \
  >> "$LOG" 2>&1 || { tail -30 "$LOG"; exit 1; }

# --- SASS: the integer tensor-core instructions in the s8 kernels -----------------------
sass_summary="cuobjdump not found"
if command -v cuobjdump > /dev/null; then
  sass_summary=""
  while IFS= read -r obj; do
    counts=$(cuobjdump --dump-sass "$obj" 2>/dev/null | grep -oE '(IMMA|IGMMA)[.A-Z0-9x]*' |
             sort | uniq -c | awk '{print $2 " x" $1}' | paste -sd "," - || true)
    sass_summary+="$(basename "$obj" .cu.o): ${counts:-none}; "
  done < <(find "$BUILD/ops/cuda" -name 'matmul_s8_*.cu.o' | sort)
fi
say "sass: $sass_summary"

# --- 3. Tests ----------------------------------------------------------------------
device_line=$( (nvidia-smi -L 2>/dev/null || true) | head -1)
[[ -z "$device_line" ]] && device_line="no GPU (nvidia-smi: none)"
driver_line=$( (nvidia-smi --query-gpu=driver_version,memory.total,clocks.max.sm \
  --format=csv,noheader 2>/dev/null || true) | head -1)
say "device: $device_line ${driver_line:+($driver_line)}"
status=0
tests_out=$BUILD/tests.txt
: > "$tests_out"
for t in tests/cuda/cuda_host_test tests/cuda/cuda_backend_test; do
  say "running $t"
  if ! "$BUILD/$t" --gtest_brief=1 2>&1 | tee -a "$tests_out" >> "$LOG"; then status=1; fi
done
skipped=$(grep -c "SKIPPED \]" "$tests_out" || true)
summary=$(grep -E "^\[  (PASSED|FAILED|SKIPPED) +\] [0-9]+ test" "$tests_out" | tr -s " " | paste -sd ";" - || true)
say "tests: $summary"

# --- 4. Benchmark ------------------------------------------------------------------
bench_out=$BUILD/bench.txt
set +e
"$BUILD/bench/cuda/bench_cuda" --min-seconds="${BENCH_MIN_SECONDS:-0.3}" 2>&1 | tee "$bench_out"
bench_rc=${PIPESTATUS[0]}
set -e
if [[ $bench_rc -eq 77 ]]; then
  say "no GPU: device tests skipped, benchmark not run. The GPU run is still owed."
  exit $status
fi
[[ $bench_rc -ne 0 ]] && status=1

gpu=$(echo "$device_line" | sed -E 's/^GPU [0-9]+: //; s/ \(UUID.*//; s/[^A-Za-z0-9]+/-/g; s/-+$//')
# $OUT (set by a remote runner that only brings back what lands there) takes the place
# of bench/results/, and gets the build/test log too.
results_dir=${OUT:-$ROOT/bench/results}
mkdir -p "$results_dir"
result=$results_dir/cuda-${gpu:-unknown}-$(date -u +%Y%m%d).txt
{
  echo "# datanode CUDA backend check, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "# commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "# nvidia-smi: $device_line"
  echo "# driver, memory, max SM clock: ${driver_line:-unknown}"
  echo "# nvcc: $(nvcc --version | tail -1)"
  echo "# tests: $summary"
  echo "# sass (all cubins of each object): $sass_summary"
  echo
  cat "$bench_out"
} > "$result"
say "results written to ${result#$ROOT/}"
say "$(grep -m1 '^acceptance:' "$bench_out" || echo 'acceptance: no line from bench_cuda')"
(( status == 0 )) && say "OK" || say "FAILED (see $LOG)"
exit $status
