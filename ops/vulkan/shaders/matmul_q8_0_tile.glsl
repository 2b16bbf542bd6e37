// Copyright 2026 The datanode Authors.
//
// The kernel body of A Q8_0 x W {Q8_0, Q4_0, Q4_1, Q4_K, Q6_K} -> C f32 (included by
// matmul_q8_0_<format>.comp, which set W_FORMAT; not a kernel itself).
//
// Spec (ops/reference/matmul_q8_0.cc): C[m, n] = round_f32(sum over blocks b of one
// or two exact terms), the sum exact in fixed point with LSB 2^-48, one rounding. Each
// term is (mantissa product) * (integer sum) << (exponent sum + 48), the shift in
// [0, 58] (f16 exponents are in [-24, 5]), accumulated in a 128-bit two's complement
// accumulator of four 32-bit limbs with explicit carries: no shaderInt64. The 64-bit
// product of each term (imulExtended) is bounded per format (|qa| <= 128):
//   Q8_0: d_a d_w < 2^22, isum <= 32 * 128 * 127 < 2^19             -> < 2^41
//   Q4_0: d_a d_w < 2^22, isum <= 32 * 128 * 8 = 2^15                -> < 2^37
//   Q4_1: d_a d_w and d_a m_w < 2^22, isum, asum < 2^16              -> < 2^38
//   Q4_K: d_a (d sc) and d_a (dmin mn) < 2^11 * 2^17 = 2^28 (sc, mn < 2^6),
//         isum <= 32 * 128 * 15 < 2^16, asum <= 2^12                  -> < 2^44
//   Q6_K: d_a d < 2^22, sc0 isum0 + sc1 isum1 with |sc| <= 128 and
//         |isum_h| <= 16 * 128 * 32 = 2^16: |.| <= 2^24 (an int)      -> < 2^46
// so every shifted term is < 2^104 and a sum over at most 4095 blocks (K <= 131071),
// two terms each, stays below 2^117 < 2^127: the accumulator never wraps. Integer
// addition is associative: any tiling gives the reference's bits.
//
// A workgroup of 16 x 16 invocations computes a 64 x 32 tile of C; invocation (tx, ty)
// owns rows ty + 16 i (i < 4) and columns tx + 16 j (j < 2). One block (32 values of K)
// per step is staged in shared memory, transposed to [word][row], W's scales decoded.
#ifndef DATANODE_VULKAN_MATMUL_Q8_0_TILE_GLSL_
#define DATANODE_VULKAN_MATMUL_Q8_0_TILE_GLSL_

#include "matmul_q8_0_common.glsl"

#define TILE_M 64
#define TILE_N 32
#define ROWS_PER_THREAD 4
#define COLS_PER_THREAD 2

layout(local_size_x = 16, local_size_y = 16, local_size_z = 1) in;

layout(push_constant) uniform Params {
  uint m;            // rows of C
  uint n;            // columns of C
  uint blocks;       // K / 32
  uint tile_m_base;  // workgroup row-tile offset (large grids are split)
  uint tile_n_base;  // workgroup column-tile offset
} params;

shared uint tile_a[8][TILE_M];
shared uint tile_w[W_WORDS][TILE_N];
// Decoded scales: mantissa, and exponent + 24 (in [0, 29]).
shared int a_mant[TILE_M];
shared int a_exp[TILE_M];
shared int w_mant[TILE_N];
shared int w_exp[TILE_N];
#if W_HAS_MIN
shared int m_mant[TILE_N];
shared int m_exp[TILE_N];
#endif
#if W_FORMAT == W_Q6_K
shared int w_sc0[TILE_N];
shared int w_sc1[TILE_N];
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
#if W_KQUANT
      // Block b is slice b % 8 of the column's super-block b / 8.
      uint sb = (col0 + r) * (blocks / KQ_SLICES) + b / KQ_SLICES;
      uint s = b % KQ_SLICES;
#endif
#if W_FORMAT == W_Q6_K
      uvec4 v;
      uvec2 hv;
      q6_k_words(sb, s, v, hv);
      tile_w[4][r] = hv.x;
      tile_w[5][r] = hv.y;
#else
      uvec4 v = w_qs[((col0 + r) * blocks + b) * W_VEC4 + h];
