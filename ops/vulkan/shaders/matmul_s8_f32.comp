// Copyright 2026 The datanode Authors.
//
// kMatMulS8F32: A s8 x W s8 -> C f32 with per-row / per-column f32 scales, one rounding
// (the kernel body is matmul_s8_f32.glsl).
#version 450
#extension GL_GOOGLE_include_directive : require

#include "matmul_s8_f32.glsl"
