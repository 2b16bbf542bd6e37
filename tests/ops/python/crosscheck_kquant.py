#!/usr/bin/env python3
# Copyright 2026 The datanode Authors.
"""Independent check of the K-quant weights (docs/determinism.md §3.4 and §8.5).

1. Layout against llama.cpp: decodes random Q4_K / Q6_K super-blocks with numpy from the
   spec's text and compares every value with gguf-py's `gguf.quants.dequantize` (the
   Python port of llama.cpp's dequantize_row_q4_K / q6_K). The super-blocks have random
   quant and scale bytes and f16 scales chosen so that gguf-py's float32 steps are exact
   (Q4_K: d and dmin share an exponent), so the comparison is bit for bit.
2. The reference against the spec: the exact product of §3.4 in Python integers, rounded
   once (§5, llm_crosscheck.round32), against the reference backend's matmul_q8_0_q4_k /
   matmul_q8_0_q6_k bytes, and the §8.5 row values against DequantizeRow, on random
   inputs (every f16 scale class, scales of -128, the longest K).

Usage: crosscheck_kquant.py PATH_TO_ops_llm_crosscheck_tool [CASES]. Exit 77 (ctest SKIP)
when numpy or gguf is not installed.
"""
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from llm_crosscheck import round32  # noqa: E402  (the §5 rounding, plain integers)

try:
    import numpy as np
    from gguf.constants import GGMLQuantizationType
    from gguf.quants import dequantize as gguf_dequantize
except ImportError as e:
    print("numpy / gguf not installed (%s): skipping" % e)
    sys.exit(77)

Q4_K_BYTES, Q6_K_BYTES, Q8_0_BYTES = 144, 210, 34
ROW_FORMAT = {"q4_k": 6, "q6_k": 7}  # llm::RowFormat values


def f16_units(bits):
    """f16 bits (uint16 array) -> exact values in units of 2^-24 (int64 array)."""
    bits = bits.astype(np.int64)
    be, frac = (bits >> 10) & 31, bits & 1023
    m = np.where(be > 0, frac | 1024, frac)
    shift = np.where(be > 0, be - 1, 0)  # m * 2^(e + 24) with e = be - 25, or -24
    units = m << shift
    return np.where(bits >> 15 == 1, -units, units)


def u16(blocks, offset):
    return blocks[:, offset].astype(np.uint16) | (blocks[:, offset + 1].astype(np.uint16) << 8)


