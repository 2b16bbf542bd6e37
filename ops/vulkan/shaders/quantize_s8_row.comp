// Copyright 2026 The datanode Authors.
//
// kQuantizeS8Row, one workgroup per row (ops/reference/quantize_s8_row.cc):
//   amax = max_k |X[r, k]|, s = round_f32(amax / 127) (exact quotient, one rounding),
//   Q[r, k] = s == 0 ? 0 : clamp(round_half_even(X[r, k] / s), -127, 127).
// All integer: |x| is compared as bits (finite non-negative floats order like their
// bits), the quotient and the division use exact_int.glsl.
//
// Layout: X is f32[m, k] read as words; Q is written as rows of k_words words (k
// padded to a multiple of 4 with zeros; the host drops the padding), scale as f32 bits.
#version 450
#extension GL_GOOGLE_include_directive : require

#include "exact_int.glsl"

#define THREADS 256

layout(local_size_x = THREADS, local_size_y = 1, local_size_z = 1) in;

layout(std430, binding = 0) readonly buffer XBuf { uint x[]; };
layout(std430, binding = 1) writeonly buffer QBuf { uint q[]; };
layout(std430, binding = 2) writeonly buffer ScaleBuf { uint scale[]; };

layout(push_constant) uniform Params {
  uint m;         // rows
  uint k;         // values per row
  uint k_words;   // (k + 3) / 4
  uint row_base;  // row of workgroup 0 (large grids are split)
} params;

shared uint partial_max[THREADS];
shared uint scale_bits;

void main() {
  uint t = gl_LocalInvocationID.x;
  uint row = gl_WorkGroupID.x + params.row_base;
  if (row >= params.m) return;  // uniform per workgroup
  uint base = row * params.k;

  uint amax = 0u;
  for (uint i = t; i < params.k; i += THREADS) amax = max(amax, x[base + i] & 0x7FFFFFFFu);
  partial_max[t] = amax;
  barrier();
  for (uint stride = THREADS / 2u; stride > 0u; stride >>= 1) {
    if (t < stride) partial_max[t] = max(partial_max[t], partial_max[t + stride]);
    barrier();
  }
  if (t == 0u) {
    uint bits = 0u;
    uint top = partial_max[0];
    if (top != 0u) {
      int am, ae;
      decode_f32(top, am, ae);
      int adjust;
      uvec4 quotient = quotient_with_sticky(uint(am), 127u, adjust);
      bits = round_ieee_bits(quotient, false, ae + adjust, 23, 8);
    }
    scale_bits = bits;
    scale[row] = bits;
  }
  barrier();

  uint s = scale_bits;
  int sm, se;
  decode_f32(s, sm, se);
  for (uint w = t; w < params.k_words; w += THREADS) {
    int v[4];
    for (int j = 0; j < 4; ++j) {
      uint idx = w * 4u + uint(j);
      v[j] = (s == 0u || idx >= params.k) ? 0 : quantize_exact(x[base + idx], sm, se);
    }
    q[row * params.k_words + w] = pack_s8x4(v[0], v[1], v[2], v[3]);
  }
}
