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

// --- mbarrier protocol of the TMA kernels (matmul_s8_wgmma_tma.cu) ------------------
// A cluster of `cluster` CTAs (1, or 2 along M) works on vertically adjacent tiles
// that share one W tile: CTA r loads its own A box and W rows [r * 256 / cluster,
// (r + 1) * 256 / cluster) of the tile, the latter multicast into every CTA of the
// cluster at the same shared-memory offset, so each W byte leaves L2 once per cluster.
// Per stage s of every CTA:
//   full[s]  count kTmaFullArrivals: the CTA's own producer arrives with expect_tx of
//            the whole stage (A + all of W); the boxes of every producer in the
//            cluster complete their bytes on it (possibly before that arrive: the
//            transaction count may go negative, the phase still needs the arrival);
//   empty[s] count TmaEmptyArrivals(cluster): every consumer warpgroup of every CTA
//            of the cluster arrives once its MMAs on the stage are done, because
//            every producer writes (multicast) into every CTA's stage.
// A wait on parity p returns once the barrier's phase with that parity has
// completed. The producer keeps stepping past the last load (TmaProducerSteps) and
// waits for the consumers' release of each stage's last tile: when it exits, no
// copy it issued is in flight and no consumer of the cluster will still arrive on
// this CTA's barriers, so a CTA never leaves while its shared memory is in use.
// The host simulation in tests/cuda/s8_wgmma_protocol_test.cc runs this protocol
// under random interleavings, for both cluster sizes.
inline constexpr int kTmaConsumers = 2;
inline constexpr int kTmaFullArrivals = 1;
inline constexpr int kTmaMaxCluster = 2;
DN_HD constexpr int TmaEmptyArrivals(int cluster) { return kTmaConsumers * cluster; }
// W rows each CTA loads and multicasts, and the byte offset of its part in a stage.
DN_HD constexpr int TmaWRowsPerCta(int cluster) { return kWgTileN / cluster; }
DN_HD constexpr uint32_t TmaWPartOffset(int cluster, int rank) {
  return static_cast<uint32_t>(rank * TmaWRowsPerCta(cluster) * kWgTileK);
}
// Tiles are counted per CTA across all its output tiles: a persistent CTA's i-th
// output tile has k tiles i * k_tiles ... (i + 1) * k_tiles - 1 in this sequence, so the
// ring and its parities simply continue from one output tile to the next.
DN_HD constexpr int TmaStage(int64_t kt) { return static_cast<int>(kt % kWgStages); }
// Consumers wait on full[TmaStage(kt)] for round kt / kWgStages.
DN_HD constexpr uint32_t TmaFullParity(int64_t kt) {
  return static_cast<uint32_t>((kt / kWgStages) & 1);
}
// The producer runs steps 0 .. TmaProducerSteps - 1 for a CTA with `total` k tiles;
// step kt loads tile kt while kt < total. From step kWgStages on it first waits on
// empty[TmaStage(kt)] for the consumers' release of tile kt - kWgStages (round
// kt / kWgStages - 1).
DN_HD constexpr int64_t TmaProducerSteps(int64_t total) { return total + kWgStages; }
DN_HD constexpr bool TmaProducerLoads(int64_t kt, int64_t total) { return kt < total; }
DN_HD constexpr bool TmaProducerWaits(int64_t kt) { return kt >= kWgStages; }
DN_HD constexpr uint32_t TmaEmptyParity(int64_t kt) {
  return static_cast<uint32_t>(((kt / kWgStages) - 1) & 1);
}
// Within an output tile: once a consumer's MMAs of its k tile j are issued and those of
// k tile j - 1 are done (wait for at most one group in flight), it releases k tile
// TmaTileReleasedAfter(j) = j - 1 (none for j = 0); after the tile's last k tile it
// waits for all its MMAs and releases that one, before the epilogue.
DN_HD constexpr int64_t TmaTileReleasedAfter(int64_t kt) { return kt - 1; }
// Output tiles of a persistent CTA: work items first, first + stride, ... below
// `items`.
DN_HD constexpr int64_t TmaWorkItems(int64_t first, int64_t stride, int64_t items) {
  return first < items ? (items - first + stride - 1) / stride : 0;
}

// --- Work items and TMA coordinates of the TMA kernels -------------------------------
// A work item is `cluster` vertically adjacent output tiles sharing one N tile; the
// items walk the tile grid in the raster order of the mma.sync kernel (TileCoords).
// When tiles_m is odd, the last row of items has one tile too many (m_tile ==
// tiles_m): that CTA loads A rows of the last real tile, multicasts its part of W for
// its partner, and stores nothing. The host emulation in s8_wgmma_layout_test.cc runs
// the kernels' data path through these functions.
DN_HD constexpr int64_t TmaClusterRows(int64_t tiles_m, int cluster) {
  return (tiles_m + cluster - 1) / cluster;
}
DN_HD void TmaWorkTile(int64_t work, int64_t cluster_rows, int64_t tiles_n, int cluster, int rank,
                       int64_t* m_tile, int64_t* n_tile) {
  int64_t cluster_row = 0;
  TileCoords(work, cluster_rows, tiles_n, &cluster_row, n_tile);
  *m_tile = cluster_row * cluster + rank;
}
DN_HD constexpr bool TmaStoresTile(int64_t m_tile, int64_t tiles_m) { return m_tile < tiles_m; }
// Box coordinates (elements = bytes): inner = K offset of k tile kt; outer = first row.
DN_HD constexpr int32_t TmaKOffset(int64_t kt) { return static_cast<int32_t>(kt * kWgTileK); }
DN_HD constexpr int32_t TmaARow(int64_t m_tile, int64_t tiles_m) {
  return static_cast<int32_t>((m_tile < tiles_m ? m_tile : tiles_m - 1) * kWgTileM);
}
DN_HD constexpr int32_t TmaWRow(int64_t n_tile, int cluster, int rank) {
  return static_cast<int32_t>(n_tile * kWgTileN + rank * TmaWRowsPerCta(cluster));
}

}  // namespace datanode::ops::cuda

#endif  // DATANODE_OPS_CUDA_MATMUL_S8_WGMMA_LAYOUT_H_
