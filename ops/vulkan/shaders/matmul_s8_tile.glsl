// Copyright 2026 The datanode Authors.
//
// The shared-memory tile loop of the s8 x s8 matmuls (included by matmul_s8_s32.comp
// and matmul_s8_f32.comp; not a kernel itself).
//
// Layout (prepared by the host, ops/vulkan/matmul_s8.cc): A is s8[m_pad, k_pad] and W is
// s8[n_pad, k_pad], row-major, rows padded with zeros to k_pad (a multiple of 32 bytes)
// and to m_pad / n_pad (multiples of the tile), so the loop needs no bounds checks and
// padding contributes exact zeros. Both are read as uvec4 (16 int8 per load).
//
// A workgroup of 16 x 16 invocations computes a 64 x 64 tile of C; invocation (tx, ty)
// owns rows ty + 16 i and columns tx + 16 j (i, j < 4), so the stores of a row are
// coalesced. Each K step stages 32 bytes (8 words) of 64 A rows and 64 W rows in
// shared memory, transposed to [word][row] so neighbouring invocations read
// neighbouring words. Products of int8 in [-127, 127] are below 2^14 and K <= 131071,
// so the int accumulators are exact; integer addition is associative, so the tile
// shape cannot change a bit.
#ifndef DATANODE_VULKAN_MATMUL_S8_TILE_GLSL_
#define DATANODE_VULKAN_MATMUL_S8_TILE_GLSL_

#define TILE 64
#define KWORDS 8
#define THREADS_X 16
#define THREADS_Y 16
#define PER_THREAD 4

layout(local_size_x = THREADS_X, local_size_y = THREADS_Y, local_size_z = 1) in;

layout(std430, binding = 0) readonly buffer ABuf { uvec4 a_vec[]; };
layout(std430, binding = 1) readonly buffer WBuf { uvec4 w_vec[]; };

layout(push_constant) uniform Params {
  uint m;           // rows of C
  uint n;           // columns of C
  uint k_vec4;      // k_pad / 16: uvec4 per padded row
  uint tile_m_base; // workgroup row-tile offset (large grids are split)
  uint tile_n_base; // workgroup column-tile offset
} params;

shared uint tile_a[KWORDS][TILE];
shared uint tile_w[KWORDS][TILE];

// acc[i][j] = sum_k A[row0 + ty + 16 i, k] * W[col0 + tx + 16 j, k].
void s8_tile_sums(uint row0, uint col0, out int acc[PER_THREAD][PER_THREAD]) {
  uint tx = gl_LocalInvocationID.x;
  uint ty = gl_LocalInvocationID.y;
  uint t = ty * THREADS_X + tx;
  for (int i = 0; i < PER_THREAD; ++i) {
    for (int j = 0; j < PER_THREAD; ++j) acc[i][j] = 0;
  }
  // Invocations 0..127 stage A (64 rows x 2 uvec4), 128..255 stage W.
  uint load_row = (t & 127u) >> 1;
  uint load_half = t & 1u;
  bool loads_a = t < 128u;
  uint load_base = loads_a ? (row0 + load_row) * params.k_vec4 + load_half
                           : (col0 + load_row) * params.k_vec4 + load_half;
  for (uint kv = 0u; kv < params.k_vec4; kv += 2u) {
    uvec4 v = loads_a ? a_vec[load_base + kv] : w_vec[load_base + kv];
    uint word = load_half * 4u;
    if (loads_a) {
      tile_a[word][load_row] = v.x;
      tile_a[word + 1u][load_row] = v.y;
      tile_a[word + 2u][load_row] = v.z;
      tile_a[word + 3u][load_row] = v.w;
    } else {
      tile_w[word][load_row] = v.x;
      tile_w[word + 1u][load_row] = v.y;
      tile_w[word + 2u][load_row] = v.z;
      tile_w[word + 3u][load_row] = v.w;
    }
    barrier();
    for (int kw = 0; kw < KWORDS; ++kw) {
      ivec4 av[PER_THREAD];
      for (int i = 0; i < PER_THREAD; ++i) {
        int a = int(tile_a[kw][ty + 16u * uint(i)]);
        av[i] = ivec4(bitfieldExtract(a, 0, 8), bitfieldExtract(a, 8, 8),
                      bitfieldExtract(a, 16, 8), bitfieldExtract(a, 24, 8));
      }
      for (int j = 0; j < PER_THREAD; ++j) {
        int w = int(tile_w[kw][tx + 16u * uint(j)]);
        ivec4 wv = ivec4(bitfieldExtract(w, 0, 8), bitfieldExtract(w, 8, 8),
                         bitfieldExtract(w, 16, 8), bitfieldExtract(w, 24, 8));
        for (int i = 0; i < PER_THREAD; ++i) {
          acc[i][j] += av[i].x * wv.x + av[i].y * wv.y + av[i].z * wv.z + av[i].w * wv.w;
        }
      }
    }
    barrier();
  }
}

#endif  // DATANODE_VULKAN_MATMUL_S8_TILE_GLSL_
