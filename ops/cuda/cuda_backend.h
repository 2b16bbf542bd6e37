// Copyright 2026 The datanode Authors.
//
// The CUDA backend: every op of the spec on an NVIDIA GPU (compute capability 8.0 or
// newer: Ampere, Ada, Hopper), bit-identical to the reference. The s8 matmuls run on
// the integer tensor cores (s8_gemm.h: mma.sync, and wgmma for large shapes on
// H100/H200); the Q8_0-activation matmuls (Q8_0, Q4_0, Q4_1, Q4_K, Q6_K weights) and
// the quantize ops run exact integer kernels (matmul_q8.cu, matmul_kquant.cu,
// quantize_*.cu). LlmKernels()
// runs the spec-v2 LLM ops RmsNorm, Add, SiluMul and Attend in llm_kernels.cu (the
// other LLM ops are the reference's).
//
// Each Run() leases a stream with pinned staging memory, packs the operands into the
// staging buffer, copies them to pooled device buffers, runs the kernels and copies
// the result back; PrepareWeights() keeps W (and w_scale) resident on the device.
// Run() is thread-safe; concurrent calls use different streams.
#ifndef DATANODE_OPS_CUDA_CUDA_BACKEND_H_
#define DATANODE_OPS_CUDA_CUDA_BACKEND_H_

#include <memory>

#include "absl/status/statusor.h"
#include "datanode/ops/backend.h"

namespace datanode::ops::cuda {

// options.device: "" = the usable device with the most multiprocessors, digits = a
// device index, anything else = a substring of the device name.
// UNAVAILABLE when there is no usable device, with the reason, e.g.
//   "cuda: no CUDA device: CUDA driver version is insufficient ... [cudaErrorInsufficientDriver]"
//   "cuda: device 0 (Tesla T4) has compute capability 7.5; the s8 tensor-core kernels need 8.0+"
// Before returning, runs the start-up check of the s8 GEMM kernels (s8_gemm.h):
// FAILED_PRECONDITION when the mma.sync kernel differs from the reference; UNAVAILABLE
// when a kernel faulted and left the process's CUDA context unusable (never resets the
// device); a failing wgmma kernel only stays off (Description() says why).
// INVALID_ARGUMENT for a DATANODE_CUDA_WGMMA value other than auto, 1, 0 or empty.
// Never needs libcuda at link or load time: the CUDA runtime loads the driver lazily.
absl::StatusOr<std::unique_ptr<Backend>> CreateCudaBackend(const BackendOptions& options);

}  // namespace datanode::ops::cuda

#endif  // DATANODE_OPS_CUDA_CUDA_BACKEND_H_
