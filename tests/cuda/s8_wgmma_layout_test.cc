// Copyright 2026 The datanode Authors.
//
// Runs without a GPU: emulates the Hopper wgmma s8 GEMM (ops/cuda/matmul_s8_wgmma.cu)
// on the host and compares it with the reference. The kernel side - cp.async chunk
// placement, zero fill, descriptors, k steps, accumulator map, epilogue - comes from
// ops/cuda/matmul_s8_wgmma_layout.h. The hardware side is modelled here, separately,
// from the PTX ISA: how wgmma decodes a shared-memory matrix descriptor for a K-major
// operand with the 128-byte swizzle (canonical layout ((8,m),(T,2k)) : ((8T,SBO),(1,T))
// in 16-byte units, then address bits [4,7) ^= bits [7,10)), and which accumulator
// element each thread's register holds. What this cannot show is whether the GPU
// does what the PTX ISA says; the start-up self-check and the device tests do that.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "datanode/ops/random_inputs.h"
#include "datanode/ops/reference.h"
#include "ops/cuda/matmul_s8_plan.h"
#include "ops/cuda/matmul_s8_wgmma_layout.h"
#include "tests/cuda/s8_emulation_util.h"

namespace datanode::ops::cuda {
namespace {

// --- Hardware model (PTX ISA), independent of the layout header --------------------
struct DecodedDescriptor {
  uint32_t start;  // bytes
  uint32_t leading_byte_offset;
  uint32_t stride_byte_offset;
  int base_offset;
  int swizzle;  // 0 none, 1 128B, 2 64B, 3 32B
};

DecodedDescriptor Decode(uint64_t desc) {
  return {static_cast<uint32_t>(desc & 0x3FFF) << 4,
          static_cast<uint32_t>((desc >> 16) & 0x3FFF) << 4,
          static_cast<uint32_t>((desc >> 32) & 0x3FFF) << 4, static_cast<int>((desc >> 49) & 7),
          static_cast<int>(desc >> 62)};
}

// The 128-byte swizzle acts on the absolute shared-memory address.
uint32_t Swizzle128B(uint32_t address) { return address ^ (((address >> 7) & 7) << 4); }

// Byte address wgmma reads for element (row, k) of a K-major 8-bit operand (row < 64
// for A, < N for B; k < 32) described by `desc` with the 128-byte swizzle.
// (Only the 128-byte swizzle with base offset 0 is modelled; the caller checks that.)
uint32_t OperandAddress(uint64_t desc, int row, int k) {
  const DecodedDescriptor d = Decode(desc);
  const uint32_t linear = d.start + (row % 8) * 128 + (row / 8) * d.stride_byte_offset + k;
  return Swizzle128B(linear);
}

// m64nNk32 .s32 accumulator: register r of thread t (0..127) of the warpgroup.
void AccElement(int t, int r, int* row, int* col) {
  const int warp = t / 32, lane = t % 32;
  const int group = r / 4, within = r % 4;
  *row = warp * 16 + lane / 4 + (within >= 2 ? 8 : 0);
  *col = group * 8 + (lane % 4) * 2 + (within % 2);
}

TEST(CudaS8Wgmma, DescriptorFields) {
  for (uint32_t address : {0u, 1024u, 5u * 1024u, 200u * 1024u + 32u, 0x3FFF0u}) {
    const DecodedDescriptor d = Decode(WgDescriptor(address));
    EXPECT_EQ(d.start, address);
    EXPECT_EQ(d.stride_byte_offset, 1024u);  // 8 rows x 128 bytes
    EXPECT_EQ(d.leading_byte_offset, 16u);   // "assumed 1" for swizzled K-major
    EXPECT_EQ(d.base_offset, 0);
    EXPECT_EQ(d.swizzle, 1);
  }
  // One k step of 32 bytes moves only the start address.
  const uint64_t desc = WgDescriptor(3 * 1024);
  for (int ks = 0; ks < kWgTileK / kWgInstrK; ++ks) {
    const DecodedDescriptor d = Decode(WgDescriptorStep(desc, ks));
    EXPECT_EQ(d.start, 3u * 1024 + 32u * ks);
    EXPECT_EQ(d.stride_byte_offset, 1024u);
    EXPECT_EQ(d.swizzle, 1);
  }
  // The stage sizes keep every operand base on the 1024-byte swizzle grid.
  EXPECT_EQ(kWgStageBytesA % kWgSwizzleAtomBytes, 0);
  EXPECT_EQ(kWgStageBytesB % kWgSwizzleAtomBytes, 0);
  EXPECT_EQ(WgWarpgroupRowOffset(1) % kWgSwizzleAtomBytes, 0u);
  EXPECT_LE(kWgSharedBytes, 227 * 1024) << "over the sm_90 per-block shared memory limit";
}

TEST(CudaS8Wgmma, StoredLayoutIsTheHardwareSwizzle) {
  std::set<int> offsets;
  for (int row = 0; row < kWgTileN; ++row) {
    for (int chunk = 0; chunk < 8; ++chunk) {
      const int off = WgSmemOffset(row, chunk);
      ASSERT_EQ(off % 16, 0);
      ASSERT_EQ(static_cast<uint32_t>(off), Swizzle128B(row * 128 + chunk * 16))
          << "row " << row << " chunk " << chunk;
      offsets.insert(off);
    }
  }
  EXPECT_EQ(offsets.size(), static_cast<size_t>(kWgTileN * 8));
}

TEST(CudaS8Wgmma, AccumulatorMapIsThePtxFragment) {
  std::set<std::pair<int, int>> seen;
  for (int t = 0; t < 128; ++t) {
    for (int r = 0; r < kWgAccRegs; ++r) {
      int row, col;
      AccElement(t, r, &row, &col);
      ASSERT_EQ(WgAccRow(t, r), row) << t << " " << r;
      ASSERT_EQ(WgAccCol(t, r), col) << t << " " << r;
      seen.insert({row, col});
    }
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(64 * kWgTileN));  // every element once
}

// One stage of both consumer warpgroups' MMAs, as wgmma performs them: A rows of
// warpgroup g at sa + WgWarpgroupRowOffset(g), W at sb, four k steps, every operand
// byte read through the descriptors (hardware model above). acc is
// [warpgroup][thread][register].
void EmulateStageMmas(const std::vector<uint8_t>& smem, uint32_t sa, uint32_t sb,
                      std::vector<int32_t>& acc) {
  for (int g = 0; g < 2; ++g) {
    const uint64_t desc_a = WgDescriptor(sa + WgWarpgroupRowOffset(g));
    const uint64_t desc_b = WgDescriptor(sb);
    for (int ks = 0; ks < kWgTileK / kWgInstrK; ++ks) {
      const uint64_t da = WgDescriptorStep(desc_a, ks), db = WgDescriptorStep(desc_b, ks);
      EXPECT_TRUE(Decode(da).swizzle == 1 && Decode(da).base_offset == 0);
      EXPECT_TRUE(Decode(db).swizzle == 1 && Decode(db).base_offset == 0);
      // What the MMA reads: A 64 x 32 and B 256 x 32 through the descriptors.
      int8_t op_a[64][kWgInstrK], op_b[kWgTileN][kWgInstrK];
      for (int k = 0; k < kWgInstrK; ++k) {
        for (int row = 0; row < 64; ++row) {
          op_a[row][k] = static_cast<int8_t>(smem.at(OperandAddress(da, row, k)));
        }
        for (int row = 0; row < kWgTileN; ++row) {
          op_b[row][k] = static_cast<int8_t>(smem.at(OperandAddress(db, row, k)));
        }
      }
      for (int t = 0; t < 128; ++t) {
        for (int r = 0; r < kWgAccRegs; ++r) {
          int row, col;
          AccElement(t, r, &row, &col);
          int32_t sum = 0;
          for (int k = 0; k < kWgInstrK; ++k) sum += op_a[row][k] * op_b[col][k];
          acc[(g * 128 + t) * kWgAccRegs + r] += sum;
        }
      }
    }
  }
}

// The epilogue (wgmma::StoreAccumulators) of the CTA tile (m_tile, n_tile). Counts the
// stores of each C32 element in `stores`.
void EmulateStore(const S8GemmPlan& p, const std::vector<int32_t>& acc, int64_t m_tile,
                  int64_t n_tile, std::vector<int32_t>& c, std::vector<int>& stores) {
  for (int g = 0; g < 2; ++g) {
    const int64_t row_base = m_tile * kWgTileM + g * 64;
    for (int t = 0; t < 128; ++t) {
      for (int r = 0; r < kWgAccRegs; r += 2) {
        const int64_t col = n_tile * kWgTileN + WgAccCol(t, r);
        if (col >= p.np) continue;
        const int64_t row = row_base + WgAccRow(t, r);
        for (int i = 0; i < 2; ++i) {
          c.at(row * p.np + col + i) = acc[(g * 128 + t) * kWgAccRegs + r + i];
          ++stores.at(row * p.np + col + i);
        }
      }
    }
  }
}

// The cp.async kernel, one CTA and one k tile at a time (the stage ring only orders
// the same work in time). Returns C32 [mp, np].
std::vector<int32_t> EmulateKernel(const S8GemmPlan& p, const std::vector<uint8_t>& a,
                                   const std::vector<uint8_t>& w) {
  const int64_t tiles_m = WgTilesM(p.mp), tiles_n = WgTilesN(p.np), k_tiles = WgKTiles(p.kp);
  std::vector<int32_t> c(static_cast<size_t>(p.mp * p.np), 0);
  std::vector<int> stores(c.size(), 0);
  // One stage: A at 0, B after it (both on the 1024-byte grid, as in the kernel).
  std::vector<uint8_t> smem(kWgStageBytesA + kWgStageBytesB);
  const uint32_t sa = 0, sb = kWgStageBytesA;
  for (int64_t cta = 0; cta < tiles_m * tiles_n; ++cta) {
    int64_t m_tile, n_tile;
    TileCoords(cta, tiles_m, tiles_n, &m_tile, &n_tile);
    const int64_t n_first = n_tile * kWgTileN;
    std::vector<int32_t> acc(2 * 128 * kWgAccRegs, 0);  // [warpgroup][thread][reg]
    for (int64_t kt = 0; kt < k_tiles; ++kt) {
      std::fill(smem.begin(), smem.end(), 0xEE);  // stale bytes must never be read
      for (int q = 0; q < kWgTileM * 8; ++q) {
        const int64_t k = kt * kWgTileK + WgLoadChunk(q) * 16;
        uint8_t* dst = &smem[sa + WgSmemOffset(WgLoadRow(q), WgLoadChunk(q))];
        if (k < p.kp) {
          std::memcpy(dst, &a[(m_tile * kWgTileM + WgLoadRow(q)) * p.kp + k], 16);
        } else {
          std::memset(dst, 0, 16);
        }
      }
      for (int q = 0; q < kWgTileN * 8; ++q) {
        const int64_t k = kt * kWgTileK + WgLoadChunk(q) * 16;
        const int64_t row = n_first + WgLoadRow(q);
        uint8_t* dst = &smem[sb + WgSmemOffset(WgLoadRow(q), WgLoadChunk(q))];
        if (k < p.kp && row < p.np) {
          std::memcpy(dst, &w[row * p.kp + k], 16);
        } else {
          std::memset(dst, 0, 16);
        }
      }
      EmulateStageMmas(smem, sa, sb, acc);
    }
    EmulateStore(p, acc, m_tile, n_tile, c, stores);
  }
  for (size_t i = 0; i < stores.size(); ++i) {
    EXPECT_EQ(stores[i], 1) << "C32 element " << i / p.np << "," << i % p.np << " stored "
                            << stores[i] << " times";
    if (stores[i] != 1) break;
  }
  return c;
}

TEST(CudaS8Wgmma, KernelEmulationMatchesReference) {
  // Partial N tiles (np % 256 == 128), partial K tiles (kp % 128 == 64), several CTAs,
  // rows past m, a K loop longer than the stage ring; the self-check shapes included.
  const struct {
    int64_t m, n, k;
  } kShapes[] = {{1, 1, 1},      {128, 256, 128}, {256, 384, 320},
                 {200, 130, 64}, {129, 513, 700}, {128, 256, 1000}};
  for (const auto& shape : kShapes) {
    const S8GemmPlan p = PlanS8GemmWith128RowTiles(shape.m, shape.n, shape.k, 1);
    EXPECT_EQ(
        EmulationDiffersFromReference(p, shape.m * 7919 + shape.n * 31 + shape.k, &EmulateKernel),
        "");
  }
}

TEST(CudaS8Wgmma, PlanPicksWgmmaOnlyForFullWavesWithoutSplitK) {
  // 8192^3 and 4096^3 on 132 SMs: wgmma. Decode shapes and small GEMMs: mma.sync.
  EXPECT_TRUE(S8WgmmaPays(PlanS8Gemm(8192, 8192, 8192, 132), 132));
  EXPECT_TRUE(S8WgmmaPays(PlanS8Gemm(4096, 4096, 4096, 132), 132));
  for (int64_t m : {1, 16, 64}) {
    EXPECT_FALSE(S8WgmmaPays(PlanS8Gemm(m, 8192, 8192, 132), 132)) << m;
  }
  EXPECT_FALSE(S8WgmmaPays(PlanS8Gemm(256, 4096, 4096, 132), 132));
  // The launchers refuse plans the kernels cannot run (64-row padding of decode plans).
  EXPECT_FALSE(S8WgmmaPlanIsValid(PlanS8Gemm(64, 4096, 4096, 132)));
  EXPECT_TRUE(S8WgmmaPlanIsValid(PlanS8Gemm(65, 300, 1, 132)));
  S8GemmPlan odd = PlanS8Gemm(128, 128, 64, 1);
  odd.kp = 72;
  EXPECT_FALSE(S8WgmmaPlanIsValid(odd));
  for (int64_t m : {65, 129, 1000, 4096}) {
    for (int64_t n : {1, 300, 4096}) {
      const S8GemmPlan p = PlanS8Gemm(m, n, 4096, 132);
      if (S8WgmmaPays(p, 132)) {
        EXPECT_EQ(p.config, S8TileConfig::k128x128);
        EXPECT_EQ(p.splits, 1);
        EXPECT_EQ(p.mp % kWgTileM, 0);
        EXPECT_GE(WgTilesM(p.mp) * WgTilesN(p.np), 132);
      }
    }
  }
}

}  // namespace
}  // namespace datanode::ops::cuda