#endif
      tile_w[h * 4u][r] = v.x;
      tile_w[h * 4u + 1u][r] = v.y;
      tile_w[h * 4u + 2u][r] = v.z;
      tile_w[h * 4u + 3u][r] = v.w;
      if (h == 0u) {
        int mant, e;
#if W_FORMAT == W_Q4_K
        int mm, me;
        q4_k_scales(sb, s, mant, e, mm, me);
        m_mant[r] = mm;
        m_exp[r] = me + 24;
#elif W_FORMAT == W_Q6_K
        int sc0, sc1;
        q6_k_scales(sb, s, mant, e, sc0, sc1);
        w_sc0[r] = sc0;
        w_sc1[r] = sc1;
#else
        uint dm = w_d[(col0 + r) * blocks + b];
        decode_f16(dm & 0xFFFFu, mant, e);
#if W_FORMAT == W_Q4_1
        int mm, me;
        decode_f16(dm >> 16, mm, me);
        m_mant[r] = mm;
        m_exp[r] = me + 24;
#endif
#endif
        w_mant[r] = mant;
        w_exp[r] = e + 24;
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

    // isum: the block's (Q6_K: values 0..15's) integer dot; isum1: Q6_K's values
    // 16..31; asum: the sum of A's quants (formats with a min term).
    int isum[ROWS_PER_THREAD][COLS_PER_THREAD];
    int isum1[ROWS_PER_THREAD][COLS_PER_THREAD];
    int asum[ROWS_PER_THREAD];
    for (int i = 0; i < ROWS_PER_THREAD; ++i) {
      asum[i] = 0;
      for (int j = 0; j < COLS_PER_THREAD; ++j) {
        isum[i][j] = 0;
        isum1[i][j] = 0;
      }
    }
#if W_FORMAT == W_Q8_0
    for (int kw = 0; kw < 8; ++kw) {
      ivec4 av[ROWS_PER_THREAD];
      for (int i = 0; i < ROWS_PER_THREAD; ++i) av[i] = s8x4(tile_a[kw][ty + 16u * uint(i)]);
      for (int j = 0; j < COLS_PER_THREAD; ++j) {
        ivec4 wv = s8x4(tile_w[kw][tx + 16u * uint(j)]);
        for (int i = 0; i < ROWS_PER_THREAD; ++i) isum[i][j] += hsum(av[i] * wv);
      }
    }
#else
    // Word kw of the 4-bit quants holds values 4kw..4kw+3 (low nibbles) and 16+4kw..
    // (high nibbles), which meet A words kw and kw + 4.
    for (int kw = 0; kw < 4; ++kw) {
      ivec4 lo[ROWS_PER_THREAD];
      ivec4 hi[ROWS_PER_THREAD];
      for (int i = 0; i < ROWS_PER_THREAD; ++i) {
        lo[i] = s8x4(tile_a[kw][ty + 16u * uint(i)]);
        hi[i] = s8x4(tile_a[kw + 4][ty + 16u * uint(i)]);
#if W_HAS_MIN
        asum[i] += hsum(lo[i] + hi[i]);
#endif
      }
      for (int j = 0; j < COLS_PER_THREAD; ++j) {
        uint cidx = tx + 16u * uint(j);
        uint word = tile_w[kw][cidx];
#if W_FORMAT == W_Q6_K
        ivec4 wl = q6x4(word, 0, tile_w[4][cidx], kw);
        ivec4 wh = q6x4(word, 4, tile_w[5][cidx], kw);
        for (int i = 0; i < ROWS_PER_THREAD; ++i) {
          isum[i][j] += hsum(lo[i] * wl);
          isum1[i][j] += hsum(hi[i] * wh);
        }
#else
        ivec4 wl = nibbles(word, 0);
        ivec4 wh = nibbles(word, 4);
        for (int i = 0; i < ROWS_PER_THREAD; ++i) isum[i][j] += hsum(lo[i] * wl + hi[i] * wh);
#endif
      }
    }
#endif
    for (int i = 0; i < ROWS_PER_THREAD; ++i) {
      uint r = ty + 16u * uint(i);
      int am = a_mant[r];
      int ae = a_exp[r];
      for (int j = 0; j < COLS_PER_THREAD; ++j) {
        uint cidx = tx + 16u * uint(j);
#if W_FORMAT == W_Q6_K
        int integer_sum = w_sc0[cidx] * isum[i][j] + w_sc1[cidx] * isum1[i][j];
#else
        int integer_sum = isum[i][j];
#endif
        acc[i][j] = add_term(acc[i][j], am * w_mant[cidx], integer_sum, ae + w_exp[cidx]);
#if W_HAS_MIN
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
#ifdef EXACT_OUT
        e[row * params.n + col] = acc[i][j];  // the unrounded sum (matmul_q8_0_common.glsl)
#endif
      }
    }
  }
}

#endif  // DATANODE_VULKAN_MATMUL_Q8_0_TILE_GLSL_
