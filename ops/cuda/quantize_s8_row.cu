// Copyright 2026 The datanode Authors.
#include "ops/cuda/exact_math.cuh"
#include "ops/cuda/quantize_s8_row.cuh"

namespace datanode::ops::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads)
    QuantizeS8RowKernel(const uint32_t* __restrict__ x, int64_t m, int64_t k,
                        int8_t* __restrict__ out, uint32_t* __restrict__ out_scale) {
  __shared__ uint32_t warp_max[kThreads / 32];
  __shared__ uint32_t row_scale;
  for (int64_t r = blockIdx.x; r < m; r += gridDim.x) {
    const uint32_t* row = x + r * k;
    uint32_t max_bits = 0;
    for (int64_t p = threadIdx.x; p < k; p += kThreads) {
      const uint32_t v = AbsBits(row[p]);
      max_bits = v > max_bits ? v : max_bits;
    }
    max_bits = __reduce_max_sync(0xFFFFFFFFu, max_bits);
    if ((threadIdx.x & 31) == 0) warp_max[threadIdx.x >> 5] = max_bits;
    __syncthreads();
    if (threadIdx.x == 0) {
      uint32_t all = 0;
      for (int i = 0; i < kThreads / 32; ++i) all = warp_max[i] > all ? warp_max[i] : all;
      row_scale = S8RowScaleBits(all);
      out_scale[r] = row_scale;
    }
    __syncthreads();
    const uint32_t scale_bits = row_scale;
    const ExactParts scale = DecodeF32(scale_bits);
    for (int64_t p = threadIdx.x; p < k; p += kThreads) {
      out[r * k + p] = scale.mantissa == 0 ? 0 : QuantizeExactParts(DecodeF32(row[p]), scale);
    }
    __syncthreads();  // warp_max / row_scale are reused by the next row
  }
}

}  // namespace

cudaError_t LaunchQuantizeS8Row(const uint32_t* x, int64_t m, int64_t k, int8_t* out,
                                uint32_t* out_scale, cudaStream_t stream) {
  const unsigned grid = static_cast<unsigned>(m < 65536 ? m : 65536);
  QuantizeS8RowKernel<<<grid, kThreads, 0, stream>>>(x, m, k, out, out_scale);
  return cudaGetLastError();
}

}  // namespace datanode::ops::cuda
