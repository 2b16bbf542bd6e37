#!/usr/bin/env bash
# Runs the Vulkan backend's tests and benchmark on an NVIDIA GPU through NVIDIA's Vulkan
# driver, and writes bench/results/vulkan_nvidia_<date>.txt (or $OUT/... when $OUT is set).
#
#   bench/vulkan-nvidia.sh            build here (needs the Debian packages of
#                                     /work/shared/DESIGN.md) and run
#   bench/vulkan-nvidia.sh prepare    on a dev machine: build, and bundle the binaries,
#                                     their shared libraries and the Vulkan loader into
#                                     .vkcarry/ for a bare GPU machine without those packages
#   bench/vulkan-nvidia.sh carried    on that GPU machine (with .vkcarry carried along):
#                                     use the bundle instead of building
# The NVIDIA ICD is looked for in the usual places and in /usr/local/nvidia (GPU containers).
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-build}"
build=build-vulkan
date="$(date +%F)"
out_dir="${OUT:-bench/results}"

if [[ "$mode" == build || "$mode" == prepare ]]; then
  cmake -S . -B "$build" -G Ninja -DDATANODE_WITH_CUDA=OFF -DDATANODE_BUILD_NODE=OFF \
    -DDATANODE_WITH_VULKAN=ON >/dev/null
  ninja -C "$build" vulkan_backend_test bench_vulkan
  test_bin="$build/tests/vulkan/vulkan_backend_test"
  bench_bin="$build/bench/vulkan/bench_vulkan"
fi

if [[ "$mode" == prepare ]]; then
  exclude="$(git rev-parse --git-path info/exclude)"  # keep the bundle out of git
  mkdir -p "$(dirname "$exclude")"
  grep -qx '/.vkcarry/' "$exclude" 2>/dev/null || echo /.vkcarry/ >>"$exclude"
  rm -rf .vkcarry && mkdir -p .vkcarry/lib .vkcarry/deb /tmp/vk-amd64/partial
  cp "$test_bin" "$bench_bin" .vkcarry/
  # Every shared library except glibc's own (the GPU machine's glibc must be >= this one's).
  ldd "$test_bin" "$bench_bin" | awk '/=> \//{print $3}' | sort -u |
    grep -vE '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so' |
    xargs -I{} cp -L {} .vkcarry/lib/
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/vk-amd64'
  apt-get $o update >/dev/null && (cd .vkcarry/deb && apt-get $o download libvulkan1)
  echo "bundle ready: carry .vkcarry, run: bench/vulkan-nvidia.sh carried"
  exit 0
fi

if [[ "$mode" == carried ]]; then
  for f in .vkcarry/deb/*.deb; do dpkg -x "$f" /; done
  ldconfig
  export LD_LIBRARY_PATH="$PWD/.vkcarry/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  test_bin=.vkcarry/vulkan_backend_test
  bench_bin=.vkcarry/bench_vulkan
fi

if [[ -z "${VK_DRIVER_FILES:-}" && -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi

mkdir -p "$out_dir"
result="$out_dir/vulkan_nvidia_$date.txt"
{
  echo "# Vulkan backend on NVIDIA ($date, commit $(git rev-parse --short HEAD 2>/dev/null || echo ?))"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true
  echo "## tests (byte equality with the reference)"
  "$test_bin" --gtest_brief=1 2>&1 | tail -n 30 || echo "TESTS FAILED"
  echo "## bench_vulkan (device chosen by name: NVIDIA)"
  "$bench_bin" --device=nvidia --min_seconds=1 2>&1 || echo "BENCH FAILED"
} | tee "$result"
echo "wrote $result"
