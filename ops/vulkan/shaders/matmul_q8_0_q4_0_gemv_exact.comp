// Copyright 2026 The datanode Authors.
//
// kMatMulQ8_0Q4_0GemvExact: matmul_q8_0_q4_0_gemv.comp (small M) plus the exact sums
// before its rounding (binding 5, Backend::WritesExactSums; matmul_q8_0_common.glsl).
#version 450
#extension GL_GOOGLE_include_directive : require

#define W_FORMAT 1
#define EXACT_OUT 1
#include "matmul_q8_0_gemv.glsl"
