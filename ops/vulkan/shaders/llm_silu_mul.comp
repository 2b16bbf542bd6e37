// Copyright 2026 The datanode Authors.
//
// Llm SiluMul (spec §8.8, ops/reference/llm_silu_mul.cc): out_i = round_f32(g_i u_i
// sigma(g_i)) with the spec's fixed-point logistic:
//   (e, k) = ExpNeg(|g|); den = 2^30 + (k >= -30 ? e >> -k : 0);
//   g >= 0: sigma = floor(2^61 / den) 2^-31;  g < 0: sigma = floor(e 2^31 / den) 2^(k-31).
// 64-bit steps emulated (llm_fixed.glsl); one rounding. One invocation per element.
#version 450
#extension GL_GOOGLE_include_directive : require

#include "llm_fixed.glsl"

layout(local_size_x = 64, local_size_y = 1, local_size_z = 1) in;

layout(std430, binding = 0) readonly buffer GateBuf { uint gate[]; };
layout(std430, binding = 1) readonly buffer UpBuf { uint up[]; };
layout(std430, binding = 2) writeonly buffer OutBuf { uint out_bits[]; };

layout(push_constant) uniform Params {
  uint n;           // elements
  uint group_base;  // workgroup offset (large grids are split)
} params;

void main() {
  uint i = (gl_WorkGroupID.x + params.group_base) * 64u + gl_LocalInvocationID.x;
  if (i >= params.n) return;
  int gm, ge, um, ue;
  decode_f32(gate[i], gm, ge);
  decode_f32(up[i], um, ue);
  int k;
  uint e = exp_neg(uint(abs(gm)), ge, k);
  uint den = (1u << 30) + (k >= -30 ? e >> uint(-k) : 0u);  // < 2^32
  uint sigma;
  int sigma_exp;
  if (gm >= 0) {
    sigma = u64_div32(uvec2(0u, 1u << 29), den).x;  // 2^61 / den <= 2^31
    sigma_exp = -31;
  } else {
    sigma = u64_div32(u64_shl(uvec2(e, 0u), 31), den).x;  // < 2^31
    sigma_exp = k - 31;
  }
  uvec2 gu = u64_mul32(uint(abs(gm)), uint(abs(um)));  // < 2^48
  uvec4 mag = u64_mul_to_128(gu, uvec2(sigma, 0u));
  bool negative = (gm < 0) != (um < 0);
  out_bits[i] = round_s128_to_f32_bits(s128_from(mag, negative), ge + ue + sigma_exp);
}
