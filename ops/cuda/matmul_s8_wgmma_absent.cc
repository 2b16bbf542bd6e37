// Copyright 2026 The datanode Authors.
//
// Stands in for matmul_s8_wgmma.cu in builds whose CUDA architectures lack sm_90 (see
// ops/cuda/CMakeLists.txt): the kernel never loads, so the backend keeps to mma.sync.
#include "ops/cuda/matmul_s8_wgmma.cuh"

namespace datanode::ops::cuda {

cudaError_t LaunchMatMulS8Wgmma(const S8GemmPlan&, const int8_t*, const int8_t*, int32_t*,
                                cudaStream_t) {
  return cudaErrorNoKernelImageForDevice;
}

bool S8WgmmaKernelLoads() { return false; }

}  // namespace datanode::ops::cuda
