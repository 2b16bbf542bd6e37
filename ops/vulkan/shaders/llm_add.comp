// Copyright 2026 The datanode Authors.
//
// Llm Add (spec §8.6, ops/reference/llm_add.cc): out_i = round_f32(x_i + y_i), the exact
// sum rounded once (RoundSum2ToF32Bits, llm_fixed.glsl). One invocation per element.
#version 450
#extension GL_GOOGLE_include_directive : require

#include "llm_fixed.glsl"

layout(local_size_x = 64, local_size_y = 1, local_size_z = 1) in;

layout(std430, binding = 0) readonly buffer XBuf { uint x[]; };
layout(std430, binding = 1) readonly buffer YBuf { uint y[]; };
layout(std430, binding = 2) writeonly buffer OutBuf { uint out_bits[]; };

layout(push_constant) uniform Params {
  uint n;           // elements
  uint group_base;  // workgroup offset (large grids are split)
} params;

void main() {
  uint i = (gl_WorkGroupID.x + params.group_base) * 64u + gl_LocalInvocationID.x;
  if (i >= params.n) return;
  int am, ae, bm, be;
  decode_f32(x[i], am, ae);
  decode_f32(y[i], bm, be);
  out_bits[i] = round_sum2_to_f32_bits(am, ae, bm, be);
}
