#!/usr/bin/env python3
# Copyright 2026 The datanode Authors.
"""Writes a llama GGUF with Llama-3-8B's shape and seeded random weights, Q8_0 or Q4_K_M.

Shape (Meta-Llama-3-8B): 32 layers, d_model 4096, 32 heads, 8 KV heads (head_dim 128),
FFN 14336, vocabulary 128256, RoPE base 500000, RMS eps 1e-5, untied output.weight.
The norms are F32 ones. Weight formats (--quant):
- q8_0: every matmul weight, token_embd and output are Q8_0; about 8.5 GB with 32 layers.
- q4_k_m: the layout llama.cpp's Q4_K_M quantization gives this model (llama-quant.cpp):
  Q4_K everywhere (token_embd included) except Q6_K for output.weight and for attn_v and
  ffn_down of the layers where use_more_bits holds (0-3, 6, 9, ..., 27, 28-31 of 32);
  about 4.9 GB with 32 layers.
Use --layers to write fewer and scale the figures.

The weights are random but seeded, scaled so that a matmul keeps an activation's scale:
each Q8_0 block has f16 scale 1/(73*sqrt(K)) (int8 uniform in [-127, 127] has std ~73);
a Q4_K super-block has random 6-bit scales and mins, d = 1/(263*sqrt(K)) and dmin = 7.5 d
(values d*sc*nib - dmin*min then have mean 0 and std ~263 d); a Q6_K super-block has
random int8 scales and d = 1/(1366*sqrt(K)) (std of sc * (q - 32) ~1366). Every other byte
(quants, packed scales) is drawn from a 64 MiB pool of seeded uniform bytes in [-127, 127]
(as int8, so never -128, which Q8_0 forbids), taken at seeded offsets (speed does not
depend on the values; this keeps writing fast). The vocabulary is a plain
SentencePiece-style list ("<unk>", "<s>", "</s>", 256 byte tokens, then "t<i>") so that
llama.cpp loads the file; the engine's benchmark feeds token ids directly.

Usage: make_llama3_8b_shape.py OUT.gguf [--layers 32] [--seed 8] [--quant q8_0|q4_k_m]
"""
import argparse
import math
import sys

import numpy as np
import gguf

D, HEADS, KV_HEADS, FFN, VOCAB = 4096, 32, 8, 14336, 128256
HEAD_DIM = D // HEADS
Q = gguf.GGMLQuantizationType
# ggml type -> (values per block, bytes per block)
BLOCK = {Q.Q8_0: (32, 34), Q.Q4_K: (256, 144), Q.Q6_K: (256, 210)}


def pool_bytes(rng, pool, need):
    """`need` bytes from the pool, from seeded offsets (wrapping), as uint8."""
    vals = np.empty(need, dtype=np.int8)
    off = int(rng.integers(0, pool.size - 32))
    pos = 0
    while pos < need:  # (this draw order keeps the q8_0 files the bytes they always were)
        take = min(need - pos, pool.size - off)
        vals[pos:pos + take] = pool[off:off + take]
        pos += take
        off = int(rng.integers(0, pool.size - 32))
    return vals.view(np.uint8)


def f16_bytes(x):
    return np.frombuffer(np.float16(x).tobytes(), dtype=np.uint8)


def weight_bytes(rng, pool, qtype, n, k):
    """n x k weights of `qtype` as raw bytes, shape (n, k/block*block_bytes) uint8."""
    values, size = BLOCK[qtype]
    blocks = n * (k // values)
    if qtype == Q.Q8_0:  # f16 d, 32 int8 quants
        out = np.empty((blocks, size), dtype=np.uint8)
        out[:, 0:2] = f16_bytes(1.0 / (73.0 * math.sqrt(k)))
        out[:, 2:] = pool_bytes(rng, pool, blocks * 32).reshape(blocks, 32)
        return out.reshape(n, (k // values) * size)
    out = pool_bytes(rng, pool, blocks * size).reshape(blocks, size)
    if qtype == Q.Q4_K:  # f16 d, f16 dmin, 12 bytes of 6-bit scales/mins, 128 of nibbles
        d = 1.0 / (263.0 * math.sqrt(k))
        out[:, 0:2] = f16_bytes(d)
        out[:, 2:4] = f16_bytes(7.5 * d)
    else:  # Q6_K: 192 bytes of quant bits, 16 int8 scales, f16 d
        out[:, 208:210] = f16_bytes(1.0 / (1366.0 * math.sqrt(k)))
    return out.reshape(n, (k // values) * size)


def use_more_bits(i, n):
    """llama.cpp's rule for the layers whose attn_v / ffn_down Q4_K_M keeps in Q6_K."""
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def weight_type(quant, name, layer, layers):
    if quant == "q8_0":
        return Q.Q8_0
    if name == "output.weight":
        return Q.Q6_K
    if name.endswith(("attn_v.weight", "ffn_down.weight")) and use_more_bits(layer, layers):
        return Q.Q6_K
    return Q.Q4_K


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=32)
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--quant", choices=["q8_0", "q4_k_m"], default="q8_0")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    pool = rng.integers(-127, 128, size=64 << 20, dtype=np.int8)

    w = gguf.GGUFWriter(args.out, "llama")
    w.add_name(f"llama3-8b-shape-synthetic-{args.quant}-{args.layers}L")
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
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0 if args.quant == "q8_0"
                    else gguf.LlamaFileType.MOSTLY_Q4_K_M)
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

    # (name, n, k, layer) of each matrix, in file order; None k = F32 norm of length n.
    plan = [("token_embd.weight", VOCAB, D, -1)]
    for i in range(args.layers):
        b = f"blk.{i}."
        plan += [(b + "attn_norm.weight", D, None, i),
                 (b + "attn_q.weight", D, D, i),
                 (b + "attn_k.weight", KV_HEADS * HEAD_DIM, D, i),
                 (b + "attn_v.weight", KV_HEADS * HEAD_DIM, D, i),
                 (b + "attn_output.weight", D, D, i),
                 (b + "ffn_norm.weight", D, None, i),
                 (b + "ffn_gate.weight", FFN, D, i),
                 (b + "ffn_up.weight", FFN, D, i),
                 (b + "ffn_down.weight", D, FFN, i)]
    plan += [("output_norm.weight", D, None, -1), ("output.weight", VOCAB, D, -1)]
    for name, n, k, layer in plan:
        if k is None:
            w.add_tensor_info(name, (n,), np.dtype(np.float32), n * 4)
        else:
            qtype = weight_type(args.quant, name, layer, args.layers)
            values, size = BLOCK[qtype]
            w.add_tensor_info(name, (n, k // values * size), np.dtype(np.uint8),
                              n * k // values * size, raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    total = 0
    for name, n, k, layer in plan:
        if k is None:
            t = np.ones(n, dtype=np.float32)
        else:
            t = weight_bytes(rng, pool, weight_type(args.quant, name, layer, args.layers), n, k)
        w.write_tensor_data(t)
        total += t.nbytes
    w.close()
    print(f"wrote {args.out}: {args.layers} layers, {total / 1e9:.2f} GB of tensors", file=sys.stderr)


if __name__ == "__main__":
    main()
