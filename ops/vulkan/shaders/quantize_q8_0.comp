// Copyright 2026 The datanode Authors.
//
// kQuantizeQ8_0, one invocation per 32-value block (ops/reference/quantize_q8_0.cc):
//   amax = max_j |x_j|, d = round_f16(amax / 127) (exact quotient, one rounding),
//   q_j = d == 0 ? 0 : clamp(round_half_even(x_j / d), -127, 127).
// All integer (exact_int.glsl).
//
// Layout: X is f32[blocks * 32] read as uvec4; the block's 32 int8 go to qs (2 uvec4
// per block) and d's f16 bits to d (one word per block); the host interleaves them into
// 34-byte ggml blocks (unaligned, so not written from here).
#version 450
#extension GL_GOOGLE_include_directive : require

#include "exact_int.glsl"

layout(local_size_x = 64, local_size_y = 1, local_size_z = 1) in;

layout(std430, binding = 0) readonly buffer XBuf { uvec4 x[]; };
layout(std430, binding = 1) writeonly buffer QsBuf { uvec4 qs[]; };
layout(std430, binding = 2) writeonly buffer DBuf { uint d[]; };

layout(push_constant) uniform Params {
  uint blocks;      // total blocks (m * k / 32)
  uint group_base;  // workgroup offset (large grids are split)
} params;

void main() {
  uint block = (gl_WorkGroupID.x + params.group_base) * 64u + gl_LocalInvocationID.x;
  if (block >= params.blocks) return;
  uvec4 v[8];
  uint amax = 0u;
  for (int i = 0; i < 8; ++i) {
    v[i] = x[block * 8u + uint(i)];
    uvec4 a = v[i] & uvec4(0x7FFFFFFFu);
    amax = max(amax, max(max(a.x, a.y), max(a.z, a.w)));
  }
  uint d_bits = 0u;
  if (amax != 0u) {
    int am, ae;
    decode_f32(amax, am, ae);
    int adjust;
    uvec4 quotient = quotient_with_sticky(uint(am), 127u, adjust);
    d_bits = round_ieee_bits(quotient, false, ae + adjust, 10, 5);
  }
  int dm, de;
  decode_f16(d_bits, dm, de);
  uint words[8];
  for (int i = 0; i < 8; ++i) {
    if (d_bits == 0u) {
      words[i] = 0u;
    } else {
      words[i] = pack_s8x4(quantize_exact(v[i].x, dm, de), quantize_exact(v[i].y, dm, de),
                           quantize_exact(v[i].z, dm, de), quantize_exact(v[i].w, dm, de));
    }
  }
  qs[block * 2u] = uvec4(words[0], words[1], words[2], words[3]);
  qs[block * 2u + 1u] = uvec4(words[4], words[5], words[6], words[7]);
  d[block] = d_bits;
}
