// Copyright 2026 The datanode Authors.
#include "ops/cuda/exact_math.cuh"
#include "ops/cuda/quantize_q8_0.cuh"

namespace datanode::ops::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads)
    QuantizeQ8_0Kernel(const uint32_t* __restrict__ x, int64_t total_blocks,
                       uint8_t* __restrict__ out) {
  for (int64_t b = blockIdx.x * int64_t{kThreads} + threadIdx.x; b < total_blocks;
       b += int64_t{gridDim.x} * kThreads) {
    // Row-major [m, k] with k % 32 == 0: block b covers values 32b .. 32b + 31.
    const uint32_t* v = x + b * 32;
    uint32_t max_bits = 0;
    for (int j = 0; j < 32; ++j) {
      const uint32_t a = AbsBits(v[j]);
      max_bits = a > max_bits ? a : max_bits;
    }
    const uint16_t d_bits = Q8_0ScaleBits(max_bits);
    uint8_t* block = out + b * 34;
    block[0] = static_cast<uint8_t>(d_bits);
    block[1] = static_cast<uint8_t>(d_bits >> 8);
    const ExactParts d = DecodeF16(d_bits);
    for (int j = 0; j < 32; ++j) {
      const int8_t q = d.mantissa == 0 ? 0 : QuantizeExactParts(DecodeF32(v[j]), d);
      block[2 + j] = static_cast<uint8_t>(q);
    }
  }
}

}  // namespace

cudaError_t LaunchQuantizeQ8_0(const uint32_t* x, int64_t m, int64_t k, uint8_t* out,
                               cudaStream_t stream) {
  const int64_t total_blocks = m * (k / 32);
  const int64_t ctas = (total_blocks + kThreads - 1) / kThreads;
  const unsigned grid = static_cast<unsigned>(ctas < 65536 ? ctas : 65536);
  QuantizeQ8_0Kernel<<<grid, kThreads, 0, stream>>>(x, total_blocks, out);
  return cudaGetLastError();
}

}  // namespace datanode::ops::cuda
