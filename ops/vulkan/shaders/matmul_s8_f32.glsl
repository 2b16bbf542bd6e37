// Copyright 2026 The datanode Authors.
//
// The kernel body of kMatMulS8F32 (included by matmul_s8_f32.comp and
// matmul_s8_f32_exact.comp; not a kernel itself):
// C f32[m, n] = round_f32(a_scale[m] * w_scale[n] * isum[m, n]), one rounding.
// The integer sum comes from matmul_s8_tile.glsl; the scales are decoded
// exactly, |a_mant * w_mant * isum| < 2^24 * 2^24 * 2^31 = 2^79 is formed in 32-bit
// limbs, and round_ieee_bits applies the single rounding (as ops/reference/
// matmul_s8_f32.cc does with int128).
#ifndef DATANODE_VULKAN_MATMUL_S8_F32_GLSL_
#define DATANODE_VULKAN_MATMUL_S8_F32_GLSL_

#include "exact_int.glsl"
#include "matmul_s8_tile.glsl"

layout(std430, binding = 2) writeonly buffer CBuf { uint c[]; };
layout(std430, binding = 3) readonly buffer AScaleBuf { uint a_scale[]; };
layout(std430, binding = 4) readonly buffer WScaleBuf { uint w_scale[]; };
#ifdef EXACT_OUT
// The exact-output variant only (matmul_s8_f32_exact.comp, Backend::WritesExactSums):
// E[row * n + col] = the element's s32 isum before the scaling and its one rounding (the
// spec's exact value for s8_f32, what verify::ComputeExactSums writes). The plain kernel
// has no binding 5.
layout(std430, binding = 5) writeonly buffer EBuf { int e[]; };
#endif

uint scaled_to_f32_bits(int isum, int am, int ae, int wm, int we) {
  bool negative = (isum < 0) != ((am < 0) != (wm < 0));
  uint mhi, mlo;
  umulExtended(uint(abs(am)), uint(abs(wm)), mhi, mlo);  // < 2^48
  uint s = uint(abs(isum));                             // < 2^31
  uint h1, l1, h2, l2;
  umulExtended(mlo, s, h1, l1);
  umulExtended(mhi, s, h2, l2);
  uint carry;
  uint y = uaddCarry(h1, l2, carry);
  uvec4 magnitude = uvec4(l1, y, h2 + carry, 0u);
  return round_ieee_bits(magnitude, negative, ae + we, 23, 8);
}

void main() {
  uint row0 = (gl_WorkGroupID.y + params.tile_m_base) * TILE;
  uint col0 = (gl_WorkGroupID.x + params.tile_n_base) * TILE;
  int acc[PER_THREAD][PER_THREAD];
  s8_tile_sums(row0, col0, acc);
  for (int i = 0; i < PER_THREAD; ++i) {
    uint row = row0 + gl_LocalInvocationID.y + 16u * uint(i);
    if (row >= params.m) continue;
    int am, ae;
    decode_f32(a_scale[row], am, ae);
    for (int j = 0; j < PER_THREAD; ++j) {
      uint col = col0 + gl_LocalInvocationID.x + 16u * uint(j);
      if (col >= params.n) continue;
      int wm, we;
      decode_f32(w_scale[col], wm, we);
      c[row * params.n + col] = scaled_to_f32_bits(acc[i][j], am, ae, wm, we);
#ifdef EXACT_OUT
      e[row * params.n + col] = acc[i][j];
#endif
    }
  }
}

#endif  // DATANODE_VULKAN_MATMUL_S8_F32_GLSL_
