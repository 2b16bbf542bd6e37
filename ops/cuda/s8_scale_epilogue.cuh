// Copyright 2026 The datanode Authors.
//
// The kMatMulS8F32 epilogue: out[m, n] = round_f32(a_scale[m] * w_scale[n] * c32[m, n])
// with the exact int128 product and the integer rounding of exact_math.cuh (one
// rounding per element, after the complete integer sum, so split-K never matters).
#ifndef DATANODE_OPS_CUDA_S8_SCALE_EPILOGUE_CUH_
#define DATANODE_OPS_CUDA_S8_SCALE_EPILOGUE_CUH_

#include <cuda_runtime_api.h>

#include <cstdint>

namespace datanode::ops::cuda {

// c32: int32 [>= m, c32_pitch] (the padded GEMM output), a_scale: f32 bits [m],
// w_scale: f32 bits [n], out: f32 bits [m, n] dense.
cudaError_t LaunchS8ScaleEpilogue(const int32_t* c32, int64_t c32_pitch, const uint32_t* a_scale,
                                  const uint32_t* w_scale, int64_t m, int64_t n, uint32_t* out,
                                  cudaStream_t stream);

}  // namespace datanode::ops::cuda

#endif  // DATANODE_OPS_CUDA_S8_SCALE_EPILOGUE_CUH_
