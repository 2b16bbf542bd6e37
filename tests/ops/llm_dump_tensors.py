#!/usr/bin/env python3
# Copyright 2026 The datanode Authors.
"""Dumps realistic activations of SmolLM2-135M layer 0 for llm_accuracy_test.

Runs the first layer of the GGUF in numpy float32 on 64 token ids (embedding rows,
RMSNorm, the Q/K/V and gate/up projections) and writes named f32 arrays to OUT:
per array u32 name length, name, u32 count, count little-endian f32.

  .venv/bin/python tests/ops/llm_dump_tensors.py "$(bash .ci/find-model.sh)" /tmp/llm.bin
  DATANODE_LLM_TENSORS=/tmp/llm.bin build/tests/ops/ops_llm_accuracy_test
"""
import struct
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize


def main():
    reader = GGUFReader(sys.argv[1])
    tensors = {t.name: t for t in reader.tensors}

    def weight(name):
        t = tensors[name]
        return dequantize(t.data, t.tensor_type).reshape(
            [int(d) for d in reversed(t.shape)]).astype(np.float32)

    ids = np.arange(64) * 761 % 49152
    emb = tensors["token_embd.weight"]
    table = dequantize(emb.data, emb.tensor_type).reshape(49152, 576).astype(np.float32)
    x = table[ids]

    def rms_norm(v, g):
        return (v / np.sqrt(np.mean(v.astype(np.float64) ** 2, axis=1, keepdims=True) + 1e-5)
                ).astype(np.float32) * g

    attn_norm = weight("blk.0.attn_norm.weight")
    ffn_norm = weight("blk.0.ffn_norm.weight")
    h = rms_norm(x, attn_norm)
    arrays = {
        "x": x, "attn_norm": attn_norm, "ffn_norm": ffn_norm,
        "q": h @ weight("blk.0.attn_q.weight").T,
        "k": h @ weight("blk.0.attn_k.weight").T,
        "v": h @ weight("blk.0.attn_v.weight").T,
    }
    f = rms_norm(x, ffn_norm)
    arrays["gate"] = f @ weight("blk.0.ffn_gate.weight").T
    arrays["up"] = f @ weight("blk.0.ffn_up.weight").T
    with open(sys.argv[2], "wb") as out:
        for name, a in arrays.items():
            a = np.ascontiguousarray(a, dtype="<f4").ravel()
            out.write(struct.pack("<I", len(name)) + name.encode())
            out.write(struct.pack("<I", a.size) + a.tobytes())
            print(name, a.size, float(np.abs(a).max()))


if __name__ == "__main__":
    main()
