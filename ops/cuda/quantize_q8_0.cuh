// Copyright 2026 The datanode Authors.
//
// kQuantizeQ8_0: per block of 32 values, d = round_f16(max|x| / 127), q = clamp(
// round_half_even(x / d)) on the exact rational (exact_math.cuh), stored as a ggml
// Q8_0 block (f16 d little-endian, 32 x int8). One thread per block.
#ifndef DATANODE_OPS_CUDA_QUANTIZE_Q8_0_CUH_
#define DATANODE_OPS_CUDA_QUANTIZE_Q8_0_CUH_

#include <cuda_runtime_api.h>

#include <cstdint>

namespace datanode::ops::cuda {

// x: f32 bits [m, k] (k a multiple of 32); out: Q8_0 [m, k / 32] (34-byte blocks).
cudaError_t LaunchQuantizeQ8_0(const uint32_t* x, int64_t m, int64_t k, uint8_t* out,
                               cudaStream_t stream);

}  // namespace datanode::ops::cuda

#endif  // DATANODE_OPS_CUDA_QUANTIZE_Q8_0_CUH_
