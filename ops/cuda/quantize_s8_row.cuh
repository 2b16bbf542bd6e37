// Copyright 2026 The datanode Authors.
//
// kQuantizeS8Row: per row, s = round_f32(max|x| / 127), q = clamp(round_half_even(x / s))
// on the exact rational (exact_math.cuh). One CTA per row: an integer max reduction,
// then every thread quantizes its strided share of the row.
#ifndef DATANODE_OPS_CUDA_QUANTIZE_S8_ROW_CUH_
#define DATANODE_OPS_CUDA_QUANTIZE_S8_ROW_CUH_

#include <cuda_runtime_api.h>

#include <cstdint>

namespace datanode::ops::cuda {

// x: f32 bits [m, k]; out: s8 [m, k]; out_scale: f32 bits [m].
cudaError_t LaunchQuantizeS8Row(const uint32_t* x, int64_t m, int64_t k, int8_t* out,
                                uint32_t* out_scale, cudaStream_t stream);

}  // namespace datanode::ops::cuda

#endif  // DATANODE_OPS_CUDA_QUANTIZE_S8_ROW_CUH_
