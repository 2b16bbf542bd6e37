#!/usr/bin/env python3
# Copyright 2026 The datanode Authors.
"""Per-stage breakdown of a `perf record --call-graph dwarf` profile of bench_inference.

Reads `perf script` text on stdin; each sample goes to the first stage whose pattern
matches a frame, scanning from the innermost frame outwards (so a helper such as
RoundToF32Bits counts for the op that called it). Matmul samples are split by weight
format from the kernel template: TileAvx512<MR, NC, kMin, ...> has kMin = true for Q4_1
(the min term) and false for Q8_0; other ISAs' tiles go to "matmul (other)".
Usage: perf script -i FILE | profile_stages.py
"""
import re
import sys
from collections import Counter

STAGES = [  # (stage, regex on a frame's symbol), first match from the inner frame wins
    ("load (Model::Create, packing)", r"Model::Create|LoadGgufFile|PackedQ8Weights"),
    ("matmul Q4_1 weights", r"Tile\w*<\d+, \d+, true"),
    ("matmul Q8_0 weights", r"Tile\w*<\d+, \d+, false"),
    ("matmul (other: dispatch, epilogue outside tiles)", r"MatMulQ8|RunTiles|inference::\(anonymous namespace\)::MatMul"),
    ("quantize activations (Q8_0)", r"QuantizeQ8_0|cpu::Quantize|inference::\(anonymous namespace\)::Quantize"),
    ("attention", r"Attend"),
    ("SiLU(gate)*up", r"SiluMul"),
    ("RMSNorm", r"RmsNorm"),
    ("RoPE", r"Rope"),
    ("residual add", r"llm::Add|llm_kernels::Add\b|Kernels::Add\b"),
    ("KV row encode (f16)", r"EncodeKvRow"),
    ("embedding row", r"DequantizeRow"),
    ("sampling (argmax)", r"SampleToken|Sample"),
    ("Forward (other)", r"Model::Forward"),
]
COMPILED = [(n, re.compile(p)) for n, p in STAGES]


def classify(frames):
    for f in frames:
        for name, rx in COMPILED:
            if rx.search(f):
                return name
    return "other (outside Forward)"


def main():
    counts = Counter()
    frames = []
    header = None
    for line in sys.stdin:
        if not line.strip():
            if header is not None:
                counts[classify(frames)] += 1
            header, frames = None, []
            continue
        if header is None:
            header = line
            continue
        parts = line.strip().split(None, 1)
        if len(parts) == 2:
            frames.append(parts[1])
    if header is not None:
        counts[classify(frames)] += 1
    total = sum(counts.values())
    fwd = sum(v for k, v in counts.items() if not k.startswith("load") and not k.startswith("other"))
    print(f"{'stage':52} {'samples':>8} {'% all':>7} {'% of serving':>13}")
    for name, _ in STAGES + [("other (outside Forward)", None)]:
        v = counts.get(name, 0)
        if not v:
            continue
        serving = "" if name.startswith("load") or name.startswith("other") else f"{100 * v / fwd:12.1f}%"
        print(f"{name:52} {v:8d} {100 * v / total:6.1f}% {serving:>13}")
    print(f"{'total':52} {total:8d}")


if __name__ == "__main__":
    main()
