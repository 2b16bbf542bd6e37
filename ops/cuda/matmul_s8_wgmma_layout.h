// Copyright 2026 The datanode Authors.
//
// Tiling and index maps of the Hopper s8 GEMM (matmul_s8_wgmma.cu, sm_90a only):
// tile shape, the shared-memory layout wgmma reads, the 64-bit shared-memory matrix
// descriptors, and the accumulator fragment map. Plain C++ (DN_HD), so the kernel and
// the host-side emulation in tests/cuda/s8_wgmma_layout_test.cc use the same
// definitions; the test models the hardware side (how wgmma turns a descriptor into
// addresses, per the PTX ISA) independently of this file.
//
// Operands are the padded buffers of the common plan (matmul_s8_plan.h): A [mp, kp],
// W [np, kp], C32 [mp, np] with mp a multiple of 128, np of 128 and kp of 64. The
// wgmma tile is 128 x 256 x 128 bytes, so the last N tile may stick out by 128 columns
// and the last K tile by 64 bytes: those loads are zero-filled by cp.async (src-size
// 0) and those stores skipped. Zeros add nothing to an integer sum, so neither can
// change an output byte.
#ifndef DATANODE_OPS_CUDA_MATMUL_S8_WGMMA_LAYOUT_H_
#define DATANODE_OPS_CUDA_MATMUL_S8_WGMMA_LAYOUT_H_

#include <cstdint>

#include "ops/cuda/host_device.h"
#include "ops/cuda/matmul_s8_plan.h"

namespace datanode::ops::cuda {

// CTA tile: two consumer warpgroups, each one m64n256k32 wgmma chain over 64 rows.
inline constexpr int kWgTileM = 128;
inline constexpr int kWgTileN = 256;
inline constexpr int kWgTileK = 128;  // bytes of K per stage = one 128-byte swizzle row
inline constexpr int kWgStages = 4;   // ring depth; loads run 2 stages ahead (see kernel)
inline constexpr int kWgThreads = 256;
inline constexpr int kWgInstrK = 32;  // K of one wgmma .s8 instruction
inline constexpr int kWgStageBytesA = kWgTileM * kWgTileK;
inline constexpr int kWgStageBytesB = kWgTileN * kWgTileK;
// The 128-byte swizzle repeats every 8 rows x 128 bytes; stages start on that grid.
inline constexpr int kWgSwizzleAtomBytes = 1024;
inline constexpr int kWgSharedBytes =
    kWgStages * (kWgStageBytesA + kWgStageBytesB) + kWgSwizzleAtomBytes;  // + base alignment

// Number of CTA tiles for padded sizes (mp, np) and k tiles for kp.
DN_HD constexpr int64_t WgTilesM(int64_t mp) { return mp / kWgTileM; }
DN_HD constexpr int64_t WgTilesN(int64_t np) { return (np + kWgTileN - 1) / kWgTileN; }
DN_HD constexpr int64_t WgKTiles(int64_t kp) { return (kp + kWgTileK - 1) / kWgTileK; }

// --- Shared memory ---------------------------------------------------------------
// A stage holds rows of 128 bytes (eight 16-byte chunks). Chunk c of row r is stored
// at chunk position c ^ (r % 8): the "128B swizzle" of the PTX ISA, which the
// hardware applies to address bits [4,7) ^ [7,10) of a K-major operand whose 8-row
// groups start on 1024-byte boundaries. Rows are 128 bytes apart, 8-row groups 1024.
DN_HD constexpr int WgSmemOffset(int row, int chunk) {
  return row * kWgTileK + ((chunk ^ (row & 7)) << 4);
}

// cp.async work split: 16-byte chunk id q of a tile -> (row, chunk). Eight consecutive
// threads copy one 128-byte row segment (coalesced).
DN_HD constexpr int WgLoadRow(int q) { return q >> 3; }
DN_HD constexpr int WgLoadChunk(int q) { return q & 7; }
inline constexpr int kWgLoadsA = kWgTileM * 8 / kWgThreads;  // chunks per thread per stage
inline constexpr int kWgLoadsB = kWgTileN * 8 / kWgThreads;

// --- Matrix descriptors ------------------------------------------------------------
// wgmma shared-memory descriptor (PTX ISA, "Matrix Descriptor Format"):
//   bits  0-13  start address >> 4
//   bits 16-29  leading-dimension byte offset >> 4 (unused for swizzled K-major; 1)
//   bits 32-45  stride-dimension byte offset >> 4: from one 8-row group to the next
//   bits 49-51  base offset (0: the swizzle pattern starts 1024-byte aligned)
//   bits 62-63  swizzle mode, 1 = 128-byte swizzle
inline constexpr uint64_t kWgSwizzle128B = 1;
DN_HD constexpr uint64_t WgDescriptor(uint32_t smem_address) {
  return (static_cast<uint64_t>((smem_address & 0x3FFFF) >> 4)) | (static_cast<uint64_t>(1) << 16) |
         (static_cast<uint64_t>(kWgSwizzleAtomBytes >> 4) << 32) | (kWgSwizzle128B << 62);
}
// Step ks (0..3) of a stage reads bytes [32 ks, 32 ks + 32) of every row: the start
// address moves by 32 bytes (2 in descriptor units); the hardware swizzles the
// resulting absolute addresses, so the stored layout above still matches.
DN_HD constexpr uint64_t WgDescriptorStep(uint64_t desc, int ks) {
  return desc + static_cast<uint64_t>(ks * kWgInstrK >> 4);
}
// Warpgroup g's A operand: rows [64 g, 64 g + 64) of the stage.
DN_HD constexpr uint32_t WgWarpgroupRowOffset(int warpgroup) {
  return static_cast<uint32_t>(warpgroup * 64 * kWgTileK);
}

// --- Accumulator fragment ----------------------------------------------------------
// m64nNk32 .s32 accumulator (PTX ISA, "wgmma D matrix fragment"): thread t of the
// warpgroup holds N/2 registers; register 4j + i is row 16 (t / 32) + (t % 32) / 4 +
// 8 (i / 2), column 8 j + 2 (t % 4) + i % 2 of the 64 x N tile.
inline constexpr int kWgAccRegs = kWgTileN / 2;
DN_HD constexpr int WgAccRow(int thread_in_warpgroup, int reg) {
  return 16 * (thread_in_warpgroup >> 5) + ((thread_in_warpgroup & 31) >> 2) + 8 * ((reg & 3) >> 1);
}
DN_HD constexpr int WgAccCol(int thread_in_warpgroup, int reg) {
  return 8 * (reg >> 2) + 2 * (thread_in_warpgroup & 3) + (reg & 1);
}

}  // namespace datanode::ops::cuda

#endif  // DATANODE_OPS_CUDA_MATMUL_S8_WGMMA_LAYOUT_H_
