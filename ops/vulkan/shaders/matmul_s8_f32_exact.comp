// Copyright 2026 The datanode Authors.
//
// kMatMulS8F32Exact: matmul_s8_f32.comp plus the s32 isums before the scaling and its
// rounding (binding 5, Backend::WritesExactSums; see matmul_s8_f32.glsl).
#version 450
#extension GL_GOOGLE_include_directive : require

#define EXACT_OUT 1
#include "matmul_s8_f32.glsl"
