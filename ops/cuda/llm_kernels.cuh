// Copyright 2026 The datanode Authors.
//
// The CUDA kernels of the spec-v2 LLM ops RmsNorm, the elementwise ops and Attend (llm_kernels.cu),
// each a plain loop over llm_math.cuh, whose functions tests/cuda/llm_math_test.cc
// checks on the host against the reference. Every pointer is device memory holding f32
// bits; the caller has validated the inputs (sizes, finiteness, eps) as llm.h does.
#ifndef DATANODE_OPS_CUDA_LLM_KERNELS_CUH_
#define DATANODE_OPS_CUDA_LLM_KERNELS_CUH_

#include <cuda_runtime_api.h>

#include <cstdint>

namespace datanode::ops::cuda {

// The most inputs an elementwise op has (llm::kMaxElementwiseArity; checked in
// cuda_backend.cc, which sees both).
inline constexpr int kMaxElementwiseInputs = 3;

// out[i] = the elementwise op number `op` (the row of elementwise_ops.inc, llm::ElementwiseOp's
// value) of in[0][i], ..., in[arity - 1][i] for i < n. `in` is a host array of device
// pointers. cudaErrorInvalidValue for an op outside the table.
cudaError_t LaunchLlmElementwise(int op, const uint32_t* const* in, int64_t n, uint32_t* out,
                                 cudaStream_t stream);

// RmsNorm (spec §8.7) of `rows` rows x[rows, n] with one gain[n]; n in [1, 2^15]. One
// thread block per row.
cudaError_t LaunchLlmRmsNorm(const uint32_t* x, const uint32_t* gain, int64_t rows, int64_t n,
                             uint32_t eps_bits, uint32_t* out, cudaStream_t stream);

// Bytes of the device scratch LaunchLlmAttend needs: an int128 dot product and an
// int64 weight per (query head, position).
inline int64_t LlmAttendScratchBytes(int n_heads, int64_t n_positions) {
  return int64_t{n_heads} * n_positions * (16 + 8);
}

// Attend (spec §8.10) for one query row: q f32 bits [n_heads * head_dim]; k_cache and
// v_cache f16 bits [n_positions, n_kv_heads * head_dim], every value finite; c_q40 =
// llm_math::AttendScoreScaleQ40(head_dim); scratch (16-byte aligned) of
// LlmAttendScratchBytes; out f32 bits [n_heads * head_dim]. One thread block per head.
cudaError_t LaunchLlmAttend(const uint32_t* q, const uint16_t* k_cache, const uint16_t* v_cache,
                            int n_heads, int n_kv_heads, int head_dim, int64_t n_positions,
                            int64_t c_q40, void* scratch, uint32_t* out, cudaStream_t stream);

}  // namespace datanode::ops::cuda

#endif  // DATANODE_OPS_CUDA_LLM_KERNELS_CUH_
