// Copyright 2026 The datanode Authors.
//
// Stands in for matmul_s8_wgmma.cu and matmul_s8_wgmma_tma.cu in builds whose CUDA architectures
// lack sm_90 (see ops/cuda/CMakeLists.txt): the kernels never load, so the backend keeps to
// mma.sync.
#include "ops/cuda/matmul_s8_wgmma.cuh"

namespace datanode::ops::cuda {

cudaError_t LaunchMatMulS8Wgmma(const S8GemmPlan&, const int8_t*, const int8_t*, int32_t*,
                                cudaStream_t) {
  return cudaErrorNoKernelImageForDevice;
}

bool S8WgmmaKernelLoads() { return false; }

cudaError_t LaunchMatMulS8WgmmaTma(const S8GemmPlan&, const int8_t*, const int8_t*, int32_t*,
                                   cudaStream_t) {
  return cudaErrorNoKernelImageForDevice;
}

bool S8WgmmaTmaKernelLoads() { return false; }

cudaError_t LaunchMatMulS8WgmmaTmaMulticast(const S8GemmPlan&, const int8_t*, const int8_t*,
                                            int32_t*, cudaStream_t) {
  return cudaErrorNoKernelImageForDevice;
}

cudaError_t LaunchMatMulS8WgmmaTmaMulticastPersistent(const S8GemmPlan&, const int8_t*,
                                                      const int8_t*, int32_t*, cudaStream_t) {
  return cudaErrorNoKernelImageForDevice;
}

bool S8WgmmaTmaMulticastKernelLoads() { return false; }

}  // namespace datanode::ops::cuda
