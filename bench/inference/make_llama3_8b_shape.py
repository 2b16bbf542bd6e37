#!/usr/bin/env python3
# Copyright 2026 The datanode Authors.
"""Writes a llama GGUF with Llama-3-8B's shape and seeded random Q8_0 weights.

Shape (Meta-Llama-3-8B): 32 layers, d_model 4096, 32 heads, 8 KV heads (head_dim 128),
FFN 14336, vocabulary 128256, RoPE base 500000, RMS eps 1e-5, untied output.weight.
Every matmul weight, token_embd and output are Q8_0; the norms are F32 ones. File size
with 32 layers: about 8.5 GB (use --layers to write fewer and scale the figures).

The weights are random but seeded: each Q8_0 block has fp16 scale 1/(73*sqrt(K)) (so that
a matmul keeps an activation's scale: int8 uniform in [-127, 127] has std ~73) and int8
values drawn from a 64 MiB pool of seeded uniform bytes in [-127, 127], taken at seeded
offsets (speed does not depend on the values; this keeps writing fast). The vocabulary is
a plain SentencePiece-style list ("<unk>", "<s>", "</s>", 256 byte tokens, then "t<i>") so
that llama.cpp loads the file; the engine's benchmark feeds token ids directly.

Usage: make_llama3_8b_shape.py OUT.gguf [--layers 32] [--seed 8]
"""
import argparse
import math
import sys

import numpy as np
import gguf

D, HEADS, KV_HEADS, FFN, VOCAB = 4096, 32, 8, 14336, 128256
HEAD_DIM = D // HEADS
QK = 32  # Q8_0 block


def q8_0_bytes(rng, pool, n, k):
    """n x k Q8_0 as raw bytes, shape (n, k/32*34) uint8."""
    blocks = n * (k // QK)
    d = np.float16(1.0 / (73.0 * math.sqrt(k)))
    out = np.empty((blocks, 34), dtype=np.uint8)
    out[:, 0:2] = np.frombuffer(d.tobytes(), dtype=np.uint8)
    need = blocks * QK
    off = int(rng.integers(0, pool.size - QK))
    vals = np.empty(need, dtype=np.int8)
    pos = 0
    while pos < need:  # wrap around the pool from a seeded offset
        take = min(need - pos, pool.size - off)
        vals[pos:pos + take] = pool[off:off + take]
        pos += take
        off = int(rng.integers(0, pool.size - QK))
    out[:, 2:] = vals.view(np.uint8).reshape(blocks, QK)
    return out.reshape(n, (k // QK) * 34)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=32)
    ap.add_argument("--seed", type=int, default=8)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    pool = rng.integers(-127, 128, size=64 << 20, dtype=np.int8)

    w = gguf.GGUFWriter(args.out, "llama")
    w.add_name(f"llama3-8b-shape-synthetic-{args.layers}L")
    w.add_block_count(args.layers)
    w.add_context_length(8192)
    w.add_embedding_length(D)
    w.add_feed_forward_length(FFN)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_rope_dimension_count(HEAD_DIM)
    w.add_rope_freq_base(500000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(VOCAB)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(256)]
    tokens += [f"t{i}" for i in range(VOCAB - len(tokens))]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    types += [gguf.TokenType.BYTE] * 256 + [gguf.TokenType.NORMAL] * (VOCAB - 259)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([0.0] * VOCAB)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(True)

    # (name, n, k) of each Q8_0 matrix, in file order; None k = F32 norm of length n.
    plan = [("token_embd.weight", VOCAB, D)]
    for i in range(args.layers):
        b = f"blk.{i}."
        plan += [(b + "attn_norm.weight", D, None),
                 (b + "attn_q.weight", D, D),
                 (b + "attn_k.weight", KV_HEADS * HEAD_DIM, D),
                 (b + "attn_v.weight", KV_HEADS * HEAD_DIM, D),
                 (b + "attn_output.weight", D, D),
                 (b + "ffn_norm.weight", D, None),
                 (b + "ffn_gate.weight", FFN, D),
                 (b + "ffn_up.weight", FFN, D),
                 (b + "ffn_down.weight", D, FFN)]
    plan += [("output_norm.weight", D, None), ("output.weight", VOCAB, D)]
    for name, n, k in plan:
        if k is None:
            w.add_tensor_info(name, (n,), np.dtype(np.float32), n * 4)
        else:
            w.add_tensor_info(name, (n, k // QK * 34), np.dtype(np.uint8), n * k // QK * 34,
                              raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    total = 0
    for name, n, k in plan:
        t = np.ones(n, dtype=np.float32) if k is None else q8_0_bytes(rng, pool, n, k)
        w.write_tensor_data(t)
        total += t.nbytes
    w.close()
    print(f"wrote {args.out}: {args.layers} layers, {total / 1e9:.2f} GB of tensors", file=sys.stderr)


if __name__ == "__main__":
    main()
