// Copyright 2026 The datanode Authors.
//
// Micro-kernels of the CPU s8 GEMM: one output tile of `rows` (<= mr) rows x up to
// 64 columns (one W panel, s8_pack.h), over a range of k-groups.
//
// Contract of every kernel (all Isa give the same bytes):
//   acc[r][c] = sum over the k-groups of sum_i A'[r, 4g+i] * W[c, 4g+i]   (mod 2^32)
//   if accumulate: acc += C[r][c]                                          (mod 2^32)
//   if comp:       acc -= comp[c]                                          (mod 2^32)
//   C[r][c] = acc  for r < rows, c < cols   (little-endian int32, row stride ldc)
// where A' is the packed A panel (A + 128 for VNNI, A itself otherwise). Only wrapping
// int32 adds are used, which are associative: any k-blocking yields the same value
// mod 2^32, and once the compensation is subtracted that value is the exact dot
// product (it fits int32, see matmul_s8.cc), so tiling never changes a bit.
#ifndef DATANODE_OPS_CPU_S8_KERNELS_H_
#define DATANODE_OPS_CPU_S8_KERNELS_H_

#include <cstdint>

#include "ops/cpu/cpu_features.h"

namespace datanode::ops::cpu {

struct S8TileArgs {
  const uint8_t* a = nullptr;     // A panel at the first k-group: [kg][rows][4]
  const uint8_t* w = nullptr;     // W panel at the first k-group: [kg][64][4]
  int64_t kgroups = 0;            // k-groups to accumulate (>= 1)
  uint8_t* c = nullptr;           // C[0][0] of the tile (int32, any alignment)
  int64_t ldc = 0;                // C row stride in elements
  int cols = 0;                   // valid columns, 1..64
  bool accumulate = false;        // add the int32 already in C (not the first k-block)
  const int32_t* comp = nullptr;  // 64 entries to subtract (last k-block, VNNI only)
};

// Computes one tile with exactly `rows` rows (the template arity of the kernel).
using S8TileKernel = void (*)(const S8TileArgs& args);

struct S8KernelSet {
  Isa isa;
  int mr;        // rows per full A panel
  bool a_to_u8;  // A panels hold A + 128 and the last k-block subtracts comp
  // kernel[r] handles tiles of r rows, r in [1, mr]; kernel[0] is unused.
  S8TileKernel kernel[9];
  // Same contract, for the decode plan where each W panel is read once from memory:
  // these also prefetch W ahead of the loads (or equal `kernel` where that does not pay).
  S8TileKernel stream_kernel[9];
};

// Kernel sets per instruction set. Only call a set the CPU supports (DetectIsa()).
const S8KernelSet& S8KernelsPortable();
const S8KernelSet& S8KernelsAvx2();
const S8KernelSet& S8KernelsAvx512Vnni();
const S8KernelSet& S8KernelsFor(Isa isa);

}  // namespace datanode::ops::cpu

#endif  // DATANODE_OPS_CPU_S8_KERNELS_H_
