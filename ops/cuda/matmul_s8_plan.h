// Copyright 2026 The datanode Authors.
//
// Tiling of the s8 tensor-core GEMM (matmul_s8_mma.cu): tile shapes, padded operand
// sizes, split-K, the CTA raster order, the shared-memory swizzle and the ldmatrix /
// mma fragment index maps. Plain C++ (DN_HD), so the same definitions drive the
// kernel and the host-side emulation in tests/cuda/ that checks, without a GPU, that
// they compose to C = A * W^T under the fragment layouts of the PTX ISA.
//
// Operands on the device are zero-padded copies: A [mp, kp], W [np, kp], C32 [mp, np]
// (row-major, int32). Zero padding adds nothing to any sum, and padded rows/columns
// of C32 are never read back, so padding cannot change an output byte.
#ifndef DATANODE_OPS_CUDA_MATMUL_S8_PLAN_H_
#define DATANODE_OPS_CUDA_MATMUL_S8_PLAN_H_

#include <cstdint>

#include "ops/cuda/host_device.h"

namespace datanode::ops::cuda {

// Bytes of K per pipeline stage (two m16n8k32 steps), and pipeline depth.
inline constexpr int kS8TileK = 64;
inline constexpr int kS8Stages = 4;
// Every configuration uses the same N tile, so prepared weights have one layout.
inline constexpr int kS8TileN = 128;
// CTAs that share an M panel are issued together (L2 reuse of A).
inline constexpr int kS8RasterGroupM = 8;

enum class S8TileConfig : int {
  k128x128 = 0,  // 8 warps as 2 (M) x 4 (N), warp tile 64 x 32: large M
  k64x128 = 1,   // 8 warps as 2 x 4, warp tile 32 x 32: small M (decode)
};
// Every configuration PlanS8Gemm may choose (a new one is added here too: the host
// tests check that the start-up check reaches each of them).
inline constexpr S8TileConfig kS8TileConfigs[] = {S8TileConfig::k128x128,
                                                  S8TileConfig::k64x128};

struct S8TileShape {
  int bm;
  int bn;
  int warps_m;
  int warps_n;
};

DN_HD constexpr S8TileShape TileShapeOf(S8TileConfig config) {
  return config == S8TileConfig::k128x128 ? S8TileShape{128, kS8TileN, 2, 4}
                                          : S8TileShape{64, kS8TileN, 2, 4};
}

struct S8GemmPlan {
  S8TileConfig config = S8TileConfig::k128x128;
  int64_t m = 0, n = 0, k = 0;
  int64_t mp = 0, np = 0, kp = 0;  // padded to multiples of bm, kS8TileN, kS8TileK
  int64_t tiles_m = 0, tiles_n = 0;
  int64_t k_tiles = 0;            // kp / kS8TileK
  int64_t k_tiles_per_split = 0;  // each split-K slice covers this many k tiles
  int splits = 1;                 // grid z; > 1 means C32 is zeroed and atomically summed
};

// Chooses the tile configuration and split-K for a GEMM of m x n x k on a device with
// `sm_count` multiprocessors. Split-K is only used when the output tiles alone cannot
// fill the device; int32 sums are exact, so it never changes a byte.
S8GemmPlan PlanS8Gemm(int64_t m, int64_t n, int64_t k, int sm_count);

// PlanS8Gemm with the 128 x 128 tile configuration whatever m is (rows padded to 128):
// the layout the wgmma kernel needs, for tests that run it on small shapes.
S8GemmPlan PlanS8GemmWith128RowTiles(int64_t m, int64_t n, int64_t k, int sm_count);

// True when the Hopper wgmma kernel (matmul_s8_wgmma.cuh) should run this plan
// instead of the mma.sync kernel: 128-row tiles, no split-K, and at least one full
// wave of its 128 x 256 tiles on `sm_count` multiprocessors. Smaller GEMMs (decode
// shapes) are memory-bound and want split-K, which the mma.sync kernel has. The
// backend's whole choice rule is ChooseS8Kernel (s8_gemm.h).
bool S8WgmmaPays(const S8GemmPlan& plan, int sm_count);

// True when the wgmma kernel can run `plan` at all: mp a multiple of its 128-row
// tile, np even, kp a multiple of 16, and every tile index inside int32 (grid size).
bool S8WgmmaPlanIsValid(const S8GemmPlan& plan);

inline constexpr int64_t RoundUp(int64_t x, int64_t to) { return (x + to - 1) / to * to; }

// Copies a row-major [rows, cols] byte matrix into dst [rows_p, cols_p] (rows_p >= rows,
// cols_p >= cols) and zero-fills the padding: the host side of the zero padding above.
void PackPaddedRows(const uint8_t* src, int64_t rows, int64_t cols, int64_t rows_p, int64_t cols_p,
                    uint8_t* dst);

// Linear CTA index -> (m tile, n tile), grouped by kS8RasterGroupM rows of tiles.
// A bijection from [0, tiles_m * tiles_n).
DN_HD void TileCoords(int64_t linear, int64_t tiles_m, int64_t tiles_n, int64_t* m_tile,
                      int64_t* n_tile) {
  const int64_t per_group = kS8RasterGroupM * tiles_n;
  const int64_t group = linear / per_group;
  const int64_t first_m = group * kS8RasterGroupM;
  const int64_t rows = tiles_m - first_m < kS8RasterGroupM ? tiles_m - first_m : kS8RasterGroupM;
  const int64_t in_group = linear % per_group;
  *m_tile = first_m + in_group % rows;
  *n_tile = in_group / rows;
}

// Warp w of a CTA computes the (bm / warps_m) x (bn / warps_n) sub-tile at these
// offsets inside the CTA tile.
DN_HD constexpr int WarpRow(S8TileShape s, int warp) {
  return (warp % s.warps_m) * (s.bm / s.warps_m);
}
DN_HD constexpr int WarpCol(S8TileShape s, int warp) {
  return (warp / s.warps_m) * (s.bn / s.warps_n);
}

// --- Shared memory -------------------------------------------------------------
// A stage holds rows of kS8TileK = 64 bytes = four 16-byte chunks. Chunk c of row r
// is stored at chunk position c ^ ((r >> 1) & 3): the eight rows an ldmatrix phase
// reads then hit eight distinct 4-bank groups (no bank conflicts), and every 16-byte
// cp.async destination stays 16-byte aligned.
DN_HD constexpr int SmemChunkOffset(int row, int chunk) {
  return row * kS8TileK + ((chunk ^ ((row >> 1) & 3)) << 4);
}

// cp.async work split: chunk id q of a tile with `rows` rows -> (row, chunk).
DN_HD constexpr int LoadRow(int q) { return q >> 2; }
DN_HD constexpr int LoadChunk(int q) { return q & 3; }

// --- ldmatrix.x4 row addresses -----------------------------------------------------
// Lanes 8i..8i+7 give the row addresses of 8x16-byte matrix i; lane l then receives
// bytes 4(l%4)..4(l%4)+3 of row l/4 of each matrix, in register i.
//
// A (m16 x k32 tile, ks-th 32-byte half of the stage): matrices 0..3 = rows 0-7 / 8-15
// of bytes 0-15, then rows 0-7 / 8-15 of bytes 16-31, which is exactly a0..a3 of the
// m16n8k32 .s8 A fragment (row g / g+8, columns 4t.. / 16+4t..).
DN_HD constexpr int LdsmARow(int lane) { return ((lane >> 3) & 1) * 8 + (lane & 7); }
DN_HD constexpr int LdsmAChunk(int lane, int ks) { return ks * 2 + (lane >> 4); }
// W (two n8 x k32 tiles): matrices 0..3 = (n 0-7, bytes 0-15), (n 0-7, bytes 16-31),
// (n 8-15, bytes 0-15), (n 8-15, bytes 16-31) = b0, b1 of n tile 0, then of n tile 1.
// W is [N, K] row-major, i.e. the K x N "col" operand the mma expects.
DN_HD constexpr int LdsmBRow(int lane) { return (lane >> 4) * 8 + (lane & 7); }
DN_HD constexpr int LdsmBChunk(int lane, int ks) { return ks * 2 + ((lane >> 3) & 1); }

// --- Accumulator fragment ----------------------------------------------------------
// m16n8 s32 accumulator: register i of lane l holds row l/4 + 8(i/2), column
// 2(l%4) + i%2 of the 16 x 8 tile.
DN_HD constexpr int AccRow(int lane, int i) { return (lane >> 2) + (i >> 1) * 8; }
DN_HD constexpr int AccCol(int lane, int i) { return (lane & 3) * 2 + (i & 1); }

}  // namespace datanode::ops::cuda

#endif  // DATANODE_OPS_CUDA_MATMUL_S8_PLAN_H_
