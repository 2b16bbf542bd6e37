#!/usr/bin/env python3
"""Writes small model files with the PyPI `gguf` and `safetensors` writers.

These are independent implementations of the two formats: the daemon's parsers must
agree with them. Writes, into OUT_DIR:
  s8.safetensors  I8 weight w[16,64] (+ scale F32[16], F16 and F32 tensors, metadata)
  q.gguf          Q8_0 / Q4_0 / Q4_1 weights [N=8, K=64], an I8 weight, F32, F16,
                  and a Q6_K tensor (random bytes: stored, not computable)
  expected.json   per file: tensor -> dtype, row-major shape, SHA-256 of its bytes
Usage: gen_models.py OUT_DIR [--big-mb N]   (--big-mb also writes big.safetensors)
"""
import hashlib
import json
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q
from safetensors.numpy import save_file


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def main() -> int:
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20260101)
    expected = {}

    # --- safetensors ---------------------------------------------------------------
    st = {
        "w": rng.integers(-127, 128, size=(16, 64), dtype=np.int8),
        "w.scale": rng.uniform(0.01, 0.1, size=(16,)).astype(np.float32),
        "embed": rng.standard_normal((10, 8)).astype(np.float16),
        "norm": rng.standard_normal((8,)).astype(np.float32),
    }
    save_file(st, os.path.join(out, "s8.safetensors"), metadata={"writer": "datanode gen_models.py"})
    names = {np.dtype(np.int8): "I8", np.dtype(np.float32): "F32", np.dtype(np.float16): "F16"}
    expected["s8.safetensors"] = {
        k: {"dtype": names[v.dtype], "shape": list(v.shape), "sha256": sha(v.tobytes())} for k, v in st.items()
    }

    # --- GGUF ----------------------------------------------------------------------
    path = os.path.join(out, "q.gguf")
    w = gguf.GGUFWriter(path, "llama")
    w.add_block_count(1)
    w.add_string("datanode.note", "test model")
    w.add_array("datanode.tokens", ["a", "bb", "ccc"])
    g = {}
    f32 = rng.standard_normal((8, 64)).astype(np.float32)
    for qname, qt in (("q8", Q.Q8_0), ("q4_0", Q.Q4_0), ("q4_1", Q.Q4_1)):
        raw = gguf.quants.quantize(f32, qt)  # uint8 [8, bytes_per_row]
        w.add_tensor(qname, raw, raw_shape=raw.shape, raw_dtype=qt)
        g[qname] = ({Q.Q8_0: "Q8_0", Q.Q4_0: "Q4_0", Q.Q4_1: "Q4_1"}[qt], [8, 64], raw.tobytes())
    i8 = rng.integers(-127, 128, size=(8, 64), dtype=np.int8)
    w.add_tensor("w_i8", i8)
    g["w_i8"] = ("I8", [8, 64], i8.tobytes())
    w.add_tensor("f32", f32)
    g["f32"] = ("F32", [8, 64], f32.tobytes())
    f16 = f32.astype(np.float16)
    w.add_tensor("f16", f16)
    g["f16"] = ("F16", [8, 64], f16.tobytes())
    q6 = rng.integers(0, 256, size=(2, 210), dtype=np.uint8)  # 2 rows x 256 values
    w.add_tensor("q6k", q6, raw_shape=q6.shape, raw_dtype=Q.Q6_K)
    g["q6k"] = ("Q6_K", [2, 256], q6.tobytes())
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    expected["q.gguf"] = {k: {"dtype": d, "shape": s, "sha256": sha(b)} for k, (d, s, b) in g.items()}

    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)

    if "--big-mb" in sys.argv:
        mb = int(sys.argv[sys.argv.index("--big-mb") + 1])
        big = {"w": np.frombuffer(rng.bytes(mb << 20), dtype=np.int8).reshape(-1, 1024)}
        save_file(big, os.path.join(out, "big.safetensors"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
