// Copyright 2026 The datanode Authors.
//
// kMatMulQ8_0Q4_1Gemv: A Q8_0 x W Q4_1 -> C f32 for small M (decode), exact fixed point
// and one rounding (the kernel body is matmul_q8_0_gemv.glsl).
#version 450
#extension GL_GOOGLE_include_directive : require

#define W_FORMAT 2
#include "matmul_q8_0_gemv.glsl"
