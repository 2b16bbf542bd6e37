// Copyright 2026 The datanode Authors.
//
// Llm RoPE Apply (spec §8.9, ops/reference/llm_rope.cc): within each head, pair i < pairs
// of (x[2i], x[2i+1]) becomes (round_f32(x0 C - x1 S), round_f32(x0 S + x1 C)) with the
// table's Q1.30 C, S of this position (built on the host by RopeTable; uploaded as
// cs[0 .. pairs) = C, cs[pairs .. 2 pairs) = S); values of a head past 2 * pairs are
// copied. Each product |m| * |C| < 2^24 * 2^30 is formed exactly with umulExtended and the
// two-term sum rounded once (round_sum2_u64_to_f32_bits). One invocation per element.
#version 450
#extension GL_GOOGLE_include_directive : require

#include "llm_fixed.glsl"

layout(local_size_x = 64, local_size_y = 1, local_size_z = 1) in;

layout(std430, binding = 0) readonly buffer XBuf { uint x[]; };
layout(std430, binding = 1) readonly buffer TableBuf { int cs[]; };
layout(std430, binding = 2) writeonly buffer OutBuf { uint out_bits[]; };

layout(push_constant) uniform Params {
  uint n;           // elements: n_heads * head_dim
  uint group_base;  // workgroup offset (large grids are split)
  uint head_dim;
  uint pairs;       // rope_dim / 2
} params;

// |m * q| (m a decoded f32 mantissa, q a Q1.30 table value) and its sign.
uvec2 product(int m, int q, out bool negative) {
  uint hi, lo;
  umulExtended(uint(abs(m)), uint(abs(q)), hi, lo);
  negative = (m < 0) != (q < 0);
  return uvec2(lo, hi);
}

void main() {
  uint i = (gl_WorkGroupID.x + params.group_base) * 64u + gl_LocalInvocationID.x;
  if (i >= params.n) return;
  uint idx = i % params.head_dim;
  if (idx >= 2u * params.pairs) {
    out_bits[i] = x[i];
    return;
  }
  uint pair = idx / 2u;
  uint first = i - (idx & 1u);
  int c = cs[pair];
  int s = cs[params.pairs + pair];
  int am, ae, bm, be;
  decode_f32(x[first], am, ae);
  decode_f32(x[first + 1u], bm, be);
  bool na, nb;
  uvec2 ta, tb;
  if ((idx & 1u) == 0u) {  // x0 C - x1 S
    ta = product(am, c, na);
    tb = product(bm, s, nb);
    nb = !nb;
  } else {  // x0 S + x1 C
    ta = product(am, s, na);
    tb = product(bm, c, nb);
  }
  out_bits[i] = round_sum2_u64_to_f32_bits(ta, na, ae - 30, tb, nb, be - 30);
}
