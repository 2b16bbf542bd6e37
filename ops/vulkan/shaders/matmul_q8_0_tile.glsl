// Copyright 2026 The datanode Authors.
//
// The kernel body of A Q8_0 x W {Q8_0, Q4_0, Q4_1} -> C f32 (included by
// matmul_q8_0_q8_0.comp, matmul_q8_0_q4_0.comp and matmul_q8_0_q4_1.comp, which set
// W_FORMAT; not a kernel itself).
//
// Spec (ops/reference/matmul_q8_0.cc): C[m, n] = round_f32(sum_b d_a d_w isum_b
// [+ d_a m_w asum_b for Q4_1]), the sum exact in fixed point with LSB 2^-48, one
// rounding. Here each term (f16 mantissa product < 2^22 times the block's integer sum
// < 2^19, i.e. < 2^41) is shifted by the exponent sum + 48 in [0, 58] into a 128-bit
// two's complement accumulator made of four 32-bit limbs with explicit carries, so
// no shaderInt64 is needed. Integer addition is associative: any tiling gives the
// reference's bits.
//
// Layout (prepared by the host, ops/vulkan/matmul_q8.cc): the ggml blocks are split
// into aligned arrays. a_qs: 8 words (32 int8) per block, a_d: one word per block (f16
// bits of d). w_qs: 8 words per block (Q8_0) or 4 words (Q4: the 16 nibble bytes;
// low nibbles are values 0..15, high nibbles 16..31). w_d: one word per block, d in
// bits 0..15 and (Q4_1) m in bits 16..31. Rows are padded with zero blocks to m_pad /
// n_pad, multiples of the tile, so loads need no bounds checks.
//
// A workgroup of 16 x 16 invocations computes a 64 x 32 tile of C; invocation (tx, ty)
// owns rows ty + 16 i (i < 4) and columns tx + 16 j (j < 2). One block (32 values of K)
// per step is staged in shared memory, transposed to [word][row].
#ifndef DATANODE_VULKAN_MATMUL_Q8_0_TILE_GLSL_
#define DATANODE_VULKAN_MATMUL_Q8_0_TILE_GLSL_

#include "matmul_q8_0_common.glsl"

#define TILE_M 64
#define TILE_N 32
#define ROWS_PER_THREAD 4
#define COLS_PER_THREAD 2

layout(local_size_x = 16, local_size_y = 16, local_size_z = 1) in;

layout(std430, binding = 0) readonly buffer AQsBuf { uvec4 a_qs[]; };
layout(std430, binding = 1) readonly buffer ADBuf { uint a_d[]; };
layout(std430, binding = 2) readonly buffer WQsBuf { uvec4 w_qs[]; };
layout(std430, binding = 3) readonly buffer WDBuf { uint w_d[]; };
layout(std430, binding = 4) writeonly buffer CBuf { uint c[]; };

layout(push_constant) uniform Params {
  uint m;            // rows of C
  uint n;            // columns of C
  uint blocks;       // K / 32
  uint tile_m_base;  // workgroup row-tile offset (large grids are split)
  uint tile_n_base;  // workgroup column-tile offset
} params;

shared uint tile_a[8][TILE_M];
shared uint tile_w[W_WORDS][TILE_N];
// Decoded f16 scales: mantissa, and exponent + 24 (in [0, 29]).
shared int a_mant[TILE_M];
shared int a_exp[TILE_M];
shared int w_mant[TILE_N];
shared int w_exp[TILE_N];
#if W_FORMAT == W_Q4_1
shared int m_mant[TILE_N];
shared int m_exp[TILE_N];
#endif

