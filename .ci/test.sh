#!/usr/bin/env bash
# The test command (README "Run the tests"; CI runs it through .ci/run):
# installs what is missing, builds everything, runs the whole test suite with ctest,
# then the ops and backends again under ASan + UBSan, then the libFuzzer targets briefly.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash .ci/install-deps.sh
bash .ci/build.sh
# Tests run for real on Mesa lavapipe for Vulkan; CUDA tests skip without a GPU.
(cd build && ctest --output-on-failure -j "${JOBS:-$(nproc)}" --timeout 900)
bash .ci/sanitize.sh
bash .ci/fuzz.sh
echo "[test] all passed in $(( $(date +%s) - start )) s"
