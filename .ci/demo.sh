#!/usr/bin/env bash
# The main job (README "Run it"): installs what is missing, builds, starts datanoded on
# its embedded defaults (CPU backend, store under ./demo/daemon/store, socket under ./demo/daemon/run),
# imports a small generated model, makes a real MatMul by reference through dnctl, prints
# the result digest, stops the daemon, then runs a quick admission test against the
# mini_pc class and prints the verdict and the report's path.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install-deps.sh
bash .ci/build.sh
export PATH="$PWD/.venv/bin:$PATH"

echo
echo "=== 1. daemon: import a model, MatMul by reference ==="
rm -rf demo/daemon
bash node/deploy/demo.sh build demo/daemon

echo
echo "=== 2. admission: quick profile against device_classes/mini_pc.textproto ==="
bash conformance/demo.sh
