// Copyright 2026 The datanode Authors.
//
// Runs without a GPU: checks the s8 tensor-core GEMM's host-side plan and packing, and
// emulates the kernel's data movement lane by lane on the host - cp.async chunk
// placement, the shared-memory swizzle, ldmatrix.x4 row addresses and the
// m16n8k32 .s8 fragment layouts exactly as the PTX ISA defines them - to prove the
// index maps of ops/cuda/matmul_s8_plan.h compose to C = A * W^T. (Whether the
// hardware does what the PTX ISA says is what the GPU tests check.)
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <set>
#include <vector>

#include "datanode/ops/random_inputs.h"
#include "datanode/ops/reference.h"
#include "ops/cuda/matmul_s8_plan.h"
#include "tests/cuda/s8_emulation_util.h"

namespace datanode::ops::cuda {
namespace {

TEST(CudaS8Plan, PaddingAndSplitKCoverEverything) {
  for (int64_t m : {1, 2, 15, 16, 63, 64, 65, 127, 128, 129, 1000, 4096}) {
    for (int64_t n : {1, 7, 127, 128, 129, 4096, 8192}) {
      for (int64_t k : {int64_t{1}, int64_t{31}, int64_t{32}, int64_t{63}, int64_t{64}, int64_t{65},
                        int64_t{1000}, int64_t{4096}, int64_t{8192}, kMaxK}) {
        for (int sms : {1, 46, 132}) {
          const S8GemmPlan p = PlanS8Gemm(m, n, k, sms);
          const S8TileShape s = TileShapeOf(p.config);
          ASSERT_EQ(p.mp % s.bm, 0);
          ASSERT_TRUE(p.mp >= m && p.mp - m < s.bm);
          ASSERT_EQ(p.np % kS8TileN, 0);
          ASSERT_TRUE(p.np >= n && p.np - n < kS8TileN);
          ASSERT_EQ(p.kp % kS8TileK, 0);
          ASSERT_TRUE(p.kp >= k && p.kp - k < kS8TileK);
          ASSERT_EQ(p.tiles_m * s.bm, p.mp);
          ASSERT_EQ(p.tiles_n * s.bn, p.np);
          ASSERT_EQ(p.k_tiles * kS8TileK, p.kp);
          ASSERT_GE(p.splits, 1);
          ASSERT_LE(p.splits, 16);
          // Every k tile belongs to exactly one non-empty slice.
          ASSERT_GE(p.splits * p.k_tiles_per_split, p.k_tiles);
          ASSERT_LT((p.splits - 1) * p.k_tiles_per_split, p.k_tiles);
          if (p.tiles_m * p.tiles_n >= 2 * sms) {
            ASSERT_EQ(p.splits, 1);
          }
        }
      }
    }
  }
}

TEST(CudaS8Plan, RasterOrderIsABijection) {
  for (int64_t tm : {1, 3, 8, 9, 17, 64}) {
    for (int64_t tn : {1, 2, 5, 64}) {
      std::set<std::pair<int64_t, int64_t>> seen;
      for (int64_t t = 0; t < tm * tn; ++t) {
        int64_t mt, nt;
        TileCoords(t, tm, tn, &mt, &nt);
        ASSERT_TRUE(mt >= 0 && mt < tm && nt >= 0 && nt < tn) << t;
        ASSERT_TRUE(seen.insert({mt, nt}).second) << "tile visited twice";
      }
      ASSERT_EQ(static_cast<int64_t>(seen.size()), tm * tn);
    }
  }
}

TEST(CudaS8Plan, SwizzleIsABijectionAndLdmatrixIsConflictFree) {
  std::set<int> chunks;
  for (int row = 0; row < 128; ++row) {
    for (int c = 0; c < 4; ++c) {
      const int off = SmemChunkOffset(row, c);
      ASSERT_EQ(off % 16, 0);
      ASSERT_GE(off, row * kS8TileK);
      ASSERT_LT(off, (row + 1) * kS8TileK);
      chunks.insert(off);
    }
  }
  ASSERT_EQ(chunks.size(), 128u * 4);
  // An ldmatrix phase reads eight 16-byte rows (one per lane of an 8-lane group):
  // conflict-free iff they cover eight distinct 4-bank groups of the 32 banks.
  for (int base = 0; base < 128; base += 16) {
    for (int ks = 0; ks < 2; ++ks) {
      for (int group = 0; group < 4; ++group) {
        std::set<int> a_banks, b_banks;
        for (int l = group * 8; l < group * 8 + 8; ++l) {
          a_banks.insert((SmemChunkOffset(base + LdsmARow(l), LdsmAChunk(l, ks)) / 16) % 8);
          b_banks.insert((SmemChunkOffset(base + LdsmBRow(l), LdsmBChunk(l, ks)) / 16) % 8);
        }
        ASSERT_EQ(a_banks.size(), 8u);
        ASSERT_EQ(b_banks.size(), 8u);
      }
    }
  }
}

TEST(CudaS8Plan, PackPaddedRowsZeroFills) {
  std::vector<uint8_t> src(5 * 7);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(i + 1);
  std::vector<uint8_t> dst(8 * 64, 0xAB);
  PackPaddedRows(src.data(), 5, 7, 8, 64, dst.data());
  for (int r = 0; r < 8; ++r) {
    for (int c = 0; c < 64; ++c) {
      const uint8_t want = (r < 5 && c < 7) ? src[r * 7 + c] : 0;
      ASSERT_EQ(dst[r * 64 + c], want) << r << "," << c;
    }
  }
}

// ldmatrix.x4 (.b16, m8n8): lanes 8i..8i+7 supply the row addresses of matrix i;
// lane l receives, in register i, the 4 bytes at column bytes 4(l%4).. of row l/4.
void EmulateLdmatrixX4(const uint8_t* smem, const int (&row_addr)[32], uint32_t (&out)[32][4]) {
  for (int l = 0; l < 32; ++l) {
    for (int i = 0; i < 4; ++i) {
      std::memcpy(&out[l][i], smem + row_addr[i * 8 + l / 4] + 4 * (l % 4), 4);
    }
  }
}

int8_t Byte(uint32_t reg, int b) { return static_cast<int8_t>(reg >> (8 * b)); }

// mma.m16n8k32.row.col.s32.s8.s8.s32, fragment layouts from the PTX ISA:
//   A: a_i (i = 0..15) of lane l at row g + 8*((i/4)%2), col 4t + i%4 + 16*(i/8);
//   B: b_i (i = 0..7) at k = 4t + i%4 + 16*(i/4), n = g;
//   C/D: c_i (i = 0..3) at row g + 8*(i/2), col 2t + i%2;   g = l/4, t = l%4.
void EmulateMma(int32_t (&d)[32][4], const uint32_t (&a)[32][4], const uint32_t (&b)[32][2]) {
  int8_t am[16][32], bm[32][8];
  for (int l = 0; l < 32; ++l) {
    const int g = l / 4, t = l % 4;
    for (int i = 0; i < 16; ++i) {
      am[g + 8 * ((i / 4) % 2)][4 * t + i % 4 + 16 * (i / 8)] = Byte(a[l][i / 4], i % 4);
    }
    for (int i = 0; i < 8; ++i) bm[4 * t + i % 4 + 16 * (i / 4)][g] = Byte(b[l][i / 4], i % 4);
  }
  for (int l = 0; l < 32; ++l) {
    const int g = l / 4, t = l % 4;
    for (int i = 0; i < 4; ++i) {
      const int row = g + 8 * (i / 2), col = 2 * t + i % 2;
      int32_t sum = 0;
      for (int kk = 0; kk < 32; ++kk) sum += am[row][kk] * bm[kk][col];
      d[l][i] += sum;
    }
  }
}

// The kernel of matmul_s8_mma.cu, one CTA / warp / lane at a time, on padded operands.
std::vector<int32_t> EmulateKernel(const S8GemmPlan& p, const std::vector<uint8_t>& a,
                                   const std::vector<uint8_t>& w) {
  const S8TileShape s = TileShapeOf(p.config);
  const int warps = s.warps_m * s.warps_n;
  const int mt_count = s.bm / s.warps_m / 16, nt_count = s.bn / s.warps_n / 8;
  std::vector<int32_t> c(p.mp * p.np, 0);
  std::vector<uint8_t> sa(s.bm * kS8TileK), sb(s.bn * kS8TileK);
  for (int64_t cta = 0; cta < p.tiles_m * p.tiles_n; ++cta) {
    int64_t m_tile, n_tile;
    TileCoords(cta, p.tiles_m, p.tiles_n, &m_tile, &n_tile);
    for (int split = 0; split < p.splits; ++split) {
      std::vector<int32_t> acc(warps * mt_count * nt_count * 32 * 4, 0);
      const int64_t kt_begin = split * p.k_tiles_per_split;
      const int64_t kt_end = std::min(kt_begin + p.k_tiles_per_split, p.k_tiles);
      for (int64_t kt = kt_begin; kt < kt_end; ++kt) {
        for (int q = 0; q < s.bm * 4; ++q) {
          std::memcpy(&sa[SmemChunkOffset(LoadRow(q), LoadChunk(q))],
                      &a[(m_tile * s.bm + LoadRow(q)) * p.kp + kt * kS8TileK + LoadChunk(q) * 16],
                      16);
        }
        for (int q = 0; q < s.bn * 4; ++q) {
          std::memcpy(&sb[SmemChunkOffset(LoadRow(q), LoadChunk(q))],
                      &w[(n_tile * s.bn + LoadRow(q)) * p.kp + kt * kS8TileK + LoadChunk(q) * 16],
                      16);
        }
        for (int warp = 0; warp < warps; ++warp) {
          for (int ks = 0; ks < kS8TileK / 32; ++ks) {
            for (int mt = 0; mt < mt_count; ++mt) {
              int rows[32];
              for (int l = 0; l < 32; ++l) {
                rows[l] =
                    SmemChunkOffset(WarpRow(s, warp) + mt * 16 + LdsmARow(l), LdsmAChunk(l, ks));
              }
              uint32_t af[32][4];
              EmulateLdmatrixX4(sa.data(), rows, af);
              for (int nt = 0; nt < nt_count; nt += 2) {
                for (int l = 0; l < 32; ++l) {
                  rows[l] =
                      SmemChunkOffset(WarpCol(s, warp) + nt * 8 + LdsmBRow(l), LdsmBChunk(l, ks));
                }
                uint32_t r[32][4];
                EmulateLdmatrixX4(sb.data(), rows, r);
                for (int half = 0; half < 2; ++half) {
                  uint32_t bf[32][2];
                  int32_t d[32][4];
                  for (int l = 0; l < 32; ++l) {
                    bf[l][0] = r[l][2 * half];
                    bf[l][1] = r[l][2 * half + 1];
                  }
                  int32_t* slot = &acc[(((warp * mt_count + mt) * nt_count) + nt + half) * 128];
                  std::memcpy(d, slot, sizeof(d));
                  EmulateMma(d, af, bf);
                  std::memcpy(slot, d, sizeof(d));
                }
              }
            }
          }
        }
      }
      for (int warp = 0; warp < warps; ++warp) {
        for (int mt = 0; mt < mt_count; ++mt) {
          for (int nt = 0; nt < nt_count; ++nt) {
            for (int l = 0; l < 32; ++l) {
              for (int i = 0; i < 4; ++i) {
                const int64_t row = m_tile * s.bm + WarpRow(s, warp) + mt * 16 + AccRow(l, i);
                const int64_t col = n_tile * s.bn + WarpCol(s, warp) + nt * 8 + AccCol(l, i);
                c[row * p.np + col] +=
                    acc[(((warp * mt_count + mt) * nt_count) + nt) * 128 + l * 4 + i];
              }
            }
          }
        }
      }
    }
  }
  return c;
}

TEST(CudaS8Plan, KernelEmulationMatchesReference) {
  const struct {
    int64_t m, n, k;
    int sms;
  } kShapes[] = {{1, 1, 1, 132},     {3, 5, 7, 132},       {16, 8, 32, 132},  {65, 129, 130, 132},
                 {130, 140, 300, 1}, {64, 256, 1000, 132}, {129, 128, 64, 1}, {200, 257, 191, 132}};
  for (const auto& shape : kShapes) {
    const S8GemmPlan p = PlanS8Gemm(shape.m, shape.n, shape.k, shape.sms);
    EXPECT_EQ(EmulationDiffersFromReference(p, shape.m * 1000 + shape.k, &EmulateKernel), "");
  }
}

}  // namespace
}  // namespace datanode::ops::cuda
