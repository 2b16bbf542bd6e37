// Copyright 2026 The datanode Authors.
//
// Llm RmsNorm (spec §8.7, ops/reference/llm_rms_norm.cc) of one row x[n], n <= 2^15, in
// one workgroup of 256 invocations:
//  1. E = max exponent of the nonzero x_i (shared-memory max), S = sum t_i^2 with
//     t_i = (|m_i| + 2^(s-1)) >> s, s = E - e_i (uint64, exact: any order gives S);
//  2.-3. invocation 0: T = Norm62(S, 2E) + Norm62(n m_eps, e_eps) truncated, M = T / n
//     renormalized to [2^60, 2^62) with an even exponent, R = floor(2^62 / isqrt(M));
//  4. out_i = round_f32(m_i mg_i R 2^(e_i + eg_i - 62 - M_e / 2)), one rounding.
// 64-bit steps emulated on uvec2 (llm_fixed.glsl).
#version 450
#extension GL_GOOGLE_include_directive : require

#include "llm_fixed.glsl"

#define WG 256u

layout(local_size_x = 256, local_size_y = 1, local_size_z = 1) in;

layout(std430, binding = 0) readonly buffer XBuf { uint x[]; };
layout(std430, binding = 1) readonly buffer GainBuf { uint gain[]; };
layout(std430, binding = 2) writeonly buffer OutBuf { uint out_bits[]; };

layout(push_constant) uniform Params {
  uint n;         // row length, 1..2^15
  uint eps_bits;  // f32 bits of eps > 0
} params;

shared int s_max[256];
shared uvec2 s_sum[256];
shared uint s_r[2];  // R as a u64
shared int s_shift;  // -62 - M_e / 2

// Normalizes m (< 2^63) to [2^62, 2^63); 0 stays 0.
void norm62(inout uvec2 m, inout int e) {
  if (u64_is_zero(m)) {
    e = 0;
    return;
  }
  int len = u64_bit_length(m);
  m = u64_shl(m, 63 - len);
  e -= 63 - len;
}

uvec2 isqrt64(uvec2 v) {
  uvec2 result = uvec2(0u);
  uvec2 bit = uvec2(0u, 1u << 30);  // 2^62
  while (u64_less(v, bit)) bit = u64_shr(bit, 2);
  while (!u64_is_zero(bit)) {
    uvec2 rb = u64_add(result, bit);
    if (!u64_less(v, rb)) {
      v = u64_sub(v, rb);
      result = u64_add(u64_shr(result, 1), bit);
    } else {
      result = u64_shr(result, 1);
    }
    bit = u64_shr(bit, 2);
  }
  return result;
}

void main() {
  uint t = gl_LocalInvocationID.x;
  uint n = params.n;

  int local_max = -1000;
  for (uint i = t; i < n; i += WG) {
    int m, e;
    decode_f32(x[i], m, e);
    if (m != 0) local_max = max(local_max, e);
  }
  s_max[t] = local_max;
  barrier();
  for (uint w = WG / 2u; w > 0u; w >>= 1) {
    if (t < w) s_max[t] = max(s_max[t], s_max[t + w]);
    barrier();
  }
  int max_exp = s_max[0];

  uvec2 local_sum = uvec2(0u);
  if (max_exp != -1000) {
    for (uint i = t; i < n; i += WG) {
      int m, e;
      decode_f32(x[i], m, e);
      if (m == 0) continue;
      uint mag = uint(abs(m));
      int s = max_exp - e;
      uint v = s == 0 ? mag : (s >= 25 ? 0u : (mag + (1u << uint(s - 1))) >> uint(s));
      local_sum = u64_add(local_sum, u64_mul32(v, v));
    }
  }
  s_sum[t] = local_sum;
  barrier();
  for (uint w = WG / 2u; w > 0u; w >>= 1) {
    if (t < w) s_sum[t] = u64_add(s_sum[t], s_sum[t + w]);
    barrier();
  }

  if (t == 0u) {
    uvec2 a = s_sum[0];
    int ae = 2 * max_exp;
    norm62(a, ae);
    int em, ee;
    decode_f32(params.eps_bits, em, ee);
    uvec2 b = u64_mul32(n, uint(em));
    int be = ee;
    norm62(b, be);
    // AddTruncated(a, b).
    uvec2 tm;
    int te;
    if (u64_is_zero(a) || u64_is_zero(b)) {
      tm = u64_is_zero(a) ? b : a;
      te = u64_is_zero(a) ? be : ae;
    } else {
      if (ae < be) {
        uvec2 tmp = a; a = b; b = tmp;
        int te2 = ae; ae = be; be = te2;
      }
      int shift = ae - be;
      tm = u64_add(a, shift >= 64 ? uvec2(0u) : u64_shr(b, shift));
      te = ae;
    }
    uvec2 mm = u64_div32(tm, n);
    int me = te;
    int len = u64_bit_length(mm);
    if (len > 62) {
      mm = u64_shr(mm, len - 62);
      me += len - 62;
    } else {
      mm = u64_shl(mm, 62 - len);
      me -= 62 - len;
    }
    if ((me & 1) != 0) {
      mm = u64_shr(mm, 1);
      me += 1;
    }
    uvec2 root = isqrt64(mm);                        // in [2^30, 2^31)
    uvec2 r = u64_div32(uvec2(0u, 1u << 30), root.x);  // 2^62 / root
    s_r[0] = r.x;
    s_r[1] = r.y;
    s_shift = -62 - (me >> 1);  // me is even
  }
  barrier();
  uvec2 r = uvec2(s_r[0], s_r[1]);
  int shift = s_shift;
  for (uint i = t; i < n; i += WG) {
    int xm, xe, gm, ge;
    decode_f32(x[i], xm, xe);
    decode_f32(gain[i], gm, ge);
    uvec4 mag = u64_mul_to_128(u64_mul32(uint(abs(xm)), uint(abs(gm))), r);
    bool negative = (xm < 0) != (gm < 0);
    out_bits[i] = round_s128_to_f32_bits(s128_from(mag, negative), xe + ge + shift);
  }
}
