// Copyright 2026 The datanode Authors.
//
// Every CUDA runtime call of the backend goes through CudaStatus, which turns a
// cudaError_t into an absl::Status with a code chosen by retry semantics:
//   out of memory                          -> RESOURCE_EXHAUSTED (retry later / smaller)
//   no device, no/old driver, device lost  -> UNAVAILABLE (this device cannot serve)
//   anything else (bad launch, bad value)  -> INTERNAL (a bug in this backend)
// The message names the call ("cuda: cudaMalloc(w): out of memory [cudaErrorMemory...]").
#ifndef DATANODE_OPS_CUDA_CUDA_STATUS_H_
#define DATANODE_OPS_CUDA_CUDA_STATUS_H_

#include <cuda_runtime_api.h>

#include "absl/status/status.h"

namespace datanode::ops::cuda {

absl::StatusCode CudaErrorCode(cudaError_t err);

// OK for cudaSuccess; otherwise the mapped code with "cuda: <what>: <description>".
absl::Status CudaStatus(cudaError_t err, const char* what);

}  // namespace datanode::ops::cuda

// Returns from the enclosing function if the CUDA call fails.
#define CUDA_RETURN_IF_ERROR(call, what)                                        \
  do {                                                                          \
    if (const cudaError_t dn_cuda_err_ = (call); dn_cuda_err_ != cudaSuccess) { \
      return ::datanode::ops::cuda::CudaStatus(dn_cuda_err_, what);             \
    }                                                                           \
  } while (0)

#endif  // DATANODE_OPS_CUDA_CUDA_STATUS_H_
