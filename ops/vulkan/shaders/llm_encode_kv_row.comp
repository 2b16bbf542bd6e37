// Copyright 2026 The datanode Authors.
//
// Llm EncodeKvRow (spec §8.10 cache format, ops/reference/llm_attention.cc): each f32 of
// one position's K or V row becomes round_f16_sat(x), little-endian u16s in row order.
// One invocation per output word (two values; rows are n_kv_heads * head_dim values,
// head_dim a multiple of 32, so the count is even).
#version 450
#extension GL_GOOGLE_include_directive : require

#include "llm_fixed.glsl"

layout(local_size_x = 64, local_size_y = 1, local_size_z = 1) in;

layout(std430, binding = 0) readonly buffer RowBuf { uint row[]; };
layout(std430, binding = 1) writeonly buffer OutBuf { uint out_words[]; };

layout(push_constant) uniform Params {
  uint words;       // values / 2
  uint group_base;  // workgroup offset (large grids are split)
} params;

void main() {
  uint i = (gl_WorkGroupID.x + params.group_base) * 64u + gl_LocalInvocationID.x;
  if (i >= params.words) return;
  // A loop, not two calls in one expression: Debian 12's glslc -O segfaults on the latter.
  uint w = 0u;
  for (uint h = 0u; h < 2u; ++h) w |= round_f16_sat_bits(row[2u * i + h]) << (16u * h);
  out_words[i] = w;
}