def decode_q4_k(blocks):
    """[n, 144] uint8 -> [n, 256] exact values in units of 2^-24 (int64)."""
    d, dmin = f16_units(u16(blocks, 0)), f16_units(u16(blocks, 2))
    s = blocks[:, 4:16].astype(np.int64)
    qs = blocks[:, 16:144].astype(np.int64)
    out = np.zeros((blocks.shape[0], 256), dtype=np.int64)
    for b in range(8):
        if b < 4:
            sc, mn = s[:, b] & 63, s[:, b + 4] & 63
        else:
            sc = (s[:, b + 4] & 15) | ((s[:, b - 4] >> 6) << 4)
            mn = (s[:, b + 4] >> 4) | ((s[:, b] >> 6) << 4)
        for j in range(32):
            nib = (qs[:, 32 * (b // 2) + j] >> (4 * (b % 2))) & 15
            out[:, 32 * b + j] = d * sc * nib - dmin * mn
    return out


def decode_q6_k(blocks):
    """[n, 210] uint8 -> [n, 256] exact values in units of 2^-24 (int64)."""
    ql = blocks[:, 0:128].astype(np.int64)
    qh = blocks[:, 128:192].astype(np.int64)
    scales = blocks[:, 192:208].view(np.int8).astype(np.int64)
    d = f16_units(u16(blocks, 208))
    out = np.zeros((blocks.shape[0], 256), dtype=np.int64)
    for v in range(256):
        h, p, l = v // 128, (v % 128) // 32, v % 32
        low = (ql[:, 64 * h + 32 * (p % 2) + l] >> (4 * (p // 2))) & 15
        high = (qh[:, 32 * h + l] >> (2 * p)) & 3
        out[:, v] = d * scales[:, v // 16] * ((low | (high << 4)) - 32)
    return out


DECODE = {"q4_k": decode_q4_k, "q6_k": decode_q6_k}
BYTES = {"q4_k": Q4_K_BYTES, "q6_k": Q6_K_BYTES}


# --- random inputs ---
def f16_bits(rnd, kind):
    """A finite f16: 'normal' (exponent 5..25), 'any' (every finite value), 'tiny'."""
    if kind == "tiny":
        return rnd.choice([0x0001, 0x0002, 0x03FF, 0x0400, 0x8001])
    if kind == "max":
        return rnd.choice([0x7BFF, 0xFBFF])
    if kind == "any":
        while True:
            b = rnd.getrandbits(16)
            if (b >> 10) & 31 != 31:
                return b
    return rnd.getrandbits(1) << 15 | rnd.randrange(5, 26) << 10 | rnd.getrandbits(10)


def put16(buf, off, v):
    buf[off], buf[off + 1] = v & 0xFF, v >> 8


def random_super_block(rnd, fmt, scale_kind, gguf_exact=False):
    blk = bytearray(rnd.getrandbits(8) for _ in range(BYTES[fmt]))
    if fmt == "q4_k":
        d = f16_bits(rnd, scale_kind)
        dmin = f16_bits(rnd, scale_kind)
        if gguf_exact:  # same exponent field: d*sc*nib - dmin*mn is exact in float32
            dmin = (dmin & 0x83FF) | (d & 0x7C00)
        put16(blk, 0, d)
        put16(blk, 2, dmin)
    else:
        if rnd.random() < 0.2:  # -128 scales and all-ones / all-zero quant bytes
            for j in range(192, 208):
                blk[j] = rnd.choice([0x80, 0x7F, blk[j]])
            fill = rnd.choice([0x00, 0xFF])
            for j in range(rnd.randrange(192)):
                blk[j] = fill
        put16(blk, 208, f16_bits(rnd, scale_kind))
    return bytes(blk)


def q8_0_row(rnd, k, scale_kind):
    row = bytearray()
    for _ in range(k // 32):
        d = f16_bits(rnd, scale_kind) if rnd.random() < 0.95 else 0
        row += bytes([d & 0xFF, d >> 8])
        if scale_kind == "max":
            row += bytes((rnd.choice([127, -127]) & 0xFF) for _ in range(32))
        else:
            row += bytes((rnd.randrange(-127, 128) & 0xFF) for _ in range(32))
    return bytes(row)


def q8_0_units(row):
    """Q8_0 row bytes -> (per 32-block d in units of 2^-24, per value int8 quants)."""
    a = np.frombuffer(row, dtype=np.uint8).reshape(-1, Q8_0_BYTES)
    d = f16_units(u16(a, 0))
    q = a[:, 2:].view(np.int8).astype(np.int64)
    return d.tolist(), q.tolist()


def exact_dot_units48(a_row, w_values):
    """sum_k a_k * w_k in units of 2^-48, as a Python int (w_values: units of 2^-24)."""
    d, q = q8_0_units(a_row)
    total = 0
    for b, (db, qb) in enumerate(zip(d, q)):
        if db == 0:
            continue
        wb = w_values[32 * b:32 * b + 32]
        total += db * sum(x * y for x, y in zip(qb, wb))
    return total


# --- the checks ---
def check_layout_against_gguf(rnd, n_blocks):
    bad = 0
    for fmt, qtype in (("q4_k", GGMLQuantizationType.Q4_K), ("q6_k", GGMLQuantizationType.Q6_K)):
        raw = b"".join(random_super_block(rnd, fmt, rnd.choice(["normal", "tiny", "max"]),
                                          gguf_exact=True) for _ in range(n_blocks))
        blocks = np.frombuffer(raw, dtype=np.uint8).reshape(n_blocks, BYTES[fmt])
        ours = DECODE[fmt](blocks)
        theirs = gguf_dequantize(blocks.reshape(-1), qtype).reshape(n_blocks, 256)
        theirs_bits = theirs.view(np.uint32)
        for i in range(n_blocks):
            for v in range(256):
                want = round32(int(ours[i, v]), -24)
                got = int(theirs_bits[i, v])
                if want == 0 and got == 0x80000000:
                    got = 0  # gguf-py's -0 (d * -0) is our +0: the value is the same
                if want != got:
                    bad += 1
                    if bad <= 5:
                        print("LAYOUT MISMATCH %s block %d value %d: spec %08x gguf-py %08x"
                              % (fmt, i, v, want, got))
        print("%s: %d super-blocks (%d values) decoded like gguf-py" % (fmt, n_blocks,
                                                                     n_blocks * 256))
    return bad


def run_tool(tool, lines):
    out = subprocess.run([tool], input="\n".join(lines) + "\n", capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert len(out) == len(lines), (len(out), len(lines))
    return out


def check_reference(tool, rnd, count):
    todo = []  # (tool line, expected output)
    for c in range(count):
        fmt = ("q4_k", "q6_k")[c % 2]
        scale_kind = ["normal", "any", "tiny", "max"][(c // 2) % 4]
        # Rows.
        d = rnd.choice([256, 512, 1024])
        row = b"".join(random_super_block(rnd, fmt, scale_kind) for _ in range(d // 256))
        values = DECODE[fmt](np.frombuffer(row, dtype=np.uint8).reshape(-1, BYTES[fmt]))
        want = " ".join("%08x" % round32(int(x), -24) for x in values.reshape(-1))
        todo.append(("dequant %d %d %s" % (ROW_FORMAT[fmt], d, row.hex()), want))
        # Matmuls.
        m, n = rnd.choice([1, 2, 3]), rnd.choice([1, 2, 5])
        k = 130816 if c == count - 1 or c == count - 2 else rnd.choice([256, 512, 768, 4352])
        a_rows = [q8_0_row(rnd, k, scale_kind) for _ in range(m)]
        w_rows = [b"".join(random_super_block(rnd, fmt, scale_kind) for _ in range(k // 256))
                  for _ in range(n)]
        w_values = [DECODE[fmt](np.frombuffer(r, dtype=np.uint8).reshape(-1, BYTES[fmt]))
                    .reshape(-1).tolist() for r in w_rows]
        out = b""
        for a in a_rows:
            for wv in w_values:
                out += round32(exact_dot_units48(a, wv), -48).to_bytes(4, "little")
        todo.append(("matmul matmul_q8_0_%s %d %d %d %s %s" % (fmt, m, n, k, b"".join(a_rows).hex(),
                                                             b"".join(w_rows).hex()), out.hex()))
    got = run_tool(tool, [line for line, _ in todo])
    bad = 0
    for (line, want), g in zip(todo, got):
        if want != g:
            bad += 1
            if bad <= 5:
                print("MISMATCH", line[:120], "\n  python:", want[:200], "\n  c++:   ", g[:200])
    print("%d reference cases (rows and matmuls), %d mismatches" % (len(todo), bad))
    return bad


def main():
    tool = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 24
    rnd = random.Random(20261207)
    bad = check_layout_against_gguf(rnd, 400)
    bad += check_reference(tool, rnd, count)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
