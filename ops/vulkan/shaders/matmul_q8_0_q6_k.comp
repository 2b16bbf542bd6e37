// Copyright 2026 The datanode Authors.
//
// kMatMulQ8_0Q6_K: A Q8_0 x W Q6_K -> C f32, exact fixed point and one rounding
// (the kernel body is matmul_q8_0_tile.glsl).
#version 450
#extension GL_GOOGLE_include_directive : require

#define W_FORMAT 4
#include "matmul_q8_0_tile.glsl"
