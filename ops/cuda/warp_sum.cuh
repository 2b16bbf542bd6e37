// Copyright 2026 The datanode Authors.
//
// Sum of an exact int128 over the 32 lanes of a warp (device code only), for the
// kernels whose lanes each add up a strided share of a row (matmul_q8.cu,
// matmul_kquant.cu). Integer addition, so the butterfly's order cannot change the
// total; every lane ends with the same sum. All 32 lanes must call it together.
#ifndef DATANODE_OPS_CUDA_WARP_SUM_CUH_
#define DATANODE_OPS_CUDA_WARP_SUM_CUH_

#include <cstdint>

#include "ops/cuda/exact_math.cuh"

namespace datanode::ops::cuda {

__device__ __forceinline__ i128 WarpSumI128(i128 sum) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) {
    const u128 bits = static_cast<u128>(sum);
    const uint64_t lo = __shfl_xor_sync(0xFFFFFFFFu, static_cast<uint64_t>(bits), offset);
    const uint64_t hi = __shfl_xor_sync(0xFFFFFFFFu, static_cast<uint64_t>(bits >> 64), offset);
    sum += static_cast<i128>((static_cast<u128>(hi) << 64) | lo);
  }
  return sum;
}

}  // namespace datanode::ops::cuda

#endif  // DATANODE_OPS_CUDA_WARP_SUM_CUH_
