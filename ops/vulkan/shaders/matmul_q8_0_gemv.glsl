// Copyright 2026 The datanode Authors.
//
// Small-M (decode) kernel body of A Q8_0 x W {Q8_0, Q4_0, Q4_1, Q4_K, Q6_K} -> C f32, for
// small M (the host's kQ8GemvMaxM; included by matmul_q8_0_*_gemv.comp, which set
// W_FORMAT; not a kernel itself). Same spec, layouts, terms (with their bounds) and exact
// 128-bit fixed point as matmul_q8_0_tile.glsl, but no 64-row tile: A holds exactly M
// rows (no padding), W the same zero-padded columns (prepared weights are shared by both
// kernels).
//
// A workgroup of 256 invocations computes GEMV_COLS = 32 columns of GEMV_MAX_M = 8 rows
// (workgroup y picks the group of 8 rows):
// invocation t owns column c = t / 8 and K slice s = t % 8, i.e. the blocks b with
// b % 8 == s (neighbouring invocations read neighbouring blocks of one W row; for the
// K-quants s is also the slice within each 256-value super-block). Each
// keeps one 128-bit accumulator per row; the 8 slice accumulators of a (row, column)
// are then added in slice order through shared memory and rounded once with the same
// round_s128_to_f32_bits(acc, -48) as the tile. Integer addition modulo 2^128 is
// associative, so the slicing cannot change a bit.
#ifndef DATANODE_VULKAN_MATMUL_Q8_0_GEMV_GLSL_
#define DATANODE_VULKAN_MATMUL_Q8_0_GEMV_GLSL_

#include "matmul_q8_0_common.glsl"

#define GEMV_MAX_M 8
#define GEMV_COLS 32
#define GEMV_SLICES 8

layout(local_size_x = 256, local_size_y = 1, local_size_z = 1) in;

layout(push_constant) uniform Params {
  uint m;          // rows of C
  uint n;          // columns of C
  uint blocks;     // K / 32
  uint row_base;   // workgroup offset along y, in groups of GEMV_MAX_M rows
  uint col_base;   // workgroup offset along x (large grids are split)
} params;

shared uvec4 partial[GEMV_COLS * GEMV_SLICES];

void main() {
  uint t = gl_LocalInvocationID.x;
  uint s = t % GEMV_SLICES;
  uint col = (gl_WorkGroupID.x + params.col_base) * GEMV_COLS + t / GEMV_SLICES;
  uint blocks = params.blocks;
  uint row0 = (gl_WorkGroupID.y + params.row_base) * GEMV_MAX_M;
  uint m = min(params.m - row0, uint(GEMV_MAX_M));  // rows of this workgroup

  uvec4 acc[GEMV_MAX_M];
  for (int r = 0; r < GEMV_MAX_M; ++r) acc[r] = uvec4(0u);

  for (uint b = s; b < blocks; b += GEMV_SLICES) {
    int wm, we;  // d (Q4_K: d * sc), as mantissa * 2^exponent
#if W_HAS_MIN
    int mm, me;  // Q4_1: m; Q4_K: -(dmin * mn)
#endif
#if W_FORMAT == W_Q6_K
    int sc0, sc1;
    uvec4 w0;
    uvec2 wh;
    uint sb = col * (blocks / KQ_SLICES) + b / KQ_SLICES;
    q6_k_words(sb, s, w0, wh);
    q6_k_scales(sb, s, wm, we, sc0, sc1);
#elif W_FORMAT == W_Q4_K
    uvec4 w0 = w_qs[col * blocks + b];
    q4_k_scales(col * (blocks / KQ_SLICES) + b / KQ_SLICES, s, wm, we, mm, me);
#else
    uint wbase = (col * blocks + b) * W_VEC4;
    uvec4 w0 = w_qs[wbase];
    uint dm = w_d[col * blocks + b];
    decode_f16(dm & 0xFFFFu, wm, we);
#if W_FORMAT == W_Q4_1
    decode_f16(dm >> 16, mm, me);
#endif
#endif
#if W_FORMAT == W_Q8_0
    uvec4 w1 = w_qs[wbase + 1u];
    uint ww[8] = uint[8](w0.x, w0.y, w0.z, w0.w, w1.x, w1.y, w1.z, w1.w);
#else
    uint ww[4] = uint[4](w0.x, w0.y, w0.z, w0.w);
#endif
    for (int r = 0; r < GEMV_MAX_M; ++r) {
      if (uint(r) >= m) break;
      uint ablock = (row0 + uint(r)) * blocks + b;
      uvec4 a0 = a_qs[ablock * 2u];
      uvec4 a1 = a_qs[ablock * 2u + 1u];
      uint aw[8] = uint[8](a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w);
      int isum = 0;
      int asum = 0;
#if W_FORMAT == W_Q8_0
      for (int kw = 0; kw < 8; ++kw) isum += hsum(s8x4(aw[kw]) * s8x4(ww[kw]));
#elif W_FORMAT == W_Q6_K
      // Values 0..15 (low nibbles) carry scale sc0, values 16..31 (high nibbles) sc1.
      int isum1 = 0;
      for (int kw = 0; kw < 4; ++kw) {
        isum += hsum(s8x4(aw[kw]) * q6x4(ww[kw], 0, wh.x, kw));
        isum1 += hsum(s8x4(aw[kw + 4]) * q6x4(ww[kw], 4, wh.y, kw));
      }
      isum = sc0 * isum + sc1 * isum1;
#else
      // Nibble word kw holds values 4kw..4kw+3 (low) and 16+4kw.. (high), which meet
      // A words kw and kw + 4.
      for (int kw = 0; kw < 4; ++kw) {
        ivec4 lo = s8x4(aw[kw]);
        ivec4 hi = s8x4(aw[kw + 4]);
        isum += hsum(lo * nibbles(ww[kw], 0) + hi * nibbles(ww[kw], 4));
#if W_HAS_MIN
        asum += hsum(lo + hi);
#endif
      }
#endif
      int am, ae;
      decode_f16(a_d[ablock] & 0xFFFFu, am, ae);
      acc[r] = add_term(acc[r], am * wm, isum, ae + we + 48);
#if W_HAS_MIN
      acc[r] = add_term(acc[r], am * mm, asum, ae + me + 48);
#endif
    }
  }

  // Fixed combination: slice 0 of each column adds slices 0..7 in order, rounds once.
  for (int r = 0; r < GEMV_MAX_M; ++r) {
    if (uint(r) >= m) break;  // m is uniform: every invocation leaves together
    partial[t] = acc[r];
    barrier();
    if (s == 0u) {
      uvec4 sum = partial[t];
      for (uint i = 1u; i < GEMV_SLICES; ++i) sum = u128_add(sum, partial[t + i]);
      if (col < params.n) {
        c[(row0 + uint(r)) * params.n + col] = round_s128_to_f32_bits(sum, -48);
#ifdef EXACT_OUT
        e[(row0 + uint(r)) * params.n + col] = sum;  // the unrounded sum (common.glsl)
#endif
      }
    }
    barrier();
  }
}

#endif  // DATANODE_VULKAN_MATMUL_Q8_0_GEMV_GLSL_
