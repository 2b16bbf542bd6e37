// Copyright 2026 The datanode Authors.
//
// kMatMulS8S32: C s32[m, n] = sum_k A[m, k] * W[n, k], exact (see matmul_s8_tile.glsl).
#version 450
#extension GL_GOOGLE_include_directive : require

#include "matmul_s8_tile.glsl"

layout(std430, binding = 2) writeonly buffer CBuf { uint c[]; };

void main() {
  uint row0 = (gl_WorkGroupID.y + params.tile_m_base) * TILE;
  uint col0 = (gl_WorkGroupID.x + params.tile_n_base) * TILE;
  int acc[PER_THREAD][PER_THREAD];
  s8_tile_sums(row0, col0, acc);
  for (int i = 0; i < PER_THREAD; ++i) {
    uint row = row0 + gl_LocalInvocationID.y + 16u * uint(i);
    for (int j = 0; j < PER_THREAD; ++j) {
      uint col = col0 + gl_LocalInvocationID.x + 16u * uint(j);
      if (row < params.m && col < params.n) c[row * params.n + col] = uint(acc[i][j]);
    }
  }
}
