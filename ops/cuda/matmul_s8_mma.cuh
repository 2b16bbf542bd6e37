// Copyright 2026 The datanode Authors.
//
// Exact s8 x s8 -> s32 GEMM on the integer tensor cores (mma.sync m16n8k32 .s8, sm_80
// and newer), tiled through shared memory with a 4-stage cp.async pipeline. Layout and
// tiling: matmul_s8_plan.h. Plain C++ interface (no CUDA types beyond the stream), so
// host code compiled by the C++ compiler can call it.
//
// Exactness: every product and sum is an integer; |A|, |W| <= 127 and K <= 131071
// keep every partial sum inside int32, and integer addition is associative, so the
// tile order, the mma's internal order and split-K (atomicAdd of int32 slices) cannot
// change a result. No float appears in this kernel.
#ifndef DATANODE_OPS_CUDA_MATMUL_S8_MMA_CUH_
#define DATANODE_OPS_CUDA_MATMUL_S8_MMA_CUH_

#include <cuda_runtime_api.h>

#include <cstdint>

#include "ops/cuda/matmul_s8_plan.h"

namespace datanode::ops::cuda {

// Computes c32[mp, np] = a[mp, kp] * w[np, kp]^T on `stream` (all device pointers,
// 256-byte aligned, zero-padded as the plan says). When plan.splits > 1 it first
// zeroes c32 itself. Returns the launch error, if any (asynchronous errors surface at
// the next synchronization).
cudaError_t LaunchMatMulS8Mma(const S8GemmPlan& plan, const int8_t* a, const int8_t* w,
                              int32_t* c32, cudaStream_t stream);

// Dynamic shared memory one CTA of `config` uses.
int S8MmaSharedBytes(S8TileConfig config);

}  // namespace datanode::ops::cuda

#endif  // DATANODE_OPS_CUDA_MATMUL_S8_MMA_CUH_
