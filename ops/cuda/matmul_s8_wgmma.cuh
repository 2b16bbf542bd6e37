// Copyright 2026 The datanode Authors.
//
// Exact s8 x s8 -> s32 GEMM on Hopper's asynchronous warpgroup tensor-core MMA
// (wgmma.mma_async m64n256k32 .s32.s8.s8, sm_90a: H100 / H200). Same operands and
// result as LaunchMatMulS8Mma (matmul_s8_mma.cuh) for a plan with the 128 x 128 tile
// configuration and no split-K; layout and tiling in matmul_s8_wgmma_layout.h. The
// kernel is compiled in when the build targets sm_90 (then DATANODE_CUDA_SM90A is
// defined; otherwise matmul_s8_wgmma_absent.cc stands in) and runs only on compute
// capability 9.0 devices.
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

// The same GEMM with TMA loads into the same shared-memory layout and warp
// specialization (one producer warpgroup, two consumer warpgroups, mbarrier ring; see
// matmul_s8_wgmma_tma.cu). Same operands, result and errors as LaunchMatMulS8Wgmma,
// plus cudaErrorInvalidValue when the tensor maps cannot be encoded.
cudaError_t LaunchMatMulS8WgmmaTma(const S8GemmPlan& plan, const int8_t* a, const int8_t* w,
                                   int32_t* c32, cudaStream_t stream);

// True when the TMA kernel loads on the current device and the driver provides
// cuTensorMapEncodeTiled.
bool S8WgmmaTmaKernelLoads();

// The TMA kernel in thread-block clusters of two CTAs on vertically adjacent tiles,
// which load the shared W tile once, by TMA multicast (half each). Same operands,
// result and errors as LaunchMatMulS8WgmmaTma; a cluster that cannot be scheduled is
// the launch error.
cudaError_t LaunchMatMulS8WgmmaTmaMulticast(const S8GemmPlan& plan, const int8_t* a,
                                            const int8_t* w, int32_t* c32, cudaStream_t stream);

// The multicast kernel launched persistently: at most as many clusters as fit on the
// device at once (or plan.persistent_ctas / 2, when set), each looping over output
// tiles, so its TMA loads for the next tile run while it stores the last one and no
// CTA launch or pipeline fill sits between tiles. Same operands, result and errors;
// cudaErrorInvalidConfiguration when no cluster fits.
cudaError_t LaunchMatMulS8WgmmaTmaMulticastPersistent(const S8GemmPlan& plan, const int8_t* a,
                                                      const int8_t* w, int32_t* c32,
                                                      cudaStream_t stream);

// S8WgmmaTmaKernelLoads, and a two-CTA cluster of the kernel fits on the device.
bool S8WgmmaTmaMulticastKernelLoads();

// Signature shared by the s8 GEMM launchers.
using S8GemmLauncher = cudaError_t (*)(const S8GemmPlan&, const int8_t*, const int8_t*, int32_t*,
                                       cudaStream_t);

// The Hopper kernels the backend considers (s8_wgmma_select.h): of those that pass
// their start-up check the fastest serves, the earlier in this list on a tie.
struct WgmmaKernel {
  const char* name;
  S8GemmLauncher launch;
  bool (*loads)();
};
inline constexpr WgmmaKernel kWgmmaKernels[] = {
    {"wgmma+TMA-multicast-persistent", &LaunchMatMulS8WgmmaTmaMulticastPersistent,
     &S8WgmmaTmaMulticastKernelLoads},
    {"wgmma+TMA-multicast", &LaunchMatMulS8WgmmaTmaMulticast, &S8WgmmaTmaMulticastKernelLoads},
    {"wgmma+TMA", &LaunchMatMulS8WgmmaTma, &S8WgmmaTmaKernelLoads},
    {"wgmma+cp.async", &LaunchMatMulS8Wgmma, &S8WgmmaKernelLoads}};

}  // namespace datanode::ops::cuda

#endif  // DATANODE_OPS_CUDA_MATMUL_S8_WGMMA_CUH_
