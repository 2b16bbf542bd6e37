// Copyright 2026 The datanode Authors.
//
// Q8_0 x {Q8_0, Q4_0, Q4_1} -> f32 matmul: one thread per output element, exact int128
// fixed-point accumulation over the blocks (q8_dot.h), one rounding to f32. A simple
// kernel (dp4a for the block dot products, no tensor cores): correct first; these ops
// are memory-bound at decode shapes.
#ifndef DATANODE_OPS_CUDA_MATMUL_Q8_CUH_
#define DATANODE_OPS_CUDA_MATMUL_Q8_CUH_

#include <cuda_runtime_api.h>

#include <cstdint>

#include "ops/cuda/q8_dot.h"

namespace datanode::ops::cuda {

// a: Q8_0 [m, blocks], w: `format` [n, blocks] (raw ggml bytes), out: f32 bits [m, n].
cudaError_t LaunchMatMulQ8(Q8WeightFormat format, const uint8_t* a, const uint8_t* w, int64_t m,
                           int64_t n, int64_t blocks, uint32_t* out, cudaStream_t stream);

}  // namespace datanode::ops::cuda

#endif  // DATANODE_OPS_CUDA_MATMUL_Q8_CUH_