void main() {
  uint tx = gl_LocalInvocationID.x;
  uint ty = gl_LocalInvocationID.y;
  uint t = ty * 16u + tx;
  uint row0 = (gl_WorkGroupID.y + params.tile_m_base) * TILE_M;
  uint col0 = (gl_WorkGroupID.x + params.tile_n_base) * TILE_N;
  uint blocks = params.blocks;

  uvec4 acc[ROWS_PER_THREAD][COLS_PER_THREAD];
  for (int i = 0; i < ROWS_PER_THREAD; ++i) {
    for (int j = 0; j < COLS_PER_THREAD; ++j) acc[i][j] = uvec4(0u);
  }

  for (uint b = 0u; b < blocks; ++b) {
    // Stage: invocations 0..127 load A quants (64 rows x 2 uvec4), the next
    // TILE_N * W_VEC4 load W quants (and W scales), the last 64 decode A scales.
    if (t < 128u) {
      uint r = t >> 1;
      uint h = t & 1u;
      uvec4 v = a_qs[((row0 + r) * blocks + b) * 2u + h];
      tile_a[h * 4u][r] = v.x;
      tile_a[h * 4u + 1u][r] = v.y;
      tile_a[h * 4u + 2u][r] = v.z;
      tile_a[h * 4u + 3u][r] = v.w;
    } else if (t < 128u + TILE_N * W_VEC4) {
      uint idx = t - 128u;
      uint r = idx / W_VEC4;
      uint h = idx % W_VEC4;
      uvec4 v = w_qs[((col0 + r) * blocks + b) * W_VEC4 + h];
      tile_w[h * 4u][r] = v.x;
      tile_w[h * 4u + 1u][r] = v.y;
      tile_w[h * 4u + 2u][r] = v.z;
      tile_w[h * 4u + 3u][r] = v.w;
      if (h == 0u) {
        uint dm = w_d[(col0 + r) * blocks + b];
        int mant, e;
        decode_f16(dm & 0xFFFFu, mant, e);
        w_mant[r] = mant;
        w_exp[r] = e + 24;
#if W_FORMAT == W_Q4_1
        decode_f16(dm >> 16, mant, e);
        m_mant[r] = mant;
        m_exp[r] = e + 24;
#endif
      }
    }
    if (t >= 192u) {
      uint r = t - 192u;
      int mant, e;
      decode_f16(a_d[(row0 + r) * blocks + b] & 0xFFFFu, mant, e);
      a_mant[r] = mant;
      a_exp[r] = e + 24;
    }
    barrier();

    int isum[ROWS_PER_THREAD][COLS_PER_THREAD];
    int asum[ROWS_PER_THREAD];
    for (int i = 0; i < ROWS_PER_THREAD; ++i) {
      asum[i] = 0;
      for (int j = 0; j < COLS_PER_THREAD; ++j) isum[i][j] = 0;
    }
#if W_FORMAT == W_Q8_0
    for (int kw = 0; kw < 8; ++kw) {
      ivec4 av[ROWS_PER_THREAD];
      for (int i = 0; i < ROWS_PER_THREAD; ++i) av[i] = s8x4(tile_a[kw][ty + 16u * uint(i)]);
      for (int j = 0; j < COLS_PER_THREAD; ++j) {
        ivec4 wv = s8x4(tile_w[kw][tx + 16u * uint(j)]);
        for (int i = 0; i < ROWS_PER_THREAD; ++i) {
          isum[i][j] += av[i].x * wv.x + av[i].y * wv.y + av[i].z * wv.z + av[i].w * wv.w;
        }
      }
    }
#else
    // Word kw of the nibbles holds values 4kw..4kw+3 (low) and 16+4kw.. (high), which
    // meet A words kw and kw + 4.
    for (int kw = 0; kw < 4; ++kw) {
      ivec4 lo[ROWS_PER_THREAD];
      ivec4 hi[ROWS_PER_THREAD];
      for (int i = 0; i < ROWS_PER_THREAD; ++i) {
        lo[i] = s8x4(tile_a[kw][ty + 16u * uint(i)]);
        hi[i] = s8x4(tile_a[kw + 4][ty + 16u * uint(i)]);
#if W_FORMAT == W_Q4_1
        ivec4 s = lo[i] + hi[i];
        asum[i] += s.x + s.y + s.z + s.w;
#endif
      }
      for (int j = 0; j < COLS_PER_THREAD; ++j) {
        uint word = tile_w[kw][tx + 16u * uint(j)];
        ivec4 wl = nibbles(word, 0);
        ivec4 wh = nibbles(word, 4);
        for (int i = 0; i < ROWS_PER_THREAD; ++i) {
          ivec4 p = lo[i] * wl + hi[i] * wh;
          isum[i][j] += p.x + p.y + p.z + p.w;
        }
      }
    }
#endif
    for (int i = 0; i < ROWS_PER_THREAD; ++i) {
      uint r = ty + 16u * uint(i);
      int am = a_mant[r];
      int ae = a_exp[r];
      for (int j = 0; j < COLS_PER_THREAD; ++j) {
        uint cidx = tx + 16u * uint(j);
        acc[i][j] = add_term(acc[i][j], am * w_mant[cidx], isum[i][j], ae + w_exp[cidx]);
#if W_FORMAT == W_Q4_1
        acc[i][j] = add_term(acc[i][j], am * m_mant[cidx], asum[i], ae + m_exp[cidx]);
#endif
      }
    }
    barrier();
  }

  for (int i = 0; i < ROWS_PER_THREAD; ++i) {
    uint row = row0 + ty + 16u * uint(i);
    for (int j = 0; j < COLS_PER_THREAD; ++j) {
      uint col = col0 + tx + 16u * uint(j);
      if (row < params.m && col < params.n) {
        c[row * params.n + col] = round_s128_to_f32_bits(acc[i][j], -48);
      }
    }
  }
}

#endif  // DATANODE_VULKAN_MATMUL_Q8_0_TILE_GLSL_
