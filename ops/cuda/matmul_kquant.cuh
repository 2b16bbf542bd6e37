// Copyright 2026 The datanode Authors.
//
// Q8_0 x {Q4_K, Q6_K} -> f32 matmul (ops matmul_q8_0_q4_k, matmul_q8_0_q6_k): one
// thread block per output tile of kKTileM x kKTileN (kquant_dot.h), one warp per output
// column, lanes taking strided 32-value blocks; exact int128 accumulation of the
// per-slice terms (kquant_dot.h), added across the warp, one rounding to f32. A simple
// kernel (dp4a, no tensor cores): decode is bound by reading W.
#ifndef DATANODE_OPS_CUDA_MATMUL_KQUANT_CUH_
#define DATANODE_OPS_CUDA_MATMUL_KQUANT_CUH_

#include <cuda_runtime_api.h>

#include <cstdint>

#include "ops/cuda/kquant_dot.h"

namespace datanode::ops::cuda {

// a: Q8_0 [m, blocks] (34-byte blocks), w: `format` [n, blocks / 8] super-blocks (raw
// GGUF bytes), out: f32 bits [m, n]; blocks = K / 32, a multiple of 8. Device pointers.
// Returns the launch error, if any.
cudaError_t LaunchMatMulKQuant(KQuantFormat format, const uint8_t* a, const uint8_t* w, int64_t m,
                               int64_t n, int64_t blocks, uint32_t* out, cudaStream_t stream);

}  // namespace datanode::ops::cuda

#endif  // DATANODE_OPS_CUDA_MATMUL_KQUANT_CUH_
