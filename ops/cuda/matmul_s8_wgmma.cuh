// Copyright 2026 The datanode Authors.
//
// Exact s8 x s8 -> s32 GEMM on Hopper's asynchronous warpgroup tensor-core MMA
// (wgmma.mma_async m64n256k32 .s32.s8.s8, sm_90a: H100 / H200), loads by cp.async.
// Same operands and result as LaunchMatMulS8Mma (matmul_s8_mma.cuh) for a plan with
// the 128 x 128 tile configuration and no split-K; layout and tiling in
// matmul_s8_wgmma_layout.h. The kernel is compiled in when the build targets sm_90
// (then DATANODE_CUDA_SM90A is defined; otherwise matmul_s8_wgmma_absent.cc stands
// in) and runs only on compute capability 9.0 devices, after the backend's start-up
// check (s8_gemm.h) passed.
//
// Exactness: as for the mma.sync kernel - integer products and sums only, zero
// padding adds nothing - so the two kernels write identical bytes.
#ifndef DATANODE_OPS_CUDA_MATMUL_S8_WGMMA_CUH_
#define DATANODE_OPS_CUDA_MATMUL_S8_WGMMA_CUH_

#include <cuda_runtime_api.h>

#include <cstdint>

#include "ops/cuda/matmul_s8_plan.h"
#include "ops/cuda/matmul_s8_wgmma_layout.h"

namespace datanode::ops::cuda {

// Computes c32[mp, np] = a[mp, kp] * w[np, kp]^T on `stream` (device pointers,
// 256-byte aligned, zero-padded as the plan says; plan.splits and plan.config are
// ignored: this kernel always covers the whole K). Returns cudaErrorInvalidValue for
// a plan S8WgmmaPlanIsValid rejects, else the launch error, if any.
cudaError_t LaunchMatMulS8Wgmma(const S8GemmPlan& plan, const int8_t* a, const int8_t* w,
                                int32_t* c32, cudaStream_t stream);

// True when the current device can run the kernel (an sm_90a image exists for it).
bool S8WgmmaKernelLoads();

}  // namespace datanode::ops::cuda

#endif  // DATANODE_OPS_CUDA_MATMUL_S8_WGMMA_CUH_
